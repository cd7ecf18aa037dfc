package bench

import (
	"encoding/json"
	"fmt"
	"slices"

	admissionv1 "k8s.io/api/admission/v1"
	appsv1 "k8s.io/api/apps/v1"
	authenticationv1 "k8s.io/api/authentication/v1"
	batchv1 "k8s.io/api/batch/v1"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/apimachinery/pkg/util/intstr"
	"k8s.io/utils/ptr"

	"github.com/mpcguard/mpcguard/internal/api/v1alpha1"
)

// Item is one AdmissionReview of a mix, serialized once and sent as is.
type Item struct {
	// Name says what the review is, e.g. "Pod CREATE party, no role".
	Name string
	// UID is the request's uid; every answer must carry it back.
	UID string
	// Body is the admission.k8s.io/v1 AdmissionReview.
	Body []byte
	// WantAllowed is what the policies decide with the default configuration: no denial.
	WantAllowed bool
	// WantDenied are the ids of the policies that deny it with the default configuration, sorted and without
	// repeats: a review built to break a policy must be denied by that policy, not by another one by accident.
	WantDenied []string
}

const namespace = "mpc-system"

// The labels a party pod carries in the seeds: the chart's recommended labels, the party selector's
// component, and the role label.
func partyLabels(role string) map[string]string {
	l := map[string]string{
		"app.kubernetes.io/name":       "mpc-party",
		"app.kubernetes.io/instance":   "mpc-system",
		"app.kubernetes.io/component":  "mpc-party",
		"app.kubernetes.io/part-of":    "mpc-system",
		"app.kubernetes.io/managed-by": "Helm",
		"helm.sh/chart":                "mpc-system-0.1.0",
	}
	if role != "" {
		l["party-role"] = role
	}
	return l
}

// podSpec is a realistic party pod spec (about 3 KB of JSON with its metadata): one container with ports,
// environment, probes, resources and a restricted security context; the share claim, a projected token and
// a config map as volumes.
func podSpec(claim string) corev1.PodSpec {
	probe := func(path string) *corev1.Probe {
		return &corev1.Probe{ProbeHandler: corev1.ProbeHandler{HTTPGet: &corev1.HTTPGetAction{
			Path: path, Port: intstr.FromString("http")}}, PeriodSeconds: 10, TimeoutSeconds: 2, FailureThreshold: 3}
	}
	vols := []corev1.Volume{
		{Name: "config", VolumeSource: corev1.VolumeSource{ConfigMap: &corev1.ConfigMapVolumeSource{
			LocalObjectReference: corev1.LocalObjectReference{Name: "mpc-party-config"}}}},
		{Name: "kube-api-access", VolumeSource: corev1.VolumeSource{Projected: &corev1.ProjectedVolumeSource{
			Sources: []corev1.VolumeProjection{
				{ServiceAccountToken: &corev1.ServiceAccountTokenProjection{Path: "token", ExpirationSeconds: ptr.To[int64](3607)}},
				{ConfigMap: &corev1.ConfigMapProjection{LocalObjectReference: corev1.LocalObjectReference{Name: "kube-root-ca.crt"},
					Items: []corev1.KeyToPath{{Key: "ca.crt", Path: "ca.crt"}}}},
			}}}},
	}
	mounts := []corev1.VolumeMount{
		{Name: "config", MountPath: "/etc/mpc", ReadOnly: true},
		{Name: "kube-api-access", MountPath: "/var/run/secrets/kubernetes.io/serviceaccount", ReadOnly: true},
	}
	if claim != "" {
		vols = append(vols, corev1.Volume{Name: "share-data", VolumeSource: corev1.VolumeSource{
			PersistentVolumeClaim: &corev1.PersistentVolumeClaimVolumeSource{ClaimName: claim}}})
		mounts = append(mounts, corev1.VolumeMount{Name: "share-data", MountPath: "/var/lib/mpc"})
	}
	return corev1.PodSpec{
		ServiceAccountName:            "mpc-party",
		Volumes:                       vols,
		TerminationGracePeriodSeconds: ptr.To[int64](30),
		SecurityContext: &corev1.PodSecurityContext{RunAsNonRoot: ptr.To(true), RunAsUser: ptr.To[int64](65532),
			FSGroup: ptr.To[int64](65532), SeccompProfile: &corev1.SeccompProfile{Type: corev1.SeccompProfileTypeRuntimeDefault}},
		Containers: []corev1.Container{{
			Name:  "party",
			Image: "ghcr.io/example/mpc-party:v1.4.2",
			Args:  []string{"--listen=:8080", "--p2p-listen=:7000", "--config=/etc/mpc/party.yaml"},
			Ports: []corev1.ContainerPort{{Name: "http", ContainerPort: 8080}, {Name: "p2p", ContainerPort: 7000}},
			Env: []corev1.EnvVar{
				{Name: "MPC_PARTY_LABEL_SELECTOR", Value: "app.kubernetes.io/component=mpc-party"},
				{Name: "MPC_ROLE_LABEL", Value: "party-role"},
				{Name: "POD_NAME", ValueFrom: &corev1.EnvVarSource{FieldRef: &corev1.ObjectFieldSelector{FieldPath: "metadata.name"}}},
				{Name: "POD_NAMESPACE", ValueFrom: &corev1.EnvVarSource{FieldRef: &corev1.ObjectFieldSelector{FieldPath: "metadata.namespace"}}},
				{Name: "POD_IP", ValueFrom: &corev1.EnvVarSource{FieldRef: &corev1.ObjectFieldSelector{FieldPath: "status.podIP"}}},
			},
			Resources: corev1.ResourceRequirements{
				Requests: corev1.ResourceList{corev1.ResourceCPU: resource.MustParse("250m"), corev1.ResourceMemory: resource.MustParse("256Mi")},
				Limits:   corev1.ResourceList{corev1.ResourceMemory: resource.MustParse("512Mi")},
			},
			VolumeMounts:   mounts,
			LivenessProbe:  probe("/healthz"),
			ReadinessProbe: probe("/readyz"),
			SecurityContext: &corev1.SecurityContext{AllowPrivilegeEscalation: ptr.To(false), ReadOnlyRootFilesystem: ptr.To(true),
				Capabilities: &corev1.Capabilities{Drop: []corev1.Capability{"ALL"}}},
			ImagePullPolicy: corev1.PullIfNotPresent,
		}},
		Affinity: &corev1.Affinity{PodAntiAffinity: &corev1.PodAntiAffinity{
			PreferredDuringSchedulingIgnoredDuringExecution: []corev1.WeightedPodAffinityTerm{{Weight: 100,
				PodAffinityTerm: corev1.PodAffinityTerm{TopologyKey: "topology.kubernetes.io/zone",
					LabelSelector: &metav1.LabelSelector{MatchLabels: map[string]string{"app.kubernetes.io/component": "mpc-party"}}}}}}},
	}
}

