package engine

import (
	"context"
	"fmt"

	"github.com/open-policy-agent/opa/v1/ast"
	"github.com/open-policy-agent/opa/v1/rego"
	"github.com/open-policy-agent/opa/v1/storage/inmem"

	"github.com/mpcguard/mpcguard/policies"
)

// MainRego evaluates data.mpcguard.main.decision as it stands, with no partial evaluation and no sorting in
// Go: the road that OPA's own server, `opa eval` and `opa test` take. Tests hold the Engine to it.
type MainRego struct{ pq rego.PreparedEvalQuery }

// NewMainRego prepares main.rego's decision for the embedded policies with cfg.
func NewMainRego(ctx context.Context, cfg Config) (*MainRego, error) {
	data, err := configData(cfg)
	if err != nil {
		return nil, err
	}
	mods, err := policies.Modules()
	if err != nil {
		return nil, err
	}
	opts := []func(*rego.Rego){rego.Query(Query), rego.SetRegoVersion(ast.RegoV1), rego.StrictBuiltinErrors(true),
		rego.Store(inmem.NewFromObject(data))}
	for _, m := range mods {
		opts = append(opts, rego.Module(m.Name, m.Source))
	}
	pq, err := rego.New(opts...).PrepareForEval(ctx)
	if err != nil {
		return nil, err
	}
	return &MainRego{pq: pq}, nil
}

// Review builds the same input as Engine.Review and evaluates main.rego's decision.
func (m *MainRego) Review(ctx context.Context, req Request, inv Inventory) (Decision, error) {
	in, err := buildInput(req, inv)
	if err != nil || in == nil {
		return Decision{}, err
	}
	rs, err := m.pq.Eval(ctx, rego.EvalParsedInput(in))
	if err != nil {
		return Decision{}, err
	}
	if len(rs) != 1 || len(rs[0].Expressions) != 1 {
		return Decision{}, fmt.Errorf("%s returned %d results, want exactly one", Query, len(rs))
	}
	obj, ok := rs[0].Expressions[0].Value.(map[string]any)
	if !ok {
		return Decision{}, fmt.Errorf("%s is %T, want an object", Query, rs[0].Expressions[0].Value)
	}
	d := Decision{Reviewed: true}
	for key, dst := range map[string]*[]Result{"deny": &d.Deny, "warn": &d.Warn, "skipped": &d.Skipped} {
		list, ok := obj[key].([]any)
		if !ok {
			return Decision{}, fmt.Errorf("%s.%s is %T, want an array", Query, key, obj[key])
		}
		for _, x := range list {
			r, _ := x.(map[string]any)
			p, _ := r["policy"].(string)
			msg, _ := r["msg"].(string)
			*dst = append(*dst, Result{Policy: p, Message: msg})
		}
	}
	return d, nil
}
