package webhook

import (
	"bytes"
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	goruntime "runtime"
	"testing"

	"github.com/go-logr/logr"
	admissionv1 "k8s.io/api/admission/v1"
	authenticationv1 "k8s.io/api/authentication/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"

	"github.com/mpcguard/mpcguard/policies/engine"
	"github.com/mpcguard/mpcguard/policies/vocab"
)

// The inventory benchmarks compare a namespace of 10 Ready persistent party pods with one of 10,000: a
// session's admission reads one count from the index, so both sizes should cost the same
// (`go test -run '^$' -bench Inventory -count 10 ./webhook/ | benchstat -col /pods -`).

const benchNamespace = "mpc-system"

var inventorySizes = []int{10, 10000}

// benchInventory feeds pods Ready persistent party pods through the inventory's event handler, as the
// informer would, plus as many unready ones and delegates (which the index must not count), then marks it
// synced. The session's namespace holds them all: a scan would cost 3*pods, the index one lookup.
func benchInventory(b *testing.B, pods int) *Inventory {
	b.Helper()
	inv := NewInventory(engine.DefaultConfig())
	for i := range pods {
		inv.observe(testPod(benchNamespace, fmt.Sprintf("persistent-%d", i), vocab.RolePersistent, true))
		inv.observe(testPod(benchNamespace, fmt.Sprintf("starting-%d", i), vocab.RolePersistent, false))
		inv.observe(testPod(benchNamespace, fmt.Sprintf("delegate-%d", i), vocab.RoleDelegate, true))
	}
	inv.synced.Store(true)
	if n, ok := inv.PersistentReady(benchNamespace); !ok || n != pods {
		b.Fatalf("inventory counts %d Ready persistent pods (synced %v), want %d", n, ok, pods)
	}
	goruntime.GC() // the pods fed in are garbage now: collect them before the timer starts, not during the loop
	return inv
}

func BenchmarkInventoryPersistentReady(b *testing.B) {
	for _, pods := range inventorySizes {
		b.Run(fmt.Sprintf("pods=%d", pods), func(b *testing.B) {
			inv := benchInventory(b, pods)
			b.ReportAllocs()
			var n int
			for b.Loop() {
				n, _ = inv.PersistentReady(benchNamespace)
			}
			if n != pods {
				b.Fatalf("counted %d, want %d", n, pods)
			}
		})
	}
}

// BenchmarkInventorySessionReview is the whole review of an MPCSession by the handler: decoding the
// AdmissionReview, the inventory lookup, the policies and the encoded answer.
func BenchmarkInventorySessionReview(b *testing.B) {
	eng, err := engine.New(b.Context(), engine.DefaultConfig(), nil)
	if err != nil {
		b.Fatal(err)
	}
	body := sessionReview(b, 2, 3, map[string]int{"persistent": 2, "delegate": 1})
	for _, pods := range inventorySizes {
		b.Run(fmt.Sprintf("pods=%d", pods), func(b *testing.B) {
			h := &Handler{Engine: eng, Inventory: benchInventory(b, pods), Metrics: NewMetrics(), Log: logr.Discard()}
			serve := func() *httptest.ResponseRecorder {
				req := httptest.NewRequest(http.MethodPost, Path+"?timeout=10s", bytes.NewReader(body))
				req.Header.Set("Content-Type", "application/json")
				rec := httptest.NewRecorder()
				h.ServeHTTP(rec, req)
				return rec
			}
			var out struct {
				Response admissionv1.AdmissionResponse `json:"response"`
			}
			rec := serve()
			if err := json.Unmarshal(rec.Body.Bytes(), &out); err != nil || rec.Code != http.StatusOK ||
				!out.Response.Allowed || len(out.Response.Warnings) > 0 {
				b.Fatalf("the session is not allowed cleanly (status %d, %v): %s", rec.Code, err, rec.Body)
			}
			b.SetBytes(int64(len(body)))
			b.ReportAllocs()
			for b.Loop() {
				if rec := serve(); rec.Code != http.StatusOK {
					b.Fatalf("status %d: %s", rec.Code, rec.Body)
				}
			}
		})
	}
}

// sessionReview is an AdmissionReview of an MPCSession CREATE in benchNamespace, as the API server sends it.
func sessionReview(b *testing.B, t, n int, composition map[string]int) []byte {
	b.Helper()
	obj, err := json.Marshal(map[string]any{"apiVersion": "mpc.mpcguard.io/v1alpha1", "kind": "MPCSession",
		"metadata": map[string]any{"name": "sign-42", "namespace": benchNamespace, "uid": "6f1f3c9e-5b0e-4a52-9d1c-0c3f1e2d4b5a"},
		"spec":     map[string]any{"type": "sign", "threshold": map[string]any{"t": t, "n": n}, "composition": composition}})
	if err != nil {
		b.Fatal(err)
	}
	dryRun := false
	body, err := json.Marshal(map[string]any{"apiVersion": "admission.k8s.io/v1", "kind": "AdmissionReview",
		"request": admissionv1.AdmissionRequest{
			UID:       "705ab4f5-6393-11e8-b7cc-42010a800002",
			Kind:      metav1.GroupVersionKind{Group: "mpc.mpcguard.io", Version: "v1alpha1", Kind: "MPCSession"},
			Resource:  metav1.GroupVersionResource{Group: "mpc.mpcguard.io", Version: "v1alpha1", Resource: "mpcsessions"},
			Name:      "sign-42",
			Namespace: benchNamespace,
			Operation: admissionv1.Create,
			UserInfo:  authenticationv1.UserInfo{Username: "system:serviceaccount:mpc-system:coordinator", Groups: []string{"system:serviceaccounts", "system:authenticated"}},
			Object:    runtime.RawExtension{Raw: obj},
			DryRun:    &dryRun,
		}})
	if err != nil {
		b.Fatal(err)
	}
	return body
}
