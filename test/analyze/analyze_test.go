package analyze_test

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"helm.sh/helm/v3/pkg/chart/loader"
	corev1 "k8s.io/api/core/v1"
	rbacv1 "k8s.io/api/rbac/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/wait"
	"k8s.io/client-go/tools/clientcmd"

	"github.com/mpcguard/mpcguard/internal/analyze"
	"github.com/mpcguard/mpcguard/test/cluster"
	"github.com/mpcguard/mpcguard/test/demo/scenario"
	"github.com/mpcguard/mpcguard/test/ports"
)

// analyst is the identity analyze runs as: impersonated by the administrator's kubeconfig, allowed only to
// list nodes and pods.
const analyst = "mpcguard-analyst"

// live is mpc-system installed on a local cluster, rendered as an operator would render it for analyze.
type live struct {
	env *scenario.Env
	// render is `helm template` of the same chart, release, namespace and values (with the webhook's
	// Deployment, which the installed release replaces by a local process: t is read from it).
	render string
	// kubeconfig acts as the analyst, who may only list nodes and pods.
	kubeconfig string
	bin        string
}

// install starts a cluster of nodes spread round-robin over zones, installs mpc-system with values and waits
// for its workloads (helm --wait: every persistent party scheduled and Ready).
func install(t *testing.T, nodes int, zones []string, values map[string]any) *live {
	t.Helper()
	require.NoError(t, cluster.CheckTools(cluster.BinDir(), cluster.ControlPlaneTools...))
	bin := os.Getenv("MPCGUARD_BIN")
	require.NotEmpty(t, bin, "set MPCGUARD_BIN to the mpcguard binary (make build; bin/mpcguard)")
	root, err := cluster.RepoRoot()
	require.NoError(t, err)
	ctx, cancel := context.WithTimeout(t.Context(), 5*time.Minute)
	defer cancel()
	env, err := scenario.Up(ctx, scenario.Options{Nodes: nodes, Zones: zones, Charts: filepath.Join(root, "charts"),
		Values: values, Mpcguard: bin, Log: logWriter{t}, StopOnInterrupt: true})
	require.NoError(t, err, "bringing up the local cluster with mpc-system")
	t.Cleanup(func() {
		if t.Failed() {
			t.Logf("the end of the cluster's logs:\n%s", env.Cluster.Logs(10))
		}
		assert.NoError(t, env.Down())
	})
	chrt, err := loader.Load(filepath.Join(root, "charts", "mpc-system"))
	require.NoError(t, err)
	version, err := env.Cluster.Client.Discovery().ServerVersion()
	require.NoError(t, err)
	rel, err := cluster.HelmTemplate(ctx, cluster.HelmRelease{Name: scenario.DemoRelease, Namespace: scenario.DemoNamespace,
		Chart: chrt, Values: values}, version.GitVersion)
	require.NoError(t, err)
	dir := t.TempDir()
	l := &live{env: env, bin: bin, render: filepath.Join(dir, "render.yaml"), kubeconfig: filepath.Join(dir, "analyst.kubeconfig")}
	require.NoError(t, os.WriteFile(l.render, []byte(rel.Manifest), 0o600))
	l.grantListOnly(t)
	return l
}

// grantListOnly binds the analyst to a ClusterRole with list on nodes and pods, nothing else, and writes a
// kubeconfig that impersonates it.
func (l *live) grantListOnly(t *testing.T) {
	t.Helper()
	ctx := t.Context()
	rbac := l.env.Cluster.Client.RbacV1()
	_, err := rbac.ClusterRoles().Create(ctx, &rbacv1.ClusterRole{ObjectMeta: metav1.ObjectMeta{Name: analyst},
		Rules: []rbacv1.PolicyRule{{APIGroups: []string{""}, Resources: []string{"nodes", "pods"}, Verbs: []string{"list"}}}}, metav1.CreateOptions{})
	require.NoError(t, err)
	_, err = rbac.ClusterRoleBindings().Create(ctx, &rbacv1.ClusterRoleBinding{ObjectMeta: metav1.ObjectMeta{Name: analyst},
		RoleRef:  rbacv1.RoleRef{APIGroup: rbacv1.GroupName, Kind: "ClusterRole", Name: analyst},
		Subjects: []rbacv1.Subject{{APIGroup: rbacv1.GroupName, Kind: rbacv1.UserKind, Name: analyst}}}, metav1.CreateOptions{})
	require.NoError(t, err)
	cfg, err := clientcmd.LoadFromFile(l.env.Cluster.Kubeconfig)
	require.NoError(t, err)
	for _, a := range cfg.AuthInfos {
		a.Impersonate = analyst
	}
	require.NoError(t, clientcmd.WriteToFile(*cfg, l.kubeconfig))
}

