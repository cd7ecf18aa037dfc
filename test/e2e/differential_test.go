package e2e

import (
	"bytes"
	"context"
	"crypto/tls"
	"crypto/x509"
	"encoding/json"
	"errors"
	"fmt"
	"maps"
	"math/rand/v2"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	admissionv1 "k8s.io/api/admission/v1"
	appsv1 "k8s.io/api/apps/v1"
	authenticationv1 "k8s.io/api/authentication/v1"
	batchv1 "k8s.io/api/batch/v1"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/client-go/dynamic"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/rest"
	"k8s.io/utils/ptr"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"helm.sh/helm/v3/pkg/chart/loader"

	"github.com/mpcguard/mpcguard/policies/vocab"
	"github.com/mpcguard/mpcguard/test/cluster"
	"github.com/mpcguard/mpcguard/test/demo/scenario"
)

// The three-way differential test (issue 10): objects nobody wrote by hand, generated from a seed (logged;
// MPCGUARD_DIFF_SEED replays a run), each sent through `mpcguard validate -o json`, through a
// `mpcguard webhook --inventory=false` process of this test, and through the real API server (server-side
// dry-run create, with kubectl's strict field validation), whose chart-rendered ValidatingWebhookConfiguration
// sends it to the release's own webhook. Three releases are targeted, each with the policy flags its chart
// renders for its webhook: the shared mpc-system (shares in the persistent pool's claims), the seed preset
// (shares in a Secret) and the mpcguard chart alone in a namespace without Pod Security enforcement (any
// StatefulSet may run persistent parties; no share storage named). The webhook process is sent the
// AdmissionReview the API server sends, userInfo included: the test's client (the cluster's administrator) or,
// for some pods, the StatefulSet controller's ServiceAccount, impersonated; a SelfSubjectReview gives each.
//
// All three roads must give the same allow or deny with the same set of denying policy ids. The differences
// allowed are the documented ones, each counted and asserted:
//
//   - validate has no requesting user: party-persistent-origin's creator check is reported as skipped there,
//     and the webhook and the API server deny by it exactly when the sender is not one of --controller-users;
//   - session-persistent-available needs the cluster inventory, which validate and an --inventory=false
//     webhook do not have: it is left out of every side's set of ids (the API server's denials by it are
//     counted);
//   - the API server refuses some objects before admission. A session its CRD schema (422) or strict field
//     validation (400: a key in the wrong case) refuses must be denied by validate and the webhook as well, by
//     session-spec-valid (or session-threshold-range for t or n below 1). A role label whose value is no valid
//     label value (422) must be denied by them on a party pod or template (party-role-valid,
//     workload-party-role), and is otherwise left out, as is a pod with a hostPath volume in a namespace that
//     enforces the restricted Pod Security Standard (403). Left-out objects are still compared between
//     validate and the webhook.
//
// A subtest shows the comparison can fail: a webhook given another --share-claim-prefixes than validate is
// caught disagreeing on the objects that reach share claims, and only on those.

// diffSeedEnv overrides the generator's seed.
const diffSeedEnv = "MPCGUARD_DIFF_SEED"

// diffDefaultSeed is the seed of a run without diffSeedEnv.
const diffDefaultSeed = 20260511

// diffController is the identity some pods are sent as (by impersonation): the StatefulSet controller's.
const diffController = "system:serviceaccount:kube-system:statefulset-controller"

// diffNameLabel ties a generated workload's selector to its pod template.
const diffNameLabel = "diff.mpcguard.io/name"

// diffPolicyFlags are the flags of `mpcguard webhook` that validate shares (cmd/mpcguard/policyflags.go).
var diffPolicyFlags = []string{"--role-label-key", "--party-selector", "--enforcement", "--share-secret-names",
	"--share-claim-prefixes", "--persistent-workloads", "--controller-users", "--break-glass-groups", "--threshold-t", "--policy-dir"}

// diffWebhookOnlyFlags are the chart's webhook flags that are no policy configuration: the inventory and the
// periodic audit.
var diffWebhookOnlyFlags = []string{"--inventory", "--namespaces", "--kubeconfig",
	"--audit-interval", "--audit-lease-namespace", "--audit-lease-name", "--audit-reports"}

// diffTarget is a release whose webhook the API server calls for objects of its namespace.
type diffTarget struct {
	name       string // the release
	namespace  string
	restricted bool // the namespace enforces the restricted Pod Security Standard
	count      int  // objects to generate
	args       []string

	roleKey         string
	selector        map[string]string
	claimPrefixes   []string
	secretNames     []string
	persistentSets  []string
	controllerUsers []string
}

// flagValues is the comma-separated value of --flag in args ("" and absent are none).
func flagValues(args []string, flag string) ([]string, bool) {
	for _, a := range args {
		name, value, ok := strings.Cut(a, "=")
		if ok && name == flag {
			var out []string
			for v := range strings.SplitSeq(value, ",") {
				if v = strings.TrimSpace(v); v != "" {
					out = append(out, v)
				}
			}
			return out, true
		}
	}
	return nil, false
}

// newDiffTarget reads the policy flags the chart renders for the release's webhook (the same function that
// started the release's webhook process), checks them against that process's command line where /proc shows
// it, and keeps the policy flags, which validate and the test's own webhook are then given.
func newDiffTarget(t *testing.T, env *scenario.Env, rel *scenario.Release, count int) *diffTarget {
	t.Helper()
	var ns corev1.Namespace
	require.NoError(t, env.Client.Get(t.Context(), client.ObjectKey{Name: rel.Namespace}, &ns))
	restricted := ns.Labels["pod-security.kubernetes.io/enforce"] == "restricted"
	chrt, err := loader.Load(rel.Chart)
	require.NoError(t, err)
	rendered, err := scenario.ChartWebhookArgs(t.Context(), chrt, rel.Values, rel.Name, rel.Namespace)
	require.NoError(t, err, "the chart's webhook arguments for release %s", rel.Name)
	var args []string
	for _, a := range rendered {
		name, _, _ := strings.Cut(a, "=")
		switch {
		case slices.Contains(diffPolicyFlags, name):
			args = append(args, a)
		case slices.Contains(diffWebhookOnlyFlags, name):
		default:
			t.Fatalf("the chart renders webhook flag %q, which this test does not know to be a policy flag or not", a)
		}
	}
	if rel.Webhook != nil {
		if cmdline, err := os.ReadFile(fmt.Sprintf("/proc/%d/cmdline", rel.Webhook.Pid())); err == nil {
			running := strings.Split(strings.TrimRight(string(cmdline), "\x00"), "\x00")
			for _, a := range args {
				require.Contains(t, running, a, "the release's running webhook has the chart's flag")
			}
		}
	}
	tg := &diffTarget{name: rel.Name, namespace: rel.Namespace, restricted: restricted, count: count, args: args,
		roleKey: vocab.DefaultRoleLabelKey, selector: map[string]string{}}
	if v, ok := flagValues(args, "--role-label-key"); ok && len(v) == 1 {
		tg.roleKey = v[0]
	}
	sel := vocab.DefaultPartySelector
	for _, a := range args {
		if v, ok := strings.CutPrefix(a, "--party-selector="); ok {
			sel = v
		}
	}
	for pair := range strings.SplitSeq(sel, ",") {
		k, v, ok := strings.Cut(pair, "=")
		require.True(t, ok, "party selector %q", sel)
		tg.selector[strings.TrimSpace(k)] = strings.TrimSpace(v)
	}
	tg.claimPrefixes, _ = flagValues(args, "--share-claim-prefixes")
	tg.secretNames, _ = flagValues(args, "--share-secret-names")
	tg.persistentSets, _ = flagValues(args, "--persistent-workloads")
	tg.controllerUsers = vocab.DefaultControllerUsers
	if v, ok := flagValues(args, "--controller-users"); ok {
		tg.controllerUsers = v
	}
	return tg
}

