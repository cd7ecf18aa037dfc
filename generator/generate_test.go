package generator_test

import (
	"bytes"
	"flag"
	"fmt"
	"os"
	"path"
	"path/filepath"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"helm.sh/helm/v3/pkg/action"
	"helm.sh/helm/v3/pkg/chart"
	"helm.sh/helm/v3/pkg/chart/loader"
	"helm.sh/helm/v3/pkg/chartutil"

	"github.com/mpcguard/mpcguard/generator"
)

var update = flag.Bool("update", false, "rewrite the golden files under testdata/golden")

func generate(t *testing.T, s *generator.SystemValues) []generator.File {
	t.Helper()
	files, _, err := generator.Generate(s)
	require.NoError(t, err)
	return files
}

// chartOf loads one generated chart (the files under dir/) with the Helm SDK, without touching the disk.
func chartOf(t *testing.T, files []generator.File, dir string) *chart.Chart {
	t.Helper()
	var buffered []*loader.BufferedFile
	for _, f := range files {
		if rest, ok := strings.CutPrefix(f.Path, dir+"/"); ok {
			buffered = append(buffered, &loader.BufferedFile{Name: rest, Data: f.Content})
		}
	}
	ch, err := loader.LoadFiles(buffered)
	require.NoError(t, err)
	return ch
}

// renderChart renders like `helm template --namespace mpc-system mpc-system`, hooks included.
func renderChart(t *testing.T, ch *chart.Chart, vals map[string]any) string {
	t.Helper()
	install := action.NewInstall(&action.Configuration{})
	install.DryRun, install.ClientOnly, install.Replace = true, true, true
	// The charts' kubeVersion; a Helm SDK without its release build's version stamps assumes Kubernetes v1.20.
	install.KubeVersion = &chartutil.KubeVersion{Version: "v1.36.3", Major: "1", Minor: "36"}
	install.ReleaseName, install.Namespace = "mpc-system", "mpc-system"
	rel, err := install.RunWithContext(t.Context(), ch, vals)
	require.NoError(t, err)
	var b strings.Builder
	b.WriteString(rel.Manifest)
	for _, h := range rel.Hooks {
		fmt.Fprintf(&b, "---\n# Source: %s\n%s\n", h.Path, h.Manifest)
	}
	return b.String()
}

func TestGenerateIsDeterministic(t *testing.T) {
	for _, name := range generator.PresetNames() {
		t.Run(name+" writes byte-identical files twice", func(t *testing.T) {
			s, err := generator.Preset(name)
			require.NoError(t, err)
			a, b := t.TempDir(), t.TempDir()
			require.NoError(t, generator.Write(a, generate(t, s)))
			s2, err := generator.Preset(name)
			require.NoError(t, err)
			require.NoError(t, generator.Write(b, generate(t, s2)))
			assert.Equal(t, readTree(t, a), readTree(t, b))
		})
	}
	t.Run("Write removes what it no longer generates and never what it did not write", func(t *testing.T) {
		dir := t.TempDir()
		foreign := filepath.Join(dir, "mpc-system", "templates", "mine.yaml")
		require.NoError(t, os.MkdirAll(filepath.Dir(foreign), 0o755))
		require.NoError(t, os.WriteFile(foreign, []byte("x"), 0o644))
		other := filepath.Join(dir, "README.md")
		require.NoError(t, os.WriteFile(other, []byte("y"), 0o644))
		files := generate(t, generator.Default())
		stale := generator.File{Path: "mpc-system/templates/old.yaml", Content: []byte("old")}
		require.NoError(t, generator.Write(dir, append(files, stale)))
		require.FileExists(t, filepath.Join(dir, "mpc-system", "templates", "old.yaml"))
		require.NoError(t, generator.Write(dir, files))
		assert.NoFileExists(t, filepath.Join(dir, "mpc-system", "templates", "old.yaml"), "written before, no longer generated")
		assert.FileExists(t, foreign, "a file generate did not write stays")
		assert.FileExists(t, other, "a file generate did not write stays")
	})
}

func readTree(t *testing.T, dir string) map[string]string {
	t.Helper()
	out := map[string]string{}
	require.NoError(t, filepath.WalkDir(dir, func(p string, d os.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		data, err := os.ReadFile(p)
		rel, _ := filepath.Rel(dir, p)
		out[filepath.ToSlash(rel)] = string(data)
		return err
	}))
	return out
}

