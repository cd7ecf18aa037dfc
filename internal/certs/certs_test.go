package certs_test

import (
	"crypto/x509"
	"encoding/pem"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/mpcguard/mpcguard/internal/certs"
)

func TestAServingCertificateNeverOutlivesItsCA(t *testing.T) {
	ca, err := certs.NewCA("ca", time.Hour)
	require.NoError(t, err)
	pair, err := ca.Issue(24*time.Hour, "svc.ns.svc", "127.0.0.1")
	require.NoError(t, err)
	block, _ := pem.Decode(pair.CertPEM)
	cert, err := x509.ParseCertificate(block.Bytes)
	require.NoError(t, err)
	assert.Equal(t, ca.Cert.NotAfter, cert.NotAfter)
	assert.Equal(t, []string{"svc.ns.svc"}, cert.DNSNames)
	assert.Equal(t, "127.0.0.1", cert.IPAddresses[0].String())
}

func TestParseCARoundTripsACAAndRefusesAnotherCAsKey(t *testing.T) {
	ca, err := certs.NewCA("ca", time.Hour)
	require.NoError(t, err)
	other, err := certs.NewCA("other", time.Hour)
	require.NoError(t, err)
	key, err := ca.KeyPEM()
	require.NoError(t, err)
	back, err := certs.ParseCA(ca.CertPEM, key)
	require.NoError(t, err)
	assert.Equal(t, ca.Cert.Raw, back.Cert.Raw)
	otherKey, err := other.KeyPEM()
	require.NoError(t, err)
	_, err = certs.ParseCA(ca.CertPEM, otherKey)
	require.Error(t, err)

	bundle := certs.EncodeCertificates(ca.Cert, other.Cert)
	got, err := certs.ParseCertificates(bundle)
	require.NoError(t, err)
	require.Len(t, got, 2)
	assert.Equal(t, other.Cert.Raw, got[1].Raw)
}
