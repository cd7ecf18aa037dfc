package charts_test

import (
	"fmt"
	"slices"
	"sort"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	admissionv1 "k8s.io/api/admissionregistration/v1"
	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	policyv1 "k8s.io/api/policy/v1"
	rbacv1 "k8s.io/api/rbac/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/labels"
)

const (
	roleKey          = "party-role"
	poolLabel        = "mpc.mpcguard.io/pool"
	webhookComponent = "admission-webhook"
)

// workload is a pod template and where it comes from.
type workload struct {
	kind, name string
	selector   *metav1.LabelSelector
	template   corev1.PodTemplateSpec
}

func workloads(r *rendered) []workload {
	var out []workload
	for _, d := range objectsOf[*appsv1.Deployment](r) {
		out = append(out, workload{"Deployment", d.Name, d.Spec.Selector, d.Spec.Template})
	}
	for _, s := range objectsOf[*appsv1.StatefulSet](r) {
		out = append(out, workload{"StatefulSet", s.Name, s.Spec.Selector, s.Spec.Template})
	}
	return out
}

// podSpecs are every pod the chart creates: workload templates and bare pods (helm tests).
func podSpecs(r *rendered) map[string]corev1.PodSpec {
	out := map[string]corev1.PodSpec{}
	for _, w := range workloads(r) {
		out[w.kind+"/"+w.name] = w.template.Spec
	}
	for _, p := range objectsOf[*corev1.Pod](r) {
		out["Pod/"+p.Name] = p.Spec
	}
	return out
}

func selectorOf(t *testing.T, ls *metav1.LabelSelector) labels.Selector {
	t.Helper()
	require.NotNil(t, ls)
	sel, err := metav1.LabelSelectorAsSelector(ls)
	require.NoError(t, err)
	return sel
}

// partySelector parses the coordinator's MPC_PARTY_LABEL_SELECTOR.
func partySelector(t *testing.T, r *rendered) labels.Selector {
	t.Helper()
	sel, err := labels.Parse(coordinatorEnv(t, r)["MPC_PARTY_LABEL_SELECTOR"])
	require.NoError(t, err)
	return sel
}

func coordinator(t *testing.T, r *rendered) *appsv1.Deployment {
	t.Helper()
	for _, d := range objectsOf[*appsv1.Deployment](r) {
		if d.Spec.Template.Labels["app.kubernetes.io/component"] == "coordinator" {
			return d
		}
	}
	t.Fatal("no coordinator Deployment")
	return nil
}

func coordinatorEnv(t *testing.T, r *rendered) map[string]string {
	t.Helper()
	env := map[string]string{}
	for _, e := range coordinator(t, r).Spec.Template.Spec.Containers[0].Env {
		env[e.Name] = e.Value
		if e.ValueFrom != nil && e.ValueFrom.FieldRef != nil {
			env[e.Name] = "fieldRef:" + e.ValueFrom.FieldRef.FieldPath
		}
	}
	return env
}

func webhookDeployment(t *testing.T, r *rendered) *appsv1.Deployment {
	t.Helper()
	for _, d := range objectsOf[*appsv1.Deployment](r) {
		if d.Spec.Template.Labels["app.kubernetes.io/component"] == webhookComponent {
			return d
		}
	}
	t.Fatal("no webhook Deployment")
	return nil
}

// webhookArgs are the webhook container's --flag=value arguments.
func webhookArgs(t *testing.T, r *rendered) map[string]string {
	t.Helper()
	c := webhookDeployment(t, r).Spec.Template.Spec.Containers[0]
	require.Equal(t, "webhook", c.Args[0], "the container runs `mpcguard webhook`")
	args := map[string]string{}
	for _, a := range c.Args[1:] {
		k, v, ok := strings.Cut(strings.TrimPrefix(a, "--"), "=")
		require.True(t, ok, "argument %q is --flag=value", a)
		args[k] = v
	}
	return args
}

func partyWorkloads(t *testing.T, r *rendered) []workload {
	t.Helper()
	sel := partySelector(t, r)
	var out []workload
	for _, w := range workloads(r) {
		if sel.Matches(labels.Set(w.template.Labels)) {
			out = append(out, w)
		}
	}
	return out
}

// presetValues are the ci values files that describe whole systems.
var presetValues = []string{"default-values.yaml", "seed-values.yaml", "kms-13-values.yaml", "extra-namespaces-values.yaml"}

