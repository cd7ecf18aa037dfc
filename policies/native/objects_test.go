package native_test

import (
	"encoding/json"
	"fmt"
	"os"
	"strconv"
	"sync"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/apiserver/pkg/admission"
	celconfig "k8s.io/apiserver/pkg/apis/cel"
	"k8s.io/apiserver/pkg/authentication/user"
	"k8s.io/utils/ptr"
)

// toMap is v as the API server hands it to CEL: its JSON as maps and lists.
func toMap(v any) map[string]any {
	b, err := json.Marshal(v)
	if err != nil {
		panic(err)
	}
	var m map[string]any
	if err := json.Unmarshal(b, &m); err != nil {
		panic(err)
	}
	return m
}

var requester = &user.DefaultInfo{Name: "alice", Groups: []string{"system:authenticated", "team-a", "mpcguard:break-glass"}}

// podSpecOf is a pod spec with n volumes of each of five kinds the policies read and n containers and init
// containers with n env and envFrom entries each: n=1 is a typical party; n=100 is about 2.2 MB.
func podSpecOf(n int) corev1.PodSpec {
	spec := corev1.PodSpec{}
	claim := &corev1.PersistentVolumeClaimSpec{DataSource: &corev1.TypedLocalObjectReference{Kind: "PersistentVolumeClaim", Name: "data-0"}}
	for i := range n {
		spec.Volumes = append(spec.Volumes,
			corev1.Volume{Name: fmt.Sprintf("s%d", i), VolumeSource: corev1.VolumeSource{Secret: &corev1.SecretVolumeSource{SecretName: fmt.Sprintf("tls-%d", i)}}},
			corev1.Volume{Name: fmt.Sprintf("p%d", i), VolumeSource: corev1.VolumeSource{Projected: &corev1.ProjectedVolumeSource{Sources: []corev1.VolumeProjection{
				{Secret: &corev1.SecretProjection{LocalObjectReference: corev1.LocalObjectReference{Name: fmt.Sprintf("tls-%d", i)}}},
				{ConfigMap: &corev1.ConfigMapProjection{LocalObjectReference: corev1.LocalObjectReference{Name: "cm"}}}}}}},
			corev1.Volume{Name: fmt.Sprintf("c%d", i), VolumeSource: corev1.VolumeSource{PersistentVolumeClaim: &corev1.PersistentVolumeClaimVolumeSource{ClaimName: fmt.Sprintf("data-%d", i)}}},
			corev1.Volume{Name: fmt.Sprintf("e%d", i), VolumeSource: corev1.VolumeSource{Ephemeral: &corev1.EphemeralVolumeSource{
				VolumeClaimTemplate: &corev1.PersistentVolumeClaimTemplate{Spec: *claim}}}},
			corev1.Volume{Name: fmt.Sprintf("h%d", i), VolumeSource: corev1.VolumeSource{CSI: &corev1.CSIVolumeSource{Driver: "csi",
				NodePublishSecretRef: &corev1.LocalObjectReference{Name: fmt.Sprintf("csi-%d", i)}}}},
		)
		c := corev1.Container{Name: fmt.Sprintf("c%d", i), Image: "mpc/party:1.0"}
		for j := range n {
			c.Env = append(c.Env, corev1.EnvVar{Name: fmt.Sprintf("E%d", j), ValueFrom: &corev1.EnvVarSource{SecretKeyRef: &corev1.SecretKeySelector{
				LocalObjectReference: corev1.LocalObjectReference{Name: fmt.Sprintf("env-%d", j)}, Key: "k"}}})
			c.EnvFrom = append(c.EnvFrom, corev1.EnvFromSource{SecretRef: &corev1.SecretEnvSource{LocalObjectReference: corev1.LocalObjectReference{Name: fmt.Sprintf("env-%d", j)}}})
		}
		spec.Containers = append(spec.Containers, c)
		spec.InitContainers = append(spec.InitContainers, c)
	}
	return spec
}

