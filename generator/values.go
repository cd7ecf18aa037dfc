package generator

// The values of the generated charts are the model of the MPC system: a spec given to `mpcguard generate` is
// a values file of the mpc-system chart, and the presets are values files (presets/). These Go types are the
// single source of the commented values.yaml, of values.schema.json and of the values table in each chart's
// README (see package valuesdoc). A field's doc comment is its documentation (values_docs.go holds them for
// the binary; `go generate ./generator` rewrites it and a test fails when it drifts); the tags `enum`,
// `minimum`, `maximum`, `maxLength`, `pattern`, `keyPattern` and `not` constrain the schema. Every object
// rejects unknown keys but for the free-form Kubernetes maps and lists (nodeSelector, tolerations, affinity,
// extraEnv, ...), whose content the API server validates.
//
// The rules that span fields (t <= n, exactly one persistent pool, the share storage that mpcguard is told
// of, ...) are not here: each is a `fail` in the charts' validation templates, which `mpcguard generate` runs
// by rendering the chart, so that one rule is checked both at generation and at `helm install`.

//go:generate go run ./internal/docgen -o values_docs.go values.go

// SystemValues are the values of the mpc-system chart.
type SystemValues struct {
	// Replaces the chart name in the names of resources.
	NameOverride string `json:"nameOverride"`
	// Replaces the release-and-chart prefix of the names of resources.
	FullnameOverride string `json:"fullnameOverride"`
	// Pull secrets of every pod of this chart (the webhook's: mpcguard.imagePullSecrets or
	// global.imagePullSecrets), before each workload's own.
	ImagePullSecrets []LocalObjectReference `json:"imagePullSecrets"`
	// Values shared with the mpcguard dependency, so that the labels on party pods and the selectors of the
	// coordinator and the webhook can never disagree.
	Global GlobalValues `json:"global"`
	// Default t-of-n of a session: any t of the n parties can sign, and a session without composition uses n
	// persistent parties (tss-lib's threshold parameter is t-1). The PodDisruptionBudget of the persistent pool
	// keeps at least t persistent parties through voluntary evictions.
	Threshold ThresholdValues `json:"threshold"`
	// The session coordinator: it discovers party pods through the Kubernetes API.
	Coordinator CoordinatorValues `json:"coordinator"`
	// Settings common to every party pool.
	Parties PartiesValues `json:"parties"`
	// Party pools by name (lowercase, at most 30 characters; --set pools.<name>.replicas=5): exactly one
	// persistent pool (a StatefulSet whose pod names are party ids) and any number of delegate or temporary
	// pools (Deployments, no share storage). Workloads are named <release>-<pool name>; a pool set to null is
	// removed. If you rename the persistent pool or its storage, update mpcguard.shareStorage and
	// mpcguard.persistentWorkloads too (the chart refuses to render otherwise, naming the values to write).
	Pools map[string]PoolValues `json:"pools" keyPattern:"^[a-z0-9]([-a-z0-9]*[a-z0-9])?$" maxLength:"30"`
	// Spreading parties over failure domains.
	Placement PlacementValues `json:"placement"`
	// NetworkPolicies, ingress and egress, for the coordinator and the parties, in the release namespace and in
	// each discovery namespace: parties accept only the coordinator and each other, on the party port; the
	// coordinator accepts only parties and its clients; each reaches only DNS, each other and (the coordinator)
	// the API server. Kubelet probes are not NetworkPolicy traffic on most CNIs (Calico, Cilium, and the kube-
	// router and Antrea defaults admit the node's own traffic to its pods).
	NetworkPolicy SystemNetworkPolicyValues `json:"networkPolicy"`
	// Pods run by helm test.
	Tests TestsValues `json:"tests"`
	// The mpcguard dependency: the admission webhook that enforces party roles and session compositions. Its
	// global.party values come from global above.
	Mpcguard MpcguardSettings `json:"mpcguard"`
}

// GlobalValues are shared by a parent chart and the mpcguard dependency.
type GlobalValues struct {
	// Registry of every image, replacing each image's registry (a mirror or a private registry).
	ImageRegistry string `json:"imageRegistry" pattern:"^([^/@\\s]+)?$"`
	// Pull secrets of every pod of the chart and of its dependency, before each workload's own.
	ImagePullSecrets []LocalObjectReference `json:"imagePullSecrets"`
	// The party vocabulary, used to label party pods and given to the coordinator and the webhook.
	Party PartyValues `json:"party"`
}