// result is one run of the binary.
type result struct {
	code           int
	stdout, stderr string
}

func run(t *testing.T, bin string, args ...string) result {
	t.Helper()
	ctx, cancel := context.WithTimeout(t.Context(), 2*time.Minute)
	defer cancel()
	var stdout, stderr bytes.Buffer
	cmd := exec.CommandContext(ctx, bin, args...)
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	err := cmd.Run()
	var exit *exec.ExitError
	if err != nil && !errors.As(err, &exit) {
		require.NoError(t, err, "running %s", bin)
	}
	r := result{code: cmd.ProcessState.ExitCode(), stdout: stdout.String(), stderr: stderr.String()}
	t.Logf("$ mpcguard %v\nexit %d\n%s%s", args, r.code, r.stderr, r.stdout)
	return r
}

// analyzeJSON runs analyze --cluster -o json as the analyst and decodes the report.
func (l *live) analyzeJSON(t *testing.T) (analyze.Report, result) {
	t.Helper()
	r := run(t, l.bin, "analyze", "--cluster", "--kubeconfig", l.kubeconfig, l.render, "-o", "json")
	var rep analyze.Report
	require.NoError(t, json.Unmarshal([]byte(r.stdout), &rep), "the JSON report")
	return rep, r
}

func finding(t *testing.T, rep analyze.Report, id string) analyze.Finding {
	t.Helper()
	for _, f := range rep.Findings {
		if f.ID == id {
			return f
		}
	}
	require.Failf(t, "no finding", "%s in %+v", id, rep.Findings)
	return analyze.Finding{}
}

// placement is where the persistent parties run, read by the test itself: node and zone of each.
type placement struct {
	perNode, perZone map[string]int
}

func (l *live) placement(t *testing.T, roleKey string) placement {
	t.Helper()
	ctx := t.Context()
	nodes, err := l.env.Cluster.Client.CoreV1().Nodes().List(ctx, metav1.ListOptions{})
	require.NoError(t, err)
	zone := map[string]string{}
	for _, n := range nodes.Items {
		zone[n.Name] = n.Labels[cluster.LabelZone]
	}
	pods, err := l.env.Cluster.Client.CoreV1().Pods(scenario.DemoNamespace).List(ctx, metav1.ListOptions{LabelSelector: roleKey + "=persistent"})
	require.NoError(t, err)
	p := placement{perNode: map[string]int{}, perZone: map[string]int{}}
	for _, pod := range pods.Items {
		if pod.DeletionTimestamp != nil {
			continue
		}
		require.NotEmpty(t, pod.Spec.NodeName, "party %s is scheduled", pod.Name)
		p.perNode[pod.Spec.NodeName]++
		p.perZone[zone[pod.Spec.NodeName]]++
	}
	t.Logf("persistent parties per node %v, per zone %v", p.perNode, p.perZone)
	return p
}

func most(m map[string]int) int {
	n := 0
	for _, v := range m {
		n = max(n, v)
	}
	return n
}

