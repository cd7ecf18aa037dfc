package generator

import (
	"fmt"
	"sort"
	"strings"
)

// The values of the generated charts. These Go types are the single source of the commented values.yaml, of
// values.schema.json and of the values table in each chart's README (see package valuesdoc): the `doc` tag is
// the comment, `enum`, `minimum`, `maximum`, `pattern` and `not` constrain the schema. Every object rejects
// unknown keys.

// SystemValues are the values of the mpc-system chart.
type SystemValues struct {
	NameOverride     string              `json:"nameOverride" doc:"Replaces the chart name in the names of resources."`
	FullnameOverride string              `json:"fullnameOverride" doc:"Replaces the release-and-chart prefix of the names of resources."`
	Global           GlobalValues        `json:"global" doc:"Values shared with the mpcguard dependency, so that the labels on party pods and the selectors of the coordinator and the webhook can never disagree."`
	Threshold        ThresholdValues     `json:"threshold" doc:"Default t-of-n of a session: any t of the n parties can sign, and a session without composition uses n persistent parties (tss-lib's threshold parameter is t-1). The PodDisruptionBudget of the persistent pool keeps at least t persistent parties through voluntary evictions."`
	Coordinator      CoordinatorValues   `json:"coordinator" doc:"The session coordinator: it discovers party pods through the Kubernetes API."`
	Parties          PartiesValues       `json:"parties" doc:"Settings common to every party pool."`
	Pools            []PoolValues        `json:"pools" doc:"Party pools: exactly one persistent pool (a StatefulSet whose pod names are party ids) and any number of delegate or temporary pools (Deployments, no share storage). Workloads are named <release>-<pool name>. If you rename the persistent pool or its storage, update mpcguard.shareStorage and mpcguard.persistentWorkloads too (the chart refuses to render otherwise)."`
	Placement        PlacementValues     `json:"placement" doc:"Spreading parties over failure domains."`
	NetworkPolicy    NetworkPolicyValues `json:"networkPolicy" doc:"NetworkPolicies: parties accept traffic only from the coordinator and from each other, on the party port."`
	Tests            TestsValues         `json:"tests" doc:"Pods run by helm test."`
	Mpcguard         MpcguardSettings    `json:"mpcguard" doc:"The mpcguard dependency: the admission webhook that enforces party roles and session compositions. Its global.party values come from global above."`
}

// GlobalValues are shared by a parent chart and the mpcguard dependency.
type GlobalValues struct {
	Party PartyValues `json:"party" doc:"The party vocabulary, used to label party pods and given to the coordinator and the webhook."`
}

// PartyValues are the role label key and the party selector.
type PartyValues struct {
	RoleLabelKey string `json:"roleLabelKey" doc:"Label key carrying a party's role: persistent, delegate or temporary." pattern:"^([a-z0-9]([-a-z0-9]*[a-z0-9])?(\\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*/)?[A-Za-z0-9]([-A-Za-z0-9_.]*[A-Za-z0-9])?$"`
	Selector     string `json:"selector" doc:"Equality-based label selector (k=v[,k=v]) that makes a pod a party pod: party pods are labelled with it, the coordinator discovers what it matches and the webhook checks it." pattern:"^[^=,\\s]+=[^=,\\s]+(,[^=,\\s]+=[^=,\\s]+)*$"`
}

// ThresholdValues is t-of-n.
type ThresholdValues struct {
	T int32 `json:"t" doc:"How many parties must take part to sign." minimum:"1"`
	N int32 `json:"n" doc:"How many parties hold a share of a key." minimum:"1"`
}

// ImageValues is an image pinned by tag or digest.
type ImageValues struct {
	Repository string `json:"repository" doc:"Image repository." pattern:"^[^:@\\s]+(:[0-9]+)?(/[^:@\\s]+)*$"`
	Tag        string `json:"tag" doc:"Image tag; never latest." not:"latest"`
	Digest     string `json:"digest" doc:"Image digest (sha256:...); takes precedence over the tag." pattern:"^(sha256:[a-f0-9]{64})?$"`
	PullPolicy string `json:"pullPolicy" doc:"Image pull policy." enum:"IfNotPresent,Always,Never"`
}

// ResourcesValues are a container's requests and limits.
type ResourcesValues struct {
	Requests ResourceListValues `json:"requests" doc:"Resource requests."`
	Limits   ResourceListValues `json:"limits" doc:"Resource limits."`
}

// ResourceListValues are CPU and memory quantities.
type ResourceListValues struct {
	CPU    string `json:"cpu" doc:"CPU quantity." pattern:"^[0-9]+(\\.[0-9]+)?m?$"`
	Memory string `json:"memory" doc:"Memory quantity." pattern:"^[0-9]+(\\.[0-9]+)?([EPTGMk]i?)?$"`
}

