package audit

import (
	"context"
	"fmt"

	"k8s.io/apimachinery/pkg/types"

	"github.com/mpcguard/mpcguard/internal/validate"
	"github.com/mpcguard/mpcguard/policies/engine"
)

// Ref names an audited object for a report: what openreports' results[].resources hold.
type Ref struct {
	APIVersion string
	Kind       string
	Namespace  string
	Name       string
	UID        types.UID
}

// Result is an audit: a validate.Report (so validate's writers print it, and its exit codes apply) whose
// objects name no file — Source is empty and Document 0 — and, aligned with Report.Objects, their references.
type Result struct {
	validate.Report
	Refs []Ref
	// Namespaces are the audited namespaces (empty: every namespace).
	Namespaces []string
}

// Evaluate reviews every object of the snapshot as a CREATE with the engine and the inventory (nil: the
// checks that need it are reported as skipped). The requester is unknown for an existing object, so the
// checks that need one are skipped too, as validate skips them.
func Evaluate(ctx context.Context, eng *engine.Engine, inv engine.Inventory, snap Snapshot) Result {
	res := Result{Report: validate.Report{Errors: snap.Errors, Skipped: snap.Skipped}, Namespaces: snap.Namespaces}
	for _, it := range snap.Items {
		obj := it.Object
		raw, err := obj.MarshalJSON()
		if err == nil {
			var d engine.Decision
			d, err = eng.Review(ctx, engine.Request{Operation: engine.Create, Kind: it.Kind.GVK(),
				Namespace: obj.GetNamespace(), Name: obj.GetName(), Object: raw}, inv)
			if err == nil {
				res.Objects = append(res.Objects, validate.Object{Kind: it.Kind.Kind, Namespace: obj.GetNamespace(),
					Name: obj.GetName(), Decision: d})
				res.Refs = append(res.Refs, Ref{APIVersion: it.Kind.GroupVersion().String(), Kind: it.Kind.Kind,
					Namespace: obj.GetNamespace(), Name: obj.GetName(), UID: obj.GetUID()})
				continue
			}
		}
		res.Errors = append(res.Errors, &validate.InputError{
			Source: fmt.Sprintf("%s %s/%s", it.Kind.Kind, obj.GetNamespace(), obj.GetName()),
			Err:    fmt.Errorf("evaluating: %w", err)})
	}
	for _, e := range append(res.Errors, res.Warnings...) {
		e.Message = e.Error()
	}
	return res
}

// Violations counts the denials and warnings (the policies violated, whatever their enforcement).
func (r Result) Violations() int {
	n := 0
	for _, o := range r.Objects {
		n += len(o.Deny) + len(o.Warn)
	}
	return n
}
