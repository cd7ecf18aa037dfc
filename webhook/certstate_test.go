package webhook

import (
	"bytes"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

var testPolicy = rotationPolicy{hosts: []string{"mpcguard-webhook.mpcguard.svc", "127.0.0.1"},
	caValidity: 30 * time.Hour, certValidity: 9 * time.Hour, overlap: 10 * time.Minute}

// fresh plans from an empty Secret, and round-trips the result through the Secret's data.
func fresh(t *testing.T, now time.Time) certState {
	t.Helper()
	st, changes, err := testPolicy.plan(certState{}, now, time.Time{})
	require.NoError(t, err)
	require.NotEmpty(t, changes)
	return roundTrip(t, st, now)
}

func roundTrip(t *testing.T, st certState, now time.Time) certState {
	t.Helper()
	data, err := st.data()
	require.NoError(t, err)
	back, problems := readCertState(data, now)
	require.Empty(t, problems)
	return back
}

func TestAnEmptySecretGetsACAAServingCertificateAndABundleOfThatCA(t *testing.T) {
	now := time.Now()
	st := fresh(t, now)
	require.NotNil(t, st.ca)
	require.NotNil(t, st.leafCert)
	require.Len(t, st.bundle, 1)
	assert.True(t, bytes.Equal(st.bundle[0].Raw, st.ca.Cert.Raw))
	require.NoError(t, st.leafCert.CheckSignatureFrom(st.ca.Cert))
	assert.ElementsMatch(t, testPolicy.hosts, hostsOf(st.leafCert))

	_, changes, err := testPolicy.plan(st, now.Add(time.Hour), now)
	require.NoError(t, err)
	assert.Empty(t, changes, "a state well within its life is left alone")
}

func TestTheServingCertificateIsRenewedFromTheSameCAAtTwoThirdsOfItsLife(t *testing.T) {
	now := time.Now()
	st := fresh(t, now)
	_, changes, err := testPolicy.plan(st, now.Add(5*time.Hour), now)
	require.NoError(t, err)
	assert.Empty(t, changes, "at 5 of 9 hours")

	next, changes, err := testPolicy.plan(st, now.Add(6*time.Hour+time.Minute), now)
	require.NoError(t, err)
	assert.Equal(t, []string{"renewed the serving certificate (2/3 of its life used)"}, changes)
	assert.Equal(t, st.ca.Cert.Raw, next.ca.Cert.Raw, "same CA")
	assert.Len(t, next.bundle, 1, "the bundle is untouched")
	assert.NotEqual(t, st.leafCert.SerialNumber, next.leafCert.SerialNumber)
}

// The CA's rotation: each step waits for the one before to settle, so that the API server trusts every
// certificate a replica serves.
func TestACARotationAddsTheNewCAThenServesFromItAfterTheOverlapThenDropsTheOldOne(t *testing.T) {
	start := time.Now()
	policy := testPolicy
	policy.certValidity = 30 * time.Hour // the serving certificate does not renew on its own here
	st, _, err := policy.plan(certState{}, start, time.Time{})
	require.NoError(t, err)
	oldCA, oldLeaf := st.ca.Cert, st.leafCert

	due := start.Add(20*time.Hour + time.Minute) // 2/3 of the CA's 30 hours
	step1, changes, err := policy.plan(st, due, start)
	require.NoError(t, err)
	assert.Equal(t, []string{"made the next CA (the current one has used 2/3 of its life)"}, changes)
	require.Len(t, step1.bundle, 2, "both CAs are trusted")
	assert.True(t, containsCert(step1.bundle, oldCA))
	assert.True(t, containsCert(step1.bundle, step1.ca.Cert))
	assert.Equal(t, oldLeaf.Raw, step1.leafCert.Raw, "the old CA's certificate is still served")
	step1 = roundTrip(t, step1, due)

	_, changes, err = policy.plan(step1, due.Add(time.Minute), time.Time{})
	require.NoError(t, err)
	assert.Empty(t, changes, "not while the webhook configuration does not carry the new CA")
	_, changes, err = policy.plan(step1, due.Add(time.Minute), due)
	require.NoError(t, err)
	assert.Empty(t, changes, "nor before it has carried it for the overlap")

	carried := due.Add(time.Minute)
	switched := carried.Add(policy.overlap)
	step2, changes, err := policy.plan(step1, switched, carried)
	require.NoError(t, err)
	assert.Equal(t, []string{"moved the serving certificate to the new CA, trusted for the overlap"}, changes)
	require.NoError(t, step2.leafCert.CheckSignatureFrom(step2.ca.Cert))
	require.Len(t, step2.bundle, 2, "the old CA stays while replicas still serve its certificate")
	step2 = roundTrip(t, step2, switched)

	issued := switched // the overlap is counted from the new serving certificate's issuing
	_, changes, err = policy.plan(step2, issued.Add(policy.overlap-time.Second), carried)
	require.NoError(t, err)
	assert.Empty(t, changes)
	step3, changes, err := policy.plan(step2, issued.Add(policy.overlap+time.Second), carried)
	require.NoError(t, err)
	assert.Equal(t, []string{"dropped the previous CA from the bundle"}, changes)
	require.Len(t, step3.bundle, 1)
	assert.Equal(t, step3.ca.Cert.Raw, step3.bundle[0].Raw)
}

func TestAServingCertificateForOtherHostsIsReplacedAtOnce(t *testing.T) {
	now := time.Now()
	st := fresh(t, now)
	policy := testPolicy
	policy.hosts = []string{"renamed.mpcguard.svc"}
	next, changes, err := policy.plan(st, now, time.Time{})
	require.NoError(t, err)
	require.Len(t, changes, 1)
	assert.Contains(t, changes[0], "replaced the serving certificate for")
	assert.Equal(t, []string{"renamed.mpcguard.svc"}, hostsOf(next.leafCert))
}

func TestUnusableFieldsOfTheSecretAreDroppedAndMadeAnew(t *testing.T) {
	now := time.Now()
	st := fresh(t, now)
	data, err := st.data()
	require.NoError(t, err)

	t.Run("a CA key that is not the CA certificate's", func(t *testing.T) {
		other := fresh(t, now)
		bad, err := other.data()
		require.NoError(t, err)
		d := map[string][]byte{}
		for k, v := range data {
			d[k] = v
		}
		d[secretCAKey] = bad[secretCAKey]
		got, problems := readCertState(d, now)
		assert.Nil(t, got.ca)
		require.Len(t, problems, 1)
		assert.Contains(t, problems[0], "ca.crt/ca.key")
		next, changes, err := testPolicy.plan(got, now, time.Time{})
		require.NoError(t, err)
		assert.Contains(t, changes, "made a CA")
		assert.True(t, containsCert(next.bundle, st.ca.Cert), "the old CA stays trusted: its certificate is served")
		assert.Equal(t, st.leafCert.Raw, next.leafCert.Raw, "until the new CA has been carried for the overlap")
	})
	t.Run("an expired serving certificate", func(t *testing.T) {
		got, problems := readCertState(data, st.leafCert.NotAfter.Add(time.Second))
		assert.Nil(t, got.leaf)
		require.Len(t, problems, 1)
		assert.Contains(t, problems[0], "tls.crt expired")
	})
}

func TestRotationOptionsRefuseAnOverlapShorterThanTheCheckInterval(t *testing.T) {
	o := CertRotation{Namespace: "mpcguard", SecretName: "s", WebhookConfiguration: "w", Hosts: []string{"h"},
		Overlap: time.Second, Interval: time.Minute}
	err := o.validate()
	require.Error(t, err)
	assert.Contains(t, err.Error(), "shorter than the check interval")

	o = CertRotation{Namespace: "mpcguard", SecretName: "s", WebhookConfiguration: "w", Hosts: []string{"h"}}
	require.NoError(t, o.validate())
	assert.Equal(t, DefaultCAValidity, o.CAValidity, "zero values are the defaults")
	assert.Equal(t, DefaultCertOverlap, o.Overlap)
}