// PartyValues are the role label key and the party selector.
type PartyValues struct {
	// Label key carrying a party's role: persistent, delegate or temporary.
	RoleLabelKey string `json:"roleLabelKey" pattern:"^([a-z0-9]([-a-z0-9]*[a-z0-9])?(\\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*/)?[A-Za-z0-9]([-A-Za-z0-9_.]*[A-Za-z0-9])?$"`
	// Equality-based label selector (k=v[,k=v]) that makes a pod a party pod: party pods are labelled with it,
	// the coordinator discovers what it matches and the webhook checks it.
	Selector string `json:"selector" pattern:"^[^=,\\s]+=[^=,\\s]+(,[^=,\\s]+=[^=,\\s]+)*$"`
}

// ThresholdValues is t-of-n.
type ThresholdValues struct {
	// How many parties must take part to sign.
	T int32 `json:"t" minimum:"1"`
	// How many parties hold a share of a key.
	N int32 `json:"n" minimum:"1"`
}

// ImageValues is an image pinned by tag or digest: <registry>/<repository>@<digest> or :<tag>.
type ImageValues struct {
	// Image registry (host[:port]); global.imageRegistry replaces it. Empty: the repository names the image
	// alone.
	Registry string `json:"registry" pattern:"^([^/@\\s]+)?$"`
	// Image repository, without the registry.
	Repository string `json:"repository" pattern:"^[^:@\\s]+(:[0-9]+)?(/[^:@\\s]+)*$"`
	// Image tag; never latest.
	Tag string `json:"tag" not:"latest"`
	// Image digest (sha256:...); takes precedence over the tag.
	Digest string `json:"digest" pattern:"^(sha256:[a-f0-9]{64})?$"`
	// Image pull policy.
	PullPolicy string `json:"pullPolicy" enum:"IfNotPresent,Always,Never"`
}

// ResourcesValues are a container's requests and limits.
type ResourcesValues struct {
	// Resource requests.
	Requests ResourceListValues `json:"requests"`
	// Resource limits.
	Limits ResourceListValues `json:"limits"`
}

// ResourceListValues are CPU and memory quantities.
type ResourceListValues struct {
	// CPU quantity.
	CPU string `json:"cpu" pattern:"^[0-9]+(\\.[0-9]+)?m?$"`
	// Memory quantity.
	Memory string `json:"memory" pattern:"^[0-9]+(\\.[0-9]+)?([EPTGMk]i?)?$"`
}

// ServiceAccountValues configure a component's ServiceAccount.
type ServiceAccountValues struct {
	// Create the ServiceAccount.
	Create bool `json:"create"`
	// Name of the ServiceAccount; generated from the full name when empty.
	Name string `json:"name"`
	// Annotations of the ServiceAccount, e.g. eks.amazonaws.com/role-arn for IRSA or
	// iam.gke.io/gcp-service-account for GKE Workload Identity.
	Annotations map[string]string `json:"annotations"`
}

// LocalObjectReference names an object in the release namespace.
type LocalObjectReference struct {
	// Name of the object.
	Name string `json:"name" pattern:"^[a-z0-9]([-a-z0-9.]*[a-z0-9])?$"`
}

// PodValues are what an operator sets on the pods of a workload, named as in `helm create` and Bitnami's
// charts. The chart's own labels, environment, volumes, anti-affinity and security settings come first or
// win: these add to them and loosen nothing of Pod Security "restricted".
type PodValues struct {
	// Pull secrets of this workload's pods, after global.imagePullSecrets and the chart's imagePullSecrets.
	ImagePullSecrets []LocalObjectReference `json:"imagePullSecrets"`
	// Node labels the pods must match, e.g. dedicated nodes for key-holding parties.
	NodeSelector map[string]string `json:"nodeSelector"`
	// Tolerations of the pods (core/v1 Toleration).
	Tolerations []map[string]any `json:"tolerations"`
	// Affinity of the pods (core/v1 Affinity), merged with the chart's anti-affinity: nodeAffinity and
	// podAffinity are taken as given, podAntiAffinity terms are added to the chart's. The chart's own terms are
	// switched off only through placement.
	Affinity map[string]any `json:"affinity"`
	// Topology spread constraints (core/v1), added to the chart's zone spread.
	TopologySpreadConstraints []map[string]any `json:"topologySpreadConstraints"`
	// Annotations of the pods.
	PodAnnotations map[string]string `json:"podAnnotations"`
	// Labels of the pods, besides the chart's, which win; never the role label or a party selector label
	// (the chart refuses them: a label would make a pod a party, or change its role).
	PodLabels map[string]string `json:"podLabels"`
	// PriorityClass of the pods.
	PriorityClassName string `json:"priorityClassName" pattern:"^([a-z0-9]([-a-z0-9.]*[a-z0-9])?)?$"`
	// RuntimeClass of the pods, e.g. gvisor or kata for a sandboxed runtime; the cluster's default when empty.
	RuntimeClassName string `json:"runtimeClassName" pattern:"^([a-z0-9]([-a-z0-9.]*[a-z0-9])?)?$"`
	// The user, group and filesystem group the pods run as; never root.
	PodSecurityContext PodSecurityValues `json:"podSecurityContext"`
	// Environment variables (core/v1 EnvVar) of the main container, before the chart's, which win on a name
	// both set.
	ExtraEnv []map[string]any `json:"extraEnv"`
	// Volumes (core/v1 Volume) added to the pods; mpcguard's policies still apply to what they mount (a
	// delegate party mounting share storage is denied).
	ExtraVolumes []map[string]any `json:"extraVolumes"`
	// Volume mounts (core/v1 VolumeMount) added to the main container.
	ExtraVolumeMounts []map[string]any `json:"extraVolumeMounts"`
}

