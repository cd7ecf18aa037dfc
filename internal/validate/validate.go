package validate

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"sort"
	"strings"

	"k8s.io/apimachinery/pkg/runtime/schema"

	"github.com/mpcguard/mpcguard/policies/engine"
)

// Object is the outcome for one object of the input.
type Object struct {
	Source   string `json:"source"`
	Document int    `json:"document"` // 1-based, within Source
	Line     int    `json:"line"`     // where the document starts in Source
	// Item names the object within its document when the document is a list: "items[2]", or
	// "items[0].items[1]" for an item of a list in a list. Empty for a document that is the object itself.
	Item      string `json:"item,omitempty"`
	Kind      string `json:"kind"`
	Namespace string `json:"namespace"`
	Name      string `json:"name"`
	engine.Decision
}

// InputError is a document, or an item of a list in it, that could not be read; it names its file, document,
// line and item.
type InputError struct {
	Source   string `json:"source"`
	Document int    `json:"document"`
	Line     int    `json:"line"`
	Item     string `json:"item,omitempty"` // as Object.Item
	Err      error  `json:"-"`
	Message  string `json:"error"`
}

func (e *InputError) Error() string {
	where := e.Source
	if e.Document != 0 {
		where = fmt.Sprintf("%s: document %d (line %d)", e.Source, e.Document, e.Line)
	}
	if e.Item != "" {
		where += ": " + e.Item
	}
	return fmt.Sprintf("%s: %v", where, e.Err)
}

func (e *InputError) Unwrap() error { return e.Err }

// Skip is a document that is not a Kubernetes object and is not evaluated — a values.yaml, a Chart.yaml, a
// kustomization.yaml — or an empty file found in a directory, with the reason.
type Skip struct {
	Source   string `json:"source"`
	Document int    `json:"document,omitempty"` // 0 for a whole file
	Line     int    `json:"line,omitempty"`
	Reason   string `json:"reason"`
}

func (s Skip) String() string {
	if s.Document == 0 {
		return fmt.Sprintf("%s: %s", s.Source, s.Reason)
	}
	return fmt.Sprintf("%s: document %d (line %d): %s", s.Source, s.Document, s.Line, s.Reason)
}

// Report is the outcome of a validation run.
type Report struct {
	Objects []Object      `json:"objects"`
	Errors  []*InputError `json:"errors"`
	// Warnings are readable input that other tools would read differently (YAML 1.1 boolean keys).
	Warnings []*InputError `json:"warnings"`
	// Skipped are the documents that are not Kubernetes objects (see Skip).
	Skipped []Skip `json:"skipped"`

	documents int // read, not null and not skipped: an empty List is one, and counts as input
}

// ErrEmpty is a file or stdin with no document in it, or a run with no Kubernetes object: never a green
// run, since an upstream command that failed (`false | mpcguard validate -f -`) leaves exactly that.
var ErrEmpty = errors.New("nothing to validate")

// Denied counts the denials over all objects.
func (r Report) Denied() int {
	n := 0
	for _, o := range r.Objects {
		n += len(o.Deny)
	}
	return n
}

// Validator evaluates manifests with one engine.
type Validator struct {
	Engine *engine.Engine
	// Namespace is given to objects that have none (as kubectl's default namespace would).
	Namespace string
}

// Source is the content of one input: a file, a file found in a directory, or stdin.
type Source struct {
	Name string
	Data []byte
	// Named is true for a file or stdin given on the command line, false for a file found in a directory:
	// a named source with no document is an error, a file in a directory with none is skipped.
	Named bool
}

// ReadSources reads files, directories (their *.yaml, *.yml and *.json files, recursively, in lexical
// order) and "-" for stdin, and reports what it cannot read.
func ReadSources(paths []string, stdin io.Reader) ([]Source, []*InputError) {
	var srcs []Source
	var errs []*InputError
	for _, p := range paths {
		if p == "-" {
			data, err := io.ReadAll(stdin)
			if err != nil {
				errs = append(errs, &InputError{Source: "<stdin>", Err: fmt.Errorf("reading: %w", err)})
				continue
			}
			srcs = append(srcs, Source{Name: "<stdin>", Data: data, Named: true})
			continue
		}
		files, dir, err := expand(p)
		if err != nil {
			errs = append(errs, &InputError{Source: p, Err: err})
			continue
		}
		for _, f := range files {
			data, err := os.ReadFile(f)
			if err != nil {
				errs = append(errs, &InputError{Source: f, Err: fmt.Errorf("reading: %w", err)})
				continue
			}
			srcs = append(srcs, Source{Name: f, Data: data, Named: !dir})
		}
	}
	return srcs, errs
}

// Paths validates files, directories (their *.yaml, *.yml and *.json files, recursively, in lexical order)
// and "-" for stdin.
func (v Validator) Paths(ctx context.Context, paths []string, stdin io.Reader) Report {
	srcs, errs := ReadSources(paths, stdin)
	return v.Sources(ctx, srcs, errs, strings.Join(paths, ", "))
}

