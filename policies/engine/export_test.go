package engine

import (
	"context"
	"fmt"

	"github.com/open-policy-agent/opa/v1/ast"
	"github.com/open-policy-agent/opa/v1/rego"
	"github.com/open-policy-agent/opa/v1/storage/inmem"

	"github.com/mpcguard/mpcguard/policies"
)

// MainRego evaluates data.mpcguard.main.violation as it stands, with no partial evaluation: the road that
// OPA's own server, `opa eval` and `opa test` take, with the same Go-side prefix and partition. Tests hold the
// Engine's per-class, partially evaluated queries to it.
type MainRego struct {
	pq  rego.PreparedEvalQuery
	cfg Config
}

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
	opts := []func(*rego.Rego){rego.Query(MainQuery), rego.SetRegoVersion(ast.RegoV1), rego.StrictBuiltinErrors(true),
		rego.Store(inmem.NewFromObject(data))}
	for _, m := range mods {
		opts = append(opts, rego.Module(m.Name, m.Source))
	}
	pq, err := rego.New(opts...).PrepareForEval(ctx)
	if err != nil {
		return nil, err
	}
	return &MainRego{pq: pq, cfg: cfg}, nil
}

// Review builds the same input as Engine.Review and evaluates main.rego's violation.
func (m *MainRego) Review(ctx context.Context, req Request, inv Inventory) (Decision, error) {
	in, _, err := buildInput(req, inv)
	if err != nil || in == nil {
		return Decision{}, err
	}
	rs, err := m.pq.Eval(ctx, rego.EvalParsedInput(in), rego.EvalGenerateJSON(asTerm))
	if err != nil {
		return Decision{}, err
	}
	if len(rs) != 1 || len(rs[0].Expressions) != 1 {
		return Decision{}, fmt.Errorf("%s returned %d results, want exactly one", MainQuery, len(rs))
	}
	vs, err := readViolations(MainQuery, rs[0].Expressions[0].Value)
	if err != nil {
		return Decision{}, err
	}
	e := &Engine{cfg: m.cfg}
	d := e.decide(objectText(req, in), vs)
	d.Reviewed = true
	return d, nil
}