// diffIdentity is who sends an object: its client configuration and the userInfo the API server gives the
// webhook for it, as a SelfSubjectReview tells.
type diffIdentity struct {
	name string
	cfg  *rest.Config
	dyn  dynamic.Interface
	user authenticationv1.UserInfo
}

func newDiffIdentity(t *testing.T, env *scenario.Env, impersonate string) *diffIdentity {
	t.Helper()
	cfg := rest.CopyConfig(env.Cluster.Config)
	cfg.QPS, cfg.Burst = 200, 400
	cfg.WarningHandler = rest.NoWarnings{} // Pod Security's warnings on workloads with hostPath
	name := "the test's client"
	if impersonate != "" {
		cfg.Impersonate = rest.ImpersonationConfig{UserName: impersonate}
		name = impersonate + " (impersonated)"
	}
	cs, err := kubernetes.NewForConfig(cfg)
	require.NoError(t, err)
	review, err := cs.AuthenticationV1().SelfSubjectReviews().Create(t.Context(), &authenticationv1.SelfSubjectReview{}, metav1.CreateOptions{})
	require.NoError(t, err, "SelfSubjectReview as %s", name)
	dyn, err := dynamic.NewForConfig(cfg)
	require.NoError(t, err)
	return &diffIdentity{name: name, cfg: cfg, dyn: dyn, user: review.Status.UserInfo}
}

// diffCase is one generated object and where it goes.
type diffCase struct {
	index   int
	target  *diffTarget
	who     *diffIdentity
	obj     map[string]any
	gvk     schema.GroupVersionKind
	gvr     schema.GroupVersionResource
	name    string
	note    string // what the generator put in, for the logs
	party   bool   // a party pod or a workload with a party template
	badRole bool   // its role label is no valid label value (the API server refuses it before admission)
	hostPod bool   // a pod with a hostPath volume

	validate diffValidate
	webhook  []string // denying ids, session-persistent-available left out
	api      diffAPI
}

func (c *diffCase) String() string {
	return fmt.Sprintf("#%d %s %s/%s [%s; sent as %s]", c.index, c.gvk.Kind, c.target.namespace, c.name, c.note, c.who.user.Username)
}

type diffValidate struct {
	deny    []string
	skipped []string
	reason  []string // the deny messages
}

// diffAPI is the API server's answer: refused before admission (refusal says why), or the ids that denied it.
type diffAPI struct {
	refusal string
	ids     []string
	spa     bool // session-persistent-available denied it (left out of ids)
	message string
}

// The API server's refusals before admission.
const (
	refusedSchema      = "the MPCSession CRD schema (422)"
	refusedLabel       = "an invalid label value (422)"
	refusedPodSecurity = "the restricted Pod Security Standard (403)"
	refusedStrict      = "strict field validation, kubectl's default (400)"
)

// diffGen generates objects for one target.
type diffGen struct {
	r       *rand.Rand
	tg      *diffTarget
	admin   *diffIdentity
	ctrl    *diffIdentity
	next    *int
	restPod corev1.PodSpec
}

func (g *diffGen) pick(n int) int        { return g.r.IntN(n) }
func (g *diffGen) chance(p float64) bool { return g.r.Float64() < p }
func oneOf[T any](g *diffGen, xs ...T) T { return xs[g.r.IntN(len(xs))] }

// shareClaim is a claim the persistent StatefulSet names <prefix><ordinal>, or some claim when none is set.
func (g *diffGen) shareClaim() string {
	if len(g.tg.claimPrefixes) == 0 {
		return oneOf(g, "shares-some-pool-0", "data-0")
	}
	return oneOf(g, g.tg.claimPrefixes...) + strconv.Itoa(g.pick(13))
}

// lookAlikeClaim is a claim whose name resembles a share claim's without being one (or, for "01", being one
// by the rule's letter: every <prefix><digits> is).
func (g *diffGen) lookAlikeClaim() string {
	p := "shares-some-pool-"
	if len(g.tg.claimPrefixes) > 0 {
		p = oneOf(g, g.tg.claimPrefixes...)
	}
	trimmed := strings.TrimSuffix(p, "-")
	return oneOf(g, p+"x", p+"extra-0", trimmed+"0", "x"+p+"0", p+"0-0", p+"01", "data-"+strings.TrimPrefix(p, "shares-")+"0",
		trimmed+"-2-backup")
}

func (g *diffGen) shareSecret() string {
	if len(g.tg.secretNames) == 0 {
		return oneOf(g, "mpc-secrets", "db-credentials")
	}
	return oneOf(g, g.tg.secretNames...)
}

func (g *diffGen) lookAlikeSecret() string {
	s := "mpc-secrets"
	if len(g.tg.secretNames) > 0 {
		s = oneOf(g, g.tg.secretNames...)
	}
	return oneOf(g, s+"-old", "x"+s, strings.TrimSuffix(s, "s"), "party-credentials")
}

func (g *diffGen) persistentSet() string {
	if len(g.tg.persistentSets) == 0 {
		return "any-pool"
	}
	return oneOf(g, g.tg.persistentSets...)
}

