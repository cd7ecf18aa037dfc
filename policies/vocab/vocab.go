package vocab

import (
	"slices"
	"strings"
)

// Action is what a violated policy does to a request.
type Action string

// The enforcement actions.
const (
	Deny Action = "deny"
	Warn Action = "warn"
	Off  Action = "off"
)

// Actions lists the enforcement actions.
var Actions = []Action{Deny, Warn, Off}

// The roles a party can have. Persistent parties keep key shares in durable storage; the others are stateless.
const (
	RolePersistent = "persistent"
	RoleDelegate   = "delegate"
	RoleTemporary  = "temporary"
)

// Roles lists the valid roles, persistent first.
var Roles = []string{RolePersistent, RoleDelegate, RoleTemporary}

// The configuration defaults of design.md and of the charts.
const (
	DefaultRoleLabelKey  = "party-role"
	DefaultPartySelector = "app.kubernetes.io/component=mpc-party"
	// DefaultBreakGlassGroup is the group whose members may exec into a persistent party or add a debug
	// container to it. Nobody is in it until a cluster admin grants it, typically by impersonation
	// (kubectl --as-group), which the API server's audit log records.
	DefaultBreakGlassGroup = "mpcguard:break-glass"
	// BreakGlassAnnotation on a share PersistentVolumeClaim, a share Secret or a persistent StatefulSet says
	// why it is being deleted; with it, a member of the break-glass groups may delete the object
	// (share-deletion), and the reason is answered back as a warning, which the decision log records.
	BreakGlassAnnotation = "mpcguard.io/break-glass"
	// DefaultThreshold is the charts' default t: the persistent pool may not be scaled below it
	// (persistent-quorum).
	DefaultThreshold = 2
)

// DefaultControllerUsers are the identities that create the pods of a StatefulSet: the StatefulSet
// controller's ServiceAccount when kube-controller-manager runs with --use-service-account-credentials (the
// default of kubeadm and of managed clusters), and kube-controller-manager's own identity otherwise.
var DefaultControllerUsers = []string{
	"system:serviceaccount:kube-system:statefulset-controller",
	"system:kube-controller-manager",
}

// The policy ids. design.md fixes the first ten; the rest close the roads around them (policies/README.md).
const (
	PartyRoleRequired            = "party-role-required"
	PartyRoleValid               = "party-role-valid"
	PartyRoleImmutable           = "party-role-immutable"
	WorkloadPartyRole            = "workload-party-role"
	SessionCompositionNonempty   = "session-composition-nonempty"
	SessionDelegateOnlyThreshold = "session-delegate-only-threshold"
	SessionCompositionSum        = "session-composition-sum"
	SessionThresholdRange        = "session-threshold-range"
	SessionPersistentAvailable   = "session-persistent-available"
	DelegateNoShareStorage       = "delegate-no-share-storage"
	PartyPersistentOrigin        = "party-persistent-origin"
	PartyAccess                  = "party-access"
	PartyBindingLabels           = "party-binding-labels"
	ShareStorageCopy             = "share-storage-copy"
	ShareStoragePersistentOnly   = "share-storage-persistent-only"
	SessionSpecValid             = "session-spec-valid"
	PersistentQuorum             = "persistent-quorum"
	ShareDeletion                = "share-deletion"
)

// Policy describes one policy.
type Policy struct {
	ID string
	// Objects says what the policy looks at; Rule what it requires. Both are documentation (README, chart).
	Objects, Rule string
	// Inventory is true when the policy needs the webhook's cluster inventory; without it the check is
	// reported as skipped, never silently passed.
	Inventory bool
}