// PodSecurityValues are the identities a pod runs as, all non-root (65532 when not set): the rest of the
// security context is the chart's (Pod Security "restricted").
type PodSecurityValues struct {
	// User ID of the containers.
	RunAsUser *int64 `json:"runAsUser,omitempty" minimum:"1"`
	// Group ID of the containers.
	RunAsGroup *int64 `json:"runAsGroup,omitempty" minimum:"1"`
	// Group owning the pods' volumes.
	FSGroup *int64 `json:"fsGroup,omitempty" minimum:"1"`
}

// RBACValues switch a component's Roles.
type RBACValues struct {
	// Create the namespaced Roles and RoleBindings (never a ClusterRole).
	Create bool `json:"create"`
}

// CoordinatorValues are the session coordinator's.
type CoordinatorValues struct {
	// Coordinator replicas.
	Replicas int32 `json:"replicas" minimum:"1"`
	// Coordinator image.
	Image ImageValues `json:"image"`
	// Coordinator ports.
	Ports CoordinatorPortsValues `json:"ports"`
	// Party discovery.
	Discovery DiscoveryValues `json:"discovery"`
	// The coordinator's ServiceAccount (its token is mounted: it calls the API).
	ServiceAccount ServiceAccountValues `json:"serviceAccount"`
	// Discovery RBAC: get, list and watch on pods, services and endpointslices, in the release namespace and
	// each discovery namespace.
	RBAC RBACValues `json:"rbac"`
	// Coordinator resources.
	Resources ResourcesValues `json:"resources"`
	// Probes of the coordinator: startup and readiness on /health, liveness a TCP connect to the HTTP port.
	Probes ProbesValues `json:"probes"`
	// Who may reach the coordinator besides parties, and where else it may connect (networkPolicy.enabled).
	NetworkPolicy CoordinatorNetworkPolicyValues `json:"networkPolicy"`
	PodValues     `json:",inline" optional:"true"`
}

// CoordinatorNetworkPolicyValues widen the coordinator's NetworkPolicy.
type CoordinatorNetworkPolicyValues struct {
	// Peers (networking.k8s.io/v1 NetworkPolicyPeer) admitted to the coordinator's HTTP and gRPC ports: its
	// clients. A podSelector alone selects pods of the release namespace. The default admits pods labelled
	// mpc.mpcguard.io/coordinator-client: "true", which the chart's helm test pod carries (keep a peer that
	// admits it, or helm test fails). Parties are always admitted on the gRPC port.
	IngressFrom []map[string]any `json:"ingressFrom"`
	// Egress rules (networking.k8s.io/v1 NetworkPolicyEgressRule) added to the chart's (DNS, the API server,
	// parties), e.g. to a tracing collector.
	ExtraEgress []map[string]any `json:"extraEgress"`
}

// ProbesValues time a container's probes. The chart chooses the handlers: a startup probe and a readiness
// probe on /health, and a liveness probe that only connects to the HTTP port, which the kernel answers even
// while the process is too busy to serve /health. Readiness takes a pod out of its Services quickly; liveness
// restarts it only after a long silence, so a party busy in a session is never killed for being slow.
type ProbesValues struct {
	// Until it succeeds, the other probes wait: time to start (load shares, connect to the database).
	Startup ProbeValues `json:"startup"`
	// Restarts the container after failureThreshold failed connects, periodSeconds apart.
	Liveness ProbeValues `json:"liveness"`
	// Takes the pod out of its Services after failureThreshold failures of /health, periodSeconds apart.
	Readiness ProbeValues `json:"readiness"`
}

// ProbeValues are a probe's timing (core/v1 Probe).
type ProbeValues struct {
	// Seconds between two probes.
	PeriodSeconds int32 `json:"periodSeconds" minimum:"1"`
	// Seconds a probe may take.
	TimeoutSeconds int32 `json:"timeoutSeconds" minimum:"1"`
	// Consecutive failures that count as failed.
	FailureThreshold int32 `json:"failureThreshold" minimum:"1"`
}

