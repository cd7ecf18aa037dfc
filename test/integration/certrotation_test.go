package integration

import (
	"bytes"
	"context"
	"crypto/tls"
	"crypto/x509"
	"fmt"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/go-logr/logr/testr"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	admissionregistrationv1 "k8s.io/api/admissionregistration/v1"
	corev1 "k8s.io/api/core/v1"
	rbacv1 "k8s.io/api/rbac/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/rest"
	"k8s.io/utils/ptr"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/mpcguard/mpcguard/internal/certs"
	"github.com/mpcguard/mpcguard/policies/engine"
	"github.com/mpcguard/mpcguard/test/ports"
	"github.com/mpcguard/mpcguard/webhook"
	"github.com/mpcguard/mpcguard/webhook/webhooktest"
)

// The rotator's objects, named as the chart names them for a release "mpcguard" in namespace "mpcguard".
const (
	rotNamespace = "mpcguard"
	rotSecret    = "mpcguard-webhook-certs"
	rotVWC       = "mpcguard-mpcguard"
	rotAccount   = "mpcguard-webhook"
)

// Short lives, so that a CA rotation happens within the test: the CA renews at 2/3 of 45s, a rotation takes
// two overlaps of 3s.
var testRotation = webhook.CertRotation{
	Namespace: rotNamespace, SecretName: rotSecret, WebhookConfiguration: rotVWC, Hosts: []string{"127.0.0.1"},
	CAValidity: 45 * time.Second, CertValidity: 18 * time.Second, Overlap: 3 * time.Second, Interval: 500 * time.Millisecond,
}

// Bounds of the load during the rotation.
const (
	rotationWorkers     = 4
	rotationMaxRequests = 4000
	rotationPace        = 20 * time.Millisecond // between two requests of one worker
	rotationTail        = 200                   // requests sent after the rotation has completed
)

// asRotator is the webhook's ServiceAccount with exactly the chart's rotator RBAC: a Role on its one Secret,
// a ClusterRole on its one ValidatingWebhookConfiguration, both limited by resourceNames.
func asRotator(t *testing.T, admin *rest.Config, c client.Client) *rest.Config {
	t.Helper()
	ctx := t.Context()
	sa := rbacv1.Subject{Kind: rbacv1.ServiceAccountKind, Name: rotAccount, Namespace: rotNamespace}
	verbs := []string{"get", "list", "watch", "update"}
	for _, obj := range []client.Object{
		&corev1.ServiceAccount{ObjectMeta: metav1.ObjectMeta{Name: rotAccount, Namespace: rotNamespace}},
		&rbacv1.Role{ObjectMeta: metav1.ObjectMeta{Name: rotAccount + "-certs", Namespace: rotNamespace},
			Rules: []rbacv1.PolicyRule{{APIGroups: []string{""}, Resources: []string{"secrets"},
				ResourceNames: []string{rotSecret}, Verbs: verbs}}},
		&rbacv1.RoleBinding{ObjectMeta: metav1.ObjectMeta{Name: rotAccount + "-certs", Namespace: rotNamespace},
			RoleRef:  rbacv1.RoleRef{APIGroup: rbacv1.GroupName, Kind: "Role", Name: rotAccount + "-certs"},
			Subjects: []rbacv1.Subject{sa}},
		&rbacv1.ClusterRole{ObjectMeta: metav1.ObjectMeta{Name: rotAccount + "-cabundle"},
			Rules: []rbacv1.PolicyRule{{APIGroups: []string{admissionregistrationv1.GroupName},
				Resources: []string{"validatingwebhookconfigurations"}, ResourceNames: []string{rotVWC}, Verbs: verbs}}},
		&rbacv1.ClusterRoleBinding{ObjectMeta: metav1.ObjectMeta{Name: rotAccount + "-cabundle"},
			RoleRef:  rbacv1.RoleRef{APIGroup: rbacv1.GroupName, Kind: "ClusterRole", Name: rotAccount + "-cabundle"},
			Subjects: []rbacv1.Subject{sa}},
	} {
		require.NoError(t, c.Create(ctx, obj))
	}
	cfg := rest.CopyConfig(admin)
	cfg.Impersonate = rest.ImpersonationConfig{
		UserName: fmt.Sprintf("system:serviceaccount:%s:%s", rotNamespace, rotAccount),
		Groups:   []string{"system:serviceaccounts", "system:serviceaccounts:" + rotNamespace, "system:authenticated"},
	}
	return cfg
}

