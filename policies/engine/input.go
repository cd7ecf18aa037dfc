package engine

import (
	"errors"
	"fmt"
	"slices"

	"github.com/open-policy-agent/opa/v1/ast"
	"github.com/valyala/fastjson"
	"k8s.io/apimachinery/pkg/runtime/schema"
	utilnet "k8s.io/apimachinery/pkg/util/net"

	"github.com/mpcguard/mpcguard/policies/vocab"
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
	// Kind is the object's group, version and kind (request.kind: for pods/exec, PodExecOptions).
	Kind schema.GroupVersionKind
	// Subresource is the request's subresource ("status", "ephemeralcontainers", "binding", "exec", ...).
	Subresource string
	// Namespace is the request's namespace; when empty, the object's own metadata.namespace is used.
	Namespace string
	// Name is the request's name, used when the object's metadata.name is empty (before generateName + "*").
	Name   string
	DryRun bool
	// User is who sends the request; nil offline, where the checks that need it are reported as skipped.
	User      *User
	Object    []byte // JSON
	OldObject []byte // JSON, UPDATE only
	// ObjectValue and OldObjectValue are Object and OldObject already parsed, for a caller that read them as
	// part of a larger document (the webhook reads the whole AdmissionReview once): a value, when set, is
	// read instead of the bytes. They must stay valid until Review returns.
	ObjectValue, OldObjectValue *fastjson.Value
}

// User is the requesting identity (request.userInfo).
type User struct {
	Username string
	Groups   []string
}

// Reviewed reports whether the policies look at objects of this kind.
func Reviewed(gvk schema.GroupVersionKind) bool { return classOf(gvk) != "" }

// ReviewedOperation reports whether the policies look at this operation on objects of this kind: Review
// answers every other request with a zero Decision at once.
func ReviewedOperation(gvk schema.GroupVersionKind, op Operation) bool { return reviews(gvk, op) != "" }

// reviews returns the class of a kind when the policies review the operation on it, and "" otherwise:
// CONNECT for the connect kinds only, DELETE for the deletion kinds only, and CREATE and UPDATE for the rest
// (UPDATE only for a Scale, never for a Secret).
func reviews(gvk schema.GroupVersionKind, op Operation) vocab.Class {
	class := classOf(gvk)
	switch {
	case class == "":
	case class == vocab.ClassConnect:
		if op == Connect {
			return class
		}
	case op == Delete:
		if slices.Contains(deletionKinds, gvk.Kind) {
			return class
		}
	case gvk.Kind == "Secret", // only its DELETE is reviewed
		gvk.Kind == vocab.ScaleKind && op != Update,
		op != Create && op != Update:
	default:
		return class
	}
	return ""
}

func classOf(gvk schema.GroupVersionKind) vocab.Class {
	return vocab.ClassOf(gvk.Group, gvk.Version, gvk.Kind)
}

// objectMeta is the metadata the policies read.
type objectMeta struct {
	Name         string
	GenerateName string
	Namespace    string
	// labels are the labels as a term; nil when absent.
	labels *ast.Term
}

// podShape is what the policies read of a pod or a pod template: its metadata and what could reach share
// storage — PersistentVolumeClaim names, Secret names (secret volumes, projected sources, volume drivers'
// secret references, the containers' env secretKeyRef and envFrom secretRef), hostPath paths, and the data
// sources of its generic ephemeral volumes (and a StatefulSet's volumeClaimTemplates).
type podShape struct {
	meta                       objectMeta
	claims, secrets, hostPaths []string
	clones                     []dataSource
	ephemeral                  int        // ephemeral containers
	owner                      dataSource // the controller owner (pods only)
}

// workloadShape is what the policies read of a workload: its metadata and its pod template (nil when none).
type workloadShape struct {
	meta     objectMeta
	template *podShape
}

