package suite_test

import (
	"errors"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/mpcguard/mpcguard/internal/suite"
	"github.com/mpcguard/mpcguard/policies/vocab"
)

func run(t *testing.T, files []*suite.File) []suite.Result {
	t.Helper()
	var out []suite.Result
	for _, f := range files {
		eng, err := f.Engine(t.Context())
		require.NoError(t, err)
		out = append(out, f.Run(t.Context(), eng)...)
	}
	return out
}

func assertAllPass(t *testing.T, results []suite.Result) {
	t.Helper()
	for _, r := range results {
		assert.True(t, r.Passed, "%s: %s\n%s", r.Suite, r.Case, strings.Join(r.Problems, "\n"))
	}
}

func TestBuiltinSuitePasses(t *testing.T) {
	files, err := suite.Builtin()
	require.NoError(t, err)
	results := run(t, files)
	assertAllPass(t, results)
	passed, failed := suite.Summary(results)
	assert.Zero(t, failed)
	assert.Greater(t, passed, 2*len(vocab.Policies))
}

// Every built-in policy id is denied by some case, and each has a case about it that denies and one that
// admits.
func TestBuiltinSuiteCoversEveryPolicy(t *testing.T) {
	files, err := suite.Builtin()
	require.NoError(t, err)
	denied := map[string]bool{}
	denyCase, allowCase := map[string]bool{}, map[string]bool{}
	for _, f := range files {
		for _, c := range f.Cases {
			var deny []string
			if c.Expect.Deny != nil {
				deny = *c.Expect.Deny
			}
			for _, id := range deny {
				denied[id] = true
			}
			if c.Policy == "" {
				continue
			}
			switch {
			case slices.Contains(deny, c.Policy):
				denyCase[c.Policy] = true
			case c.Expect.Allowed != nil && *c.Expect.Allowed:
				allowCase[c.Policy] = true
			}
		}
	}
	for _, id := range vocab.PolicyIDs() {
		assert.True(t, denied[id], "no case of the embedded suite expects %s to deny", id)
		assert.True(t, denyCase[id], "no case about %s (policy: %s) expects it to deny", id, id)
		assert.True(t, allowCase[id], "no case about %s (policy: %s) expects an allow", id, id)
	}
}

const brokenSuite = `name: broken
config:
  shareSecretNames: [mpc-db]
cases:
  - name: admits a delegate party pod
    object:
      apiVersion: v1
      kind: Pod
      metadata: {name: p-0, namespace: mpc-system, labels: {app.kubernetes.io/component: mpc-party, party-role: delegate}}
    expect: {allowed: true}
  - name: wrongly expects a party pod without a role to be admitted
    object:
      apiVersion: v1
      kind: Pod
      metadata: {name: p-0, namespace: mpc-system, labels: {app.kubernetes.io/component: mpc-party}}
    expect: {allowed: true, deny: []}
`

func TestBrokenExpectationFailsNamingTheCase(t *testing.T) {
	f, err := suite.Parse("broken.yaml", "", []byte(brokenSuite))
	require.NoError(t, err)
	results := run(t, []*suite.File{f})
	require.Len(t, results, 2)
	assert.True(t, results[0].Passed)
	assert.False(t, results[1].Passed)
	var out strings.Builder
	require.NoError(t, suite.Write(&out, results))
	assert.Equal(t, `PASS broken.yaml: admits a delegate party pod
FAIL broken.yaml: wrongly expects a party pod without a role to be admitted
    allowed: expected true, got false
    deny: expected [], got [party-role-required]
      [party-role-required] Pod mpc-system/p-0: party pod (app.kubernetes.io/component=mpc-party) has no party-role label; add party-role with one of persistent, delegate, temporary
1 passed, 1 failed
`, out.String())
}