// CoordinatorPortsValues are the coordinator's ports.
type CoordinatorPortsValues struct {
	// HTTP port, serving /health.
	HTTP int32 `json:"http" minimum:"1" maximum:"65535"`
	// gRPC port.
	GRPC int32 `json:"grpc" minimum:"1" maximum:"65535"`
}

// DiscoveryValues configure party discovery.
type DiscoveryValues struct {
	// How often the coordinator refreshes the party pool (MPC_PARTY_DISCOVERY_INTERVAL).
	Interval string `json:"interval" pattern:"^([0-9]+(\\.[0-9]+)?(ns|us|ms|s|m|h))+$"`
	// Extra namespaces to discover parties in; each gets its own Role and RoleBinding.
	Namespaces []string `json:"namespaces" pattern:"^[a-z0-9]([-a-z0-9]*[a-z0-9])?$"`
}

// PartiesValues are common to every pool.
type PartiesValues struct {
	// Party image.
	Image ImageValues `json:"image"`
	// Party gRPC port (MPC_PARTY_GRPC_PORT), the only port NetworkPolicies open.
	Port int32 `json:"port" minimum:"1" maximum:"65535"`
	// Port serving /health.
	HealthPort int32 `json:"healthPort" minimum:"1" maximum:"65535"`
	// Probes of every party: startup and readiness on /health, liveness a TCP connect to the health port.
	Probes ProbesValues `json:"probes"`
	// Where else parties may connect (networkPolicy.enabled).
	NetworkPolicy PartiesNetworkPolicyValues `json:"networkPolicy"`
	// The PodDisruptionBudget of the persistent pool (minAvailable is threshold.t).
	PodDisruptionBudget PodDisruptionBudgetValues `json:"podDisruptionBudget"`
}

// PartiesNetworkPolicyValues widen the parties' NetworkPolicies.
type PartiesNetworkPolicyValues struct {
	// Egress rules (networking.k8s.io/v1 NetworkPolicyEgressRule) added to the chart's (DNS, other parties, the
	// coordinator): the share database of a databaseSecret pool, for one. Without it such a pool cannot reach
	// its database (NOTES warns).
	ExtraEgress []map[string]any `json:"extraEgress"`
}

// PodDisruptionBudgetValues tune a PodDisruptionBudget.
type PodDisruptionBudgetValues struct {
	// When a pod that runs but is not Ready may be evicted: AlwaysAllow lets a drain evict a crash-looping pod
	// whatever the budget (it serves nothing the budget protects); IfHealthyBudget only while the budget holds,
	// so a drain can wait for ever on a pod that never becomes Ready. Readiness must therefore not fail merely
	// because a party is busy, which the chart's /health readiness probe does not.
	UnhealthyPodEvictionPolicy string `json:"unhealthyPodEvictionPolicy" enum:"AlwaysAllow,IfHealthyBudget"`
}

// PoolValues are one party pool.
type PoolValues struct {
	// Role of the pool's parties.
	Role string `json:"role" enum:"persistent,delegate,temporary"`
	// Parties in the pool.
	Replicas int32 `json:"replicas" minimum:"1"`
	// Party resources.
	Resources ResourcesValues `json:"resources"`
	// Share storage of a persistent pool: exactly one of volumeClaim or databaseSecret. Delegate and temporary
	// pools have none.
	ShareStorage *ShareStorageValues `json:"shareStorage,omitempty"`
	PodValues    `json:",inline" optional:"true"`
}

// ShareStorageValues are where a persistent pool keeps key shares.
type ShareStorageValues struct {
	// A volumeClaimTemplate per party.
	VolumeClaim *VolumeClaimValues `json:"volumeClaim,omitempty"`
	// A Secret holding the share database's connection string.
	DatabaseSecret *DatabaseSecretValues `json:"databaseSecret,omitempty"`
}

// VolumeClaimValues are a volumeClaimTemplate.
type VolumeClaimValues struct {
	// Name of the volumeClaimTemplate.
	Name string `json:"name" pattern:"^[a-z0-9]([-a-z0-9]*[a-z0-9])?$"`
	// Requested storage.
	Size string `json:"size" pattern:"^[0-9]+(\\.[0-9]+)?([EPTGMk]i?)?$"`
	// Storage class; the cluster default when empty.
	StorageClassName string `json:"storageClassName,omitempty"`
	// Where the shares are mounted.
	MountPath string `json:"mountPath" pattern:"^/"`
}

