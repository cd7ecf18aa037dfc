package webhook_test

import (
	"bytes"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"testing"

	"github.com/go-logr/logr"
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
	f.Add([]byte(`{"request":null}`))
	f.Add([]byte(`[[[[[[[[[[`))
	f.Add([]byte{})

	eng, err := engine.New(f.Context(), engine.DefaultConfig(), nil)
	if err != nil {
		f.Fatal(err)
	}
	h := &webhook.Handler{Engine: eng, Metrics: webhook.NewMetrics(), Log: logr.Discard()}
	f.Fuzz(func(t *testing.T, body []byte) {
		req := httptest.NewRequest(http.MethodPost, webhook.Path+"?timeout=5s", bytes.NewReader(body))
		req.Header.Set("Content-Type", "application/json")
		rec := httptest.NewRecorder()
		h.ServeHTTP(rec, req)

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
