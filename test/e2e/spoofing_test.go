package e2e

import (
	"context"
	"maps"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/yaml"

	"github.com/mpcguard/mpcguard/policies/vocab"
	"github.com/mpcguard/mpcguard/test/demo/scenario"
)

// spoofNamespace holds a release with the seed preset's values (charts/mpc-system/ci/seed-values.yaml): its
// persistent parties keep their shares in a database whose URL is in a Secret, which its webhook is told
// about (--share-secret-names). The shared release's persistent pool keeps them in volume claims instead
// (--share-claim-prefixes).
const spoofNamespace = "mpc-spoof"

// A party pod's role is fixed when it is created: relabelling a delegate as persistent (so that a session
// counts it as a share holder) or dropping its role is an UPDATE the API server refuses.
func TestADelegatePartyPodCannotBeRelabelledPersistentNorLoseItsRole(t *testing.T) {
	env := sharedEnv(t)
	ctx := t.Context()
	pod := partyPod(env.Namespace, "spoof-delegate", vocab.RoleDelegate)
	require.NoError(t, env.Client.Create(ctx, pod), "a delegate party pod is admitted")
	t.Cleanup(func() { // the shared namespace's party counts are asserted by other tests
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		assert.NoError(t, client.IgnoreNotFound(env.Client.Delete(ctx, pod, client.GracePeriodSeconds(0))))
	})

	for name, tc := range map[string]struct {
		patch   client.Patch
		message string
	}{
		"relabelling it persistent": {
			patch:   client.RawPatch(types.MergePatchType, []byte(`{"metadata":{"labels":{"party-role":"persistent"}}}`)),
			message: `party-role cannot change from "delegate" to "persistent"`,
		},
		"removing its role": {
			patch:   client.RawPatch(types.JSONPatchType, []byte(`[{"op":"remove","path":"/metadata/labels/party-role"}]`)),
			message: `party-role "delegate" cannot be removed`,
		},
		"removing its role together with the party label, so it stops being a party pod": {
			patch: client.RawPatch(types.MergePatchType,
				[]byte(`{"metadata":{"labels":{"party-role":null,"app.kubernetes.io/component":null}}}`)),
			message: `party-role "delegate" cannot be removed`,
		},
	} {
		t.Run("the API server rejects "+name, func(t *testing.T) {
			err := env.Client.Patch(ctx, pod.DeepCopy(), tc.patch)
			requireDeniedBy(t, err, vocab.PartyRoleImmutable)
			t.Log(err)
			assert.Contains(t, err.Error(), "["+vocab.PartyRoleImmutable+"] Pod "+env.Namespace+"/spoof-delegate: "+tc.message)
		})
	}

	var got corev1.Pod
	require.NoError(t, env.Client.Get(ctx, client.ObjectKeyFromObject(pod), &got))
	assert.Equal(t, vocab.RoleDelegate, got.Labels[scenario.RoleLabel], "the stored pod is still a delegate")
	assert.Equal(t, scenario.PartyComponent, got.Labels[scenario.ComponentLabel])
}