// Policies lists every built-in policy, in the order of the documentation.
var Policies = []Policy{
	{ID: PartyRoleRequired, Objects: "Pod matching the party selector", Rule: "carries the role label"},
	{ID: PartyRoleValid, Objects: "Pod matching the party selector", Rule: "the role is exactly one of the allowed roles"},
	{ID: PartyRoleImmutable, Objects: "Pod UPDATE (also through pods/status)", Rule: "a role label, once on a pod, cannot change or disappear, party selector or not; an invalid legacy role may only be corrected to a non-persistent role"},
	{ID: WorkloadPartyRole, Objects: "Deployment, StatefulSet, ReplicaSet, DaemonSet, Job, CronJob whose pod template matches the party selector", Rule: "the template carries a valid role"},
	{ID: SessionCompositionNonempty, Objects: "MPCSession", Rule: "a composition that is present is not empty"},
	{ID: SessionDelegateOnlyThreshold, Objects: "MPCSession", Rule: "delegate + temporary < t"},
	{ID: SessionCompositionSum, Objects: "MPCSession", Rule: "the counts add up to n"},
	{ID: SessionThresholdRange, Objects: "MPCSession", Rule: "1 <= t <= n"},
	{ID: SessionPersistentAvailable, Objects: "MPCSession CREATE, or UPDATE that changes the spec", Rule: "enough persistent parties are Ready in the namespace", Inventory: true},
	{ID: DelegateNoShareStorage, Objects: "delegate/temporary party Pod or workload template", Rule: "uses none of the persistent pool's share storage (volumes, env, CSI secrets, hostPath)"},
	{ID: PartyPersistentOrigin, Objects: "persistent party Pod or workload template", Rule: "a persistent party is created by a controller identity for one of the configured persistent StatefulSets; no pod becomes persistent by an UPDATE"},
	{ID: PartyAccess, Objects: "CONNECT to a persistent party pod (exec, attach, portforward, proxy); debug containers added to one", Rule: "only members of the break-glass groups", Inventory: true},
	{ID: PartyBindingLabels, Objects: "pods/binding", Rule: "a Binding sets neither the role label nor a party selector label"},
	{ID: ShareStorageCopy, Objects: "PersistentVolumeClaim, VolumeSnapshot, generic ephemeral volumes and volumeClaimTemplates", Rule: "no clone, restore or snapshot of share storage"},
	{ID: ShareStoragePersistentOnly, Objects: "Pod or workload template that is not a party", Rule: "uses none of the share storage: only persistent parties hold key shares"},
	{ID: SessionSpecValid, Objects: "MPCSession", Rule: "the spec is what the CRD schema says, read without trusting it (known type, whole non-negative counts, no unknown or case-variant keys)"},
	{ID: PersistentQuorum, Objects: "UPDATE of a persistent StatefulSet's spec.replicas, or of its scale subresource", Rule: "no change takes the persistent pool below the threshold t (or lowers it further once below)"},
	{ID: ShareDeletion, Objects: "DELETE of a share PersistentVolumeClaim, a share Secret or a persistent StatefulSet", Rule: "only members of the break-glass groups, on an object annotated " + BreakGlassAnnotation + ": <reason>; an allowed deletion is answered with a warning naming the reason, so the decision log records it"},
}

// PolicyIDs lists every built-in policy id, in the order of Policies.
func PolicyIDs() []string {
	out := make([]string, len(Policies))
	for i, p := range Policies {
		out[i] = p.ID
	}
	return out
}

// Known reports whether id is a built-in policy id.
func Known(id string) bool {
	return slices.ContainsFunc(Policies, func(p Policy) bool { return p.ID == id })
}

// ValidID reports whether s can be a policy id: lower-case words of letters and digits joined by "-", as the
// built-in ids and custom ids are spelled. The ids travel in messages, flags and metric labels.
func ValidID(s string) bool {
	if s == "" || len(s) > 63 || strings.HasPrefix(s, "-") || strings.HasSuffix(s, "-") || strings.Contains(s, "--") {
		return false
	}
	for _, r := range s {
		if (r < 'a' || r > 'z') && (r < '0' || r > '9') && r != '-' {
			return false
		}
	}
	return true
}

// Class says which part of the policy input an object fills, and so which Rego package decides it.
type Class string

// The classes, each the name of the Rego package (data.mpcguard.<class>) that decides its objects.
const (
	ClassPod      Class = "pod"
	ClassWorkload Class = "workload"
	ClassSession  Class = "session"
	ClassBinding  Class = "binding"
	ClassConnect  Class = "connect"
	ClassStorage  Class = "storage"
)

// Classes lists every class.
var Classes = []Class{ClassPod, ClassWorkload, ClassSession, ClassBinding, ClassConnect, ClassStorage}

// Kind is a group, version and kind the policies review.
type Kind struct {
	Group, Version, Kind string
	Class                Class
}

// The MPCSession API.
const (
	SessionGroup    = "mpc.mpcguard.io"
	SessionVersion  = "v1alpha1"
	SessionKind     = "MPCSession"
	SessionResource = "mpcsessions"
)