// objectsOf returns a typical request of the kind and, for the kinds whose lists a request can make long, the
// large ones of largeShapes (none for a kind the table does not measure).
func objectsOf(gvk schema.GroupVersionKind) []object {
	objectsMu.Lock()
	defer objectsMu.Unlock()
	if o, ok := objectsMemo[gvk]; ok {
		return o
	}
	var out []object
	switch gvk.Kind {
	case "Pod", "StatefulSet", "Binding", "PersistentVolumeClaim", "VolumeSnapshot", "MPCSession":
		out = append(out, objectOf(gvk, podSpecOf(1), labelsOf(1), nil))
	}
	switch gvk.Kind {
	case "Pod", "StatefulSet":
		for _, s := range largeShapes() {
			// The shapes filled up to the request limit take minutes: make cel-cost measures them.
			if (s.statefulSetOnly && gvk.Kind != "StatefulSet") || (s.fixed == 0 && os.Getenv("MPCGUARD_CEL_WORST_CASE") == "") {
				continue
			}
			out = append(out, s.fill(gvk))
		}
	case "Binding", "PersistentVolumeClaim":
		o := objectOf(gvk, podSpecOf(1), labelsOf(25_000), nil)
		o.large, o.shape = true, "25,000 labels"
		out = append(out, o)
	}
	objectsMemo[gvk] = out
	return out
}

// objectsMemo keeps the objects of each kind: the large ones take a while to build, and every policy that
// matches the kind is measured on them.
var (
	objectsMu   sync.Mutex
	objectsMemo = map[schema.GroupVersionKind][]object{}
)

// objectOf is a request of the kind: a pod or StatefulSet with the spec and labels (and the volumeClaimTemplates),
// updated without a change, so that the policies compare it with the old object as well; a Binding or claim with
// the labels; a VolumeSnapshot; an MPCSession.
func objectOf(gvk schema.GroupVersionKind, spec corev1.PodSpec, labels map[string]string, templates []corev1.PersistentVolumeClaim) object {
	meta := metav1.ObjectMeta{Name: "mpc-party-persistent-0", Namespace: "mpc-system", Labels: labels,
		OwnerReferences: []metav1.OwnerReference{{APIVersion: "apps/v1", Kind: "StatefulSet", Name: "mpc-party-persistent", Controller: ptr.To(true)}}}
	switch gvk.Kind {
	case "Pod":
		p := toMap(&corev1.Pod{TypeMeta: metav1.TypeMeta{APIVersion: "v1", Kind: "Pod"}, ObjectMeta: meta, Spec: spec})
		return object{gvk: podGVK, resource: "pods", operation: admission.Update, obj: p, old: p, user: requester}
	case "StatefulSet":
		if templates == nil {
			templates = []corev1.PersistentVolumeClaim{{ObjectMeta: metav1.ObjectMeta{Name: "shares0"},
				Spec: corev1.PersistentVolumeClaimSpec{DataSource: &corev1.TypedLocalObjectReference{Kind: "PersistentVolumeClaim", Name: "data-0"}}}}
		}
		m := toMap(&appsv1.StatefulSet{TypeMeta: metav1.TypeMeta{APIVersion: "apps/v1", Kind: "StatefulSet"},
			ObjectMeta: metav1.ObjectMeta{Name: "mpc-party-persistent", Namespace: "mpc-system"},
			Spec: appsv1.StatefulSetSpec{Replicas: ptr.To[int32](3), Template: corev1.PodTemplateSpec{ObjectMeta: metav1.ObjectMeta{Labels: labels},
				Spec: spec}, VolumeClaimTemplates: templates}})
		return object{gvk: statefulSetGVK, resource: "statefulsets", operation: admission.Update, obj: m, old: m, user: requester}
	case "Binding":
		b := toMap(&corev1.Binding{TypeMeta: metav1.TypeMeta{APIVersion: "v1", Kind: "Binding"},
			ObjectMeta: metav1.ObjectMeta{Name: "p", Namespace: "mpc-system", Labels: labels},
			Target:     corev1.ObjectReference{Kind: "Node", Name: "node-1"}})
		return object{gvk: gvk, resource: "pods", subresource: "binding", operation: admission.Create, obj: b, user: requester}
	case "PersistentVolumeClaim":
		c := toMap(&corev1.PersistentVolumeClaim{TypeMeta: metav1.TypeMeta{APIVersion: "v1", Kind: "PersistentVolumeClaim"},
			ObjectMeta: metav1.ObjectMeta{Name: "copy", Namespace: "mpc-system", Labels: labels},
			Spec: corev1.PersistentVolumeClaimSpec{
				DataSource:    &corev1.TypedLocalObjectReference{Kind: "PersistentVolumeClaim", Name: "shares-mpc-party-persistent-0"},
				DataSourceRef: &corev1.TypedObjectReference{Kind: "PersistentVolumeClaim", Name: "shares-mpc-party-persistent-0"}}})
		return object{gvk: gvk, resource: "persistentvolumeclaims", operation: admission.Create, obj: c, user: requester}
	case "VolumeSnapshot":
		s := map[string]any{"apiVersion": "snapshot.storage.k8s.io/v1", "kind": "VolumeSnapshot",
			"metadata": map[string]any{"name": "snap", "namespace": "mpc-system"},
			"spec":     map[string]any{"source": map[string]any{"persistentVolumeClaimName": "shares-mpc-party-persistent-0"}}}
		return object{gvk: gvk, resource: "volumesnapshots", operation: admission.Create, obj: s, user: requester}
	case "MPCSession":
		s := map[string]any{"apiVersion": "mpc.mpcguard.io/v1alpha1", "kind": "MPCSession",
			"metadata": map[string]any{"name": "sign-42", "namespace": "mpc-system"},
			"spec": map[string]any{"type": "sign", "threshold": map[string]any{"t": 2, "n": 3},
				"composition": map[string]any{"persistent": 2, "delegate": 1, "temporary": 0}}}
		return object{gvk: gvk, resource: "mpcsessions", operation: admission.Create, obj: s, user: requester}
	}
	panic("no object of kind " + gvk.Kind)
}