// A delegate or temporary party with access to the persistent pool's share storage is a persistent party in
// disguise. The storage is what the chart gives its persistent pool: the volume claims of its
// volumeClaimTemplates (shared release) and the database Secret (seed preset). Only the persistent pool's own
// parties, created by its StatefulSet controller, hold it: a persistent pod that a user creates with the same
// storage is refused for where it comes from (party-persistent-origin). Every object is created with a
// server-side dry run: the whole admission chain runs, nothing is stored.
func TestDelegateAndTemporaryPartiesCannotMountThePersistentPoolsShareStorage(t *testing.T) {
	env := sharedEnv(t)
	ctx := t.Context()
	seed := seedRelease(t, env)

	claim := shareClaimOf(t, env, env.Release)
	claimVolume := corev1.Volume{Name: "shares", VolumeSource: corev1.VolumeSource{
		PersistentVolumeClaim: &corev1.PersistentVolumeClaimVolumeSource{ClaimName: claim}}}
	secret := shareSecretOf(t, env, seed)
	secretVolume := corev1.Volume{Name: "db", VolumeSource: corev1.VolumeSource{
		Secret: &corev1.SecretVolumeSource{SecretName: secret}}}
	projectedVolume := corev1.Volume{Name: "db", VolumeSource: corev1.VolumeSource{Projected: &corev1.ProjectedVolumeSource{
		Sources: []corev1.VolumeProjection{{Secret: &corev1.SecretProjection{LocalObjectReference: corev1.LocalObjectReference{Name: secret}}}}}}}

	cases := []struct {
		name      string
		namespace string
		role      string
		volume    corev1.Volume
		workload  bool
		policy    string
		mentions  string // what the denial names ("" = not checked)
	}{
		{"a delegate pod mounting the persistent pool's share claim", env.Namespace, vocab.RoleDelegate, claimVolume, false, vocab.DelegateNoShareStorage, "PersistentVolumeClaim " + claim},
		{"a temporary pod mounting the persistent pool's share claim", env.Namespace, vocab.RoleTemporary, claimVolume, false, vocab.DelegateNoShareStorage, "PersistentVolumeClaim " + claim},
		{"a Deployment whose delegate template mounts the share claim", env.Namespace, vocab.RoleDelegate, claimVolume, true, vocab.DelegateNoShareStorage, "PersistentVolumeClaim " + claim},
		{"a persistent pod that a user creates with the share claim", env.Namespace, vocab.RolePersistent, claimVolume, false, vocab.PartyPersistentOrigin, ""},
		{"a delegate pod mounting the database Secret", seed.Namespace, vocab.RoleDelegate, secretVolume, false, vocab.DelegateNoShareStorage, "Secret " + secret},
		{"a temporary pod mounting the database Secret through a projected volume", seed.Namespace, vocab.RoleTemporary, projectedVolume, false, vocab.DelegateNoShareStorage, "Secret " + secret},
		{"a Deployment whose delegate template mounts the database Secret", seed.Namespace, vocab.RoleDelegate, secretVolume, true, vocab.DelegateNoShareStorage, "Secret " + secret},
		{"a persistent pod that a user creates with the database Secret", seed.Namespace, vocab.RolePersistent, secretVolume, false, vocab.PartyPersistentOrigin, ""},
	}
	for _, tc := range cases {
		t.Run("the API server rejects "+tc.name, func(t *testing.T) {
			name := "spoof-" + tc.role
			pod := partyPod(tc.namespace, name, tc.role)
			pod.Spec.Volumes = append(pod.Spec.Volumes, tc.volume)
			pod.Spec.Containers[0].VolumeMounts = []corev1.VolumeMount{{Name: tc.volume.Name, MountPath: "/var/lib/mpc/shares"}}
			var obj client.Object = pod
			kind := "Pod"
			if tc.workload {
				podLabels := map[string]string{"app.kubernetes.io/name": name}
				maps.Copy(podLabels, pod.Labels)
				obj, kind = &appsv1.Deployment{ObjectMeta: pod.ObjectMeta, Spec: appsv1.DeploymentSpec{
					Selector: selector(map[string]string{"app.kubernetes.io/name": name}),
					Template: template(podLabels, pod.Spec),
				}}, "Deployment"
			}
			err := env.Client.Create(ctx, obj, client.DryRunAll)
			requireDeniedBy(t, err, tc.policy)
			t.Log(err)
			assert.Contains(t, err.Error(), "["+tc.policy+"] "+kind+" "+tc.namespace+"/"+name+": ")
			if tc.mentions != "" {
				assert.Contains(t, err.Error(), "("+tc.mentions+")")
			}
		})
	}

	t.Run("the persistent pools' own parties, created by their StatefulSet controllers, hold the shares and are Ready", func(t *testing.T) {
		for _, rel := range []*scenario.Release{env.Release, seed} {
			parties, err := rel.Parties(ctx, vocab.RolePersistent)
			require.NoError(t, err)
			require.Len(t, parties, 3, "release %s", rel.Name)
			for _, p := range parties {
				assert.True(t, p.Ready, "persistent party %s/%s is Ready", rel.Namespace, p.Pod)
			}
		}
		// shareClaimOf and shareSecretOf read the claim and the Secret from those parties and their pool.
	})

	// The seed preset's persistent parties read the Secret through an environment variable, not a volume: the
	// policy input counts env secretKeyRef and envFrom secretRef as well (policies/README.md).
	t.Run("the API server rejects a delegate pod reading the database Secret as the persistent pool does, through env", func(t *testing.T) {
		pod := partyPod(seed.Namespace, "spoof-env", vocab.RoleDelegate)
		pod.Spec.Containers[0].Env = []corev1.EnvVar{{Name: "DATABASE_URL", ValueFrom: &corev1.EnvVarSource{
			SecretKeyRef: &corev1.SecretKeySelector{LocalObjectReference: corev1.LocalObjectReference{Name: secret}, Key: "database-url"}}}}
		err := env.Client.Create(ctx, pod, client.DryRunAll)
		requireDeniedBy(t, err, vocab.DelegateNoShareStorage)
	})
}

