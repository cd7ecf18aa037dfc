package valuesdoc

import (
	"bytes"
	"encoding/json"
	"fmt"
	"reflect"
	"sort"
	"strconv"
	"strings"

	yaml "go.yaml.in/yaml/v3"
)

// field is one serialised struct field.
type field struct {
	name      string
	goName    string
	owner     reflect.Type // the struct type declaring the field, whose docs key it
	omitEmpty bool
	optional  bool
	tag       reflect.StructTag
	index     []int
}

// fields lists the JSON fields of a struct type in declaration order, flattening embedded structs the way
// encoding/json does.
func fields(t reflect.Type) []field {
	var out []field
	for i := 0; i < t.NumField(); i++ {
		f := t.Field(i)
		if !f.IsExported() {
			continue
		}
		name, opts, _ := strings.Cut(f.Tag.Get("json"), ",")
		if name == "-" {
			continue
		}
		if f.Anonymous && name == "" && f.Type.Kind() == reflect.Struct {
			for _, inner := range fields(f.Type) {
				inner.index = append([]int{i}, inner.index...)
				inner.optional = inner.optional || f.Tag.Get("optional") == "true"
				out = append(out, inner)
			}
			continue
		}
		if name == "" {
			name = f.Name
		}
		out = append(out, field{
			name: name, goName: f.Name, owner: t, omitEmpty: strings.Contains(opts, "omitempty"),
			optional: f.Tag.Get("optional") == "true", tag: f.Tag, index: []int{i},
		})
	}
	return out
}

// Schema is the subset of JSON Schema (draft 7) the values need. Fields marshal in a fixed order.
type Schema struct {
	Schema               string             `json:"$schema,omitempty"`
	Title                string             `json:"title,omitempty"`
	Description          string             `json:"description,omitempty"`
	Type                 string             `json:"type,omitempty"`
	Properties           map[string]*Schema `json:"properties,omitempty"`
	Required             []string           `json:"required,omitempty"`
	AdditionalProperties any                `json:"additionalProperties,omitempty"`
	PropertyNames        *Schema            `json:"propertyNames,omitempty"`
	Items                *Schema            `json:"items,omitempty"`
	Enum                 []any              `json:"enum,omitempty"`
	Pattern              string             `json:"pattern,omitempty"`
	MaxLength            *int64             `json:"maxLength,omitempty"`
	Not                  *Schema            `json:"not,omitempty"`
	Const                any                `json:"const,omitempty"`
	Minimum              *int64             `json:"minimum,omitempty"`
	Maximum              *int64             `json:"maximum,omitempty"`
}

// JSON renders the schema, indented, with a trailing newline.
func (s *Schema) JSON() ([]byte, error) {
	out, err := json.MarshalIndent(s, "", "  ")
	if err != nil {
		return nil, fmt.Errorf("encoding schema: %w", err)
	}
	return append(out, '\n'), nil
}

// SchemaFor derives the JSON Schema of a values type: every object closed (additionalProperties false) but
// for maps, every field without omitempty or optional:"true" required, constraints from the field tags,
// descriptions from docs.
func SchemaFor(docs Docs, t reflect.Type, title string) (*Schema, error) {
	s, err := schemaOf(docs, t, "")
	if err != nil {
		return nil, err
	}
	s.Schema = "http://json-schema.org/draft-07/schema#"
	s.Title = title
	return s, nil
}

func schemaOf(docs Docs, t reflect.Type, tag reflect.StructTag) (*Schema, error) {
	switch t.Kind() {
	case reflect.Interface:
		return &Schema{}, nil
	case reflect.Pointer:
		return schemaOf(docs, t.Elem(), tag)
	case reflect.Struct:
		s := &Schema{Type: "object", Properties: map[string]*Schema{}, AdditionalProperties: false}
		for _, f := range fields(t) {
			ft := t.FieldByIndex(f.index)
			fs, err := schemaOf(docs, ft.Type, f.tag)
			if err != nil {
				return nil, fmt.Errorf("%s.%s: %w", t.Name(), f.name, err)
			}
			fs.Description = docs.of(f.owner, f)
			s.Properties[f.name] = fs
			if !f.omitEmpty && !f.optional {
				s.Required = append(s.Required, f.name)
			}
		}
		return s, nil
	case reflect.Slice:
		items, err := schemaOf(docs, t.Elem(), tag)
		if err != nil {
			return nil, err
		}
		return &Schema{Type: "array", Items: items}, nil
	case reflect.Map:
		if t.Key().Kind() != reflect.String {
			return nil, fmt.Errorf("%w: map key %s", ErrUnsupported, t.Key())
		}
		var elem *Schema
		var err error
		if t.Elem().Kind() == reflect.Struct {
			elem, err = schemaOf(docs, t.Elem(), "")
		} else {
			elem, err = schemaOf(docs, t.Elem(), tag)
		}
		if err != nil {
			return nil, err
		}
		s := &Schema{Type: "object", AdditionalProperties: elem}
		if keys := tag.Get("keys"); keys != "" {
			s.PropertyNames = &Schema{Enum: enum(keys)}
		}
		if kp := tag.Get("keyPattern"); kp != "" {
			s.PropertyNames = &Schema{Pattern: kp}
			if ml := tag.Get("maxLength"); ml != "" {
				n, err := strconv.ParseInt(ml, 10, 64)
				if err != nil {
					return nil, fmt.Errorf("maxLength tag %q: %w", ml, err)
				}
				s.PropertyNames.MaxLength = &n
			}
		}
		return s, nil
	case reflect.String:
		s := &Schema{Type: "string", Pattern: tag.Get("pattern")}
		if e := tag.Get("enum"); e != "" {
			s.Enum = enum(e)
		}
		if n := tag.Get("not"); n != "" {
			s.Not = &Schema{Const: n}
		}
		return s, nil
	case reflect.Bool:
		return &Schema{Type: "boolean"}, nil
	case reflect.Int, reflect.Int32, reflect.Int64:
		s := &Schema{Type: "integer"}
		for name, dst := range map[string]**int64{"minimum": &s.Minimum, "maximum": &s.Maximum} {
			if v := tag.Get(name); v != "" {
				n, err := strconv.ParseInt(v, 10, 64)
				if err != nil {
					return nil, fmt.Errorf("%s tag %q: %w", name, v, err)
				}
				*dst = &n
			}
		}
		return s, nil
	default:
		return nil, fmt.Errorf("%w: %s", ErrUnsupported, t)
	}
}