// ServiceAccountValues configure a component's ServiceAccount.
type ServiceAccountValues struct {
	Create bool   `json:"create" doc:"Create the ServiceAccount."`
	Name   string `json:"name" doc:"Name of the ServiceAccount; generated from the full name when empty."`
}

// RBACValues switch a component's Roles.
type RBACValues struct {
	Create bool `json:"create" doc:"Create the namespaced Roles and RoleBindings (never a ClusterRole)."`
}

// CoordinatorValues are the session coordinator's.
type CoordinatorValues struct {
	Replicas       int32                  `json:"replicas" doc:"Coordinator replicas." minimum:"1"`
	Image          ImageValues            `json:"image" doc:"Coordinator image."`
	Ports          CoordinatorPortsValues `json:"ports" doc:"Coordinator ports."`
	Discovery      DiscoveryValues        `json:"discovery" doc:"Party discovery."`
	ServiceAccount ServiceAccountValues   `json:"serviceAccount" doc:"The coordinator's ServiceAccount (its token is mounted: it calls the API)."`
	RBAC           RBACValues             `json:"rbac" doc:"Discovery RBAC: get, list and watch on pods, services and endpointslices, in the release namespace and each discovery namespace."`
	Resources      ResourcesValues        `json:"resources" doc:"Coordinator resources."`
}

// CoordinatorPortsValues are the coordinator's ports.
type CoordinatorPortsValues struct {
	HTTP int32 `json:"http" doc:"HTTP port, serving /health." minimum:"1" maximum:"65535"`
	GRPC int32 `json:"grpc" doc:"gRPC port." minimum:"1" maximum:"65535"`
}

// DiscoveryValues configure party discovery.
type DiscoveryValues struct {
	Interval   string   `json:"interval" doc:"How often the coordinator refreshes the party pool (MPC_PARTY_DISCOVERY_INTERVAL)." pattern:"^([0-9]+(\\.[0-9]+)?(ns|us|ms|s|m|h))+$"`
	Namespaces []string `json:"namespaces" doc:"Extra namespaces to discover parties in; each gets its own Role and RoleBinding." pattern:"^[a-z0-9]([-a-z0-9]*[a-z0-9])?$"`
}

// PartiesValues are common to every pool.
type PartiesValues struct {
	Image      ImageValues `json:"image" doc:"Party image."`
	Port       int32       `json:"port" doc:"Party gRPC port (MPC_PARTY_GRPC_PORT), the only port NetworkPolicies open." minimum:"1" maximum:"65535"`
	HealthPort int32       `json:"healthPort" doc:"Port serving /health." minimum:"1" maximum:"65535"`
}

// PoolValues are one party pool.
type PoolValues struct {
	Name         string              `json:"name" doc:"Pool name, unique; part of workload and pod names." pattern:"^[a-z0-9]([-a-z0-9]*[a-z0-9])?$"`
	Role         string              `json:"role" doc:"Role of the pool's parties." enum:"persistent,delegate,temporary"`
	Replicas     int32               `json:"replicas" doc:"Parties in the pool." minimum:"1"`
	Resources    ResourcesValues     `json:"resources" doc:"Party resources."`
	ShareStorage *ShareStorageValues `json:"shareStorage,omitempty" doc:"Share storage of a persistent pool: exactly one of volumeClaim or databaseSecret. Delegate and temporary pools have none."`
}

// ShareStorageValues are where a persistent pool keeps key shares.
type ShareStorageValues struct {
	VolumeClaim    *VolumeClaimValues    `json:"volumeClaim,omitempty" doc:"A volumeClaimTemplate per party."`
	DatabaseSecret *DatabaseSecretValues `json:"databaseSecret,omitempty" doc:"A Secret holding the share database's connection string."`
}

// VolumeClaimValues are a volumeClaimTemplate.
type VolumeClaimValues struct {
	Name             string `json:"name" doc:"Name of the volumeClaimTemplate." pattern:"^[a-z0-9]([-a-z0-9]*[a-z0-9])?$"`
	Size             string `json:"size" doc:"Requested storage." pattern:"^[0-9]+(\\.[0-9]+)?([EPTGMk]i?)?$"`
	StorageClassName string `json:"storageClassName" doc:"Storage class; the cluster default when empty."`
	MountPath        string `json:"mountPath" doc:"Where the shares are mounted." pattern:"^/"`
}

// DatabaseSecretValues reference the database Secret.
type DatabaseSecretValues struct {
	Name string `json:"name" doc:"Secret name." pattern:"^[a-z0-9]([-a-z0-9.]*[a-z0-9])?$"`
	Key  string `json:"key" doc:"Key in the Secret." pattern:"^[-._a-zA-Z0-9]+$"`
	Env  string `json:"env" doc:"Environment variable receiving the value." pattern:"^[A-Za-z_][A-Za-z0-9_]*$"`
}

