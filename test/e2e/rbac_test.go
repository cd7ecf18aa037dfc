package e2e

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"text/tabwriter"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"helm.sh/helm/v3/pkg/action"
	"helm.sh/helm/v3/pkg/releaseutil"
	appsv1 "k8s.io/api/apps/v1"
	authorizationv1 "k8s.io/api/authorization/v1"
	corev1 "k8s.io/api/core/v1"
	rbacv1 "k8s.io/api/rbac/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/rest"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/yaml"

	"github.com/mpcguard/mpcguard/policies/vocab"
	"github.com/mpcguard/mpcguard/test/demo/scenario"
)

// The release of the least-privilege test: mpc-system with its own in-cluster webhook (the shared env's
// webhook runs outside the cluster, so its release has no webhook ServiceAccount or Role), which also checks
// rbacWatched.
const (
	rbacNamespace = "mpc-rbac"
	rbacWatched   = "mpc-rbac-watched"
)

// access is one row of the least-privilege table: may subject's ServiceAccount do verb on resource in
// namespace ("" is cluster-wide)?
type access struct {
	subject, serviceAccount string
	verb, group, resource   string
	name                    string // one object, for a rule limited by resourceNames; "" for any
	namespace               string
	want, allowed           bool
}

func (a access) String() string {
	r := a.resource
	if a.group != "" {
		r += "." + a.group
	}
	if a.name != "" {
		r += "/" + a.name
	}
	return fmt.Sprintf("%s (%s) %s %s in %s", a.subject, a.serviceAccount, a.verb, r, cmp.Or(a.namespace, "(cluster-wide)"))
}

