// Package suite runs policy test suites: YAML files that give a policy configuration and cases (an object, or an
// AdmissionReview-like request with a user and an inventory stub) with the decision each case expects, the way
// `gator verify` and `kyverno test` do. `mpcguard test` is its command; the embedded policies ship their own
// suite (builtin/*.yaml). The format is described in policies/README.md ("Writing a custom policy").
package suite

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"sort"
	"strings"

	yaml "go.yaml.in/yaml/v3"
	"k8s.io/apimachinery/pkg/runtime/schema"

	"github.com/mpcguard/mpcguard/internal/validate"
	"github.com/mpcguard/mpcguard/policies"
	"github.com/mpcguard/mpcguard/policies/engine"
)

// ErrSuite means a suite cannot be read: its file, YAML, a field, its configuration or its policies. Such a
// suite is never run in part.
var ErrSuite = errors.New("cannot read suite")

// File is one suite file.
type File struct {
	// Name says what the suite tests (optional).
	Name string `yaml:"name"`
	// Config is the policy configuration, with the keys of the CLI flags.
	Config Config `yaml:"config"`
	Cases  []Case `yaml:"cases"`

	// path is where the file was read from, as shown in output.
	path string
	// dir is the directory policyDir is relative to; "" for an embedded suite.
	dir string
}

// Config is a policy configuration: the keys of the CLI flags, camel-cased. Absent keys take the flags'
// defaults.
type Config struct {
	RoleLabelKey        string    `yaml:"roleLabelKey"`
	PartySelector       string    `yaml:"partySelector"`
	ShareSecretNames    []string  `yaml:"shareSecretNames"`
	ShareClaimPrefixes  []string  `yaml:"shareClaimPrefixes"`
	PersistentWorkloads []string  `yaml:"persistentWorkloads"`
	ControllerUsers     *[]string `yaml:"controllerUsers"`
	BreakGlassGroups    *[]string `yaml:"breakGlassGroups"`
	// Threshold is --threshold-t: the t below which no change takes a persistent StatefulSet.
	Threshold *int `yaml:"threshold"`
	// Enforcement is a mapping {policy-id: deny|warn|off}, or the flag's "id=action,id2=action2".
	Enforcement yaml.Node `yaml:"enforcement"`
	// PolicyDir replaces the embedded policies with the *.rego files of a directory (tests excluded), relative
	// to the suite file, as --policy-dir does.
	PolicyDir string `yaml:"policyDir"`
}

// Case is one object or request and the decision expected for it.
type Case struct {
	// Name is a sentence saying what the case shows: "denies exec into a persistent party".
	Name string `yaml:"name"`
	// Policy is the policy id the case is about (optional); it must be an id the policies define.
	Policy string `yaml:"policy"`
	// Object is reviewed as `mpcguard validate` reviews a manifest: a CREATE with no user and no inventory.
	Object yaml.Node `yaml:"object"`
	// Request is an admission request; exactly one of Object and Request is given.
	Request *Request `yaml:"request"`
	Expect  Expect   `yaml:"expect"`
}

// Request is what an AdmissionReview's request carries, plus the webhook's inventory.
type Request struct {
	// Operation is CREATE, UPDATE, CONNECT or DELETE (default CREATE). A DELETE carries only oldObject, which
	// then gives the kind, namespace and name.
	Operation string `yaml:"operation"`
	// Kind is request.kind; by default the object's apiVersion and kind. CONNECT requests name their options
	// kind: {version: v1, kind: PodExecOptions}.
	Kind *GVK `yaml:"kind"`
	// Subresource is status, ephemeralcontainers, binding, exec, attach, portforward, proxy, ...
	Subresource string `yaml:"subresource"`
	// Namespace and Name default to the object's.
	Namespace string    `yaml:"namespace"`
	Name      string    `yaml:"name"`
	DryRun    bool      `yaml:"dryRun"`
	Object    yaml.Node `yaml:"object"`
	OldObject yaml.Node `yaml:"oldObject"`
	// UserInfo is who sends the request; absent, the checks that need a user are skipped (as offline).
	UserInfo *UserInfo `yaml:"userInfo"`
	// Inventory stubs the webhook's cluster inventory; absent, the checks that need it are skipped.
	Inventory *Inventory `yaml:"inventory"`
}