// shape is a large pod spec: build(n) has n of the items the shape repeats. fill makes n as large as the API
// server's request limit allows, unless fixed.
type shape struct {
	name            string
	fixed           int // n, when the shape is not filled up to the request limit
	build           func(n int) (corev1.PodSpec, []corev1.PersistentVolumeClaim)
	statefulSetOnly bool
}

func container(env []corev1.EnvVar) []corev1.Container {
	return []corev1.Container{{Name: "c", Image: "i", Env: env}}
}

// largeShapes are the large pod specs the cost is measured on: the pod that took the share-access policies past
// the per-expression limit before they walked the spec once, and for each list a policy walks, a spec that is
// nothing but that list, with small items the API server accepts, up to its 3 MiB request limit. Not among them:
// 262,111 env entries without a source (3 MiB) cost delegate-no-share-storage 524,620, within the limits, but
// take minutes to evaluate (policies/README.md, "CEL cost").
var largeShapes = sync.OnceValue(func() []shape {
	repeat := func(n int, f func(i int) corev1.Volume) []corev1.Volume {
		out := make([]corev1.Volume, n)
		for i := range out {
			out[i] = f(i)
		}
		return out
	}
	specOf := func(vols []corev1.Volume) (corev1.PodSpec, []corev1.PersistentVolumeClaim) {
		return corev1.PodSpec{Containers: container(nil), Volumes: vols}, nil
	}
	name := func(i int) string { return strconv.FormatInt(int64(i), 36) }
	return []shape{
		{name: "100 containers and init containers, 100 env and envFrom entries each, 500 volumes", fixed: 100,
			build: func(n int) (corev1.PodSpec, []corev1.PersistentVolumeClaim) { return podSpecOf(n), nil }},
		{name: "env entries reading a Secret", build: func(n int) (corev1.PodSpec, []corev1.PersistentVolumeClaim) {
			env := make([]corev1.EnvVar, n)
			for i := range env {
				env[i] = corev1.EnvVar{Name: "E", ValueFrom: &corev1.EnvVarSource{SecretKeyRef: &corev1.SecretKeySelector{
					LocalObjectReference: corev1.LocalObjectReference{Name: "s"}, Key: "k"}}}
			}
			return corev1.PodSpec{Containers: container(env)}, nil
		}},
		{name: "emptyDir volumes", build: func(n int) (corev1.PodSpec, []corev1.PersistentVolumeClaim) {
			return specOf(repeat(n, func(i int) corev1.Volume {
				return corev1.Volume{Name: name(i), VolumeSource: corev1.VolumeSource{EmptyDir: &corev1.EmptyDirVolumeSource{}}}
			}))
		}},
		{name: "hostPath volumes", build: func(n int) (corev1.PodSpec, []corev1.PersistentVolumeClaim) {
			return specOf(repeat(n, func(i int) corev1.Volume {
				return corev1.Volume{Name: name(i), VolumeSource: corev1.VolumeSource{HostPath: &corev1.HostPathVolumeSource{Path: "/"}}}
			}))
		}},
		{name: "claim volumes", build: func(n int) (corev1.PodSpec, []corev1.PersistentVolumeClaim) {
			return specOf(repeat(n, func(i int) corev1.Volume {
				return corev1.Volume{Name: name(i), VolumeSource: corev1.VolumeSource{PersistentVolumeClaim: &corev1.PersistentVolumeClaimVolumeSource{ClaimName: "shares-x"}}}
			}))
		}},
		{name: "ephemeral volumes cloning a claim", build: func(n int) (corev1.PodSpec, []corev1.PersistentVolumeClaim) {
			return specOf(repeat(n, func(i int) corev1.Volume {
				return corev1.Volume{Name: name(i), VolumeSource: corev1.VolumeSource{Ephemeral: &corev1.EphemeralVolumeSource{
					VolumeClaimTemplate: &corev1.PersistentVolumeClaimTemplate{Spec: corev1.PersistentVolumeClaimSpec{
						DataSource: &corev1.TypedLocalObjectReference{Kind: "PersistentVolumeClaim", Name: "shares-x"}}}}}}
			}))
		}},
		{name: "projected volume of Secret sources", build: func(n int) (corev1.PodSpec, []corev1.PersistentVolumeClaim) {
			sources := make([]corev1.VolumeProjection, n)
			for i := range sources {
				sources[i] = corev1.VolumeProjection{Secret: &corev1.SecretProjection{LocalObjectReference: corev1.LocalObjectReference{Name: "s"}}}
			}
			return specOf([]corev1.Volume{{Name: "p", VolumeSource: corev1.VolumeSource{Projected: &corev1.ProjectedVolumeSource{Sources: sources}}}})
		}},
		{name: "volumeClaimTemplates cloning a claim", statefulSetOnly: true, build: func(n int) (corev1.PodSpec, []corev1.PersistentVolumeClaim) {
			t := make([]corev1.PersistentVolumeClaim, n)
			for i := range t {
				t[i] = corev1.PersistentVolumeClaim{ObjectMeta: metav1.ObjectMeta{Name: name(i)},
					Spec: corev1.PersistentVolumeClaimSpec{DataSource: &corev1.TypedLocalObjectReference{Kind: "PersistentVolumeClaim", Name: "shares-x"}}}
			}
			return corev1.PodSpec{Containers: container(nil)}, t
		}},
	}
})

