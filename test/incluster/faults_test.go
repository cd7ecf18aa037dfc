package incluster

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"net"
	"regexp"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/mpcguard/mpcguard/internal/api/v1alpha1"
	"github.com/mpcguard/mpcguard/internal/certs"
	"github.com/mpcguard/mpcguard/policies/vocab"
	"github.com/mpcguard/mpcguard/test/cluster"
	"github.com/mpcguard/mpcguard/test/demo/scenario"
)

// probe is one kind of request of the load: a server-side dry-run create (admission runs, nothing is stored)
// and the decision it must get: "" for admitted, else the policy id of the denial.
type probe struct {
	name   string
	object func(i int64) client.Object
	want   string
}

// loadStats counts the load's requests. A request is answered when the API server returned the decision the
// probe expects, wrong when it returned another decision (admitted what must be denied, denied for another
// policy, or denied what must be admitted), and failed when admission could not decide (the webhook could not
// be called, timed out, or answered an error).
type loadStats struct {
	sent, answered, wrong, failed atomic.Int64
	mu                            sync.Mutex
	samples                       []string
}

func (s *loadStats) note(kind, msg string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if len(s.samples) < 5 {
		s.samples = append(s.samples, kind+": "+msg)
	}
}

func (s *loadStats) row(fault string, d time.Duration) string {
	return fmt.Sprintf("| %s | %d | %d | %d | %d | %s |", fault, s.sent.Load(), s.answered.Load(), s.failed.Load(), s.wrong.Load(),
		d.Round(100*time.Millisecond))
}

// deniedRE matches a denial by the webhook or by a native policy.
var deniedRE = regexp.MustCompile(`denied (the )?request: \[`)

// classify sorts one request's outcome into s.
func (s *loadStats) classify(p probe, err error) {
	s.sent.Add(1)
	switch {
	case err == nil && p.want == "":
		s.answered.Add(1)
	case err == nil:
		s.wrong.Add(1)
		s.note("wrong", p.name+" was admitted, want ["+p.want+"]")
	case apierrors.IsForbidden(err) && deniedRE.MatchString(err.Error()):
		// The webhook's "denied the request: [id]" or a native policy's "denied request: [id]".
		if p.want != "" && (strings.Contains(err.Error(), "denied the request: ["+p.want+"]") ||
			strings.Contains(err.Error(), "denied request: ["+p.want+"]")) {
			s.answered.Add(1)
		} else {
			s.wrong.Add(1)
			s.note("wrong", p.name+": "+err.Error())
		}
	default:
		s.failed.Add(1)
		s.note("failed", p.name+": "+err.Error())
	}
}

// runLoad sends the probes round-robin from workers goroutines, each one request at a time, until stop is
// closed, and returns when every worker is done; every request is bounded by a timeout.
func runLoad(ctx context.Context, cl client.Client, probes []probe, workers int, stop <-chan struct{}) *loadStats {
	stats := &loadStats{}
	var wg sync.WaitGroup
	var seq atomic.Int64
	for w := range workers {
		wg.Go(func() {
			for i := int64(w); ; i++ {
				select {
				case <-stop:
					return
				case <-ctx.Done():
					return
				default:
				}
				p := probes[i%int64(len(probes))]
				rctx, cancel := context.WithTimeout(ctx, 15*time.Second)
				err := cl.Create(rctx, p.object(seq.Add(1)), client.DryRunAll)
				cancel()
				stats.classify(p, err)
			}
		})
	}
	<-stop
	wg.Wait()
	return stats
}

// underLoad runs fault while the load runs, keeps the load up for settle after it, and returns the counts.
func underLoad(ctx context.Context, t *testing.T, cl client.Client, probes []probe, fault func() error, settle time.Duration) (*loadStats, time.Duration) {
	t.Helper()
	stop := make(chan struct{})
	result := make(chan *loadStats, 1)
	go func() { result <- runLoad(ctx, cl, probes, 4, stop) }()
	time.Sleep(2 * time.Second) // the load is running before the fault
	start := time.Now()
	err := fault()
	took := time.Since(start)
	time.Sleep(settle)
	close(stop)
	stats := <-result
	require.NoError(t, err, "the fault itself")
	return stats, took
}

