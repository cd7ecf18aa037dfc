package native

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"maps"
	"slices"
	"strconv"
	"strings"

	admissionregistrationv1 "k8s.io/api/admissionregistration/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/validation"

	"github.com/mpcguard/mpcguard/policies/vocab"
)

// Config is the configuration of the native policies: the same facts as the webhook's (engine.Config), of
// which the native policies read only these.
type Config struct {
	// RoleLabelKey is the label that carries a party's role (default vocab.DefaultRoleLabelKey).
	RoleLabelKey string
	// PartySelector are the labels that make a pod a party pod (default vocab.DefaultPartySelector).
	PartySelector map[string]string
	// ShareSecretNames and ShareClaimPrefixes are the persistent pool's share storage (--share-secret-names,
	// --share-claim-prefixes).
	ShareSecretNames, ShareClaimPrefixes []string
	// PersistentWorkloads are the persistent StatefulSets (--persistent-workloads; empty: any StatefulSet whose
	// template is persistent), read by persistent-quorum.
	PersistentWorkloads []string
	// ThresholdT is the t below which no UPDATE takes a persistent StatefulSet (--threshold-t; 0: no check).
	ThresholdT int32
	// ControllerUsers are the identities that may create persistent party pods (--controller-users; empty:
	// vocab.DefaultControllerUsers), read by party-persistent-origin from request.userInfo.username.
	ControllerUsers []string
	// BreakGlassGroups are the groups whose members may copy share storage (--break-glass-groups; empty:
	// vocab.DefaultBreakGlassGroup), read by share-storage-copy from request.userInfo.groups.
	BreakGlassGroups []string
	// Enforcement is the action per policy id; an id not listed denies. Ids without a native form are ignored.
	Enforcement map[string]vocab.Action
	// Namespaces are the namespaces the bindings match (empty: every namespace); kube-system never.
	Namespaces []string
	// NamePrefix and NameSuffix make the name of each policy and its binding: prefix + policy id + suffix
	// (default prefix "mpcguard-"; a static manifest of KEP-5793 needs the suffix ".static.k8s.io").
	NamePrefix, NameSuffix string
	// Labels are put on every policy and binding.
	Labels map[string]string
}

// DefaultNamePrefix is the prefix of the names when Config.NamePrefix is empty.
const DefaultNamePrefix = "mpcguard-"

// DefaultConfig is the configuration of the charts' defaults: the default role label key and party selector, no
// share storage, any persistent StatefulSet, t = vocab.DefaultThreshold, the default controller users and
// break-glass group, every policy denying, every namespace.
func DefaultConfig() Config {
	k, val, _ := strings.Cut(vocab.DefaultPartySelector, "=")
	return Config{
		RoleLabelKey:     vocab.DefaultRoleLabelKey,
		PartySelector:    map[string]string{k: val},
		ThresholdT:       vocab.DefaultThreshold,
		ControllerUsers:  slices.Clone(vocab.DefaultControllerUsers),
		BreakGlassGroups: []string{vocab.DefaultBreakGlassGroup},
	}
}

// ErrConfig is wrapped by every error of an invalid Config.
var ErrConfig = errors.New("native policies: invalid configuration")

func (c Config) validate() error {
	var errs []error
	if msgs := validation.IsQualifiedName(c.RoleLabelKey); len(msgs) > 0 {
		errs = append(errs, fmt.Errorf("roleLabelKey %q: %s", c.RoleLabelKey, strings.Join(msgs, "; ")))
	}
	if len(c.PartySelector) == 0 {
		errs = append(errs, errors.New("partySelector: a party selector needs at least one label"))
	}
	for id, a := range c.Enforcement {
		if !vocab.Known(id) {
			errs = append(errs, fmt.Errorf("enforcement: %q is no built-in policy id", id))
		}
		if !slices.Contains(vocab.Actions, a) {
			errs = append(errs, fmt.Errorf("enforcement[%s]: %q is not one of deny, warn, off", id, a))
		}
	}
	if c.ThresholdT < 0 {
		errs = append(errs, fmt.Errorf("thresholdT %d: want 0 or more", c.ThresholdT))
	}
	if slices.Contains(c.Namespaces, "kube-system") {
		errs = append(errs, errors.New("namespaces: never kube-system"))
	}
	if err := errors.Join(errs...); err != nil {
		return fmt.Errorf("%w: %w", ErrConfig, err)
	}
	return nil
}

