package policy

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"

	"github.com/open-policy-agent/opa/v1/ast"
	"github.com/open-policy-agent/opa/v1/rego"
	"github.com/open-policy-agent/opa/v1/storage/inmem"

	"github.com/mpcguard/mpcguard/policies"
)

// Query is the Rego entry point (policies/README.md).
const Query = "data.mpcguard.main.decision"

// Sentinel errors of the engine; wrapped with the details.
var (
	// ErrConfig means the configuration is invalid.
	ErrConfig = errors.New("invalid policy configuration")
	// ErrCompile means a policy module does not compile; the error names its file and line.
	ErrCompile = errors.New("policies do not compile")
	// ErrEval means evaluating the policies failed (including a blown deadline); never read it as an allow.
	ErrEval = errors.New("policy evaluation failed")
)

// Inventory answers how many Ready persistent party pods a namespace has. ok is false when the inventory is
// not available (no cluster, or its cache not synced): the policies then skip what needs it, never guess.
type Inventory interface {
	PersistentReady(namespace string) (ready int, ok bool)
}

// Result is one policy's outcome for one object.
type Result struct {
	Policy  string `json:"policy"`
	Message string `json:"message"`
}

// Decision is the policies' verdict on one object.
type Decision struct {
	// Reviewed is false for kinds and operations the policies do not look at (always allowed).
	Reviewed bool     `json:"reviewed"`
	Deny     []Result `json:"deny,omitempty"`
	Warn     []Result `json:"warn,omitempty"`
	Skipped  []Result `json:"skipped,omitempty"`
}

// Allowed reports whether nothing denied.
func (d Decision) Allowed() bool { return len(d.Deny) == 0 }

// Engine evaluates the policies. It is prepared once and safe for concurrent use.
type Engine struct {
	cfg   Config
	query rego.PreparedEvalQuery
}

// New validates cfg and compiles the given modules (the embedded policies when mods is nil) into a prepared
// query. Compile errors name the module file and line.
func New(ctx context.Context, cfg Config, mods []policies.Module) (*Engine, error) {
	if errs := cfg.Validate(); len(errs) > 0 {
		return nil, fmt.Errorf("%w: %w", ErrConfig, errs.ToAggregate())
	}
	if mods == nil {
		var err error
		if mods, err = policies.Modules(); err != nil {
			return nil, fmt.Errorf("%w: %w", ErrCompile, err)
		}
	}
	data, err := configData(cfg)
	if err != nil {
		return nil, fmt.Errorf("%w: %w", ErrConfig, err)
	}
	opts := []func(*rego.Rego){
		rego.Query(Query),
		// AST values in the store: data.mpcguard.config is read on every evaluation, and converting it from Go
		// values each time cost more than the policies themselves.
		rego.Store(inmem.NewFromObjectWithOpts(data, inmem.OptReturnASTValuesOnRead(true))),
		rego.SetRegoVersion(ast.RegoV1),
		rego.StrictBuiltinErrors(true),
	}
	for _, m := range mods {
		opts = append(opts, rego.Module(m.Name, m.Source))
	}
	pq, err := rego.New(opts...).PrepareForEval(ctx)
	if err != nil {
		return nil, fmt.Errorf("%w: %w", ErrCompile, err)
	}
	return &Engine{cfg: cfg, query: pq}, nil
}

// Config returns the configuration the engine was built with.
func (e *Engine) Config() Config { return e.cfg }

// Review evaluates one object. Kinds and operations the policies ignore return a zero Decision at once.
// A malformed object returns an error wrapping ErrDecode; a failed evaluation one wrapping ErrEval.
func (e *Engine) Review(ctx context.Context, req Request, inv Inventory) (Decision, error) {
	in, err := buildInput(req, inv)
	if err != nil || in == nil {
		return Decision{}, err
	}
	if err := ctx.Err(); err != nil {
		return Decision{}, fmt.Errorf("%w: %s %s/%s: not evaluated: %w", ErrEval, req.Kind.Kind, req.Namespace, req.Name, err)
	}
	rs, err := e.query.Eval(ctx, rego.EvalParsedInput(in))
	if err == nil && ctx.Err() != nil {
		// The caller gave up while we evaluated; a late answer must not count as a verdict.
		err = ctx.Err()
	}
	if err != nil {
		return Decision{}, fmt.Errorf("%w: %s %s/%s: %w", ErrEval, req.Kind.Kind, req.Namespace, req.Name, err)
	}
	if len(rs) != 1 || len(rs[0].Expressions) != 1 {
		return Decision{}, fmt.Errorf("%w: %s returned %d results, want exactly one", ErrEval, Query, len(rs))
	}
	d, err := decodeDecision(rs[0].Expressions[0].Value)
	if err != nil {
		return Decision{}, fmt.Errorf("%w: %w", ErrEval, err)
	}
	d.Reviewed = true
	return d, nil
}

func configData(cfg Config) (map[string]any, error) {
	// Round-trip through JSON so the store holds plain JSON values, as OPA expects.
	b, err := json.Marshal(cfg)
	if err != nil {
		return nil, err
	}
	var c map[string]any
	if err := json.Unmarshal(b, &c); err != nil {
		return nil, err
	}
	return map[string]any{"mpcguard": map[string]any{"config": c}}, nil
}

// decodeDecision reads main.rego's decision; its lists arrive sorted by message (main.rego sorts them, and
// policies/main_test.rego checks it).
func decodeDecision(v any) (Decision, error) {
	obj, ok := v.(map[string]any)
	if !ok {
		return Decision{}, fmt.Errorf("%s is %T, want an object", Query, v)
	}
	var d Decision
	for _, part := range []struct {
		key string
		dst *[]Result
	}{{"deny", &d.Deny}, {"warn", &d.Warn}, {"skipped", &d.Skipped}} {
		list, ok := obj[part.key].([]any)
		if !ok {
			return Decision{}, fmt.Errorf("%s.%s is %T, want an array", Query, part.key, obj[part.key])
		}
		for i, x := range list {
			r, ok := x.(map[string]any)
			policy, ok1 := r["policy"].(string)
			msg, ok2 := r["msg"].(string)
			if !ok || !ok1 || !ok2 {
				return Decision{}, fmt.Errorf("%s.%s[%d] is not {policy, msg}: %v", Query, part.key, i, x)
			}
			*part.dst = append(*part.dst, Result{Policy: policy, Message: msg})
		}
	}
	return d, nil
}
