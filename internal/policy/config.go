package policy

import (
	"fmt"
	"maps"
	"slices"
	"strings"

	"k8s.io/apimachinery/pkg/util/validation"
	"k8s.io/apimachinery/pkg/util/validation/field"
)

// Action is what a violated policy does to a request.
type Action string

// The enforcement actions.
const (
	Deny Action = "deny"
	Warn Action = "warn"
	Off  Action = "off"
)

// The policy ids of design.md.
const (
	PartyRoleRequired            = "party-role-required"
	PartyRoleValid               = "party-role-valid"
	PartyRoleImmutable           = "party-role-immutable"
	WorkloadPartyRole            = "workload-party-role"
	SessionCompositionNonempty   = "session-composition-nonempty"
	SessionDelegateOnlyThreshold = "session-delegate-only-threshold"
	SessionCompositionSum        = "session-composition-sum"
	SessionThresholdRange        = "session-threshold-range"
	SessionPersistentAvailable   = "session-persistent-available"
	DelegateNoShareStorage       = "delegate-no-share-storage"
)

// PolicyIDs lists every policy id, in design.md's order.
var PolicyIDs = []string{
	PartyRoleRequired, PartyRoleValid, PartyRoleImmutable, WorkloadPartyRole,
	SessionCompositionNonempty, SessionDelegateOnlyThreshold, SessionCompositionSum, SessionThresholdRange,
	SessionPersistentAvailable, DelegateNoShareStorage,
}

// The defaults of design.md.
const (
	DefaultRoleLabelKey  = "party-role"
	DefaultPartySelector = "app.kubernetes.io/component=mpc-party"
	RolePersistent       = "persistent"
	RoleDelegate         = "delegate"
	RoleTemporary        = "temporary"
)

// ShareStorage names the persistent pool's share storage, which delegate and temporary parties must not mount.
type ShareStorage struct {
	SecretNames   []string `json:"secret_names"`
	ClaimPrefixes []string `json:"claim_prefixes"`
}

// Config is what the policies read as data.mpcguard.config.
type Config struct {
	RoleLabelKey  string            `json:"role_label_key"`
	PartySelector map[string]string `json:"party_selector"`
	AllowedRoles  []string          `json:"allowed_roles"`
	Enforcement   map[string]Action `json:"enforcement"`
	ShareStorage  ShareStorage      `json:"share_storage"`
}

// DefaultConfig returns design.md's defaults: every policy denies.
func DefaultConfig() Config {
	sel, _ := ParseSelector(DefaultPartySelector)
	enf := make(map[string]Action, len(PolicyIDs))
	for _, id := range PolicyIDs {
		enf[id] = Deny
	}
	return Config{
		RoleLabelKey:  DefaultRoleLabelKey,
		PartySelector: sel,
		AllowedRoles:  []string{RolePersistent, RoleDelegate, RoleTemporary},
		Enforcement:   enf,
		ShareStorage:  ShareStorage{SecretNames: []string{}, ClaimPrefixes: []string{}},
	}
}

// Validate returns every problem of the configuration, each with its path.
func (c Config) Validate() field.ErrorList {
	var errs field.ErrorList
	p := field.NewPath("config")
	for _, msg := range validation.IsQualifiedName(c.RoleLabelKey) {
		errs = append(errs, field.Invalid(p.Child("roleLabelKey"), c.RoleLabelKey, msg))
	}
	if len(c.PartySelector) == 0 {
		errs = append(errs, field.Required(p.Child("partySelector"), "a party selector needs at least one label"))
	}
	for _, k := range sortedKeys(c.PartySelector) {
		for _, msg := range validation.IsQualifiedName(k) {
			errs = append(errs, field.Invalid(p.Child("partySelector").Key(k), k, msg))
		}
		for _, msg := range validation.IsValidLabelValue(c.PartySelector[k]) {
			errs = append(errs, field.Invalid(p.Child("partySelector").Key(k), c.PartySelector[k], msg))
		}
	}
	if !slices.Contains(c.AllowedRoles, RolePersistent) {
		errs = append(errs, field.Invalid(p.Child("allowedRoles"), c.AllowedRoles, "must include \"persistent\""))
	}
	for _, id := range sortedKeys(c.Enforcement) {
		if !slices.Contains(PolicyIDs, id) {
			errs = append(errs, field.NotSupported(p.Child("enforcement").Key(id), id, PolicyIDs))
			continue
		}
		switch c.Enforcement[id] {
		case Deny, Warn, Off:
		default:
			errs = append(errs, field.NotSupported(p.Child("enforcement").Key(id), string(c.Enforcement[id]),
				[]string{string(Deny), string(Warn), string(Off)}))
		}
	}
	return errs
}

// ParseSelector parses "k=v,k2=v2" (equality only, as the coordinator's MPC_PARTY_LABEL_SELECTOR) into labels.
func ParseSelector(s string) (map[string]string, error) {
	out := map[string]string{}
	for _, part := range strings.Split(s, ",") {
		part = strings.TrimSpace(part)
		if part == "" {
			continue
		}
		k, v, ok := strings.Cut(part, "=")
		k, v = strings.TrimSpace(k), strings.TrimSpace(v)
		if !ok || k == "" || strings.ContainsAny(v, "=!") || strings.HasSuffix(k, "!") {
			return nil, fmt.Errorf("party selector %q: %q is not key=value (only equality selectors are supported)", s, part)
		}
		if prev, dup := out[k]; dup && prev != v {
			return nil, fmt.Errorf("party selector %q: key %q given twice with different values", s, k)
		}
		out[k] = v
	}
	if len(out) == 0 {
		return nil, fmt.Errorf("party selector %q: no labels given", s)
	}
	return out, nil
}

// FormatSelector renders labels as sorted "k=v,k2=v2", the inverse of ParseSelector.
func FormatSelector(sel map[string]string) string {
	parts := make([]string, 0, len(sel))
	for _, k := range sortedKeys(sel) {
		parts = append(parts, k+"="+sel[k])
	}
	return strings.Join(parts, ",")
}

// ParseEnforcement parses "id=action,id2=action2" into a copy of base with those actions set.
func ParseEnforcement(s string, base map[string]Action) (map[string]Action, error) {
	out := make(map[string]Action, len(base))
	for k, v := range base {
		out[k] = v
	}
	for _, part := range strings.Split(s, ",") {
		part = strings.TrimSpace(part)
		if part == "" {
			continue
		}
		id, act, ok := strings.Cut(part, "=")
		if !ok {
			return nil, fmt.Errorf("enforcement %q: %q is not policy-id=deny|warn|off", s, part)
		}
		id, act = strings.TrimSpace(id), strings.TrimSpace(act)
		if !slices.Contains(PolicyIDs, id) {
			return nil, fmt.Errorf("enforcement %q: unknown policy id %q (known: %s)", s, id, strings.Join(PolicyIDs, ", "))
		}
		switch Action(act) {
		case Deny, Warn, Off:
			out[id] = Action(act)
		default:
			return nil, fmt.Errorf("enforcement %q: action %q for %s is not deny, warn or off", s, act, id)
		}
	}
	return out, nil
}

func sortedKeys[V any](m map[string]V) []string { return slices.Sorted(maps.Keys(m)) }

// action is the enforcement of a policy id as main.rego reads it: warn or off when configured so, deny
// otherwise (also for an id not configured).
func (c Config) action(id string) Action {
	if a := c.Enforcement[id]; a == Warn || a == Off {
		return a
	}
	return Deny
}