// labels are a pod's or template's labels: the party selector present, a look-alike or absent; the role label
// absent, valid, a case variant or with spaces (no valid label value).
func (g *diffGen) labels(c *diffCase) map[string]string {
	l := map[string]string{}
	var notes []string
	switch x := g.pick(20); {
	case x < 12:
		maps.Copy(l, g.tg.selector)
		c.party = true
		notes = append(notes, "party")
	case x < 15:
		for k, v := range g.tg.selector {
			l[k] = oneOf(g, v+"-x", strings.ToUpper(v[:1])+v[1:], "x"+v)
		}
		notes = append(notes, "look-alike selector")
	default:
		notes = append(notes, "no selector")
	}
	switch x := g.pick(20); {
	case x < 4:
		notes = append(notes, "no role")
	case x < 14:
		r := oneOf(g, vocab.Roles...)
		l[g.tg.roleKey] = r
		notes = append(notes, r)
	case x < 18:
		r := oneOf(g, "Persistent", "DELEGATE", "Temporary", "persistents", "observer", "delegate2")
		l[g.tg.roleKey] = r
		notes = append(notes, "role "+r)
	default:
		r := oneOf(g, " persistent", "delegate ", "temp orary")
		l[g.tg.roleKey] = r
		c.badRole = true
		notes = append(notes, fmt.Sprintf("role %q", r))
	}
	if g.chance(0.2) {
		l["app.kubernetes.io/name"] = "diff"
	}
	c.note = strings.Join(notes, ", ")
	return l
}

func claimSpec(ds *corev1.TypedLocalObjectReference, ref bool) corev1.PersistentVolumeClaimSpec {
	spec := corev1.PersistentVolumeClaimSpec{AccessModes: []corev1.PersistentVolumeAccessMode{corev1.ReadWriteOnce},
		Resources: corev1.VolumeResourceRequirements{Requests: corev1.ResourceList{corev1.ResourceStorage: resource.MustParse("1Gi")}}}
	if ds != nil {
		if ref {
			spec.DataSourceRef = &corev1.TypedObjectReference{APIGroup: ds.APIGroup, Kind: ds.Kind, Name: ds.Name}
		} else {
			spec.DataSource = ds
		}
	}
	return spec
}

// dataSource is a claim's source: a share claim, a look-alike, a snapshot, or none.
func (g *diffGen) dataSource() (*corev1.TypedLocalObjectReference, string) {
	switch x := g.pick(10); {
	case x < 4:
		name := g.shareClaim()
		return &corev1.TypedLocalObjectReference{Kind: "PersistentVolumeClaim", Name: name}, "clones " + name
	case x < 7:
		name := g.lookAlikeClaim()
		return &corev1.TypedLocalObjectReference{Kind: "PersistentVolumeClaim", Name: name}, "clones " + name
	case x < 8:
		return &corev1.TypedLocalObjectReference{APIGroup: ptr.To("snapshot.storage.k8s.io"), Kind: "VolumeSnapshot",
			Name: "nightly"}, "restores a snapshot"
	}
	return nil, "no source"
}

// podSpec is a pod spec the restricted Pod Security Standard admits, with share storage reached in some of the
// ways the policies know, and look-alikes; hostPath only when allowed (it is not restricted).
func (g *diffGen) podSpec(c *diffCase, hostPath bool) corev1.PodSpec {
	spec := *g.restPod.DeepCopy()
	var notes []string
	init := func() *corev1.Container {
		if len(spec.InitContainers) == 0 {
			ic := *spec.Containers[0].DeepCopy()
			ic.Name = "init"
			spec.InitContainers = append(spec.InitContainers, ic)
		}
		return &spec.InitContainers[0]
	}
	container := func() (*corev1.Container, string) {
		if g.chance(0.3) {
			return init(), "init "
		}
		return &spec.Containers[0], ""
	}
	for i := range g.pick(4) {
		name := fmt.Sprintf("v%d", i)
		secret := g.shareSecret()
		if g.chance(0.35) {
			secret = g.lookAlikeSecret()
		}
		switch x := g.pick(12); x {
		case 0, 1:
			claim := g.shareClaim()
			spec.Volumes = append(spec.Volumes, corev1.Volume{Name: name, VolumeSource: corev1.VolumeSource{
				PersistentVolumeClaim: &corev1.PersistentVolumeClaimVolumeSource{ClaimName: claim}}})
			notes = append(notes, "claim "+claim)
		case 2:
			claim := g.lookAlikeClaim()
			spec.Volumes = append(spec.Volumes, corev1.Volume{Name: name, VolumeSource: corev1.VolumeSource{
				PersistentVolumeClaim: &corev1.PersistentVolumeClaimVolumeSource{ClaimName: claim}}})
			notes = append(notes, "claim "+claim)
		case 3:
			spec.Volumes = append(spec.Volumes, corev1.Volume{Name: name, VolumeSource: corev1.VolumeSource{
				Secret: &corev1.SecretVolumeSource{SecretName: secret}}})
			notes = append(notes, "secret volume "+secret)
		case 4:
			spec.Volumes = append(spec.Volumes, corev1.Volume{Name: name, VolumeSource: corev1.VolumeSource{
				Projected: &corev1.ProjectedVolumeSource{Sources: []corev1.VolumeProjection{
					{ConfigMap: &corev1.ConfigMapProjection{LocalObjectReference: corev1.LocalObjectReference{Name: "settings"}}},
					{Secret: &corev1.SecretProjection{LocalObjectReference: corev1.LocalObjectReference{Name: secret}}},
				}}}})
			notes = append(notes, "projected secret "+secret)
		case 5:
			ct, where := container()
			ct.Env = append(ct.Env, corev1.EnvVar{Name: fmt.Sprintf("SECRET_%d", i), ValueFrom: &corev1.EnvVarSource{
				SecretKeyRef: &corev1.SecretKeySelector{LocalObjectReference: corev1.LocalObjectReference{Name: secret}, Key: "database-url"}}})
			notes = append(notes, where+"env secretKeyRef "+secret)
		case 6:
			ct, where := container()
			ct.EnvFrom = append(ct.EnvFrom, corev1.EnvFromSource{SecretRef: &corev1.SecretEnvSource{
				LocalObjectReference: corev1.LocalObjectReference{Name: secret}}})
			notes = append(notes, where+"envFrom "+secret)
		case 7:
			spec.Volumes = append(spec.Volumes, corev1.Volume{Name: name, VolumeSource: corev1.VolumeSource{
				CSI: &corev1.CSIVolumeSource{Driver: "secrets-store.csi.k8s.io",
					NodePublishSecretRef: &corev1.LocalObjectReference{Name: secret}}}})
			notes = append(notes, "CSI nodePublishSecretRef "+secret)
		case 8:
			if hostPath {
				spec.Volumes = append(spec.Volumes, corev1.Volume{Name: name, VolumeSource: corev1.VolumeSource{
					HostPath: &corev1.HostPathVolumeSource{Path: oneOf(g, "/var/lib/mpc", "/var/log")}}})
				notes = append(notes, "hostPath")
				c.hostPod = true
				break
			}
			fallthrough
		case 9, 10:
			ds, what := g.dataSource()
			spec.Volumes = append(spec.Volumes, corev1.Volume{Name: name, VolumeSource: corev1.VolumeSource{
				Ephemeral: &corev1.EphemeralVolumeSource{VolumeClaimTemplate: &corev1.PersistentVolumeClaimTemplate{
					Spec: claimSpec(ds, g.chance(0.3))}}}})
			notes = append(notes, "ephemeral volume "+what)
		default:
			spec.Volumes = append(spec.Volumes, corev1.Volume{Name: name, VolumeSource: corev1.VolumeSource{
				EmptyDir: &corev1.EmptyDirVolumeSource{}}})
			notes = append(notes, "emptyDir")
		}
	}
	if len(notes) > 0 {
		c.note += "; " + strings.Join(notes, ", ")
	}
	return spec
}

