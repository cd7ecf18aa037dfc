package e2e

import (
	"context"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	appsv1 "k8s.io/api/apps/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/mpcguard/mpcguard/internal/api/v1alpha1"
	"github.com/mpcguard/mpcguard/policies/vocab"
	"github.com/mpcguard/mpcguard/test/cluster"
	"github.com/mpcguard/mpcguard/test/demo/scenario"
)

// `make demo` runs go run ./test/demo: here the same program, built, runs as a child process under this test's
// hold of the machine's real node, so that the host can be compared before and after.
func TestMakeDemoInstallsFromTheRegistryOnARealNodeShowsEveryScenarioAndLeavesTheHostAsItWas(t *testing.T) {
	require.NoError(t, cluster.CheckTools(cluster.BinDir(), scenario.InClusterTools...), "run make tools")
	require.NoError(t, cluster.CheckHostPackages())
	root, err := cluster.RepoRoot()
	require.NoError(t, err)
	ctx, cancel := context.WithTimeout(t.Context(), 25*time.Minute)
	defer cancel()
	bin := filepath.Join(t.TempDir(), "demo")
	build := exec.CommandContext(ctx, "go", "build", "-o", bin, "./test/demo")
	build.Dir = root
	out, err := build.CombinedOutput()
	require.NoError(t, err, "go build ./test/demo: %s", out)

	release, err := cluster.WaitForRealNode(ctx) // other packages' real nodes take turns with this one
	require.NoError(t, err)
	defer release()
	before := cluster.HostFootprint()

	start := time.Now()
	demo := exec.CommandContext(ctx, bin)
	demo.Dir = root
	demo.Env = append(os.Environ(), cluster.HeldEnv())
	var stdout, stderr strings.Builder
	demo.Stdout, demo.Stderr = &stdout, &stderr
	err = demo.Run()
	t.Logf("the demo took %s; its output:\n%s", time.Since(start).Round(time.Second), stdout.String())
	require.NoError(t, err, "the demo exits 0; its progress:\n%s", stderr.String())
	got := stdout.String()

	t.Run("it installs mpc-system from the local registry by digest and the webhook runs the pushed image in the cluster", func(t *testing.T) {
		assert.Regexp(t, `mpc-system is installed with helm from oci://127\.0\.0\.1:\d+/mpcguard/charts/mpc-system@sha256:[0-9a-f]{64}\n`+
			`in namespace mpc-system of a local cluster whose one node, real-node \(\S+\), runs real containers\.`, got)
		assert.Regexp(t, `The webhook runs in the cluster: 2 pods Ready on real-node, the kubelet ran `+
			`127\.0\.0\.1:\d+/mpcguard/mpcguard@sha256:[0-9a-f]{64}, the digest make publish pushed\.`, got)
		ran := regexp.MustCompile(`the kubelet ran (\S+), the digest`).FindStringSubmatch(got)
		pushed := regexp.MustCompile(`==> published in \S+: (\S+), chart`).FindStringSubmatch(stderr.String())
		if assert.Len(t, ran, 2) && assert.Len(t, pushed, 2, "the progress names the pushed image") {
			assert.Equal(t, pushed[1], ran[1], "the webhook pods run the image make publish pushed")
		}
		assert.Regexp(t, `The API server calls it through Service mpc-system/\S+ \(no webhook\.url\)\.`, got)
		assert.Contains(t, stderr.String(), "helm install mpc-system oci://127.0.0.1:", "the helm CLI installs from the registry")
	})

	t.Run("it shows the six scenarios in order, each as expected", func(t *testing.T) {
		var at []int
		for i, title := range []string{"1. Persistent parties", "2. What the coordinator's ServiceAccount may do",
			"3. A party pod without a role label", "4. An MPCSession with an empty composition",
			"5. An MPCSession whose delegates alone reach the threshold", "6. A valid MPCSession"} {
			idx := strings.Index(got, "\n"+title)
			require.GreaterOrEqual(t, idx, 0, "scenario %d %q is shown", i+1, title)
			at = append(at, idx)
		}
		assert.IsIncreasing(t, at)
		assert.NotContains(t, got, "UNEXPECTED")
		assert.Contains(t, got, "Every scenario came out as expected.")
	})

	t.Run("the persistent parties run on the real node and the coordinator discovers them from its pod", func(t *testing.T) {
		assert.Len(t, regexp.MustCompile(`(?m)^   mpc-system-\S+\s+persistent\s+real-node\s+zone-a\s+yes$`).FindAllString(got, -1), 3, got)
		assert.Regexp(t, `From inside its pod \(GET http://10\.245\.0\.\d+:8080/parties\): 3 persistent and 1 delegate parties Ready\n`+
			`\s+discovered with this ServiceAccount; listing secrets: forbidden\.`, got)
		assert.Regexp(t, `list pods in mpc-system\s+allowed`, got)
		assert.Regexp(t, `get secrets in mpc-system\s+denied`, got)
	})

	t.Run("the API server rejects with the policies' messages and the in-cluster webhook admits the valid session", func(t *testing.T) {
		// The chart's native policies (on by default) answer before the webhook, with the same messages; a valid
		// session is admitted only when the in-cluster webhook answers (its entry fails closed, and only it can
		// see the Ready persistent parties the session needs).
		assert.Regexp(t, `ValidatingAdmissionPolicy '\S+-party-role-required' with binding '\S+' denied request: \[party-role-required\] `+
			`Pod mpc-system/party-without-role: party pod \(app\.kubernetes\.io/component=mpc-party\) has no party-role label`, got)
		assert.Contains(t, got, "[session-composition-nonempty] MPCSession mpc-system/sign-empty: composition is present but empty")
		assert.Contains(t, got, "[session-delegate-only-threshold] MPCSession mpc-system/sign-41: 2 delegate + 0 temporary parties "+
			"could reach the signing threshold t=2 without a persistent party")
		assert.Contains(t, got, "admitted: mpcsession.mpc.mpcguard.io/sign-42 created")
	})

	t.Run("it leaves nothing running and the host as it was", func(t *testing.T) {
		assert.Contains(t, stderr.String(), "nothing left running")
		assert.Equal(t, before, cluster.HostFootprint(), "the host after the demo is as before it")
		dir := regexp.MustCompile(` -f (\S+)/values\.yaml `).FindStringSubmatch(stderr.String())
		if assert.Len(t, dir, 2, "the progress names the demo's directory") {
			_, err := os.Stat(dir[1])
			assert.ErrorIs(t, err, os.ErrNotExist, "the demo removed its directory %s", dir[1])
		}
		m := regexp.MustCompile(`make publish REGISTRY=(127\.0\.0\.1:\d+)`).FindStringSubmatch(stderr.String())
		require.Len(t, m, 2, "the demo's progress names its registry")
		conn, err := net.DialTimeout("tcp", m[1], time.Second)
		if err == nil {
			conn.Close()
		}
		assert.Error(t, err, "nothing listens at the registry's address %s any more", m[1])
	})
}