// DatabaseSecretValues reference the database Secret.
type DatabaseSecretValues struct {
	// Secret name.
	Name string `json:"name" pattern:"^[a-z0-9]([-a-z0-9.]*[a-z0-9])?$"`
	// Key in the Secret.
	Key string `json:"key" pattern:"^[-._a-zA-Z0-9]+$"`
	// Environment variable receiving the value.
	Env string `json:"env" pattern:"^[A-Za-z_][A-Za-z0-9_]*$"`
}

// PlacementValues spread parties.
type PlacementValues struct {
	// Placement of persistent parties.
	Persistent PersistentPlacementValues `json:"persistent"`
	// Placement of delegate and temporary parties.
	Delegate DelegatePlacementValues `json:"delegate"`
}

// PersistentPlacementValues place persistent parties.
type PersistentPlacementValues struct {
	// Pod anti-affinity among the pool's parties on kubernetes.io/hostname: required keeps two shares off one
	// node.
	PodAntiAffinity string `json:"podAntiAffinity" enum:"required,preferred,none"`
	// Topology spread over topology.kubernetes.io/zone.
	ZoneSpread ZoneSpreadValues `json:"zoneSpread"`
}

// ZoneSpreadValues are a topology spread constraint.
type ZoneSpreadValues struct {
	// Spread persistent parties over zones.
	Enabled bool `json:"enabled"`
	// Maximum difference of party counts between zones.
	MaxSkew int32 `json:"maxSkew" minimum:"1"`
	// What the scheduler does when the spread cannot be met.
	WhenUnsatisfiable string `json:"whenUnsatisfiable" enum:"ScheduleAnyway,DoNotSchedule"`
}

// DelegatePlacementValues place delegate and temporary parties.
type DelegatePlacementValues struct {
	// Pod anti-affinity among a pool's parties on kubernetes.io/hostname.
	PodAntiAffinity string `json:"podAntiAffinity" enum:"preferred,none"`
}

// NetworkPolicyValues switch NetworkPolicies.
type NetworkPolicyValues struct {
	// Create the NetworkPolicies.
	Enabled bool `json:"enabled"`
}

// SystemNetworkPolicyValues are the mpc-system chart's NetworkPolicies.
type SystemNetworkPolicyValues struct {
	// Create the NetworkPolicies: the coordinator's and the parties' in the release namespace, and the parties'
	// in each discovery namespace (like the discovery Roles, so the installing user needs rights there).
	Enabled bool `json:"enabled"`
	// Where pods resolve names.
	DNS DNSPolicyValues `json:"dns"`
	// Where the coordinator reaches the Kubernetes API to discover parties.
	APIServer APIServerPolicyValues `json:"apiServer"`
}

// DNSPolicyValues are the egress to cluster DNS.
type DNSPolicyValues struct {
	// Peers (networking.k8s.io/v1 NetworkPolicyPeer) serving DNS; the default is kube-dns/CoreDNS in
	// kube-system. Empty: any address on the DNS port (needed for a node-local DNS cache on a link-local
	// address, which no pod selector matches).
	To []map[string]any `json:"to"`
	// DNS port, over UDP and TCP.
	Port int32 `json:"port" minimum:"1" maximum:"65535"`
}

// APIServerPolicyValues are the coordinator's egress to the API server. A NetworkPolicy cannot select the API
// server by labels (it is no pod on most clusters), and most CNIs match the endpoint after the kubernetes
// Service is translated: give the addresses of `kubectl get endpointslices -n default -l
// kubernetes.io/service-name=kubernetes` and their port.
type APIServerPolicyValues struct {
	// CIDRs of the API server's endpoints, e.g. 10.0.0.10/32. Empty: any address on the ports below (NOTES
	// warns: the coordinator could reach anything listening on them).
	CIDRs []string `json:"cidrs" pattern:"^[0-9a-fA-F.:]+/[0-9]{1,3}$"`
	// Ports of the API server: 443 for the kubernetes Service and managed control planes, 6443 for kubeadm's
	// endpoints.
	Ports []int32 `json:"ports" minimum:"1" maximum:"65535"`
}

// TestsValues configure the helm test pods.
type TestsValues struct {
	// Image of the test pods (needs sh, nc and wget).
	Image ImageValues `json:"image"`
}

// MpcguardValues are the values of the mpcguard chart.
type MpcguardValues struct {
	// The party vocabulary; a parent chart's global values take precedence, so its pods and this webhook agree.
	Global           GlobalValues `json:"global"`
	MpcguardSettings `json:",inline"`
}