func TestAnalyzeClusterSeesTwoOfThreePartiesShareAZoneWhenFourNodesSpanTwoZones(t *testing.T) {
	l := install(t, 4, []string{"zone-a", "zone-b"}, nil)
	p := l.placement(t, "party-role")
	// Required anti-affinity puts the 3 parties on 3 of the 4 nodes; 2 zones cannot hold them one each.
	require.Len(t, p.perNode, 3)
	require.Equal(t, 2, most(p.perZone))

	rep, r := l.analyzeJSON(t)
	assert.Equal(t, 1, r.code, "a finding is at risk")
	assert.Contains(t, r.stderr, "t=2 from the mpcguard webhook in "+l.render)
	assert.Contains(t, r.stderr, "4 nodes, 3 persistent party pods in \"mpc-system\"")
	assert.Equal(t, 2, rep.T)
	require.Len(t, rep.Operators, 1)
	op := rep.Operators[0]
	assert.True(t, op.Live, "live placement")
	assert.Equal(t, 4, op.Nodes)
	assert.Equal(t, 3, op.Persistent)

	zone := finding(t, rep, analyze.ZoneLoss)
	assert.Equal(t, analyze.AtRisk, zone.Verdict, zone.Message)
	assert.Equal(t, map[string]int{"persistent": 3, "lost": 2, "remaining": 1, "t": 2}, zone.Numbers)
	node := finding(t, rep, analyze.NodeLoss)
	assert.Equal(t, analyze.OK, node.Verdict, node.Message)
	assert.Equal(t, map[string]int{"k": 1, "persistent": 3, "lost": 1, "remaining": 2, "t": 2}, node.Numbers)
	assert.Contains(t, node.Message, "as placed now: 3 persistent parties running on 3 nodes, at most 1 on one node, at most 2 in one of 2 zones")
	assert.Empty(t, rep.Notes, "the cluster runs the render's 3 persistent parties")
	pdb := finding(t, rep, analyze.PDBDrain)
	assert.Equal(t, "mpc-system/mpc-system-server-party", pdb.Subject)
	assert.Equal(t, 4, pdb.Numbers["nodes"], "the budget is judged on the cluster's schedulable nodes")
	assert.Contains(t, pdb.Message, "4 schedulable nodes leave room to reschedule a drained party")
	assert.Equal(t, analyze.OK, pdb.Verdict, "AlwaysAllow and a fourth node: no drain waits for ever (%s)", pdb.Message)
	assert.NotContains(t, pdb.Message, "unhealthyPodEvictionPolicy")

	text := run(t, l.bin, "analyze", "--cluster", "--kubeconfig", l.kubeconfig, l.render)
	assert.Equal(t, 1, text.code)
	assert.Contains(t, text.stdout, "render: 3 persistent, 1 delegate, 0 temporary parties; 4 schedulable nodes, live placement")
	assert.Contains(t, text.stdout, "AT-RISK  zone-loss: losing any 1 zone can take 2 of the 3 persistent parties, leaving 1 for t=2")

	// An identity without list on nodes gets exit 2, the refusal named.
	cfg, err := clientcmd.LoadFromFile(l.kubeconfig)
	require.NoError(t, err)
	for _, a := range cfg.AuthInfos {
		a.Impersonate = "nobody"
	}
	nobody := filepath.Join(t.TempDir(), "nobody.kubeconfig")
	require.NoError(t, clientcmd.WriteToFile(*cfg, nobody))
	denied := run(t, l.bin, "analyze", "--cluster", "--kubeconfig", nobody, l.render)
	assert.Equal(t, 2, denied.code)
	assert.Contains(t, denied.stderr, `analyze: listing the nodes of cluster`)
	assert.Contains(t, denied.stderr, `nodes is forbidden: User "nobody" cannot list resource "nodes"`)

	// Two nodes at once can take two parties.
	k2 := run(t, l.bin, "analyze", "--cluster", "--kubeconfig", l.kubeconfig, l.render, "--lose-nodes", "2")
	assert.Equal(t, 1, k2.code)
	assert.Contains(t, k2.stdout, "AT-RISK  nodes-loss: losing any 2 nodes can take 2 of the 3 persistent parties, leaving 1 for t=2")
}