func pod(name, generateName string, labels map[string]string, claim string) *corev1.Pod {
	return &corev1.Pod{
		TypeMeta: metav1.TypeMeta{APIVersion: "v1", Kind: "Pod"},
		ObjectMeta: metav1.ObjectMeta{Name: name, GenerateName: generateName, Namespace: namespace, Labels: labels,
			Annotations: map[string]string{"checksum/config": "5f1c0a2e9b7d4c3a8e6f0b1d2c3e4f5a6b7c8d9e0f1a2b3c4d5e6f7a8b9c0d1e"}},
		Spec: podSpec(claim),
	}
}

// ownedBy makes p a pod of a controller (its ownerReference with controller: true).
func ownedBy(p *corev1.Pod, kind, name string) *corev1.Pod {
	p.OwnerReferences = []metav1.OwnerReference{{APIVersion: "apps/v1", Kind: kind, Name: name,
		UID: "6f1d2c3b-4a5e-4f60-8a7b-9c0d1e2f3a4b", Controller: ptr.To(true), BlockOwnerDeletion: ptr.To(true)}}
	return p
}

func template(labels map[string]string) corev1.PodTemplateSpec {
	return corev1.PodTemplateSpec{ObjectMeta: metav1.ObjectMeta{Labels: labels}, Spec: podSpec("")}
}

func selector() *metav1.LabelSelector {
	return &metav1.LabelSelector{MatchLabels: map[string]string{"app.kubernetes.io/component": "mpc-party",
		"app.kubernetes.io/instance": "mpc-system"}}
}

func deployment(name string, labels map[string]string) *appsv1.Deployment {
	return &appsv1.Deployment{
		TypeMeta:   metav1.TypeMeta{APIVersion: "apps/v1", Kind: "Deployment"},
		ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: namespace, Labels: labels},
		Spec:       appsv1.DeploymentSpec{Replicas: ptr.To[int32](2), Selector: selector(), Template: template(labels)},
	}
}

func statefulSet(name string, labels map[string]string) *appsv1.StatefulSet {
	return &appsv1.StatefulSet{
		TypeMeta:   metav1.TypeMeta{APIVersion: "apps/v1", Kind: "StatefulSet"},
		ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: namespace, Labels: labels},
		Spec: appsv1.StatefulSetSpec{Replicas: ptr.To[int32](3), ServiceName: name, Selector: selector(),
			Template: template(labels),
			VolumeClaimTemplates: []corev1.PersistentVolumeClaim{{
				ObjectMeta: metav1.ObjectMeta{Name: "share-data"},
				Spec: corev1.PersistentVolumeClaimSpec{AccessModes: []corev1.PersistentVolumeAccessMode{corev1.ReadWriteOnce},
					Resources: corev1.VolumeResourceRequirements{Requests: corev1.ResourceList{corev1.ResourceStorage: resource.MustParse("1Gi")}}},
			}}},
	}
}

