package webhook_test

import (
	"bytes"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"

	"github.com/go-logr/logr/funcr"
	admissionv1 "k8s.io/api/admission/v1"

	"github.com/mpcguard/mpcguard/policies/engine"
	"github.com/mpcguard/mpcguard/webhook"
)

// FuzzHandler sends arbitrary bodies to the admission handler. Whatever arrives, it must answer — never
// panic or hang — with an AdmissionReview: 200 with a verdict for the request's uid, or 4xx/5xx with a
// message and allowed=false. The seed corpus is in testdata/fuzz/FuzzHandler; `make test` runs it, and
// `go test -fuzz FuzzHandler ./webhook/` explores further.
func FuzzHandler(f *testing.F) {
	f.Add([]byte(`{"apiVersion":"admission.k8s.io/v1","kind":"AdmissionReview","request":{"uid":"1","kind":{"version":"v1","kind":"Pod"},"operation":"CREATE","namespace":"ns","object":{"metadata":{"name":"p","labels":{"app.kubernetes.io/component":"mpc-party"}}}}}`))
	f.Add([]byte(`{"apiVersion":"admission.k8s.io/v1beta1","kind":"AdmissionReview","request":{"uid":"2","kind":{"group":"mpc.mpcguard.io","version":"v1alpha1","kind":"MPCSession"},"operation":"CREATE","object":{"metadata":{"name":"s"},"spec":{"type":"sign","threshold":{"t":2,"n":3},"composition":{}}}}}`))
	f.Add([]byte(`{"apiVersion":"admission.k8s.io/v1","kind":"AdmissionReview","request":{"uid":"3","kind":{"group":"apps","version":"v1","kind":"CronJob"},"operation":"UPDATE","object":{"spec":{"jobTemplate":null}},"oldObject":7}}`))
	f.Add([]byte(`{"apiVersion":"admission.k8s.io/v1","kind":"AdmissionReview","request":{"uid":"4","kind":{"version":"v1","kind":"Pod"},"subResource":"ephemeralcontainers","operation":"UPDATE","namespace":"ns","userInfo":{"username":"alice","groups":["system:authenticated","mpcguard:break-glass"]},"object":{"metadata":{"name":"p","labels":{"app.kubernetes.io/component":"mpc-party","party-role":"persistent"},"ownerReferences":[{"kind":"StatefulSet","name":"mpc-party","controller":true}]},"spec":{"ephemeralContainers":[{"name":"d"}],"volumes":[{"name":"h","hostPath":{"path":"/"}},{"name":"c","csi":{"nodePublishSecretRef":{"name":"mpc-db"}}},{"name":"e","ephemeral":{"volumeClaimTemplate":{"spec":{"dataSource":{"kind":"PersistentVolumeClaim","name":"share-0"}}}}}]}},"oldObject":{"metadata":{"name":"p","labels":{"party-role":"persistent"}}}}}`))
	f.Add([]byte(`{"apiVersion":"admission.k8s.io/v1","kind":"AdmissionReview","request":{"uid":"5","kind":{"version":"v1","kind":"Binding"},"subResource":"binding","operation":"CREATE","namespace":"ns","name":"p","userInfo":{"username":"system:kube-scheduler"},"object":{"metadata":{"name":"p","labels":{"party-role":"persistent"}},"target":{"name":"n"}}}}`))
	f.Add([]byte(`{"apiVersion":"admission.k8s.io/v1","kind":"AdmissionReview","request":{"uid":"6","kind":{"version":"v1","kind":"PodExecOptions"},"subResource":"exec","operation":"CONNECT","namespace":"ns","name":"p","userInfo":{"username":"alice","groups":7},"object":{"command":["sh"]}}}`))
	f.Add([]byte(`{"apiVersion":"admission.k8s.io/v1","kind":"AdmissionReview","request":{"uid":"7","kind":{"version":"v1","kind":"PersistentVolumeClaim"},"operation":"CREATE","namespace":"ns","userInfo":null,"object":{"spec":{"dataSource":{"kind":"PersistentVolumeClaim","name":"a"},"dataSourceRef":{"kind":"VolumeSnapshot","name":1}}}}}`))
	f.Add([]byte(`{"apiVersion":"admission.k8s.io/v1","kind":"AdmissionReview","request":{"uid":"8","kind":{"group":"snapshot.storage.k8s.io","version":"v1","kind":"VolumeSnapshot"},"operation":"CREATE","namespace":"ns","subResource":null,"object":{"spec":{"source":{"persistentVolumeClaimName":"share-0"}}}}}`))
	f.Add([]byte(`{"apiVersion":"admission.k8s.io/v1","kind":"AdmissionReview","request":{"uid":"9","kind":{"group":"mpc.mpcguard.io","version":"v1alpha1","kind":"MPCSession"},"operation":"UPDATE","object":{"spec":{"Threshold":{"t":"2"},"composition":[1]}},"oldObject":{"spec":null}}}`))
	f.Add([]byte(`{"request":null}`))
	f.Add([]byte(`[[[[[[[[[[`))
	f.Add([]byte{})

	eng, err := engine.New(f.Context(), engine.DefaultConfig(), nil)
	if err != nil {
		f.Fatal(err)
	}
	// The handler answers a panic with a 500 so that it costs one request; the fuzzer must still see it.
	var panicked atomic.Value
	log := funcr.New(func(_, args string) {
		if strings.Contains(args, "admission handler panicked") {
			panicked.Store(args)
		}
	}, funcr.Options{})
	h := &webhook.Handler{Engine: eng, Metrics: webhook.NewMetrics(), Log: log}
	f.Fuzz(func(t *testing.T, body []byte) {
		req := httptest.NewRequest(http.MethodPost, webhook.Path+"?timeout=5s", bytes.NewReader(body))
		req.Header.Set("Content-Type", "application/json")
		rec := httptest.NewRecorder()
		h.ServeHTTP(rec, req)
		if p := panicked.Load(); p != nil {
			t.Fatalf("the handler panicked on %q: %v", body, p)
		}

		var out struct {
			APIVersion string                         `json:"apiVersion"`
			Kind       string                         `json:"kind"`
			Response   *admissionv1.AdmissionResponse `json:"response"`
		}
		if err := json.Unmarshal(rec.Body.Bytes(), &out); err != nil {
			t.Fatalf("answer is not JSON (status %d): %v: %q", rec.Code, err, rec.Body.String())
		}
		if out.Kind != "AdmissionReview" || out.Response == nil || out.Response.Result == nil {
			t.Fatalf("answer is not an AdmissionReview with a result: %s", rec.Body.String())
		}
		switch rec.Code {
		case http.StatusOK:
			var in struct {
				Request *admissionv1.AdmissionRequest `json:"request"`
			}
			if err := json.Unmarshal(body, &in); err != nil || in.Request == nil {
				t.Fatalf("200 for a body that has no request: %q", body)
			}
			if out.Response.UID != in.Request.UID {
				t.Fatalf("response uid %q, request uid %q", out.Response.UID, in.Request.UID)
			}
			if !out.Response.Allowed && out.Response.Result.Message == "" {
				t.Fatalf("a denial without a message: %s", rec.Body.String())
			}
		case http.StatusBadRequest, http.StatusRequestEntityTooLarge, http.StatusInternalServerError:
			if out.Response.Allowed || out.Response.Result.Message == "" {
				t.Fatalf("status %d must come with allowed=false and a message: %s", rec.Code, rec.Body.String())
			}
		default:
			t.Fatalf("unexpected status %d: %s", rec.Code, rec.Body.String())
		}
	})
}