func partyProbes(r *scenario.Release) []probe {
	return []probe{
		{"an unlabelled party pod", func(i int64) client.Object { return r.UnlabelledParty(fmt.Sprintf("load-unlabelled-%d", i)) }, vocab.PartyRoleRequired},
		{"a delegate-only session", func(i int64) client.Object {
			return r.Session(fmt.Sprintf("load-delegates-%d", i), 2, 3, &v1alpha1.Composition{Persistent: 1, Delegate: 2})
		}, vocab.SessionDelegateOnlyThreshold},
		{"a valid session", func(i int64) client.Object {
			return r.Session(fmt.Sprintf("load-valid-%d", i), 2, 3, &v1alpha1.Composition{Persistent: 2, Delegate: 1})
		}, ""},
	}
}

// webhookPods are the Ready webhook pods of the release.
func webhookPods(ctx context.Context, c *cluster.Cluster) ([]corev1.Pod, error) {
	pods, err := c.Client.CoreV1().Pods(namespace).List(ctx, metav1.ListOptions{LabelSelector: "app.kubernetes.io/name=mpcguard"})
	if err != nil {
		return nil, err
	}
	var ready []corev1.Pod
	for _, p := range pods.Items {
		if p.DeletionTimestamp == nil && scenario.PodReady(&p) {
			ready = append(ready, p)
		}
	}
	return ready, nil
}

// waitWebhookReplicas waits until the webhook Deployment has n Ready replicas, every one of its pods a new one
// (not in old) when old is given.
func waitWebhookReplicas(ctx context.Context, c *cluster.Cluster, n int, old []corev1.Pod) error {
	deadline := time.Now().Add(3 * time.Minute)
	for time.Now().Before(deadline) {
		pods, err := webhookPods(ctx, c)
		if err == nil && len(pods) == n {
			fresh := true
			for _, p := range pods {
				for _, o := range old {
					if o.UID == p.UID {
						fresh = false
					}
				}
			}
			if fresh {
				return nil
			}
		}
		time.Sleep(250 * time.Millisecond)
	}
	return fmt.Errorf("the webhook did not get back to %d new Ready replicas within 3m", n)
}

// servedCert is the certificate a webhook pod serves.
func servedCert(ip string, port int) (*x509.Certificate, error) {
	conn, err := tls.DialWithDialer(&net.Dialer{Timeout: 2 * time.Second}, "tcp", net.JoinHostPort(ip, fmt.Sprint(port)),
		&tls.Config{InsecureSkipVerify: true}) //nolint:gosec // only reads which certificate is served
	if err != nil {
		return nil, err
	}
	defer conn.Close()
	return conn.ConnectionState().PeerCertificates[0], nil
}

// rotation is what waitCARotation saw of one CA rotation by the webhook itself.
type rotation struct {
	// madeAfter is how long after the start the next CA appeared in the Secret; done how long until every pod
	// served a certificate from it and every webhook's caBundle held it alone.
	madeAfter, done time.Duration
	// bothTrusted is whether a caBundle was seen holding the old and the new CA at once (the overlap).
	bothTrusted bool
}

