package webhook_test

import (
	"crypto/tls"
	"crypto/x509"
	"net/http"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	admissionv1 "k8s.io/api/admission/v1"

	"github.com/mpcguard/mpcguard/internal/certs"
	"github.com/mpcguard/mpcguard/policies/engine"
)

func TestServesARotatedCertificateWithoutARestart(t *testing.T) {
	ts := startServer(t, engine.DefaultConfig())
	body := reviewOf(t, v1, admissionv1.Create, podKind, "mpc-system", "p", partyPod("p", nil), nil, false)
	require.Equal(t, http.StatusOK, ts.post(t, body, "application/json", "").status)

	newCA, err := certs.NewCA("rotated-ca", time.Hour)
	require.NoError(t, err)
	pair, err := newCA.Issue(time.Hour, "127.0.0.1")
	require.NoError(t, err)
	require.NoError(t, pair.WriteDir(ts.certDir))

	pool := x509.NewCertPool()
	pool.AppendCertsFromPEM(newCA.CertPEM)
	trustsNew := &http.Client{Timeout: 5 * time.Second,
		Transport: &http.Transport{TLSClientConfig: &tls.Config{RootCAs: pool, MinVersion: tls.VersionTLS12}}}
	ts.client = trustsNew
	require.Eventually(t, func() bool {
		resp, err := trustsNew.Get(ts.url) // any answer proves the handshake with the new certificate
		if err != nil {
			return false
		}
		resp.Body.Close()
		return true
	}, 20*time.Second, 100*time.Millisecond, "the new certificate was never served")
	r := ts.post(t, body, "application/json", "")
	require.Equal(t, http.StatusOK, r.status)
	require.False(t, r.review.Response.Allowed, "and the policies still apply")
}