func session(name string, t, n int32, c *v1alpha1.Composition) *v1alpha1.MPCSession {
	return &v1alpha1.MPCSession{
		TypeMeta:   metav1.TypeMeta{APIVersion: v1alpha1.GroupVersion.String(), Kind: v1alpha1.Kind},
		ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: namespace},
		Spec:       v1alpha1.MPCSessionSpec{Type: v1alpha1.SessionSign, Threshold: v1alpha1.Threshold{T: t, N: n}, Composition: c},
	}
}

// review describes one request of a mix before it is serialized.
type review struct {
	name     string
	op       admissionv1.Operation
	gvk      metav1.GroupVersionKind
	resource string
	// subresource is the request's subResource ("status", "exec", ...); the resource is then pods.
	subresource string
	obj, old    any
	reqName     string // the request's name; empty for generateName pods, as the API server sends them
	dryRun      bool
	// user sends the request (default: the ReplicaSet controller, which creates most pods).
	user *authenticationv1.UserInfo
	// denied are the ids of the policies that deny the review with the default configuration.
	denied []string
}

// The identities that send the reviews.
var (
	replicaSetController = authenticationv1.UserInfo{Username: "system:serviceaccount:kube-system:replicaset-controller",
		UID: "3a0e7f52-1b9c-4f0d-9a8e-5c6d7e8f9a0b", Groups: []string{"system:serviceaccounts",
			"system:serviceaccounts:kube-system", "system:authenticated"}}
	statefulSetController = authenticationv1.UserInfo{Username: "system:serviceaccount:kube-system:statefulset-controller",
		UID: "7b1c2d3e-4f5a-4b6c-8d7e-9f0a1b2c3d4e", Groups: []string{"system:serviceaccounts",
			"system:serviceaccounts:kube-system", "system:authenticated"}}
	scheduler = authenticationv1.UserInfo{Username: "system:kube-scheduler", Groups: []string{"system:authenticated"}}
	// alice is an operator with no break-glass rights; bob has them for the day.
	alice = authenticationv1.UserInfo{Username: "alice@example.com", Groups: []string{"platform", "system:authenticated"}}
	bob   = authenticationv1.UserInfo{Username: "bob@example.com",
		Groups: []string{"platform", "mpcguard:break-glass", "system:authenticated"}}
)

var (
	podGVK         = metav1.GroupVersionKind{Version: "v1", Kind: "Pod"}
	deploymentGVK  = metav1.GroupVersionKind{Group: "apps", Version: "v1", Kind: "Deployment"}
	statefulSetGVK = metav1.GroupVersionKind{Group: "apps", Version: "v1", Kind: "StatefulSet"}
	cronJobGVK     = metav1.GroupVersionKind{Group: "batch", Version: "v1", Kind: "CronJob"}
	configMapGVK   = metav1.GroupVersionKind{Version: "v1", Kind: "ConfigMap"}
	sessionGVK     = metav1.GroupVersionKind{Group: v1alpha1.Group, Version: v1alpha1.Version, Kind: v1alpha1.Kind}
	bindingGVK     = metav1.GroupVersionKind{Version: "v1", Kind: "Binding"}
	execGVK        = metav1.GroupVersionKind{Version: "v1", Kind: "PodExecOptions"}
	proxyGVK       = metav1.GroupVersionKind{Version: "v1", Kind: "PodProxyOptions"}
	claimGVK       = metav1.GroupVersionKind{Version: "v1", Kind: "PersistentVolumeClaim"}
	snapshotGVK    = metav1.GroupVersionKind{Group: "snapshot.storage.k8s.io", Version: "v1", Kind: "VolumeSnapshot"}
)