func enum(list string) []any {
	var out []any
	for _, v := range strings.Split(list, ",") {
		out = append(out, v)
	}
	return out
}

// YAML renders values as a commented YAML document: each key is preceded by its doc, wrapped at width.
// Fields inside list items and map entries carry no comments (the list's or map's comment describes them).
// header opens the file.
func YAML(docs Docs, v any, header string, width int) ([]byte, error) {
	root, err := node(docs, reflect.ValueOf(v), true, width)
	if err != nil {
		return nil, err
	}
	root.HeadComment = comment(header, width)
	var buf bytes.Buffer
	enc := yaml.NewEncoder(&buf)
	enc.SetIndent(2)
	if err := enc.Encode(root); err != nil {
		return nil, fmt.Errorf("encoding values: %w", err)
	}
	if err := enc.Close(); err != nil {
		return nil, fmt.Errorf("encoding values: %w", err)
	}
	return buf.Bytes(), nil
}

func node(docs Docs, v reflect.Value, comments bool, width int) (*yaml.Node, error) {
	switch v.Kind() {
	case reflect.Pointer, reflect.Interface:
		if v.IsNil() {
			return &yaml.Node{Kind: yaml.ScalarNode, Tag: "!!null", Value: "null"}, nil
		}
		return node(docs, v.Elem(), comments, width)
	case reflect.Struct:
		n := &yaml.Node{Kind: yaml.MappingNode, Tag: "!!map"}
		for _, f := range fields(v.Type()) {
			fv := v.FieldByIndex(f.index)
			if f.omitEmpty && fv.IsZero() {
				continue
			}
			child, err := node(docs, fv, comments, width)
			if err != nil {
				return nil, fmt.Errorf("%s: %w", f.name, err)
			}
			key := keyNode(f.name)
			if comments {
				key.HeadComment = comment(docs.of(f.owner, f), width)
			}
			n.Content = append(n.Content, key, child)
		}
		if len(n.Content) == 0 {
			n.Style = yaml.FlowStyle
		}
		return n, nil
	case reflect.Slice:
		n := &yaml.Node{Kind: yaml.SequenceNode, Tag: "!!seq"}
		for i := 0; i < v.Len(); i++ {
			child, err := node(docs, v.Index(i), false, width)
			if err != nil {
				return nil, fmt.Errorf("[%d]: %w", i, err)
			}
			n.Content = append(n.Content, child)
		}
		if len(n.Content) == 0 {
			n.Style = yaml.FlowStyle
		}
		return n, nil
	case reflect.Map:
		n := &yaml.Node{Kind: yaml.MappingNode, Tag: "!!map"}
		keys := v.MapKeys()
		sort.Slice(keys, func(i, j int) bool { return keys[i].String() < keys[j].String() })
		for _, k := range keys {
			child, err := node(docs, v.MapIndex(k), false, width)
			if err != nil {
				return nil, err
			}
			n.Content = append(n.Content, keyNode(k.String()), child)
		}
		if len(n.Content) == 0 {
			n.Style = yaml.FlowStyle
		}
		return n, nil
	case reflect.String:
		return strNode(v.String()), nil
	case reflect.Bool:
		return &yaml.Node{Kind: yaml.ScalarNode, Tag: "!!bool", Value: strconv.FormatBool(v.Bool())}, nil
	case reflect.Int, reflect.Int32, reflect.Int64:
		return &yaml.Node{Kind: yaml.ScalarNode, Tag: "!!int", Value: strconv.FormatInt(v.Int(), 10)}, nil
	case reflect.Float64:
		return &yaml.Node{Kind: yaml.ScalarNode, Tag: "!!float", Value: strconv.FormatFloat(v.Float(), 'g', -1, 64)}, nil
	default:
		return nil, fmt.Errorf("%w: %s", ErrUnsupported, v.Type())
	}
}

