package generator

import (
	"bytes"
	"embed"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path"
	"path/filepath"
	"reflect"
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

// Release is the mpcguard release the generated charts belong to: its version is both charts' version and
// appVersion (see SetRelease for the webhook image).
type Release struct {
	Version string
}

// SetRelease makes v describe the mpcguard release version: the webhook image's tag becomes version; image,
// when not empty, is the webhook image REGISTRY/REPOSITORY[@DIGEST] that replaces the default's. `make publish`
// pins the digest it pushed.
func SetRelease(v *SystemValues, version, image string) {
	img := &v.Mpcguard.Image
	img.Tag = version
	ref, digest, _ := strings.Cut(image, "@")
	if ref != "" {
		img.Registry, img.Repository = splitRegistry(ref)
	}
	if digest != "" {
		img.Digest = digest
	}
}

// splitRegistry splits an image reference's repository into its registry (the first element, when it names a
// host: a dot, a port or localhost) and the rest, as Docker does.
func splitRegistry(ref string) (registry, repository string) {
	first, rest, ok := strings.Cut(ref, "/")
	if ok && (strings.ContainsAny(first, ".:") || first == "localhost") {
		return first, rest
	}
	return "", ref
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

// SystemChartName is the name of the umbrella chart.
const SystemChartName = "mpc-system"

// Generate builds the files of both charts from the values of the mpc-system chart: mpc-system/ (with mpcguard
// vendored under charts/) and mpcguard/ (whose values are the mpcguard part of v, without what v derives from
// its own pools). It then checks them as `helm install` would, with the charts' values.schema.json and their
// validation templates (one home for every rule): each failure is an error naming its value. It returns the
// warnings the charts' NOTES give; values with errors yield ErrInvalidSpec.
func Generate(v *SystemValues) ([]File, []Warning, error) {
	return GenerateRelease(v, Release{Version: MpcguardChartVersion})
}

// GenerateRelease is Generate for the mpcguard release r.
func GenerateRelease(v *SystemValues, r Release) ([]File, []Warning, error) {
	if r.Version == "" {
		r.Version = MpcguardChartVersion
	}
	if _, err := semver.StrictNewVersion(r.Version); err != nil {
		return nil, nil, fmt.Errorf("%w: %w", ErrInvalidSpec, field.Invalid(field.NewPath("release", "version"), r.Version, "must be a SemVer 2 version: "+err.Error()))
	}
	guard, err := mpcguardChart(v, r)
	if err != nil {
		return nil, nil, err
	}
	system, err := systemChart(v, r, guard)
	if err != nil {
		return nil, nil, err
	}
	files := append(prefixed(SystemChartName, system), prefixed(MpcguardChartName, guard)...)
	sort.Slice(files, func(i, j int) bool { return files[i].Path < files[j].Path })
	warns, err := check(files)
	if err != nil {
		return nil, warns, err
	}
	return files, warns, nil
}

// manifestName is the file in the output directory listing what Write wrote there, so that the next Write
// removes what it no longer generates and nothing else.
const manifestName = ".mpcguard-generated"

// Write writes the files under dir and removes the files its previous Write there wrote (listed in
// dir/.mpcguard-generated) that are no longer generated. It never removes a file it did not write.
func Write(dir string, files []File) error {
	old, err := os.ReadFile(filepath.Join(dir, manifestName))
	if err != nil && !errors.Is(err, fs.ErrNotExist) {
		return fmt.Errorf("reading %s: %w", manifestName, err)
	}
	written := map[string]bool{}
	var list strings.Builder
	list.WriteString("# Written by mpcguard generate, which removes a listed file when it no longer generates it.\n")
	for _, f := range files {
		p := filepath.Join(dir, filepath.FromSlash(f.Path))
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			return fmt.Errorf("writing %s: %w", f.Path, err)
		}
		if err := os.WriteFile(p, f.Content, 0o644); err != nil {
			return fmt.Errorf("writing %s: %w", f.Path, err)
		}
		written[f.Path] = true
		list.WriteString(f.Path + "\n")
	}
	for _, line := range strings.Split(string(old), "\n") {
		line = strings.TrimSpace(line)
		if line == "" || strings.HasPrefix(line, "#") || written[line] || !filepath.IsLocal(filepath.FromSlash(line)) {
			continue
		}
		p := filepath.Join(dir, filepath.FromSlash(line))
		if err := os.Remove(p); err != nil && !errors.Is(err, fs.ErrNotExist) {
			return fmt.Errorf("removing %s, no longer generated: %w", line, err)
		}
		// Empty directories left behind go too, up to dir (os.Remove refuses a directory with anything in it).
		for d := filepath.Dir(p); d != filepath.Clean(dir) && strings.HasPrefix(d, filepath.Clean(dir)); d = filepath.Dir(d) {
			if os.Remove(d) != nil {
				break
			}
		}
	}
	if err := os.WriteFile(filepath.Join(dir, manifestName), []byte(list.String()), 0o644); err != nil {
		return fmt.Errorf("writing %s: %w", manifestName, err)
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
	// The templates both charts share, their names prefixed with this chart's.
	shared, err := templatesFS.ReadFile("templates/_shared/_pod.tpl")
	if err != nil {
		return nil, fmt.Errorf("reading the shared templates: %w", err)
	}
	shared = bytes.ReplaceAll(shared, []byte("CHART"), []byte(chartDir))
	return append(files, File{Path: "templates/_pod.tpl", Content: shared}), nil
}

// DefaultAuditInterval is how often the chart's webhook audits existing objects: a list per audited kind and
// namespace, rare enough to cost the API server nothing worth measuring, often enough that a Report is never
// older than a coffee break.
const DefaultAuditInterval = "10m"

// MpcguardValuesFor returns the values of the standalone mpcguard chart: the mpcguard part of the system
// values, enabled, without the share storage and persistent workloads the system chart derives from its pools.
func MpcguardValuesFor(v *SystemValues) MpcguardValues {
	m := v.Mpcguard
	m.Enabled = true
	m.ShareStorage = ShareStorageNames{SecretNames: []string{}, ClaimPrefixes: []string{}}
	m.PersistentWorkloads = []string{}
	return MpcguardValues{Global: v.Global, MpcguardSettings: m}
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

// userFiles are values.yaml, values.schema.json and README.md of a chart: the README is the chart's README
// template (readme/<chart>.md.tmpl) given the values table.
func userFiles(chartName string, values any, schema *valuesdoc.Schema, header string) ([]File, error) {
	vy, err := valuesdoc.YAML(valueDocs, values, header, commentWidth)
	if err != nil {
		return nil, err
	}
	sj, err := schema.JSON()
	if err != nil {
		return nil, err
	}
	rows, err := valuesdoc.Rows(valueDocs, values)
	if err != nil {
		return nil, err
	}
	readme, err := renderReadme(chartName, valuesdoc.Markdown(rows))
	if err != nil {
		return nil, err
	}
	return []File{
		{Path: "values.yaml", Content: vy},
		{Path: "values.schema.json", Content: sj},
		{Path: "README.md", Content: readme},
	}, nil
}

func mpcguardChart(v *SystemValues, r Release) ([]File, error) {
	md := &chart.Metadata{
		APIVersion:  chart.APIVersionV2,
		Name:        MpcguardChartName,
		Version:     r.Version,
		AppVersion:  v.Mpcguard.Image.Tag,
		Description: "The mpcguard admission side: a validating webhook enforcing MPC party roles and session compositions, its RBAC, its certificates and the MPCSession CRD.",
		Type:        "application",
		Keywords:    []string{"mpc", "threshold-signing", "admission-webhook", "policy"},
		Home:        "https://github.com/mpcguard/mpcguard",
		Sources:     []string{"https://github.com/mpcguard/mpcguard"},
		KubeVersion: KubeVersion,
		Annotations: artifactHub(imageEntry{"mpcguard", v.Mpcguard.Image}),
	}
	if md.AppVersion == "" {
		md.AppVersion = r.Version
	}
	cy, err := chartYAML(md)
	if err != nil {
		return nil, err
	}
	schema, err := valuesdoc.SchemaFor(valueDocs, reflect.TypeOf(MpcguardValues{}), "Values of the mpcguard chart")
	if err != nil {
		return nil, err
	}
	policySchema(schema)
	files := []File{{Path: "Chart.yaml", Content: cy}, {Path: crdPath, Content: v1alpha1.CRDYAML}}
	uf, err := userFiles(MpcguardChartName, MpcguardValuesFor(v), schema, "Values of the mpcguard chart: the admission webhook.")
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
	nt, err := nativeTemplate()
	if err != nil {
		return nil, err
	}
	files = append(files, File{Path: nativeTemplatePath, Content: nt})
	ci, err := mpcguardCI()
	if err != nil {
		return nil, err
	}
	return append(files, ci...), nil
}

func systemChart(v *SystemValues, r Release, guard []File) ([]File, error) {
	md := &chart.Metadata{
		APIVersion:  chart.APIVersionV2,
		Name:        SystemChartName,
		Version:     r.Version,
		AppVersion:  r.Version,
		Description: "A threshold-signing (MPC) system: session coordinator, persistent and delegate party pools, discovery RBAC, anti-affinity, and the mpcguard admission webhook.",
		Type:        "application",
		Keywords:    []string{"mpc", "threshold-signing", "tss"},
		Home:        "https://github.com/mpcguard/mpcguard",
		Sources:     []string{"https://github.com/mpcguard/mpcguard"},
		// The dependency is vendored in charts/: no repository, nothing to download.
		Dependencies: []*chart.Dependency{{Name: MpcguardChartName, Version: r.Version, Condition: "mpcguard.enabled"}},
		KubeVersion:  KubeVersion,
		Annotations: artifactHub(imageEntry{"mpc-session-coordinator", v.Coordinator.Image},
			imageEntry{"mpc-server-party", v.Parties.Image}, imageEntry{"mpcguard", v.Mpcguard.Image}),
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
	uf, err := userFiles(SystemChartName, v, schema, fmt.Sprintf("Values of the %s chart.", SystemChartName))
	if err != nil {
		return nil, err
	}
	files = append(files, uf...)
	static, err := embedded(SystemChartName)
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
	schema, err := valuesdoc.SchemaFor(valueDocs, reflect.TypeOf(SystemValues{}), "Values of the mpc-system chart")
	if err != nil {
		return nil, err
	}
	global, err := valuesdoc.SchemaFor(valueDocs, reflect.TypeOf(GlobalValues{}), "")
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

// productionValues is the values file an operator of a production cluster writes: every extension point of
// every workload set (private registry and pull secrets, dedicated nodes, IAM annotations, priority, extra
// environment and volumes, metrics), so that chart-testing lints and installs it.
//
//go:embed presets/ci/production-values.yaml
var productionValues []byte

func systemCI() ([]File, error) {
	seed, err := PresetFile("seed")
	if err != nil {
		return nil, err
	}
	kms, err := PresetFile("kms-13")
	if err != nil {
		return nil, err
	}
	list := []ci{
		{"default-values.yaml", "The chart's defaults.", map[string]any{}},
		{"webhook-off-values.yaml", "No admission webhook.", map[string]any{"mpcguard": map[string]any{"enabled": false}}},
		{"cert-manager-values.yaml", "Webhook certificates from cert-manager, the CA injected by its cainjector.",
			map[string]any{"mpcguard": map[string]any{"webhook": map[string]any{"certs": map[string]any{"mode": "certManager"}}}}},
		{"existing-secret-values.yaml", "Webhook certificates from an existing TLS Secret and its CA.",
			map[string]any{"mpcguard": map[string]any{"webhook": map[string]any{"certs": existingSecretCerts}}}},
		{"external-webhook-values.yaml", "A webhook running outside the cluster, as in the local demo.",
			map[string]any{"mpcguard": map[string]any{"webhook": map[string]any{"url": "https://127.0.0.1:9443/validate"}}}},
		{"extra-namespaces-values.yaml", "Parties discovered and checked in a second namespace too.",
			map[string]any{
				"coordinator": map[string]any{"discovery": map[string]any{"namespaces": []string{"mpc-parties"}}},
				"mpcguard":    map[string]any{"webhook": map[string]any{"namespaces": []string{"mpc-parties"}}},
			}},
	}
	files, err := ciFiles(list)
	if err != nil {
		return nil, err
	}
	// The presets are values files of this chart: chart-testing installs them as they are.
	return append(files,
		File{Path: "ci/seed-values.yaml", Content: seed},
		File{Path: "ci/kms-13-values.yaml", Content: kms},
		File{Path: "ci/production-values.yaml", Content: productionValues}), nil
}

// existingSecretCerts are webhook.certs in mode secret, for chart-testing: a Secret the operator made and the
// base64 of a PEM block standing for its CA (chart-testing lints and installs with webhook.url on top).
var existingSecretCerts = map[string]any{"mode": "secret", "existingSecret": "mpcguard-webhook-tls",
	"caBundle": "LS0tLS1CRUdJTiBDRVJUSUZJQ0FURS0tLS0tCi0tLS0tRU5EIENFUlRJRklDQVRFLS0tLS0K"}

func mpcguardCI() ([]File, error) {
	list := []ci{
		{"default-values.yaml", "The chart's defaults.", map[string]any{}},
		{"cert-manager-values.yaml", "Webhook certificates from cert-manager, the CA injected by its cainjector.",
			map[string]any{"webhook": map[string]any{"certs": map[string]any{"mode": "certManager"}}}},
		{"existing-secret-values.yaml", "Webhook certificates from an existing TLS Secret and its CA.",
			map[string]any{"webhook": map[string]any{"certs": existingSecretCerts}}},
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