// GVK is request.kind.
type GVK struct {
	Group   string `yaml:"group"`
	Version string `yaml:"version"`
	Kind    string `yaml:"kind"`
}

// UserInfo is request.userInfo.
type UserInfo struct {
	Username string   `yaml:"username"`
	Groups   []string `yaml:"groups"`
}

// Inventory is a synced inventory: how many persistent parties are Ready in any namespace, and the role
// labels of pods by name (a pod it does not list has no role).
type Inventory struct {
	PersistentReady int               `yaml:"persistentReady"`
	Roles           map[string]string `yaml:"roles"`
}

// stub is an Inventory as the engine reads it: synced, whatever the namespace.
type stub struct{ inv *Inventory }

func (s stub) PersistentReady(string) (int, bool) { return s.inv.PersistentReady, true }
func (s stub) Role(_, name string) (string, bool) { return s.inv.Roles[name], true }

// Expect is the decision a case expects. Each given field must match exactly; at least one is given.
type Expect struct {
	// Reviewed false expects the policies not to look at the request (a kind or operation they ignore); left
	// out, a case whose request is not reviewed fails, so that a misspelt kind never passes as an allow.
	Reviewed *bool     `yaml:"reviewed"`
	Allowed  *bool     `yaml:"allowed"`
	Deny     *[]string `yaml:"deny"`
	Warn     *[]string `yaml:"warn"`
	Skipped  *[]string `yaml:"skipped"`
}

func (e Expect) empty() bool {
	return e.Allowed == nil && e.Deny == nil && e.Warn == nil && e.Skipped == nil
}

// Read reads and decodes a suite file strictly: an unknown field is an error naming the file and field.
func Read(path string) (*File, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("%w: %w", ErrSuite, err)
	}
	return Parse(path, filepath.Dir(path), b)
}

// Parse decodes a suite read from path (for messages); policyDir is relative to dir ("" forbids it).
func Parse(path, dir string, data []byte) (*File, error) {
	fail := func(err error) (*File, error) { return nil, fmt.Errorf("%w %s: %w", ErrSuite, path, err) }
	dec := yaml.NewDecoder(bytes.NewReader(data))
	dec.KnownFields(true)
	var f File
	if err := dec.Decode(&f); err != nil {
		if errors.Is(err, io.EOF) {
			return fail(errors.New("empty file"))
		}
		return fail(err)
	}
	var next yaml.Node
	if err := dec.Decode(&next); !errors.Is(err, io.EOF) {
		return fail(errors.New("one suite per file: a second YAML document follows"))
	}
	f.path, f.dir = path, dir
	if len(f.Cases) == 0 {
		return fail(errors.New("no cases"))
	}
	names := map[string]bool{}
	for i, c := range f.Cases {
		at := fmt.Sprintf("cases[%d]", i)
		switch {
		case strings.TrimSpace(c.Name) == "":
			return fail(fmt.Errorf("%s: name is required (a sentence saying what the case shows)", at))
		case names[c.Name]:
			return fail(fmt.Errorf("%s: name %q is used twice", at, c.Name))
		case c.Object.Kind == 0 && c.Request == nil:
			return fail(fmt.Errorf("%s (%s): give an object or a request", at, c.Name))
		case c.Object.Kind != 0 && c.Request != nil:
			return fail(fmt.Errorf("%s (%s): give an object or a request, not both (the request has its own object)", at, c.Name))
		case c.Expect.empty():
			return fail(fmt.Errorf("%s (%s): expect nothing: give allowed, deny, warn, skipped or reviewed", at, c.Name))
		}
		names[c.Name] = true
	}
	return &f, nil
}

// Path is where the suite was read from.
func (f *File) Path() string { return f.path }