func toMap(obj runtime.Object) map[string]any {
	m, err := runtime.DefaultUnstructuredConverter.ToUnstructured(obj)
	if err != nil {
		panic(err)
	}
	return m
}

func (g *diffGen) newCase(gvk schema.GroupVersionKind, resource string) *diffCase {
	*g.next++
	return &diffCase{index: *g.next, target: g.tg, who: g.admin, gvk: gvk,
		gvr: gvk.GroupVersion().WithResource(resource), name: fmt.Sprintf("diff-%03d", *g.next)}
}

func (g *diffGen) pod() *diffCase {
	c := g.newCase(corev1.SchemeGroupVersion.WithKind("Pod"), "pods")
	pod := &corev1.Pod{TypeMeta: metav1.TypeMeta{APIVersion: "v1", Kind: "Pod"},
		ObjectMeta: metav1.ObjectMeta{Name: c.name, Namespace: g.tg.namespace, Labels: g.labels(c)}}
	// hostPath is left out of pods in a restricted namespace most of the time: the API server refuses them
	// before admission, so they are compared between validate and the webhook only.
	pod.Spec = g.podSpec(c, !g.tg.restricted || g.chance(0.15))
	uid := types.UID(fmt.Sprintf("00000000-0000-4000-8000-%012d", c.index))
	switch x := g.pick(20); {
	case x < 6:
		set := g.persistentSet()
		pod.OwnerReferences = []metav1.OwnerReference{{APIVersion: "apps/v1", Kind: "StatefulSet", Name: set, UID: uid,
			Controller: ptr.To(true), BlockOwnerDeletion: ptr.To(true)}}
		c.note += "; owner StatefulSet " + set
	case x < 9:
		kind, name := oneOf(g, "StatefulSet", "ReplicaSet"), oneOf(g, "other-pool", g.persistentSet()+"-x")
		pod.OwnerReferences = []metav1.OwnerReference{{APIVersion: "apps/v1", Kind: kind, Name: name, UID: uid, Controller: ptr.To(true)}}
		c.note += "; owner " + kind + " " + name
	case x < 11:
		set := g.persistentSet()
		pod.OwnerReferences = []metav1.OwnerReference{{APIVersion: "apps/v1", Kind: "StatefulSet", Name: set, UID: uid}}
		c.note += "; non-controller owner StatefulSet " + set
	default:
		c.note += "; no owner"
	}
	// Persistent party pods are sent as the StatefulSet controller half of the time: the identity decides
	// party-persistent-origin's creator check, which validate cannot run.
	persistent := c.party && pod.Labels[g.tg.roleKey] == vocab.RolePersistent
	if g.chance(0.2) || persistent && g.chance(0.5) {
		c.who = g.ctrl
	}
	c.obj = toMap(pod)
	return c
}

func (g *diffGen) workload() *diffCase {
	kind := oneOf(g, "Deployment", "StatefulSet", "StatefulSet", "DaemonSet", "Job", "CronJob", "ReplicaSet")
	gv, resource := appsv1.SchemeGroupVersion, strings.ToLower(kind)+"s"
	if kind == "Job" || kind == "CronJob" {
		gv = batchv1.SchemeGroupVersion
	}
	c := g.newCase(gv.WithKind(kind), resource)
	labels := g.labels(c)
	spec := g.podSpec(c, true)
	labels[diffNameLabel] = c.name
	tmpl := corev1.PodTemplateSpec{ObjectMeta: metav1.ObjectMeta{Labels: labels}, Spec: spec}
	sel := selector(map[string]string{diffNameLabel: c.name})
	meta := metav1.ObjectMeta{Name: c.name, Namespace: g.tg.namespace}
	tm := metav1.TypeMeta{APIVersion: gv.String(), Kind: kind}
	var obj runtime.Object
	switch kind {
	case "Deployment":
		obj = &appsv1.Deployment{TypeMeta: tm, ObjectMeta: meta, Spec: appsv1.DeploymentSpec{Selector: sel, Template: tmpl}}
	case "ReplicaSet":
		obj = &appsv1.ReplicaSet{TypeMeta: tm, ObjectMeta: meta, Spec: appsv1.ReplicaSetSpec{Selector: sel, Template: tmpl}}
	case "DaemonSet":
		obj = &appsv1.DaemonSet{TypeMeta: tm, ObjectMeta: meta, Spec: appsv1.DaemonSetSpec{Selector: sel, Template: tmpl}}
	case "StatefulSet":
		if g.chance(0.4) {
			meta.Name = g.persistentSet()
			c.name = meta.Name
			c.note += "; named as the persistent pool"
		}
		sts := &appsv1.StatefulSet{TypeMeta: tm, ObjectMeta: meta, Spec: appsv1.StatefulSetSpec{Selector: sel, Template: tmpl,
			ServiceName: meta.Name}}
		if g.chance(0.5) {
			vct := oneOf(g, "shares", "data")
			for _, p := range g.tg.claimPrefixes {
				if v, ok := strings.CutSuffix(p, "-"+meta.Name+"-"); ok && g.chance(0.7) {
					vct = v
				}
			}
			ds, what := g.dataSource()
			sts.Spec.VolumeClaimTemplates = []corev1.PersistentVolumeClaim{{ObjectMeta: metav1.ObjectMeta{Name: vct},
				Spec: claimSpec(ds, g.chance(0.3))}}
			c.note += "; volumeClaimTemplate " + vct + " " + what
		}
		obj = sts
	case "Job":
		tmpl.Spec.RestartPolicy = corev1.RestartPolicyNever
		obj = &batchv1.Job{TypeMeta: tm, ObjectMeta: meta, Spec: batchv1.JobSpec{Template: tmpl}}
	case "CronJob":
		tmpl.Spec.RestartPolicy = corev1.RestartPolicyNever
		obj = &batchv1.CronJob{TypeMeta: tm, ObjectMeta: meta, Spec: batchv1.CronJobSpec{Schedule: "*/5 * * * *",
			JobTemplate: batchv1.JobTemplateSpec{Spec: batchv1.JobSpec{Template: tmpl}}}}
	}
	c.obj = toMap(obj)
	return c
}

