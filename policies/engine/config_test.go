package engine

import (
	"encoding/json"
	"slices"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"k8s.io/apimachinery/pkg/util/validation/field"

	"github.com/mpcguard/mpcguard/policies"
	"github.com/mpcguard/mpcguard/policies/vocab"
)

func TestPolicyIDsOfTheRegoAreTheVocabularysIDs(t *testing.T) {
	mods, err := policies.Modules()
	require.NoError(t, err)
	fromAST, err := PolicyIDsOf(mods)
	require.NoError(t, err)
	want := vocab.PolicyIDs()
	slices.Sort(want)
	assert.Equal(t, want, fromAST, "the ids the violation rules of the embedded modules name, read from their AST")
}

func TestPolicyIDsBeginWithDesignsTen(t *testing.T) {
	assert.Equal(t, []string{
		"party-role-required",
		"party-role-valid",
		"party-role-immutable",
		"workload-party-role",
		"session-composition-nonempty",
		"session-delegate-only-threshold",
		"session-composition-sum",
		"session-threshold-range",
		"session-persistent-available",
		"delegate-no-share-storage",
	}, vocab.PolicyIDs()[:10])
	for _, id := range vocab.PolicyIDs() {
		assert.True(t, vocab.ValidID(id), "%q is spelt as a policy id", id)
		assert.True(t, vocab.Known(id), id)
	}
	assert.False(t, vocab.Known("my-policy"))
}

func TestPolicyIDsOf(t *testing.T) {
	tests := map[string]struct {
		source  string
		want    []string
		wantErr string
	}{
		"reads the id of a rule head, and of a variable its body assigns, without duplicates": {
			source: `package mpcguard.pod

violation contains {"policy": "b-policy", "msg": "x"} if input.kind == "Pod"

violation contains {"policy": id, "msg": "y"} if {
	id := "a-policy"
	input.kind == "Pod"
}

violation contains {"policy": "b-policy", "msg": "z", "skipped": true} if input.kind == "Pod"

helper contains {"policy": "not-a-violation"} if true
`,
			want: []string{"a-policy", "b-policy"},
		},
		"reads no id from a module without violation rules": {
			source: "package mpcguard.lib.extra\n\nx := 1\n",
			want:   []string{},
		},
		"refuses a violation rule whose id is computed": {
			source:  "package mpcguard.pod\n\nviolation contains {\"policy\": concat(\"-\", [\"a\", \"b\"]), \"msg\": \"x\"} if true\n",
			wantErr: "custom/p.rego:3: a violation rule must name its policy id as a string",
		},
		"refuses a parse error, naming the file": {
			source:  "package mpcguard.pod\n\nviolation contains {\n",
			wantErr: "custom/p.rego:",
		},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			got, err := PolicyIDsOf([]policies.Module{{Name: "custom/p.rego", Source: tc.source}})
			if tc.wantErr != "" {
				require.ErrorIs(t, err, ErrCompile)
				assert.Contains(t, err.Error(), tc.wantErr)
				return
			}
			require.NoError(t, err)
			assert.Equal(t, tc.want, got)
		})
	}
}

func TestDefaultConfig(t *testing.T) {
	cfg := DefaultConfig()
	assert.Empty(t, cfg.Validate())
	assert.Equal(t, "party-role", cfg.RoleLabelKey)
	assert.Equal(t, map[string]string{"app.kubernetes.io/component": "mpc-party"}, cfg.PartySelector)
	assert.Equal(t, []string{"persistent", "delegate", "temporary"}, cfg.AllowedRoles)
	assert.Empty(t, cfg.PersistentWorkloads, "any StatefulSet, created by a controller identity")
	assert.Equal(t, vocab.DefaultControllerUsers, cfg.ControllerUsers)
	assert.Equal(t, []string{"mpcguard:break-glass"}, cfg.BreakGlassGroups)
	require.Len(t, cfg.Enforcement, len(vocab.PolicyIDs()))
	for _, id := range vocab.PolicyIDs() {
		assert.Equal(t, vocab.Deny, cfg.Enforcement[id], id)
	}

	// The policies read the config as JSON: share storage and persistent workloads must be [] rather than null.
	b, err := json.Marshal(cfg)
	require.NoError(t, err)
	assert.JSONEq(t, `{
		"role_label_key": "party-role",
		"party_selector": {"app.kubernetes.io/component": "mpc-party"},
		"allowed_roles": ["persistent", "delegate", "temporary"],
		"enforcement": {
			"party-role-required": "deny", "party-role-valid": "deny", "party-role-immutable": "deny",
			"workload-party-role": "deny", "session-composition-nonempty": "deny",
			"session-delegate-only-threshold": "deny", "session-composition-sum": "deny",
			"session-threshold-range": "deny", "session-persistent-available": "deny",
			"delegate-no-share-storage": "deny", "party-persistent-origin": "deny", "party-access": "deny",
			"party-binding-labels": "deny", "share-storage-copy": "deny", "share-storage-persistent-only": "deny",
			"session-spec-valid": "deny", "persistent-quorum": "deny", "share-deletion": "deny"
		},
		"share_storage": {"secret_names": [], "claim_prefixes": []},
		"persistent_workloads": [],
		"controller_users": ["system:serviceaccount:kube-system:statefulset-controller", "system:kube-controller-manager"],
		"break_glass_groups": ["mpcguard:break-glass"],
		"threshold": 2
	}`, string(b))
}