// PlacementValues spread parties.
type PlacementValues struct {
	Persistent PersistentPlacementValues `json:"persistent" doc:"Placement of persistent parties."`
	Delegate   DelegatePlacementValues   `json:"delegate" doc:"Placement of delegate and temporary parties."`
}

// PersistentPlacementValues place persistent parties.
type PersistentPlacementValues struct {
	PodAntiAffinity string           `json:"podAntiAffinity" doc:"Pod anti-affinity among the pool's parties on kubernetes.io/hostname: required keeps two shares off one node." enum:"required,preferred,none"`
	ZoneSpread      ZoneSpreadValues `json:"zoneSpread" doc:"Topology spread over topology.kubernetes.io/zone."`
}

// ZoneSpreadValues are a topology spread constraint.
type ZoneSpreadValues struct {
	Enabled           bool   `json:"enabled" doc:"Spread persistent parties over zones."`
	MaxSkew           int32  `json:"maxSkew" doc:"Maximum difference of party counts between zones." minimum:"1"`
	WhenUnsatisfiable string `json:"whenUnsatisfiable" doc:"What the scheduler does when the spread cannot be met." enum:"ScheduleAnyway,DoNotSchedule"`
}

// DelegatePlacementValues place delegate and temporary parties.
type DelegatePlacementValues struct {
	PodAntiAffinity string `json:"podAntiAffinity" doc:"Pod anti-affinity among a pool's parties on kubernetes.io/hostname." enum:"preferred,none"`
}

// NetworkPolicyValues switch NetworkPolicies.
type NetworkPolicyValues struct {
	Enabled bool `json:"enabled" doc:"Create the NetworkPolicies."`
}

// TestsValues configure the helm test pods.
type TestsValues struct {
	Image ImageValues `json:"image" doc:"Image of the test pods (needs sh, nc and wget)."`
}

// MpcguardValues are the values of the mpcguard chart.
type MpcguardValues struct {
	Global           GlobalValues `json:"global" doc:"The party vocabulary; a parent chart's global values take precedence, so its pods and this webhook agree."`
	MpcguardSettings `json:",inline"`
}

// MpcguardSettings are the mpcguard chart's own values (all but global).
type MpcguardSettings struct {
	Enabled          bool              `json:"enabled" doc:"Install the admission side; the condition of the dependency in a parent chart."`
	NameOverride     string            `json:"nameOverride" doc:"Replaces the chart name in the names of resources."`
	FullnameOverride string            `json:"fullnameOverride" doc:"Replaces the release-and-chart prefix of the names of resources."`
	Image            ImageValues       `json:"image" doc:"Webhook image (runs mpcguard webhook)."`
	Webhook          WebhookValues     `json:"webhook" doc:"The validating admission webhook."`
	ShareStorage     ShareStorageNames `json:"shareStorage" doc:"The persistent pool's share storage, which delegate and temporary parties must not mount. Entries are rendered with tpl. With neither Secret names nor claim prefixes, the share-storage policies check nothing (NOTES says which)."`
	// Webhook arguments, comma-joined: no entry may contain a comma. persistentWorkloads is rendered with tpl, so
	// a parent chart derives it from its release and pools.
	PersistentWorkloads []string             `json:"persistentWorkloads" doc:"Names of the StatefulSets of the persistent pool, in the release namespace: only their pods, created by a controller user, may be persistent parties (--persistent-workloads; party-persistent-origin). Empty: the pods of any StatefulSet, still created by a controller user. Entries are rendered with tpl." pattern:"^[^,]+$"`
	ControllerUsers     []string             `json:"controllerUsers" doc:"Identities that create the pods of a StatefulSet (--controller-users): the StatefulSet controller's ServiceAccount under kube-controller-manager --use-service-account-credentials, kube-controller-manager otherwise." pattern:"^[^,\"]+$"`
	BreakGlassGroups    []string             `json:"breakGlassGroups" doc:"Groups whose members may exec, attach, port-forward or proxy into a persistent party, or add a debug container to one (--break-glass-groups; party-access). Nobody is in them until a cluster admin grants it, typically by impersonation (kubectl --as-group), which the audit log records. Empty: nobody may." pattern:"^[^,\"]+$"`
	Threshold           GuardThresholdValues `json:"threshold" doc:"The threshold of the MPC system the webhook guards."`
	NetworkPolicy       NetworkPolicyValues  `json:"networkPolicy" doc:"A NetworkPolicy admitting traffic to the webhook only on its port."`
	Tests               TestsValues          `json:"tests" doc:"Pods run by helm test."`
}