// engineConfig builds the engine configuration as the CLI flags do.
func (c Config) engineConfig() (engine.Config, error) {
	cfg := engine.DefaultConfig()
	if c.RoleLabelKey != "" {
		cfg.RoleLabelKey = strings.TrimSpace(c.RoleLabelKey)
	}
	if c.PartySelector != "" {
		sel, err := engine.ParseSelector(c.PartySelector)
		if err != nil {
			return cfg, fmt.Errorf("config.partySelector: %w", err)
		}
		cfg.PartySelector = sel
	}
	switch c.Enforcement.Kind {
	case 0:
	case yaml.ScalarNode:
		enf, err := engine.ParseEnforcement(c.Enforcement.Value, cfg.Enforcement)
		if err != nil {
			return cfg, fmt.Errorf("config.enforcement: %w", err)
		}
		cfg.Enforcement = enf
	case yaml.MappingNode:
		var m map[string]string
		if err := c.Enforcement.Decode(&m); err != nil {
			return cfg, fmt.Errorf("config.enforcement: %w", err)
		}
		parts := make([]string, 0, len(m))
		for id, a := range m {
			parts = append(parts, id+"="+a)
		}
		sort.Strings(parts)
		enf, err := engine.ParseEnforcement(strings.Join(parts, ","), cfg.Enforcement)
		if err != nil {
			return cfg, fmt.Errorf("config.enforcement: %w", err)
		}
		cfg.Enforcement = enf
	default:
		return cfg, fmt.Errorf("config.enforcement: line %d: want {policy-id: deny|warn|off}", c.Enforcement.Line)
	}
	cfg.ShareStorage.SecretNames = engine.Names(c.ShareSecretNames)
	cfg.ShareStorage.ClaimPrefixes = engine.Names(c.ShareClaimPrefixes)
	cfg.PersistentWorkloads = engine.Names(c.PersistentWorkloads)
	if c.ControllerUsers != nil {
		cfg.ControllerUsers = engine.Names(*c.ControllerUsers)
	}
	if c.BreakGlassGroups != nil {
		cfg.BreakGlassGroups = engine.Names(*c.BreakGlassGroups)
	}
	if c.Threshold != nil {
		cfg.Threshold = *c.Threshold
	}
	if errs := cfg.Validate(); len(errs) > 0 {
		return cfg, errs.ToAggregate()
	}
	return cfg, nil
}

// Engine builds the engine the suite's cases run against.
func (f *File) Engine(ctx context.Context) (*engine.Engine, error) {
	fail := func(err error) (*engine.Engine, error) { return nil, fmt.Errorf("%w %s: %w", ErrSuite, f.path, err) }
	cfg, err := f.Config.engineConfig()
	if err != nil {
		return fail(err)
	}
	var mods []policies.Module
	if f.Config.PolicyDir != "" {
		if f.dir == "" {
			return fail(errors.New("config.policyDir: an embedded suite runs the embedded policies"))
		}
		dir := f.Config.PolicyDir
		if !filepath.IsAbs(dir) {
			dir = filepath.Join(f.dir, dir)
		}
		if mods, err = policies.LoadDir(dir); err != nil {
			return fail(fmt.Errorf("config.policyDir: %w", err))
		}
	}
	eng, err := engine.New(ctx, cfg, mods)
	if err != nil {
		return fail(err)
	}
	for i, c := range f.Cases {
		if c.Policy != "" && !eng.Defines(c.Policy) {
			return fail(fmt.Errorf("cases[%d] (%s): policy %q is not defined by the policies (defined: %s)",
				i, c.Name, c.Policy, strings.Join(eng.PolicyIDs(), ", ")))
		}
	}
	return eng, nil
}

