package engine

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"

	"github.com/open-policy-agent/opa/v1/ast"
	"k8s.io/apimachinery/pkg/runtime/schema"

	"github.com/mpcguard/mpcguard/internal/api/v1alpha1"
)

// Sentinel errors of the input adapter; wrapped with the details.
var (
	// ErrDecode means the object's JSON could not be read as the kind it claims to be.
	ErrDecode = errors.New("cannot decode object")
	// ErrNoObject means a CREATE or UPDATE came without an object.
	ErrNoObject = errors.New("request has no object")
)

// Operation is an admission operation.
type Operation string

// The admission operations.
const (
	Create  Operation = "CREATE"
	Update  Operation = "UPDATE"
	Delete  Operation = "DELETE"
	Connect Operation = "CONNECT"
)

// Request is one object to review: what an AdmissionRequest carries, or one document of a manifest.
type Request struct {
	Operation Operation
	// Kind is the object's group, version and kind.
	Kind schema.GroupVersionKind
	// Namespace is the request's namespace; when empty, the object's own metadata.namespace is used.
	Namespace string
	// Name is the request's name, used when the object's metadata.name is empty (before generateName + "*").
	Name      string
	DryRun    bool
	Object    []byte // JSON
	OldObject []byte // JSON, UPDATE only
}

// kindClass says which part of the input an object fills.
type kindClass int

const (
	classNone kindClass = iota
	classPod
	classWorkload
	classSession
)

// reviewed are the kinds the policies look at; everything else is allowed untouched.
var reviewed = map[schema.GroupVersionKind]kindClass{
	{Group: "", Version: "v1", Kind: "Pod"}:             classPod,
	{Group: "apps", Version: "v1", Kind: "Deployment"}:  classWorkload,
	{Group: "apps", Version: "v1", Kind: "StatefulSet"}: classWorkload,
	{Group: "apps", Version: "v1", Kind: "ReplicaSet"}:  classWorkload,
	{Group: "apps", Version: "v1", Kind: "DaemonSet"}:   classWorkload,
	{Group: "batch", Version: "v1", Kind: "Job"}:        classWorkload,
	{Group: "batch", Version: "v1", Kind: "CronJob"}:    classWorkload,
	v1alpha1.GroupVersion.WithKind(v1alpha1.Kind):       classSession,
}

// Reviewed reports whether the policies look at objects of this kind.
func Reviewed(gvk schema.GroupVersionKind) bool { return reviewed[gvk] != classNone }

// ReviewedKinds lists the kinds the policies look at.
func ReviewedKinds() []schema.GroupVersionKind {
	out := make([]schema.GroupVersionKind, 0, len(reviewed))
	for k := range reviewed {
		out = append(out, k)
	}
	return out
}

// objectMeta is the metadata the policies read.
type objectMeta struct {
	Name         string            `json:"name"`
	GenerateName string            `json:"generateName"`
	Namespace    string            `json:"namespace"`
	Labels       map[string]string `json:"labels"`
	// labels are the labels as a term, read by the fastjson reader (pods and workloads); nil when absent.
	labels *ast.Term
}

// podShape is what the policies read of a pod or a pod template: its metadata and the share storage it could
// mount — PersistentVolumeClaim names, and Secret names of secret volumes, projected secret sources and the
// containers' env secretKeyRef and envFrom secretRef.
type podShape struct {
	meta            objectMeta
	claims, secrets []string
}

// workloadShape is what the policies read of a workload: its metadata and its pod template (nil when none).
type workloadShape struct {
	meta     objectMeta
	template *podShape
}

type sessionObject struct {
	Metadata objectMeta      `json:"metadata"`
	Spec     json.RawMessage `json:"spec"`
}

