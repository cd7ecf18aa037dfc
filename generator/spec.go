package generator

import (
	"errors"
	"fmt"
	"strings"

	"k8s.io/apimachinery/pkg/util/validation/field"
	kjson "sigs.k8s.io/json"
	"sigs.k8s.io/yaml"

	"github.com/mpcguard/mpcguard/policies/vocab"
)

// The fixed vocabulary of design.md, from package vocab.
const (
	// DefaultRoleLabelKey is the label that carries a party's role.
	DefaultRoleLabelKey = vocab.DefaultRoleLabelKey
	// RolePersistent parties keep key shares in durable storage.
	RolePersistent = vocab.RolePersistent
	// RoleDelegate parties are stateless and act for a user.
	RoleDelegate = vocab.RoleDelegate
	// RoleTemporary parties are stateless stand-ins.
	RoleTemporary = vocab.RoleTemporary
)

// DefaultPartySelector is the label selector that makes a pod a party pod (vocab.DefaultPartySelector as a
// map): the coordinator discovers what it matches and the webhook enforces roles on it.
func DefaultPartySelector() map[string]string {
	sel := map[string]string{}
	for _, pair := range strings.Split(vocab.DefaultPartySelector, ",") {
		k, v, _ := strings.Cut(pair, "=")
		sel[k] = v
	}
	return sel
}

// Spec is the typed description of an MPC system from which the charts are generated.
type Spec struct {
	// Chart names the generated umbrella chart.
	Chart ChartSpec `json:"chart"`
	// Images are the container images, each pinned by tag or digest.
	Images ImagesSpec `json:"images"`
	// Party is the vocabulary shared by the party pods, the coordinator and the webhook.
	Party PartySpec `json:"party"`
	// Coordinator is the session coordinator that discovers party pods.
	Coordinator CoordinatorSpec `json:"coordinator"`
	// Pools are the party pools: exactly one persistent pool, any number of delegate or temporary pools.
	Pools []PoolSpec `json:"pools"`
	// Threshold is the default t-of-n of a session (all n parties persistent).
	Threshold ThresholdSpec `json:"threshold"`
	// Placement spreads parties over failure domains.
	Placement PlacementSpec `json:"placement"`
	// Webhook is the admission side (the mpcguard chart).
	Webhook WebhookSpec `json:"webhook"`
	// NetworkPolicies restrict who may talk to parties and to the webhook.
	NetworkPolicies NetworkPoliciesSpec `json:"networkPolicies"`
}

// ChartSpec names the umbrella chart.
type ChartSpec struct {
	Name        string `json:"name"`
	Version     string `json:"version"`
	AppVersion  string `json:"appVersion,omitempty"`
	Description string `json:"description,omitempty"`
}

// ImageSpec is a container image pinned by tag or digest; `latest` is refused.
type ImageSpec struct {
	Repository string `json:"repository"`
	Tag        string `json:"tag,omitempty"`
	Digest     string `json:"digest,omitempty"`
	PullPolicy string `json:"pullPolicy,omitempty"`
}

// ImagesSpec lists the images of the charts.
type ImagesSpec struct {
	Coordinator ImageSpec `json:"coordinator"`
	Party       ImageSpec `json:"party"`
	Webhook     ImageSpec `json:"webhook"`
	// Test is the image of the `helm test` pods.
	Test ImageSpec `json:"test"`
}

// PartySpec is the label vocabulary and the ports of party pods.
type PartySpec struct {
	// RoleLabelKey is the label carrying the role (persistent, delegate, temporary).
	RoleLabelKey string `json:"roleLabelKey"`
	// Selector makes a pod a party pod.
	Selector map[string]string `json:"selector"`
	// Port is the parties' gRPC port.
	Port int32 `json:"port"`
	// HealthPort serves /health.
	HealthPort int32 `json:"healthPort"`
}

// CoordinatorSpec is the session coordinator.
type CoordinatorSpec struct {
	Replicas  int32                `json:"replicas"`
	Ports     CoordinatorPortsSpec `json:"ports"`
	Discovery DiscoverySpec        `json:"discovery"`
	Resources ResourcesSpec        `json:"resources"`
}

// CoordinatorPortsSpec are the coordinator's ports.
type CoordinatorPortsSpec struct {
	HTTP int32 `json:"http"`
	GRPC int32 `json:"grpc"`
}

// DiscoverySpec is how the coordinator discovers party pods.
type DiscoverySpec struct {
	// Interval is a Go duration, e.g. 30s.
	Interval string `json:"interval"`
	// Namespaces are extra namespaces to discover parties in; each gets its own Role.
	Namespaces []string `json:"namespaces,omitempty"`
}

// ResourcesSpec are requests and limits; both are required for every container.
type ResourcesSpec struct {
	Requests ResourceListSpec `json:"requests"`
	Limits   ResourceListSpec `json:"limits"`
}

