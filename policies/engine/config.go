package engine

import (
	"fmt"
	"maps"
	"slices"
	"strings"

	"k8s.io/apimachinery/pkg/util/validation"
	"k8s.io/apimachinery/pkg/util/validation/field"

	"github.com/mpcguard/mpcguard/policies/vocab"
)

// ShareStorage names the persistent pool's share storage, which delegate and temporary parties must not mount.
type ShareStorage struct {
	SecretNames   []string `json:"secret_names"`
	ClaimPrefixes []string `json:"claim_prefixes"`
}

// Config is what the policies read as data.mpcguard.config.
type Config struct {
	RoleLabelKey  string                  `json:"role_label_key"`
	PartySelector map[string]string       `json:"party_selector"`
	AllowedRoles  []string                `json:"allowed_roles"`
	Enforcement   map[string]vocab.Action `json:"enforcement"`
	ShareStorage  ShareStorage            `json:"share_storage"`
	// PersistentWorkloads are the StatefulSets whose pods may be persistent parties; empty means any
	// StatefulSet (the pod must still be created by a controller identity).
	PersistentWorkloads []string `json:"persistent_workloads"`
	// ControllerUsers are the identities that may create persistent party pods.
	ControllerUsers []string `json:"controller_users"`
	// BreakGlassGroups are the groups whose members may reach into persistent parties, copy share storage and
	// delete it (with the break-glass annotation).
	BreakGlassGroups []string `json:"break_glass_groups"`
	// Threshold is the t of t-of-n: no change may take a persistent StatefulSet below t replicas
	// (persistent-quorum). 0 checks nothing.
	Threshold int `json:"threshold"`
}

// DefaultConfig returns design.md's defaults: every policy denies.
func DefaultConfig() Config {
	sel, _ := ParseSelector(vocab.DefaultPartySelector)
	enf := make(map[string]vocab.Action, len(vocab.Policies))
	for _, id := range vocab.PolicyIDs() {
		enf[id] = vocab.Deny
	}
	return Config{
		RoleLabelKey:  vocab.DefaultRoleLabelKey,
		PartySelector: sel,
		AllowedRoles:  slices.Clone(vocab.Roles),
		Enforcement:   enf,
		ShareStorage:  ShareStorage{SecretNames: []string{}, ClaimPrefixes: []string{}},
		// Each list is non-nil, so the policies always read an array.
		PersistentWorkloads: []string{},
		ControllerUsers:     slices.Clone(vocab.DefaultControllerUsers),
		BreakGlassGroups:    []string{vocab.DefaultBreakGlassGroup},
		Threshold:           vocab.DefaultThreshold,
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
	if len(c.ControllerUsers) == 0 {
		errs = append(errs, field.Required(p.Child("controllerUsers"),
			"the identities that create persistent party pods (the StatefulSet controller's); none would refuse every persistent party"))
	}
	for i, name := range c.PersistentWorkloads {
		for _, msg := range validation.IsDNS1123Subdomain(name) {
			errs = append(errs, field.Invalid(p.Child("persistentWorkloads").Index(i), name, msg))
		}
	}
	if c.Threshold < 0 {
		errs = append(errs, field.Invalid(p.Child("threshold"), c.Threshold,
			"t is at least 1 (0 turns persistent-quorum off)"))
	}
	if !slices.Contains(c.AllowedRoles, vocab.RolePersistent) {
		errs = append(errs, field.Invalid(p.Child("allowedRoles"), c.AllowedRoles, "must include \"persistent\""))
	}
	for _, id := range sortedKeys(c.Enforcement) {
		if !vocab.ValidID(id) {
			errs = append(errs, field.Invalid(p.Child("enforcement").Key(id), id,
				"a policy id is lower-case letters, digits and single '-' (the engine then checks that the policy set defines it)"))
			continue
		}
		if !slices.Contains(vocab.Actions, c.Enforcement[id]) {
			errs = append(errs, field.NotSupported(p.Child("enforcement").Key(id), string(c.Enforcement[id]),
				[]string{string(vocab.Deny), string(vocab.Warn), string(vocab.Off)}))
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
// Ids are checked for their spelling only: a custom policy's id is as valid as a built-in one, and the engine
// refuses an id that its policy set does not define.
func ParseEnforcement(s string, base map[string]vocab.Action) (map[string]vocab.Action, error) {
	out := make(map[string]vocab.Action, len(base))
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
		if !vocab.ValidID(id) {
			return nil, fmt.Errorf("enforcement %q: %q is not a policy id (built-in: %s)", s, id, strings.Join(vocab.PolicyIDs(), ", "))
		}
		switch a := vocab.Action(act); a {
		case vocab.Deny, vocab.Warn, vocab.Off:
			out[id] = a
		default:
			return nil, fmt.Errorf("enforcement %q: action %q for %s is not deny, warn or off", s, act, id)
		}
	}
	return out, nil
}

func sortedKeys[V any](m map[string]V) []string { return slices.Sorted(maps.Keys(m)) }

// action is the enforcement of a policy id as main.rego reads it: warn or off when configured so, deny
// otherwise (also for an id not configured).
func (c Config) action(id string) vocab.Action {
	if a := c.Enforcement[id]; a == vocab.Warn || a == vocab.Off {
		return a
	}
	return vocab.Deny
}

// Names trims each name and drops the empty ones; the result is never nil, so the policies always read an
// array. Flags, suite files and chart arguments give lists this way ("a,,b", "a, b").
func Names(ss []string) []string {
	out := []string{}
	for _, s := range ss {
		if s = strings.TrimSpace(s); s != "" {
			out = append(out, s)
		}
	}
	return out
}
