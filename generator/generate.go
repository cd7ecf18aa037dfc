package generator

import (
	"embed"
	"fmt"
	"io/fs"
	"os"
	"path"
	"path/filepath"
	"reflect"
	"slices"
	"sort"
	"strings"

	"github.com/Masterminds/semver/v3"
	"helm.sh/helm/v3/pkg/chart"
	"k8s.io/apimachinery/pkg/util/validation/field"
	"sigs.k8s.io/yaml"

	"github.com/mpcguard/mpcguard/generator/valuesdoc"
	"github.com/mpcguard/mpcguard/internal/api/v1alpha1"
	"github.com/mpcguard/mpcguard/policies/vocab"
)

// The admission chart's name and version. MpcguardChartVersion is the version of the checked-in charts; a
// release generates them with GenerateRelease and the version of its git tag (`mpcguard generate --release`).
const (
	MpcguardChartName    = "mpcguard"
	MpcguardChartVersion = "0.1.0"
)

// Release is the mpcguard release the generated charts belong to. Its version is the mpcguard chart's version
// and appVersion; the release flow also sets the system chart's version and the webhook image (tag and digest)
// from the same git tag (see SetRelease).
type Release struct {
	Version string
}

// SetRelease makes s describe the mpcguard release version: the chart's version and appVersion and the webhook
// image's tag become version; repository and digest, when not empty, replace the webhook image's. `make
// publish` pins the digest it pushed.
func SetRelease(s *Spec, version, repository, digest string) {
	s.Chart.Version, s.Chart.AppVersion = version, version
	s.Images.Webhook.Tag = version
	if repository != "" {
		s.Images.Webhook.Repository = repository
	}
	if digest != "" {
		s.Images.Webhook.Digest = digest
	}
}

// crdPath is where each chart ships the MPCSession CRD (Helm installs crds/ before templates and never
// deletes it).
const crdPath = "crds/mpc.mpcguard.io_mpcsessions.yaml"

// commentWidth is where values.yaml comments wrap.
const commentWidth = 110

//go:embed all:templates
var templatesFS embed.FS

// File is one generated file: a slash-separated path relative to the output directory, and its content.
type File struct {
	Path    string
	Content []byte
}

// Generate validates the spec and builds the files of both charts: <chart.name>/ (with mpcguard vendored
// under charts/) and mpcguard/. It returns the spec's warnings; a spec with errors yields ErrInvalidSpec.
func Generate(s *Spec) ([]File, []Warning, error) {
	return GenerateRelease(s, Release{Version: MpcguardChartVersion})
}

// GenerateRelease is Generate for the mpcguard release r.
func GenerateRelease(s *Spec, r Release) ([]File, []Warning, error) {
	errs, warns := s.Validate()
	if r.Version == "" {
		r.Version = MpcguardChartVersion
	}
	if _, err := semver.StrictNewVersion(r.Version); err != nil {
		errs = append(errs, field.Invalid(field.NewPath("release", "version"), r.Version, "must be a SemVer 2 version: "+err.Error()))
	}
	if len(errs) > 0 {
		return nil, warns, fmt.Errorf("%w: %w", ErrInvalidSpec, errs.ToAggregate())
	}
	guard, err := mpcguardChart(s, r)
	if err != nil {
		return nil, warns, err
	}
	system, err := systemChart(s, r, guard)
	if err != nil {
		return nil, warns, err
	}
	files := append(prefixed(s.Chart.Name, system), prefixed(MpcguardChartName, guard)...)
	sort.Slice(files, func(i, j int) bool { return files[i].Path < files[j].Path })
	return files, warns, nil
}

// Write replaces the chart directories named by the files' first path element under dir with the files.
func Write(dir string, files []File) error {
	roots := map[string]bool{}
	for _, f := range files {
		roots[strings.SplitN(f.Path, "/", 2)[0]] = true
	}
	for root := range roots {
		if err := os.RemoveAll(filepath.Join(dir, root)); err != nil {
			return fmt.Errorf("removing the old chart: %w", err)
		}
	}
	for _, f := range files {
		p := filepath.Join(dir, filepath.FromSlash(f.Path))
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			return fmt.Errorf("writing %s: %w", f.Path, err)
		}
		if err := os.WriteFile(p, f.Content, 0o644); err != nil {
			return fmt.Errorf("writing %s: %w", f.Path, err)
		}
	}
	return nil
}

func prefixed(dir string, files []File) []File {
	out := make([]File, len(files))
	for i, f := range files {
		out[i] = File{Path: path.Join(dir, f.Path), Content: f.Content}
	}
	return out
}