// MpcguardSettings are the mpcguard chart's own values (all but global).
type MpcguardSettings struct {
	// Install the admission side; the condition of the dependency in a parent chart.
	Enabled bool `json:"enabled"`
	// Replaces the chart name in the names of resources.
	NameOverride string `json:"nameOverride"`
	// Replaces the release-and-chart prefix of the names of resources.
	FullnameOverride string `json:"fullnameOverride"`
	// Webhook image (runs mpcguard webhook).
	Image ImageValues `json:"image"`
	// The validating admission webhook.
	Webhook WebhookValues `json:"webhook"`
	// A prometheus-operator ServiceMonitor scraping the webhook's /metrics, rendered only where the cluster
	// serves monitoring.coreos.com/v1.
	ServiceMonitor ServiceMonitorValues `json:"serviceMonitor"`
	// A prometheus-operator PrometheusRule alerting on the webhook's own metrics, rendered only where the
	// cluster serves monitoring.coreos.com/v1 PrometheusRule (helm template: --api-versions
	// monitoring.coreos.com/v1/PrometheusRule).
	PrometheusRule PrometheusRuleValues `json:"prometheusRule"`
	PodValues      `json:",inline" optional:"true"`
	// The persistent pool's share storage, which delegate and temporary parties must not mount. Entries are
	// rendered with tpl. With neither Secret names nor claim prefixes, the share-storage policies check nothing
	// (NOTES says which).
	ShareStorage ShareStorageNames `json:"shareStorage"`
	// Webhook arguments, comma-joined: no entry may contain a comma. persistentWorkloads is rendered with tpl, so
	// a parent chart derives it from its release and pools.
	// Names of the StatefulSets of the persistent pool, in the release namespace: only their pods, created by a
	// controller user, may be persistent parties (--persistent-workloads; party-persistent-origin). Empty: the
	// pods of any StatefulSet, still created by a controller user. Entries are rendered with tpl.
	PersistentWorkloads []string `json:"persistentWorkloads" pattern:"^[^,]+$"`
	// Identities that create the pods of a StatefulSet (--controller-users): the StatefulSet controller's
	// ServiceAccount under kube-controller-manager --use-service-account-credentials, kube-controller-manager
	// otherwise.
	ControllerUsers []string `json:"controllerUsers" pattern:"^[^,\"]+$"`
	// Groups whose members may exec, attach, port-forward or proxy into a persistent party, or add a debug
	// container to one (--break-glass-groups; party-access). Nobody is in them until a cluster admin grants it,
	// typically by impersonation (kubectl --as-group), which the audit log records. Empty: nobody may.
	BreakGlassGroups []string `json:"breakGlassGroups" pattern:"^[^,\"]+$"`
	// The threshold of the MPC system the webhook guards.
	Threshold GuardThresholdValues `json:"threshold"`
	// A NetworkPolicy admitting traffic to the webhook only on its port.
	NetworkPolicy NetworkPolicyValues `json:"networkPolicy"`
	// Pods run by helm test.
	Tests TestsValues `json:"tests"`
}

// ServiceMonitorValues configure the webhook's ServiceMonitor.
type ServiceMonitorValues struct {
	// Create the ServiceMonitor.
	Enabled bool `json:"enabled"`
	// Scrape interval; Prometheus' own when empty.
	Interval string `json:"interval" pattern:"^(([0-9]+(ms|s|m|h))+)?$"`
	// Labels of the ServiceMonitor, e.g. the release label a Prometheus selects ServiceMonitors by.
	Labels map[string]string `json:"labels"`
}

// PrometheusRuleValues configure the webhook's alerts.
type PrometheusRuleValues struct {
	// Create the PrometheusRule.
	Enabled bool `json:"enabled"`
	// Labels of the PrometheusRule, e.g. the release label a Prometheus selects rules by.
	Labels map[string]string `json:"labels"`
	// Labels added to every alert, e.g. a team for routing.
	AlertLabels map[string]string `json:"alertLabels"`
	// PromQL label matchers selecting the webhook's series. Empty: job="<the webhook Service>" and
	// namespace="<the release namespace>", the labels the ServiceMonitor's scrape gives them.
	Selector string `json:"selector" pattern:"^[^{}]*$"`
	// Range of the rates and increases (a PromQL duration), at least four scrape intervals.
	Window string `json:"window" pattern:"^([0-9]+(ms|s|m|h|d|w|y))+$"`
	// No webhook replica is scraped as up: with failurePolicy Fail, party pods and MPCSessions cannot be
	// admitted.
	Unavailable AlertValues `json:"unavailable"`
	// Fewer webhook replicas are scraped as up than webhook.replicas: one more loss and admission stops.
	ReplicasDown AlertValues `json:"replicasDown"`
	// Policy evaluations failed (mpcguard_evaluation_errors_total): requests answered with an error, never
	// allowed.
	EvaluationErrors AlertValues `json:"evaluationErrors"`
	// More admission requests were denied within window than threshold (mpcguard_admission_requests_total,
	// result denied): a misconfigured workload, or someone probing the policies.
	DenialSurge DenialSurgeValues `json:"denialSurge"`
	// The periodic audit has not finished a run for longer than maxAgeSeconds
	// (mpcguard_audit_last_run_timestamp_seconds); rendered only with webhook.audit.interval.
	AuditStale AuditStaleValues `json:"auditStale"`
}