// ResourceListSpec is CPU and memory as Kubernetes quantities.
type ResourceListSpec struct {
	CPU    string `json:"cpu"`
	Memory string `json:"memory"`
}

// PoolSpec is a pool of parties of one role.
type PoolSpec struct {
	Name      string        `json:"name"`
	Role      string        `json:"role"`
	Replicas  int32         `json:"replicas"`
	Resources ResourcesSpec `json:"resources"`
	// ShareStorage is where a persistent pool keeps key shares; forbidden for other roles.
	ShareStorage *ShareStorageSpec `json:"shareStorage,omitempty"`
}

// ShareStorageSpec is exactly one of a volume claim or a database Secret reference.
type ShareStorageSpec struct {
	VolumeClaim    *VolumeClaimSpec    `json:"volumeClaim,omitempty"`
	DatabaseSecret *DatabaseSecretSpec `json:"databaseSecret,omitempty"`
}

// VolumeClaimSpec is a StatefulSet volumeClaimTemplate holding the shares.
type VolumeClaimSpec struct {
	Name             string `json:"name"`
	Size             string `json:"size"`
	StorageClassName string `json:"storageClassName,omitempty"`
	MountPath        string `json:"mountPath"`
}

// DatabaseSecretSpec references the Secret holding the share database's connection string.
type DatabaseSecretSpec struct {
	Name string `json:"name"`
	Key  string `json:"key"`
	// Env is the environment variable the party reads the value from.
	Env string `json:"env"`
}

// ThresholdSpec is t-of-n: any t of the n parties can sign. tss-lib's parameter is t-1.
type ThresholdSpec struct {
	T int32 `json:"t"`
	N int32 `json:"n"`
}

// PlacementSpec spreads parties over failure domains.
type PlacementSpec struct {
	// PersistentAntiAffinity is required, preferred or none (on kubernetes.io/hostname).
	PersistentAntiAffinity string `json:"persistentAntiAffinity"`
	// DelegateAntiAffinity is preferred or none.
	DelegateAntiAffinity string         `json:"delegateAntiAffinity"`
	ZoneSpread           ZoneSpreadSpec `json:"zoneSpread"`
}

// ZoneSpreadSpec is the topology spread of persistent parties over topology.kubernetes.io/zone.
type ZoneSpreadSpec struct {
	Enabled           bool   `json:"enabled"`
	MaxSkew           int32  `json:"maxSkew"`
	WhenUnsatisfiable string `json:"whenUnsatisfiable"`
}

// WebhookSpec is the admission side.
type WebhookSpec struct {
	Enabled        bool   `json:"enabled"`
	Replicas       int32  `json:"replicas"`
	FailurePolicy  string `json:"failurePolicy"`
	TimeoutSeconds int32  `json:"timeoutSeconds"`
	// Namespaces are watched besides the release namespace.
	Namespaces []string `json:"namespaces,omitempty"`
	// Certificates is certManager or selfSigned.
	Certificates string `json:"certificates"`
	// URL, when set, points the API server at a webhook running outside the cluster.
	URL string `json:"url,omitempty"`
	// Enforcement maps a policy id to deny, warn or off.
	Enforcement map[string]string `json:"enforcement,omitempty"`
	// Inventory caches party pods for session-persistent-available.
	Inventory bool          `json:"inventory"`
	Resources ResourcesSpec `json:"resources"`
}

// NetworkPoliciesSpec switches the NetworkPolicies.
type NetworkPoliciesSpec struct {
	Enabled bool `json:"enabled"`
}

// Decode reads a YAML spec strictly: an unknown or duplicated field is an error naming its path. It does not
// validate the values; call Validate for that.
func Decode(data []byte) (*Spec, error) {
	js, err := yaml.YAMLToJSONStrict(data)
	if err != nil {
		return nil, fmt.Errorf("%w: %w", ErrInvalidSpec, err)
	}
	var s Spec
	strict, err := kjson.UnmarshalStrict(js, &s, kjson.DisallowDuplicateFields, kjson.DisallowUnknownFields)
	if err != nil {
		return nil, fmt.Errorf("%w: %w", ErrInvalidSpec, err)
	}
	var errs field.ErrorList
	for _, e := range strict {
		var fe kjson.FieldError
		if !errors.As(e, &fe) {
			errs = append(errs, field.InternalError(nil, e))
			continue
		}
		detail := "unknown field"
		if strings.Contains(e.Error(), "duplicate field") {
			detail = "duplicate field"
		}
		errs = append(errs, &field.Error{Type: field.ErrorTypeForbidden, Field: fe.FieldPath(), Detail: detail})
	}
	if len(errs) > 0 {
		return nil, fmt.Errorf("%w: %w", ErrInvalidSpec, errs.ToAggregate())
	}
	return &s, nil
}

// Encode writes the spec as YAML.
func Encode(s *Spec) ([]byte, error) {
	out, err := yaml.Marshal(s)
	if err != nil {
		return nil, fmt.Errorf("encoding spec: %w", err)
	}
	return out, nil
}
