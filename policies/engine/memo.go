package engine

import (
	"fmt"
	"slices"
	"strconv"
	"sync"
	"sync/atomic"

	"github.com/open-policy-agent/opa/v1/ast"

	"github.com/mpcguard/mpcguard/policies/vocab"
)

// Memoisation. A class's violations are a function of the input fields its modules read and of the
// configuration, nothing else: the engine's store holds only the configuration, fixed for its life, and a class
// whose modules call a non-deterministic built-in (time, randomness, the network) is never memoised. So the
// engine keys each class's violations by the *reduced* input — only the top-level input fields that class's
// modules can read, found by reading the compiled modules (memoKeys) — and answers a repeated reduced input
// from a bounded LRU instead of evaluating again. Identical party pods of one template differ in name only;
// the pod modules never read input.name, so they share one evaluation, and the object's name is put in front
// of each message afterwards, in Go, per request. Inventory answers (a namespace's Ready persistent parties, a
// CONNECT target's role) are input fields, so they are part of the key: a changed inventory is a different
// key, never a stale entry. Rego stays the source of truth: a policy that starts reading input.name makes name
// part of the key on the next start, and tests hold the memoised engine to the plain one.

// DefaultCacheSize is the number of memoised decisions an engine keeps unless told otherwise (WithCacheSize):
// a few thousand distinct reduced inputs, well under a MiB each of keys and results.
const DefaultCacheSize = 4096

// Option changes how New prepares an engine.
type Option func(*options)

type options struct{ cacheSize int }

// WithCacheSize bounds the memoised decisions at n reduced inputs; 0 turns memoisation off, so every review is
// evaluated (the plain road that tests compare the memoised one with).
func WithCacheSize(n int) Option { return func(o *options) { o.cacheSize = max(n, 0) } }

// CacheStats counts the reviews answered from memoised decisions (Hits) and evaluated (Misses; reviews of
// classes that are never memoised count as neither).
type CacheStats struct{ Hits, Misses uint64 }

// CacheStats returns the engine's counters since New.
func (e *Engine) CacheStats() CacheStats {
	if e.memo == nil {
		return CacheStats{}
	}
	return CacheStats{Hits: e.memo.hits.Load(), Misses: e.memo.misses.Load()}
}

// violation is one bare violation as the modules return it, before the enforcement and the object's name.
type violation struct {
	policy, detail  string
	skipped, notice bool
}

// memo is a bounded LRU of violation lists keyed by the text of a reduced input, safe for concurrent use. The
// key is the reduced input's full canonical text (objects and sets print their keys sorted), compared exactly,
// so two inputs share an entry only when the policies cannot tell them apart.
type memo struct {
	size         int
	hits, misses atomic.Uint64

	mu         sync.Mutex
	m          map[string]*memoEntry
	head, tail *memoEntry // head most recently used
}

type memoEntry struct {
	key        string
	vs         []violation
	prev, next *memoEntry
}

func newMemo(size int) *memo { return &memo{size: size, m: make(map[string]*memoEntry, size)} }

// get returns the violations memoised for key; key may be a byte slice's transient string view.
func (c *memo) get(key []byte) ([]violation, bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	x := c.m[string(key)] // no allocation for the lookup
	if x == nil {
		return nil, false
	}
	c.unlink(x)
	c.pushFront(x)
	return x.vs, true
}

// put memoises vs under key, evicting the least recently used entry when full.
func (c *memo) put(key []byte, vs []violation) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if x := c.m[string(key)]; x != nil {
		x.vs = vs
		c.unlink(x)
		c.pushFront(x)
		return
	}
	if len(c.m) >= c.size && c.tail != nil {
		old := c.tail
		c.unlink(old)
		delete(c.m, old.key)
	}
	x := &memoEntry{key: string(key), vs: vs}
	c.m[x.key] = x
	c.pushFront(x)
}

func (c *memo) unlink(x *memoEntry) {
	if x.prev != nil {
		x.prev.next = x.next
	} else {
		c.head = x.next
	}
	if x.next != nil {
		x.next.prev = x.prev
	} else {
		c.tail = x.prev
	}
	x.prev, x.next = nil, nil
}

func (c *memo) pushFront(x *memoEntry) {
	x.next = c.head
	if c.head != nil {
		c.head.prev = x
	}
	c.head = x
	if c.tail == nil {
		c.tail = x
	}
}

// keyBuffers recycles the buffers reduced inputs are printed into.
var keyBuffers = sync.Pool{New: func() any { b := make([]byte, 0, 1024); return &b }}