func TestDefaultConfigReturnsIndependentCopies(t *testing.T) {
	a := DefaultConfig()
	a.PartySelector["tier"] = "mpc"
	a.Enforcement[vocab.PartyRoleRequired] = vocab.Off
	a.AllowedRoles[0] = "changed"
	a.ControllerUsers[0] = "changed"
	a.BreakGlassGroups[0] = "changed"

	b := DefaultConfig()
	assert.Equal(t, map[string]string{"app.kubernetes.io/component": "mpc-party"}, b.PartySelector)
	assert.Equal(t, vocab.Deny, b.Enforcement[vocab.PartyRoleRequired])
	assert.Equal(t, "persistent", b.AllowedRoles[0])
	assert.Equal(t, vocab.DefaultControllerUsers[0], b.ControllerUsers[0])
	assert.Equal(t, vocab.DefaultBreakGlassGroup, b.BreakGlassGroups[0])
	assert.Equal(t, "system:serviceaccount:kube-system:statefulset-controller", vocab.DefaultControllerUsers[0],
		"DefaultConfig must not share its lists with the vocabulary")
}

func TestConfigValidate(t *testing.T) {
	tests := map[string]struct {
		mutate func(*Config)
		want   []string // "<field> <type>" of the errors, in order, repeats collapsed
	}{
		"accepts a custom role key and a two-label selector": {
			mutate: func(c *Config) {
				c.RoleLabelKey = "signer.example.com/role"
				c.PartySelector = map[string]string{"app": "signer", "tier": "mpc"}
			},
		},
		"accepts warn and off enforcement and a partial enforcement map": {
			mutate: func(c *Config) {
				c.Enforcement = map[string]vocab.Action{vocab.SessionPersistentAvailable: vocab.Warn, vocab.DelegateNoShareStorage: vocab.Off}
			},
		},
		"accepts an empty selector value": {
			mutate: func(c *Config) { c.PartySelector = map[string]string{"mpc-party": ""} },
		},
		"rejects an empty role label key": {
			mutate: func(c *Config) { c.RoleLabelKey = "" },
			want:   []string{"config.roleLabelKey FieldValueInvalid"},
		},
		"rejects a role label key with spaces": {
			mutate: func(c *Config) { c.RoleLabelKey = "party role" },
			want:   []string{"config.roleLabelKey FieldValueInvalid"},
		},
		"rejects a role label key with an invalid prefix": {
			mutate: func(c *Config) { c.RoleLabelKey = "Example_COM/role" },
			want:   []string{"config.roleLabelKey FieldValueInvalid"},
		},
		"rejects an empty party selector": {
			mutate: func(c *Config) { c.PartySelector = map[string]string{} },
			want:   []string{"config.partySelector FieldValueRequired"},
		},
		"rejects a nil party selector": {
			mutate: func(c *Config) { c.PartySelector = nil },
			want:   []string{"config.partySelector FieldValueRequired"},
		},
		"rejects a selector key that is not a label key": {
			mutate: func(c *Config) { c.PartySelector = map[string]string{"app": "signer", "bad key": "x"} },
			want:   []string{"config.partySelector[bad key] FieldValueInvalid"},
		},
		"rejects a selector value that is not a label value": {
			mutate: func(c *Config) { c.PartySelector = map[string]string{"app": "mpc party"} },
			want:   []string{"config.partySelector[app] FieldValueInvalid"},
		},
		"rejects allowed roles without persistent": {
			mutate: func(c *Config) { c.AllowedRoles = []string{"delegate", "temporary"} },
			want:   []string{"config.allowedRoles FieldValueInvalid"},
		},
		"accepts a well-spelt policy id the built-in set lacks (the engine checks that a module defines it)": {
			mutate: func(c *Config) { c.Enforcement = map[string]vocab.Action{"my-policy": vocab.Warn} },
		},
		"rejects a policy id in enforcement that is not spelt as an id": {
			mutate: func(c *Config) { c.Enforcement = map[string]vocab.Action{"Party_Role": vocab.Deny} },
			want:   []string{"config.enforcement[Party_Role] FieldValueInvalid"},
		},
		"rejects a policy id with a doubled or trailing dash": {
			mutate: func(c *Config) {
				c.Enforcement = map[string]vocab.Action{"party--role": vocab.Deny, "party-role-": vocab.Deny}
			},
			want: []string{"config.enforcement[party--role] FieldValueInvalid", "config.enforcement[party-role-] FieldValueInvalid"},
		},
		"accepts persistent workloads named as StatefulSets are": {
			mutate: func(c *Config) { c.PersistentWorkloads = []string{"mpc-party", "mpc.party-b"} },
		},
		"rejects a persistent workload that is not a valid StatefulSet name": {
			mutate: func(c *Config) { c.PersistentWorkloads = []string{"mpc-party", "MPC_Party"} },
			want:   []string{"config.persistentWorkloads[1] FieldValueInvalid"},
		},
		"rejects no controller users, which would refuse every persistent party": {
			mutate: func(c *Config) { c.ControllerUsers = nil },
			want:   []string{"config.controllerUsers FieldValueRequired"},
		},
		"accepts no break-glass groups (nobody may reach into a persistent party)": {
			mutate: func(c *Config) { c.BreakGlassGroups = []string{} },
		},
		"rejects an unknown enforcement action": {
			mutate: func(c *Config) { c.Enforcement[vocab.SessionThresholdRange] = "audit" },
			want:   []string{"config.enforcement[session-threshold-range] FieldValueNotSupported"},
		},
		"rejects an upper-case enforcement action": {
			mutate: func(c *Config) { c.Enforcement[vocab.SessionThresholdRange] = "Deny" },
			want:   []string{"config.enforcement[session-threshold-range] FieldValueNotSupported"},
		},
		"reports every problem at once, each with its path": {
			mutate: func(c *Config) {
				c.RoleLabelKey = ""
				c.PartySelector = nil
				c.AllowedRoles = nil
				c.ControllerUsers = []string{}
				c.PersistentWorkloads = []string{"Bad Name"}
				c.Enforcement = map[string]vocab.Action{"zz unknown": vocab.Deny, vocab.PartyRoleValid: "maybe"}
			},
			want: []string{
				"config.roleLabelKey FieldValueInvalid",
				"config.partySelector FieldValueRequired",
				"config.controllerUsers FieldValueRequired",
				"config.persistentWorkloads[0] FieldValueInvalid",
				"config.allowedRoles FieldValueInvalid",
				"config.enforcement[party-role-valid] FieldValueNotSupported",
				"config.enforcement[zz unknown] FieldValueInvalid",
			},
		},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			cfg := DefaultConfig()
			tc.mutate(&cfg)
			errs := cfg.Validate()
			var got []string
			for _, e := range errs {
				got = append(got, e.Field+" "+string(e.Type))
			}
			// One bad value may break several rules (an empty key is both empty and not alphanumeric).
			assert.Equal(t, tc.want, slices.Compact(got), "%v", errs)
		})
	}
}