// Mix is the load: party pods allowed (valid roles, the persistent one created by the StatefulSet controller)
// and denied (no role, bad role), a pod that is no party, a role-changing UPDATE, Deployments and StatefulSets
// with a party template allowed and denied, and MPCSessions allowed and denied (empty composition, delegates
// reaching the threshold).
func Mix() ([]Item, error) {
	persistent := ownedBy(pod("mpc-party-persistent-0", "", partyLabels("persistent"), "share-data-mpc-party-persistent-0"),
		"StatefulSet", "mpc-party-persistent")
	coordinator := pod("mpc-coordinator-7d9f8b6c5-x2x4k", "", map[string]string{
		"app.kubernetes.io/name": "mpc-coordinator", "app.kubernetes.io/component": "coordinator"}, "")
	return build("mix", []review{
		{name: "Pod CREATE party persistent", op: admissionv1.Create, gvk: podGVK, resource: "pods",
			obj: persistent, user: &statefulSetController},
		{name: "Pod CREATE party delegate (generateName)", op: admissionv1.Create, gvk: podGVK, resource: "pods",
			obj: pod("", "mpc-party-delegate-6b8c9d7f4-", partyLabels("delegate"), "")},
		{name: "Pod CREATE party, no role", op: admissionv1.Create, gvk: podGVK, resource: "pods",
			obj: pod("mpc-party-1", "", partyLabels(""), ""), denied: []string{"party-role-required"}},
		{name: "Pod CREATE party, bad role", op: admissionv1.Create, gvk: podGVK, resource: "pods",
			obj: pod("mpc-party-2", "", partyLabels("Persistent"), ""), denied: []string{"party-role-valid"}},
		{name: "Pod CREATE not a party", op: admissionv1.Create, gvk: podGVK, resource: "pods",
			obj: coordinator},
		{name: "Pod UPDATE role change", op: admissionv1.Update, gvk: podGVK, resource: "pods",
			obj: ownedBy(pod("mpc-party-persistent-0", "", partyLabels("delegate"), "share-data-mpc-party-persistent-0"),
				"StatefulSet", "mpc-party-persistent"),
			old: persistent, user: &alice, denied: []string{"party-role-immutable"}},
		{name: "Deployment CREATE party delegate", op: admissionv1.Create, gvk: deploymentGVK, resource: "deployments",
			obj: deployment("mpc-party-delegate", partyLabels("delegate")), user: &alice},
		{name: "Deployment CREATE party, no role", op: admissionv1.Create, gvk: deploymentGVK, resource: "deployments",
			obj: deployment("mpc-party-unlabelled", partyLabels("")), user: &alice, denied: []string{"workload-party-role"}},
		{name: "StatefulSet CREATE party persistent", op: admissionv1.Create, gvk: statefulSetGVK, resource: "statefulsets",
			obj: statefulSet("mpc-party-persistent", partyLabels("persistent")), user: &alice},
		{name: "StatefulSet CREATE party, bad role", op: admissionv1.Create, gvk: statefulSetGVK, resource: "statefulsets",
			obj: statefulSet("mpc-party-bad", partyLabels("signer")), user: &alice, denied: []string{"workload-party-role"}},
		{name: "MPCSession CREATE 2-of-3, 2 persistent + 1 delegate", op: admissionv1.Create, gvk: sessionGVK,
			resource: "mpcsessions", obj: session("sign-41", 2, 3, &v1alpha1.Composition{Persistent: 2, Delegate: 1}),
			user: &alice},
		{name: "MPCSession CREATE 2-of-3, no composition", op: admissionv1.Create, gvk: sessionGVK,
			resource: "mpcsessions", obj: session("sign-43", 2, 3, nil), user: &alice},
		{name: "MPCSession CREATE empty composition", op: admissionv1.Create, gvk: sessionGVK,
			resource: "mpcsessions", obj: session("sign-44", 2, 3, &v1alpha1.Composition{}), user: &alice,
			denied: []string{"session-composition-nonempty"}},
		{name: "MPCSession CREATE delegates reach t", op: admissionv1.Create, gvk: sessionGVK,
			resource: "mpcsessions", obj: session("sign-42", 2, 3, &v1alpha1.Composition{Persistent: 1, Delegate: 2}),
			user: &alice, denied: []string{"session-delegate-only-threshold"}},
	})
}