// appendKey writes the fields of in that keys names (sorted) into buf: the reduced input's canonical form.
func appendKey(buf []byte, in ast.Object, keys []string) ([]byte, error) {
	w := keyWriter{buf: buf}
	for _, k := range keys {
		w.buf = appendString(w.buf, k)
		if t := in.Get(ast.InternedTerm(k)); t != nil {
			w.value(t.Value)
		} else {
			w.buf = append(w.buf, '-') // absent, which no value's form begins with
		}
	}
	return w.buf, w.err
}

// keyWriter writes values' canonical forms: a type letter, then strings and numbers length-prefixed, arrays,
// objects and sets counted, object keys and set elements in ast's sorted order. Distinct forms are distinct
// values, so equal forms mean equal inputs (unlike a hash, the form itself is the key).
type keyWriter struct {
	buf []byte
	err error
}

func (w *keyWriter) value(v ast.Value) {
	switch v := v.(type) {
	case ast.Null:
		w.buf = append(w.buf, 'z')
	case ast.Boolean:
		if v {
			w.buf = append(w.buf, 't')
		} else {
			w.buf = append(w.buf, 'f')
		}
	case ast.String:
		w.buf = appendString(append(w.buf, 's'), string(v))
	case ast.Number:
		w.buf = appendString(append(w.buf, 'n'), string(v))
	case *ast.Array:
		w.buf = strconv.AppendInt(append(w.buf, 'a'), int64(v.Len()), 10)
		for i := range v.Len() {
			w.value(v.Elem(i).Value)
		}
	case ast.Object:
		w.buf = strconv.AppendInt(append(w.buf, 'o'), int64(v.Len()), 10)
		v.Foreach(func(k, x *ast.Term) {
			w.value(k.Value)
			w.value(x.Value)
		})
	case ast.Set:
		w.buf = strconv.AppendInt(append(w.buf, 'e'), int64(v.Len()), 10)
		v.Foreach(func(x *ast.Term) { w.value(x.Value) })
	default:
		// The input adapter builds only the values above; anything else is never memoised.
		if w.err == nil {
			w.err = fmt.Errorf("cannot key a %T input value", v)
		}
	}
}

// appendString writes s length-prefixed: "<len>:<bytes>".
func appendString(buf []byte, s string) []byte {
	buf = strconv.AppendInt(buf, int64(len(s)), 10)
	buf = append(buf, ':')
	return append(buf, s...)
}

// memoKeys reads the compiled modules and returns the top-level input fields the modules of a class can read,
// sorted, and whether the class may be memoised at all. It is conservative: any use of input it does not
// recognise as a lookup of a constant field — input[x], `x := input`, `with input as`, input handed to a
// built-in other than object.get with a constant key — makes it give up (ok false), as does a call of a
// non-deterministic built-in or a reference to a package outside the class and the helpers, whose reads it
// does not follow.
func memoKeys(c *ast.Compiler, class vocab.Class) (keys []string, ok bool) {
	keys, why := memoKeysWhy(c, class)
	return keys, why == ""
}

