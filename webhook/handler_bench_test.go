package webhook_test

import (
	"bytes"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"os"
	"testing"

	"github.com/go-logr/logr"
	"github.com/stretchr/testify/require"
	admissionv1 "k8s.io/api/admission/v1"
	authnv1 "k8s.io/api/authentication/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"

	"github.com/mpcguard/mpcguard/policies/engine"
	"github.com/mpcguard/mpcguard/webhook"
)

// benchReview is an AdmissionReview as the API server sends it for a StatefulSet's party pod: the ~3 KB pod
// of testdata/party-pod.json with the envelope's user info, resource and options.
func benchReview(b *testing.B, mutate func(pod map[string]any)) []byte {
	b.Helper()
	raw, err := os.ReadFile("testdata/party-pod.json")
	require.NoError(b, err)
	var pod map[string]any
	require.NoError(b, json.Unmarshal(raw, &pod))
	if mutate != nil {
		mutate(pod)
	}
	obj, err := json.Marshal(pod)
	require.NoError(b, err)
	rv := admissionv1.AdmissionReview{
		TypeMeta: metav1.TypeMeta{APIVersion: "admission.k8s.io/v1", Kind: "AdmissionReview"},
		Request: &admissionv1.AdmissionRequest{
			UID:       "705ab4f5-6393-11e8-b7cc-42010a800002",
			Kind:      metav1.GroupVersionKind{Version: "v1", Kind: "Pod"},
			Resource:  metav1.GroupVersionResource{Version: "v1", Resource: "pods"},
			Namespace: "mpc-system", Name: "mpc-party-2", Operation: admissionv1.Create,
			UserInfo: authnv1.UserInfo{Username: "system:serviceaccount:kube-system:statefulset-controller",
				UID: "8c1f2b0e-1c2d-4e5f-9a8b-7c6d5e4f3a2b", Groups: []string{"system:serviceaccounts",
					"system:serviceaccounts:kube-system", "system:authenticated"}},
			Object:  runtime.RawExtension{Raw: obj},
			Options: runtime.RawExtension{Raw: []byte(`{"apiVersion":"meta.k8s.io/v1","kind":"CreateOptions"}`)},
		},
	}
	body, err := json.Marshal(rv)
	require.NoError(b, err)
	return body
}

// discard is a ResponseWriter that keeps only the status, so the benchmark measures the handler.
type discard struct {
	h    http.Header
	code int
}

func (d *discard) Header() http.Header         { return d.h }
func (d *discard) Write(p []byte) (int, error) { return len(p), nil }
func (d *discard) WriteHeader(code int)        { d.code = code }

func benchHandler(b *testing.B, body []byte, wantAllowed bool) {
	b.Helper()
	cfg := engine.DefaultConfig()
	cfg.ShareStorage = engine.ShareStorage{SecretNames: []string{"mpc-db"}, ClaimPrefixes: []string{"share-data-mpc-party-"}}
	eng, err := engine.New(b.Context(), cfg, nil)
	require.NoError(b, err)
	h := &webhook.Handler{Engine: eng, Metrics: webhook.NewMetrics(), Log: logr.Discard()}

	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, newBenchRequest(body))
	require.Equal(b, http.StatusOK, rec.Code, rec.Body.String())
	var out admissionv1.AdmissionReview
	require.NoError(b, json.Unmarshal(rec.Body.Bytes(), &out))
	require.Equal(b, wantAllowed, out.Response.Allowed, rec.Body.String())

	b.SetBytes(int64(len(body)))
	b.ReportAllocs()
	w := &discard{h: http.Header{}}
	for b.Loop() {
		h.ServeHTTP(w, newBenchRequest(body))
		if w.code != http.StatusOK {
			b.Fatalf("status %d", w.code)
		}
	}
}

func newBenchRequest(body []byte) *http.Request {
	r := httptest.NewRequest(http.MethodPost, "/validate?timeout=10s", bytes.NewReader(body))
	r.Header.Set("Content-Type", "application/json")
	return r
}

// BenchmarkHandlerPartyPod is one admission of a typical party pod, allowed: decoding the review, the
// policies and encoding the answer, without TLS and HTTP.
func BenchmarkHandlerPartyPod(b *testing.B) {
	benchHandler(b, benchReview(b, nil), true)
}

// BenchmarkHandlerPartyPodDenied is the same pod without its role label: denied with a message.
func BenchmarkHandlerPartyPodDenied(b *testing.B) {
	benchHandler(b, benchReview(b, func(pod map[string]any) {
		delete(pod["metadata"].(map[string]any)["labels"].(map[string]any), "party-role")
	}), false)
}