// embedded returns the chart's static files (templates, NOTES, .helmignore) from the embedded tree.
func embedded(chartDir string) ([]File, error) {
	var files []File
	root := path.Join("templates", chartDir)
	err := fs.WalkDir(templatesFS, root, func(p string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		data, err := templatesFS.ReadFile(p)
		if err != nil {
			return err
		}
		files = append(files, File{Path: strings.TrimPrefix(p, root+"/"), Content: data})
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("reading embedded templates of %s: %w", chartDir, err)
	}
	return files, nil
}

func image(i ImageSpec) ImageValues {
	pp := i.PullPolicy
	if pp == "" {
		pp = "IfNotPresent"
	}
	return ImageValues{Repository: i.Repository, Tag: i.Tag, Digest: i.Digest, PullPolicy: pp}
}

func resourcesValues(r ResourcesSpec) ResourcesValues {
	return ResourcesValues{
		Requests: ResourceListValues{CPU: r.Requests.CPU, Memory: r.Requests.Memory},
		Limits:   ResourceListValues{CPU: r.Limits.CPU, Memory: r.Limits.Memory},
	}
}

func nonNil(s []string) []string {
	if s == nil {
		return []string{}
	}
	return append([]string{}, s...)
}

func globalValues(s *Spec) GlobalValues {
	return GlobalValues{Party: PartyValues{RoleLabelKey: s.Party.RoleLabelKey, Selector: FormatSelector(s.Party.Selector)}}
}

// mpcguardSettings are the admission chart's values. In a parent chart (forParent) the share storage is
// derived from the persistent pool, as tpl strings of the release name.
func mpcguardSettings(s *Spec, forParent bool) MpcguardSettings {
	enforcement := map[string]string{}
	for k, v := range s.Webhook.Enforcement {
		enforcement[k] = v
	}
	names := ShareStorageNames{SecretNames: []string{}, ClaimPrefixes: []string{}}
	workloads := []string{}
	if forParent {
		for _, p := range s.Pools {
			if p.Role != RolePersistent {
				continue
			}
			workloads = append(workloads, poolNameTpl(p.Name))
			if p.ShareStorage == nil {
				continue
			}
			if vc := p.ShareStorage.VolumeClaim; vc != nil {
				names.ClaimPrefixes = append(names.ClaimPrefixes, fmt.Sprintf("%s-%s-", vc.Name, poolNameTpl(p.Name)))
			}
			if db := p.ShareStorage.DatabaseSecret; db != nil {
				names.SecretNames = append(names.SecretNames, db.Name)
			}
		}
	}
	return MpcguardSettings{
		Enabled: !forParent || s.Webhook.Enabled,
		Image:   image(s.Images.Webhook),
		Webhook: WebhookValues{
			Replicas:       s.Webhook.Replicas,
			FailurePolicy:  s.Webhook.FailurePolicy,
			TimeoutSeconds: s.Webhook.TimeoutSeconds,
			Namespaces:     nonNil(s.Webhook.Namespaces),
			URL:            s.Webhook.URL,
			Port:           9443,
			HealthPort:     8081,
			MetricsPort:    8080,
			Inventory:      s.Webhook.Inventory,
			Enforcement:    enforcement,
			CertManager:    CertManagerValues{Enabled: s.Webhook.Certificates == CertificatesCertManager},
			ServiceAccount: ServiceAccountValues{Create: true},
			RBAC:           RBACValues{Create: true},
			Resources:      resourcesValues(s.Webhook.Resources),
			Audit:          AuditValues{Interval: DefaultAuditInterval, Reports: true, ReportsCRD: "auto"},
		},
		ShareStorage:        names,
		PersistentWorkloads: workloads,
		ControllerUsers:     slices.Clone(vocab.DefaultControllerUsers),
		BreakGlassGroups:    []string{vocab.DefaultBreakGlassGroup},
		Threshold:           GuardThresholdValues{T: s.Threshold.T},
		NetworkPolicy:       NetworkPolicyValues{Enabled: s.NetworkPolicies.Enabled},
		Tests:               TestsValues{Image: image(s.Images.Test)},
	}
}

// DefaultAuditInterval is how often the chart's webhook audits existing objects: a list per audited kind and
// namespace, rare enough to cost the API server nothing worth measuring, often enough that a Report is never
// older than a coffee break.
const DefaultAuditInterval = "10m"

// poolNameTpl is the name of a pool's workload (the persistent pool's StatefulSet) as a tpl string of the
// mpc-system chart: its helper mpc-system.poolName, so that a long release name is truncated exactly as the
// workload's own name is. The helper reads only the release name, which a dependency's tpl sees too.
func poolNameTpl(pool string) string {
	return fmt.Sprintf(`{{ include "mpc-system.poolName" (dict "root" . "pool" (dict "name" %q)) }}`, pool)
}

// SystemValuesFor returns the values of the mpc-system chart described by the spec.
func SystemValuesFor(s *Spec) SystemValues {
	pools := make([]PoolValues, 0, len(s.Pools))
	for _, p := range s.Pools {
		pv := PoolValues{Name: p.Name, Role: p.Role, Replicas: p.Replicas, Resources: resourcesValues(p.Resources)}
		if st := p.ShareStorage; st != nil {
			pv.ShareStorage = &ShareStorageValues{}
			if vc := st.VolumeClaim; vc != nil {
				pv.ShareStorage.VolumeClaim = &VolumeClaimValues{Name: vc.Name, Size: vc.Size, StorageClassName: vc.StorageClassName, MountPath: vc.MountPath}
			}
			if db := st.DatabaseSecret; db != nil {
				pv.ShareStorage.DatabaseSecret = &DatabaseSecretValues{Name: db.Name, Key: db.Key, Env: db.Env}
			}
		}
		pools = append(pools, pv)
	}
	return SystemValues{
		Global:    globalValues(s),
		Threshold: ThresholdValues{T: s.Threshold.T, N: s.Threshold.N},
		Coordinator: CoordinatorValues{
			Replicas:       s.Coordinator.Replicas,
			Image:          image(s.Images.Coordinator),
			Ports:          CoordinatorPortsValues{HTTP: s.Coordinator.Ports.HTTP, GRPC: s.Coordinator.Ports.GRPC},
			Discovery:      DiscoveryValues{Interval: s.Coordinator.Discovery.Interval, Namespaces: nonNil(s.Coordinator.Discovery.Namespaces)},
			ServiceAccount: ServiceAccountValues{Create: true},
			RBAC:           RBACValues{Create: true},
			Resources:      resourcesValues(s.Coordinator.Resources),
		},
		Parties: PartiesValues{Image: image(s.Images.Party), Port: s.Party.Port, HealthPort: s.Party.HealthPort},
		Pools:   pools,
		Placement: PlacementValues{
			Persistent: PersistentPlacementValues{
				PodAntiAffinity: s.Placement.PersistentAntiAffinity,
				ZoneSpread: ZoneSpreadValues{
					Enabled: s.Placement.ZoneSpread.Enabled, MaxSkew: s.Placement.ZoneSpread.MaxSkew,
					WhenUnsatisfiable: s.Placement.ZoneSpread.WhenUnsatisfiable,
				},
			},
			Delegate: DelegatePlacementValues{PodAntiAffinity: s.Placement.DelegateAntiAffinity},
		},
		NetworkPolicy: NetworkPolicyValues{Enabled: s.NetworkPolicies.Enabled},
		Tests:         TestsValues{Image: image(s.Images.Test)},
		Mpcguard:      mpcguardSettings(s, true),
	}
}

// MpcguardValuesFor returns the values of the standalone mpcguard chart described by the spec.
func MpcguardValuesFor(s *Spec) MpcguardValues {
	return MpcguardValues{Global: globalValues(s), MpcguardSettings: mpcguardSettings(s, false)}
}

func chartYAML(md *chart.Metadata) ([]byte, error) {
	if err := md.Validate(); err != nil {
		return nil, fmt.Errorf("chart metadata of %s: %w", md.Name, err)
	}
	out, err := yaml.Marshal(md)
	if err != nil {
		return nil, fmt.Errorf("encoding Chart.yaml of %s: %w", md.Name, err)
	}
	return out, nil
}

func marshalValues(header string, v any) ([]byte, error) {
	out, err := yaml.Marshal(v)
	if err != nil {
		return nil, fmt.Errorf("encoding values: %w", err)
	}
	return append([]byte("# "+header+"\n"), out...), nil
}

// userFiles are values.yaml, values.schema.json and README.md of a chart.
func userFiles(values any, schema *valuesdoc.Schema, header, readmeIntro string) ([]File, error) {
	vy, err := valuesdoc.YAML(values, header, commentWidth)
	if err != nil {
		return nil, err
	}
	sj, err := schema.JSON()
	if err != nil {
		return nil, err
	}
	rows, err := valuesdoc.Rows(values)
	if err != nil {
		return nil, err
	}
	readme := readmeIntro + "\n## Values\n\n" + valuesdoc.Markdown(rows)
	return []File{
		{Path: "values.yaml", Content: vy},
		{Path: "values.schema.json", Content: sj},
		{Path: "README.md", Content: []byte(readme)},
	}, nil
}

func mpcguardChart(s *Spec, r Release) ([]File, error) {
	md := &chart.Metadata{
		APIVersion:  chart.APIVersionV2,
		Name:        MpcguardChartName,
		Version:     r.Version,
		AppVersion:  s.Images.Webhook.Tag,
		Description: "The mpcguard admission side: a validating webhook enforcing MPC party roles and session compositions, its RBAC, its certificates and the MPCSession CRD.",
		Type:        "application",
		Keywords:    []string{"mpc", "threshold-signing", "admission-webhook", "policy"},
		Home:        "https://github.com/mpcguard/mpcguard",
		Sources:     []string{"https://github.com/mpcguard/mpcguard"},
		KubeVersion: KubeVersion,
		Annotations: artifactHub(imageEntry{"mpcguard", s.Images.Webhook}),
	}
	if md.AppVersion == "" {
		md.AppVersion = r.Version
	}
	cy, err := chartYAML(md)
	if err != nil {
		return nil, err
	}
	schema, err := valuesdoc.SchemaFor(reflect.TypeOf(MpcguardValues{}), "Values of the mpcguard chart")
	if err != nil {
		return nil, err
	}
	policySchema(schema)
	files := []File{{Path: "Chart.yaml", Content: cy}, {Path: crdPath, Content: v1alpha1.CRDYAML}}
	uf, err := userFiles(MpcguardValuesFor(s), schema, "Values of the mpcguard chart: the admission webhook.", mpcguardReadme(s))
	if err != nil {
		return nil, err
	}
	files = append(files, uf...)
	static, err := embedded(MpcguardChartName)
	if err != nil {
		return nil, err
	}
	files = append(files, static...)
	vt, err := vocabTemplate()
	if err != nil {
		return nil, err
	}
	files = append(files, File{Path: vocabTemplatePath, Content: vt})
	ci, err := mpcguardCI()
	if err != nil {
		return nil, err
	}
	return append(files, ci...), nil
}

func systemChart(s *Spec, r Release, guard []File) ([]File, error) {
	md := &chart.Metadata{
		APIVersion:  chart.APIVersionV2,
		Name:        s.Chart.Name,
		Version:     s.Chart.Version,
		AppVersion:  s.Chart.AppVersion,
		Description: s.Chart.Description,
		Type:        "application",
		Keywords:    []string{"mpc", "threshold-signing", "tss"},
		Home:        "https://github.com/mpcguard/mpcguard",
		Sources:     []string{"https://github.com/mpcguard/mpcguard"},
		// The dependency is vendored in charts/: no repository, nothing to download.
		Dependencies: []*chart.Dependency{{Name: MpcguardChartName, Version: r.Version, Condition: "mpcguard.enabled"}},
		KubeVersion:  KubeVersion,
		Annotations: artifactHub(imageEntry{"mpc-session-coordinator", s.Images.Coordinator},
			imageEntry{"mpc-server-party", s.Images.Party}, imageEntry{"mpcguard", s.Images.Webhook}),
	}
	if md.AppVersion == "" {
		md.AppVersion = md.Version
	}
	if md.Description == "" {
		md.Description = "A threshold-signing (MPC) system with party-role admission checks."
	}
	cy, err := chartYAML(md)
	if err != nil {
		return nil, err
	}
	schema, err := systemSchema()
	if err != nil {
		return nil, err
	}
	files := []File{{Path: "Chart.yaml", Content: cy}, {Path: crdPath, Content: v1alpha1.CRDYAML}}
	uf, err := userFiles(SystemValuesFor(s), schema, fmt.Sprintf("Values of the %s chart.", s.Chart.Name), systemReadme(s))
	if err != nil {
		return nil, err
	}
	files = append(files, uf...)
	static, err := embedded("mpc-system")
	if err != nil {
		return nil, err
	}
	files = append(files, static...)
	ci, err := systemCI()
	if err != nil {
		return nil, err
	}
	files = append(files, ci...)
	// The vendored dependency: everything but its CRD (this chart ships it, also when the webhook is off) and
	// its chart-testing values.
	for _, f := range guard {
		if f.Path == crdPath || strings.HasPrefix(f.Path, "ci/") {
			continue
		}
		files = append(files, File{Path: path.Join("charts", MpcguardChartName, f.Path), Content: f.Content})
	}
	return files, nil
}

// systemSchema is the schema of SystemValues, where mpcguard also admits the global values Helm copies into
// a dependency's values before validating them.
func systemSchema() (*valuesdoc.Schema, error) {
	schema, err := valuesdoc.SchemaFor(reflect.TypeOf(SystemValues{}), "Values of the mpc-system chart")
	if err != nil {
		return nil, err
	}
	global, err := valuesdoc.SchemaFor(reflect.TypeOf(GlobalValues{}), "")
	if err != nil {
		return nil, err
	}
	global.Schema, global.Title = "", ""
	global.Description = "Copied from the top-level global by Helm."
	schema.Properties["mpcguard"].Properties["global"] = global
	policySchema(schema.Properties["mpcguard"])
	return schema, nil
}

// policySchema constrains webhook.enforcement of the mpcguard values (schema is their root) to the policy ids
// and actions of package vocab: struct tags are constants, the vocabulary is not.
func policySchema(schema *valuesdoc.Schema) {
	enforcement := schema.Properties["webhook"].Properties["enforcement"]
	ids := make([]any, 0, len(vocab.Policies))
	for _, id := range vocab.PolicyIDs() {
		ids = append(ids, id)
	}
	actions := make([]any, 0, len(vocab.Actions))
	for _, a := range vocab.Actions {
		actions = append(actions, string(a))
	}
	enforcement.PropertyNames = &valuesdoc.Schema{Enum: ids}
	enforcement.AdditionalProperties = &valuesdoc.Schema{Type: "string", Enum: actions}
}

// ciFile is a chart-testing values file.
func ciFile(name, purpose string, v any) (File, error) {
	content, err := marshalValues(purpose, v)
	if err != nil {
		return File{}, fmt.Errorf("ci/%s: %w", name, err)
	}
	return File{Path: "ci/" + name, Content: content}, nil
}

// ci is one chart-testing values file: its name, what it exercises, and its values.
type ci struct {
	name, purpose string
	values        any
}

// ciFiles renders the chart-testing values files.
func ciFiles(list []ci) ([]File, error) {
	files := make([]File, 0, len(list))
	for _, c := range list {
		f, err := ciFile(c.name, c.purpose, c.values)
		if err != nil {
			return nil, err
		}
		files = append(files, f)
	}
	return files, nil
}

func systemCI() ([]File, error) {
	seed, kms := SystemValuesFor(SeedSpec()), SystemValuesFor(KMS13Spec())
	list := []ci{
		{"default-values.yaml", "The chart's defaults.", map[string]any{}},
		{"seed-values.yaml", "The seed preset: three persistent parties keeping shares in a database, a delegate pool, self-signed webhook certificates.", seed},
		{"kms-13-values.yaml", "The kms-13 preset: 13 persistent parties, 5-of-13.", kms},
		{"webhook-off-values.yaml", "No admission webhook.", map[string]any{"mpcguard": map[string]any{"enabled": false}}},
		{"self-signed-values.yaml", "Webhook certificates from a self-signed CA made at install.",
			map[string]any{"mpcguard": map[string]any{"webhook": map[string]any{"certManager": map[string]any{"enabled": false}}}}},
		{"external-webhook-values.yaml", "A webhook running outside the cluster, as in the local demo.",
			map[string]any{"mpcguard": map[string]any{"webhook": map[string]any{"url": "https://127.0.0.1:9443/validate"}}}},
		{"extra-namespaces-values.yaml", "Parties discovered and checked in a second namespace too.",
			map[string]any{
				"coordinator": map[string]any{"discovery": map[string]any{"namespaces": []string{"mpc-parties"}}},
				"mpcguard":    map[string]any{"webhook": map[string]any{"namespaces": []string{"mpc-parties"}}},
			}},
	}
	return ciFiles(list)
}

func mpcguardCI() ([]File, error) {
	list := []ci{
		{"default-values.yaml", "The chart's defaults.", map[string]any{}},
		{"self-signed-values.yaml", "Webhook certificates from a self-signed CA made at install.",
			map[string]any{"webhook": map[string]any{"certManager": map[string]any{"enabled": false}}}},
		{"external-webhook-values.yaml", "A webhook running outside the cluster, as in the local demo.",
			map[string]any{"webhook": map[string]any{"url": "https://127.0.0.1:9443/validate"}}},
		{"seed-values.yaml", "Guarding the seeds' raw manifests: their party pool's database Secret.",
			map[string]any{
				"shareStorage": map[string]any{"secretNames": []string{"mpc-secrets"}},
				"webhook":      map[string]any{"enforcement": map[string]string{vocab.SessionPersistentAvailable: "warn"}},
			}},
	}
	return ciFiles(list)
}
