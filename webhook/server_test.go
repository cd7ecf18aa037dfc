package webhook_test

import (
	"bytes"
	"crypto/tls"
	"crypto/x509"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/go-logr/logr"
	"github.com/stretchr/testify/require"
	admissionv1 "k8s.io/api/admission/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"

	"github.com/mpcguard/mpcguard/internal/certs"
	"github.com/mpcguard/mpcguard/policies/engine"
	"github.com/mpcguard/mpcguard/test/ports"
	"github.com/mpcguard/mpcguard/webhook"
	"github.com/mpcguard/mpcguard/webhook/webhooktest"
)

// testServer is a real webhook server on 127.0.0.1 with its own CA.
type testServer struct {
	url, health, metrics string
	client               *http.Client
	certDir              string
	ca                   *certs.CA
}

// startServer runs webhook.Server without a cluster (no inventory) and waits until /readyz says ok.
func startServer(t *testing.T, cfg engine.Config) *testServer {
	t.Helper()
	return startServerWith(t, cfg)
}

// startServerWith is startServer with engine options (Options.EngineOptions).
func startServerWith(t *testing.T, cfg engine.Config, engineOpts ...engine.Option) *testServer {
	t.Helper()
	dir := t.TempDir()
	ca, err := certs.WriteLoopback(dir, time.Hour)
	require.NoError(t, err)
	port := ports.FreeT(t)
	healthAddr := "127.0.0.1:" + strconv.Itoa(ports.FreeT(t))
	metricsAddr := "127.0.0.1:" + strconv.Itoa(ports.FreeT(t))
	webhooktest.Run(t, webhook.Options{
		Host: "127.0.0.1", Port: port, CertDir: dir, HealthAddr: healthAddr, MetricsAddr: metricsAddr,
		Policy: cfg, Log: logr.Discard(), EngineOptions: engineOpts,
	})
	pool := x509.NewCertPool()
	pool.AppendCertsFromPEM(ca.CertPEM)
	ts := &testServer{
		url:     fmt.Sprintf("https://127.0.0.1:%d%s", port, webhook.Path),
		health:  "http://" + healthAddr,
		metrics: "http://" + metricsAddr + "/metrics",
		client: &http.Client{Timeout: 10 * time.Second,
			Transport: &http.Transport{TLSClientConfig: &tls.Config{RootCAs: pool, MinVersion: tls.VersionTLS12}}},
		certDir: dir,
		ca:      ca,
	}
	require.Eventually(t, func() bool {
		resp, err := http.Get(ts.health + "/readyz")
		if err != nil {
			return false
		}
		defer resp.Body.Close()
		return resp.StatusCode == http.StatusOK
	}, 15*time.Second, 50*time.Millisecond, "webhook never turned ready")
	return ts
}

// reviewOf builds an AdmissionReview of apiVersion v ("admission.k8s.io/v1" or v1beta1).
func reviewOf(t *testing.T, v string, op admissionv1.Operation, gvk metav1.GroupVersionKind, ns, name string,
	obj, old any, dryRun bool) []byte {
	t.Helper()
	req := &admissionv1.AdmissionRequest{
		UID: types.UID("uid-" + name), Kind: gvk, Namespace: ns, Name: name, Operation: op, DryRun: &dryRun,
		Resource: metav1.GroupVersionResource{Group: gvk.Group, Version: gvk.Version, Resource: strings.ToLower(gvk.Kind) + "s"},
	}
	if obj != nil {
		req.Object.Raw = mustJSON(t, obj)
	}
	if old != nil {
		req.OldObject.Raw = mustJSON(t, old)
	}
	return mustJSON(t, map[string]any{"apiVersion": v, "kind": "AdmissionReview", "request": req})
}

func mustJSON(t *testing.T, v any) []byte {
	t.Helper()
	if b, ok := v.([]byte); ok {
		return b
	}
	if s, ok := v.(string); ok {
		return []byte(s)
	}
	b, err := json.Marshal(v)
	require.NoError(t, err)
	return b
}

type reply struct {
	status int
	review struct {
		APIVersion string                         `json:"apiVersion"`
		Kind       string                         `json:"kind"`
		Response   *admissionv1.AdmissionResponse `json:"response"`
	}
	raw string
}

func (ts *testServer) post(t *testing.T, body []byte, contentType, query string) reply {
	t.Helper()
	req, err := http.NewRequestWithContext(t.Context(), http.MethodPost, ts.url+query, bytes.NewReader(body))
	require.NoError(t, err)
	if contentType != "" {
		req.Header.Set("Content-Type", contentType)
	}
	resp, err := ts.client.Do(req)
	require.NoError(t, err)
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	require.NoError(t, err)
	var r reply
	r.status, r.raw = resp.StatusCode, string(b)
	require.NoError(t, json.Unmarshal(b, &r.review), "every answer is an AdmissionReview, even an error: %s", b)
	return r
}

func (ts *testServer) scrape(t *testing.T) string {
	t.Helper()
	resp, err := http.Get(ts.metrics)
	require.NoError(t, err)
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	require.NoError(t, err)
	return string(b)
}
