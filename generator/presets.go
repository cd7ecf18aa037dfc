package generator

import (
	"fmt"
	"sort"
)

// Certificate sources of the webhook.
const (
	CertificatesCertManager = "certManager"
	CertificatesSelfSigned  = "selfSigned"
)

// presets are the built-in specs, by name.
var presets = map[string]func() *Spec{
	"default": DefaultSpec,
	"seed":    SeedSpec,
	"kms-13":  KMS13Spec,
}

// PresetNames lists the presets, sorted.
func PresetNames() []string {
	names := make([]string, 0, len(presets))
	for n := range presets {
		names = append(names, n)
	}
	sort.Strings(names)
	return names
}

// Preset returns a fresh copy of the named preset spec.
func Preset(name string) (*Spec, error) {
	p, ok := presets[name]
	if !ok {
		return nil, fmt.Errorf("%w %q (have %v)", ErrUnknownPreset, name, PresetNames())
	}
	return p(), nil
}

func resources(reqCPU, reqMem, limCPU, limMem string) ResourcesSpec {
	return ResourcesSpec{Requests: ResourceListSpec{CPU: reqCPU, Memory: reqMem}, Limits: ResourceListSpec{CPU: limCPU, Memory: limMem}}
}

// DefaultSpec is the checked-in charts/mpc-system: a 2-of-3 persistent pool with volume-claim share storage,
// one delegate party, the webhook with cert-manager certificates.
func DefaultSpec() *Spec {
	return &Spec{
		Chart: ChartSpec{
			Name:        "mpc-system",
			Version:     "0.1.0",
			AppVersion:  "0.1.0",
			Description: "A threshold-signing (MPC) system: session coordinator, persistent and delegate party pools, discovery RBAC, anti-affinity, and the mpcguard admission webhook.",
		},
		Images: ImagesSpec{
			Coordinator: ImageSpec{Repository: "ghcr.io/mpcguard/mpc-session-coordinator", Tag: "0.1.0", PullPolicy: "IfNotPresent"},
			Party:       ImageSpec{Repository: "ghcr.io/mpcguard/mpc-server-party", Tag: "0.1.0", PullPolicy: "IfNotPresent"},
			Webhook:     ImageSpec{Repository: "ghcr.io/mpcguard/mpcguard", Tag: "0.1.0", PullPolicy: "IfNotPresent"},
			Test:        ImageSpec{Repository: "docker.io/library/busybox", Tag: "1.37.0", PullPolicy: "IfNotPresent"},
		},
		Party: PartySpec{RoleLabelKey: DefaultRoleLabelKey, Selector: DefaultPartySelector(), Port: 50051, HealthPort: 8080},
		Coordinator: CoordinatorSpec{
			Replicas:  1,
			Ports:     CoordinatorPortsSpec{HTTP: 8080, GRPC: 50051},
			Discovery: DiscoverySpec{Interval: "30s"},
			Resources: resources("100m", "128Mi", "500m", "256Mi"),
		},
		Pools: []PoolSpec{
			{
				Name: "server-party", Role: RolePersistent, Replicas: 3,
				Resources: resources("250m", "256Mi", "1", "512Mi"),
				ShareStorage: &ShareStorageSpec{VolumeClaim: &VolumeClaimSpec{
					Name: "shares", Size: "1Gi", MountPath: "/var/lib/mpc/shares",
				}},
			},
			{Name: "server-party-api", Role: RoleDelegate, Replicas: 1, Resources: resources("250m", "256Mi", "1", "512Mi")},
		},
		Threshold: ThresholdSpec{T: 2, N: 3},
		Placement: PlacementSpec{
			PersistentAntiAffinity: "required",
			DelegateAntiAffinity:   "preferred",
			ZoneSpread:             ZoneSpreadSpec{Enabled: true, MaxSkew: 1, WhenUnsatisfiable: "ScheduleAnyway"},
		},
		Webhook: WebhookSpec{
			Enabled: true, Replicas: 2, FailurePolicy: "Fail", TimeoutSeconds: 5,
			Certificates: CertificatesSelfSigned, Inventory: true,
			Resources: resources("50m", "64Mi", "500m", "128Mi"),
		},
		NetworkPolicies: NetworkPoliciesSpec{Enabled: true},
	}
}

// SeedSpec is the seeds' MPC party pool: three persistent server parties keeping shares in the database named
// by a Secret, and a delegate pool (server-party-api), discovered every 30s on gRPC port 50051.
func SeedSpec() *Spec {
	s := DefaultSpec()
	s.Pools = []PoolSpec{
		{
			Name: "mpc-server-party", Role: RolePersistent, Replicas: 3,
			Resources: resources("250m", "256Mi", "1", "1Gi"),
			ShareStorage: &ShareStorageSpec{DatabaseSecret: &DatabaseSecretSpec{
				Name: "mpc-secrets", Key: "database-url", Env: "DATABASE_URL",
			}},
		},
		{Name: "mpc-server-party-api", Role: RoleDelegate, Replicas: 1, Resources: resources("250m", "256Mi", "1", "512Mi")},
	}
	s.Webhook.Certificates = CertificatesSelfSigned
	return s
}

// KMS13Spec is a 13-party threshold KMS tolerating 4 corruptions: 5-of-13, all parties persistent, each on
// its own node.
func KMS13Spec() *Spec {
	s := DefaultSpec()
	s.Pools = []PoolSpec{{
		Name: "kms-party", Role: RolePersistent, Replicas: 13,
		Resources: resources("500m", "512Mi", "2", "2Gi"),
		ShareStorage: &ShareStorageSpec{VolumeClaim: &VolumeClaimSpec{
			Name: "shares", Size: "10Gi", MountPath: "/var/lib/mpc/shares",
		}},
	}}
	s.Threshold = ThresholdSpec{T: 5, N: 13}
	return s
}