// Every ServiceAccount the mpc-system chart's pods run as, asked of the API server's RBAC authorizer
// (SubjectAccessReview as system:serviceaccount:NS:NAME, with the groups a token of it carries): each may do
// what its component needs and nothing else. Also: no wildcard in the chart's RBAC, and every pod the chart
// creates — the webhook's included, which the shared env does not run in the cluster — admitted under the
// restricted Pod Security Standard (the shared release's pods: TestTheRestrictedPodSecurityStandardAdmitsEveryChartPod).
func TestEveryServiceAccountOfTheChartMayDoWhatItsComponentNeedsAndNothingElse(t *testing.T) {
	env := sharedEnv(t)
	ctx := t.Context()
	if err := env.Client.Create(ctx, &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: rbacWatched}}); !apierrors.IsAlreadyExists(err) {
		require.NoError(t, err)
	}
	rel, err := env.DeployInCluster(ctx, scenario.ReleaseOptions{Chart: filepath.Join(env.Charts, "mpc-system"),
		Name: rbacNamespace, Namespace: rbacNamespace, Restricted: true,
		Values: map[string]any{"mpcguard": map[string]any{"webhook": map[string]any{"namespaces": []any{rbacWatched}}}}})
	require.NoError(t, err, "helm install %s charts/mpc-system with its in-cluster webhook", rbacNamespace)
	t.Cleanup(func() { // without --wait: the cluster is stopped soon after, the namespaces are not reused
		cfg, err := rel.Helm()
		if assert.NoError(t, err) {
			_, err = action.NewUninstall(cfg).Run(rel.Name)
			assert.NoError(t, err, "helm uninstall %s", rel.Name)
		}
	})

	accounts := serviceAccountsOf(t, ctx, env, rel)
	coordinator, err := rel.CoordinatorServiceAccount(ctx)
	require.NoError(t, err)
	require.Equal(t, coordinator, accounts["coordinator"], "the coordinator Deployment's account is its pods'")
	for _, subject := range []string{"coordinator", "persistent parties", "delegate parties", "webhook"} {
		require.NotEmpty(t, accounts[subject], "the release runs pods as %s", subject)
	}

	t.Run("every ServiceAccount the chart creates is one its pods run as", func(t *testing.T) {
		var created corev1.ServiceAccountList
		require.NoError(t, env.Client.List(ctx, &created, client.InNamespace(rel.Namespace),
			client.MatchingLabels{"app.kubernetes.io/instance": rel.Name}))
		require.NotEmpty(t, created.Items)
		used := map[string]bool{}
		for _, sa := range accounts {
			used[sa] = true
		}
		for _, sa := range created.Items {
			assert.True(t, used[sa.Name], "ServiceAccount %s is created but no pod of the release runs as it, so no row below checks it", sa.Name)
			assert.False(t, ptrTrue(sa.AutomountServiceAccountToken), "ServiceAccount %s does not mount its token by default", sa.Name)
		}
	})

	t.Run("party pods carry no API credentials at all", func(t *testing.T) {
		parties, err := rel.Parties(ctx, "")
		require.NoError(t, err)
		require.NotEmpty(t, parties)
		for _, p := range parties {
			var pod corev1.Pod
			require.NoError(t, env.Client.Get(ctx, client.ObjectKey{Namespace: rel.Namespace, Name: p.Pod}, &pod))
			require.NotNil(t, pod.Spec.AutomountServiceAccountToken, "party %s", p.Pod)
			assert.False(t, *pod.Spec.AutomountServiceAccountToken, "party %s mounts no token", p.Pod)
			for _, v := range pod.Spec.Volumes {
				assert.True(t, v.Projected == nil || !slices.ContainsFunc(v.Projected.Sources,
					func(s corev1.VolumeProjection) bool { return s.ServiceAccountToken != nil }),
					"party %s: volume %s projects a token", p.Pod, v.Name)
			}
		}
	})

	t.Run("the API server's RBAC allows each account exactly what its component needs", func(t *testing.T) {
		ns, other := rel.Namespace, env.Namespace
		rows := []access{}
		add := func(subject, verb, group, resource, namespace string, want bool) {
			rows = append(rows, access{subject: subject, serviceAccount: accounts[subject],
				verb: verb, group: group, resource: resource, namespace: namespace, want: want})
		}
		// The coordinator discovers party pods and their endpoints in its namespace, reads nothing else.
		add("coordinator", "list", "", "pods", ns, true)
		add("coordinator", "watch", "", "pods", ns, true)
		add("coordinator", "list", "discovery.k8s.io", "endpointslices", ns, true)
		add("coordinator", "get", "", "secrets", ns, false)
		add("coordinator", "list", "", "secrets", ns, false)
		add("coordinator", "create", "", "pods", ns, false)
		add("coordinator", "list", "", "pods", "", false)
		add("coordinator", "list", "", "pods", other, false)
		add("coordinator", "list", "", "pods", "kube-system", false)
		// Parties never call the API.
		for _, parties := range []string{"persistent parties", "delegate parties"} {
			add(parties, "list", "", "pods", ns, false)
			add(parties, "get", "", "secrets", ns, false)
			add(parties, "list", "discovery.k8s.io", "endpointslices", ns, false)
		}
		// The webhook's inventory watches pods in the namespaces it checks, and nothing else.
		for _, checked := range []string{ns, rbacWatched} {
			add("webhook", "list", "", "pods", checked, true)
			add("webhook", "watch", "", "pods", checked, true)
		}
		add("webhook", "list", "", "pods", other, false)
		add("webhook", "list", "", "pods", "", false)
		add("webhook", "get", "", "secrets", ns, false)
		add("webhook", "list", "", "secrets", rbacWatched, false)
		add("webhook", "create", "", "pods", ns, false)
		// The periodic audit lists what it audits in the checked namespaces, keeps its own Report there and its
		// Lease in the release namespace; it reads no secret and changes no other Report or Lease.
		named := func(subject, verb, group, resource, name, namespace string, want bool) {
			add(subject, verb, group, resource, namespace, want)
			rows[len(rows)-1].name = name
		}
		lease := rel.Name + "-mpcguard-webhook-audit"
		for _, checked := range []string{ns, rbacWatched} {
			for _, r := range [][2]string{{"", "persistentvolumeclaims"}, {"apps", "deployments"}, {"apps", "statefulsets"},
				{"apps", "replicasets"}, {"apps", "daemonsets"}, {"batch", "jobs"}, {"batch", "cronjobs"}, {vocab.SessionGroup, vocab.SessionResource}} {
				add("webhook", "list", r[0], r[1], checked, true)
			}
			add("webhook", "create", "openreports.io", "reports", checked, true)
			named("webhook", "update", "openreports.io", "reports", "mpcguard-audit", checked, true)
			named("webhook", "update", "openreports.io", "reports", "kyverno-report", checked, false)
			add("webhook", "delete", "openreports.io", "reports", checked, false)
		}
		add("webhook", "list", "apps", "deployments", other, false)
		add("webhook", "update", "apps", "deployments", ns, false)
		add("webhook", "list", "openreports.io", "reports", "", false)
		named("webhook", "update", "coordination.k8s.io", "leases", lease, ns, true)
		named("webhook", "get", "coordination.k8s.io", "leases", lease, ns, true)
		named("webhook", "update", "coordination.k8s.io", "leases", "kube-controller-manager", ns, false)
		add("webhook", "update", "coordination.k8s.io", "leases", "kube-system", false)
		// The certificate rotation (the chart's default webhook.certs.mode): its one Secret in the release
		// namespace and this release's one webhook configuration, by name; it creates and deletes neither.
		certs, vwc := rel.Name+"-mpcguard-webhook-certs", rel.Name+"-mpcguard-"+rel.Namespace
		for _, verb := range []string{"get", "list", "watch", "update"} {
			named("webhook", verb, "", "secrets", certs, ns, true)
			named("webhook", verb, "admissionregistration.k8s.io", "validatingwebhookconfigurations", vwc, "", true)
		}
		named("webhook", "update", "", "secrets", rel.Name+"-database", ns, false)
		named("webhook", "get", "", "secrets", certs, rbacWatched, false)
		add("webhook", "create", "", "secrets", ns, false)
		named("webhook", "delete", "", "secrets", certs, ns, false)
		named("webhook", "patch", "", "secrets", certs, ns, false)
		named("webhook", "update", "admissionregistration.k8s.io", "validatingwebhookconfigurations", "another-webhook", "", false)
		add("webhook", "list", "admissionregistration.k8s.io", "validatingwebhookconfigurations", "", false)
		add("webhook", "create", "admissionregistration.k8s.io", "validatingwebhookconfigurations", "", false)
		named("webhook", "delete", "admissionregistration.k8s.io", "validatingwebhookconfigurations", vwc, "", false)
		add("webhook", "update", "admissionregistration.k8s.io", "mutatingwebhookconfigurations", "", false)

		cfg := rest.CopyConfig(env.Cluster.Config)
		cfg.QPS, cfg.Burst = float32(len(rows)), len(rows) // the reviews at once, not at client-go's 5 per second
		reviews, err := kubernetes.NewForConfig(cfg)
		require.NoError(t, err)
		errs := make([]error, len(rows))
		var wg sync.WaitGroup
		for i := range rows {
			wg.Go(func() { rows[i].allowed, errs[i] = subjectAccessReview(ctx, reviews, rel.Namespace, rows[i]) })
		}
		wg.Wait()
		require.NoError(t, errors.Join(errs...))
		t.Logf("SubjectAccessReview, as system:serviceaccount:%s:<account> (groups system:serviceaccounts, "+
			"system:serviceaccounts:%[1]s, system:authenticated):\n%s", rel.Namespace, accessTable(rows))
		for _, r := range rows {
			assert.Equal(t, r.want, r.allowed, "%s", r)
		}
	})

	t.Run("the chart's RBAC has no wildcard and one cluster-wide rule, on its own webhook configuration", func(t *testing.T) {
		for _, r := range []*scenario.Release{env.Release, rel} {
			roles := rbacRolesOf(t, r)
			require.NotEmpty(t, roles, "release %s has Roles", r.Name)
			for _, role := range roles {
				var live rbacv1.Role // what the API server stores, not only what Helm rendered
				require.NoError(t, env.Client.Get(ctx, client.ObjectKeyFromObject(role), &live))
				require.NotEmpty(t, live.Rules)
				for _, rule := range live.Rules {
					for field, values := range map[string][]string{"verbs": rule.Verbs, "resources": rule.Resources,
						"apiGroups": rule.APIGroups, "resourceNames": rule.ResourceNames, "nonResourceURLs": rule.NonResourceURLs} {
						for _, v := range values {
							assert.NotContains(t, v, "*", "Role %s/%s of %s: %s", live.Namespace, live.Name, r.Name, field)
						}
					}
				}
			}
		}
	})

	t.Run("every pod of the release is admitted under the restricted Pod Security Standard", func(t *testing.T) {
		var ns corev1.Namespace
		require.NoError(t, env.Client.Get(ctx, client.ObjectKey{Name: rel.Namespace}, &ns))
		require.Equal(t, "restricted", ns.Labels["pod-security.kubernetes.io/enforce"])
		// helm install --wait returned: every workload has all its pods, so the API server admitted them.
		var deployments appsv1.DeploymentList
		require.NoError(t, env.Client.List(ctx, &deployments, client.InNamespace(rel.Namespace)))
		components := map[string]bool{}
		for _, d := range deployments.Items {
			assert.Equal(t, *d.Spec.Replicas, d.Status.ReadyReplicas, "Deployment %s", d.Name)
			components[d.Labels[scenario.ComponentLabel]] = true
		}
		assert.True(t, components["admission-webhook"], "the webhook runs in the cluster in this release: %v", components)
		var statefulSets appsv1.StatefulSetList
		require.NoError(t, env.Client.List(ctx, &statefulSets, client.InNamespace(rel.Namespace)))
		require.NotEmpty(t, statefulSets.Items)
		for _, s := range statefulSets.Items {
			assert.Equal(t, *s.Spec.Replicas, s.Status.ReadyReplicas, "StatefulSet %s", s.Name)
		}
		// helm test's pods, the webhook's among them, are not created at install: a server-side dry run puts
		// them through the same admission.
		cfg, err := rel.Helm()
		require.NoError(t, err)
		installed, err := action.NewGet(cfg).Run(rel.Name)
		require.NoError(t, err)
		var testPods int
		for _, h := range installed.Hooks {
			var pod corev1.Pod
			require.NoError(t, yaml.Unmarshal([]byte(h.Manifest), &pod))
			if pod.Kind != "Pod" {
				continue
			}
			testPods++
			pod.Namespace = cmp.Or(pod.Namespace, rel.Namespace)
			assert.NoError(t, env.Client.Create(ctx, &pod, client.DryRunAll), "helm test pod %s", pod.Name)
		}
		assert.Equal(t, 2, testPods, "the coordinator's and the webhook's helm test pods")
	})
}