// Action returns the enforcement of a policy id: Config.Enforcement's, deny when unlisted.
func (c Config) Action(id string) vocab.Action {
	if a, ok := c.Enforcement[id]; ok {
		return a
	}
	return vocab.Deny
}

// Name is the name of the policy and the binding of a policy id.
func (c Config) Name(id string) string {
	prefix := c.NamePrefix
	if prefix == "" {
		prefix = DefaultNamePrefix
	}
	return prefix + id + c.NameSuffix
}

// ValidationActions are the binding's actions for an enforcement action: deny is Deny, warn is Warn, off has no
// binding (nil).
func ValidationActions(a vocab.Action) []admissionregistrationv1.ValidationAction {
	switch a {
	case vocab.Deny:
		return []admissionregistrationv1.ValidationAction{admissionregistrationv1.Deny}
	case vocab.Warn:
		return []admissionregistrationv1.ValidationAction{admissionregistrationv1.Warn}
	}
	return nil
}

// Policies returns a ValidatingAdmissionPolicy and its binding for each policy id with a native form whose
// enforcement is not off, in the order of vocab.Policies, with cfg's values baked into the CEL as literals.
// persistent-quorum is left out when cfg.ThresholdT is 0 (it would check nothing).
func Policies(cfg Config) ([]admissionregistrationv1.ValidatingAdmissionPolicy, []admissionregistrationv1.ValidatingAdmissionPolicyBinding, error) {
	if err := cfg.validate(); err != nil {
		return nil, nil, err
	}
	l, err := configLiterals(cfg)
	if err != nil {
		return nil, nil, err
	}
	vaps, bindings := build(cfg, l)
	return vaps, bindings, nil
}

// Literals are the configured values as the text that stands for each in the CEL expressions: a JSON string,
// map or list of strings, or an integer, each a CEL literal as it is.
type Literals struct {
	// RoleLabelKey is a string (Config.RoleLabelKey); PartySelector a map of strings; PartySelectorText a
	// string, the selector as k=v pairs, keys sorted, comma-joined (for messages).
	RoleLabelKey, PartySelector, PartySelectorText string
	// ShareSecretNames, ShareClaimPrefixes and PersistentWorkloads are lists of strings.
	ShareSecretNames, ShareClaimPrefixes, PersistentWorkloads string
	// ThresholdT is an integer.
	ThresholdT string
	// WorkloadsText is a string for messages: "StatefulSet a, StatefulSet b", or "a StatefulSet" when
	// PersistentWorkloads is empty. PartyKeys is a list of strings, sorted: the party selector's keys and the
	// role label key.
	WorkloadsText, PartyKeys string
	// ControllerUsers and BreakGlassGroups are lists of strings; ControllerUsersText and BreakGlassText the
	// same joined by ", " as one string, for messages.
	ControllerUsers, ControllerUsersText, BreakGlassGroups, BreakGlassText string
}

// missing names the fields of lit that are empty: every one stands for a value in some rule's CEL.
func (lit Literals) missing() []string {
	var out []string
	for _, f := range []struct{ name, text string }{
		{"RoleLabelKey", lit.RoleLabelKey}, {"PartySelector", lit.PartySelector}, {"PartySelectorText", lit.PartySelectorText},
		{"ShareSecretNames", lit.ShareSecretNames}, {"ShareClaimPrefixes", lit.ShareClaimPrefixes},
		{"PersistentWorkloads", lit.PersistentWorkloads}, {"ThresholdT", lit.ThresholdT},
		{"WorkloadsText", lit.WorkloadsText}, {"PartyKeys", lit.PartyKeys},
		{"ControllerUsers", lit.ControllerUsers}, {"ControllerUsersText", lit.ControllerUsersText},
		{"BreakGlassGroups", lit.BreakGlassGroups}, {"BreakGlassText", lit.BreakGlassText},
	} {
		if strings.TrimSpace(f.text) == "" {
			out = append(out, f.name)
		}
	}
	return out
}