// request turns a case into the engine's request and inventory.
func (c Case) request() (engine.Request, engine.Inventory, error) {
	if c.Request == nil {
		js, h, err := objectJSON(&c.Object, "object")
		if err != nil {
			return engine.Request{}, nil, err
		}
		ns := h.Metadata.Namespace
		if ns == "" {
			ns = "default"
		}
		gv, err := schema.ParseGroupVersion(h.APIVersion)
		if err != nil || h.Kind == "" {
			return engine.Request{}, nil, fmt.Errorf("object: apiVersion and kind are required")
		}
		return engine.Request{Operation: engine.Create, Kind: gv.WithKind(h.Kind), Namespace: ns, Object: js}, nil, nil
	}
	r := c.Request
	req := engine.Request{Operation: engine.Operation(r.Operation), Subresource: r.Subresource,
		Namespace: r.Namespace, Name: r.Name, DryRun: r.DryRun}
	if req.Operation == "" {
		req.Operation = engine.Create
	}
	switch req.Operation {
	case engine.Create, engine.Update, engine.Connect, engine.Delete:
	default:
		return req, nil, fmt.Errorf("request.operation %q: want CREATE, UPDATE, CONNECT or DELETE", r.Operation)
	}
	var h header
	if r.Object.Kind != 0 {
		js, oh, err := objectJSON(&r.Object, "request.object")
		if err != nil {
			return req, nil, err
		}
		req.Object, h = js, oh
	}
	if r.OldObject.Kind != 0 {
		js, oh, err := objectJSON(&r.OldObject, "request.oldObject")
		if err != nil {
			return req, nil, err
		}
		req.OldObject = js
		if r.Object.Kind == 0 { // a DELETE carries only the old object
			h = oh
		}
	}
	if r.Kind != nil {
		req.Kind = schema.GroupVersionKind{Group: r.Kind.Group, Version: r.Kind.Version, Kind: r.Kind.Kind}
	} else {
		gv, err := schema.ParseGroupVersion(h.APIVersion)
		if err != nil || h.Kind == "" {
			return req, nil, fmt.Errorf("request: give request.kind, or an object with apiVersion and kind")
		}
		req.Kind = gv.WithKind(h.Kind)
	}
	if req.Namespace == "" {
		req.Namespace = h.Metadata.Namespace
	}
	if req.Name == "" {
		req.Name = h.Metadata.Name
	}
	if r.UserInfo != nil {
		req.User = &engine.User{Username: r.UserInfo.Username, Groups: slices.Clone(r.UserInfo.Groups)}
	}
	if r.Inventory != nil {
		return req, stub{r.Inventory}, nil
	}
	return req, nil, nil
}

// header is the part of an object a request is built from.
type header struct {
	APIVersion string `json:"apiVersion"`
	Kind       string `json:"kind"`
	Metadata   struct {
		Name      string `json:"name"`
		Namespace string `json:"namespace"`
	} `json:"metadata"`
}

// objectJSON converts an inline YAML object to JSON.
func objectJSON(n *yaml.Node, at string) ([]byte, header, error) {
	var h header
	var v any
	if err := n.Decode(&v); err != nil {
		return nil, h, fmt.Errorf("%s: %w", at, err)
	}
	v, err := validate.JSONable(v, at)
	if err != nil {
		return nil, h, err
	}
	js, err := json.Marshal(v)
	if err != nil {
		return nil, h, fmt.Errorf("%s: %w", at, err)
	}
	if _, ok := v.(map[string]any); ok {
		_ = json.Unmarshal(js, &h) // best effort: the engine reports a malformed object with its path
	}
	return js, h, nil
}

// Result is the outcome of one case.
type Result struct {
	Suite, Case string
	Passed      bool
	// Problems says how the decision differs from the expectation, one line each, with the messages.
	Problems []string
}

// Run runs every case of the suite against eng.
func (f *File) Run(ctx context.Context, eng *engine.Engine) []Result {
	out := make([]Result, 0, len(f.Cases))
	for _, c := range f.Cases {
		r := Result{Suite: f.path, Case: c.Name}
		req, inv, err := c.request()
		var d engine.Decision
		if err == nil {
			d, err = eng.Review(ctx, req, inv)
		}
		if err != nil {
			r.Problems = []string{"error: " + err.Error()}
		} else {
			r.Problems = compare(c.Expect, d)
			if want := c.Expect.Reviewed == nil || *c.Expect.Reviewed; want != d.Reviewed {
				p := fmt.Sprintf("reviewed: expected %t, got %t", want, d.Reviewed)
				if !d.Reviewed {
					p += fmt.Sprintf(" (the policies review no %s %s %s)", req.Operation, req.Kind.GroupVersion(), req.Kind.Kind)
				}
				r.Problems = append([]string{p}, r.Problems...)
			}
		}
		r.Passed = len(r.Problems) == 0
		out = append(out, r)
	}
	return out
}