// The scenarios `make demo` shows, asserted on the shared cluster of fake nodes with the webhook a local process
// reached by URL. `make demo` itself runs them on one real node (TestMakeDemo… above); what one node cannot show,
// the persistent parties one per node and one per zone under the chart's required anti-affinity, is proven here.
func TestTheDemoScenariosHoldOnFifteenFakeNodesWithTheWebhookByURL(t *testing.T) {
	env := sharedEnv(t)
	ctx := t.Context()

	t.Run("the coordinator and every party are Ready after helm install --wait", func(t *testing.T) {
		pods, err := env.Pods(ctx, "app.kubernetes.io/instance="+env.Name)
		require.NoError(t, err)
		components := map[string]int{}
		for _, p := range pods {
			assert.True(t, p.Ready, "pod %s is Ready", p.Pod)
			components[p.Role]++
		}
		coordinators, err := env.Pods(ctx, scenario.ComponentLabel+"=coordinator")
		require.NoError(t, err)
		require.Len(t, coordinators, 1)
		assert.True(t, coordinators[0].Ready)
		assert.Equal(t, map[string]int{"": 1, vocab.RolePersistent: 3, vocab.RoleDelegate: 1}, components,
			"the coordinator, 3 persistent parties and 1 delegate")
	})

	t.Run("the real scheduler places the persistent parties one per node and one per zone", func(t *testing.T) {
		parties, err := env.Parties(ctx, vocab.RolePersistent)
		require.NoError(t, err)
		require.Len(t, parties, 3)
		nodes, zones := map[string]bool{}, map[string]bool{}
		for _, p := range parties {
			require.NotEmpty(t, p.Node, "%s is scheduled", p.Pod)
			nodes[p.Node], zones[p.Zone] = true, true
		}
		assert.Len(t, nodes, 3, "no node holds two persistent parties: %v", parties)
		assert.Len(t, zones, 3, "the zone spread puts one party in each zone: %v", parties)
	})

	t.Run("the coordinator's ServiceAccount may list pods but not read secrets", func(t *testing.T) {
		checks, err := env.CoordinatorAccess(ctx)
		require.NoError(t, err)
		got := map[string]bool{}
		for _, c := range checks {
			got[c.Verb+" "+c.Resource+" in "+c.Namespace] = c.Allowed
		}
		assert.Equal(t, map[string]bool{
			"list pods in mpc-system":    true,
			"watch pods in mpc-system":   true,
			"get secrets in mpc-system":  false,
			"list secrets in mpc-system": false,
			"list pods in kube-system":   false,
		}, got)
	})

	t.Run("the API server rejects an unlabelled party pod with the policy message", func(t *testing.T) {
		err := env.Client.Create(ctx, env.UnlabelledParty("no-role"))
		requireDenied(t, err, vocab.PartyRoleRequired)
		assert.Contains(t, err.Error(), `admission webhook "pods.mpcguard.io" denied the request: [party-role-required] `+
			"Pod mpc-system/no-role: party pod (app.kubernetes.io/component=mpc-party) has no party-role label")
	})

	t.Run("the API server rejects an MPCSession with an empty composition", func(t *testing.T) {
		err := env.Client.Create(ctx, env.Session("empty", 2, 3, &v1alpha1.Composition{}))
		requireDenied(t, err, vocab.SessionCompositionNonempty)
		assert.Contains(t, err.Error(), "MPCSession mpc-system/empty: composition is present but empty")
	})

	t.Run("the API server rejects an MPCSession whose delegates alone reach the threshold", func(t *testing.T) {
		err := env.Client.Create(ctx, env.Session("delegates", 2, 3, &v1alpha1.Composition{Persistent: 1, Delegate: 2}))
		requireDenied(t, err, vocab.SessionDelegateOnlyThreshold)
		assert.Contains(t, err.Error(), "2 delegate + 0 temporary parties could reach the signing threshold t=2 without a persistent party")
	})

	t.Run("the API server admits a valid MPCSession", func(t *testing.T) {
		s := env.Session("valid", 2, 3, &v1alpha1.Composition{Persistent: 2, Delegate: 1})
		require.NoError(t, env.Client.Create(ctx, s))
		var got v1alpha1.MPCSession
		require.NoError(t, env.Client.Get(ctx, client.ObjectKeyFromObject(s), &got))
		assert.Equal(t, int32(2), got.Spec.Composition.Persistent)
	})
}

func TestADeploymentWhosePodTemplateLacksTheRoleIsRejectedAtCreation(t *testing.T) {
	env := sharedEnv(t)
	labels := map[string]string{scenario.ComponentLabel: scenario.PartyComponent, "app.kubernetes.io/name": "extra-pool"}
	pod := env.UnlabelledParty("template")
	d := &appsv1.Deployment{
		ObjectMeta: pod.ObjectMeta,
		Spec: appsv1.DeploymentSpec{
			Selector: selector(labels),
			Template: template(labels, pod.Spec),
		},
	}
	d.Name, d.Labels = "extra-pool", labels
	err := env.Client.Create(t.Context(), d)
	requireDenied(t, err, vocab.WorkloadPartyRole)
	assert.Contains(t, err.Error(), "Deployment mpc-system/extra-pool: pod template matches the party selector "+
		"(app.kubernetes.io/component=mpc-party) but has no party-role label")

	var got appsv1.Deployment
	err = env.Client.Get(t.Context(), client.ObjectKeyFromObject(d), &got)
	assert.True(t, apierrors.IsNotFound(err), "nothing was stored, got %v", err)
}