func TestPartyWorkloads(t *testing.T) {
	ch := loadChart(t, "mpc-system")
	ci := ciValues(t, "mpc-system")
	for _, file := range presetValues {
		t.Run(file, func(t *testing.T) {
			r := mustRender(t, ch, ci[file])
			parties := partyWorkloads(t, r)
			pools := r.values(t)["pools"].(map[string]any)
			require.Len(t, parties, len(pools), "every pool has one workload whose pods match the party selector")

			t.Run("every party pod template carries a valid role, persistent ones in a StatefulSet", func(t *testing.T) {
				for _, w := range parties {
					role := w.template.Labels[roleKey]
					require.Contains(t, []string{"persistent", "delegate", "temporary"}, role, "%s/%s", w.kind, w.name)
					if role == "persistent" {
						assert.Equal(t, "StatefulSet", w.kind, w.name)
					} else {
						assert.Equal(t, "Deployment", w.kind, w.name)
					}
				}
			})

			t.Run("the anti-affinity and spread selectors match exactly their own pool", func(t *testing.T) {
				all := workloads(r)
				for _, w := range parties {
					own := selectorOf(t, w.selector)
					var terms []*metav1.LabelSelector
					aa := w.template.Spec.Affinity.PodAntiAffinity
					require.NotNil(t, aa, "%s has pod anti-affinity", w.name)
					if w.template.Labels[roleKey] == "persistent" {
						require.Len(t, aa.RequiredDuringSchedulingIgnoredDuringExecution, 1, "persistent parties require distinct nodes")
						term := aa.RequiredDuringSchedulingIgnoredDuringExecution[0]
						assert.Equal(t, corev1.LabelHostname, term.TopologyKey)
						terms = append(terms, term.LabelSelector)
						require.Len(t, w.template.Spec.TopologySpreadConstraints, 1)
						tsc := w.template.Spec.TopologySpreadConstraints[0]
						assert.Equal(t, corev1.LabelTopologyZone, tsc.TopologyKey)
						terms = append(terms, tsc.LabelSelector)
					} else {
						assert.Empty(t, aa.RequiredDuringSchedulingIgnoredDuringExecution)
						require.Len(t, aa.PreferredDuringSchedulingIgnoredDuringExecution, 1, "delegates prefer distinct nodes")
						term := aa.PreferredDuringSchedulingIgnoredDuringExecution[0].PodAffinityTerm
						assert.Equal(t, corev1.LabelHostname, term.TopologyKey)
						terms = append(terms, term.LabelSelector)
					}
					for _, ls := range terms {
						sel := selectorOf(t, ls)
						assert.Equal(t, own.String(), sel.String(), "%s: the term selects what the workload selects", w.name)
						for _, other := range all {
							matches := sel.Matches(labels.Set(other.template.Labels))
							assert.Equal(t, other.name == w.name, matches, "%s's selector %s and the pods of %s", w.name, sel, other.name)
						}
					}
				}
			})
		})
	}
}