// Kinds lists the kinds of the objects the webhook is sent (request.kind), with their class. CONNECT requests
// carry the options of the subresource (PodExecOptions, ...), a Binding its own kind.
var Kinds = []Kind{
	{"", "v1", "Pod", ClassPod},
	{"apps", "v1", "Deployment", ClassWorkload},
	{"apps", "v1", "StatefulSet", ClassWorkload},
	{"apps", "v1", "ReplicaSet", ClassWorkload},
	{"apps", "v1", "DaemonSet", ClassWorkload},
	{"batch", "v1", "Job", ClassWorkload},
	{"batch", "v1", "CronJob", ClassWorkload},
	{SessionGroup, SessionVersion, SessionKind, ClassSession},
	{"", "v1", "Binding", ClassBinding},
	{"", "v1", "PodExecOptions", ClassConnect},
	{"", "v1", "PodAttachOptions", ClassConnect},
	{"", "v1", "PodPortForwardOptions", ClassConnect},
	{"", "v1", "PodProxyOptions", ClassConnect},
	{"", "v1", "PersistentVolumeClaim", ClassStorage},
	{"snapshot.storage.k8s.io", "v1", "VolumeSnapshot", ClassStorage},
	// The object of a statefulsets/scale request: its spec.replicas is the StatefulSet's.
	{"autoscaling", "v1", ScaleKind, ClassWorkload},
	// Only DELETE of a Secret is reviewed (share-deletion); its data is never read.
	{"", "v1", "Secret", ClassStorage},
}

// ScaleKind is the kind of a scale subresource's object, which carries replicas and no pod template.
const ScaleKind = "Scale"

// ClassOf returns the class of a group, version and kind, or "" when the policies do not review it.
func ClassOf(group, version, kind string) Class {
	for _, k := range Kinds {
		if k.Group == group && k.Version == version && k.Kind == kind {
			return k.Class
		}
	}
	return ""
}

// WorkloadKinds lists the kinds whose pod template the policies check (a Scale has none).
func WorkloadKinds() []string {
	var out []string
	for _, k := range Kinds {
		if k.Class == ClassWorkload && k.Kind != ScaleKind {
			out = append(out, k.Kind)
		}
	}
	return out
}

// Route is one rule of the ValidatingWebhookConfiguration: the resources (with subresources, as
// "pods/status") of one API group and version, and the operations sent for them.
type Route struct {
	// Webhook is the name of the webhook entry the rule belongs to (pods, workloads, storage, mpcsessions).
	Webhook    string
	Group      string
	Version    string
	Resources  []string
	Operations []string
}

// Routes are what the webhook must be sent. Every path that can change a party pod's labels, containers or
// volumes, reach into it, or copy share storage is here; policies/README.md says why every other pod
// subresource of Kubernetes v1.36 is harmless.
var Routes = []Route{
	{Webhook: "pods", Group: "", Version: "v1", Resources: []string{"pods"}, Operations: []string{"CREATE", "UPDATE"}},
	{Webhook: "pods", Group: "", Version: "v1", Resources: []string{"pods/status", "pods/ephemeralcontainers"}, Operations: []string{"UPDATE"}},
	// The legacy top-level bindings resource binds a pod as pods/binding does, labels included.
	{Webhook: "pods", Group: "", Version: "v1", Resources: []string{"pods/binding", "bindings"}, Operations: []string{"CREATE"}},
	{Webhook: "pods", Group: "", Version: "v1", Resources: []string{"pods/exec", "pods/attach", "pods/portforward", "pods/proxy"}, Operations: []string{"CONNECT"}},
	{Webhook: "workloads", Group: "apps", Version: "v1", Resources: []string{"deployments", "statefulsets", "replicasets", "daemonsets"}, Operations: []string{"CREATE", "UPDATE"}},
	// The persistent pool's size and existence: kubectl scale and autoscalers change spec.replicas through the
	// scale subresource (its PATCH arrives as UPDATE), and deleting the StatefulSet stops every party at once.
	{Webhook: "workloads", Group: "apps", Version: "v1", Resources: []string{"statefulsets/scale"}, Operations: []string{"UPDATE"}},
	{Webhook: "workloads", Group: "apps", Version: "v1", Resources: []string{"statefulsets"}, Operations: []string{"DELETE"}},
	{Webhook: "workloads", Group: "batch", Version: "v1", Resources: []string{"jobs", "cronjobs"}, Operations: []string{"CREATE", "UPDATE"}},
	{Webhook: "storage", Group: "", Version: "v1", Resources: []string{"persistentvolumeclaims"}, Operations: []string{"CREATE", "DELETE"}},
	// The webhook configuration's matchConditions send only the DELETE of the configured share Secrets.
	{Webhook: "storage", Group: "", Version: "v1", Resources: []string{"secrets"}, Operations: []string{"DELETE"}},
	{Webhook: "storage", Group: "snapshot.storage.k8s.io", Version: "v1", Resources: []string{"volumesnapshots"}, Operations: []string{"CREATE"}},
	{Webhook: "mpcsessions", Group: SessionGroup, Version: SessionVersion, Resources: []string{SessionResource}, Operations: []string{"CREATE", "UPDATE"}},
}

// SessionTypes are the values of an MPCSession's spec.type.
var SessionTypes = []string{"keygen", "sign", "reshare"}