// buildInput turns a request into the policy input (policies/README.md). It returns a nil value for kinds the
// policies do not look at and for operations they ignore.
func buildInput(req Request, inv Inventory) (ast.Value, vocab.Class, error) {
	class := reviews(req.Kind, req.Operation)
	switch {
	case class == "":
		return nil, "", nil
	case req.Operation == Delete:
		return deletionInput(req, class)
	}
	kind := req.Kind.Kind
	obj := doc{raw: req.Object, v: req.ObjectValue}
	if class != vocab.ClassConnect && obj.empty() {
		return nil, "", fmt.Errorf("%s %s: %w", req.Operation, kind, ErrNoObject)
	}
	old := &doc{raw: req.OldObject, v: req.OldObjectValue}
	if req.Operation != Update || old.empty() {
		old = nil
	}
	items := make([][2]*ast.Term, 0, 12)
	var meta objectMeta
	var err error
	switch class {
	case vocab.ClassPod:
		var pod podShape
		if pod, err = readPod(obj); err != nil {
			return nil, "", decodeError(kind, "object", err)
		}
		meta = pod.meta
		items = append(items, item("pod", podTerm(pod)))
		if old != nil {
			prev, err := readPod(*old)
			if err != nil {
				return nil, "", decodeError(kind, "oldObject", err)
			}
			items = append(items, item("old_pod", podTerm(prev)))
		}
	case vocab.ClassWorkload:
		if kind != vocab.ScaleKind {
			w, err := readWorkload(obj)
			if err != nil {
				return nil, "", decodeError(kind, "object", err)
			}
			meta = w.meta
			if w.template != nil {
				items = append(items, item("template", podTerm(*w.template)))
			}
		}
		// The persistent pool's size (persistent-quorum): a StatefulSet's spec.replicas, or its scale
		// subresource's, and on UPDATE the size it had.
		if kind == "StatefulSet" || kind == vocab.ScaleKind {
			m, n, err := readReplicas(obj, kind)
			if err != nil {
				return nil, "", decodeError(kind, "object", err)
			}
			meta = m
			items = append(items, item("replicas", ast.IntNumberTerm(n)))
			if old != nil {
				_, prev, err := readReplicas(*old, kind)
				if err != nil {
					return nil, "", decodeError(kind, "oldObject", err)
				}
				items = append(items, item("old_replicas", ast.IntNumberTerm(prev)))
			}
		}
	case vocab.ClassSession:
		m, spec, err := readSession(obj)
		if err != nil {
			return nil, "", decodeError(kind, "object", err)
		}
		meta = m
		if spec != nil {
			items = append(items, item("session", spec))
		}
		if old != nil {
			_, prev, err := readSession(*old)
			if err != nil {
				return nil, "", decodeError(kind, "oldObject", err)
			}
			if prev != nil {
				items = append(items, item("old_session", prev))
			}
		}
		ready, ok := 0, false
		if inv != nil {
			ready, ok = inv.PersistentReady(namespaceOf(req, meta))
		}
		items = append(items, item("inventory", ast.ObjectTerm(
			item("available", ast.BooleanTerm(ok)),
			item("persistent_ready", ast.IntNumberTerm(ready)),
		)))
	case vocab.ClassBinding:
		if meta, err = readBinding(obj); err != nil {
			return nil, "", decodeError(kind, "object", err)
		}
		items = append(items, item("binding", ast.ObjectTerm(item("labels", labelsOrEmpty(meta.labels)))))
	case vocab.ClassConnect:
		// The object is the subresource's options; the pod is the request's namespace and name.
		// pods/proxy names its target [scheme:]name[:port], as the API server's pod proxy splits it; the
		// role is the pod's, whatever form the request used.
		meta.Name = req.Name
		if _, name, _, valid := utilnet.SplitSchemeNamePort(req.Name); valid {
			meta.Name = name
		}
		role, ok := "", false
		if inv != nil {
			role, ok = inv.Role(req.Namespace, meta.Name)
		}
		target := []([2]*ast.Term){}
		if role != "" {
			target = append(target, item("role", ast.StringTerm(role)))
		}
		items = append(items,
			item("target", ast.ObjectTerm(target...)),
			item("inventory", ast.ObjectTerm(item("available", ast.BooleanTerm(ok)))))
	case vocab.ClassStorage:
		if kind == "VolumeSnapshot" {
			c, err := readSnapshot(obj)
			if err != nil {
				return nil, "", decodeError(kind, "object", err)
			}
			meta = c.meta
			items = append(items, item("snapshot", ast.ObjectTerm(item("claim", ast.StringTerm(c.source)))))
		} else {
			c, err := readClaim(obj)
			if err != nil {
				return nil, "", decodeError(kind, "object", err)
			}
			meta = c.meta
			items = append(items, item("claim", ast.ObjectTerm(item("clones", clonesTerm(c.clones)))))
		}
	}
	return ast.NewObject(requestItems(items, req, meta)...), class, nil
}