// PoliciesWithLiterals is Policies with the configured values' CEL text given instead of taken from cfg: a
// generator passes Helm expressions that render to such literals, and gets the chart's policies from the same
// builder as the static ones. cfg still gives the names, labels, enforcement and namespaces, and decides which
// policies there are (persistent-quorum only when cfg.ThresholdT is not 0); its values are checked as in
// Policies, but not put into the CEL.
func PoliciesWithLiterals(cfg Config, lit Literals) ([]admissionregistrationv1.ValidatingAdmissionPolicy, []admissionregistrationv1.ValidatingAdmissionPolicyBinding, error) {
	if err := cfg.validate(); err != nil {
		return nil, nil, err
	}
	if missing := lit.missing(); len(missing) > 0 {
		return nil, nil, fmt.Errorf("%w: no CEL text for %s", ErrConfig, strings.Join(missing, ", "))
	}
	vaps, bindings := build(cfg, literals{roleKey: lit.RoleLabelKey, selector: lit.PartySelector, selectorText: lit.PartySelectorText,
		secretNames: lit.ShareSecretNames, claimPrefixes: lit.ShareClaimPrefixes, workloads: lit.PersistentWorkloads,
		threshold: lit.ThresholdT, workloadsText: lit.WorkloadsText, partyKeys: lit.PartyKeys,
		controllerUsers: lit.ControllerUsers, controllerUsersText: lit.ControllerUsersText,
		breakGlassGroups: lit.BreakGlassGroups, breakGlassText: lit.BreakGlassText})
	return vaps, bindings, nil
}

// build names and binds the policies of the rules written with l.
func build(cfg Config, l literals) ([]admissionregistrationv1.ValidatingAdmissionPolicy, []admissionregistrationv1.ValidatingAdmissionPolicyBinding) {
	var vaps []admissionregistrationv1.ValidatingAdmissionPolicy
	var bindings []admissionregistrationv1.ValidatingAdmissionPolicyBinding
	for _, r := range rules(l) {
		actions := ValidationActions(cfg.Action(r.id))
		if actions == nil || (r.id == vocab.PersistentQuorum && cfg.ThresholdT == 0) {
			continue
		}
		name := cfg.Name(r.id)
		meta := metav1.ObjectMeta{Name: name, Labels: policyLabels(cfg.Labels, r.id)}
		vaps = append(vaps, admissionregistrationv1.ValidatingAdmissionPolicy{
			TypeMeta:   metav1.TypeMeta{APIVersion: admissionregistrationv1.SchemeGroupVersion.String(), Kind: "ValidatingAdmissionPolicy"},
			ObjectMeta: meta,
			Spec:       policySpec(r),
		})
		bindings = append(bindings, admissionregistrationv1.ValidatingAdmissionPolicyBinding{
			TypeMeta:   metav1.TypeMeta{APIVersion: admissionregistrationv1.SchemeGroupVersion.String(), Kind: "ValidatingAdmissionPolicyBinding"},
			ObjectMeta: *meta.DeepCopy(),
			Spec: admissionregistrationv1.ValidatingAdmissionPolicyBindingSpec{
				PolicyName:        name,
				ValidationActions: actions,
				MatchResources:    &admissionregistrationv1.MatchResources{NamespaceSelector: NamespaceSelector(cfg.Namespaces)},
			},
		})
	}
	return vaps, bindings
}

// PolicyLabel is the label on every native policy and binding that names its policy id.
const PolicyLabel = "mpcguard.io/policy"

func policyLabels(extra map[string]string, id string) map[string]string {
	out := maps.Clone(extra)
	if out == nil {
		out = map[string]string{}
	}
	out[PolicyLabel] = id
	return out
}

// NamespaceSelector matches the namespaces (every one when empty), never kube-system, as the webhook
// configuration's namespaceSelector does.
func NamespaceSelector(namespaces []string) *metav1.LabelSelector {
	sel := &metav1.LabelSelector{}
	if len(namespaces) > 0 {
		sel.MatchExpressions = append(sel.MatchExpressions, metav1.LabelSelectorRequirement{
			Key: "kubernetes.io/metadata.name", Operator: metav1.LabelSelectorOpIn, Values: slices.Clone(namespaces)})
	}
	sel.MatchExpressions = append(sel.MatchExpressions, metav1.LabelSelectorRequirement{
		Key: "kubernetes.io/metadata.name", Operator: metav1.LabelSelectorOpNotIn, Values: []string{"kube-system"}})
	return sel
}

// policySpec is a rule's policy: it fails closed (an expression that cannot be evaluated denies, as the webhook
// under failurePolicy Fail), and matches the rule's resources through the groups and versions vocab.Routes
// gives them.
func policySpec(r rule) admissionregistrationv1.ValidatingAdmissionPolicySpec {
	fail := admissionregistrationv1.Fail
	equivalent := admissionregistrationv1.Equivalent
	return admissionregistrationv1.ValidatingAdmissionPolicySpec{
		FailurePolicy: &fail,
		MatchConstraints: &admissionregistrationv1.MatchResources{
			MatchPolicy:   &equivalent,
			ResourceRules: resourceRules(r.resources, r.operations),
		},
		MatchConditions: r.matchConditions,
		Variables:       r.variables,
		Validations:     r.validations,
	}
}