func (g *diffGen) claim() *diffCase {
	c := g.newCase(corev1.SchemeGroupVersion.WithKind("PersistentVolumeClaim"), "persistentvolumeclaims")
	ds, what := g.dataSource()
	c.note = what
	c.obj = toMap(&corev1.PersistentVolumeClaim{TypeMeta: metav1.TypeMeta{APIVersion: "v1", Kind: "PersistentVolumeClaim"},
		ObjectMeta: metav1.ObjectMeta{Name: c.name, Namespace: g.tg.namespace}, Spec: claimSpec(ds, g.chance(0.3))})
	return c
}

// session is an MPCSession at the rules' boundaries: t and t-1 non-persistent parties, an empty, zero or absent
// composition, sums off by one, t=0, t>n, and now and then what the schema refuses (negative, fractional, an
// unknown type).
func (g *diffGen) session() *diffCase {
	c := g.newCase(schema.GroupVersionKind{Group: vocab.SessionGroup, Version: vocab.SessionVersion, Kind: vocab.SessionKind},
		vocab.SessionResource)
	n := int64(1 + g.pick(5))
	t := oneOf(g, int64(1), n-1, n, n, n+1, int64(0), int64(1+g.pick(int(n))))
	var notes []string
	threshold := map[string]any{"t": t, "n": n}
	typ := oneOf(g, vocab.SessionTypes...)
	if g.chance(0.04) {
		typ = "exfiltrate"
	}
	spec := map[string]any{"type": typ, "threshold": threshold}
	notes = append(notes, fmt.Sprintf("%s t=%d n=%d", typ, t, n))
	switch x := g.pick(20); {
	case x < 6:
		notes = append(notes, "no composition")
	case x < 8:
		spec["composition"] = map[string]any{}
		notes = append(notes, "composition {}")
	case x < 9:
		spec["composition"] = map[string]any{"persistent": int64(0), "delegate": int64(0), "temporary": int64(0)}
		notes = append(notes, "composition all zero")
	case x < 10:
		spec["composition"] = nil
		notes = append(notes, "composition null")
	default:
		k := max(0, oneOf(g, t-1, t-1, t, t+1, int64(0)))
		d := int64(g.pick(int(k) + 1))
		p := n - k + oneOf(g, int64(0), int64(0), int64(0), int64(-1), int64(1))
		comp := map[string]any{"persistent": p, "delegate": d, "temporary": k - d}
		if d == 0 && g.chance(0.5) {
			delete(comp, "delegate")
		}
		if k-d == 0 && g.chance(0.5) {
			delete(comp, "temporary")
		}
		if g.chance(0.04) {
			comp["delegate"] = int64(-1)
		}
		spec["composition"] = comp
		notes = append(notes, fmt.Sprintf("composition %v", comp))
	}
	switch x := g.pick(100); {
	case x < 3:
		threshold["t"] = 1.5
		notes = append(notes, "t=1.5")
	case x < 5:
		threshold["t"] = nil
		notes = append(notes, "t null")
	case x < 7:
		threshold["n"] = int64(1) << 31
		notes = append(notes, "n=2^31, past int32")
	case x < 12:
		// A key in the wrong case: the API server's strict field validation (kubectl's default) refuses it,
		// session-spec-valid denies it.
		m, from, to := spec, "type", "Type"
		switch y := g.pick(3); {
		case y == 0:
			m, from, to = threshold, "n", "N"
		case y == 1 && spec["composition"] != nil:
			m, from, to = spec, "composition", "Composition"
		}
		m[to] = m[from]
		if g.chance(0.5) {
			delete(m, from)
		}
		notes = append(notes, "key "+to)
	}
	c.note = strings.Join(notes, ", ")
	c.obj = map[string]any{"apiVersion": vocab.SessionGroup + "/" + vocab.SessionVersion, "kind": vocab.SessionKind,
		"metadata": map[string]any{"name": c.name, "namespace": g.tg.namespace}, "spec": spec}
	return c
}

func (g *diffGen) generate() []*diffCase {
	var out []*diffCase
	for range g.tg.count {
		switch x := g.pick(20); {
		case x < 8:
			out = append(out, g.pod())
		case x < 14:
			out = append(out, g.workload())
		case x < 18:
			out = append(out, g.session())
		default:
			out = append(out, g.claim())
		}
	}
	return out
}

// runValidate sends the target's objects through `mpcguard validate -o json` with its policy flags, in one
// file of JSON documents.
func runValidate(t *testing.T, bin string, tg *diffTarget, cases []*diffCase) {
	t.Helper()
	var buf bytes.Buffer
	for _, c := range cases {
		data, err := json.Marshal(c.obj)
		require.NoError(t, err)
		buf.WriteString("---\n")
		buf.Write(data)
		buf.WriteString("\n")
	}
	file := filepath.Join(t.TempDir(), tg.namespace+".yaml")
	require.NoError(t, os.WriteFile(file, buf.Bytes(), 0o600))
	cmd := exec.Command(bin, append([]string{"validate", "-f", file, "-o", "json"}, tg.args...)...)
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	err := cmd.Run()
	var exit *exec.ExitError
	if err != nil {
		require.ErrorAs(t, err, &exit, "mpcguard validate: %s", stderr.String())
		require.Equal(t, 1, exit.ExitCode(), "validate exits 1 for denials, not 2 for unreadable input; stderr:\n%s", stderr.String())
	}
	type result struct{ Policy, Message string }
	var rep struct {
		Objects []struct {
			Document              int
			Kind, Namespace, Name string
			Reviewed              bool
			Deny, Skipped         []result
		}
		Errors []any
	}
	require.NoError(t, json.Unmarshal(stdout.Bytes(), &rep))
	require.Empty(t, rep.Errors, "validate read every document")
	require.Len(t, rep.Objects, len(cases), "validate reports every document")
	for i, o := range rep.Objects {
		c := cases[o.Document-1]
		require.Equal(t, i+1, o.Document)
		require.Equal(t, c.gvk.Kind+" "+c.target.namespace+"/"+c.name, o.Kind+" "+o.Namespace+"/"+o.Name)
		require.True(t, o.Reviewed, "validate reviews %s", c)
		for _, r := range o.Deny {
			c.validate.deny = append(c.validate.deny, r.Policy)
			c.validate.reason = append(c.validate.reason, r.Message)
		}
		for _, r := range o.Skipped {
			c.validate.skipped = append(c.validate.skipped, r.Policy)
		}
		c.validate.deny = idSet(c.validate.deny)
	}
}

