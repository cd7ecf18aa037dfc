package engine

import (
	"sync"

	"github.com/open-policy-agent/opa/v1/ast"
)

// Strings recur from one object to the next — label keys and values, claim and secret names — so the input
// adapter shares one immutable term per string instead of allocating a term for each (OPA's own interned terms
// are shared the same way; evaluation never modifies input terms). The table is bounded: when it is full it
// starts over, so one-off values (pod names, hashes) cannot grow it without limit.
type internTable struct {
	mu sync.RWMutex
	m  map[string]*ast.Term
}

// maxInterned bounds the table: 4096 short strings are a few hundred KiB.
const maxInterned = 4096

var interned = internTable{m: make(map[string]*ast.Term, maxInterned)}

// term returns the string term for b, without allocating when b has been seen.
func (t *internTable) term(b []byte) *ast.Term {
	t.mu.RLock()
	x := t.m[string(b)] // no allocation: the compiler looks the bytes up as they are
	t.mu.RUnlock()
	if x != nil {
		return x
	}
	return t.add(string(b))
}

// termOf is term for a string already in hand.
func (t *internTable) termOf(s string) *ast.Term {
	t.mu.RLock()
	x := t.m[s]
	t.mu.RUnlock()
	if x != nil {
		return x
	}
	return t.add(s)
}

// add makes s's term and keeps it, starting the table over when it is full.
func (t *internTable) add(s string) *ast.Term {
	x := ast.StringTerm(s)
	t.mu.Lock()
	if len(t.m) >= maxInterned {
		clear(t.m)
	}
	t.m[s] = x
	t.mu.Unlock()
	return x
}

func init() {
	// The keys of every input and the values of its fixed fields join OPA's own interned terms, which item
	// and ast.InternedTerm return without allocating.
	ast.InternStringTerm("pod", "old_pod", "template", "labels", "claims", "secrets", "session", "inventory",
		"available", "persistent_ready", "operation", "kind", "namespace", "name", "dry_run", "type", "threshold",
		"composition", "persistent", "delegate", "temporary", "t", "n",
		string(Create), string(Update), "Pod", "Deployment", "StatefulSet", "ReplicaSet", "DaemonSet", "Job",
		"CronJob", "MPCSession")
}