// serviceAccountsOf maps the release's components (coordinator, persistent parties, delegate parties, webhook)
// to the ServiceAccount their pods run as (the API server sets "default" when the chart names none).
func serviceAccountsOf(t *testing.T, ctx context.Context, env *scenario.Env, rel *scenario.Release) map[string]string {
	t.Helper()
	var pods corev1.PodList
	require.NoError(t, env.Client.List(ctx, &pods, client.InNamespace(rel.Namespace),
		client.MatchingLabels{"app.kubernetes.io/instance": rel.Name}))
	out := map[string]string{}
	for _, p := range pods.Items {
		subject := p.Labels[scenario.ComponentLabel]
		switch subject {
		case scenario.PartyComponent:
			subject = p.Labels[scenario.RoleLabel] + " parties"
		case "admission-webhook":
			subject = "webhook"
		}
		if prev, ok := out[subject]; ok {
			require.Equal(t, prev, p.Spec.ServiceAccountName, "every pod of %s runs as one account", subject)
		}
		out[subject] = p.Spec.ServiceAccountName
	}
	require.Contains(t, out, vocab.RolePersistent+" parties")
	return out
}

// subjectAccessReview asks whether the row's ServiceAccount (in namespace saNamespace) may do the row's action.
func subjectAccessReview(ctx context.Context, c kubernetes.Interface, saNamespace string, r access) (bool, error) {
	review := &authorizationv1.SubjectAccessReview{Spec: authorizationv1.SubjectAccessReviewSpec{
		User:   fmt.Sprintf("system:serviceaccount:%s:%s", saNamespace, r.serviceAccount),
		Groups: []string{"system:serviceaccounts", "system:serviceaccounts:" + saNamespace, "system:authenticated"},
		ResourceAttributes: &authorizationv1.ResourceAttributes{
			Namespace: r.namespace, Verb: r.verb, Group: r.group, Resource: r.resource, Name: r.name},
	}}
	got, err := c.AuthorizationV1().SubjectAccessReviews().Create(ctx, review, metav1.CreateOptions{})
	if err != nil {
		return false, fmt.Errorf("SubjectAccessReview %s: %w", r, err)
	}
	return got.Status.Allowed, nil
}

