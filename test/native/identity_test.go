package native

import (
	"fmt"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/utils/ptr"

	"github.com/mpcguard/mpcguard/policies/vocab"
)

// identity is who a request is sent as: the administrator (nil), or an impersonated user. Every impersonated
// user is also in system:masters, so RBAC never refuses it and only admission decides.
type identity struct {
	user   string
	groups []string
}

// The identities of the requests that read request.userInfo: the StatefulSet controller (both forms of
// vocab.DefaultControllerUsers), a user, and a user breaking glass.
var (
	statefulSetController = &identity{user: vocab.DefaultControllerUsers[0]}
	controllerManager     = &identity{user: vocab.DefaultControllerUsers[1]}
	alice                 = &identity{user: "alice"}
	aliceBreakingGlass    = &identity{user: "alice", groups: []string{vocab.DefaultBreakGlassGroup}}
)

func (i *identity) String() string {
	switch {
	case i == nil:
		return "admin"
	case len(i.groups) > 0:
		return fmt.Sprintf("%s%v", i.user, i.groups)
	}
	return i.user
}

// unboundPod is the pod the Bindings bind: it names a scheduler that does not run, so it stays unbound and
// every dry-run Binding of it is decided by admission alone.
const unboundPod = "unbound"

// owner is a controller owner reference of the given kind and name.
func owner(kind, name string) []metav1.OwnerReference {
	apiVersion := "apps/v1"
	return []metav1.OwnerReference{{APIVersion: apiVersion, Kind: kind, Name: name, UID: "00000000-0000-0000-0000-000000000001",
		Controller: ptr.To(true)}}
}

// originRequests: party pods of each role created with each controller owner (the pool's StatefulSet, another
// StatefulSet, a ReplicaSet, an owner reference that is not the controller, none) by each identity.
func originRequests(c *corpus) {
	i := 0
	owners := map[string][]metav1.OwnerReference{
		"StatefulSet " + sharePool: owner("StatefulSet", sharePool),
		"StatefulSet other":        owner("StatefulSet", "mpc-other"),
		"ReplicaSet":               owner("ReplicaSet", "mpc-rs"),
		"not controller":           {{APIVersion: "apps/v1", Kind: "StatefulSet", Name: sharePool, UID: "00000000-0000-0000-0000-000000000002"}},
		"none":                     nil,
	}
	for _, who := range []*identity{nil, statefulSetController, controllerManager, alice} {
		for _, ownerName := range []string{"StatefulSet " + sharePool, "StatefulSet other", "ReplicaSet", "not controller", "none"} {
			for _, sel := range []string{"match", "none"} {
				for _, role := range []string{"persistent", "delegate"} {
					i++
					p := pod(fmt.Sprintf("o%d", i), labelsFor(sel, role), "none")
					p.OwnerReferences = owners[ownerName]
					c.requests = append(c.requests, request{as: who,
						name:   fmt.Sprintf("CREATE Pod as %s owner=%s selector=%s role=%s", who, ownerName, sel, role),
						method: "POST", path: podPath(""), body: mustJSON(p)})
				}
			}
		}
	}
}

// bindingRequests: Bindings of an unbound pod, through pods/binding and the legacy bindings resource, with and
// without the role label or a party selector label (in labels, or only in annotations).
func bindingRequests(c *corpus, node string) {
	p := pod(unboundPod, map[string]string{"app": "mpc"}, "none")
	p.Spec.SchedulerName = "mpcguard-no-such-scheduler"
	c.setup = append(c.setup, request{name: "unbound pod", method: "POST", path: podPath(""), body: mustJSON(p)})
	variants := map[string]map[string]string{
		"none":               nil,
		"other label":        {"example.com/rack": "r1"},
		"role label":         {"party-role": "persistent"},
		"invalid role label": {"party-role": "admin"},
		"selector label":     {"app.kubernetes.io/component": "mpc-party"},
		"selector of other":  {"app.kubernetes.io/component": "coordinator"},
		"both":               {"party-role": "persistent", "app.kubernetes.io/component": "mpc-party"},
	}
	for _, name := range []string{"none", "other label", "role label", "invalid role label", "selector label", "selector of other", "both"} {
		for _, where := range []string{"labels", "annotations"} {
			if where == "annotations" && variants[name] == nil {
				continue
			}
			b := corev1.Binding{TypeMeta: metav1.TypeMeta{APIVersion: "v1", Kind: "Binding"},
				ObjectMeta: metav1.ObjectMeta{Name: unboundPod, Namespace: ns},
				Target:     corev1.ObjectReference{Kind: "Node", Name: node}}
			if where == "labels" {
				b.Labels = variants[name]
			} else {
				b.Annotations = variants[name]
			}
			c.requests = append(c.requests,
				request{name: fmt.Sprintf("CREATE pods/binding %s %s", where, name), method: "POST",
					path: podPath("/" + unboundPod + "/binding"), body: mustJSON(b)},
				request{name: fmt.Sprintf("CREATE bindings %s %s", where, name), method: "POST",
					path: "/api/v1/namespaces/" + ns + "/bindings", body: mustJSON(b)})
		}
	}
}

