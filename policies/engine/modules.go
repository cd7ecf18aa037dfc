package engine

import (
	"fmt"
	"slices"
	"strings"

	"github.com/open-policy-agent/opa/v1/ast"

	"github.com/mpcguard/mpcguard/policies"
	"github.com/mpcguard/mpcguard/policies/vocab"
)

// Packages returns the Rego packages the engine reads: one per class (data.mpcguard.<class>), and the shared
// helpers and entry point.
func Packages() []string {
	out := slices.Clone(libPackages)
	for _, c := range vocab.Classes {
		out = append(out, "data.mpcguard."+string(c))
	}
	slices.Sort(out)
	return out
}

// PolicyIDsOf parses the modules and returns the policy ids their violation rules name, sorted and without
// duplicates: the "policy" of a rule's head, a string or a variable the body assigns a string to
// (`id := "my-policy"`).
func PolicyIDsOf(mods []policies.Module) ([]string, error) {
	ids := map[string]bool{}
	for _, m := range mods {
		mod, err := ast.ParseModuleWithOpts(m.Name, m.Source, ast.ParserOptions{RegoVersion: ast.RegoV1})
		if err != nil {
			return nil, fmt.Errorf("%w: %w", ErrCompile, err)
		}
		for _, r := range mod.Rules {
			// The partial rules "violation contains {...}" of a policy package; main's complete rule
			// "violation := pod.violation" only dispatches.
			if r.Head.Key == nil || len(r.Head.Reference) != 1 || r.Head.Reference[0].Value.Compare(ast.Var("violation")) != 0 {
				continue
			}
			id, ok := ruleID(r)
			if !ok {
				return nil, fmt.Errorf("%w: %s:%d: a violation rule must name its policy id as a string, "+
					`{"policy": "my-policy", ...} or id := "my-policy" in its body`, ErrCompile, m.Name, r.Location.Row)
			}
			ids[id] = true
		}
	}
	out := make([]string, 0, len(ids))
	for id := range ids {
		out = append(out, id)
	}
	slices.Sort(out)
	return out, nil
}

// ruleID reads the policy id of a violation rule.
func ruleID(r *ast.Rule) (string, bool) {
	obj, ok := r.Head.Key.Value.(ast.Object)
	if !ok {
		return "", false
	}
	p := obj.Get(ast.InternedTerm("policy"))
	if p == nil {
		return "", false
	}
	switch v := p.Value.(type) {
	case ast.String:
		return string(v), true
	case ast.Var:
		for _, expr := range r.Body {
			if !expr.IsAssignment() && !expr.IsEquality() {
				continue
			}
			terms := expr.Operands()
			if len(terms) == 2 && terms[0].Value.Compare(v) == 0 {
				if s, ok := terms[1].Value.(ast.String); ok {
					return string(s), true
				}
			}
		}
	}
	return "", false
}

// checkModules refuses modules in packages the engine never reads (their rules would be silently ignored)
// and policy ids that are not spelled as ids, and returns the ids the modules define.
func checkModules(mods []policies.Module) ([]string, error) {
	known := Packages()
	for _, m := range mods {
		mod, err := ast.ParseModuleWithOpts(m.Name, m.Source, ast.ParserOptions{RegoVersion: ast.RegoV1})
		if err != nil {
			return nil, fmt.Errorf("%w: %w", ErrCompile, err)
		}
		if pkg := mod.Package.Path.String(); !slices.Contains(known, pkg) && !strings.HasPrefix(pkg, "data.mpcguard.lib.") {
			return nil, fmt.Errorf("%w: %s: package %s is never evaluated: put a policy in one of %s (helpers under data.mpcguard.lib.*)",
				ErrCompile, m.Name, strings.TrimPrefix(pkg, "data."), strings.Join(known, ", "))
		}
	}
	ids, err := PolicyIDsOf(mods)
	if err != nil {
		return nil, err
	}
	for _, id := range ids {
		if !vocab.ValidID(id) {
			return nil, fmt.Errorf("%w: policy id %q is not lower-case letters, digits and single '-'", ErrCompile, id)
		}
	}
	return ids, nil
}