// shareEverywhere is a temporary party pod that reaches the share storage by every road the input adapter
// reads besides claim, secret and projected volumes, each road naming its own Secret: a hostPath, a CSI
// driver's and an azureFile's Secret, an init container's secretKeyRef, envFrom, and a generic ephemeral
// volume cloning a share claim.
func shareEverywhere() *corev1.Pod {
	p := pod("mpc-party-temporary-5", "", partyLabels("temporary"), "")
	p.Spec.Volumes = append(p.Spec.Volumes,
		corev1.Volume{Name: "node", VolumeSource: corev1.VolumeSource{HostPath: &corev1.HostPathVolumeSource{Path: "/var/lib/mpc"}}},
		corev1.Volume{Name: "vault", VolumeSource: corev1.VolumeSource{CSI: &corev1.CSIVolumeSource{Driver: "secrets-store.csi.k8s.io",
			NodePublishSecretRef: &corev1.LocalObjectReference{Name: "mpc-db-csi"}}}},
		corev1.Volume{Name: "azure", VolumeSource: corev1.VolumeSource{AzureFile: &corev1.AzureFileVolumeSource{
			SecretName: "mpc-db-azure", ShareName: "mpc"}}},
		corev1.Volume{Name: "scratch", VolumeSource: corev1.VolumeSource{Ephemeral: &corev1.EphemeralVolumeSource{
			VolumeClaimTemplate: &corev1.PersistentVolumeClaimTemplate{Spec: corev1.PersistentVolumeClaimSpec{
				AccessModes: []corev1.PersistentVolumeAccessMode{corev1.ReadWriteOnce},
				// dataSource and dataSourceRef name the same claim, as the API server fills one from the other.
				DataSource:    &corev1.TypedLocalObjectReference{Kind: "PersistentVolumeClaim", Name: "share-data-mpc-party-persistent-0"},
				DataSourceRef: &corev1.TypedObjectReference{Kind: "PersistentVolumeClaim", Name: "share-data-mpc-party-persistent-0"},
				Resources: corev1.VolumeResourceRequirements{Requests: corev1.ResourceList{
					corev1.ResourceStorage: resource.MustParse("1Gi")}}}}}}})
	p.Spec.InitContainers = []corev1.Container{{Name: "init", Image: "ghcr.io/example/mpc-party:v1.4.2",
		Env: []corev1.EnvVar{{Name: "DB_PASSWORD", ValueFrom: &corev1.EnvVarSource{SecretKeyRef: &corev1.SecretKeySelector{
			LocalObjectReference: corev1.LocalObjectReference{Name: "mpc-db-2"}, Key: "password"}}}}}}
	p.Spec.Containers[0].EnvFrom = []corev1.EnvFromSource{{SecretRef: &corev1.SecretEnvSource{
		LocalObjectReference: corev1.LocalObjectReference{Name: "mpc-db"}}}}
	return p
}