// Sources validates sources read by ReadSources, with the errors of reading them; label names the input
// as a whole (for an input with nothing to validate).
func (v Validator) Sources(ctx context.Context, srcs []Source, readErrs []*InputError, label string) Report {
	rep := Report{Errors: readErrs}
	for _, s := range srcs {
		v.bytes(ctx, s.Name, s.Data, s.Named, &rep)
	}
	rep.finish(label)
	return rep
}

// Bytes validates one source's content.
func (v Validator) Bytes(ctx context.Context, source string, data []byte) Report {
	var rep Report
	v.bytes(ctx, source, data, true, &rep)
	rep.finish(source)
	return rep
}

// finish reports a run with neither an object nor an error as an error of the sources, and fills the JSON
// messages of errors and warnings.
func (r *Report) finish(sources string) {
	if r.documents == 0 && len(r.Errors) == 0 {
		why := "no Kubernetes object in the input"
		if len(r.Skipped) > 0 {
			why += fmt.Sprintf(" (%d documents or files skipped)", len(r.Skipped))
		}
		r.Errors = append(r.Errors, &InputError{Source: sources, Err: fmt.Errorf("%w: %s", ErrEmpty, why)})
	}
	for _, e := range append(r.Errors, r.Warnings...) {
		e.Message = e.Error()
	}
}

// expand returns the files of p, and whether p is a directory.
func expand(p string) ([]string, bool, error) {
	st, err := os.Stat(p)
	if err != nil {
		return nil, false, fmt.Errorf("cannot read input: %w", err)
	}
	if !st.IsDir() {
		return []string{p}, false, nil
	}
	var files []string
	err = filepath.WalkDir(p, func(path string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		switch strings.ToLower(filepath.Ext(path)) {
		case ".yaml", ".yml", ".json":
			if !d.IsDir() {
				files = append(files, path)
			}
		}
		return nil
	})
	if err != nil {
		return nil, true, fmt.Errorf("walking directory: %w", err)
	}
	if len(files) == 0 {
		return nil, true, fmt.Errorf("%w: directory has no .yaml, .yml or .json files", ErrEmpty)
	}
	sort.Strings(files)
	return files, true, nil
}

type document struct {
	index, line int
	data        []byte
	err         error // why the document cannot be read, when that is known before reading it (jsonStream)
}

// split cuts a YAML stream at its "---" separator lines, remembering the line where each document starts.
// Content on a separator line ("--- {...}", or after a tab) belongs to the document it opens.
func split(data []byte) []document {
	var docs []document
	cur := document{line: 1}
	var buf bytes.Buffer
	sc := bufio.NewScanner(bytes.NewReader(data))
	sc.Buffer(make([]byte, 0, 64*1024), len(data)+1)
	line := 0
	for sc.Scan() {
		line++
		text := sc.Text()
		if t := strings.TrimRight(text, " \t\r"); t == "---" || strings.HasPrefix(t, "--- ") || strings.HasPrefix(t, "---\t") {
			cur.data = append([]byte(nil), buf.Bytes()...)
			docs = append(docs, cur)
			buf.Reset()
			cur = document{line: line + 1}
			if rest := strings.TrimSpace(strings.TrimPrefix(t, "---")); rest != "" && !strings.HasPrefix(rest, "#") {
				cur.line = line
				buf.WriteString(rest)
				buf.WriteByte('\n')
			}
			continue
		}
		buf.WriteString(text)
		buf.WriteByte('\n')
	}
	cur.data = buf.Bytes()
	return append(docs, cur)
}

func blank(doc []byte) bool {
	for _, l := range strings.Split(string(doc), "\n") {
		if t := strings.TrimSpace(l); t != "" && !strings.HasPrefix(t, "#") {
			return false
		}
	}
	return true
}

// bytes validates the documents of one source.
func (v Validator) bytes(ctx context.Context, source string, data []byte, named bool, rep *Report) {
	readObjects(source, data, named, rep, func(d Decoded) error {
		o, err := v.object(ctx, d.Raw)
		if err != nil {
			return err
		}
		o.Source, o.Document, o.Line, o.Item = d.Source, d.Document, d.Line, d.Item
		rep.Objects = append(rep.Objects, o)
		return nil
	})
}

// Decoded is one object of the input as read, not evaluated: where it is and its JSON.
type Decoded struct {
	Source   string
	Document int // 1-based, within Source
	Line     int // where the document starts in Source
	Item     string
	Raw      json.RawMessage
}

// Where names the object for messages: "out.yaml: document 3 (line 40)", with its item when it has one.
func (d Decoded) Where() string {
	w := fmt.Sprintf("%s: document %d (line %d)", d.Source, d.Document, d.Line)
	if d.Item != "" {
		w += ": " + d.Item
	}
	return w
}