// GuardThresholdValues is the t the webhook keeps the persistent pool at.
type GuardThresholdValues struct {
	T int32 `json:"t" doc:"The t of t-of-n: no UPDATE of a persistent StatefulSet's replicas, and no scale through its scale subresource, takes it below t (--threshold-t; persistent-quorum). The mpc-system chart requires it to equal its own threshold.t. 0 checks nothing." minimum:"0"`
}

// ShareStorageNames name the share storage.
type ShareStorageNames struct {
	SecretNames   []string `json:"secretNames" doc:"Names of the Secrets holding shares (--share-secret-names)."`
	ClaimPrefixes []string `json:"claimPrefixes" doc:"Prefixes <volumeClaimTemplate>-<statefulset>- of the share PersistentVolumeClaims (--share-claim-prefixes)."`
}

// WebhookValues configure the admission webhook.
type WebhookValues struct {
	Replicas       int32                `json:"replicas" doc:"Webhook replicas; two or more with failurePolicy Fail." minimum:"1"`
	FailurePolicy  string               `json:"failurePolicy" doc:"What the API server does when the webhook cannot be reached." enum:"Fail,Ignore"`
	TimeoutSeconds int32                `json:"timeoutSeconds" doc:"Admission timeout." minimum:"1" maximum:"30"`
	Namespaces     []string             `json:"namespaces" doc:"Namespaces checked besides the release namespace; never kube-system." pattern:"^[a-z0-9]([-a-z0-9]*[a-z0-9])?$"`
	URL            string               `json:"url" doc:"URL of a webhook running outside the cluster (https://host:port/validate); when set, no webhook Deployment is installed." pattern:"^(https://[^\\s]+)?$"`
	CABundle       string               `json:"caBundle" doc:"Base64 PEM CA bundle for url."`
	Port           int32                `json:"port" doc:"HTTPS port of the webhook server." minimum:"1" maximum:"65535"`
	HealthPort     int32                `json:"healthPort" doc:"Port serving /healthz and /readyz." minimum:"1" maximum:"65535"`
	MetricsPort    int32                `json:"metricsPort" doc:"Port serving /metrics." minimum:"1" maximum:"65535"`
	Inventory      bool                 `json:"inventory" doc:"Cache party pods for session-persistent-available (get, list and watch on pods in the checked namespaces)."`
	Enforcement    map[string]string    `json:"enforcement" doc:"Enforcement action per policy id: deny, warn or off (--enforcement); unlisted policies deny."` // ids and actions from vocab: see policySchema
	CertManager    CertManagerValues    `json:"certManager" doc:"Serving certificate."`
	ServiceAccount ServiceAccountValues `json:"serviceAccount" doc:"The webhook's ServiceAccount."`
	RBAC           RBACValues           `json:"rbac" doc:"Roles for the pod inventory and the audit, one per checked namespace."`
	Resources      ResourcesValues      `json:"resources" doc:"Webhook resources."`
	Audit          AuditValues          `json:"audit" doc:"The periodic audit of existing objects, run by the webhook on one replica at a time."`
}

// AuditValues configure the webhook's periodic audit of the objects already in the checked namespaces.
type AuditValues struct {
	Interval   string `json:"interval" doc:"How often the webhook audits the existing pods, workloads, PersistentVolumeClaims and MPCSessions of the checked namespaces (--audit-interval), on the one replica holding a Lease; empty or 0s turns the audit off and installs none of its Roles." pattern:"^(0|0s|([0-9]+(\\.[0-9]+)?(ns|us|ms|s|m|h))+)?$"`
	Reports    bool   `json:"reports" doc:"Keep an openreports.io/v1alpha1 Report named mpcguard-audit in each checked namespace (what Policy Reporter and Kyverno's tooling read)."`
	ReportsCRD string `json:"reportsCRD" doc:"The openreports.io Report CRD: auto installs it unless the cluster already serves openreports.io/v1alpha1 from a CRD this release does not own (Kyverno or Policy Reporter installed it), always installs it, never leaves it to you. It is kept on uninstall (helm.sh/resource-policy: keep): other tools' Reports live in it." enum:"auto,always,never"`
}

// CertManagerValues choose the certificate source.
type CertManagerValues struct {
	Enabled bool `json:"enabled" doc:"Use a cert-manager Issuer and Certificate, the CA injected by cert-manager; otherwise a self-signed CA is generated at install and kept across upgrades."`
}

// FormatSelector renders a label map as an equality-based selector, keys sorted.
func FormatSelector(sel map[string]string) string {
	keys := make([]string, 0, len(sel))
	for k := range sel {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	parts := make([]string, 0, len(keys))
	for _, k := range keys {
		parts = append(parts, fmt.Sprintf("%s=%s", k, sel[k]))
	}
	return strings.Join(parts, ",")
}