// rotationVWC is the chart's configuration in rotate mode (no caBundle), with one webhook per replica, so that
// every party pod is judged by both.
func rotationVWC(urls ...string) *admissionregistrationv1.ValidatingWebhookConfiguration {
	vwc := &admissionregistrationv1.ValidatingWebhookConfiguration{ObjectMeta: metav1.ObjectMeta{Name: rotVWC}}
	for i, url := range urls {
		vwc.Webhooks = append(vwc.Webhooks, admissionregistrationv1.ValidatingWebhook{
			Name:         fmt.Sprintf("replica-%d.pods.mpcguard.io", i),
			ClientConfig: admissionregistrationv1.WebhookClientConfig{URL: ptr.To(url)},
			Rules: []admissionregistrationv1.RuleWithOperations{{
				Operations: []admissionregistrationv1.OperationType{admissionregistrationv1.Create},
				Rule: admissionregistrationv1.Rule{APIGroups: []string{""}, APIVersions: []string{"v1"},
					Resources: []string{"pods"}, Scope: ptr.To(admissionregistrationv1.NamespacedScope)}}},
			FailurePolicy:           ptr.To(admissionregistrationv1.Fail),
			SideEffects:             ptr.To(admissionregistrationv1.SideEffectClassNone),
			AdmissionReviewVersions: []string{"v1"},
			TimeoutSeconds:          ptr.To[int32](10),
			NamespaceSelector: &metav1.LabelSelector{MatchLabels: map[string]string{
				"kubernetes.io/metadata.name": ns}},
			ObjectSelector: &metav1.LabelSelector{MatchLabels: map[string]string{
				"app.kubernetes.io/component": "mpc-party"}},
		})
	}
	return vwc
}

// replica is an in-process webhook in rotate mode.
type replica struct {
	srv  *webhook.Server
	port int
}

func startReplica(t *testing.T, cfg *rest.Config, port int) *replica {
	t.Helper()
	rot := testRotation
	srv := webhooktest.Run(t, webhook.Options{
		Host: "127.0.0.1", Port: port, HealthAddr: "0", MetricsAddr: "0",
		Policy: engine.DefaultConfig(), RESTConfig: cfg, CertRotation: &rot,
		Log: testr.NewWithOptions(t, testr.Options{LogTimestamp: true}).WithName(fmt.Sprintf("replica-%d", port)),
	})
	return &replica{srv: srv, port: port}
}

// served is the certificate a replica serves, read by a handshake that trusts the bundle (an error when the
// bundle does not trust it).
func (r *replica) served(bundle []byte) (*x509.Certificate, error) {
	pool := x509.NewCertPool()
	pool.AppendCertsFromPEM(bundle)
	conn, err := tls.Dial("tcp", fmt.Sprintf("127.0.0.1:%d", r.port), &tls.Config{RootCAs: pool, MinVersion: tls.VersionTLS12})
	if err != nil {
		return nil, err
	}
	defer conn.Close()
	return conn.ConnectionState().PeerCertificates[0], nil
}