// EdgeCases are more reviews for the fidelity test: every path of the input adapter the mix does not take.
func EdgeCases() ([]Item, error) {
	cron := &batchv1.CronJob{
		TypeMeta:   metav1.TypeMeta{APIVersion: "batch/v1", Kind: "CronJob"},
		ObjectMeta: metav1.ObjectMeta{Name: "mpc-reshare", Namespace: namespace},
		Spec: batchv1.CronJobSpec{Schedule: "0 3 * * *", JobTemplate: batchv1.JobTemplateSpec{Spec: batchv1.JobSpec{
			Template: template(partyLabels(""))}}},
	}
	cm := &corev1.ConfigMap{TypeMeta: metav1.TypeMeta{APIVersion: "v1", Kind: "ConfigMap"},
		ObjectMeta: metav1.ObjectMeta{Name: "mpc-party-config", Namespace: namespace, Labels: partyLabels("")}}
	secretVolumes := pod("mpc-party-delegate-9", "", partyLabels("temporary"), "share-data-mpc-party-persistent-9")
	secretVolumes.Spec.Volumes = append(secretVolumes.Spec.Volumes,
		corev1.Volume{Name: "db", VolumeSource: corev1.VolumeSource{Secret: &corev1.SecretVolumeSource{SecretName: "mpc-db"}}},
		corev1.Volume{Name: "proj", VolumeSource: corev1.VolumeSource{Projected: &corev1.ProjectedVolumeSource{
			Sources: []corev1.VolumeProjection{{Secret: &corev1.SecretProjection{
				LocalObjectReference: corev1.LocalObjectReference{Name: "mpc-db-2"}}}}}}})
	noLabels := pod("", "", nil, "")

	persistent := ownedBy(pod("mpc-party-persistent-1", "", partyLabels("persistent"), "share-data-mpc-party-persistent-1"),
		"StatefulSet", "mpc-party-persistent")
	debugged := persistent.DeepCopy()
	debugged.Spec.EphemeralContainers = []corev1.EphemeralContainer{{EphemeralContainerCommon: corev1.EphemeralContainerCommon{
		Name: "debugger", Image: "busybox:1.36", Stdin: true, TTY: true}, TargetContainerName: "party"}}
	ready := persistent.DeepCopy()
	ready.Status = corev1.PodStatus{Phase: corev1.PodRunning, Conditions: []corev1.PodCondition{{Type: corev1.PodReady,
		Status: corev1.ConditionTrue}}}
	envReader := pod("mpc-backup-6c7d8e9f0-abcde", "", map[string]string{"app.kubernetes.io/name": "mpc-backup"}, "")
	envReader.Spec.Containers[0].EnvFrom = []corev1.EnvFromSource{{SecretRef: &corev1.SecretEnvSource{
		LocalObjectReference: corev1.LocalObjectReference{Name: "mpc-db"}}}}
	binding := func(labels map[string]string) *corev1.Binding {
		return &corev1.Binding{TypeMeta: metav1.TypeMeta{APIVersion: "v1", Kind: "Binding"},
			ObjectMeta: metav1.ObjectMeta{Name: "mpc-party-delegate-3", Namespace: namespace, Labels: labels},
			Target:     corev1.ObjectReference{APIVersion: "v1", Kind: "Node", Name: "node-1"}}
	}
	exec := &corev1.PodExecOptions{TypeMeta: metav1.TypeMeta{APIVersion: "v1", Kind: "PodExecOptions"},
		Stdin: true, Stdout: true, TTY: true, Container: "party", Command: []string{"sh"}}
	clone := &corev1.PersistentVolumeClaim{TypeMeta: metav1.TypeMeta{APIVersion: "v1", Kind: "PersistentVolumeClaim"},
		ObjectMeta: metav1.ObjectMeta{Name: "share-copy", Namespace: namespace},
		Spec: corev1.PersistentVolumeClaimSpec{AccessModes: []corev1.PersistentVolumeAccessMode{corev1.ReadWriteOnce},
			DataSource: &corev1.TypedLocalObjectReference{Kind: "PersistentVolumeClaim", Name: "share-data-mpc-party-persistent-2"},
			Resources: corev1.VolumeResourceRequirements{Requests: corev1.ResourceList{
				corev1.ResourceStorage: resource.MustParse("1Gi")}}}}
	// VolumeSnapshot is not in k8s.io/api: its JSON, as the external-snapshotter's CRD has it.
	snapshot := map[string]any{"apiVersion": "snapshot.storage.k8s.io/v1", "kind": "VolumeSnapshot",
		"metadata": map[string]any{"name": "share-snap", "namespace": namespace},
		"spec": map[string]any{"volumeSnapshotClassName": "csi-snapclass",
			"source": map[string]any{"persistentVolumeClaimName": "share-data-mpc-party-persistent-0"}}}
	// A session written around the schema (as a client that skips validation, or an older CRD, would).
	looseSession := map[string]any{"apiVersion": v1alpha1.GroupVersion.String(), "kind": v1alpha1.Kind,
		"metadata": map[string]any{"name": "sign-48", "namespace": namespace},
		"spec": map[string]any{"type": "sign", "threshold": map[string]any{"t": 2, "n": 3, "T": 1},
			"composition": map[string]any{"persistent": 1.5, "delegate": 1}}}
	finalized := session("sign-42", 2, 3, &v1alpha1.Composition{Persistent: 1, Delegate: 2})
	finalizing := finalized.DeepCopy()
	finalizing.Finalizers = []string{"mpc.mpcguard.io/cleanup"}
	clonedTemplate := statefulSet("mpc-party-persistent-copy", partyLabels("persistent"))
	clonedTemplate.Spec.VolumeClaimTemplates[0].Spec.DataSource = &corev1.TypedLocalObjectReference{
		Kind: "PersistentVolumeClaim", Name: "share-data-mpc-party-persistent-0"}

	return build("edge", []review{
		{name: "CronJob CREATE party template, no role", op: admissionv1.Create, gvk: cronJobGVK, resource: "cronjobs",
			obj: cron, user: &alice, denied: []string{"workload-party-role"}},
		{name: "ConfigMap CREATE (kind not reviewed)", op: admissionv1.Create, gvk: configMapGVK, resource: "configmaps",
			obj: cm},
		{name: "Pod DELETE party, no role (operation not reviewed)", op: admissionv1.Delete, gvk: podGVK, resource: "pods",
			old: pod("mpc-party-1", "", partyLabels(""), ""), reqName: "mpc-party-1"},
		{name: "Pod CREATE dry run, bad role, name only in the request", op: admissionv1.Create, gvk: podGVK,
			resource: "pods", obj: pod("", "", partyLabels("DELEGATE"), ""), reqName: "mpc-party-7", dryRun: true,
			denied: []string{"party-role-valid"}},
		{name: "Pod CREATE temporary with secret and projected secret volumes", op: admissionv1.Create, gvk: podGVK,
			resource: "pods", obj: secretVolumes},
		{name: "Pod CREATE party, no role, generateName only", op: admissionv1.Create, gvk: podGVK, resource: "pods",
			obj: pod("", "mpc-party-delegate-6b8c9d7f4-", partyLabels(""), ""), denied: []string{"party-role-required"}},
		{name: "Pod CREATE no labels, no name", op: admissionv1.Create, gvk: podGVK, resource: "pods",
			obj: noLabels},
		{name: "Pod UPDATE role removed", op: admissionv1.Update, gvk: podGVK, resource: "pods",
			obj: pod("mpc-party-3", "", partyLabels(""), ""), old: pod("mpc-party-3", "", partyLabels("persistent"), ""),
			user: &alice, denied: []string{"party-role-immutable", "party-role-required"}},
		{name: "Pod UPDATE unchanged role", op: admissionv1.Update, gvk: podGVK, resource: "pods",
			obj: pod("mpc-party-4", "", partyLabels("delegate"), ""), old: pod("mpc-party-4", "", partyLabels("delegate"), ""),
			user: &alice},
		{name: "StatefulSet CREATE party delegate whose claim template names the persistent pool's claims",
			op: admissionv1.Create, gvk: statefulSetGVK, resource: "statefulsets",
			obj: statefulSet("mpc-party-persistent", partyLabels("delegate")), user: &alice},
		{name: "MPCSession CREATE t > n, delegates reach t, counts off", op: admissionv1.Create, gvk: sessionGVK,
			resource: "mpcsessions", obj: session("sign-45", 4, 3, &v1alpha1.Composition{Persistent: 1, Delegate: 4}),
			user: &alice, denied: []string{"session-composition-sum", "session-delegate-only-threshold", "session-threshold-range"}},
		{name: "MPCSession UPDATE 1-of-1 temporary only", op: admissionv1.Update, gvk: sessionGVK,
			resource: "mpcsessions", obj: session("sign-46", 1, 1, &v1alpha1.Composition{Temporary: 1}),
			old: session("sign-46", 1, 1, nil), user: &alice, denied: []string{"session-delegate-only-threshold"}},
		{name: "MPCSession CREATE t=0", op: admissionv1.Create, gvk: sessionGVK,
			resource: "mpcsessions", obj: session("sign-47", 0, 2, nil), user: &alice,
			denied: []string{"session-threshold-range"}},
		{name: "MPCSession CREATE spec written around the schema", op: admissionv1.Create, gvk: sessionGVK,
			resource: "mpcsessions", obj: looseSession, user: &alice,
			denied: []string{"session-composition-sum", "session-spec-valid"}},
		{name: "MPCSession UPDATE spec unchanged, a finalizer removed (not checked)", op: admissionv1.Update,
			gvk: sessionGVK, resource: "mpcsessions", obj: finalized, old: finalizing, user: &alice},
		{name: "Pod CREATE persistent by a user, no controller", op: admissionv1.Create, gvk: podGVK, resource: "pods",
			obj: pod("mpc-party-persistent-9", "", partyLabels("persistent"), ""), user: &alice,
			denied: []string{"party-persistent-origin"}},
		{name: "Pod UPDATE pods/ephemeralcontainers, a debug container in a persistent party", op: admissionv1.Update,
			gvk: podGVK, resource: "pods", subresource: "ephemeralcontainers", obj: debugged, old: persistent,
			user: &alice, denied: []string{"party-access"}},
		{name: "Pod UPDATE pods/ephemeralcontainers, a debug container by break glass", op: admissionv1.Update,
			gvk: podGVK, resource: "pods", subresource: "ephemeralcontainers", obj: debugged, old: persistent, user: &bob},
		{name: "Pod UPDATE pods/status of a persistent party", op: admissionv1.Update, gvk: podGVK, resource: "pods",
			subresource: "status", obj: ready, old: persistent, user: &alice},
		{name: "Pod CREATE temporary reaching share storage by hostPath, CSI, azureFile, env, ephemeral clone",
			op: admissionv1.Create, gvk: podGVK, resource: "pods", obj: shareEverywhere(),
			denied: []string{"delegate-no-share-storage"}}, // the hostPath, without share storage named
		{name: "Pod CREATE not a party, envFrom a share Secret", op: admissionv1.Create, gvk: podGVK, resource: "pods",
			obj: envReader},
		{name: "Deployment CREATE persistent party template", op: admissionv1.Create, gvk: deploymentGVK,
			resource: "deployments", obj: deployment("mpc-party-persistent-too", partyLabels("persistent")), user: &alice,
			denied: []string{"party-persistent-origin"}},
		{name: "StatefulSet CREATE persistent whose claim template clones a share claim", op: admissionv1.Create,
			gvk: statefulSetGVK, resource: "statefulsets", obj: clonedTemplate, user: &alice},
		{name: "Binding CREATE setting the role label", op: admissionv1.Create, gvk: bindingGVK, resource: "pods",
			subresource: "binding", obj: binding(map[string]string{"party-role": "persistent"}), user: &alice,
			denied: []string{"party-binding-labels"}},
		{name: "Binding CREATE by the scheduler", op: admissionv1.Create, gvk: bindingGVK, resource: "pods",
			subresource: "binding", obj: binding(nil), user: &scheduler},
		{name: "CONNECT pods/exec (skipped without an inventory)", op: admissionv1.Connect, gvk: execGVK, resource: "pods",
			subresource: "exec", obj: exec, reqName: "mpc-party-persistent-0", user: &alice},
		{name: "CONNECT pods/proxy to scheme:name:port (skipped without an inventory)", op: admissionv1.Connect,
			gvk: proxyGVK, resource: "pods", subresource: "proxy", reqName: "https:mpc-party-persistent-0:8443", user: &alice,
			obj: &corev1.PodProxyOptions{TypeMeta: metav1.TypeMeta{APIVersion: "v1", Kind: "PodProxyOptions"}, Path: "/metrics"}},
		{name: "CONNECT pods/proxy to a name that does not split (skipped without an inventory)", op: admissionv1.Connect,
			gvk: proxyGVK, resource: "pods", subresource: "proxy", reqName: "ftp:mpc-party-persistent-0:21", user: &alice,
			obj: &corev1.PodProxyOptions{TypeMeta: metav1.TypeMeta{APIVersion: "v1", Kind: "PodProxyOptions"}}},
		{name: "PersistentVolumeClaim CREATE cloning a share claim", op: admissionv1.Create, gvk: claimGVK,
			resource: "persistentvolumeclaims", obj: clone, user: &alice},
		{name: "VolumeSnapshot CREATE of a share claim", op: admissionv1.Create, gvk: snapshotGVK,
			resource: "volumesnapshots", obj: snapshot, user: &alice},
	})
}