func TestCoordinator(t *testing.T) {
	ch := loadChart(t, "mpc-system")
	ci := ciValues(t, "mpc-system")
	for _, file := range presetValues {
		t.Run(file, func(t *testing.T) {
			r := mustRender(t, ch, ci[file])
			env := coordinatorEnv(t, r)

			t.Run("the coordinator discovers with the selector the webhook enforces", func(t *testing.T) {
				args := webhookArgs(t, r)
				assert.Equal(t, env["MPC_PARTY_LABEL_SELECTOR"], args["party-selector"])
				assert.Equal(t, env["MPC_PARTY_ROLE_LABEL_KEY"], args["role-label-key"])
				vwc := objectsOf[*admissionv1.ValidatingWebhookConfiguration](r)
				require.Len(t, vwc, 1)
				podHook := vwc[0].Webhooks[0]
				require.Equal(t, "pods.mpcguard.io", podHook.Name)
				require.Len(t, podHook.MatchConditions, 3)
				reqs, _ := partySelector(t, r).Requirements()
				for _, req := range reqs {
					assert.Contains(t, podHook.MatchConditions[1].Expression, fmt.Sprintf("%q", req.Key()),
						"a Binding setting a party selector label is sent")
				}
			})

			t.Run("the coordinator reads the seeds' environment", func(t *testing.T) {
				assert.Equal(t, "fieldRef:metadata.namespace", env["K8S_NAMESPACE"])
				sts := objectsOf[*appsv1.StatefulSet](r)
				require.Len(t, sts, 1)
				assert.Equal(t, sts[0].Spec.ServiceName, env["MPC_PARTY_SERVICE_NAME"])
				var headless *corev1.Service
				for _, s := range objectsOf[*corev1.Service](r) {
					if s.Name == env["MPC_PARTY_SERVICE_NAME"] {
						headless = s
					}
				}
				require.NotNil(t, headless, "the party Service exists")
				assert.Equal(t, corev1.ClusterIPNone, headless.Spec.ClusterIP)
				assert.True(t, selectorOf(t, &metav1.LabelSelector{MatchLabels: headless.Spec.Selector}).Matches(labels.Set(sts[0].Spec.Template.Labels)))
				party := sts[0].Spec.Template.Spec.Containers[0]
				assert.Equal(t, fmt.Sprint(party.Ports[0].ContainerPort), env["MPC_PARTY_GRPC_PORT"])
				assert.Equal(t, "grpc", party.Ports[0].Name)
				assert.NotEmpty(t, env["MPC_PARTY_DISCOVERY_INTERVAL"])
				c := coordinator(t, r).Spec.Template.Spec.Containers[0]
				for _, p := range []*corev1.Probe{c.StartupProbe, c.ReadinessProbe} {
					require.NotNil(t, p)
					require.NotNil(t, p.HTTPGet)
					assert.Equal(t, "/health", p.HTTPGet.Path)
					assert.Equal(t, "http", p.HTTPGet.Port.String())
				}
				assert.Equal(t, int32(8080), c.Ports[0].ContainerPort)
			})
		})
	}
}