// TestCheckedInChartsAreGenerated is `make verify` in Go: charts/ is what the default preset generates.
func TestCheckedInChartsAreGenerated(t *testing.T) {
	want := map[string]string{}
	for _, f := range generate(t, generator.Default()) {
		want[f.Path] = string(f.Content)
	}
	got := readTree(t, filepath.Join("..", "charts"))
	for p := range got {
		if !strings.HasPrefix(p, "mpc-system/") && !strings.HasPrefix(p, "mpcguard/") {
			delete(got, p)
		}
	}
	require.Equal(t, len(want), len(got), "the same files; regenerate with: go run ./cmd/mpcguard generate --preset default --output charts")
	for p, content := range want {
		assert.Equal(t, content, got[p], "charts/%s drifted from the generator", p)
	}
}

// otherCertModes are webhook.certs of the modes besides the default (rotate), by the name of their golden.
var otherCertModes = map[string]map[string]any{
	"cert-manager":    {"mode": "certManager"},
	"existing-secret": {"mode": "secret", "existingSecret": "mpcguard-tls", "caBundle": "Y2E="},
}

func TestEveryCertificateModeRendersTheSameBytesTwice(t *testing.T) {
	files := generate(t, generator.Default())
	cases := map[string]map[string]any{"rotate (the default)": nil}
	for mode, certs := range otherCertModes {
		cases[mode] = map[string]any{"webhook": map[string]any{"certs": certs}}
	}
	for name, vals := range cases {
		t.Run(name, func(t *testing.T) {
			for _, chartName := range []string{generator.MpcguardChartName, generator.SystemChartName} {
				v := vals
				if chartName == generator.SystemChartName && vals != nil {
					v = map[string]any{"mpcguard": vals}
				}
				first := renderChart(t, chartOf(t, files, chartName), v)
				second := renderChart(t, chartOf(t, files, chartName), v)
				assert.Equal(t, first, second, "two renders of %s give the same bytes", chartName)
				assert.NotContains(t, first, "tls.key", "%s renders no private key", chartName)
			}
		})
	}
}

// goldenFiles are the generated files that depend on the spec (templates are embedded verbatim).
var goldenFiles = []string{"Chart.yaml", "values.yaml", "values.schema.json", "README.md"}

func TestGolden(t *testing.T) {
	for _, name := range generator.PresetNames() {
		t.Run(name, func(t *testing.T) {
			s, err := generator.Preset(name)
			require.NoError(t, err)
			files := generate(t, s)
			byPath := map[string][]byte{}
			for _, f := range files {
				byPath[f.Path] = f.Content
			}
			got := map[string][]byte{}
			for _, dir := range []string{generator.SystemChartName, generator.MpcguardChartName} {
				for _, g := range goldenFiles {
					p := path.Join(dir, g)
					require.Contains(t, byPath, p)
					got[p] = byPath[p]
				}
			}
			// Rendered with the preset's values: every certificate mode renders the same bytes every time.
			got["mpc-system.rendered.yaml"] = []byte(renderChart(t, chartOf(t, files, generator.SystemChartName), nil))
			got["mpcguard.rendered.yaml"] = []byte(renderChart(t, chartOf(t, files, generator.MpcguardChartName), nil))
			if name == "default" {
				for mode, certs := range otherCertModes {
					got["mpcguard."+mode+".rendered.yaml"] = []byte(renderChart(t, chartOf(t, files, generator.MpcguardChartName),
						map[string]any{"webhook": map[string]any{"certs": certs}}))
				}
			}
			for p, content := range got {
				golden := filepath.Join("testdata", "golden", name, filepath.FromSlash(p))
				if *update {
					require.NoError(t, os.MkdirAll(filepath.Dir(golden), 0o755))
					require.NoError(t, os.WriteFile(golden, content, 0o644))
					continue
				}
				want, err := os.ReadFile(golden)
				require.NoError(t, err, "missing golden file; run go test ./generator -run TestGolden -update")
				assert.True(t, bytes.Equal(want, content), "%s differs from %s; run with -update if intended", p, golden)
			}
		})
	}
}