// waitCARotation waits for the webhook (webhook.certs.mode rotate, the chart's default) to rotate its CA by
// itself, with nothing done to it: the next CA appears in its Secret (made at 2/3 of the current CA's life), is
// added to the caBundle of every webhook of the configuration, serves once it has been trusted for the overlap,
// and the old CA leaves the caBundle. It returns once every Ready webhook pod serves a certificate from the new
// CA and every caBundle holds that CA alone.
func waitCARotation(ctx context.Context, c *cluster.Cluster, within time.Duration) (rotation, error) {
	var rot rotation
	secretName := releaseName + "-mpcguard-webhook-certs"
	readCA := func() (*x509.Certificate, error) {
		s, err := c.Client.CoreV1().Secrets(namespace).Get(ctx, secretName, metav1.GetOptions{})
		if err != nil {
			return nil, fmt.Errorf("reading the webhook's Secret %s: %w", secretName, err)
		}
		cas, err := certs.ParseCertificates(s.Data["ca.crt"])
		if err != nil {
			return nil, fmt.Errorf("ca.crt of the Secret %s: %w", secretName, err)
		}
		if len(cas) != 1 {
			return nil, fmt.Errorf("ca.crt of the Secret %s holds %d certificates, want the one CA", secretName, len(cas))
		}
		return cas[0], nil
	}
	old, err := readCA()
	if err != nil {
		return rot, err
	}
	start := time.Now()
	var next *x509.Certificate
	for ; ; time.Sleep(250 * time.Millisecond) {
		if time.Since(start) > within {
			return rot, fmt.Errorf("no complete CA rotation within %s (next CA made: %t)", within, next != nil)
		}
		if next == nil {
			ca, err := readCA()
			if err != nil {
				return rot, err
			}
			if !ca.Equal(old) {
				next, rot.madeAfter = ca, time.Since(start)
			}
			continue
		}
		vwcs, err := c.Client.AdmissionregistrationV1().ValidatingWebhookConfigurations().List(ctx, metav1.ListOptions{})
		if err != nil {
			return rot, fmt.Errorf("listing ValidatingWebhookConfigurations: %w", err)
		}
		if len(vwcs.Items) != 1 {
			return rot, fmt.Errorf("want the release's one ValidatingWebhookConfiguration, found %d", len(vwcs.Items))
		}
		alone := true
		for _, w := range vwcs.Items[0].Webhooks {
			cas, err := certs.ParseCertificates(w.ClientConfig.CABundle)
			if err != nil {
				return rot, fmt.Errorf("the caBundle of %s: %w", w.Name, err)
			}
			hasOld := slices.ContainsFunc(cas, old.Equal)
			hasNext := slices.ContainsFunc(cas, next.Equal)
			rot.bothTrusted = rot.bothTrusted || hasOld && hasNext
			alone = alone && hasNext && len(cas) == 1
		}
		pods, err := webhookPods(ctx, c)
		if err != nil {
			return rot, err
		}
		serving := 0
		for _, p := range pods {
			cert, err := servedCert(p.Status.PodIP, int(p.Spec.Containers[0].Ports[0].ContainerPort))
			if err == nil && cert.CheckSignatureFrom(next) == nil {
				serving++
			}
		}
		if alone && serving == len(pods) && serving > 0 {
			rot.done = time.Since(start)
			return rot, nil
		}
	}
}

