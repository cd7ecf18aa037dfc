package defense

import (
	"bufio"
	"context"
	"fmt"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	corev1 "k8s.io/api/core/v1"
	apiextensionsv1 "k8s.io/apiextensions-apiserver/pkg/apis/apiextensions/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	clientgoscheme "k8s.io/client-go/kubernetes/scheme"
	"k8s.io/client-go/rest"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/yaml"

	"github.com/mpcguard/mpcguard/internal/api/v1alpha1"
	"github.com/mpcguard/mpcguard/policies/vocab"
	"github.com/mpcguard/mpcguard/test/cluster"
)

// ns is the namespace the tests check, as the chart's release namespace.
const ns = "mpc-system"

// partyLabels are a party pod's labels with role ("" for none), under the default selector and key.
func partyLabels(role string) map[string]string {
	l := map[string]string{"app.kubernetes.io/component": "mpc-party"}
	if role != "" {
		l[vocab.DefaultRoleLabelKey] = role
	}
	return l
}

func pod(name string, labels map[string]string) *corev1.Pod {
	return &corev1.Pod{
		ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: ns, Labels: labels},
		Spec:       corev1.PodSpec{Containers: []corev1.Container{{Name: "app", Image: "registry.invalid/never-pulled:1.0"}}},
	}
}

func session(name string, t, n int32, c *v1alpha1.Composition) *v1alpha1.MPCSession {
	return &v1alpha1.MPCSession{
		ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: ns},
		Spec:       v1alpha1.MPCSessionSpec{Type: v1alpha1.SessionSign, Threshold: v1alpha1.Threshold{T: t, N: n}, Composition: c},
	}
}

// setUp makes a client that knows MPCSessions and CRDs, creates the checked namespace and installs the
// MPCSession CRD, waiting until it is served.
func setUp(t *testing.T, c *cluster.Cluster) client.Client {
	t.Helper()
	ctx := t.Context()
	scheme := runtime.NewScheme()
	require.NoError(t, clientgoscheme.AddToScheme(scheme))
	require.NoError(t, v1alpha1.AddToScheme(scheme))
	require.NoError(t, apiextensionsv1.AddToScheme(scheme))
	// No client-side rate limit (client-go's default is 5 requests/s): the latencies measured are the API server's.
	cfg := rest.CopyConfig(c.Config)
	cfg.QPS, cfg.Burst = 1000, 1000
	cl, err := client.New(cfg, client.Options{Scheme: scheme})
	require.NoError(t, err)
	if err := cl.Create(ctx, &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: ns}}); !apierrors.IsAlreadyExists(err) {
		require.NoError(t, err)
	}
	var crd apiextensionsv1.CustomResourceDefinition
	require.NoError(t, yaml.UnmarshalStrict(v1alpha1.CRDYAML, &crd))
	require.NoError(t, cl.Create(ctx, &crd))
	require.EventuallyWithT(t, func(ct *assert.CollectT) {
		var got apiextensionsv1.CustomResourceDefinition
		require.NoError(ct, cl.Get(ctx, client.ObjectKeyFromObject(&crd), &got))
		assert.True(ct, slices.ContainsFunc(got.Status.Conditions, func(c apiextensionsv1.CustomResourceDefinitionCondition) bool {
			return c.Type == apiextensionsv1.Established && c.Status == apiextensionsv1.ConditionTrue
		}))
		var list v1alpha1.MPCSessionList
		assert.NoError(ct, cl.List(ctx, &list, client.InNamespace(ns)))
	}, time.Minute, 100*time.Millisecond, "the MPCSession CRD is served")
	require.Eventually(t, func() bool { // pods need the namespace's default ServiceAccount
		return cl.Get(ctx, client.ObjectKey{Namespace: ns, Name: "default"}, &corev1.ServiceAccount{}) == nil
	}, time.Minute, 100*time.Millisecond, "ServiceAccount %s/default", ns)
	return cl
}

// requirePolicyDenied checks that err is the API server refusing the request through a
// ValidatingAdmissionPolicy (not the webhook) with the policy id in front of the message, and returns the
// name of the policy that denied it.
func requirePolicyDenied(t testing.TB, err error, policyID string) string {
	t.Helper()
	require.Error(t, err, "the API server should have rejected this")
	assert.True(t, apierrors.IsForbidden(err) || apierrors.IsInvalid(err), "a policy denial, got %v", err)
	msg := err.Error()
	require.Contains(t, msg, "ValidatingAdmissionPolicy '", "denied by a ValidatingAdmissionPolicy, not the webhook")
	assert.NotContains(t, msg, "admission webhook")
	assert.Contains(t, msg, "["+policyID+"]")
	name, _, _ := strings.Cut(strings.SplitN(msg, "ValidatingAdmissionPolicy '", 2)[1], "'")
	return name
}

// dryRun creates obj with dryRun=All: admission runs in full, nothing is stored.
func dryRun(ctx context.Context, cl client.Client, obj client.Object) error {
	return cl.Create(ctx, obj.DeepCopyObject().(client.Object), client.DryRunAll)
}

// metricSum adds up the samples of the metric name whose labels contain every one of labels ("k=\"v\"").
func metricSum(t testing.TB, c *cluster.Cluster, name string, labels ...string) float64 {
	t.Helper()
	raw, err := c.Client.Discovery().RESTClient().Get().AbsPath("/metrics").DoRaw(t.Context())
	require.NoError(t, err, "scraping the API server's /metrics")
	var sum float64
	sc := bufio.NewScanner(strings.NewReader(string(raw)))
	sc.Buffer(make([]byte, 1<<20), 1<<20)
	for sc.Scan() {
		line := sc.Text()
		if !strings.HasPrefix(line, name+"{") && !strings.HasPrefix(line, name+" ") {
			continue
		}
		if !all(line, labels) {
			continue
		}
		v, err := strconv.ParseFloat(line[strings.LastIndexByte(line, ' ')+1:], 64)
		require.NoError(t, err, "metric line %q", line)
		sum += v
	}
	return sum
}

// metricLabel is the value of label on the first sample of name whose labels contain every one of labels.
func metricLabel(t testing.TB, c *cluster.Cluster, name, label string, labels ...string) string {
	t.Helper()
	raw, err := c.Client.Discovery().RESTClient().Get().AbsPath("/metrics").DoRaw(t.Context())
	require.NoError(t, err, "scraping the API server's /metrics")
	for _, line := range strings.Split(string(raw), "\n") {
		if strings.HasPrefix(line, name+"{") && all(line, labels) {
			for _, sep := range []string{"{", ","} { // not apiserver_id_hash= for hash=
				if _, rest, ok := strings.Cut(line, sep+label+`="`); ok {
					v, _, _ := strings.Cut(rest, `"`)
					return v
				}
			}
		}
	}
	return ""
}

func all(line string, labels []string) bool {
	for _, l := range labels {
		if !strings.Contains(line, l) {
			return false
		}
	}
	return true
}

// latencies collects request durations of one kind of request.
type latencies []time.Duration

func (l *latencies) time(f func() error) error {
	start := time.Now()
	err := f()
	*l = append(*l, time.Since(start))
	return err
}

// String is "n=N p50=… max=…".
func (l latencies) String() string {
	if len(l) == 0 {
		return "n=0"
	}
	s := slices.Clone(l)
	slices.Sort(s)
	return fmt.Sprintf("n=%d p50=%s max=%s", len(s), s[len(s)/2].Round(100*time.Microsecond), s[len(s)-1].Round(100*time.Microsecond))
}