// deploySeedRelease installs charts/mpc-system with ci/seed-values.yaml in spoofNamespace, its webhook a local
// process with the arguments the chart gives it (--share-secret-names among them). Tests get it from
// seedRelease, which installs it once.
func deploySeedRelease(env *scenario.Env) (*scenario.Release, error) {
	chart := filepath.Join(env.Charts, "mpc-system")
	data, err := os.ReadFile(filepath.Join(chart, "ci", "seed-values.yaml"))
	if err != nil {
		return nil, err
	}
	var values map[string]any
	if err := yaml.Unmarshal(data, &values); err != nil {
		return nil, err
	}
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	return env.Deploy(ctx, scenario.ReleaseOptions{Chart: chart, Name: "seed", Namespace: spoofNamespace,
		Values: values, Restricted: true})
}

// shareClaimOf is the share volume claim of the release's first persistent party, as the StatefulSet
// controller named it from the chart's volumeClaimTemplates.
func shareClaimOf(t *testing.T, env *scenario.Env, rel *scenario.Release) string {
	t.Helper()
	parties, err := rel.Parties(t.Context(), vocab.RolePersistent)
	require.NoError(t, err)
	require.NotEmpty(t, parties)
	var pod corev1.Pod
	require.NoError(t, env.Client.Get(t.Context(), client.ObjectKey{Namespace: rel.Namespace, Name: parties[0].Pod}, &pod))
	for _, v := range pod.Spec.Volumes {
		if v.PersistentVolumeClaim != nil {
			require.True(t, strings.HasPrefix(v.PersistentVolumeClaim.ClaimName, "shares-"+persistentPool+"-"),
				"the claim is the volumeClaimTemplate's: %s", v.PersistentVolumeClaim.ClaimName)
			return v.PersistentVolumeClaim.ClaimName
		}
	}
	t.Fatalf("persistent party %s mounts no volume claim", pod.Name)
	return ""
}

// shareSecretOf is the Secret the release's persistent pool reads its database URL from.
func shareSecretOf(t *testing.T, env *scenario.Env, rel *scenario.Release) string {
	t.Helper()
	var sets appsv1.StatefulSetList
	require.NoError(t, env.Client.List(t.Context(), &sets, client.InNamespace(rel.Namespace),
		client.MatchingLabels{scenario.RoleLabel: vocab.RolePersistent}))
	require.Len(t, sets.Items, 1, "one persistent pool")
	for _, c := range sets.Items[0].Spec.Template.Spec.Containers {
		for _, e := range c.Env {
			if e.ValueFrom != nil && e.ValueFrom.SecretKeyRef != nil {
				return e.ValueFrom.SecretKeyRef.Name
			}
		}
	}
	t.Fatalf("the persistent pool %s reads no Secret", sets.Items[0].Name)
	return ""
}

// partyPod is a party pod with a role whose spec the restricted Pod Security Standard admits.
func partyPod(namespace, name, role string) *corev1.Pod {
	return &corev1.Pod{
		ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: namespace,
			Labels: map[string]string{scenario.ComponentLabel: scenario.PartyComponent, scenario.RoleLabel: role}},
		Spec: scenario.RestrictedPodSpec("ghcr.io/mpcguard/mpc-server-party:0.1.0"),
	}
}

// requireDeniedBy checks that err is the API server relaying an mpcguard denial that names every policy id.
func requireDeniedBy(t *testing.T, err error, policyIDs ...string) {
	t.Helper()
	require.Error(t, err, "the API server should have rejected this")
	assert.True(t, apierrors.IsForbidden(err), "a webhook denial is Forbidden, got %v", err)
	assert.Contains(t, err.Error(), "denied the request: [")
	for _, id := range policyIDs {
		assert.Contains(t, err.Error(), "["+id+"]")
	}
}
