package charts_test

import (
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"testing"

	cmv1 "github.com/cert-manager/cert-manager/pkg/apis/certmanager/v1"
	"github.com/mpcguard/mpcguard/test/cluster"
	"github.com/stretchr/testify/require"
	"helm.sh/helm/v3/pkg/chart"
	"helm.sh/helm/v3/pkg/chart/loader"
	"helm.sh/helm/v3/pkg/chartutil"
	"helm.sh/helm/v3/pkg/releaseutil"
	apiextensionsv1 "k8s.io/apiextensions-apiserver/pkg/apis/apiextensions/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/serializer"
	clientgoscheme "k8s.io/client-go/kubernetes/scheme"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/yaml"
)

const (
	releaseName      = "mpc-system"
	releaseNamespace = "mpc-system"
)

// chartsDir is the repository's charts/ directory.
var chartsDir = filepath.Join("..", "..", "charts")

var decoder runtime.Decoder

func init() {
	scheme := runtime.NewScheme()
	if err := clientgoscheme.AddToScheme(scheme); err != nil {
		panic(err)
	}
	// The mpcguard chart renders the openreports.io Report CRD where the cluster lacks it (helm template: always).
	if err := apiextensionsv1.AddToScheme(scheme); err != nil {
		panic(err)
	}
	if err := cmv1.AddToScheme(scheme); err != nil {
		panic(err)
	}
	// Strict: a field the API types do not know is a template bug.
	decoder = serializer.NewCodecFactory(scheme, serializer.EnableStrict).UniversalDeserializer()
}

func loadChart(t *testing.T, name string) *chart.Chart {
	t.Helper()
	ch, err := loader.Load(filepath.Join(chartsDir, name))
	require.NoError(t, err)
	return ch
}

// rendered is one chart rendered by the Helm SDK, as `helm template` would (hooks included).
type rendered struct {
	notes    string
	vals     map[string]any
	manifest string
	objects  []client.Object
}

// render renders the chart with the values (nil: defaults) as a release in releaseNamespace.
func render(t *testing.T, ch *chart.Chart, values map[string]any) (*rendered, error) {
	t.Helper()
	rel, err := cluster.HelmTemplate(t.Context(), cluster.HelmRelease{Name: releaseName, Namespace: releaseNamespace, Chart: ch, Values: values}, "v1.33.0")
	if err != nil {
		return nil, err
	}
	var b strings.Builder
	b.WriteString(rel.Manifest)
	for _, h := range rel.Hooks {
		fmt.Fprintf(&b, "\n---\n# Source: %s\n%s\n", h.Path, h.Manifest)
	}
	out := &rendered{manifest: b.String(), vals: rel.Config, notes: rel.Info.Notes}
	if merged, err := chartutil.CoalesceValues(ch, rel.Config); err == nil {
		out.vals = merged
	}
	docs := releaseutil.SplitManifests(out.manifest)
	keys := make([]string, 0, len(docs))
	for k := range docs {
		keys = append(keys, k)
	}
	sort.Sort(releaseutil.BySplitManifestsOrder(keys))
	for _, k := range keys {
		doc := strings.TrimSpace(docs[k])
		if doc == "" || isCommentOnly(doc) {
			continue
		}
		obj, _, err := decoder.Decode([]byte(doc), nil, nil)
		if err != nil {
			return nil, fmt.Errorf("decoding %q: %w", doc, err)
		}
		co, ok := obj.(client.Object)
		if !ok {
			return nil, fmt.Errorf("%T is not an object", obj)
		}
		out.objects = append(out.objects, co)
	}
	return out, nil
}

func mustRender(t *testing.T, ch *chart.Chart, values map[string]any) *rendered {
	t.Helper()
	r, err := render(t, ch, values)
	require.NoError(t, err)
	return r
}

func isCommentOnly(doc string) bool {
	for _, l := range strings.Split(doc, "\n") {
		if l = strings.TrimSpace(l); l != "" && !strings.HasPrefix(l, "#") {
			return false
		}
	}
	return true
}

// ciValues reads a chart's ci/*-values.yaml files, by file name.
func ciValues(t *testing.T, chartName string) map[string]map[string]any {
	t.Helper()
	files, err := filepath.Glob(filepath.Join(chartsDir, chartName, "ci", "*-values.yaml"))
	require.NoError(t, err)
	require.NotEmpty(t, files, "chart %s has ci values", chartName)
	out := map[string]map[string]any{}
	for _, f := range files {
		data, err := os.ReadFile(f)
		require.NoError(t, err)
		v := map[string]any{}
		require.NoError(t, yaml.Unmarshal(data, &v), f)
		out[filepath.Base(f)] = v
	}
	return out
}

// objectsOf returns the rendered objects of type T.
func objectsOf[T client.Object](r *rendered) []T {
	var out []T
	for _, o := range r.objects {
		if x, ok := o.(T); ok {
			out = append(out, x)
		}
	}
	return out
}

// values builds nested values from dotted keys, e.g. values("mpcguard.enabled", false).
func values(kv ...any) map[string]any {
	out := map[string]any{}
	for i := 0; i < len(kv); i += 2 {
		parts := strings.Split(kv[i].(string), ".")
		m := out
		for _, p := range parts[:len(parts)-1] {
			next, ok := m[p].(map[string]any)
			if !ok {
				next = map[string]any{}
				m[p] = next
			}
			m = next
		}
		m[parts[len(parts)-1]] = kv[i+1]
	}
	return out
}

// values returns the values the release was rendered with, defaults merged.
func (r *rendered) values(t *testing.T) map[string]any {
	t.Helper()
	require.NotNil(t, r.vals)
	return r.vals
}