func TestRBACIsExactAndNamespaced(t *testing.T) {
	verbs := []string{"get", "list", "watch"}
	discovery := []rbacv1.PolicyRule{
		{APIGroups: []string{""}, Resources: []string{"pods", "services"}, Verbs: verbs},
		{APIGroups: []string{"discovery.k8s.io"}, Resources: []string{"endpointslices"}, Verbs: verbs},
	}
	inventory := []rbacv1.PolicyRule{{APIGroups: []string{""}, Resources: []string{"pods"}, Verbs: verbs}}
	// The periodic audit: list the audited kinds, keep its own Report (create cannot be limited by name).
	list := []string{"list"}
	audit := []rbacv1.PolicyRule{
		{APIGroups: []string{""}, Resources: []string{"pods", "persistentvolumeclaims"}, Verbs: list},
		{APIGroups: []string{"apps"}, Resources: []string{"deployments", "statefulsets", "replicasets", "daemonsets"}, Verbs: list},
		{APIGroups: []string{"batch"}, Resources: []string{"jobs", "cronjobs"}, Verbs: list},
		{APIGroups: []string{"mpc.mpcguard.io"}, Resources: []string{"mpcsessions"}, Verbs: list},
		{APIGroups: []string{"openreports.io"}, Resources: []string{"reports"}, Verbs: []string{"create"}},
		{APIGroups: []string{"openreports.io"}, Resources: []string{"reports"}, Verbs: []string{"get", "update"}, ResourceNames: []string{"mpcguard-audit"}},
	}
	// Its Lease, in the release namespace only.
	lease := []rbacv1.PolicyRule{
		{APIGroups: []string{"coordination.k8s.io"}, Resources: []string{"leases"}, Verbs: []string{"create"}},
		{APIGroups: []string{"coordination.k8s.io"}, Resources: []string{"leases"}, Verbs: []string{"get", "update"},
			ResourceNames: []string{releaseName + "-mpcguard-webhook-audit"}},
	}
	// The certificate rotation: its one Secret, by name, in the release namespace; no create.
	certs := []rbacv1.PolicyRule{{APIGroups: []string{""}, Resources: []string{"secrets"},
		ResourceNames: []string{releaseName + "-mpcguard-webhook-certs"}, Verbs: []string{"get", "list", "watch", "update"}}}
	cases := map[string]struct {
		values     map[string]any
		namespaces []string
	}{
		"the release namespace alone by default": {nil, []string{releaseNamespace}},
		"one Role per extra namespace": {
			values("coordinator.discovery.namespaces", []any{"mpc-parties", "mpc-more"}, "mpcguard.webhook.namespaces", []any{"mpc-parties", "mpc-more"}),
			[]string{releaseNamespace, "mpc-parties", "mpc-more"},
		},
	}
	ch := loadChart(t, "mpc-system")
	for name, tc := range cases {
		t.Run(name, func(t *testing.T) {
			r := mustRender(t, ch, tc.values)
			roles := objectsOf[*rbacv1.Role](r)
			bindings := objectsOf[*rbacv1.RoleBinding](r)
			require.Len(t, roles, 3*len(tc.namespaces)+2, "a discovery, an inventory and an audit Role per namespace, the audit's Lease Role and the certificates' Role")
			require.Len(t, bindings, len(roles))
			coordSA := coordinator(t, r).Spec.Template.Spec.ServiceAccountName
			hookSA := webhookDeployment(t, r).Spec.Template.Spec.ServiceAccountName
			byNamespace := map[string][]string{}
			for _, role := range roles {
				byNamespace[role.Name] = append(byNamespace[role.Name], role.Namespace)
				switch {
				case strings.HasSuffix(role.Name, "-discovery"):
					assert.Equal(t, discovery, role.Rules, "discovery rules are exact")
				case strings.HasSuffix(role.Name, "-inventory"):
					assert.Equal(t, inventory, role.Rules, "inventory rules are exact")
				case strings.HasSuffix(role.Name, "-audit"):
					assert.Equal(t, audit, role.Rules, "audit rules are exact")
				case strings.HasSuffix(role.Name, "-audit-lease"):
					assert.Equal(t, lease, role.Rules, "the audit's Lease rules are exact")
					assert.Equal(t, releaseNamespace, role.Namespace, "the Lease Role is in the release namespace")
					continue
				case strings.HasSuffix(role.Name, "-certs"):
					assert.Equal(t, certs, role.Rules, "the certificates' rules are exact")
					assert.Equal(t, releaseNamespace, role.Namespace, "the certificates' Role is in the release namespace")
					continue
				default:
					t.Errorf("unexpected Role %s", role.Name)
				}
			}
			delete(byNamespace, releaseName+"-mpcguard-webhook-audit-lease")
			delete(byNamespace, releaseName+"-mpcguard-webhook-certs")
			for name, nss := range byNamespace {
				sort.Strings(nss)
				want := slices.Clone(tc.namespaces)
				sort.Strings(want)
				assert.Equal(t, want, nss, "Role %s", name)
			}
			for _, b := range bindings {
				require.Len(t, b.Subjects, 1)
				s := b.Subjects[0]
				assert.Equal(t, rbacv1.ServiceAccountKind, s.Kind)
				assert.Equal(t, releaseNamespace, s.Namespace)
				assert.Equal(t, "Role", b.RoleRef.Kind)
				assert.True(t, slices.ContainsFunc(roles, func(r *rbacv1.Role) bool { return r.Name == b.RoleRef.Name && r.Namespace == b.Namespace }),
					"RoleBinding %s/%s binds a Role of its namespace", b.Namespace, b.Name)
				if strings.HasSuffix(b.Name, "-discovery") {
					assert.Equal(t, coordSA, s.Name)
				} else {
					assert.Equal(t, hookSA, s.Name)
				}
			}
			assert.Equal(t, strings.Join(tc.namespaces, ","), webhookArgs(t, r)["namespaces"])
		})
	}
}

// allRenders renders both charts with every ci values file.
func allRenders(t *testing.T) map[string]*rendered {
	t.Helper()
	out := map[string]*rendered{}
	for _, name := range []string{"mpc-system", "mpcguard"} {
		ch := loadChart(t, name)
		for file, vals := range ciValues(t, name) {
			out[name+"/"+file] = mustRender(t, ch, vals)
		}
	}
	return out
}