// memoKeysWhy is memoKeys that says why it gave up ("" when it did not).
func memoKeysWhy(c *ast.Compiler, class vocab.Class) ([]string, string) {
	a := &inputReads{c: c, class: string(class), keys: map[string]bool{}, ok: true, done: map[*ast.Rule]map[ast.Var]bool{}}
	own := ast.MustParseRef("data.mpcguard." + string(class))
	lib := ast.MustParseRef("data.mpcguard.lib")
	for _, m := range c.Modules {
		if p := m.Package.Path; !p.HasPrefix(own) && !p.HasPrefix(lib) {
			continue
		}
		for _, r := range m.Rules {
			for x := r; x != nil; x = x.Else {
				a.rule(x, ast.Var("input"), 0)
			}
		}
	}
	if !a.ok {
		return nil, a.why
	}
	keys := make([]string, 0, len(a.keys))
	for k := range a.keys {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	return keys, ""
}

// inputReads follows one root variable (input, or a function's parameter that input was passed to) through
// rules, counting its occurrences and the ones it understands; any it does not understand clears ok.
type inputReads struct {
	c     *ast.Compiler
	class string
	keys  map[string]bool
	ok    bool
	why   string                         // the first use that made it give up
	done  map[*ast.Rule]map[ast.Var]bool // roots already followed through a rule
}

// rule follows root through one rule's head and body (not its else branches, whose parameters are their own).
// declared is how many of root's occurrences declare it: 1 for a function's parameter (in the head) or a local
// the compiler assigned input to (`__local1__ = input`, which it writes for each call with input as an
// argument), 0 for input itself.
func (a *inputReads) rule(r *ast.Rule, root ast.Var, declared int) {
	if a.done[r] == nil {
		a.done[r] = map[ast.Var]bool{}
	}
	if a.done[r][root] {
		return
	}
	a.done[r][root] = true
	seen, known := 0, declared
	var aliases []ast.Var
	visit := func(x any) bool {
		switch x := x.(type) {
		case ast.Var:
			if x.Equal(root) {
				seen++
			}
		case ast.Ref:
			// input.f, or p.f for a parameter p that input was passed as: a read of the field f.
			if len(x) >= 2 && x[0].Value.Compare(root) == 0 {
				if s, isStr := x[1].Value.(ast.String); isStr {
					a.keys[string(s)] = true
					known++
				}
			}
			a.checkData(x)
		case *ast.Expr:
			if !x.IsCall() {
				break
			}
			ops := x.Operands()
			if op := x.Operator().String(); (op == "eq" || op == "assign") && len(ops) == 2 {
				for i := range 2 {
					if v, isVar := ops[1-i].Value.(ast.Var); isVar && isRoot(ops[i], root) && !v.Equal(root) && !v.IsWildcard() {
						aliases = append(aliases, v)
						known++
					}
				}
				break
			}
			known += a.call(x.Operator(), ops, root)
		case ast.Call:
			if len(x) > 0 {
				if op, isRef := x[0].Value.(ast.Ref); isRef {
					known += a.call(op, x[1:], root)
				}
			}
		}
		return false
	}
	ast.NewGenericVisitor(visit).Walk(r.Head)
	ast.NewGenericVisitor(visit).Walk(r.Body)
	for _, v := range aliases {
		a.rule(r, v, 1)
	}
	if seen != known {
		a.giveUp(fmt.Sprintf("%s: %d of %d uses of %s are not reads of a constant field", r.Location, seen-known, seen, root))
	}
}

// call handles one call and returns how many of root's bare occurrences among its arguments it understood.
func (a *inputReads) call(op ast.Ref, args []*ast.Term, root ast.Var) int {
	name := op.String()
	if b := ast.BuiltinMap[name]; b != nil && b.Nondeterministic {
		a.giveUp(name + " is not deterministic")
	}
	known := 0
	for i, arg := range args {
		if !isRoot(arg, root) {
			continue
		}
		switch {
		case name == "object.get" && i == 0 && len(args) >= 2:
			if k, isKey := constantKey(args[1]); isKey {
				a.keys[k] = true
				known++
			}
		case op.HasPrefix(ast.DefaultRootRef):
			// A function of the policies: follow the parameter that root was passed as.
			rules := a.c.GetRulesExact(op)
			if len(rules) == 0 {
				continue
			}
			for _, r := range rules {
				for x := r; x != nil; x = x.Else {
					if i >= len(x.Head.Args) {
						a.giveUp(fmt.Sprintf("%s: %s has no argument %d", x.Location, name, i))
						continue
					}
					p, isVar := x.Head.Args[i].Value.(ast.Var)
					if !isVar {
						a.giveUp(fmt.Sprintf("%s: %s's argument %d is a pattern", x.Location, name, i))
						continue
					}
					a.rule(x, p, 1)
				}
			}
			known++
		}
	}
	return known
}

// checkData gives up on references to data outside the configuration, the helpers and the classes' own
// packages whose reads of input are followed (memoKeys covers the class and data.mpcguard.lib).
func (a *inputReads) checkData(r ast.Ref) {
	if !r[0].Equal(ast.DefaultRootDocument) {
		return
	}
	if len(r) < 3 || r[1].Value.Compare(ast.String("mpcguard")) != 0 {
		a.giveUp("reads " + r.String())
		return
	}
	s, isStr := r[2].Value.(ast.String)
	if !isStr {
		a.giveUp("reads " + r.String())
		return
	}
	// The class's own package and the helpers are walked; main and the other classes' packages are not, so a
	// reference to them gives up.
	if s != "config" && s != "lib" && string(s) != a.class {
		a.giveUp("reads " + r.String())
	}
}

func (a *inputReads) giveUp(why string) {
	if a.ok {
		a.ok, a.why = false, why
	}
}

// isRoot reports whether t is the bare root: the variable, or (input) the reference of length one.
func isRoot(t *ast.Term, root ast.Var) bool {
	switch v := t.Value.(type) {
	case ast.Var:
		return v.Equal(root)
	case ast.Ref:
		return len(v) == 1 && v[0].Value.Compare(root) == 0
	}
	return false
}

// constantKey reads object.get's key argument: a string, or a path whose first element is a string.
func constantKey(t *ast.Term) (string, bool) {
	switch v := t.Value.(type) {
	case ast.String:
		return string(v), true
	case *ast.Array:
		if v.Len() > 0 {
			if s, ok := v.Elem(0).Value.(ast.String); ok {
				return string(s), true
			}
		}
	}
	return "", false
}
