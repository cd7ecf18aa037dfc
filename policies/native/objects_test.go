package native_test

import (
	"encoding/json"
	"fmt"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/apiserver/pkg/admission"
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

// podSpecOf is a pod spec with n volumes of every kind the policies read and n containers with n env and
// envFrom entries each: n=1 is a typical party, n=largeN a pod near the API server's request limit, with every
// list the storage policies walk long.
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

// objectsOf returns a typical and a large request of the kind (none for a kind the table does not measure).
func objectsOf(gvk schema.GroupVersionKind) []object {
	var out []object
	for _, n := range []int{1, largeN} {
		large := n > 1
		meta := metav1.ObjectMeta{Name: "mpc-party-persistent-0", Namespace: "mpc-system", Labels: labelsOf(n),
			OwnerReferences: []metav1.OwnerReference{{APIVersion: "apps/v1", Kind: "StatefulSet", Name: "mpc-party-persistent", Controller: ptr.To(true)}}}
		switch gvk.Kind {
		case "Pod":
			p := toMap(&corev1.Pod{TypeMeta: metav1.TypeMeta{APIVersion: "v1", Kind: "Pod"}, ObjectMeta: meta, Spec: podSpecOf(n)})
			// An UPDATE that keeps the role: the policies then compare with the old pod as well.
			out = append(out, object{gvk: podGVK, resource: "pods", operation: admission.Update, obj: p, old: p, user: requester, large: large})
		case "StatefulSet":
			s := &appsv1.StatefulSet{TypeMeta: metav1.TypeMeta{APIVersion: "apps/v1", Kind: "StatefulSet"},
				ObjectMeta: metav1.ObjectMeta{Name: "mpc-party-persistent", Namespace: "mpc-system"},
				Spec: appsv1.StatefulSetSpec{Replicas: ptr.To[int32](3), Template: corev1.PodTemplateSpec{ObjectMeta: metav1.ObjectMeta{Labels: labelsOf(n)},
					Spec: podSpecOf(n)}}}
			for i := range n {
				s.Spec.VolumeClaimTemplates = append(s.Spec.VolumeClaimTemplates, corev1.PersistentVolumeClaim{
					ObjectMeta: metav1.ObjectMeta{Name: fmt.Sprintf("shares%d", i)},
					Spec:       corev1.PersistentVolumeClaimSpec{DataSource: &corev1.TypedLocalObjectReference{Kind: "PersistentVolumeClaim", Name: "data-0"}}})
			}
			m := toMap(s)
			out = append(out, object{gvk: statefulSetGVK, resource: "statefulsets", operation: admission.Update, obj: m, old: m, user: requester, large: large})
		case "Binding":
			b := toMap(&corev1.Binding{TypeMeta: metav1.TypeMeta{APIVersion: "v1", Kind: "Binding"},
				ObjectMeta: metav1.ObjectMeta{Name: "p", Namespace: "mpc-system", Labels: labelsOf(n * 25)},
				Target:     corev1.ObjectReference{Kind: "Node", Name: "node-1"}})
			out = append(out, object{gvk: gvk, resource: "pods", subresource: "binding", operation: admission.Create, obj: b, user: requester, large: large})
		case "PersistentVolumeClaim":
			c := toMap(&corev1.PersistentVolumeClaim{TypeMeta: metav1.TypeMeta{APIVersion: "v1", Kind: "PersistentVolumeClaim"},
				ObjectMeta: metav1.ObjectMeta{Name: "copy", Namespace: "mpc-system", Labels: labelsOf(n)},
				Spec: corev1.PersistentVolumeClaimSpec{
					DataSource:    &corev1.TypedLocalObjectReference{Kind: "PersistentVolumeClaim", Name: "shares-mpc-party-persistent-0"},
					DataSourceRef: &corev1.TypedObjectReference{Kind: "PersistentVolumeClaim", Name: "shares-mpc-party-persistent-0"}}})
			out = append(out, object{gvk: gvk, resource: "persistentvolumeclaims", operation: admission.Create, obj: c, user: requester, large: large})
		case "VolumeSnapshot":
			s := map[string]any{"apiVersion": "snapshot.storage.k8s.io/v1", "kind": "VolumeSnapshot",
				"metadata": map[string]any{"name": "snap", "namespace": "mpc-system"},
				"spec":     map[string]any{"source": map[string]any{"persistentVolumeClaimName": "shares-mpc-party-persistent-0"}}}
			out = append(out, object{gvk: gvk, resource: "volumesnapshots", operation: admission.Create, obj: s, user: requester, large: large})
		case "MPCSession":
			s := map[string]any{"apiVersion": "mpc.mpcguard.io/v1alpha1", "kind": "MPCSession",
				"metadata": map[string]any{"name": "sign-42", "namespace": "mpc-system"},
				"spec": map[string]any{"type": "sign", "threshold": map[string]any{"t": 2, "n": 3},
					"composition": map[string]any{"persistent": 2, "delegate": 1, "temporary": 0}}}
			out = append(out, object{gvk: gvk, resource: "mpcsessions", operation: admission.Create, obj: s, user: requester, large: large})
		}
	}
	return out
}

// largeN makes the large objects: a pod of 60 containers and 60 init containers, each with 60 env and envFrom
// entries, and 300 volumes is about 0.8 MB of JSON. At 100 (about 2.2 MB, still under the API server's 3 MiB
// request limit) delegate-no-share-storage's and share-storage-persistent-only's access variable exceeds the
// per-expression limit, so the policy fails and, failing closed, denies the pod: a known limit, see
// policies/README.md.
const largeN = 60