func TestTwoRotatingReplicasShareOneCAAndRotateItUnderLoadWithoutAFailedAdmission(t *testing.T) {
	admin, c := startControlPlane(t)
	ctx := t.Context()
	for _, name := range []string{rotNamespace, ns} {
		require.NoError(t, c.Create(ctx, &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: name}}))
	}
	// What the chart renders: an empty Secret, another Secret the webhook must not reach, the configuration
	// without a caBundle.
	require.NoError(t, c.Create(ctx, &corev1.Secret{ObjectMeta: metav1.ObjectMeta{Name: rotSecret, Namespace: rotNamespace}}))
	require.NoError(t, c.Create(ctx, &corev1.Secret{ObjectMeta: metav1.ObjectMeta{Name: "party-shares", Namespace: rotNamespace},
		StringData: map[string]string{"share": "secret"}}))
	portA, portB := ports.FreeT(t), ports.FreeT(t)
	require.NoError(t, c.Create(ctx, rotationVWC(
		fmt.Sprintf("https://127.0.0.1:%d%s", portA, webhook.Path), fmt.Sprintf("https://127.0.0.1:%d%s", portB, webhook.Path))))
	rotCfg := asRotator(t, admin, c)

	// Both replicas start at once, on the same empty Secret.
	replicas := []*replica{startReplica(t, rotCfg, portA), startReplica(t, rotCfg, portB)}
	readSecret := func() *corev1.Secret {
		var s corev1.Secret
		require.NoError(t, c.Get(ctx, client.ObjectKey{Namespace: rotNamespace, Name: rotSecret}, &s))
		return &s
	}
	readVWC := func() *admissionregistrationv1.ValidatingWebhookConfiguration {
		var v admissionregistrationv1.ValidatingWebhookConfiguration
		require.NoError(t, c.Get(ctx, client.ObjectKey{Name: rotVWC}, &v))
		return &v
	}

	t.Run("the replicas turn ready on one CA, which every webhook trusts", func(t *testing.T) {
		require.Eventually(t, func() bool {
			return replicas[0].srv.Ready(nil) == nil && replicas[1].srv.Ready(nil) == nil
		}, time.Minute, 50*time.Millisecond, "replicas never ready")
		s := readSecret()
		cas, err := certs.ParseCertificates(s.Data["ca-bundle.crt"])
		require.NoError(t, err)
		require.Len(t, cas, 1, "one CA")
		for _, w := range readVWC().Webhooks {
			assert.Equal(t, s.Data["ca-bundle.crt"], w.ClientConfig.CABundle, "webhook %s", w.Name)
		}
		for i, r := range replicas {
			leaf, err := r.served(s.Data["ca-bundle.crt"])
			require.NoError(t, err, "replica %d serves a certificate of the Secret's CA", i)
			assert.Equal(t, []string{"127.0.0.1"}, []string{leaf.IPAddresses[0].String()})
		}
	})

	t.Run("the rotator's identity reaches nothing but its Secret and its webhook configuration", func(t *testing.T) {
		rc, err := client.New(rotCfg, client.Options{Scheme: c.Scheme()})
		require.NoError(t, err)
		var s corev1.Secret
		err = rc.Get(ctx, client.ObjectKey{Namespace: rotNamespace, Name: "party-shares"}, &s)
		assert.True(t, apierrors.IsForbidden(err), "another Secret is out of reach: %v", err)
		assert.True(t, apierrors.IsForbidden(rc.List(ctx, &corev1.SecretList{}, client.InNamespace(rotNamespace))),
			"listing Secrets is refused")
		assert.True(t, apierrors.IsForbidden(rc.Create(ctx, &corev1.Secret{ObjectMeta: metav1.ObjectMeta{
			Name: "new", Namespace: rotNamespace}})), "creating Secrets is refused")
		other := rotationVWC("https://127.0.0.1:1/validate")
		other.Name = "someone-elses"
		require.NoError(t, c.Create(ctx, other))
		other.Webhooks[0].ClientConfig.CABundle = []byte("x")
		assert.True(t, apierrors.IsForbidden(rc.Update(ctx, other)), "another webhook configuration is out of reach")
		require.NoError(t, c.Delete(ctx, other))
		require.NoError(t, rc.Get(ctx, client.ObjectKey{Namespace: rotNamespace, Name: rotSecret}, &s), "its own Secret is readable")
	})

	// The API server loads the configuration asynchronously: wait until it calls the replicas.
	unlabelled := func(name string) *corev1.Pod {
		return pod(name, map[string]string{"app.kubernetes.io/component": "mpc-party"})
	}
	require.Eventually(t, func() bool {
		err := c.Create(ctx, unlabelled("probe"), client.DryRunAll)
		return err != nil && strings.Contains(err.Error(), "[party-role-required]")
	}, 30*time.Second, 100*time.Millisecond, "the API server never called the webhook")
	t.Run("admissions through the API server are judged by the policies", func(t *testing.T) {
		requireDenied(t, c.Create(ctx, unlabelled("unlabelled"), client.DryRunAll), "party-role-required")
		require.NoError(t, c.Create(ctx, party("labelled", "delegate"), client.DryRunAll))
	})

	t.Run("a CA rotation under load fails no admission", func(t *testing.T) {
		s := readSecret()
		startCA, err := certs.ParseCA(s.Data["ca.crt"], s.Data["ca.key"])
		require.NoError(t, err)
		// Start the load a few seconds before the CA's renewal is due (2/3 of its life).
		issued := certs.IssuedAt(startCA.Cert)
		due := issued.Add(startCA.Cert.NotAfter.Sub(issued) * 2 / 3)
		time.Sleep(time.Until(due.Add(-3 * time.Second)))

		lctx, cancel := context.WithTimeout(ctx, 3*time.Minute) // a safety net: the load stops by itself
		defer cancel()
		var (
			sent, allowed, denied, failed atomic.Int64
			mu                            sync.Mutex
			failures                      []string
			stop                          = make(chan struct{})
			wg                            sync.WaitGroup
		)
		for w := range rotationWorkers {
			wg.Go(func() {
				for i := 0; lctx.Err() == nil && sent.Add(1) <= rotationMaxRequests; i++ {
					select {
					case <-stop:
						return
					case <-time.After(rotationPace):
					}
					name := fmt.Sprintf("load-%d-%d", w, i)
					var err error
					wantAllowed := i%2 == 0
					if wantAllowed {
						err = c.Create(lctx, party(name, "delegate"), client.DryRunAll)
					} else {
						err = c.Create(lctx, unlabelled(name), client.DryRunAll)
					}
					if lctx.Err() != nil {
						return
					}
					switch {
					case wantAllowed && err == nil:
						allowed.Add(1)
					case !wantAllowed && err != nil && apierrors.IsForbidden(err) &&
						strings.Contains(err.Error(), "[party-role-required]"):
						denied.Add(1)
					default:
						failed.Add(1)
						mu.Lock()
						if len(failures) < 5 {
							failures = append(failures, fmt.Sprintf("%s (want allowed=%v): %v", name, wantAllowed, err))
						}
						mu.Unlock()
					}
				}
			})
		}
		// Watch the rotation's steps from the outside: the new CA in the bundle, then alone in it.
		var sawTwo bool
		var rotatedAt time.Time
		for lctx.Err() == nil {
			s := readSecret()
			cas, err := certs.ParseCertificates(readVWC().Webhooks[0].ClientConfig.CABundle)
			require.NoError(t, err)
			if len(cas) == 2 {
				sawTwo = true
			}
			if sawTwo && len(cas) == 1 && !bytes.Equal(cas[0].Raw, startCA.Cert.Raw) &&
				bytes.Equal(s.Data["ca-bundle.crt"], certs.EncodeCertificates(cas[0])) {
				rotatedAt = time.Now()
				break
			}
			time.Sleep(50 * time.Millisecond)
		}
		require.False(t, rotatedAt.IsZero(), "the CA rotation never completed: %v", lctx.Err())
		atRotation := sent.Load()
		for sent.Load() < atRotation+rotationTail && lctx.Err() == nil {
			time.Sleep(50 * time.Millisecond)
		}
		close(stop)
		wg.Wait()

		total := allowed.Load() + denied.Load() + failed.Load()
		t.Logf("rotation under load: requests=%d allowed=%d denied=%d failed=%d workers=%d; CA rotation completed "+
			"%s after its renewal was due", total, allowed.Load(), denied.Load(), failed.Load(), rotationWorkers,
			rotatedAt.Sub(due).Round(time.Millisecond))
		assert.Zero(t, failed.Load(), "admissions answered wrongly or not at all; the first: %v", failures)
		assert.Greater(t, allowed.Load(), int64(rotationTail/4), "the load ran")
		assert.Greater(t, denied.Load(), int64(rotationTail/4), "the load ran")

		s = readSecret()
		for i, r := range replicas {
			leaf, err := r.served(s.Data["ca-bundle.crt"])
			require.NoError(t, err, "replica %d serves a certificate of the new CA", i)
			assert.NotEqual(t, startCA.Cert.Raw, leaf.Raw)
			require.NoError(t, r.srv.Ready(nil), "replica %d is ready", i)
		}
	})
}