// TestRBACHasNoWildcardAndWritesOnlyNamedObjects holds every render of every ci values file to the rules of
// least privilege: no wildcard; reads, but for the audit's Report and Lease and the certificate rotation's Secret
// and webhook configuration, each updated only by name; create only of a Report or Lease (create cannot be limited
// by name), never of a Secret; no patch or delete; one ClusterRole at most, the rotation's, on this release's one
// ValidatingWebhookConfiguration; Secrets only by name.
func TestRBACHasNoWildcardAndWritesOnlyNamedObjects(t *testing.T) {
	for name, r := range allRenders(t) {
		t.Run(name, func(t *testing.T) {
			var rules []rbacv1.PolicyRule
			for _, role := range objectsOf[*rbacv1.Role](r) {
				rules = append(rules, role.Rules...)
			}
			clusterRoles := objectsOf[*rbacv1.ClusterRole](r)
			vwcs := objectsOf[*admissionv1.ValidatingWebhookConfiguration](r)
			if len(clusterRoles) > 0 {
				require.Len(t, clusterRoles, 1, "the certificate rotation's ClusterRole alone")
				require.Len(t, vwcs, 1)
				assert.Equal(t, []rbacv1.PolicyRule{{APIGroups: []string{"admissionregistration.k8s.io"},
					Resources: []string{"validatingwebhookconfigurations"}, ResourceNames: []string{vwcs[0].Name},
					Verbs: []string{"get", "list", "watch", "update"}}}, clusterRoles[0].Rules,
					"ClusterRole %s: this release's webhook configuration only, by name", clusterRoles[0].Name)
				bindings := objectsOf[*rbacv1.ClusterRoleBinding](r)
				require.Len(t, bindings, 1)
				assert.Equal(t, clusterRoles[0].Name, bindings[0].RoleRef.Name)
				require.Len(t, bindings[0].Subjects, 1)
				assert.Equal(t, webhookDeployment(t, r).Spec.Template.Spec.ServiceAccountName, bindings[0].Subjects[0].Name)
				assert.Equal(t, releaseNamespace, bindings[0].Subjects[0].Namespace)
				assert.Equal(t, "rotate", webhookArgs(t, r)["cert-mode"], "only the rotation needs a ClusterRole")
			} else {
				assert.Empty(t, objectsOf[*rbacv1.ClusterRoleBinding](r))
			}
			for _, role := range clusterRoles {
				rules = append(rules, role.Rules...)
			}
			for _, rule := range rules {
				for _, list := range [][]string{rule.APIGroups, rule.Resources, rule.Verbs, rule.ResourceNames} {
					assert.NotContains(t, list, "*", "rule %v", rule)
				}
				assert.NotContains(t, rule.Verbs, "patch", "rule %v", rule)
				assert.NotContains(t, rule.Verbs, "delete", "rule %v", rule)
				if slices.Contains(rule.Resources, "secrets") {
					assert.Equal(t, []string{releaseName + "-mpcguard-webhook-certs"}, rule.ResourceNames, "Secrets only by name: %v", rule)
					assert.NotContains(t, rule.Verbs, "create", "no Secret is created: %v", rule)
				}
				writes := slices.DeleteFunc(slices.Clone(rule.Verbs), func(v string) bool { return slices.Contains([]string{"get", "list", "watch"}, v) })
				if len(writes) == 0 {
					continue
				}
				assert.Subset(t, []string{"create", "update"}, writes, "writes only by create and update: %v", rule)
				if slices.Contains(writes, "create") {
					assert.True(t, slices.Equal(rule.Resources, []string{"reports"}) && slices.Equal(rule.APIGroups, []string{"openreports.io"}) ||
						slices.Equal(rule.Resources, []string{"leases"}) && slices.Equal(rule.APIGroups, []string{"coordination.k8s.io"}),
						"creates only its Report or Lease: %v", rule)
				}
				if slices.Contains(writes, "update") {
					assert.NotEmpty(t, rule.ResourceNames, "updates only named objects: %v", rule)
				}
			}
		})
	}
}