// Decode reads sources read by ReadSources as validation reads them — documents, JSON streams and lists
// expanded, non-objects skipped — and returns their objects, without evaluating them. The report carries
// what could not be read (with the errors of reading, readErrs), the warnings and the skipped documents;
// its Objects are empty. label names the input as a whole, for an input with no object.
func Decode(srcs []Source, readErrs []*InputError, label string) ([]Decoded, Report) {
	rep := Report{Errors: readErrs}
	var out []Decoded
	for _, s := range srcs {
		readObjects(s.Name, s.Data, s.Named, &rep, func(d Decoded) error {
			var h struct {
				APIVersion string `json:"apiVersion"`
				Kind       string `json:"kind"`
			}
			if err := json.Unmarshal(d.Raw, &h); err != nil {
				return fmt.Errorf("%w: %w", ErrNotObject, err)
			}
			if h.Kind == "" || h.APIVersion == "" {
				return fmt.Errorf("%w: apiVersion and kind are required", ErrNotObject)
			}
			out = append(out, d)
			return nil
		})
	}
	rep.finish(label)
	return out, rep
}

// readObjects reads the documents of one source and hands each object to each; an error of each is
// reported as the object's. A source with no document — nothing but white space, comments, separators and
// null documents — is an error when it was named (a file, or stdin) and skipped when it was found in a
// directory.
func readObjects(source string, data []byte, named bool, rep *Report, each func(Decoded) error) {
	before := rep.documents + len(rep.Errors) + len(rep.Skipped)
	defer func() {
		if rep.documents+len(rep.Errors)+len(rep.Skipped) > before {
			return
		}
		const why = "no document: empty, or only comments, separators and null documents"
		if named {
			rep.Errors = append(rep.Errors, &InputError{Source: source, Err: fmt.Errorf("%w: %s (did a command before the pipe fail?)", ErrEmpty, why)})
			return
		}
		rep.Skipped = append(rep.Skipped, Skip{Source: source, Reason: why})
	}()
	n := 0
	for _, chunk := range split(data) {
		if blank(chunk.data) {
			continue
		}
		// Documents are numbered as YAML tools count them: a leading "---" (as in helm template output)
		// opens document 1, and empty documents are not counted. Each value of a JSON stream is a document.
		for _, doc := range jsonStream(chunk) {
			n++
			doc.index = n
			readDocument(source, doc, rep, each)
		}
	}
}

// readDocument hands the objects of one document to each, reporting what it cannot read.
func readDocument(source string, doc document, rep *Report, each func(Decoded) error) {
	fail := func(item string, err error) {
		rep.Errors = append(rep.Errors, &InputError{Source: source, Document: doc.index, Line: doc.line, Item: item, Err: err})
	}
	if doc.err != nil {
		fail("", doc.err)
		return
	}
	// The document is read on its own, and the line numbers of its errors and notes are moved by the
	// lines before it, so that they are the file's: reading each document once keeps the time linear.
	js, notes, err := yamlToJSON(doc.data)
	if err != nil {
		fail("", fmt.Errorf("%w: %w", ErrMalformed, shiftLines(err, doc.line-1)))
		return
	}
	for _, n := range notes {
		rep.Warnings = append(rep.Warnings, &InputError{Source: source, Document: doc.index,
			Line: n.line + doc.line - 1, Err: errors.New(n.msg)})
	}
	if why := notAnObject(js); why != "" {
		rep.Skipped = append(rep.Skipped, Skip{Source: source, Document: doc.index, Line: doc.line, Reason: why})
		return
	}
	if !isNull(js) {
		rep.documents++
	}
	for _, e := range flatten(js) {
		if e.err != nil {
			fail(e.item, e.err)
			continue
		}
		if err := each(Decoded{Source: source, Document: doc.index, Line: doc.line, Item: e.item, Raw: e.raw}); err != nil {
			fail(e.item, err)
		}
	}
}

func (v Validator) object(ctx context.Context, raw json.RawMessage) (Object, error) {
	var h struct {
		APIVersion string `json:"apiVersion"`
		Kind       string `json:"kind"`
		Metadata   struct {
			Name         string `json:"name"`
			GenerateName string `json:"generateName"`
			Namespace    string `json:"namespace"`
		} `json:"metadata"`
	}
	if err := json.Unmarshal(raw, &h); err != nil {
		return Object{}, fmt.Errorf("%w: %w", ErrNotObject, err)
	}
	if h.Kind == "" || h.APIVersion == "" {
		return Object{}, fmt.Errorf("%w: apiVersion and kind are required", ErrNotObject)
	}
	gv, err := schema.ParseGroupVersion(h.APIVersion)
	if err != nil {
		return Object{}, fmt.Errorf("apiVersion %q: %w", h.APIVersion, err)
	}
	ns := h.Metadata.Namespace
	if ns == "" {
		ns = v.Namespace
	}
	req := engine.Request{
		Operation: engine.Create,
		Kind:      gv.WithKind(h.Kind),
		Namespace: ns,
		Object:    raw,
	}
	d, err := v.Engine.Review(ctx, req, nil)
	if err != nil {
		if errors.Is(err, engine.ErrDecode) {
			return Object{}, err
		}
		return Object{}, fmt.Errorf("evaluating %s %s/%s: %w", h.Kind, ns, h.Metadata.Name, err)
	}
	name := h.Metadata.Name
	if name == "" && h.Metadata.GenerateName != "" {
		name = h.Metadata.GenerateName + "*"
	}
	return Object{Kind: h.Kind, Namespace: ns, Name: name, Decision: d}, nil
}
