package e2e

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"os/exec"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/utils/ptr"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/mpcguard/mpcguard/internal/api/v1alpha1"
	"github.com/mpcguard/mpcguard/internal/audit"
	"github.com/mpcguard/mpcguard/policies/vocab"
	"github.com/mpcguard/mpcguard/test/demo/scenario"
)

// The audit scenario's namespace, release and the seeds' database Secret (server-party-deployment.yaml reads
// DATABASE_URL from mpc-secrets/database-url).
const (
	auditNamespace = "audit-seed"
	auditRelease   = "mpcguard-audit"
	seedSecret     = "mpc-secrets"
)

// auditSeedPod is a seed-style party pod in the audit namespace: app=mpc-server-party, the role label if role
// is set, and DATABASE_URL from the database Secret if db.
func auditSeedPod(name, role string, db bool) *corev1.Pod {
	pod := seedPod(name, role)
	pod.Namespace = auditNamespace
	if db {
		pod.Spec.Containers[0].Env = []corev1.EnvVar{{Name: "DATABASE_URL", ValueFrom: &corev1.EnvVarSource{
			SecretKeyRef: &corev1.SecretKeySelector{LocalObjectReference: corev1.LocalObjectReference{Name: seedSecret}, Key: "database-url"}}}}
	}
	return pod
}

// finding is one violation the audit must report: a policy id and the object it names.
type finding struct{ policy, object string }

func (f finding) String() string { return f.policy + " " + f.object }

// runAudit runs `mpcguard audit` on the local cluster and returns its stdout, stderr and exit code.
func runAudit(t *testing.T, env *scenario.Env, args ...string) (string, string, int) {
	t.Helper()
	ctx, cancel := context.WithTimeout(t.Context(), 2*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, env.Mpcguard, append([]string{"audit", "--kubeconfig", env.Cluster.Kubeconfig,
		"--namespaces", auditNamespace, "--party-selector", seedSelector, "--share-secret-names", seedSecret}, args...)...)
	var out, errOut bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errOut
	err := cmd.Run()
	code := 0
	if ee := (*exec.ExitError)(nil); errors.As(err, &ee) {
		code = ee.ExitCode()
	} else {
		require.NoError(t, err, "running mpcguard audit")
	}
	return out.String(), errOut.String(), code
}

// auditViolations reads mpcguard_audit_violations{namespace="audit-seed"} from the webhook's /metrics, summed
// by policy id.
func auditViolations(ctx context.Context, metricsURL string) (map[string]int, error) {
	body, err := scrape(ctx, metricsURL)
	if err != nil {
		return nil, err
	}
	line := regexp.MustCompile(`(?m)^mpcguard_audit_violations\{kind="([^"]*)",namespace="` + auditNamespace + `",policy="([^"]*)"\} ([0-9.e+]+)$`)
	out := map[string]int{}
	for _, m := range line.FindAllStringSubmatch(body, -1) {
		v, err := strconv.ParseFloat(m[3], 64)
		if err != nil {
			return nil, fmt.Errorf("metric value %q: %w", m[3], err)
		}
		out[m[2]] += int(v)
	}
	return out, nil
}

// scrape returns the text of a /metrics endpoint.
func scrape(ctx context.Context, metricsURL string) (string, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, metricsURL, nil)
	if err != nil {
		return "", err
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return "", fmt.Errorf("scraping %s: %w", metricsURL, err)
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	if err != nil {
		return "", fmt.Errorf("reading %s: %w", metricsURL, err)
	}
	return string(body), nil
}

// reportFindings reads the audit's Report in the namespace: its results as findings, and its summary.
func reportFindings(ctx context.Context, c client.Client) ([]finding, map[string]int64, error) {
	rep := &unstructured.Unstructured{}
	rep.SetGroupVersionKind(audit.ReportGVR.GroupVersion().WithKind("Report"))
	if err := c.Get(ctx, client.ObjectKey{Namespace: auditNamespace, Name: audit.ReportName}, rep); err != nil {
		return nil, nil, err
	}
	results, _, _ := unstructured.NestedSlice(rep.Object, "results")
	var out []finding
	for _, r := range results {
		m := r.(map[string]any)
		for _, res := range m["resources"].([]any) {
			ref := res.(map[string]any)
			out = append(out, finding{m["policy"].(string), fmt.Sprintf("%s %s/%s", ref["kind"], ref["namespace"], ref["name"])})
		}
	}
	summary, _, _ := unstructured.NestedMap(rep.Object, "summary")
	counts := map[string]int64{}
	for k, v := range summary {
		counts[k], _ = v.(int64)
	}
	return out, counts, nil
}