func TestEveryPodIsRestricted(t *testing.T) {
	for name, r := range allRenders(t) {
		t.Run(name, func(t *testing.T) {
			pods := podSpecs(r)
			if name != "mpcguard/external-webhook-values.yaml" {
				require.NotEmpty(t, pods)
			}
			for id, spec := range pods {
				psc := spec.SecurityContext
				require.NotNil(t, psc, id)
				assert.True(t, psc.RunAsNonRoot != nil && *psc.RunAsNonRoot, "%s runs as non-root", id)
				require.NotNil(t, psc.SeccompProfile, id)
				assert.Equal(t, corev1.SeccompProfileTypeRuntimeDefault, psc.SeccompProfile.Type, id)
				assert.False(t, spec.HostNetwork || spec.HostPID || spec.HostIPC, "%s shares no host namespace", id)
				for _, v := range spec.Volumes {
					assert.Nil(t, v.HostPath, "%s mounts no host path", id)
				}
				for _, c := range append(slices.Clone(spec.InitContainers), spec.Containers...) {
					sc := c.SecurityContext
					require.NotNil(t, sc, "%s/%s", id, c.Name)
					assert.False(t, sc.AllowPrivilegeEscalation == nil || *sc.AllowPrivilegeEscalation, "%s/%s: no privilege escalation", id, c.Name)
					assert.False(t, sc.Privileged != nil && *sc.Privileged, "%s/%s", id, c.Name)
					require.NotNil(t, sc.Capabilities, "%s/%s", id, c.Name)
					assert.Equal(t, []corev1.Capability{"ALL"}, sc.Capabilities.Drop, "%s/%s drops ALL", id, c.Name)
					assert.Empty(t, sc.Capabilities.Add, "%s/%s", id, c.Name)
					assert.True(t, sc.ReadOnlyRootFilesystem != nil && *sc.ReadOnlyRootFilesystem, "%s/%s: read-only root", id, c.Name)
					for _, res := range []corev1.ResourceName{corev1.ResourceCPU, corev1.ResourceMemory} {
						assert.False(t, c.Resources.Requests.Name(res, "").IsZero(), "%s/%s requests %s", id, c.Name, res)
						assert.False(t, c.Resources.Limits.Name(res, "").IsZero(), "%s/%s limits %s", id, c.Name, res)
					}
					assert.False(t, strings.HasSuffix(c.Image, ":latest"), "%s/%s image %s", id, c.Name, c.Image)
					assert.Regexp(t, `^[^@\s]+(:[A-Za-z0-9_][A-Za-z0-9_.-]*|@sha256:[a-f0-9]{64})$`, c.Image, "%s/%s image is pinned", id, c.Name)
					assert.NotEqual(t, corev1.PullAlways, c.ImagePullPolicy, "%s/%s", id, c.Name)
				}
				callsAPI := strings.Contains(id, "coordinator") && !strings.HasPrefix(id, "Pod/") ||
					strings.Contains(id, "webhook") && !strings.HasPrefix(id, "Pod/")
				if !callsAPI {
					assert.True(t, spec.AutomountServiceAccountToken != nil && !*spec.AutomountServiceAccountToken,
						"%s does not call the API and mounts no token", id)
				}
			}
		})
	}
}

func TestPodDisruptionBudgetKeepsTPersistentParties(t *testing.T) {
	ch := loadChart(t, "mpc-system")
	for _, tn := range [][2]int{{1, 1}, {2, 3}, {3, 5}, {4, 4}, {5, 13}, {7, 9}} {
		tt, n := tn[0], tn[1]
		t.Run(fmt.Sprintf("%d-of-%d keeps %d of %d persistent parties", tt, n, tt, n), func(t *testing.T) {
			vals := values("threshold.t", tt, "threshold.n", n)
			vals["pools"] = map[string]any{"server-party": nil, "server-party-api": nil, "p": map[string]any{
				"role": "persistent", "replicas": n,
				"resources":    map[string]any{"requests": map[string]any{"cpu": "1", "memory": "1Gi"}, "limits": map[string]any{"cpu": "1", "memory": "1Gi"}},
				"shareStorage": map[string]any{"volumeClaim": map[string]any{"name": "shares", "size": "1Gi", "storageClassName": "", "mountPath": "/shares"}},
			}}
			vals["mpcguard"] = map[string]any{
				"shareStorage":        map[string]any{"claimPrefixes": []any{"shares-{{ .Release.Name }}-p-"}},
				"persistentWorkloads": []any{"{{ .Release.Name }}-p"},
				"threshold":           map[string]any{"t": tt}, // the t below which the webhook keeps the pool
			}
			r := mustRender(t, ch, vals)
			pdbs := objectsOf[*policyv1.PodDisruptionBudget](r)
			sts := objectsOf[*appsv1.StatefulSet](r)
			require.Len(t, sts, 1)
			var pdb *policyv1.PodDisruptionBudget
			for _, p := range pdbs {
				if selectorOf(t, p.Spec.Selector).Matches(labels.Set(sts[0].Spec.Template.Labels)) {
					require.Nil(t, pdb, "one PodDisruptionBudget covers the persistent pool")
					pdb = p
				}
			}
			require.NotNil(t, pdb)
			require.NotNil(t, pdb.Spec.MinAvailable)
			assert.Nil(t, pdb.Spec.MaxUnavailable)
			replicas := int(*sts[0].Spec.Replicas)
			minAvailable := pdb.Spec.MinAvailable.IntValue()
			assert.Equal(t, tt, minAvailable)
			allowed := replicas - minAvailable
			assert.Equal(t, n-tt, allowed, "evictions may take n-t parties")
			assert.GreaterOrEqual(t, replicas-allowed, tt, "after every allowed eviction t parties remain")
		})
	}
	t.Run("fewer persistent parties than t does not render", func(t *testing.T) {
		_, err := render(t, ch, values("threshold.t", 3, "threshold.n", 3, "pools", map[string]any{"server-party": nil, "server-party-api": nil, "p": map[string]any{
			"role": "persistent", "replicas": 2,
			"resources":    map[string]any{"requests": map[string]any{"cpu": "1", "memory": "1Gi"}, "limits": map[string]any{"cpu": "1", "memory": "1Gi"}},
			"shareStorage": map[string]any{"databaseSecret": map[string]any{"name": "db", "key": "url", "env": "DATABASE_URL"}},
		}}, "mpcguard.shareStorage.secretNames", []any{"db"}))
		require.ErrorContains(t, err, "mpc-system: pools.p.replicas: 2 persistent parties, fewer than threshold.t=3")
	})
}