// fill is the shape's request of the kind with n as large as fits the API server's request limit
// (celconfig.MaxRequestSizeBytes of JSON), or n = fixed.
func (s shape) fill(gvk schema.GroupVersionKind) object {
	at := func(n int) object {
		spec, templates := s.build(n)
		o := objectOf(gvk, spec, labelsOf(1), templates)
		o.large, o.shape = true, s.name
		return o
	}
	size := func(o object) int64 {
		b, err := json.Marshal(o.obj)
		if err != nil {
			panic(err)
		}
		return int64(len(b))
	}
	if s.fixed > 0 {
		o := at(s.fixed)
		o.bytes = size(o)
		return o
	}
	// The size grows by about the same for each item: estimate n from two sizes, then step down until it fits.
	s1, s2 := size(at(1000)), size(at(2000))
	n := 1000 + int((celconfig.MaxRequestSizeBytes-s1)*1000/(s2-s1))
	for {
		o := at(n)
		if o.bytes = size(o); o.bytes <= celconfig.MaxRequestSizeBytes {
			o.shape = fmt.Sprintf("%d %s", n, s.name)
			return o
		}
		n -= n / 200
	}
}

func labelsOf(n int) map[string]string {
	l := map[string]string{"app.kubernetes.io/component": "mpc-party", "party-role": "persistent"}
	for i := range n - 1 {
		l[fmt.Sprintf("example.com/l%d", i)] = "v"
	}
	return l
}

var (
	podGVK         = schema.GroupVersionKind{Version: "v1", Kind: "Pod"}
	statefulSetGVK = schema.GroupVersionKind{Group: "apps", Version: "v1", Kind: "StatefulSet"}
)