func accessTable(rows []access) string {
	var b strings.Builder
	w := tabwriter.NewWriter(&b, 0, 0, 2, ' ', 0)
	fmt.Fprintln(w, "subject\taccount\tverb\tresource\tnamespace\tallowed")
	for _, r := range rows {
		res := r.resource
		if r.group != "" {
			res += "." + r.group
		}
		if r.name != "" {
			res += "/" + r.name
		}
		ns := cmp.Or(r.namespace, "(cluster-wide)")
		fmt.Fprintf(w, "%s\t%s\t%s\t%s\t%s\t%t\n", r.subject, r.serviceAccount, r.verb, res, ns, r.allowed)
	}
	_ = w.Flush()
	return b.String()
}

// rbacRolesOf decodes the RBAC objects of the release's manifest. The one ClusterRole allowed is the certificate
// rotation's, on the release's own ValidatingWebhookConfiguration by name; any other fails the test (the chart
// grants namespaced access otherwise).
func rbacRolesOf(t *testing.T, r *scenario.Release) []*rbacv1.Role {
	t.Helper()
	cfg, err := r.Helm()
	require.NoError(t, err)
	rel, err := action.NewGet(cfg).Run(r.Name)
	require.NoError(t, err)
	var roles []*rbacv1.Role
	var bindings int
	for _, doc := range releaseutil.SplitManifests(rel.Manifest) {
		var head metav1.TypeMeta
		require.NoError(t, yaml.Unmarshal([]byte(doc), &head))
		switch head.Kind {
		case "ClusterRole":
			var cr rbacv1.ClusterRole
			require.NoError(t, yaml.Unmarshal([]byte(doc), &cr))
			assert.Equal(t, []rbacv1.PolicyRule{{APIGroups: []string{"admissionregistration.k8s.io"},
				Resources: []string{"validatingwebhookconfigurations"}, ResourceNames: []string{r.Name + "-mpcguard-" + r.Namespace},
				Verbs: []string{"get", "list", "watch", "update"}}}, cr.Rules,
				"release %s: the ClusterRole %s is the certificate rotation's, on its own webhook configuration only", r.Name, cr.Name)
		case "ClusterRoleBinding":
			var crb rbacv1.ClusterRoleBinding
			require.NoError(t, yaml.Unmarshal([]byte(doc), &crb))
			for _, s := range crb.Subjects {
				assert.Equal(t, rbacv1.ServiceAccountKind, s.Kind, "ClusterRoleBinding %s binds ServiceAccounts only", crb.Name)
			}
		case "Role":
			role := &rbacv1.Role{}
			require.NoError(t, yaml.Unmarshal([]byte(doc), role))
			roles = append(roles, role)
		case "RoleBinding":
			var rb rbacv1.RoleBinding
			require.NoError(t, yaml.Unmarshal([]byte(doc), &rb))
			assert.Equal(t, "Role", rb.RoleRef.Kind, "RoleBinding %s binds a Role", rb.Name)
			for _, s := range rb.Subjects {
				assert.Equal(t, rbacv1.ServiceAccountKind, s.Kind, "RoleBinding %s binds ServiceAccounts only", rb.Name)
			}
			bindings++
		}
	}
	assert.Len(t, roles, bindings, "release %s: one RoleBinding per Role", r.Name)
	slices.SortFunc(roles, func(a, b *rbacv1.Role) int { return cmp.Compare(a.Namespace+a.Name, b.Namespace+b.Name) })
	return roles
}

func ptrTrue(b *bool) bool { return b != nil && *b }