// idSet is ids sorted, without duplicates and without session-persistent-available, which needs the
// inventory.
func idSet(ids []string) []string {
	out := slices.DeleteFunc(slices.Clone(ids), func(id string) bool { return id == vocab.SessionPersistentAvailable })
	slices.Sort(out)
	return slices.Compact(out)
}

var (
	lineID     = regexp.MustCompile(`(?m)^\[([a-z0-9-]+)\] `)
	apiLineID  = regexp.MustCompile(`(?m)(?:^|denied the request: )\[([a-z0-9-]+)\] `)
	labelValue = regexp.MustCompile(`labels: Invalid value`)
)

func idsIn(re *regexp.Regexp, msg string) []string {
	var ids []string
	for _, m := range re.FindAllStringSubmatch(msg, -1) {
		ids = append(ids, m[1])
	}
	return ids
}

// diffWebhook is a `mpcguard webhook --inventory=false` process of this test and a client that trusts it.
type diffWebhook struct {
	w      *cluster.Webhook
	client *http.Client
}

func startDiffWebhook(t *testing.T, env *scenario.Env, args []string) *diffWebhook {
	t.Helper()
	w, err := cluster.StartWebhook(t.Context(), cluster.WebhookOptions{Bin: env.Mpcguard, Kubeconfig: env.Cluster.Kubeconfig,
		Args: append(slices.Clone(args), "--inventory=false")})
	require.NoError(t, err, "mpcguard webhook --inventory=false %s", strings.Join(args, " "))
	t.Cleanup(func() { _ = w.Stop() })
	pool := x509.NewCertPool()
	require.True(t, pool.AppendCertsFromPEM(w.CABundle))
	return &diffWebhook{w: w, client: &http.Client{Timeout: 20 * time.Second,
		Transport: &http.Transport{TLSClientConfig: &tls.Config{RootCAs: pool, MinVersion: tls.VersionTLS12}, MaxIdleConnsPerHost: 8}}}
}

// review posts the AdmissionReview the API server would send for a dry-run create of c by c.who, and returns
// the denying ids.
func (d *diffWebhook) review(ctx context.Context, c *diffCase) ([]string, error) {
	raw, err := json.Marshal(c.obj)
	if err != nil {
		return nil, err
	}
	gvr := metav1.GroupVersionResource{Group: c.gvr.Group, Version: c.gvr.Version, Resource: c.gvr.Resource}
	gvk := metav1.GroupVersionKind{Group: c.gvk.Group, Version: c.gvk.Version, Kind: c.gvk.Kind}
	review := admissionv1.AdmissionReview{TypeMeta: metav1.TypeMeta{APIVersion: "admission.k8s.io/v1", Kind: "AdmissionReview"},
		Request: &admissionv1.AdmissionRequest{UID: types.UID(fmt.Sprintf("diff-%d", c.index)), Kind: gvk, Resource: gvr,
			RequestKind: &gvk, RequestResource: &gvr, Name: c.name, Namespace: c.target.namespace,
			Operation: admissionv1.Create, UserInfo: c.who.user, Object: runtime.RawExtension{Raw: raw}, DryRun: ptr.To(true),
			Options: runtime.RawExtension{Raw: []byte(`{"apiVersion":"meta.k8s.io/v1","kind":"CreateOptions","dryRun":["All"]}`)}}}
	body, err := json.Marshal(review)
	if err != nil {
		return nil, err
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, d.w.URL, bytes.NewReader(body))
	if err != nil {
		return nil, err
	}
	req.Header.Set("Content-Type", "application/json")
	resp, err := d.client.Do(req)
	if err != nil {
		return nil, err
	}
	defer resp.Body.Close()
	var out admissionv1.AdmissionReview
	if err := json.NewDecoder(resp.Body).Decode(&out); err != nil {
		return nil, fmt.Errorf("HTTP %d, %w", resp.StatusCode, err)
	}
	if resp.StatusCode != http.StatusOK || out.Response == nil {
		return nil, fmt.Errorf("HTTP %d: %+v", resp.StatusCode, out.Response)
	}
	if out.Response.Allowed {
		return []string{}, nil
	}
	if out.Response.Result == nil {
		return nil, errors.New("a denial without a status")
	}
	ids := idsIn(lineID, out.Response.Result.Message)
	if len(ids) == 0 {
		return nil, fmt.Errorf("a denial that names no policy: %q", out.Response.Result.Message)
	}
	return idSet(ids), nil
}

// dryRun creates c on the API server as c.who with a server-side dry run and classifies the answer.
func dryRunCreate(ctx context.Context, c *diffCase) (diffAPI, error) {
	u := &unstructured.Unstructured{Object: runtime.DeepCopyJSON(c.obj)}
	_, err := c.who.dyn.Resource(c.gvr).Namespace(c.target.namespace).Create(ctx, u,
		metav1.CreateOptions{DryRun: []string{metav1.DryRunAll}, FieldValidation: metav1.FieldValidationStrict})
	var a diffAPI
	switch {
	case err == nil, apierrors.IsAlreadyExists(err): // past admission (the name is taken: the persistent pool's)
		a.ids = []string{}
	case apierrors.IsForbidden(err) && strings.Contains(err.Error(), "denied the request: ["):
		a.message = err.Error()
		all := idsIn(apiLineID, err.Error())
		a.spa = slices.Contains(all, vocab.SessionPersistentAvailable)
		a.ids = idSet(all)
	case apierrors.IsForbidden(err) && strings.Contains(err.Error(), "violates PodSecurity"):
		a.refusal, a.message = refusedPodSecurity, err.Error()
	case apierrors.IsBadRequest(err) && strings.Contains(err.Error(), "strict decoding error"):
		a.refusal, a.message = refusedStrict, err.Error()
	case apierrors.IsInvalid(err) && c.gvk.Kind == vocab.SessionKind:
		a.refusal, a.message = refusedSchema, err.Error()
	case apierrors.IsInvalid(err) && labelValue.MatchString(err.Error()):
		a.refusal, a.message = refusedLabel, err.Error()
	default:
		return a, fmt.Errorf("an answer this test does not classify: %w", err)
	}
	return a, nil
}