func TestShareStorage(t *testing.T) {
	ch := loadChart(t, "mpc-system")
	ci := ciValues(t, "mpc-system")
	for _, file := range presetValues {
		t.Run(file, func(t *testing.T) {
			r := mustRender(t, ch, ci[file])
			args := webhookArgs(t, r)
			sts := objectsOf[*appsv1.StatefulSet](r)
			require.Len(t, sts, 1)
			var wantPrefixes, wantSecrets []string
			for _, vct := range sts[0].Spec.VolumeClaimTemplates {
				wantPrefixes = append(wantPrefixes, vct.Name+"-"+sts[0].Name+"-")
			}
			for _, e := range sts[0].Spec.Template.Spec.Containers[0].Env {
				if e.ValueFrom != nil && e.ValueFrom.SecretKeyRef != nil {
					wantSecrets = append(wantSecrets, e.ValueFrom.SecretKeyRef.Name)
				}
			}
			require.NotEmpty(t, append(wantPrefixes, wantSecrets...), "the persistent pool has share storage")
			assert.Equal(t, strings.Join(wantPrefixes, ","), args["share-claim-prefixes"], "the webhook guards the claims")
			assert.Equal(t, strings.Join(wantSecrets, ","), args["share-secret-names"], "the webhook guards the Secret")

			t.Run("delegates have no share storage and no database Secret", func(t *testing.T) {
				for _, w := range partyWorkloads(t, r) {
					if w.template.Labels[roleKey] == "persistent" {
						continue
					}
					spec := w.template.Spec
					for _, v := range spec.Volumes {
						assert.Nil(t, v.Secret, w.name)
						assert.Nil(t, v.PersistentVolumeClaim, w.name)
						assert.Nil(t, v.Projected, w.name)
					}
					for _, c := range spec.Containers {
						assert.Empty(t, c.EnvFrom, w.name)
						for _, e := range c.Env {
							assert.False(t, e.ValueFrom != nil && e.ValueFrom.SecretKeyRef != nil, "%s env %s", w.name, e.Name)
						}
					}
				}
			})
		})
	}
	t.Run("a renamed claim the webhook does not know does not render", func(t *testing.T) {
		_, err := render(t, ch, values("mpcguard.shareStorage.claimPrefixes", []any{"other-"}))
		require.ErrorContains(t, err, `mpcguard.shareStorage.claimPrefixes: must be exactly ["shares-mpc-system-server-party-"]`)
	})
}

func TestSelectorsFollowGlobalValues(t *testing.T) {
	r := mustRender(t, loadChart(t, "mpc-system"), values(
		"global.party.selector", "app.kubernetes.io/component=mpc-party,tier=signing",
		"global.party.roleLabelKey", "mpc.example.com/role"))
	args := webhookArgs(t, r)
	env := coordinatorEnv(t, r)
	assert.Equal(t, "app.kubernetes.io/component=mpc-party,tier=signing", env["MPC_PARTY_LABEL_SELECTOR"])
	assert.Equal(t, env["MPC_PARTY_LABEL_SELECTOR"], args["party-selector"], "the dependency takes global values, not its own defaults")
	assert.Equal(t, "mpc.example.com/role", args["role-label-key"])
	parties := partyWorkloads(t, r)
	require.Len(t, parties, 2)
	for _, w := range parties {
		assert.Contains(t, w.template.Labels, "mpc.example.com/role")
		assert.NotContains(t, w.template.Labels, roleKey)
	}
}

