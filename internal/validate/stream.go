package validate

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
)

// ErrMalformed is input that is not well-formed YAML or JSON.
var ErrMalformed = errors.New("malformed YAML or JSON")

// jsonStream cuts a document that is a stream of JSON values — `{...}{...}` or `{...}\n{...}`, as
// `kubectl get -o json` piped together or `jq -c` write them — into one document per value, each with the
// line where it starts. Anything after a value that is not a JSON value is a document of its own, with the
// reason it cannot be read in err. A document that is one JSON value (possibly followed by comments), or
// that does not start with one, is returned as it is, to be read as YAML.
func jsonStream(d document) []document {
	pos := skipBlank(d.data, 0)
	if pos == len(d.data) || (d.data[pos] != '{' && d.data[pos] != '[') {
		return []document{d}
	}
	// lineAt is the line of the byte at off, counted on from the last offset asked for (offsets mostly grow).
	seenOff, seenLine := 0, d.line
	lineAt := func(off int) int {
		if off < seenOff {
			seenOff, seenLine = 0, d.line
		}
		seenLine += bytes.Count(d.data[seenOff:off], []byte("\n"))
		seenOff = off
		return seenLine
	}
	var out []document
	prevEnd := 0
	for ; pos < len(d.data); pos = skipBlank(d.data, pos) {
		dec := json.NewDecoder(bytes.NewReader(d.data[pos:]))
		var raw json.RawMessage
		if err := dec.Decode(&raw); err != nil {
			if len(out) == 0 {
				// Not JSON (a YAML flow mapping such as {a: 1}, or broken JSON): YAML reads it, or says why not.
				return []document{d}
			}
			at := pos
			var se *json.SyntaxError
			if errors.As(err, &se) && se.Offset > 0 {
				at = min(pos+int(se.Offset)-1, len(d.data)-1)
			}
			out = append(out, document{line: lineAt(pos), data: d.data[pos:],
				err: fmt.Errorf("%w: line %d: after the JSON value that ends on line %d: %w; nothing more is read up to the next line of ---",
					ErrMalformed, lineAt(at), lineAt(prevEnd-1), err)})
			break
		}
		end := pos + int(dec.InputOffset())
		out = append(out, document{line: lineAt(pos), data: d.data[pos:end]})
		pos, prevEnd = end, end
	}
	if len(out) == 1 {
		return []document{d}
	}
	return out
}

// skipBlank returns the offset of the first byte at or after i that is neither white space nor in a
// # comment.
func skipBlank(b []byte, i int) int {
	for i < len(b) {
		switch b[i] {
		case ' ', '\t', '\r', '\n':
			i++
		case '#':
			for i < len(b) && b[i] != '\n' {
				i++
			}
		default:
			return i
		}
	}
	return i
}