// yaml11Special are plain scalars that YAML 1.1 parsers (Helm's among them) read as booleans or null.
var yaml11Special = map[string]bool{
	"y": true, "Y": true, "yes": true, "Yes": true, "YES": true, "n": true, "N": true, "no": true, "No": true,
	"NO": true, "on": true, "On": true, "ON": true, "off": true, "Off": true, "OFF": true, "true": true,
	"True": true, "TRUE": true, "false": true, "False": true, "FALSE": true, "null": true, "Null": true,
	"NULL": true, "~": true,
}

// strNode is a string scalar, quoted where a YAML 1.1 parser would read it as something else.
func strNode(s string) *yaml.Node {
	n := &yaml.Node{Kind: yaml.ScalarNode, Tag: "!!str", Value: s}
	if yaml11Special[s] {
		n.Style = yaml.DoubleQuotedStyle
	}
	return n
}

func keyNode(s string) *yaml.Node { return strNode(s) }

// comment wraps text into "# " lines no wider than width.
func comment(text string, width int) string {
	if text == "" {
		return ""
	}
	var lines []string
	for _, para := range strings.Split(text, "\n") {
		line := ""
		for _, word := range strings.Fields(para) {
			if line != "" && len(line)+1+len(word) > width-2 {
				lines = append(lines, line)
				line = ""
			}
			if line != "" {
				line += " "
			}
			line += word
		}
		lines = append(lines, line)
	}
	for i, l := range lines {
		lines[i] = strings.TrimRight("# "+l, " ")
	}
	return strings.Join(lines, "\n")
}

// Row is one value of a chart, for its README.
type Row struct {
	Key         string
	Type        string
	Default     string
	Description string
}

// Rows lists every value of v: the leaves of its structs (scalars, lists and maps), keyed by dotted path.
func Rows(docs Docs, v any) ([]Row, error) {
	var rows []Row
	err := rowsOf(docs, reflect.ValueOf(v), "", "", false, &rows)
	return rows, err
}

// rowsOf appends the leaves under v. Fields of list items are listed as key[].field, without defaults.
func rowsOf(docs Docs, v reflect.Value, key, doc string, item bool, rows *[]Row) error {
	if v.Kind() == reflect.Pointer {
		if v.IsNil() {
			if !item {
				return nil
			}
			v = reflect.New(v.Type().Elem())
		}
		v = v.Elem()
	}
	if v.Kind() == reflect.Struct {
		for _, f := range fields(v.Type()) {
			k := f.name
			if key != "" {
				k = key + "." + f.name
			}
			if err := rowsOf(docs, v.FieldByIndex(f.index), k, docs.of(f.owner, f), item, rows); err != nil {
				return err
			}
		}
		return nil
	}
	def, err := json.Marshal(v.Interface())
	if err != nil {
		return fmt.Errorf("%s: %w", key, err)
	}
	if (v.Kind() == reflect.Map || v.Kind() == reflect.Slice) && v.IsNil() {
		def = []byte(map[reflect.Kind]string{reflect.Map: "{}", reflect.Slice: "[]"}[v.Kind()])
	}
	typ := map[reflect.Kind]string{reflect.String: "string", reflect.Bool: "bool", reflect.Int32: "int", reflect.Int: "int",
		reflect.Int64: "int", reflect.Slice: "list", reflect.Map: "object"}[v.Kind()]
	if typ == "" {
		return fmt.Errorf("%w: %s at %s", ErrUnsupported, v.Type(), key)
	}
	row := Row{Key: key, Type: typ, Default: "`" + string(def) + "`", Description: doc}
	if item {
		row.Default = ""
	}
	if v.Kind() == reflect.Slice && v.Type().Elem().Kind() == reflect.Struct {
		row.Type = "list of objects"
		*rows = append(*rows, row)
		return rowsOf(docs, reflect.New(v.Type().Elem()).Elem(), key+"[]", "", true, rows)
	}
	if v.Kind() == reflect.Map && v.Type().Elem().Kind() == reflect.Struct {
		row.Type = "map of objects"
		*rows = append(*rows, row)
		return rowsOf(docs, reflect.New(v.Type().Elem()).Elem(), key+".<name>", "", true, rows)
	}
	*rows = append(*rows, row)
	return nil
}

// Markdown renders rows as a Markdown table.
func Markdown(rows []Row) string {
	var b strings.Builder
	b.WriteString("| Key | Type | Default | Description |\n|-----|------|---------|-------------|\n")
	esc := strings.NewReplacer("|", "\\|", "\n", " ")
	for _, r := range rows {
		fmt.Fprintf(&b, "| `%s` | %s | %s | %s |\n", r.Key, r.Type, esc.Replace(r.Default), esc.Replace(r.Description))
	}
	return b.String()
}
