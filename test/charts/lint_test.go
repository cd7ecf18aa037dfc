package charts_test

import (
	"bytes"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/Masterminds/semver/v3"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"helm.sh/helm/v3/pkg/action"
	"helm.sh/helm/v3/pkg/chart"
	"helm.sh/helm/v3/pkg/lint/support"
)

func TestChartsLintStrictlyWithEveryCIValuesFile(t *testing.T) {
	for _, name := range []string{"mpc-system", "mpcguard"} {
		for file, vals := range ciValues(t, name) {
			t.Run(name+"/"+file, func(t *testing.T) {
				lint := action.NewLint()
				lint.Strict = true
				lint.Namespace = releaseNamespace
				lint.WithSubcharts = true
				res := lint.Run([]string{filepath.Join(chartsDir, name)}, vals)
				for _, m := range res.Messages {
					assert.Less(t, m.Severity, support.WarningSev, "lint: %s", m)
				}
				assert.Empty(t, res.Errors)
			})
		}
	}
}

// Chart.yaml is checked here because ct's Yamale schema validation is unavailable.
func TestChartMetadata(t *testing.T) {
	guard := loadChart(t, "mpcguard")
	system := loadChart(t, "mpc-system")
	for _, ch := range []*chart.Chart{guard, system} {
		t.Run(ch.Name()+" has complete metadata", func(t *testing.T) {
			md := ch.Metadata
			require.NoError(t, md.Validate())
			assert.Equal(t, chart.APIVersionV2, md.APIVersion)
			assert.Equal(t, "application", md.Type)
			_, err := semver.StrictNewVersion(md.Version)
			assert.NoError(t, err, "version is SemVer 2")
			assert.NotEmpty(t, md.AppVersion)
			assert.NotEmpty(t, md.Description)
			assert.NotEmpty(t, md.Sources)
			assert.NotNil(t, ch.Schema, "values.schema.json is shipped")
			require.Len(t, ch.CRDObjects(), 1, "the MPCSession CRD is shipped in crds/")
			assert.Contains(t, string(ch.CRDObjects()[0].File.Data), "mpcsessions.mpc.mpcguard.io")
		})
	}
	t.Run("mpc-system depends on the vendored mpcguard behind mpcguard.enabled", func(t *testing.T) {
		require.Len(t, system.Metadata.Dependencies, 1)
		dep := system.Metadata.Dependencies[0]
		assert.Equal(t, "mpcguard", dep.Name)
		assert.Equal(t, guard.Metadata.Version, dep.Version)
		assert.Equal(t, "mpcguard.enabled", dep.Condition)
		assert.Empty(t, dep.Repository, "nothing to download")
		require.Len(t, system.Dependencies(), 1)
		vendored := system.Dependencies()[0]
		assert.Equal(t, guard.Metadata, vendored.Metadata)
		assert.Equal(t, guard.Templates, vendored.Templates, "the vendored templates are charts/mpcguard's")
		assert.Equal(t, guard.Schema, vendored.Schema)
		assert.Empty(t, vendored.CRDObjects(), "mpc-system ships the CRD itself, also when the webhook is off")
	})
}

func TestValuesSchemaRejectsWrongTypesAndUnknownKeys(t *testing.T) {
	cases := map[string]struct {
		chart  string
		values map[string]any
		want   string
	}{
		"an unknown top-level key":                    {"mpc-system", values("replicaCount", 3), "replicaCount"},
		"an unknown key inside a pool":                {"mpc-system", values("pools.server-party.replica", 3), "replica"},
		"a threshold that is not a number":            {"mpc-system", values("threshold.t", "two"), "/threshold/t"},
		"an unknown role":                             {"mpc-system", values("pools.server-party-api.role", "admin"), "/pools/server-party-api/role"},
		"a pool name that is not a DNS label":         {"mpc-system", values("pools", map[string]any{"Big_Pool": map[string]any{"role": "delegate"}}), "Big_Pool"},
		"an unknown key of the coordinator":           {"mpc-system", values("coordinator.nodeSelectors", map[string]any{"a": "b"}), "nodeSelectors"},
		"an unknown key of the webhook's pods":        {"mpcguard", values("podAnnotation", map[string]any{"a": "b"}), "podAnnotation"},
		"a pod running as root":                       {"mpc-system", values("coordinator.podSecurityContext.runAsUser", 0), "/coordinator/podSecurityContext/runAsUser"},
		"an image tagged latest":                      {"mpc-system", values("parties.image.tag", "latest"), "/parties/image/tag"},
		"an unknown key of the dependency":            {"mpc-system", values("mpcguard.webhook.replica", 2), "replica"},
		"a webhook timeout over 30 seconds":           {"mpcguard", values("webhook.timeoutSeconds", 60), "/webhook/timeoutSeconds"},
		"a failure policy that is not Fail or Ignore": {"mpcguard", values("webhook.failurePolicy", "Retry"), "/webhook/failurePolicy"},
		"an unknown enforcement policy id":            {"mpcguard", values("webhook.enforcement", map[string]any{"no-such-policy": "warn"}), "no-such-policy"},
		"a party selector that is not k=v":            {"mpcguard", values("global.party.selector", "mpc-party"), "/global/party/selector"},
		"a replica count given as a string":           {"mpcguard", values("webhook.replicas", "2"), "/webhook/replicas"},
	}
	for name, tc := range cases {
		t.Run("rejects "+name, func(t *testing.T) {
			_, err := render(t, loadChart(t, tc.chart), tc.values)
			require.Error(t, err)
			assert.ErrorContains(t, err, "schema")
			assert.ErrorContains(t, err, tc.want)
		})
	}
}

// TestRenderedCIValuesPassMpcguardValidate renders every ci values file like `helm template` and runs the built
// `mpcguard validate` on it: the charts obey their own policies.
func TestRenderedCIValuesPassMpcguardValidate(t *testing.T) {
	dir := t.TempDir()
	bin := filepath.Join(dir, "mpcguard")
	build := exec.CommandContext(t.Context(), "go", "build", "-o", bin, "./cmd/mpcguard")
	build.Dir = filepath.Join("..", "..")
	out, err := build.CombinedOutput()
	require.NoError(t, err, "go build ./cmd/mpcguard: %s", out)
	for _, name := range []string{"mpc-system", "mpcguard"} {
		ch := loadChart(t, name)
		for file, vals := range ciValues(t, name) {
			t.Run(name+"/"+file, func(t *testing.T) {
				r := mustRender(t, ch, vals)
				manifest := filepath.Join(dir, name+"-"+file)
				require.NoError(t, os.WriteFile(manifest, []byte(r.manifest), 0o600))
				var stdout, stderr bytes.Buffer
				cmd := exec.CommandContext(t.Context(), bin, "validate", "--namespace", releaseNamespace, "-f", manifest)
				cmd.Stdout, cmd.Stderr = &stdout, &stderr
				err := cmd.Run()
				require.NoError(t, err, "mpcguard validate: %s%s", stdout.String(), stderr.String())
				assert.Empty(t, strings.TrimSpace(stdout.String()), "no violation is reported")
			})
		}
	}
}
