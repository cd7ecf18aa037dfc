package validate

import (
	"encoding/json"
	"errors"
	"fmt"
	"strings"
)

// ErrNotObject is a document, or an item of a list, that is not a Kubernetes object: not a mapping, or one
// without apiVersion and kind.
var ErrNotObject = errors.New("not a Kubernetes object")

// entry is one object of a document — the document itself or an item of a list in it — or why it cannot
// be one.
type entry struct {
	item string // "" for the document itself; "items[2]" or "items[0].items[1]" for an item of a list
	raw  json.RawMessage
	err  error
}

// kustomizeGroup is the API group of kustomization.yaml files (Kustomization, Component).
const kustomizeGroup = "kustomize.config.k8s.io"

// notAnObject says why a document (JSON, as yamlToJSON makes it) is skipped, or "" when it is evaluated or
// is an error. Skipped are:
//   - a mapping with no kind and no metadata: values.yaml, Chart.yaml (apiVersion: v2 but no kind), a
//     kustomization.yaml without apiVersion and kind, ct.yaml, any configuration that is not an object;
//   - a Kustomization or Component of kustomize.config.k8s.io, which kustomize reads and never applies.
//
// Everything else that is not an object is an error: a document that is not a mapping (a sequence, a
// string), a kind without apiVersion, metadata without kind — each looks like an object gone wrong.
func notAnObject(js []byte) string {
	if len(js) == 0 || js[0] != '{' {
		return ""
	}
	var h struct {
		APIVersion any             `json:"apiVersion"`
		Kind       any             `json:"kind"`
		Metadata   json.RawMessage `json:"metadata"`
	}
	if json.Unmarshal(js, &h) != nil {
		return ""
	}
	if h.Kind == nil && h.Metadata == nil {
		if h.APIVersion == nil {
			return "not a Kubernetes object: no apiVersion, kind or metadata (configuration such as values.yaml or kustomization.yaml)"
		}
		return "not a Kubernetes object: apiVersion but no kind or metadata (configuration such as Chart.yaml)"
	}
	if av, ok := h.APIVersion.(string); ok && (av == kustomizeGroup || strings.HasPrefix(av, kustomizeGroup+"/")) {
		return fmt.Sprintf("a kustomize configuration (%s %v): run kustomize build and validate its output", av, h.Kind)
	}
	return ""
}

// typeMeta is the apiVersion and kind that the items of a typed list (PodList, MPCSessionList) inherit.
type typeMeta struct{ apiVersion, kind string }

// flatten returns the objects of a document (JSON, as yamlToJSON makes it): none for a null document, the
// document itself, or the items of a list — a v1 List or any typed list such as PodList — with lists
// among the items expanded in turn.
func flatten(js []byte) []entry {
	if isNull(js) {
		return nil
	}
	return appendObjects(nil, js, "", nil, "")
}

// appendObjects appends the object js or, for a list, its items. path names js within its document ("" for
// the document itself). elem is what an item of the enclosing typed list (listKind) is when it names no
// apiVersion and no kind, as kubectl reads typed lists; nil for the document and for the items of a List.
func appendObjects(out []entry, js json.RawMessage, path string, elem *typeMeta, listKind string) []entry {
	fail := func(err error) []entry { return append(out, entry{item: path, err: err}) }
	what := "the document"
	if path != "" {
		what = "the item"
	}
	if len(js) == 0 || js[0] != '{' {
		return fail(fmt.Errorf("%w: %s is %s, not a mapping with apiVersion and kind", ErrNotObject, what, describe(js)))
	}
	var m map[string]json.RawMessage
	if err := json.Unmarshal(js, &m); err != nil {
		return fail(fmt.Errorf("%w: %w", ErrNotObject, err))
	}
	apiVersion, err := stringField(m, "apiVersion")
	if err != nil {
		return fail(err)
	}
	kind, err := stringField(m, "kind")
	if err != nil {
		return fail(err)
	}
	if apiVersion == "" && kind == "" && elem != nil {
		apiVersion, kind = elem.apiVersion, elem.kind
		m["apiVersion"], _ = json.Marshal(apiVersion)
		m["kind"], _ = json.Marshal(kind)
		if js, err = json.Marshal(m); err != nil {
			return fail(fmt.Errorf("%w: %w", ErrNotObject, err))
		}
	}
	if apiVersion == "" || kind == "" {
		err := fmt.Errorf("%w: apiVersion and kind are required", ErrNotObject)
		switch {
		case elem != nil:
			err = fmt.Errorf("%w (an item of a %s is a %s %s only when it names neither)", err, listKind, elem.apiVersion, elem.kind)
		case path != "":
			err = fmt.Errorf("%w (the items of a %s do not inherit them)", err, listKind)
		}
		return fail(err)
	}
	items, hasItems := m["items"]
	// A kind that ends in List without items may be an object of its own (an AllowList, say): it is
	// evaluated as one. A List without items is an empty list.
	if kind != "List" && !(strings.HasSuffix(kind, "List") && hasItems) {
		return append(out, entry{item: path, raw: js})
	}
	if !hasItems || isNull(items) {
		return out
	}
	if len(items) == 0 || items[0] != '[' {
		return fail(fmt.Errorf("%w: the items of %s %s are %s, not a sequence of objects", ErrNotObject, apiVersion, kind, describe(items)))
	}
	var list []json.RawMessage
	if err := json.Unmarshal(items, &list); err != nil {
		return fail(fmt.Errorf("%w: the items of %s %s: %w", ErrNotObject, apiVersion, kind, err))
	}
	var itemType *typeMeta
	if k := strings.TrimSuffix(kind, "List"); k != "" {
		itemType = &typeMeta{apiVersion: apiVersion, kind: k}
	}
	prefix := ""
	if path != "" {
		prefix = path + "."
	}
	for i, it := range list {
		out = appendObjects(out, it, fmt.Sprintf("%sitems[%d]", prefix, i), itemType, kind)
	}
	return out
}

// stringField reads apiVersion or kind, which must be a string when present.
func stringField(m map[string]json.RawMessage, key string) (string, error) {
	raw, ok := m[key]
	if !ok || isNull(raw) {
		return "", nil
	}
	var s string
	if err := json.Unmarshal(raw, &s); err != nil {
		return "", fmt.Errorf("%w: %s is %s, not a string", ErrNotObject, key, describe(raw))
	}
	return s, nil
}

func isNull(js []byte) bool { return string(js) == "null" }

// describe names the type of a JSON value, as yamlToJSON writes it (compact, no leading space).
func describe(js []byte) string {
	if len(js) == 0 {
		return "empty"
	}
	switch js[0] {
	case '{':
		return "a mapping (JSON object)"
	case '[':
		return "a sequence (JSON array)"
	case '"':
		if r := []rune(string(js)); len(r) > 40 {
			return "a string, " + string(r[:36]) + `..."`
		}
		return "a string, " + string(js)
	case 't', 'f':
		return "a boolean"
	case 'n':
		return "null"
	}
	return "a number"
}