// each runs f over cases on a few workers and returns the errors, one per failed case.
func each(cases []*diffCase, f func(*diffCase) error) []error {
	var (
		mu   sync.Mutex
		errs []error
		wg   sync.WaitGroup
	)
	work := make(chan *diffCase)
	for range 4 {
		wg.Go(func() {
			for c := range work {
				if err := f(c); err != nil {
					mu.Lock()
					errs = append(errs, fmt.Errorf("%s: %w", c, err))
					mu.Unlock()
				}
			}
		})
	}
	for _, c := range cases {
		work <- c
	}
	close(work)
	wg.Wait()
	return errs
}

// expectedOnline is what validate's decision means with a user: its denials, plus party-persistent-origin
// where validate skipped the creator check and the sender is not a controller identity.
func expectedOnline(c *diffCase) []string {
	ids := slices.Clone(c.validate.deny)
	if creatorSkipped(c) && !slices.Contains(c.target.controllerUsers, c.who.user.Username) {
		ids = append(ids, vocab.PartyPersistentOrigin)
	}
	return idSet(ids)
}

func creatorSkipped(c *diffCase) bool {
	return slices.Contains(c.validate.skipped, vocab.PartyPersistentOrigin)
}

func decision(ids []string) string {
	if len(ids) == 0 {
		return "allowed"
	}
	return "denied by " + strings.Join(ids, ", ")
}

// disagreement compares the sides on c and says how they differ, or "".
func disagreement(c *diffCase, webhook []string, api *diffAPI) string {
	want := expectedOnline(c)
	var diffs []string
	if !slices.Equal(want, webhook) {
		diffs = append(diffs, fmt.Sprintf("validate %s (skipped: %v), so online %s; webhook %s",
			decision(c.validate.deny), c.validate.skipped, decision(want), decision(webhook)))
	}
	if api != nil {
		switch api.refusal {
		case "":
			if !slices.Equal(api.ids, webhook) {
				diffs = append(diffs, fmt.Sprintf("webhook %s; API server %s", decision(webhook), decision(api.ids)))
			}
		case refusedSchema, refusedStrict:
			// What the schema and strict decoding refuse, session-spec-valid does (t or n below 1 being
			// session-threshold-range's).
			ids := []string{vocab.SessionSpecValid}
			if api.refusal == refusedSchema {
				ids = append(ids, vocab.SessionThresholdRange)
			}
			if c.gvk.Kind != vocab.SessionKind || !slices.ContainsFunc(ids, func(id string) bool {
				return slices.Contains(c.validate.deny, id) && slices.Contains(webhook, id)
			}) {
				diffs = append(diffs, fmt.Sprintf("%s refuses it; validate %s, webhook %s, neither by %s",
					api.refusal, decision(c.validate.deny), decision(webhook), strings.Join(ids, " or ")))
			}
		case refusedLabel:
			if !c.badRole {
				diffs = append(diffs, "the API server refuses a label value the generator did not make invalid")
			} else if c.party {
				id := vocab.PartyRoleValid
				if c.gvk.Kind != "Pod" {
					id = vocab.WorkloadPartyRole
				}
				if !slices.Contains(c.validate.deny, id) || !slices.Contains(webhook, id) {
					diffs = append(diffs, fmt.Sprintf("the API server refuses its role label value; validate %s, webhook %s, neither by %s",
						decision(c.validate.deny), decision(webhook), id))
				}
			}
		case refusedPodSecurity:
			if !c.hostPod || !c.target.restricted {
				diffs = append(diffs, "Pod Security refuses an object the generator made compliant")
			}
		}
		if api.message != "" && len(diffs) > 0 {
			diffs = append(diffs, "API server: "+api.message)
		}
	}
	if len(diffs) == 0 {
		return ""
	}
	obj, _ := json.Marshal(c.obj)
	return fmt.Sprintf("%s:\n    %s\n    validate's reasons: %q\n    object: %s", c, strings.Join(diffs, "\n    "), c.validate.reason, obj)
}

func diffSeed(t *testing.T) uint64 {
	t.Helper()
	if s := os.Getenv(diffSeedEnv); s != "" {
		seed, err := strconv.ParseUint(s, 10, 64)
		require.NoError(t, err, "%s=%q", diffSeedEnv, s)
		return seed
	}
	return diffDefaultSeed
}

