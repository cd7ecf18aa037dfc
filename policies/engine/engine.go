package engine

import (
	"cmp"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"strings"

	"github.com/open-policy-agent/opa/v1/ast"
	"github.com/open-policy-agent/opa/v1/rego"
	"github.com/open-policy-agent/opa/v1/storage/inmem"

	"github.com/mpcguard/mpcguard/policies"
	"github.com/mpcguard/mpcguard/policies/vocab"
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
//
// The decision is main.rego's (data.mpcguard.main.decision), reached by a shorter road: the engine evaluates
// only the module for the request's kind and sorts its violations into deny and warn by the configured
// enforcement in Go, as main.rego does. The pod and workload modules are partially evaluated against the
// configuration when the engine is prepared, so the configuration's lookups and constant helpers are folded
// away once instead of on every review. The session module is not: its rules build on each other (t, n,
// composition), and inlining them into every violation repeats that work. A test holds the two roads to the
// same decision, message for message.
type Engine struct {
	cfg     Config
	queries map[kindClass]prepared
}

// prepared is the query for one kind.
type prepared struct {
	query   string
	partial bool // partially evaluated against the configuration at preparation (needs a single reference)
	pq      rego.PreparedEvalQuery
}

// kindQueries are what the engine evaluates per kind. A partially evaluated query must be a single reference
// and returns the violation set; the session query returns [violations, skipped].
var kindQueries = map[kindClass]prepared{
	classPod:      {query: "data.mpcguard.pod.violation", partial: true},
	classWorkload: {query: "data.mpcguard.workload.violation", partial: true},
	classSession:  {query: "[data.mpcguard.session.violation, data.mpcguard.session.skipped]"},
}

// New validates cfg and compiles the given modules (the embedded policies when mods is nil) into prepared
// queries. Compile errors name the module file and line.
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
	// One compiler for every query: the modules are parsed and compiled once, and the entry point is
	// compiled too, so a broken main.rego stops the engine as any other module would.
	store := inmem.NewFromObjectWithOpts(data, inmem.OptReturnASTValuesOnRead(true))
	base := []func(*rego.Rego){
		rego.SetRegoVersion(ast.RegoV1),
		rego.StrictBuiltinErrors(true),
		rego.Store(store),
	}
	for _, m := range mods {
		base = append(base, rego.Module(m.Name, m.Source))
	}
	main := rego.New(append(base, rego.Query(Query))...)
	if _, err := main.PrepareForEval(ctx); err != nil {
		return nil, fmt.Errorf("%w: %w", ErrCompile, err)
	}
	e := &Engine{cfg: cfg, queries: make(map[kindClass]prepared, len(kindQueries))}
	for class, q := range kindQueries {
		var popts []rego.PrepareOption
		if q.partial {
			popts = append(popts, rego.WithPartialEval())
		}
		var err error
		if q.pq, err = rego.New(append(base, rego.Query(q.query))...).PrepareForEval(ctx, popts...); err != nil {
			return nil, fmt.Errorf("%w: %s: %w", ErrCompile, q.query, err)
		}
		// A policy set that lacks one of the rules the engine reads would answer every review of that kind with
		// an error; say so now, so the webhook never turns ready with it.
		probe := ast.NewObject(item("kind", ast.InternedTerm(probeKinds[class])), item("operation", ast.InternedTerm("CONNECT")))
		if rs, err := q.pq.Eval(ctx, rego.EvalParsedInput(probe)); err != nil || len(rs) != 1 {
			return nil, fmt.Errorf("%w: the policies must define %s (a set, possibly empty; policies/README.md): "+
				"evaluating it for a %s gave %d results, error %v", ErrCompile, q.query, probeKinds[class], len(rs), err)
		}
		e.queries[class] = q
	}
	return e, nil
}