func TestAnalyzeClusterFollowsAPartyThatMovesIntoAnotherPartysZone(t *testing.T) {
	// A role label key and party selector of the chart's own: the pods are listed with the webhook's.
	values := map[string]any{"global": map[string]any{"party": map[string]any{
		"roleLabelKey": "mpc.example.com/role", "selector": "mpc.example.com/party=true"}}}
	l := install(t, 3, []string{"zone-a", "zone-b", "zone-c"}, values)
	p := l.placement(t, "mpc.example.com/role")
	require.Equal(t, map[string]int{"zone-a": 1, "zone-b": 1, "zone-c": 1}, p.perZone, "three nodes in three zones, one party each")

	rep, r := l.analyzeJSON(t)
	assert.Equal(t, 1, r.code, "the budget is still at risk (no spare node)")
	assert.Equal(t, 3, rep.Operators[0].Persistent, "the parties are found by the chart's role label key and selector")
	zone := finding(t, rep, analyze.ZoneLoss)
	assert.Equal(t, analyze.OK, zone.Verdict, zone.Message)
	assert.Equal(t, map[string]int{"persistent": 3, "lost": 1, "remaining": 2, "t": 2}, zone.Numbers)
	assert.Equal(t, analyze.OK, finding(t, rep, analyze.NodeLoss).Verdict)
	pdb := finding(t, rep, analyze.PDBDrain)
	assert.Equal(t, analyze.AtRisk, pdb.Verdict)
	assert.Contains(t, pdb.Message, "with required anti-affinity and 3 schedulable nodes for 3 parties")
	assert.NotContains(t, pdb.Message, "unhealthyPodEvictionPolicy", "the chart sets AlwaysAllow")

	// A fourth node in zone-a; zone-b's node is cordoned and its party deleted: the StatefulSet brings it
	// back on the only node free of parties, in zone-a.
	ctx := t.Context()
	cs := l.env.Cluster.Client
	require.NoError(t, l.env.Cluster.AddNodes(ctx, 1, "zone-a"))
	var moved *corev1.Pod
	pods, err := cs.CoreV1().Pods(scenario.DemoNamespace).List(ctx, metav1.ListOptions{LabelSelector: "mpc.example.com/role=persistent"})
	require.NoError(t, err)
	for i := range pods.Items {
		if pods.Items[i].Spec.NodeName == "node-2" {
			moved = &pods.Items[i]
		}
	}
	require.NotNil(t, moved, "a party runs on node-2 (zone-b)")
	node, err := cs.CoreV1().Nodes().Get(ctx, "node-2", metav1.GetOptions{})
	require.NoError(t, err)
	node.Spec.Unschedulable = true
	_, err = cs.CoreV1().Nodes().Update(ctx, node, metav1.UpdateOptions{})
	require.NoError(t, err)
	require.NoError(t, cs.CoreV1().Pods(moved.Namespace).Delete(ctx, moved.Name, metav1.DeleteOptions{}))
	require.NoError(t, wait.PollUntilContextTimeout(ctx, 250*time.Millisecond, time.Minute, true, func(ctx context.Context) (bool, error) {
		pod, err := cs.CoreV1().Pods(moved.Namespace).Get(ctx, moved.Name, metav1.GetOptions{})
		if err != nil || pod.UID == moved.UID {
			return false, nil //nolint:nilerr // not recreated yet
		}
		return pod.Spec.NodeName != "", nil
	}), "party %s rescheduled", moved.Name)
	p = l.placement(t, "mpc.example.com/role")
	require.Equal(t, map[string]int{"zone-a": 2, "zone-c": 1}, p.perZone)
	require.Equal(t, 1, p.perNode["node-4"])

	rep, r = l.analyzeJSON(t)
	assert.Equal(t, 1, r.code)
	assert.Equal(t, 3, rep.Operators[0].Nodes, "4 nodes, one cordoned")
	zone = finding(t, rep, analyze.ZoneLoss)
	assert.Equal(t, analyze.AtRisk, zone.Verdict, zone.Message)
	assert.Equal(t, map[string]int{"persistent": 3, "lost": 2, "remaining": 1, "t": 2}, zone.Numbers)
	assert.Equal(t, analyze.OK, finding(t, rep, analyze.NodeLoss).Verdict)
}

func TestAnalyzeClusterThatCannotBeReachedExitsTwoNamingTheCluster(t *testing.T) {
	bin := os.Getenv("MPCGUARD_BIN")
	require.NotEmpty(t, bin, "set MPCGUARD_BIN to the mpcguard binary (make build; bin/mpcguard)")
	root, err := cluster.RepoRoot()
	require.NoError(t, err)
	render := filepath.Join(root, "cmd", "mpcguard", "testdata", "analyze", "render.yaml")
	// Nothing listens on this port.
	host := fmt.Sprintf("https://127.0.0.1:%d", ports.FreeT(t))
	kubeconfig := filepath.Join(t.TempDir(), "kubeconfig")
	require.NoError(t, os.WriteFile(kubeconfig, []byte(`apiVersion: v1
kind: Config
clusters: [{name: gone, cluster: {server: "`+host+`", insecure-skip-tls-verify: true}}]
users: [{name: u, user: {token: t}}]
contexts: [{name: gone, context: {cluster: gone, user: u}}]
current-context: gone
`), 0o600))
	r := run(t, bin, "analyze", "--cluster", "--kubeconfig", kubeconfig, render, "--timeout", "20s")
	assert.Equal(t, 2, r.code)
	assert.Empty(t, r.stdout, "no report from a cluster that was not read")
	assert.Contains(t, r.stderr, "analyze: listing the nodes of cluster "+host+" (context gone)")
	assert.Contains(t, r.stderr, "connection refused")

	missing := run(t, bin, "analyze", "--cluster", "--kubeconfig", filepath.Join(t.TempDir(), "none"), render)
	assert.Equal(t, 2, missing.code)
	assert.Contains(t, missing.stderr, "reading the kubeconfig")
}

// logWriter writes the environment's progress lines to the test log.
type logWriter struct{ t *testing.T }

func (w logWriter) Write(p []byte) (int, error) {
	w.t.Log(string(bytes.TrimRight(p, "\n")))
	return len(p), nil
}