// compare returns how d differs from e.
func compare(e Expect, d engine.Decision) []string {
	var out []string
	if e.Allowed != nil && *e.Allowed != d.Allowed() {
		out = append(out, fmt.Sprintf("allowed: expected %t, got %t", *e.Allowed, d.Allowed()))
		if !d.Allowed() && e.Deny == nil {
			out = append(out, messages(d.Deny)...)
		}
	}
	for _, l := range []struct {
		name string
		want *[]string
		got  []engine.Result
	}{{"deny", e.Deny, d.Deny}, {"warn", e.Warn, d.Warn}, {"skipped", e.Skipped, d.Skipped}} {
		if l.want == nil {
			continue
		}
		want, got := idSet(*l.want), ids(l.got)
		if !slices.Equal(want, got) {
			out = append(out, fmt.Sprintf("%s: expected [%s], got [%s]", l.name, strings.Join(want, " "), strings.Join(got, " ")))
			out = append(out, messages(l.got)...)
		}
	}
	return out
}

func messages(rs []engine.Result) []string {
	out := make([]string, 0, len(rs))
	for _, r := range rs {
		out = append(out, "  "+r.Message)
	}
	return out
}

func idSet(ss []string) []string {
	out := slices.Clone(ss)
	slices.Sort(out)
	return slices.Compact(out)
}

func ids(rs []engine.Result) []string {
	out := make([]string, 0, len(rs))
	for _, r := range rs {
		out = append(out, r.Policy)
	}
	return idSet(out)
}

// Load reads the suites at paths: files, and the *.yaml and *.yml files directly in directories, sorted.
func Load(paths []string) ([]*File, error) {
	var files []*File
	for _, p := range paths {
		info, err := os.Stat(p)
		if err != nil {
			return nil, fmt.Errorf("%w: %w", ErrSuite, err)
		}
		names := []string{p}
		if info.IsDir() {
			names = nil
			for _, pat := range []string{"*.yaml", "*.yml"} {
				m, _ := filepath.Glob(filepath.Join(p, pat))
				names = append(names, m...)
			}
			sort.Strings(names)
			if len(names) == 0 {
				return nil, fmt.Errorf("%w: %s: no suite files (*.yaml, *.yml)", ErrSuite, p)
			}
		}
		for _, n := range names {
			f, err := Read(n)
			if err != nil {
				return nil, err
			}
			files = append(files, f)
		}
	}
	return files, nil
}

// LoadFS reads the *.yaml suites at the top of fsys (the embedded suite), naming them prefix/<file>.
func LoadFS(fsys fs.FS, prefix string) ([]*File, error) {
	names, err := fs.Glob(fsys, "*.yaml")
	if err != nil {
		return nil, fmt.Errorf("%w: %w", ErrSuite, err)
	}
	sort.Strings(names)
	var files []*File
	for _, n := range names {
		b, err := fs.ReadFile(fsys, n)
		if err != nil {
			return nil, fmt.Errorf("%w: %w", ErrSuite, err)
		}
		f, err := Parse(prefix+"/"+n, "", b)
		if err != nil {
			return nil, err
		}
		files = append(files, f)
	}
	if len(files) == 0 {
		return nil, fmt.Errorf("%w: no embedded suite files", ErrSuite)
	}
	return files, nil
}

// Summary counts results.
func Summary(results []Result) (passed, failed int) {
	for _, r := range results {
		if r.Passed {
			passed++
		} else {
			failed++
		}
	}
	return passed, failed
}

// Write prints one line per case (PASS or FAIL, the suite and the case's name), the problems of a failed case
// indented below it, and the summary line "N passed, N failed".
func Write(w io.Writer, results []Result) error {
	var b strings.Builder
	for _, r := range results {
		status := "PASS"
		if !r.Passed {
			status = "FAIL"
		}
		fmt.Fprintf(&b, "%s %s: %s\n", status, r.Suite, r.Case)
		for _, p := range r.Problems {
			fmt.Fprintf(&b, "    %s\n", p)
		}
	}
	p, f := Summary(results)
	fmt.Fprintf(&b, "%d passed, %d failed\n", p, f)
	_, err := io.WriteString(w, b.String())
	return err
}
