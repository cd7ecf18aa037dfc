package audit

import (
	"context"
	"sync"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/schema"
	dynamicfake "k8s.io/client-go/dynamic/fake"
	kubefake "k8s.io/client-go/kubernetes/fake"

	"github.com/mpcguard/mpcguard/policies/engine"
	"github.com/mpcguard/mpcguard/policies/vocab"
)

// fakeCluster is a dynamic client that serves the audited kinds and Reports, holding objs.
func fakeCluster(objs ...runtime.Object) *dynamicfake.FakeDynamicClient {
	lists := map[schema.GroupVersionResource]string{ReportGVR: "ReportList"}
	for _, k := range Kinds {
		lists[k.GroupVersionResource] = k.Kind + "List"
	}
	return dynamicfake.NewSimpleDynamicClientWithCustomListKinds(runtime.NewScheme(), lists, objs...)
}

// unlabelledParty is a party pod (the default selector) without the role label: party-role-required.
func unlabelledParty(ns, name string) *unstructured.Unstructured {
	return &unstructured.Unstructured{Object: map[string]any{
		"apiVersion": "v1", "kind": "Pod",
		"metadata": map[string]any{"name": name, "namespace": ns, "uid": "uid-" + name,
			"labels": map[string]any{"app.kubernetes.io/component": "mpc-party"}},
		"spec": map[string]any{"containers": []any{map[string]any{"name": "party", "image": "party:1"}}},
	}}
}

func reportsIn(t *testing.T, dyn *dynamicfake.FakeDynamicClient, ns string) []unstructured.Unstructured {
	t.Helper()
	list, err := dyn.Resource(ReportGVR).Namespace(ns).List(context.Background(), metav1.ListOptions{})
	require.NoError(t, err)
	return list.Items
}

func TestOneAuditFindsAnUnlabelledPartyPodAndReportsAndCountsIt(t *testing.T) {
	ctx := t.Context()
	eng, err := engine.New(ctx, engine.DefaultConfig(), nil)
	require.NoError(t, err)
	dyn := fakeCluster(unlabelledParty("team-a", "p0"))
	m := NewMetrics(prometheus.NewRegistry())
	r := &Runner{Collector: Collector{Client: dyn, Namespaces: []string{"team-a", "team-b"}}, Engine: eng,
		Writer: &ReportWriter{Client: dyn}, Metrics: m, Interval: time.Minute}

	res, err := r.Once(ctx)
	require.NoError(t, err)
	require.Equal(t, 1, res.Denied())
	assert.Equal(t, vocab.PartyRoleRequired, res.Objects[0].Deny[0].Policy)
	assert.Equal(t, 1.0, testutil.ToFloat64(m.Violations.WithLabelValues(vocab.PartyRoleRequired, "team-a", "Pod")))

	reps := reportsIn(t, dyn, "team-a")
	require.Len(t, reps, 1, "one Report in the namespace of the violation")
	fail, _, _ := unstructured.NestedInt64(reps[0].Object, "summary", "fail")
	assert.EqualValues(t, 1, fail)
	results, _, _ := unstructured.NestedSlice(reps[0].Object, "results")
	require.Len(t, results, 1)
	res0 := results[0].(map[string]any)
	assert.Equal(t, vocab.PartyRoleRequired, res0["policy"])
	assert.Equal(t, "fail", res0["result"])
	assert.Equal(t, "p0", res0["resources"].([]any)[0].(map[string]any)["name"])
	assert.Len(t, reportsIn(t, dyn, "team-b"), 1, "a clean audited namespace gets an empty Report")

	require.NoError(t, dyn.Resource(Kinds[0].GroupVersionResource).Namespace("team-a").Delete(ctx, "p0", metav1.DeleteOptions{}))
	_, err = r.Once(ctx)
	require.NoError(t, err)
	assert.Equal(t, 0.0, testutil.ToFloat64(m.Violations.WithLabelValues(vocab.PartyRoleRequired, "team-a", "Pod")),
		"a fixed violation reads 0, not a stale 1")
	fail, _, _ = unstructured.NestedInt64(reportsIn(t, dyn, "team-a")[0].Object, "summary", "fail")
	assert.EqualValues(t, 0, fail, "the Report is emptied once the object is fixed")
}

func TestOfTwoAuditRunnersOnlyTheLeaseHolderWritesReportsAndTheOtherTakesOverWhenItStops(t *testing.T) {
	eng, err := engine.New(t.Context(), engine.DefaultConfig(), nil)
	require.NoError(t, err)
	leases := kubefake.NewClientset()
	type replica struct {
		name   string
		dyn    *dynamicfake.FakeDynamicClient
		runner *Runner
		cancel context.CancelFunc
		done   chan struct{}
	}
	var wg sync.WaitGroup
	start := func(name string) *replica {
		// Each replica writes to a cluster of its own, so the Reports say which replica wrote them; the
		// Lease is shared.
		rp := &replica{name: name, dyn: fakeCluster(unlabelledParty("team-a", "p0")), done: make(chan struct{})}
		rp.runner = &Runner{Collector: Collector{Client: rp.dyn, Namespaces: []string{"team-a"}}, Engine: eng,
			Writer: &ReportWriter{Client: rp.dyn}, Metrics: NewMetrics(prometheus.NewRegistry()), Interval: 50 * time.Millisecond,
			Lease: Lease{Client: leases.CoordinationV1(), Namespace: "mpcguard", Name: "mpcguard-audit", Identity: name,
				// Long enough that a leader starved of CPU by a busy machine (make test runs many packages at
				// once) still renews in time; the hand-over below is by release, not by expiry.
				Duration: 15 * time.Second, RenewDeadline: 10 * time.Second, RetryPeriod: 100 * time.Millisecond}}
		ctx, cancel := context.WithCancel(context.Background())
		rp.cancel = cancel
		wg.Add(1)
		go func() {
			defer wg.Done()
			defer close(rp.done)
			assert.NoError(t, rp.runner.Run(ctx))
		}()
		return rp
	}
	a, b := start("replica-a"), start("replica-b")
	t.Cleanup(func() { a.cancel(); b.cancel(); wg.Wait() })

	wrote := func(rp *replica) bool { return len(reportsIn(t, rp.dyn, "team-a")) > 0 }
	require.Eventually(t, func() bool { return wrote(a) || wrote(b) }, 10*time.Second, 20*time.Millisecond,
		"one replica should take the Lease and write its Report")
	// Several audit intervals and Lease renewals later, still only one has written.
	time.Sleep(1500 * time.Millisecond)
	leader, follower := a, b
	if wrote(b) {
		leader, follower = b, a
	}
	require.False(t, wrote(follower), "both replicas wrote Reports: two audits were active at once")
	assert.Equal(t, 1.0, testutil.ToFloat64(leader.runner.Metrics.Leader))
	assert.Equal(t, 0.0, testutil.ToFloat64(follower.runner.Metrics.Leader))
	lease, err := leases.CoordinationV1().Leases("mpcguard").Get(t.Context(), "mpcguard-audit", metav1.GetOptions{})
	require.NoError(t, err)
	assert.Equal(t, leader.name, *lease.Spec.HolderIdentity, "the writer is the Lease's holder")

	leader.cancel() // a rolling update: the leader releases the Lease on its way out
	<-leader.done
	require.Eventually(t, func() bool { return wrote(follower) }, 10*time.Second, 20*time.Millisecond,
		"the other replica should take over the released Lease and audit")
}
