package native_test

import (
	"fmt"
	"testing"

	celgo "github.com/google/cel-go/cel"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	admissionregistrationv1 "k8s.io/api/admissionregistration/v1"
	plugincel "k8s.io/apiserver/pkg/admission/plugin/cel"
	"k8s.io/apiserver/pkg/cel/environment"

	"github.com/mpcguard/mpcguard/policies/native"
	"github.com/mpcguard/mpcguard/policies/vocab"
)

func TestEveryPolicyHasANativeFormOrAReason(t *testing.T) {
	table := native.Table()
	require.Len(t, table, len(vocab.Policies))
	for i, c := range table {
		assert.Equal(t, vocab.Policies[i].ID, c.ID)
		if c.Native {
			assert.Empty(t, c.Why, c.ID)
		} else {
			assert.NotEmpty(t, c.Why, "%s has no native form and no reason", c.ID)
		}
		if vocab.Policies[i].Inventory {
			assert.False(t, c.Native, "%s needs the inventory, which CEL cannot see", c.ID)
		}
	}
}

func TestPoliciesFollowTheEnforcement(t *testing.T) {
	cfg := native.DefaultConfig()
	cfg.Enforcement = map[string]vocab.Action{vocab.PartyRoleValid: vocab.Warn, vocab.SessionCompositionSum: vocab.Off}
	vaps, bindings, err := native.Policies(cfg)
	require.NoError(t, err)
	require.Len(t, bindings, len(vaps))
	actions := map[string][]admissionregistrationv1.ValidationAction{}
	for i, b := range bindings {
		assert.Equal(t, vaps[i].Name, b.Spec.PolicyName)
		actions[vaps[i].Labels[native.PolicyLabel]] = b.Spec.ValidationActions
	}
	assert.Equal(t, []admissionregistrationv1.ValidationAction{admissionregistrationv1.Warn}, actions[vocab.PartyRoleValid], "warn is Warn")
	assert.Equal(t, []admissionregistrationv1.ValidationAction{admissionregistrationv1.Deny}, actions[vocab.PartyRoleRequired], "an unlisted id denies")
	assert.NotContains(t, actions, vocab.SessionCompositionSum, "off has no policy and no binding")
	assert.Len(t, vaps, len(native.IDs())-1)
}

func TestNamesTakeThePrefixAndSuffix(t *testing.T) {
	cfg := native.DefaultConfig()
	cfg.NamePrefix, cfg.NameSuffix = "mpcguard-", ".static.k8s.io"
	vaps, bindings, err := native.Policies(cfg)
	require.NoError(t, err)
	assert.Equal(t, "mpcguard-party-role-required.static.k8s.io", vaps[0].Name)
	assert.Equal(t, vaps[0].Name, bindings[0].Name)
}

func TestAnInvalidConfigIsRefused(t *testing.T) {
	for name, mutate := range map[string]func(*native.Config){
		"an unknown policy id":     func(c *native.Config) { c.Enforcement = map[string]vocab.Action{"no-such-policy": vocab.Deny} },
		"an unknown action":        func(c *native.Config) { c.Enforcement = map[string]vocab.Action{vocab.PartyRoleValid: "block"} },
		"an empty party selector":  func(c *native.Config) { c.PartySelector = nil },
		"an invalid role key":      func(c *native.Config) { c.RoleLabelKey = "not a key" },
		"kube-system as namespace": func(c *native.Config) { c.Namespaces = []string{"kube-system"} },
	} {
		t.Run(name, func(t *testing.T) {
			cfg := native.DefaultConfig()
			mutate(&cfg)
			_, _, err := native.Policies(cfg)
			require.ErrorIs(t, err, native.ErrConfig)
		})
	}
}