func build(prefix string, reviews []review) ([]Item, error) {
	items := make([]Item, len(reviews))
	for i, r := range reviews {
		uid := fmt.Sprintf("%s-%02d-0000-4000-8000-000000000000", prefix, i)
		req := &admissionv1.AdmissionRequest{
			UID:             types.UID(uid),
			Kind:            r.gvk,
			Resource:        metav1.GroupVersionResource{Group: r.gvk.Group, Version: r.gvk.Version, Resource: r.resource},
			RequestKind:     &r.gvk,
			RequestResource: &metav1.GroupVersionResource{Group: r.gvk.Group, Version: r.gvk.Version, Resource: r.resource},
			Name:            r.reqName,
			SubResource:     r.subresource,
			Namespace:       namespace,
			Operation:       r.op,
			UserInfo:        replicaSetController,
			DryRun:          ptr.To(r.dryRun),
		}
		if r.subresource != "" {
			req.RequestSubResource = r.subresource
		}
		if r.user != nil {
			req.UserInfo = *r.user
		}
		if r.reqName == "" {
			switch m := r.obj.(type) {
			case metav1.Object:
				req.Name = m.GetName()
			case map[string]any:
				req.Name = (&unstructured.Unstructured{Object: m}).GetName()
			}
		}
		for _, part := range []struct {
			obj any
			dst *runtime.RawExtension
		}{{r.obj, &req.Object}, {r.old, &req.OldObject}} {
			if part.obj == nil {
				continue
			}
			b, err := json.Marshal(part.obj)
			if err != nil {
				return nil, fmt.Errorf("encoding %s: %w", r.name, err)
			}
			part.dst.Raw = b
		}
		var opts any = &metav1.CreateOptions{TypeMeta: metav1.TypeMeta{APIVersion: "meta.k8s.io/v1", Kind: "CreateOptions"}}
		switch r.op {
		case admissionv1.Update:
			opts = &metav1.UpdateOptions{TypeMeta: metav1.TypeMeta{APIVersion: "meta.k8s.io/v1", Kind: "UpdateOptions"}}
		case admissionv1.Delete:
			opts = &metav1.DeleteOptions{TypeMeta: metav1.TypeMeta{APIVersion: "meta.k8s.io/v1", Kind: "DeleteOptions"}}
		case admissionv1.Connect:
			opts = nil // a CONNECT's options are its object
		}
		if opts != nil {
			b, err := json.Marshal(opts)
			if err != nil {
				return nil, fmt.Errorf("encoding the options of %s: %w", r.name, err)
			}
			req.Options.Raw = b
		}
		body, err := json.Marshal(&admissionv1.AdmissionReview{
			TypeMeta: metav1.TypeMeta{APIVersion: "admission.k8s.io/v1", Kind: "AdmissionReview"},
			Request:  req,
		})
		if err != nil {
			return nil, fmt.Errorf("encoding the review %s: %w", r.name, err)
		}
		denied := slices.Compact(slices.Sorted(slices.Values(r.denied)))
		items[i] = Item{Name: r.name, UID: uid, Body: body, WantAllowed: len(denied) == 0, WantDenied: denied}
	}
	return items, nil
}