func TestAuditFindsTheSeedsPodsThatPredateMpcguardReportsThemAndIsCleanOnceTheyAreFixed(t *testing.T) {
	env := sharedEnv(t)
	ctx := t.Context()
	c := env.Client

	// A cluster as the seeds run it, before mpcguard: unlabelled party pods (the coordinator takes them for
	// persistent), some holding the database Secret, a delegate with it too, a pool whose template has no role,
	// a worker that is no party but reads the shares' database, and a session that delegates could sign alone.
	require.NoError(t, c.Create(ctx, &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: auditNamespace}}))
	require.NoError(t, c.Create(ctx, &corev1.Secret{ObjectMeta: metav1.ObjectMeta{Name: seedSecret, Namespace: auditNamespace},
		StringData: map[string]string{"database-url": "postgres://mpc@db/mpc"}}))
	worker := auditSeedPod("share-reader", "", true)
	worker.Labels = map[string]string{"app": "share-reader"}
	legacyPool := seedDeployment("mpc-server-party-legacy", "", 1)
	legacyPool.Namespace = auditNamespace
	session := &v1alpha1.MPCSession{ObjectMeta: metav1.ObjectMeta{Name: "sign-legacy", Namespace: auditNamespace},
		Spec: v1alpha1.MPCSessionSpec{Type: v1alpha1.SessionSign, Threshold: v1alpha1.Threshold{T: 2, N: 3},
			Composition: &v1alpha1.Composition{Persistent: 1, Delegate: 2}}}
	before := []client.Object{
		auditSeedPod("mpc-server-party-0", "", false),
		auditSeedPod("mpc-server-party-1", "", true),
		auditSeedPod("mpc-server-party-api-0", vocab.RoleDelegate, true),
		worker, legacyPool, session,
	}
	for _, obj := range before {
		require.NoError(t, c.Create(ctx, obj), "creating %T %s before mpcguard is installed", obj, obj.GetName())
	}
	var legacyRS appsv1.ReplicaSet
	var legacyPod corev1.Pod
	require.EventuallyWithT(t, func(ct *assert.CollectT) {
		var rss appsv1.ReplicaSetList
		require.NoError(ct, c.List(ctx, &rss, client.InNamespace(auditNamespace), client.MatchingLabels{"pool": legacyPool.Name}))
		require.Len(ct, rss.Items, 1)
		legacyRS = rss.Items[0]
		var pods corev1.PodList
		require.NoError(ct, c.List(ctx, &pods, client.InNamespace(auditNamespace), client.MatchingLabels{"pool": legacyPool.Name}))
		require.Len(ct, pods.Items, 1)
		legacyPod = pods.Items[0]
	}, time.Minute, 250*time.Millisecond, "the legacy pool's ReplicaSet and pod")

	want := []finding{
		{vocab.PartyRoleRequired, "Pod audit-seed/mpc-server-party-0"},
		{vocab.PartyRoleRequired, "Pod audit-seed/mpc-server-party-1"},
		{vocab.PartyRoleRequired, "Pod audit-seed/" + legacyPod.Name},
		{vocab.DelegateNoShareStorage, "Pod audit-seed/mpc-server-party-api-0"},
		{vocab.ShareStoragePersistentOnly, "Pod audit-seed/share-reader"},
		{vocab.WorkloadPartyRole, "Deployment audit-seed/" + legacyPool.Name},
		{vocab.WorkloadPartyRole, "ReplicaSet audit-seed/" + legacyRS.Name},
		{vocab.SessionDelegateOnlyThreshold, "MPCSession audit-seed/sign-legacy"},
		// The live inventory: the namespace has no Ready persistent party for the session's one.
		{vocab.SessionPersistentAvailable, "MPCSession audit-seed/sign-legacy"},
	}

	// mpcguard installed with every policy warning, the seeds' selector and database Secret, auditing every 3s.
	warnAll := map[string]any{}
	for _, id := range vocab.PolicyIDs() {
		warnAll[id] = "warn"
	}
	values := func(enforcement map[string]any) map[string]any {
		return map[string]any{
			"global":       map[string]any{"party": map[string]any{"selector": seedSelector}},
			"shareStorage": map[string]any{"secretNames": []any{seedSecret}},
			"webhook":      map[string]any{"enforcement": enforcement, "audit": map[string]any{"interval": "3s"}},
		}
	}
	rel, err := env.Deploy(ctx, scenario.ReleaseOptions{Chart: env.Charts + "/mpcguard", Name: auditRelease,
		Namespace: auditNamespace, Values: values(warnAll)})
	require.NoError(t, err, "helm install mpcguard with enforcement warn")
	t.Cleanup(func() { assert.NoError(t, rel.Uninstall(context.WithoutCancel(ctx))) })

	t.Run("mpcguard audit lists every object that breaks a policy, by policy id and name, and exits 1", func(t *testing.T) {
		out, errOut, code := runAudit(t, env)
		t.Logf("mpcguard audit --namespaces %s:\n%s%s", auditNamespace, out, errOut)
		assert.Equal(t, 1, code, "denials exit 1")
		for _, f := range want {
			assert.Contains(t, out, f.String()+": ", "the audit should list %s", f)
		}
		assert.Len(t, strings.Split(strings.TrimSpace(out), "\n"), len(want), "one line per violation, no more")
		assert.Contains(t, errOut, "auditing cluster https://127.0.0.1:")
	})

	t.Run("the periodic audit's Report shows each of them as warn, and its metric counts them", func(t *testing.T) {
		require.EventuallyWithT(t, func(ct *assert.CollectT) {
			got, summary, err := reportFindings(ctx, c)
			require.NoError(ct, err, "the Report %s/%s", auditNamespace, audit.ReportName)
			assert.ElementsMatch(ct, want, got)
			assert.EqualValues(ct, len(want), summary["warn"], "enforcement warn: every result is a warn")
			assert.EqualValues(ct, 0, summary["fail"])
		}, time.Minute, 500*time.Millisecond)
		perPolicy := map[string]int{}
		for _, f := range want {
			perPolicy[f.policy]++
		}
		require.EventuallyWithT(t, func(ct *assert.CollectT) {
			got, err := auditViolations(ctx, rel.Webhook.MetricsURL)
			require.NoError(ct, err)
			assert.Equal(ct, perPolicy, got)
		}, 30*time.Second, 500*time.Millisecond)
		body, err := scrape(ctx, rel.Webhook.MetricsURL)
		require.NoError(t, err)
		var audits []string
		for _, l := range strings.Split(body, "\n") {
			if strings.HasPrefix(l, "mpcguard_audit_") {
				audits = append(audits, l)
			}
		}
		t.Logf("the webhook's audit metrics:\n%s", strings.Join(audits, "\n"))
	})

	// The fix: the unlabelled pod that holds nothing becomes a delegate; what held the database or could not
	// be fixed in place goes.
	patch := client.MergeFrom(before[0].DeepCopyObject().(client.Object))
	before[0].SetLabels(map[string]string{"app": "mpc-server-party", vocab.DefaultRoleLabelKey: vocab.RoleDelegate})
	require.NoError(t, c.Patch(ctx, before[0], patch), "labelling mpc-server-party-0 delegate")
	for _, obj := range before[1:] {
		require.NoError(t, c.Delete(ctx, obj, client.PropagationPolicy(metav1.DeletePropagationForeground)), "deleting %s", obj.GetName())
	}

	t.Run("once fixed, the audit is clean: exit 0, an empty Report and zero in the metric", func(t *testing.T) {
		require.EventuallyWithT(t, func(ct *assert.CollectT) {
			out, errOut, code := runAudit(t, env)
			assert.Equal(ct, 0, code, "stdout:\n%s\nstderr:\n%s", out, errOut)
			assert.Empty(ct, strings.TrimSpace(out))
		}, time.Minute, time.Second)
		require.EventuallyWithT(t, func(ct *assert.CollectT) {
			got, summary, err := reportFindings(ctx, c)
			require.NoError(ct, err)
			assert.Empty(ct, got)
			assert.EqualValues(ct, 0, summary["warn"]+summary["fail"])
			counts, err := auditViolations(ctx, rel.Webhook.MetricsURL)
			require.NoError(ct, err)
			for policy, n := range counts {
				assert.Zero(ct, n, "mpcguard_audit_violations for %s", policy)
			}
		}, time.Minute, 500*time.Millisecond)
		out, errOut, _ := runAudit(t, env)
		t.Logf("mpcguard audit --namespaces %s after the fix:\n%s%s", auditNamespace, out, errOut)
	})

	_, err = rel.Upgrade(ctx, values(map[string]any{}))
	require.NoError(t, err, "helm upgrade to deny (the default enforcement)")

	t.Run("switched to deny, a new unlabelled seed party pod is denied", func(t *testing.T) {
		require.EventuallyWithT(t, func(ct *assert.CollectT) { // the API server reloads webhook configurations asynchronously
			err := c.Create(ctx, auditSeedPod("mpc-server-party-9", "", false))
			if assert.Error(ct, err) {
				assert.Contains(ct, err.Error(), "denied the request: ["+vocab.PartyRoleRequired+"] Pod audit-seed/mpc-server-party-9")
			}
		}, 30*time.Second, 250*time.Millisecond)
		requireDenied(t, c.Create(ctx, &appsv1.Deployment{
			ObjectMeta: metav1.ObjectMeta{Name: "mpc-server-party-new", Namespace: auditNamespace},
			Spec: appsv1.DeploymentSpec{Replicas: ptr.To[int32](1), Selector: legacyPool.Spec.Selector,
				Template: legacyPool.Spec.Template},
		}), vocab.WorkloadPartyRole)
	})
}