// testFaultsUnderLoad is item 4 of the real-node issue: faults of the in-cluster webhook while party pods and
// sessions are created continuously.
func testFaultsUnderLoad(ctx context.Context, t *testing.T, env *scenario.Env) {
	c, cl, r := env.Cluster, env.Client, env.Release
	probes := partyProbes(r)
	table := []string{"| fault | sent | answered | failed | wrong | fault took |", "|---|---|---|---|---|---|"}
	t.Cleanup(func() {
		t.Logf("failure under load (4 clients, server-side dry-run creates):\n%s", strings.Join(table, "\n"))
	})

	t.Run("deleting one webhook pod fails no admission", func(t *testing.T) {
		pods, err := webhookPods(ctx, c)
		require.NoError(t, err)
		require.Len(t, pods, 2)
		stats, took := underLoad(ctx, t, cl, probes, func() error {
			if err := c.Client.CoreV1().Pods(namespace).Delete(ctx, pods[0].Name, metav1.DeleteOptions{}); err != nil {
				return err
			}
			return waitWebhookReplicas(ctx, c, 2, pods[:1])
		}, 3*time.Second)
		table = append(table, stats.row("(a) delete one webhook pod", took))
		assertClean(t, stats)
	})

	t.Run("rolling the webhook with helm upgrade and a changed argument fails no admission", func(t *testing.T) {
		pods, err := webhookPods(ctx, c)
		require.NoError(t, err)
		stats, took := underLoad(ctx, t, cl, probes, func() error {
			if _, err := env.HelmCLI(ctx, "upgrade", releaseName, r.Chart, "--plain-http",
				"--namespace", namespace, "-f", env.ValuesFile, "--set", "mpcguard.webhook.audit.interval=11m", "--wait", "--timeout", "5m"); err != nil {
				return err
			}
			return waitWebhookReplicas(ctx, c, 2, pods)
		}, 3*time.Second)
		table = append(table, stats.row("(b) helm upgrade: roll the webhook", took))
		assertClean(t, stats)
	})

	t.Run("the webhook rotating its own CA fails no admission", func(t *testing.T) {
		var rot rotation
		stats, took := underLoad(ctx, t, cl, probes, func() error {
			var err error
			rot, err = waitCARotation(ctx, c, 2*rotateCAValidity)
			return err
		}, 3*time.Second)
		table = append(table, stats.row(fmt.Sprintf("(c) the webhook rotates its CA (next CA after %s, rotated after %s, both CAs trusted at once: %t)",
			rot.madeAfter.Round(100*time.Millisecond), rot.done.Round(100*time.Millisecond), rot.bothTrusted), took))
		assertClean(t, stats)
		assert.True(t, rot.bothTrusted, "the old and the new CA were trusted together (the overlap)")
	})

	t.Run("with every webhook pod gone party objects are refused, others admitted, and service resumes by itself", func(t *testing.T) {
		pods, err := webhookPods(ctx, c)
		require.NoError(t, err)
		var outage atomic.Bool
		var otherAdmitted, otherRefused atomic.Int64
		others := []probe{
			{"a ConfigMap in the checked namespace", func(i int64) client.Object {
				return &corev1.ConfigMap{ObjectMeta: metav1.ObjectMeta{Name: fmt.Sprintf("load-cm-%d", i), Namespace: namespace}}
			}, ""},
			{"an unlabelled party pod in an unchecked namespace", func(i int64) client.Object {
				p := r.UnlabelledParty(fmt.Sprintf("load-elsewhere-%d", i))
				p.Namespace = "default"
				return p
			}, ""},
		}
		zero := int64(0)
		var resumed time.Duration
		stats, took := underLoad(ctx, t, cl, probes, func() error {
			start := time.Now()
			for _, p := range pods {
				if err := c.Client.CoreV1().Pods(namespace).Delete(ctx, p.Name, metav1.DeleteOptions{GracePeriodSeconds: &zero}); err != nil {
					return err
				}
			}
			outage.Store(true)
			for i := range int64(20) {
				err := cl.Create(ctx, others[i%2].object(i), client.DryRunAll)
				if err == nil {
					otherAdmitted.Add(1)
				} else {
					otherRefused.Add(1)
					t.Logf("refused during the outage: %s: %v", others[i%2].name, err)
				}
			}
			// Service resumes by itself: the ReplicaSet recreates the pods (the webhook's own pods are not
			// sent to it) and the webhook decides again. A valid session shows it: only the webhook can admit
			// one (its entry fails closed, and the native policies, which answer the other probes even while
			// the webhook is down, cannot see the Ready persistent parties it needs).
			valid := probes[len(probes)-1]
			for time.Since(start) < 3*time.Minute {
				if err := cl.Create(ctx, valid.object(time.Now().UnixNano()), client.DryRunAll); err == nil {
					resumed = time.Since(start)
					return waitWebhookReplicas(ctx, c, 2, pods)
				}
				time.Sleep(200 * time.Millisecond)
			}
			return errors.New("the webhook did not resume within 3m")
		}, 3*time.Second)
		table = append(table, stats.row(fmt.Sprintf("(d) every webhook pod deleted (resumed after %s; %d other objects admitted, %d refused)",
			resumed.Round(100*time.Millisecond), otherAdmitted.Load(), otherRefused.Load()), took))
		assert.Zero(t, stats.wrong.Load(), "no party object is admitted while the webhook is down, nor decided wrongly: %v", stats.samples)
		assert.Equal(t, int64(20), otherAdmitted.Load(), "objects the webhook does not check are admitted during the outage")
		assert.Positive(t, stats.failed.Load(), "party objects are refused (fail closed) while no webhook pod runs")
		assert.Positive(t, resumed, "service resumed")
	})
}

func assertClean(t *testing.T, s *loadStats) {
	t.Helper()
	assert.Positive(t, s.sent.Load())
	assert.Zero(t, s.failed.Load(), "failed admissions: %v", s.samples)
	assert.Zero(t, s.wrong.Load(), "wrong decisions: %v", s.samples)
}