// A busy party must not be killed mid-session: liveness only connects (the kernel answers while the process
// lives, however busy) and tolerates minutes of silence; readiness asks /health and reacts in seconds;
// startup holds both off while the pod starts.
func TestProbesDifferSoABusyPartyIsNotKilled(t *testing.T) {
	ch := loadChart(t, "mpc-system")
	ci := ciValues(t, "mpc-system")
	window := func(p *corev1.Probe) int32 { return p.PeriodSeconds * p.FailureThreshold }
	for _, file := range presetValues {
		r := mustRender(t, ch, ci[file])
		for _, w := range workloads(r) {
			if strings.Contains(w.name, "mpcguard") {
				continue // the webhook's probes are the mpcguard chart's
			}
			c := w.template.Spec.Containers[0]
			t.Run(file+" "+w.name, func(t *testing.T) {
				require.NotNil(t, c.StartupProbe)
				require.NotNil(t, c.LivenessProbe)
				require.NotNil(t, c.ReadinessProbe)
				for _, p := range []*corev1.Probe{c.StartupProbe, c.ReadinessProbe} {
					require.NotNil(t, p.HTTPGet, "startup and readiness ask /health")
					assert.Equal(t, "/health", p.HTTPGet.Path)
					assert.Equal(t, "http", p.HTTPGet.Port.String())
				}
				require.NotNil(t, c.LivenessProbe.TCPSocket, "liveness only connects")
				assert.Nil(t, c.LivenessProbe.HTTPGet)
				assert.Equal(t, "http", c.LivenessProbe.TCPSocket.Port.String())
				assert.GreaterOrEqual(t, window(c.LivenessProbe), int32(120), "liveness waits two minutes of silence before a restart")
				assert.Greater(t, window(c.LivenessProbe), 4*window(c.ReadinessProbe), "readiness reacts long before liveness")
				assert.LessOrEqual(t, window(c.ReadinessProbe), int32(15), "a silent pod leaves its Services within 15s")
				assert.GreaterOrEqual(t, window(c.StartupProbe), int32(300), "five minutes to start")
				var names []string
				for _, p := range c.Ports {
					names = append(names, p.Name)
				}
				assert.Contains(t, names, "http")
			})
		}
	}
	t.Run("the timings are values", func(t *testing.T) {
		r := mustRender(t, ch, setValues(t, []string{"parties.probes.liveness.failureThreshold=30", "coordinator.probes.readiness.periodSeconds=2"}))
		assert.Equal(t, int32(30), podOf(t, r, persistent).Spec.Containers[0].LivenessProbe.FailureThreshold)
		assert.Equal(t, int32(30), podOf(t, r, delegate).Spec.Containers[0].LivenessProbe.FailureThreshold)
		assert.Equal(t, int32(2), coordinator(t, r).Spec.Template.Spec.Containers[0].ReadinessProbe.PeriodSeconds)
		_, err := render(t, ch, setValues(t, []string{"parties.probes.liveness.failureThreshold=0"}))
		assert.ErrorContains(t, err, "failureThreshold", "the schema refuses a probe that never fails")
	})
}

// A drain must not hang on a crash-looping pod: the party and webhook budgets let a pod that runs but is not
// Ready be evicted whatever the budget.
func TestPodDisruptionBudgetsEvictUnhealthyPods(t *testing.T) {
	ch := loadChart(t, "mpc-system")
	policy := func(r *rendered) map[string]string {
		out := map[string]string{}
		for _, p := range objectsOf[*policyv1.PodDisruptionBudget](r) {
			if p.Spec.UnhealthyPodEvictionPolicy == nil {
				out[p.Name] = ""
				continue
			}
			out[p.Name] = string(*p.Spec.UnhealthyPodEvictionPolicy)
		}
		return out
	}
	assert.Equal(t, map[string]string{persistent: "AlwaysAllow", webhook: "AlwaysAllow"}, policy(mustRender(t, ch, nil)))
	r := mustRender(t, ch, setValues(t, []string{"parties.podDisruptionBudget.unhealthyPodEvictionPolicy=IfHealthyBudget",
		"mpcguard.webhook.podDisruptionBudget.unhealthyPodEvictionPolicy=IfHealthyBudget"}))
	assert.Equal(t, map[string]string{persistent: "IfHealthyBudget", webhook: "IfHealthyBudget"}, policy(r))
	_, err := render(t, ch, setValues(t, []string{"parties.podDisruptionBudget.unhealthyPodEvictionPolicy=Never"}))
	assert.ErrorContains(t, err, "unhealthyPodEvictionPolicy")
}