// AlertValues are one alert's pending time and severity.
type AlertValues struct {
	// How long the condition holds before the alert fires (the rule's for).
	For string `json:"for" pattern:"^([0-9]+(ms|s|m|h|d|w|y))+$"`
	// The alert's severity label.
	Severity string `json:"severity" enum:"critical,warning,info"`
}

// DenialSurgeValues are the denial surge alert.
type DenialSurgeValues struct {
	AlertValues `json:",inline"`
	// Denials within window above which the alert is pending.
	Threshold int32 `json:"threshold" minimum:"0"`
}

// AuditStaleValues are the stale audit alert.
type AuditStaleValues struct {
	AlertValues `json:",inline"`
	// Seconds since the last finished audit above which the alert is pending; keep it above
	// webhook.audit.interval.
	MaxAgeSeconds int32 `json:"maxAgeSeconds" minimum:"1"`
}

// GuardThresholdValues is the t the webhook keeps the persistent pool at.
type GuardThresholdValues struct {
	// The t of t-of-n: no UPDATE of a persistent StatefulSet's replicas, and no scale through its scale
	// subresource, takes it below t (--threshold-t; persistent-quorum). The mpc-system chart requires it to
	// equal its own threshold.t. 0 checks nothing.
	T int32 `json:"t" minimum:"0"`
}

// ShareStorageNames name the share storage.
type ShareStorageNames struct {
	// Names of the Secrets holding shares (--share-secret-names).
	SecretNames []string `json:"secretNames"`
	// Prefixes <volumeClaimTemplate>-<statefulset>- of the share PersistentVolumeClaims
	// (--share-claim-prefixes).
	ClaimPrefixes []string `json:"claimPrefixes"`
}

// WebhookValues configure the admission webhook.
type WebhookValues struct {
	// Webhook replicas; two or more with failurePolicy Fail.
	Replicas int32 `json:"replicas" minimum:"1"`
	// What the API server does when the webhook cannot be reached.
	FailurePolicy string `json:"failurePolicy" enum:"Fail,Ignore"`
	// Admission timeout.
	TimeoutSeconds int32 `json:"timeoutSeconds" minimum:"1" maximum:"30"`
	// Namespaces checked besides the release namespace; never kube-system.
	Namespaces []string `json:"namespaces" pattern:"^[a-z0-9]([-a-z0-9]*[a-z0-9])?$"`
	// URL of a webhook running outside the cluster (https://host:port/validate); when set, no webhook Deployment
	// is installed.
	URL string `json:"url" pattern:"^(https://[^\\s]+)?$"`
	// Base64 PEM CA bundle for url.
	CABundle string `json:"caBundle"`
	// HTTPS port of the webhook server.
	Port int32 `json:"port" minimum:"1" maximum:"65535"`
	// Port serving /healthz and /readyz.
	HealthPort int32 `json:"healthPort" minimum:"1" maximum:"65535"`
	// Port serving /metrics.
	MetricsPort int32 `json:"metricsPort" minimum:"1" maximum:"65535"`
	// Cache party pods for session-persistent-available (get, list and watch on pods in the checked namespaces).
	Inventory bool `json:"inventory"`
	// Enforcement action per policy id: deny, warn or off (--enforcement); unlisted policies deny.
	Enforcement map[string]string `json:"enforcement"` // ids and actions from vocab: see policySchema
	// The webhook's serving certificate and the CA the API server trusts for it.
	Certs CertsValues `json:"certs"`
	// The native policies (ValidatingAdmissionPolicies) beside the webhook.
	NativePolicies NativePoliciesValues `json:"nativePolicies"`
	// The webhook's ServiceAccount.
	ServiceAccount ServiceAccountValues `json:"serviceAccount"`
	// Roles for the pod inventory and the audit, one per checked namespace.
	RBAC RBACValues `json:"rbac"`
	// Webhook resources.
	Resources ResourcesValues `json:"resources"`
	// The periodic audit of existing objects, run by the webhook on one replica at a time.
	Audit AuditValues `json:"audit"`
	// The webhook's PodDisruptionBudget (maxUnavailable 1).
	PodDisruptionBudget PodDisruptionBudgetValues `json:"podDisruptionBudget"`
}