// sources are the data sources a claim can be filled from: a share claim, claims that only look like one, a
// snapshot named as a share claim.
var sources = map[string]*corev1.TypedLocalObjectReference{
	"share claim":            {Kind: "PersistentVolumeClaim", Name: shareClaimPrefix + "0"},
	"share claim 12":         {Kind: "PersistentVolumeClaim", Name: shareClaimPrefix + "12"},
	"claim not ordinal":      {Kind: "PersistentVolumeClaim", Name: shareClaimPrefix + "x0"},
	"other claim":            {Kind: "PersistentVolumeClaim", Name: "data-0"},
	"snapshot of share name": {Kind: "VolumeSnapshot", APIGroup: ptr.To("snapshot.storage.k8s.io"), Name: shareClaimPrefix + "0"},
	"none":                   nil,
}

var sourceNames = []string{"share claim", "share claim 12", "claim not ordinal", "other claim", "snapshot of share name", "none"}

func claimSpec(source string, ref bool) corev1.PersistentVolumeClaimSpec {
	spec := corev1.PersistentVolumeClaimSpec{AccessModes: []corev1.PersistentVolumeAccessMode{corev1.ReadWriteOnce},
		Resources: corev1.VolumeResourceRequirements{Requests: corev1.ResourceList{corev1.ResourceStorage: resource.MustParse("1Gi")}}}
	s := sources[source]
	switch {
	case s == nil:
	case ref:
		spec.DataSourceRef = &corev1.TypedObjectReference{APIGroup: s.APIGroup, Kind: s.Kind, Name: s.Name}
	default:
		spec.DataSource = s
	}
	return spec
}

const snapshotsPath = "/apis/snapshot.storage.k8s.io/v1/namespaces/" + ns + "/volumesnapshots"

// copyRequests: claims cloning each source (through dataSource or dataSourceRef) and snapshots of each claim,
// by a user and by a user breaking glass; pods, Deployments and StatefulSets whose generic ephemeral volumes
// or volumeClaimTemplates clone each source.
func copyRequests(c *corpus) {
	i := 0
	for _, who := range []*identity{nil, aliceBreakingGlass} {
		for _, src := range sourceNames {
			for _, ref := range []bool{false, true} {
				if src == "none" && ref {
					continue
				}
				i++
				claim := corev1.PersistentVolumeClaim{TypeMeta: metav1.TypeMeta{APIVersion: "v1", Kind: "PersistentVolumeClaim"},
					ObjectMeta: metav1.ObjectMeta{Name: fmt.Sprintf("c%d", i), Namespace: ns}, Spec: claimSpec(src, ref)}
				field := "dataSource"
				if ref {
					field = "dataSourceRef"
				}
				c.requests = append(c.requests, request{as: who,
					name:   fmt.Sprintf("CREATE PersistentVolumeClaim as %s %s=%s", who, field, src),
					method: "POST", path: "/api/v1/namespaces/" + ns + "/persistentvolumeclaims", body: mustJSON(claim)})
			}
		}
		for _, claim := range []string{shareClaimPrefix + "0", shareClaimPrefix + "x0", "data-0", sharePool} {
			i++
			snap := map[string]any{"apiVersion": "snapshot.storage.k8s.io/v1", "kind": "VolumeSnapshot",
				"metadata": map[string]any{"name": fmt.Sprintf("snap%d", i), "namespace": ns},
				"spec":     map[string]any{"source": map[string]any{"persistentVolumeClaimName": claim}}}
			c.requests = append(c.requests, request{as: who,
				name:   fmt.Sprintf("CREATE VolumeSnapshot as %s of %s", who, claim),
				method: "POST", path: snapshotsPath, body: mustJSON(snap)})
		}
	}
	for _, src := range sourceNames {
		spec := claimSpec(src, false)
		eph := podSpec("none")
		eph.Volumes = append(eph.Volumes, corev1.Volume{Name: "scratch", VolumeSource: corev1.VolumeSource{
			Ephemeral: &corev1.EphemeralVolumeSource{VolumeClaimTemplate: &corev1.PersistentVolumeClaimTemplate{Spec: spec}}}})
		for _, who := range []*identity{nil, aliceBreakingGlass} {
			i++
			c.requests = append(c.requests, request{as: who,
				name:   fmt.Sprintf("CREATE Pod as %s with an ephemeral volume from %s", who, src),
				method: "POST", path: podPath(""), body: mustJSON(&corev1.Pod{TypeMeta: metav1.TypeMeta{APIVersion: "v1", Kind: "Pod"},
					ObjectMeta: metav1.ObjectMeta{Name: fmt.Sprintf("e%d", i), Namespace: ns, Labels: map[string]string{"app": "mpc"}}, Spec: eph})})
		}
		for _, kind := range []string{"Deployment", "StatefulSet"} {
			i++
			path, obj := workload(kind, fmt.Sprintf("ew%d", i), map[string]string{"app": "mpc"}, eph, false, 1)
			c.requests = append(c.requests, request{name: fmt.Sprintf("CREATE %s with an ephemeral volume from %s", kind, src),
				method: "POST", path: path, body: mustJSON(obj)})
		}
		i++
		path, obj := workload("StatefulSet", fmt.Sprintf("vw%d", i), map[string]string{"app": "mpc"}, podSpec("none"), true, 1)
		obj.(*appsv1.StatefulSet).Spec.VolumeClaimTemplates[0].Spec = spec
		c.requests = append(c.requests, request{name: "CREATE StatefulSet with a volumeClaimTemplate from " + src,
			method: "POST", path: path, body: mustJSON(obj)})
	}
}