// TestEveryExpressionCompiles compiles each policy as the API server does (the composited variables
// environment, Kubernetes' CEL libraries at the default compatibility version), so that a typo fails here
// rather than as a runtime denial.
func TestEveryExpressionCompiles(t *testing.T) {
	cfg := native.DefaultConfig()
	cfg.ShareSecretNames = []string{"mpc-share-db"}
	cfg.ShareClaimPrefixes = []string{"shares-mpc-party-persistent-"}
	cfg.PersistentWorkloads = []string{"mpc-party-persistent"}
	vaps, _, err := native.Policies(cfg)
	require.NoError(t, err)
	for _, p := range vaps {
		t.Run(p.Name, func(t *testing.T) {
			for _, problem := range compileProblems(t, &p) {
				t.Error(problem)
			}
		})
	}
}

// compileProblems compiles a policy's variables, match conditions, validations and message expressions in the
// environment the API server's validating admission policy plugin uses, and returns every error.
func compileProblems(t *testing.T, p *admissionregistrationv1.ValidatingAdmissionPolicy) []string {
	t.Helper()
	c, err := plugincel.NewCompositedCompiler(environment.MustBaseEnvSet(environment.DefaultCompatibilityVersion()))
	require.NoError(t, err)
	opts := plugincel.OptionalVariableDeclarations{HasAuthorizer: true}
	var problems []string
	for _, v := range p.Spec.Variables {
		r := c.CompileAndStoreVariable(variable{v}, opts, environment.StoredExpressions)
		if r.Error != nil {
			problems = append(problems, fmt.Sprintf("variable %s: %v", v.Name, r.Error))
		}
	}
	compile := func(what, expr string) {
		if expr == "" {
			return
		}
		r := c.CompileCELExpression(expression(expr), opts, environment.StoredExpressions)
		if r.Error != nil {
			problems = append(problems, fmt.Sprintf("%s: %v", what, r.Error))
		}
	}
	for _, m := range p.Spec.MatchConditions {
		compile("matchCondition "+m.Name, m.Expression)
	}
	for i, val := range p.Spec.Validations {
		compile(fmt.Sprintf("validations[%d].expression", i), val.Expression)
		compile(fmt.Sprintf("validations[%d].messageExpression", i), val.MessageExpression)
	}
	return problems
}

type variable struct {
	admissionregistrationv1.Variable
}

func (v variable) GetName() string            { return v.Name }
func (v variable) GetExpression() string      { return v.Expression }
func (v variable) ReturnTypes() []*celgo.Type { return []*celgo.Type{celgo.AnyType} }

type expression string

func (e expression) GetExpression() string      { return string(e) }
func (e expression) ReturnTypes() []*celgo.Type { return []*celgo.Type{celgo.AnyType} }

func TestTheCompileCheckCatchesATypo(t *testing.T) {
	vaps, _, err := native.Policies(native.DefaultConfig())
	require.NoError(t, err)
	p := vaps[0].DeepCopy()
	p.Spec.Validations[0].Expression = "variables.party &&"
	p.Spec.Variables[0].Expression = "undeclared.field"
	assert.Len(t, compileProblems(t, p), 2)
}

func TestPoliciesWithLiteralsRefusesAValueWithoutCELText(t *testing.T) {
	lit := native.Literals{RoleLabelKey: `"party-role"`, PartySelector: `{"app.kubernetes.io/component":"mpc-party"}`,
		PartySelectorText: `"app.kubernetes.io/component=mpc-party"`, ShareSecretNames: `[]`, ShareClaimPrefixes: `[]`,
		PersistentWorkloads: `[]`, ThresholdT: `2`, WorkloadsText: `"a StatefulSet"`,
		PartyKeys: `["app.kubernetes.io/component","party-role"]`, ControllerUsers: `["kcm"]`, ControllerUsersText: `"kcm"`,
		BreakGlassGroups: `["bg"]`}
	_, _, err := native.PoliciesWithLiterals(native.DefaultConfig(), lit)
	require.ErrorIs(t, err, native.ErrConfig)
	require.ErrorContains(t, err, "BreakGlassText", "the error names the field left empty")

	lit.BreakGlassText = `"bg"`
	vaps, _, err := native.PoliciesWithLiterals(native.DefaultConfig(), lit)
	require.NoError(t, err)
	require.NotEmpty(t, vaps)
}