func TestUnreadableSuites(t *testing.T) {
	tests := map[string]struct{ suite, want string }{
		"an unknown field of a case":   {strings.Replace(brokenSuite, "expect: {allowed: true}", "expect: {alowed: true}", 1), "field alowed not found"},
		"an unknown configuration key": {strings.Replace(brokenSuite, "shareSecretNames", "shareSecrets", 1), "field shareSecrets not found"},
		"a case without expectations":  {strings.Replace(brokenSuite, "    expect: {allowed: true}\n", "", 1), "expect nothing"},
		"a case without an object":     {"cases:\n  - name: x\n    expect: {allowed: true}\n", "give an object or a request"},
		"no cases":                     {"name: empty\n", "no cases"},
		"not YAML":                     {"cases: [", "yaml"},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			_, err := suite.Parse("s.yaml", "", []byte(tc.suite))
			require.Error(t, err)
			assert.True(t, errors.Is(err, suite.ErrSuite))
			assert.Contains(t, err.Error(), "s.yaml")
			assert.Contains(t, err.Error(), tc.want)
		})
	}
	t.Run("a case about a policy the policies do not define", func(t *testing.T) {
		f, err := suite.Parse("s.yaml", "", []byte(strings.Replace(brokenSuite, "  - name: admits a delegate party pod\n",
			"  - name: admits a delegate party pod\n    policy: party-rol-required\n", 1)))
		require.NoError(t, err)
		_, err = f.Engine(t.Context())
		require.ErrorIs(t, err, suite.ErrSuite)
		assert.Contains(t, err.Error(), `policy "party-rol-required" is not defined`)
	})
	t.Run("an enforcement for an id the policies do not define", func(t *testing.T) {
		f, err := suite.Parse("s.yaml", "", []byte(strings.Replace(brokenSuite, "config:\n", "config:\n  enforcement: {party-tem-label: warn}\n", 1)))
		require.NoError(t, err)
		_, err = f.Engine(t.Context())
		require.ErrorIs(t, err, suite.ErrSuite)
		assert.Contains(t, err.Error(), "party-tem-label, which no policy module defines")
	})
}

// The custom policy of policies/README.md ("Writing a custom policy"), with its suites.
func TestCustomPolicySuite(t *testing.T) {
	files, err := suite.Load([]string{"testdata/custom"})
	require.NoError(t, err)
	require.Len(t, files, 2)
	results := run(t, files)
	assertAllPass(t, results)
	assert.Len(t, results, 4)
}

// The guide in policies/README.md shows the files that TestCustomPolicySuite and make test-suite run.
func TestGuideShowsTheTestedExample(t *testing.T) {
	readme, err := os.ReadFile(filepath.Join("..", "..", "policies", "README.md"))
	require.NoError(t, err)
	for _, name := range []string{"policies/team.rego", "policies/workload.rego", "policies/team_test.rego", "team.yaml", "team-warn.yaml"} {
		b, err := os.ReadFile(filepath.Join("testdata", "custom", name))
		require.NoError(t, err)
		assert.Contains(t, string(readme), "\n"+strings.TrimSpace(string(b))+"\n```\n", "policies/README.md does not show %s as it is", name)
	}
}

func TestACaseThePoliciesDoNotReviewFailsUnlessExpected(t *testing.T) {
	f, err := suite.Parse("s.yaml", "", []byte(`cases:
  - name: a misspelt apiVersion is not admitted as a pass
    object: {apiVersion: apps/v2, kind: Deployment, metadata: {name: d}}
    expect: {allowed: true}
  - name: ignores a ConfigMap
    object: {apiVersion: v1, kind: ConfigMap, metadata: {name: c}}
    expect: {reviewed: false, allowed: true}
`))
	require.NoError(t, err)
	results := run(t, []*suite.File{f})
	require.Len(t, results, 2)
	assert.False(t, results[0].Passed)
	assert.Equal(t, []string{"reviewed: expected true, got false (the policies review no CREATE apps/v2 Deployment)"}, results[0].Problems)
	assert.True(t, results[1].Passed, results[1].Problems)
}