// buildInput turns a request into the policy input (policies/README.md). It returns a nil value for kinds the
// policies do not look at and for operations they ignore.
func buildInput(req Request, inv Inventory) (ast.Value, error) {
	class := reviewed[req.Kind]
	if class == classNone || (req.Operation != Create && req.Operation != Update) {
		return nil, nil
	}
	if len(bytes.TrimSpace(req.Object)) == 0 {
		return nil, fmt.Errorf("%s %s: %w", req.Operation, req.Kind.Kind, ErrNoObject)
	}
	kind := req.Kind.Kind
	items := make([][2]*ast.Term, 0, 8)
	var meta objectMeta
	switch class {
	case classPod:
		pod, err := readPod(req.Object)
		if err != nil {
			return nil, decodeError(kind, "object", err)
		}
		meta = pod.meta
		items = append(items, item("pod", podTerm(pod)))
		if req.Operation == Update && len(bytes.TrimSpace(req.OldObject)) > 0 {
			old, err := readPod(req.OldObject)
			if err != nil {
				return nil, decodeError(kind, "oldObject", err)
			}
			items = append(items, item("old_pod", ast.ObjectTerm(item("labels", labelsOrEmpty(old.meta.labels)))))
		}
	case classWorkload:
		w, err := readWorkload(req.Object)
		if err != nil {
			return nil, decodeError(kind, "object", err)
		}
		meta = w.meta
		if w.template != nil {
			items = append(items, item("template", podTerm(*w.template)))
		}
	case classSession:
		var s sessionObject
		if err := json.Unmarshal(req.Object, &s); err != nil {
			return nil, decodeError(kind, "object", err)
		}
		meta = s.Metadata
		st, err := sessionTerm(s.Spec)
		if err != nil {
			return nil, decodeError(kind, "spec", err)
		}
		items = append(items, item("session", st))
		ready, ok := 0, false
		if inv != nil {
			ready, ok = inv.PersistentReady(namespaceOf(req, meta))
		}
		items = append(items, item("inventory", ast.ObjectTerm(
			item("available", ast.BooleanTerm(ok)),
			item("persistent_ready", ast.IntNumberTerm(ready)),
		)))
	}
	items = append(items,
		item("operation", ast.InternedTerm(string(req.Operation))),
		item("kind", ast.InternedTerm(kind)),
		item("namespace", ast.StringTerm(namespaceOf(req, meta))),
		item("name", ast.StringTerm(nameOf(req, meta))),
		item("dry_run", ast.BooleanTerm(req.DryRun)),
	)
	return ast.NewObject(items...), nil
}

func decodeError(kind, part string, err error) error {
	return fmt.Errorf("%w: %s %s: %w", ErrDecode, kind, part, err)
}

func namespaceOf(req Request, meta objectMeta) string {
	if req.Namespace != "" {
		return req.Namespace
	}
	return meta.Namespace
}

func nameOf(req Request, meta objectMeta) string {
	switch {
	case meta.Name != "":
		return meta.Name
	case req.Name != "":
		return req.Name
	case meta.GenerateName != "":
		return meta.GenerateName + "*"
	}
	return ""
}

func item(k string, v *ast.Term) [2]*ast.Term { return [2]*ast.Term{ast.InternedTerm(k), v} }

func labelsOrEmpty(t *ast.Term) *ast.Term {
	if t == nil {
		return ast.ObjectTerm()
	}
	return t
}

func stringsTerm(ss []string) *ast.Term {
	terms := make([]*ast.Term, len(ss))
	for i, s := range ss {
		terms[i] = interned.termOf(s)
	}
	return ast.ArrayTerm(terms...)
}

func podTerm(p podShape) *ast.Term {
	return ast.ObjectTerm(
		item("labels", labelsOrEmpty(p.meta.labels)),
		item("claims", stringsTerm(p.claims)),
		item("secrets", stringsTerm(p.secrets)),
	)
}

// sessionTerm decodes an MPCSession spec strictly (an unknown field is an error, as the API server's
// structural schema would prune or reject it) and keeps the composition absent when the spec has none.
func sessionTerm(raw json.RawMessage) (*ast.Term, error) {
	var spec v1alpha1.MPCSessionSpec
	if len(bytes.TrimSpace(raw)) > 0 && !bytes.Equal(bytes.TrimSpace(raw), []byte("null")) {
		dec := json.NewDecoder(bytes.NewReader(raw))
		dec.DisallowUnknownFields()
		if err := dec.Decode(&spec); err != nil {
			return nil, err
		}
	}
	items := []([2]*ast.Term){
		item("type", ast.StringTerm(string(spec.Type))),
		item("threshold", ast.ObjectTerm(
			item("t", ast.IntNumberTerm(int(spec.Threshold.T))),
			item("n", ast.IntNumberTerm(int(spec.Threshold.N))),
		)),
	}
	if c := spec.Composition; c != nil {
		items = append(items, item("composition", ast.ObjectTerm(
			item("persistent", ast.IntNumberTerm(int(c.Persistent))),
			item("delegate", ast.IntNumberTerm(int(c.Delegate))),
			item("temporary", ast.IntNumberTerm(int(c.Temporary))),
		)))
	}
	return ast.ObjectTerm(items...), nil
}