func TestConfigValidateAggregateNamesThePath(t *testing.T) {
	cfg := DefaultConfig()
	cfg.Enforcement[vocab.SessionPersistentAvailable] = "audit"
	err := cfg.Validate().ToAggregate()
	require.Error(t, err)
	assert.Equal(t, `config.enforcement[session-persistent-available]: Unsupported value: "audit": supported values: "deny", "warn", "off"`, err.Error())

	errs := cfg.Validate()
	require.Len(t, errs, 1)
	assert.Equal(t, field.ErrorTypeNotSupported, errs[0].Type)
	assert.Equal(t, "audit", errs[0].BadValue)
}

func TestParseSelector(t *testing.T) {
	tests := map[string]struct {
		in      string
		want    map[string]string
		wantErr string
	}{
		"parses one label":                            {in: "app.kubernetes.io/component=mpc-party", want: map[string]string{"app.kubernetes.io/component": "mpc-party"}},
		"parses several labels":                       {in: "app=signer,tier=mpc", want: map[string]string{"app": "signer", "tier": "mpc"}},
		"trims spaces around pairs, keys and values":  {in: " app = signer , tier=mpc ", want: map[string]string{"app": "signer", "tier": "mpc"}},
		"skips empty pairs":                           {in: "app=signer,,tier=mpc,", want: map[string]string{"app": "signer", "tier": "mpc"}},
		"accepts an empty value":                      {in: "mpc-party=", want: map[string]string{"mpc-party": ""}},
		"accepts the same label twice with one value": {in: "app=signer,app=signer", want: map[string]string{"app": "signer"}},
		"rejects an empty selector":                   {in: "", wantErr: `party selector "": no labels given`},
		"rejects a selector of commas and spaces":     {in: " , ", wantErr: "no labels given"},
		"rejects a key without value":                 {in: "app", wantErr: `"app" is not key=value`},
		"rejects an empty key":                        {in: "=signer", wantErr: `"=signer" is not key=value`},
		"rejects an inequality":                       {in: "app!=signer", wantErr: `"app!=signer" is not key=value`},
		"rejects a double-equals":                     {in: "app==signer", wantErr: `"app==signer" is not key=value`},
		"rejects a set-based selector":                {in: "app in (signer)", wantErr: `is not key=value`},
		"rejects an existence selector":               {in: "!app", wantErr: `"!app" is not key=value`},
		"rejects a value containing =":                {in: "app=a=b", wantErr: `"app=a=b" is not key=value`},
		"rejects one label given two values":          {in: "app=signer,app=web", wantErr: `key "app" given twice with different values`},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			got, err := ParseSelector(tc.in)
			if tc.wantErr != "" {
				require.Error(t, err)
				assert.Contains(t, err.Error(), tc.wantErr)
				assert.Nil(t, got)
				return
			}
			require.NoError(t, err)
			assert.Equal(t, tc.want, got)
		})
	}
}

