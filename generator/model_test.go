package generator_test

import (
	"os"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/mpcguard/mpcguard/generator"
	"github.com/mpcguard/mpcguard/generator/valuesdoc"
	"github.com/mpcguard/mpcguard/policies/vocab"
)

// values_docs.go is what `go generate ./generator` makes of values.go's doc comments: a field documented in
// values.go is documented in values.yaml, the schema and the README.
func TestValueDocsAreGenerated(t *testing.T) {
	src, err := os.ReadFile("values.go")
	require.NoError(t, err)
	want, err := valuesdoc.DocsSource(src, "generator", "valueDocs", "go run ./internal/docgen -o values_docs.go values.go")
	require.NoError(t, err)
	got, err := os.ReadFile("values_docs.go")
	require.NoError(t, err)
	assert.Equal(t, string(want), string(got), "values_docs.go drifted from values.go: run go generate ./generator")
}

// A spec is read as `mpcguard validate` reads YAML: 1.2, where `n: 3` is the key "n".
func TestSpecIsReadAsYAML12(t *testing.T) {
	v, warns, err := generator.Load([]byte("threshold:\n  t: 2\n  n: 3\n"))
	require.NoError(t, err, "an unquoted n is the key n, not false")
	assert.EqualValues(t, 3, v.Threshold.N)
	require.Len(t, warns, 1, "Helm's YAML 1.1 would read it as false: the spec's author is told")
	assert.Contains(t, warns[0].Message, `quote it ("n")`)

	_, _, err = generator.Load([]byte("threshold:\n  t: 2\n  t: 3\n"))
	require.Error(t, err, "a duplicate key is an error")
	_, _, err = generator.Load([]byte("- a\n"))
	require.ErrorIs(t, err, generator.ErrInvalidSpec, "a values file is a mapping")
}

func TestSpecIsAValuesFileOverTheDefaultPreset(t *testing.T) {
	v, _, err := generator.Load([]byte("pools:\n  server-party:\n    replicas: 5\n  server-party-api: null\ncoordinator:\n  nodeSelector: {dedicated: mpc}\n"))
	require.NoError(t, err)
	require.Contains(t, v.Pools, "server-party")
	assert.EqualValues(t, 5, v.Pools["server-party"].Replicas)
	assert.Equal(t, "persistent", v.Pools["server-party"].Role, "merged with the default pool")
	assert.NotContains(t, v.Pools, "server-party-api", "null removes a pool")
	assert.Equal(t, map[string]string{"dedicated": "mpc"}, v.Coordinator.NodeSelector)
	_, _, err = generator.Generate(v)
	require.NoError(t, err)
}

func TestPresets(t *testing.T) {
	assert.Equal(t, []string{"default", "kms-13", "seed"}, generator.PresetNames())
	for _, name := range generator.PresetNames() {
		t.Run(name+" generates without warnings", func(t *testing.T) {
			v, err := generator.Preset(name)
			require.NoError(t, err)
			_, warns, err := generator.Generate(v)
			require.NoError(t, err)
			assert.Empty(t, warns)
		})
	}
	t.Run("the default controller users and break-glass group are vocab's", func(t *testing.T) {
		v := generator.Default()
		assert.Equal(t, vocab.DefaultControllerUsers, v.Mpcguard.ControllerUsers)
		assert.Equal(t, []string{vocab.DefaultBreakGlassGroup}, v.Mpcguard.BreakGlassGroups)
		assert.Equal(t, vocab.DefaultRoleLabelKey, v.Global.Party.RoleLabelKey)
		assert.Equal(t, vocab.DefaultPartySelector, v.Global.Party.Selector)
		assert.Equal(t, generator.DefaultAuditInterval, v.Mpcguard.Webhook.Audit.Interval)
	})
	_, err := generator.Preset("nope")
	require.ErrorIs(t, err, generator.ErrUnknownPreset)
}

// Each cross-field rule lives once, in the charts' validation templates; Generate runs it by rendering the
// chart and reports it at the path of the value at fault.
func TestGenerateReportsTheChartsRulesWithTheirPaths(t *testing.T) {
	cases := map[string]struct {
		spec, path string
	}{
		"t above n":                               {"threshold: {t: 4, \"n\": 3}\nmpcguard: {threshold: {t: 4}}\npools: {server-party: {replicas: 4}}\n", "threshold.t"},
		"no persistent pool":                      {"pools: {server-party: null}\nmpcguard: {persistentWorkloads: [], shareStorage: {claimPrefixes: []}}\n", "pools"},
		"two persistent pools":                    {"pools: {server-party-api: {role: persistent, shareStorage: {databaseSecret: {name: db, key: url, env: DB}}}}\n", "pools"},
		"share storage on a delegate":             {"pools: {server-party-api: {shareStorage: {databaseSecret: {name: db, key: url, env: DB}}}}\n", "pools.server-party-api.shareStorage"},
		"both kinds of share storage":             {"pools: {server-party: {shareStorage: {databaseSecret: {name: db, key: url, env: DB}}}}\n", "pools.server-party.shareStorage"},
		"the webhook's t differs":                 {"mpcguard: {threshold: {t: 3}}\n", "mpcguard.threshold.t"},
		"the same port twice":                     {"parties: {healthPort: 50051}\n", "parties.healthPort"},
		"a pod label that is the role label":      {"coordinator: {podLabels: {party-role: persistent}}\n", "coordinator.podLabels"},
		"a webhook pod label that makes a party":  {"mpcguard: {podLabels: {app.kubernetes.io/component: mpc-party}}\n", "mpcguard.podLabels"},
		"an unknown key, named by the schema":     {"coordinator: {nodeSelectors: {a: b}}\n", "coordinator.nodeSelectors"},
		"a value the schema refuses":              {"coordinator: {replicas: 0}\n", "coordinator.replicas"},
		"a root pod":                              {"pools: {server-party: {podSecurityContext: {runAsUser: 0}}}\n", "pools.server-party.podSecurityContext.runAsUser"},
		"an image tagged latest":                  {"coordinator: {image: {tag: latest}}\n", "coordinator.image.tag"},
		"the webhook never checks kube-system":    {"mpcguard: {webhook: {namespaces: [kube-system]}}\n", "mpcguard.webhook.namespaces"},
		"discovery where the webhook never looks": {"coordinator: {discovery: {namespaces: [team-b]}}\n", "coordinator.discovery.namespaces"},
	}
	for name, tc := range cases {
		t.Run(name, func(t *testing.T) {
			v, _, err := generator.Load([]byte(tc.spec))
			if err == nil {
				_, _, err = generator.Generate(v)
			}
			require.ErrorIs(t, err, generator.ErrInvalidSpec)
			assert.Contains(t, err.Error(), tc.path+": ")
		})
	}
	t.Run("warnings come from the chart's NOTES", func(t *testing.T) {
		v, _, err := generator.Load([]byte("mpcguard: {webhook: {replicas: 1}}\npools: {server-party-api: {replicas: 2}}\n"))
		require.NoError(t, err)
		_, warns, err := generator.Generate(v)
		require.NoError(t, err)
		fields := []string{}
		for _, w := range warns {
			fields = append(fields, w.Field)
		}
		assert.ElementsMatch(t, []string{"pools", "mpcguard.webhook.replicas"}, fields)
	})
}