// AuditValues configure the webhook's periodic audit of the objects already in the checked namespaces.
type AuditValues struct {
	// How often the webhook audits the existing pods, workloads, PersistentVolumeClaims and MPCSessions of the
	// checked namespaces (--audit-interval), on the one replica holding a Lease; empty or 0s turns the audit off
	// and installs none of its Roles.
	Interval string `json:"interval" pattern:"^(0|0s|([0-9]+(\\.[0-9]+)?(ns|us|ms|s|m|h))+)?$"`
	// Keep an openreports.io/v1alpha1 Report named mpcguard-audit in each checked namespace (what Policy
	// Reporter and Kyverno's tooling read).
	Reports bool `json:"reports"`
	// The openreports.io Report CRD: auto installs it unless the cluster already serves openreports.io/v1alpha1
	// from a CRD this release does not own (Kyverno or Policy Reporter installed it), always installs it, never
	// leaves it to you. It is kept on uninstall (helm.sh/resource-policy: keep): other tools' Reports live in
	// it.
	ReportsCRD string `json:"reportsCRD" enum:"auto,always,never"`
}

// NativePoliciesValues configure the native policies: a ValidatingAdmissionPolicy and its binding for each policy
// id CEL can decide from the request alone (package policies/native), run by the API server itself, so they hold
// while the webhook is down.
type NativePoliciesValues struct {
	// Render the policies where the API server serves admissionregistration.k8s.io/v1 ValidatingAdmissionPolicy
	// (Kubernetes 1.30 and later). Their validationActions follow webhook.enforcement: deny is Deny, warn is Warn,
	// off renders neither policy nor binding.
	Enabled bool `json:"enabled"`
	// With the native policies rendered, the pods, workloads and storage webhooks fail open (failurePolicy
	// Ignore) while the mpcsessions webhook, whose session-persistent-available needs the inventory, keeps
	// webhook.failurePolicy. In a webhook outage the policies without a native form are then not enforced on
	// pods, workloads and storage (the chart README lists them); false keeps webhook.failurePolicy everywhere.
	FailOpen bool `json:"failOpen"`
}

// CertsValues choose where the webhook's serving certificate and its CA come from. No mode generates anything
// at render time, so two renders of the same values are byte-identical (GitOps: no permanent diff).
type CertsValues struct {
	// rotate: the webhook keeps its own CA and serving certificate in a Secret the chart creates empty, and the
	// caBundle of this release's ValidatingWebhookConfiguration current (--cert-mode=rotate; no caBundle is
	// rendered). certManager: a cert-manager Issuer and Certificate, the CA injected by cert-manager's
	// cainjector. secret: existingSecret and caBundle, made elsewhere (Vault, a corporate CA).
	Mode string `json:"mode" enum:"rotate,certManager,secret"`
	// With mode secret: the kubernetes.io/tls Secret (tls.crt, tls.key) in the release namespace that the
	// webhook serves; renewing it is up to its maker (the webhook reloads the files when they change).
	ExistingSecret string `json:"existingSecret" pattern:"^([a-z0-9]([-a-z0-9.]*[a-z0-9])?)?$"`
	// With mode secret: the base64 PEM CA bundle that verifies existingSecret's certificate.
	CABundle string `json:"caBundle"`
	// With mode rotate: the lives of the CA and the serving certificate, each renewed at 2/3 of its life.
	Rotate RotateValues `json:"rotate"`
}

// RotateValues time the webhook's own certificate rotation (mode rotate).
type RotateValues struct {
	// The CA's life (--ca-validity); a new CA is made at 2/3 of it. A CA rotation changes what the API server
	// trusts, so it is kept rare.
	CAValidity string `json:"caValidity" pattern:"^([0-9]+(\\.[0-9]+)?(ns|us|ms|s|m|h))+$"`
	// The serving certificate's life (--cert-validity), at most caValidity and at least six overlaps.
	CertValidity string `json:"certValidity" pattern:"^([0-9]+(\\.[0-9]+)?(ns|us|ms|s|m|h))+$"`
	// How long a new CA is trusted before it serves, and an old one after it stops serving (--cert-overlap): API
	// servers pick up a caBundle change within seconds. At least checkInterval.
	Overlap string `json:"overlap" pattern:"^([0-9]+(\\.[0-9]+)?(ns|us|ms|s|m|h))+$"`
	// How often the webhook reads its Secret and webhook configuration besides watching them
	// (--cert-check-interval).
	CheckInterval string `json:"checkInterval" pattern:"^([0-9]+(\\.[0-9]+)?(ns|us|ms|s|m|h))+$"`
}