func TestFormatSelector(t *testing.T) {
	assert.Equal(t, "app=signer,tier=mpc", FormatSelector(map[string]string{"tier": "mpc", "app": "signer"}))
	assert.Equal(t, "app.kubernetes.io/component=mpc-party", FormatSelector(map[string]string{"app.kubernetes.io/component": "mpc-party"}))
	assert.Equal(t, "", FormatSelector(nil))

	for _, s := range []string{"app=signer,tier=mpc", vocab.DefaultPartySelector, "a=,b=c"} {
		sel, err := ParseSelector(s)
		require.NoError(t, err)
		assert.Equal(t, s, FormatSelector(sel), "FormatSelector(ParseSelector(%q))", s)
	}
}

func TestParseEnforcement(t *testing.T) {
	base := map[string]vocab.Action{vocab.PartyRoleRequired: vocab.Deny, vocab.SessionPersistentAvailable: vocab.Deny}
	tests := map[string]struct {
		in      string
		want    map[string]vocab.Action
		wantErr string
	}{
		"keeps the base for an empty string": {
			in:   "",
			want: map[string]vocab.Action{vocab.PartyRoleRequired: vocab.Deny, vocab.SessionPersistentAvailable: vocab.Deny},
		},
		"sets one policy to warn": {
			in:   "session-persistent-available=warn",
			want: map[string]vocab.Action{vocab.PartyRoleRequired: vocab.Deny, vocab.SessionPersistentAvailable: vocab.Warn},
		},
		"sets several policies, trimming spaces, including ids the base lacks": {
			in:   " party-role-required = off , delegate-no-share-storage=warn,",
			want: map[string]vocab.Action{vocab.PartyRoleRequired: vocab.Off, vocab.SessionPersistentAvailable: vocab.Deny, vocab.DelegateNoShareStorage: vocab.Warn},
		},
		"lets the last setting of a policy win": {
			in:   "party-role-required=off,party-role-required=deny",
			want: map[string]vocab.Action{vocab.PartyRoleRequired: vocab.Deny, vocab.SessionPersistentAvailable: vocab.Deny},
		},
		"rejects a pair without action": {
			in:      "party-role-required",
			wantErr: `"party-role-required" is not policy-id=deny|warn|off`,
		},
		"accepts a custom policy id spelt as an id (the engine checks that a module defines it)": {
			in:   "my-policy=warn",
			want: map[string]vocab.Action{vocab.PartyRoleRequired: vocab.Deny, vocab.SessionPersistentAvailable: vocab.Deny, "my-policy": vocab.Warn},
		},
		"rejects an id that is not spelt as a policy id and lists the built-in ones": {
			in:      "Party_Role=warn",
			wantErr: `"Party_Role" is not a policy id (built-in: party-role-required, party-role-valid,`,
		},
		"rejects an empty policy id": {
			in:      "=warn",
			wantErr: `"" is not a policy id`,
		},
		"rejects an unknown action": {
			in:      "party-role-required=audit",
			wantErr: `action "audit" for party-role-required is not deny, warn or off`,
		},
		"rejects an upper-case action": {
			in:      "party-role-required=Warn",
			wantErr: `action "Warn"`,
		},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			got, err := ParseEnforcement(tc.in, base)
			if tc.wantErr != "" {
				require.Error(t, err)
				assert.Contains(t, err.Error(), tc.wantErr)
				assert.Nil(t, got)
			} else {
				require.NoError(t, err)
				assert.Equal(t, tc.want, got)
			}
			assert.Equal(t, map[string]vocab.Action{vocab.PartyRoleRequired: vocab.Deny, vocab.SessionPersistentAvailable: vocab.Deny}, base,
				"the base must not be modified")
		})
	}
}