// deletionKinds are the kinds whose DELETE the policies review (share-deletion): the persistent StatefulSet
// and the share storage.
var deletionKinds = []string{"StatefulSet", "PersistentVolumeClaim", "Secret"}

// deletionInput is the input of a DELETE: the object is the old object (a DELETE carries no object), read for
// its name, its break-glass annotation and, for a StatefulSet, its pod template. An old object the API server
// did not send leaves the request's namespace and name.
func deletionInput(req Request, class vocab.Class) (ast.Value, vocab.Class, error) {
	var s deletedShape
	if old := (doc{raw: req.OldObject, v: req.OldObjectValue}); !old.empty() {
		var err error
		if s, err = readDeleted(old, req.Kind.Kind); err != nil {
			return nil, "", decodeError(req.Kind.Kind, "oldObject", err)
		}
	}
	items := make([][2]*ast.Term, 0, 10)
	if s.template != nil {
		items = append(items, item("template", podTerm(*s.template)))
	}
	if s.reason != "" {
		items = append(items, item("break_glass_reason", ast.StringTerm(s.reason)))
	}
	return ast.NewObject(requestItems(items, req, s.meta)...), class, nil
}

// requestItems appends what every input carries: the request's operation, kind, subresource, the object's
// namespace and name, and the requesting user when known.
func requestItems(items [][2]*ast.Term, req Request, meta objectMeta) [][2]*ast.Term {
	items = append(items,
		item("operation", ast.InternedTerm(string(req.Operation))),
		item("kind", ast.InternedTerm(req.Kind.Kind)),
		item("subresource", ast.InternedTerm(req.Subresource)),
		item("namespace", ast.StringTerm(namespaceOf(req, meta))),
		item("name", ast.StringTerm(nameOf(req, meta))),
		item("dry_run", ast.BooleanTerm(req.DryRun)),
	)
	if req.User != nil {
		groups := make([]*ast.Term, len(req.User.Groups))
		for i, g := range req.User.Groups {
			groups[i] = interned.termOf(g)
		}
		items = append(items, item("user", ast.ObjectTerm(
			item("username", interned.termOf(req.User.Username)),
			item("groups", ast.ArrayTerm(groups...)))))
	}
	return items
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

func clonesTerm(ds []dataSource) *ast.Term {
	terms := make([]*ast.Term, len(ds))
	for i, d := range ds {
		terms[i] = ast.ObjectTerm(item("kind", interned.termOf(d.kind)), item("name", interned.termOf(d.name)))
	}
	return ast.ArrayTerm(terms...)
}

func podTerm(p podShape) *ast.Term {
	items := []([2]*ast.Term){
		item("labels", labelsOrEmpty(p.meta.labels)),
		item("claims", stringsTerm(p.claims)),
		item("secrets", stringsTerm(p.secrets)),
		item("host_paths", stringsTerm(p.hostPaths)),
		item("clones", clonesTerm(p.clones)),
		item("ephemeral_containers", ast.IntNumberTerm(p.ephemeral)),
	}
	if p.owner.kind != "" {
		items = append(items, item("owner", ast.ObjectTerm(
			item("kind", interned.termOf(p.owner.kind)), item("name", interned.termOf(p.owner.name)))))
	}
	return ast.ObjectTerm(items...)
}