// probeKinds are the kinds New evaluates each query with once, to prove the policy set defines its rules.
var probeKinds = map[kindClass]string{classPod: "Pod", classWorkload: "Deployment", classSession: "MPCSession"}

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
	q := e.queries[reviewed[req.Kind]]
	rs, err := q.pq.Eval(ctx, rego.EvalParsedInput(in), rego.EvalGenerateJSON(asTerm))
	if err == nil && ctx.Err() != nil {
		// The caller gave up while we evaluated; a late answer must not count as a verdict.
		err = ctx.Err()
	}
	if err != nil {
		return Decision{}, fmt.Errorf("%w: %s %s/%s: %w", ErrEval, req.Kind.Kind, req.Namespace, req.Name, err)
	}
	if len(rs) != 1 || len(rs[0].Expressions) != 1 {
		return Decision{}, fmt.Errorf("%w: %s returned %d results, want exactly one", ErrEval, q.query, len(rs))
	}
	var d Decision
	if err := e.decide(&d, q, rs[0].Expressions[0].Value); err != nil {
		return Decision{}, fmt.Errorf("%w: %w", ErrEval, err)
	}
	for _, list := range [][]Result{d.Deny, d.Warn, d.Skipped} {
		slices.SortFunc(list, func(a, b Result) int {
			return cmp.Or(strings.Compare(a.Message, b.Message), strings.Compare(a.Policy, b.Policy))
		})
	}
	d.Reviewed = true
	return d, nil
}

// asTerm hands the query's value over as it is, skipping the conversion to Go values.
func asTerm(t *ast.Term, _ *rego.EvalContext) (any, error) { return t, nil }

// decide reads a query's value — the violation set, or [violations, skipped] — and sorts it as main.rego
// does: a violation goes to deny or warn by its policy's enforcement (deny unless configured warn or off; off
// drops it), and a skipped check stays unless its policy is off.
func (e *Engine) decide(d *Decision, q prepared, v any) error {
	t, ok := v.(*ast.Term)
	if !ok {
		return fmt.Errorf("%s returned %T, want a term", q.query, v)
	}
	violations, skipped := t, (*ast.Term)(nil)
	if arr, ok := t.Value.(*ast.Array); ok && arr.Len() == 2 {
		violations, skipped = arr.Elem(0), arr.Elem(1)
	}
	if err := e.sortSet(q.query, violations, func(r Result, a vocab.Action) {
		if a == vocab.Warn {
			d.Warn = append(d.Warn, r)
		} else {
			d.Deny = append(d.Deny, r)
		}
	}); err != nil {
		return err
	}
	if skipped == nil {
		return nil
	}
	return e.sortSet(q.query, skipped, func(r Result, _ vocab.Action) { d.Skipped = append(d.Skipped, r) })
}

// sortSet hands each {policy, msg} of a set whose policy is not off to add, with the policy's action.
func (e *Engine) sortSet(query string, t *ast.Term, add func(Result, vocab.Action)) error {
	set, ok := t.Value.(ast.Set)
	if !ok {
		return fmt.Errorf("%s returned %v, want a set", query, t)
	}
	var bad error
	set.Foreach(func(x *ast.Term) {
		r, err := readResult(x)
		if err != nil {
			bad = fmt.Errorf("%s: %w", query, err)
			return
		}
		if a := e.cfg.action(r.Policy); a != vocab.Off {
			add(r, a)
		}
	})
	return bad
}

// readResult reads one {"policy", "msg"} violation.
func readResult(x *ast.Term) (Result, error) {
	obj, ok := x.Value.(ast.Object)
	if ok {
		p, ok1 := obj.Get(ast.InternedTerm("policy")).Value.(ast.String)
		m, ok2 := obj.Get(ast.InternedTerm("msg")).Value.(ast.String)
		if ok1 && ok2 {
			return Result{Policy: string(p), Message: string(m)}, nil
		}
	}
	return Result{}, fmt.Errorf("a violation is not {policy, msg}: %v", x)
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