// resourceRules are the rules of vocab.Routes for the resources, with the operations of each route that the
// policy reviews, one rule per group and version.
func resourceRules(resources, operations []string) []admissionregistrationv1.NamedRuleWithOperations {
	scope := admissionregistrationv1.NamespacedScope
	var out []admissionregistrationv1.NamedRuleWithOperations
	for _, route := range vocab.Routes {
		var res []string
		for _, r := range route.Resources {
			if slices.Contains(resources, r) {
				res = append(res, r)
			}
		}
		var ops []admissionregistrationv1.OperationType
		for _, op := range route.Operations {
			if slices.Contains(operations, op) {
				ops = append(ops, admissionregistrationv1.OperationType(op))
			}
		}
		if len(res) == 0 || len(ops) == 0 {
			continue
		}
		out = append(out, admissionregistrationv1.NamedRuleWithOperations{RuleWithOperations: admissionregistrationv1.RuleWithOperations{
			Operations: ops,
			Rule: admissionregistrationv1.Rule{APIGroups: []string{route.Group}, APIVersions: []string{route.Version},
				Resources: res, Scope: &scope},
		}})
	}
	return out
}

// configLiterals writes cfg's values as CEL literals (JSON, which CEL reads as its own literals).
func configLiterals(cfg Config) (literals, error) {
	var l literals
	var err error
	enc := func(v any) string {
		if err != nil {
			return ""
		}
		var b bytes.Buffer
		e := json.NewEncoder(&b)
		e.SetEscapeHTML(false)
		if err = e.Encode(v); err != nil {
			err = fmt.Errorf("%w: encoding %v: %w", ErrConfig, v, err)
		}
		return strings.TrimSpace(b.String())
	}
	nonNil := func(ss []string) []string {
		if ss == nil {
			return []string{}
		}
		return ss
	}
	l.roleKey = enc(cfg.RoleLabelKey)
	l.selector = enc(cfg.PartySelector)
	l.selectorText = enc(selectorText(cfg.PartySelector))
	l.secretNames = enc(nonNil(cfg.ShareSecretNames))
	l.claimPrefixes = enc(nonNil(cfg.ShareClaimPrefixes))
	l.workloads = enc(nonNil(cfg.PersistentWorkloads))
	l.threshold = strconv.Itoa(int(cfg.ThresholdT))
	l.workloadsText = enc(workloadsText(cfg.PersistentWorkloads))
	l.partyKeys = enc(partyKeys(cfg))
	controllers := cfg.ControllerUsers
	if len(controllers) == 0 {
		controllers = vocab.DefaultControllerUsers
	}
	l.controllerUsers = enc(controllers)
	l.controllerUsersText = enc(strings.Join(controllers, ", "))
	groups := cfg.BreakGlassGroups
	if len(groups) == 0 {
		groups = []string{vocab.DefaultBreakGlassGroup}
	}
	l.breakGlassGroups = enc(groups)
	l.breakGlassText = enc(strings.Join(groups, ", "))
	return l, err
}

// selectorText is lib.selector_text: k=v pairs, keys sorted, joined by commas.
func selectorText(sel map[string]string) string {
	keys := slices.Sorted(maps.Keys(sel))
	parts := make([]string, len(keys))
	for i, k := range keys {
		parts[i] = k + "=" + sel[k]
	}
	return strings.Join(parts, ",")
}

// workloadsText is pod.rego's workloads_text: "StatefulSet a, StatefulSet b", or "a StatefulSet" when none is
// named.
func workloadsText(workloads []string) string {
	if len(workloads) == 0 {
		return "a StatefulSet"
	}
	parts := make([]string, len(workloads))
	for i, w := range workloads {
		parts[i] = "StatefulSet " + w
	}
	return strings.Join(parts, ", ")
}

// partyKeys is binding.rego's party_keys, sorted: the party selector's keys and the role label key.
func partyKeys(cfg Config) []string {
	keys := slices.Collect(maps.Keys(cfg.PartySelector))
	if !slices.Contains(keys, cfg.RoleLabelKey) {
		keys = append(keys, cfg.RoleLabelKey)
	}
	slices.Sort(keys)
	return keys
}

// celString is s as a CEL (and JSON) string literal.
func celString(s string) string {
	b, _ := json.Marshal(s)
	return string(b)
}