// Issue 10: cases nobody here has seen get, through validate, the webhook and the chart-configured API server,
// the decisions the rules give — the same on all three roads.
func TestGeneratedObjectsGetTheSameDecisionsFromValidateTheWebhookAndTheAPIServer(t *testing.T) {
	env := sharedEnv(t)
	start := time.Now()
	seed := diffSeed(t)
	t.Logf("seed %d (%s=%d reproduces this run)", seed, diffSeedEnv, seed)

	targets := []*diffTarget{
		newDiffTarget(t, env, env.Release, 150),         // shares in the persistent pool's claims
		newDiffTarget(t, env, seedRelease(t, env), 110), // shares in a Secret
		newDiffTarget(t, env, roadsRelease(t, env), 80), // the mpcguard chart alone: any StatefulSet, no share storage, no Pod Security
	}
	admin := newDiffIdentity(t, env, "")
	ctrl := newDiffIdentity(t, env, diffController)
	t.Logf("identities: %s is %q %v; %s is %q %v", admin.name, admin.user.Username, admin.user.Groups,
		ctrl.name, ctrl.user.Username, ctrl.user.Groups)

	r := rand.New(rand.NewPCG(seed, seed^0x9e3779b97f4a7c15))
	var all []*diffCase
	byTarget := map[*diffTarget][]*diffCase{}
	next := 0
	for _, tg := range targets {
		t.Logf("target %s in %s (restricted: %v): mpcguard validate/webhook %s", tg.name, tg.namespace, tg.restricted, strings.Join(tg.args, " "))
		g := &diffGen{r: r, tg: tg, admin: admin, ctrl: ctrl, next: &next,
			restPod: scenario.RestrictedPodSpec("ghcr.io/mpcguard/mpc-server-party:0.1.0")}
		cases := g.generate()
		byTarget[tg] = cases
		all = append(all, cases...)
	}

	// (1) validate, (2) a webhook process per target, (3) the API server.
	webhooks := map[*diffTarget]*diffWebhook{}
	for _, tg := range targets {
		runValidate(t, env.Mpcguard, tg, byTarget[tg])
		webhooks[tg] = startDiffWebhook(t, env, tg.args)
	}
	ctx := t.Context()
	errs := each(all, func(c *diffCase) error {
		rctx, cancel := context.WithTimeout(ctx, 30*time.Second)
		defer cancel()
		var err error
		if c.webhook, err = webhooks[c.target].review(rctx, c); err != nil {
			return fmt.Errorf("webhook: %w", err)
		}
		if c.api, err = dryRunCreate(rctx, c); err != nil {
			return fmt.Errorf("API server: %w", err)
		}
		return nil
	})
	require.Empty(t, errs, "every object gets an answer from the webhook and the API server")

	// Compare, and count.
	var (
		disagreements []string
		kinds         = map[string]map[string]int{}
		denied        = map[string]int{}
		excluded      = map[string]int{}
		equivalent    = map[string]int{}
		threeWay      int
		creator       = map[string]int{}
		spa, spaOnly  int
	)
	for _, c := range all {
		if kinds[c.target.name] == nil {
			kinds[c.target.name] = map[string]int{}
		}
		kinds[c.target.name][c.gvk.Kind]++
		if d := disagreement(c, c.webhook, &c.api); d != "" {
			disagreements = append(disagreements, d)
			continue
		}
		switch c.api.refusal {
		case "":
			threeWay++
		case refusedSchema, refusedStrict:
			equivalent[c.api.refusal+", denied by validate and the webhook"]++
		case refusedLabel:
			if c.party {
				equivalent[refusedLabel+" on a party, denied by validate and the webhook"]++
			} else {
				excluded[refusedLabel+" on no party (validate and webhook compared)"]++
			}
		default:
			excluded[c.api.refusal+" (validate and webhook compared)"]++
		}
		for _, id := range c.webhook {
			denied[id]++
		}
		if creatorSkipped(c) {
			if slices.Contains(c.target.controllerUsers, c.who.user.Username) {
				creator["skipped by validate, sent as a controller identity"]++
			} else {
				creator["skipped by validate, denied online for "+c.who.user.Username]++
			}
		}
		if c.api.spa {
			spa++
			if len(c.api.ids) == 0 {
				spaOnly++
			}
		}
	}

	var sum strings.Builder
	fmt.Fprintf(&sum, "seed %d: %d objects generated\n", seed, len(all))
	for _, tg := range targets {
		fmt.Fprintf(&sum, "  %s (%s): %v\n", tg.name, tg.namespace, kinds[tg.name])
	}
	fmt.Fprintf(&sum, "compared between validate and the webhook: %d; on all three roads: %d; disagreements: %d\n",
		len(all), threeWay, len(disagreements))
	fmt.Fprintf(&sum, "refused by the API server before admission and denied by validate and the webhook: %v\n", equivalent)
	fmt.Fprintf(&sum, "left out of the API server comparison: %v\n", excluded)
	fmt.Fprintf(&sum, "denials per policy id (webhook): %v\n", denied)
	fmt.Fprintf(&sum, "party-persistent-origin's creator check (documented): %v\n", creator)
	fmt.Fprintf(&sum, "%s (left out of every side, needs the inventory): the API server denied %d sessions by it, %d by it alone\n",
		vocab.SessionPersistentAvailable, spa, spaOnly)
	fmt.Fprintf(&sum, "time: %s", time.Since(start).Round(100*time.Millisecond))
	t.Log(sum.String())

	if len(disagreements) > 0 {
		shown := disagreements[:min(len(disagreements), 25)]
		t.Errorf("%d of %d objects get different decisions (first %d):\n%s", len(disagreements), len(all), len(shown),
			strings.Join(shown, "\n"))
	}
	// The sample must reach the rules it is about.
	for _, id := range []string{vocab.PartyRoleRequired, vocab.PartyRoleValid, vocab.WorkloadPartyRole,
		vocab.SessionCompositionNonempty, vocab.SessionDelegateOnlyThreshold, vocab.SessionCompositionSum,
		vocab.SessionThresholdRange, vocab.DelegateNoShareStorage, vocab.PartyPersistentOrigin, vocab.ShareStorageCopy,
		vocab.ShareStoragePersistentOnly, vocab.SessionSpecValid} {
		if denied[id] == 0 {
			t.Errorf("no generated object is denied by %s: the generator misses that rule", id)
		}
	}
	if len(creator) < 2 {
		t.Errorf("the documented creator-check difference is not exercised both ways: %v", creator)
	}

	t.Run("a webhook given another share claim prefix than validate is caught disagreeing", func(t *testing.T) {
		tg := targets[0]
		require.NotEmpty(t, tg.claimPrefixes, "the shared release names its share claims")
		var args []string
		for _, a := range tg.args {
			if strings.HasPrefix(a, "--share-claim-prefixes=") {
				a = "--share-claim-prefixes=shares-elsewhere-"
			}
			args = append(args, a)
		}
		wrong := startDiffWebhook(t, env, args)
		touches := func(c *diffCase) bool {
			for _, m := range c.validate.reason {
				for _, p := range tg.claimPrefixes {
					if strings.Contains(m, p) {
						return true
					}
				}
			}
			return false
		}
		var sample []*diffCase
		var touching, other int
		for _, c := range byTarget[tg] {
			switch {
			case touches(c) && touching < 15:
				touching++
			case !touches(c) && other < 15:
				other++
			default:
				continue
			}
			sample = append(sample, c)
		}
		require.Positive(t, touching, "the sample holds objects denied for share claims")
		got := map[*diffCase][]string{}
		var mu sync.Mutex
		require.Empty(t, each(sample, func(c *diffCase) error {
			ids, err := wrong.review(ctx, c)
			mu.Lock()
			got[c] = ids
			mu.Unlock()
			return err
		}))
		var caught []string
		for _, c := range sample {
			if d := disagreement(c, got[c], nil); d != "" {
				caught = append(caught, d)
				require.True(t, touches(c), "only objects that reach share claims may disagree:\n%s", d)
			}
		}
		t.Logf("%d of %d sampled objects (%d denied for share claims) disagree with the misconfigured webhook", len(caught), len(sample), touching)
		require.NotEmpty(t, caught, "the comparison finds a webhook that knows other share claims than validate")
		t.Logf("the first:\n%s", caught[0])
	})
}
