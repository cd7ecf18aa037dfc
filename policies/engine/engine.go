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

// Sentinel errors of the engine; wrapped with the details.
var (
	// ErrConfig means the configuration is invalid.
	ErrConfig = errors.New("invalid policy configuration")
	// ErrCompile means a policy module does not compile; the error names its file and line.
	ErrCompile = errors.New("policies do not compile")
	// ErrEval means evaluating the policies failed (including a blown deadline); never read it as an allow.
	ErrEval = errors.New("policy evaluation failed")
)

// Inventory is what the webhook's cluster cache knows. ok is false when it is not available (no cluster, or
// its cache not synced): the policies then skip what needs it, never guess.
type Inventory interface {
	// PersistentReady is how many Ready persistent party pods a namespace has.
	PersistentReady(namespace string) (ready int, ok bool)
	// Role is the role label of a pod ("" when it has none or is not known).
	Role(namespace, name string) (role string, ok bool)
}

// Result is one policy's outcome for one object.
type Result struct {
	Policy string `json:"policy"`
	// Message is "[policy] Kind namespace/name: detail", what the webhook answers.
	Message string `json:"message"`
	// Object is "Kind namespace/name" ("Pod namespace/name (exec)" for a subresource), Detail what the policy
	// says of it: the message without its prefix.
	Object string `json:"-"`
	Detail string `json:"-"`
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
// Each Rego module returns bare violations ({policy, msg}, "skipped": true for a check that could not run);
// the engine alone names the object in front of each message and sorts the violations into deny, warn and
// skipped by the configured enforcement, as Gatekeeper does. It evaluates only the module for the request's
// kind (main.rego's dispatch, which a test holds it to), and modules other than the session's are partially
// evaluated against the configuration when the engine is prepared, so the configuration's lookups and
// constant helpers are folded away once instead of on every review. The session module is not: its rules
// build on each other (t, n, composition), and inlining them into every violation repeats that work.
// A class's bare violations are memoised by the input fields its modules read (memo.go), so objects that differ
// only in what the policies never look at — party pods of one template, by name — share one evaluation.
type Engine struct {
	cfg     Config
	ids     []string
	queries map[vocab.Class]prepared
	memo    *memo // nil when memoisation is off
}

// prepared is the query for one class.
type prepared struct {
	query string
	pq    rego.PreparedEvalQuery
	// keys are the input fields the class's modules read, sorted; memoised is false when the class is never
	// answered from the memo (memo.go).
	keys     []string
	memoised bool
}

// Query returns the Rego query the engine evaluates for a class: data.mpcguard.<class>.violation.
func Query(class vocab.Class) string { return "data.mpcguard." + string(class) + ".violation" }

// MainQuery is the entry point for callers that do not dispatch by kind themselves (policies/README.md).
const MainQuery = "data.mpcguard.main.violation"

// partial says which classes are partially evaluated against the configuration at preparation.
var partial = map[vocab.Class]bool{
	vocab.ClassPod: true, vocab.ClassWorkload: true, vocab.ClassBinding: true,
	vocab.ClassConnect: true, vocab.ClassStorage: true,
}

// libPackages are the packages the engine reads besides the classes'.
var libPackages = []string{"data.mpcguard.lib", "data.mpcguard.main"}

// New validates cfg and compiles the given modules (the embedded policies when mods is nil) into prepared
// queries. Compile errors name the module file and line. A module in a package the engine never reads, a
// policy set that lacks a class's violation rule, and an enforcement for an id that no module defines are
// errors, never silently ignored. Decisions are memoised by the input fields each class reads (memo.go)
// unless WithCacheSize(0) is given.
func New(ctx context.Context, cfg Config, mods []policies.Module, opts ...Option) (*Engine, error) {
	o := options{cacheSize: DefaultCacheSize}
	for _, opt := range opts {
		opt(&o)
	}
	if errs := cfg.Validate(); len(errs) > 0 {
		return nil, fmt.Errorf("%w: %w", ErrConfig, errs.ToAggregate())
	}
	if mods == nil {
		var err error
		if mods, err = policies.Modules(); err != nil {
			return nil, fmt.Errorf("%w: %w", ErrCompile, err)
		}
	}
	ids, err := checkModules(mods)
	if err != nil {
		return nil, err
	}
	var unknown []string
	for id := range cfg.Enforcement {
		// A built-in id that a replacement policy set leaves out is harmless (DefaultConfig names them all);
		// any other id must be defined, or a typo would silently enforce nothing.
		if !slices.Contains(ids, id) && !vocab.Known(id) {
			unknown = append(unknown, id)
		}
	}
	if len(unknown) > 0 {
		slices.Sort(unknown)
		return nil, fmt.Errorf("%w: enforcement names %s, which no policy module defines (defined: %s)",
			ErrConfig, strings.Join(unknown, ", "), strings.Join(ids, ", "))
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
	main := rego.New(append(base, rego.Query(MainQuery))...)
	if _, err := main.PrepareForEval(ctx); err != nil {
		return nil, fmt.Errorf("%w: %w", ErrCompile, err)
	}
	e := &Engine{cfg: cfg, ids: ids, queries: make(map[vocab.Class]prepared, len(vocab.Classes))}
	var compiler *ast.Compiler
	if o.cacheSize > 0 {
		e.memo = newMemo(o.cacheSize)
		sources := make(map[string]string, len(mods))
		for _, m := range mods {
			sources[m.Name] = m.Source
		}
		if compiler, err = ast.CompileModulesWithOpt(sources, ast.CompileOpts{
			ParserOptions: ast.ParserOptions{RegoVersion: ast.RegoV1}}); err != nil {
			return nil, fmt.Errorf("%w: %w", ErrCompile, err)
		}
	}
	for _, class := range vocab.Classes {
		q := prepared{query: Query(class)}
		if compiler != nil {
			q.keys, q.memoised = memoKeys(compiler, class)
		}
		var popts []rego.PrepareOption
		if partial[class] {
			popts = append(popts, rego.WithPartialEval())
		}
		if q.pq, err = rego.New(append(base, rego.Query(q.query))...).PrepareForEval(ctx, popts...); err != nil {
			return nil, fmt.Errorf("%w: %s: %w", ErrCompile, q.query, err)
		}
		// A policy set that lacks one of the rules the engine reads would answer every review of that kind with
		// an error; say so now, so the webhook never turns ready with it.
		probe := ast.NewObject(item("kind", ast.InternedTerm("probe")), item("operation", ast.InternedTerm("DELETE")))
		if rs, err := q.pq.Eval(ctx, rego.EvalParsedInput(probe)); err != nil || len(rs) != 1 {
			return nil, fmt.Errorf("%w: the policies must define %s (a set, possibly empty; policies/README.md): "+
				"evaluating it gave %d results, error %v", ErrCompile, q.query, len(rs), err)
		}
		e.queries[class] = q
	}
	return e, nil
}

// Config returns the configuration the engine was built with.
func (e *Engine) Config() Config { return e.cfg }

// PolicyIDs returns the ids of the policies the engine's modules define, sorted: the built-in ones and any
// custom ones.
func (e *Engine) PolicyIDs() []string { return slices.Clone(e.ids) }

// Defines reports whether the engine's modules define the policy id.
func (e *Engine) Defines(id string) bool {
	_, found := slices.BinarySearch(e.ids, id)
	return found
}

// Review evaluates one object. Kinds and operations the policies ignore return a zero Decision at once.
// A malformed object returns an error wrapping ErrDecode; a failed evaluation one wrapping ErrEval.
func (e *Engine) Review(ctx context.Context, req Request, inv Inventory) (Decision, error) {
	in, class, err := buildInput(req, inv)
	if err != nil || in == nil {
		return Decision{}, err
	}
	if err := ctx.Err(); err != nil {
		return Decision{}, fmt.Errorf("%w: %s %s/%s: not evaluated: %w", ErrEval, req.Kind.Kind, req.Namespace, req.Name, err)
	}
	q := e.queries[class]
	var vs []violation
	if e.memo != nil && q.memoised {
		vs, err = e.memoised(ctx, q, class, in.(ast.Object))
	} else {
		vs, err = e.eval(ctx, q, in)
	}
	if err != nil {
		return Decision{}, fmt.Errorf("%w: %s %s/%s: %w", ErrEval, req.Kind.Kind, req.Namespace, req.Name, err)
	}
	d := e.decide(objectText(req, in), vs)
	d.Reviewed = true
	return d, nil
}

// memoised answers from the memo when the reduced input has been evaluated before, and evaluates and
// memoises it otherwise. Only complete, successful evaluations are memoised.
func (e *Engine) memoised(ctx context.Context, q prepared, class vocab.Class, in ast.Object) ([]violation, error) {
	bp := keyBuffers.Get().(*[]byte)
	defer keyBuffers.Put(bp)
	key := append((*bp)[:0], class...)
	key = append(key, 0)
	key, err := appendKey(key, in, q.keys)
	if err != nil {
		// Not a form the memo can key: evaluate as if it were off.
		return e.eval(ctx, q, in)
	}
	*bp = key
	if vs, ok := e.memo.get(key); ok {
		e.memo.hits.Add(1)
		return vs, nil
	}
	e.memo.misses.Add(1)
	vs, err := e.eval(ctx, q, in)
	if err != nil {
		return nil, err
	}
	e.memo.put(key, vs)
	return vs, nil
}

// eval evaluates a class's prepared query on the input and reads its violations.
func (e *Engine) eval(ctx context.Context, q prepared, in ast.Value) ([]violation, error) {
	rs, err := q.pq.Eval(ctx, rego.EvalParsedInput(in), rego.EvalGenerateJSON(asTerm))
	if err == nil && ctx.Err() != nil {
		// The caller gave up while we evaluated; a late answer must not count as a verdict.
		err = ctx.Err()
	}
	if err != nil {
		return nil, err
	}
	if len(rs) != 1 || len(rs[0].Expressions) != 1 {
		return nil, fmt.Errorf("%s returned %d results, want exactly one", q.query, len(rs))
	}
	return readViolations(q.query, rs[0].Expressions[0].Value)
}

// sortDecision orders each list by message, then policy, so answers are stable.
func sortDecision(d *Decision) {
	for _, list := range [][]Result{d.Deny, d.Warn, d.Skipped} {
		slices.SortFunc(list, func(a, b Result) int {
			return cmp.Or(strings.Compare(a.Message, b.Message), strings.Compare(a.Policy, b.Policy))
		})
	}
}

// objectText names the object in messages: "Kind namespace/name", for a subresource of a pod
// "Pod namespace/name (subresource)", and for a Scale "StatefulSet namespace/name (scale)".
// "Pod namespace/name (subresource)".
func objectText(req Request, in ast.Value) string {
	obj := in.(ast.Object)
	str := func(k string) string {
		if t := obj.Get(ast.InternedTerm(k)); t != nil {
			if s, ok := t.Value.(ast.String); ok {
				return string(s)
			}
		}
		return ""
	}
	kind := req.Kind.Kind
	switch {
	case kind == vocab.ScaleKind:
		// Only statefulsets/scale is routed: the Scale stands for its StatefulSet.
		return "StatefulSet " + str("namespace") + "/" + str("name") + " (scale)"
	case req.Subresource != "":
		return "Pod " + str("namespace") + "/" + str("name") + " (" + req.Subresource + ")"
	}
	return kind + " " + str("namespace") + "/" + str("name")
}

// asTerm hands the query's value over as it is, skipping the conversion to Go values.
func asTerm(t *ast.Term, _ *rego.EvalContext) (any, error) { return t, nil }

// readViolations reads a violation set: the bare {policy, msg[, skipped]} objects the modules return.
func readViolations(query string, v any) ([]violation, error) {
	t, ok := v.(*ast.Term)
	if !ok {
		return nil, fmt.Errorf("%s returned %T, want a term", query, v)
	}
	set, ok := t.Value.(ast.Set)
	if !ok {
		return nil, fmt.Errorf("%s returned %v, want a set", query, t)
	}
	vs := make([]violation, 0, set.Len())
	var bad error
	set.Foreach(func(x *ast.Term) {
		r, skipped, notice, err := readResult(x)
		if err != nil {
			bad = fmt.Errorf("%s: %w", query, err)
			return
		}
		vs = append(vs, violation{policy: r.Policy, detail: r.Detail, skipped: skipped, notice: notice})
	})
	return vs, bad
}

// decide sorts violations into a decision: a violation marked skipped goes to skipped unless its policy is
// off; one marked notice (an exception the policy granted, such as a break-glass deletion, that must be on
// the record) goes to warn unless its policy is off; any other goes to deny or warn by its policy's
// enforcement (deny unless configured warn or off; off drops it). Each message is prefixed with "[policy] object: ". vs is only read: it may be memoised.
func (e *Engine) decide(obj string, vs []violation) Decision {
	var d Decision
	for _, v := range vs {
		a := e.cfg.action(v.policy)
		if a == vocab.Off {
			continue
		}
		r := Result{Policy: v.policy, Detail: v.detail, Object: obj, Message: "[" + v.policy + "] " + obj + ": " + v.detail}
		switch {
		case v.skipped:
			d.Skipped = append(d.Skipped, r)
		case v.notice, a == vocab.Warn:
			d.Warn = append(d.Warn, r)
		default:
			d.Deny = append(d.Deny, r)
		}
	}
	sortDecision(&d)
	return d
}

func stringOf(obj ast.Object, key string) (ast.String, bool) {
	t := obj.Get(ast.InternedTerm(key))
	if t == nil {
		return "", false
	}
	s, ok := t.Value.(ast.String)
	return s, ok
}

// readResult reads one {"policy", "msg"} violation, and its "skipped" and "notice" marks.
func readResult(x *ast.Term) (r Result, skipped, notice bool, err error) {
	obj, ok := x.Value.(ast.Object)
	if ok {
		p, ok1 := stringOf(obj, "policy")
		m, ok2 := stringOf(obj, "msg")
		mark := func(k string) bool {
			t := obj.Get(ast.InternedTerm(k))
			return t != nil && t.Value.Compare(ast.Boolean(true)) == 0
		}
		if ok1 && ok2 {
			return Result{Policy: string(p), Detail: string(m)}, mark("skipped"), mark("notice"), nil
		}
	}
	return Result{}, false, false, fmt.Errorf("a violation is not {policy, msg}: %v", x)
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
