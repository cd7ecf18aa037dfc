package validate

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"regexp"
	"strconv"
	"strings"

	yaml "go.yaml.in/yaml/v3"
)

// yaml11Bools are the plain scalars YAML 1.1 (sigs.k8s.io/yaml, and so kubectl and Helm) reads as booleans.
var yaml11Bools = map[string]bool{
	"y": true, "Y": true, "yes": true, "Yes": true, "YES": true, "on": true, "On": true, "ON": true,
	"n": true, "N": true, "no": true, "No": true, "NO": true, "off": true, "Off": true, "OFF": true,
}

// yamlToJSON reads one YAML (1.2) or JSON document into JSON. Duplicate keys are errors. It also returns a
// warning for every unquoted mapping key that YAML 1.1 tools would turn into a boolean — `n: 3` reaches the
// API server as `"false": 3` when applied with kubectl — with its line, relative to the document.
//
// A second document in doc is an error, not ignored: yaml.Unmarshal would read the first document of
// "a: 1\n...\nb: 2" (a document end marker, then more) or of "{...}\n{...}" and drop the rest without a word.
func yamlToJSON(doc []byte) ([]byte, []lineNote, error) {
	dec := yaml.NewDecoder(bytes.NewReader(doc))
	var root yaml.Node
	if err := dec.Decode(&root); err != nil {
		if errors.Is(err, io.EOF) {
			return []byte("null"), nil, nil
		}
		return nil, nil, err
	}
	var next yaml.Node
	if err := dec.Decode(&next); !errors.Is(err, io.EOF) {
		if err != nil {
			return nil, nil, err
		}
		return nil, nil, fmt.Errorf("line %d: a second document starts here, with no line of --- before it (line ends must be \\n or \\r\\n)", firstLine(&next))
	}
	if root.Kind == 0 {
		return []byte("null"), nil, nil
	}
	var v any
	if err := root.Decode(&v); err != nil {
		return nil, nil, err
	}
	v, err := JSONable(v, "")
	if err != nil {
		return nil, nil, err
	}
	b, err := json.Marshal(v)
	if err != nil {
		return nil, nil, err
	}
	return b, boolKeys(&root, nil), nil
}

// JSONable turns YAML's maps with non-string keys into JSON objects, naming the path of a key it cannot use
// (path is the value's own path, e.g. "spec" or "cases[2].object"). It reuses v's maps and slices.
func JSONable(v any, path string) (any, error) {
	switch t := v.(type) {
	case map[string]any:
		for k, x := range t {
			y, err := JSONable(x, path+"."+k)
			if err != nil {
				return nil, err
			}
			t[k] = y
		}
		return t, nil
	case map[any]any:
		out := make(map[string]any, len(t))
		for k, x := range t {
			var ks string
			switch kk := k.(type) {
			case string:
				ks = kk
			case int, int64, uint64, float64, bool:
				ks = fmt.Sprint(kk)
			default:
				return nil, fmt.Errorf("%s: mapping key %v (%T) cannot be a JSON object key", strings.TrimPrefix(path, "."), k, k)
			}
			y, err := JSONable(x, path+"."+ks)
			if err != nil {
				return nil, err
			}
			out[ks] = y
		}
		return out, nil
	case []any:
		for i, x := range t {
			y, err := JSONable(x, fmt.Sprintf("%s[%d]", path, i))
			if err != nil {
				return nil, err
			}
			t[i] = y
		}
		return t, nil
	}
	return v, nil
}

// lineNote is a remark about a line of a document (1-based, relative to the document).
type lineNote struct {
	line int
	msg  string
}

func boolKeys(n *yaml.Node, out []lineNote) []lineNote {
	if n.Kind == yaml.MappingNode {
		for i := 0; i+1 < len(n.Content); i += 2 {
			k := n.Content[i]
			if k.Kind == yaml.ScalarNode && k.Style == 0 && k.Tag == "!!str" && yaml11Bools[k.Value] {
				out = append(out, lineNote{line: k.Line, msg: fmt.Sprintf("key %s is a boolean in YAML 1.1: "+
					"kubectl and Helm would send it as %q; quote it (\"%s\")", k.Value, yaml11Value(k.Value), k.Value)})
			}
		}
	}
	for _, c := range n.Content {
		out = boolKeys(c, out)
	}
	return out
}

func yaml11Value(s string) string {
	switch strings.ToLower(s) {
	case "y", "yes", "on":
		return "true"
	}
	return "false"
}

// firstLine is the line of a document's content.
func firstLine(n *yaml.Node) int {
	for n.Kind == yaml.DocumentNode && len(n.Content) > 0 {
		n = n.Content[0]
	}
	return n.Line
}

// lineRef is a line number in a message of the YAML decoder ("yaml: line 3: ...", "  line 5: cannot
// unmarshal ...") or of yamlToJSON.
var lineRef = regexp.MustCompile(`\bline ([0-9]+)\b`)

// shiftedError is an error of a document read on its own, its line numbers moved to the file's.
type shiftedError struct {
	msg string
	err error
}

func (e *shiftedError) Error() string { return e.msg }
func (e *shiftedError) Unwrap() error { return e.err }

// shiftLines adds by to every line number in err's message: a document is decoded on its own (padding it
// with the lines before it made reading a stream quadratic), and its errors name the lines of the file.
func shiftLines(err error, by int) error {
	if by == 0 {
		return err
	}
	msg := lineRef.ReplaceAllStringFunc(err.Error(), func(m string) string {
		n, convErr := strconv.Atoi(strings.TrimPrefix(m, "line "))
		if convErr != nil {
			return m
		}
		return "line " + strconv.Itoa(n+by)
	})
	return &shiftedError{msg: msg, err: err}
}

// YAMLToJSON reads one YAML (1.2) or JSON document into JSON exactly as validate reads manifests: `n: 3` is
// the key "n", duplicate keys and a second document are errors. It also returns a remark, with its line, for
// every unquoted mapping key that YAML 1.1 tools (kubectl, Helm) would read as a boolean instead.
func YAMLToJSON(doc []byte) ([]byte, []string, error) {
	js, notes, err := yamlToJSON(doc)
	if err != nil {
		return nil, nil, err
	}
	remarks := make([]string, len(notes))
	for i, n := range notes {
		remarks[i] = fmt.Sprintf("line %d: %s", n.line, n.msg)
	}
	return js, remarks, nil
}
