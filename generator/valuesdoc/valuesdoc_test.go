package valuesdoc_test

import (
	"encoding/json"
	"os"
	"reflect"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/mpcguard/mpcguard/generator/valuesdoc"
)

type inner struct {
	// How big.
	Size string `json:"size" pattern:"^[0-9]+Gi$"`
}

type example struct {
	// The name.
	Name string `json:"name" enum:"a,b"`
	// How many.
	Count int32  `json:"count" minimum:"1" maximum:"3"`
	Tag   string `json:"tag" not:"latest"`
	// A key YAML 1.1 reads as false.
	N      bool              `json:"n"`
	Labels map[string]string `json:"labels" keys:"x,y"`
	// Some items.
	Items   []inner  `json:"items"`
	Maybe   *inner   `json:"maybe,omitempty"`
	Nothing []string `json:"nothing"`
}

// docs are the doc comments of this file's types, read as docgen reads values.go.
func docs(t *testing.T) valuesdoc.Docs {
	t.Helper()
	src, err := os.ReadFile("valuesdoc_test.go")
	require.NoError(t, err)
	d, err := valuesdoc.ExtractDocs(src)
	require.NoError(t, err)
	return d
}

type Extras struct {
	// Free-form.
	Affinity map[string]any `json:"affinity"`
	// Tolerations.
	Tolerations []map[string]any `json:"tolerations"`
}

type withMaps struct {
	// Pools by name.
	Pools  map[string]inner `json:"pools" keyPattern:"^[a-z]+$" maxLength:"5"`
	Extras `json:",inline" optional:"true"`
}

func TestMapsOfObjectsFreeFormAndOptional(t *testing.T) {
	s, err := valuesdoc.SchemaFor(docs(t), reflect.TypeOf(withMaps{}), "")
	require.NoError(t, err)
	assert.Equal(t, []string{"pools"}, s.Required, "the inline fields are optional")
	pools := s.Properties["pools"]
	assert.Equal(t, "^[a-z]+$", pools.PropertyNames.Pattern)
	assert.EqualValues(t, 5, *pools.PropertyNames.MaxLength)
	assert.Equal(t, false, pools.AdditionalProperties.(*valuesdoc.Schema).AdditionalProperties, "each pool is closed")
	assert.Equal(t, &valuesdoc.Schema{}, s.Properties["affinity"].AdditionalProperties, "free-form")
	assert.Equal(t, "Free-form.", s.Properties["affinity"].Description)
	rows, err := valuesdoc.Rows(docs(t), withMaps{Pools: map[string]inner{"a": {Size: "1Gi"}}})
	require.NoError(t, err)
	require.Len(t, rows, 4)
	assert.Equal(t, "pools.<name>.size", rows[1].Key)
	assert.Equal(t, "`{}`", rows[2].Default, "a nil map is shown as {}")
}

func TestSchemaFor(t *testing.T) {
	s, err := valuesdoc.SchemaFor(docs(t), reflect.TypeOf(example{}), "Example")
	require.NoError(t, err)
	raw, err := s.JSON()
	require.NoError(t, err)
	var got map[string]any
	require.NoError(t, json.Unmarshal(raw, &got))
	want := map[string]any{
		"$schema":              "http://json-schema.org/draft-07/schema#",
		"title":                "Example",
		"type":                 "object",
		"additionalProperties": false,
		"required":             []any{"name", "count", "tag", "n", "labels", "items", "nothing"},
		"properties": map[string]any{
			"name":   map[string]any{"type": "string", "description": "The name.", "enum": []any{"a", "b"}},
			"count":  map[string]any{"type": "integer", "description": "How many.", "minimum": 1.0, "maximum": 3.0},
			"tag":    map[string]any{"type": "string", "not": map[string]any{"const": "latest"}},
			"n":      map[string]any{"type": "boolean", "description": "A key YAML 1.1 reads as false."},
			"labels": map[string]any{"type": "object", "additionalProperties": map[string]any{"type": "string"}, "propertyNames": map[string]any{"enum": []any{"x", "y"}}},
			"items": map[string]any{"type": "array", "description": "Some items.", "items": map[string]any{
				"type": "object", "additionalProperties": false, "required": []any{"size"},
				"properties": map[string]any{"size": map[string]any{"type": "string", "description": "How big.", "pattern": "^[0-9]+Gi$"}},
			}},
			"maybe": map[string]any{
				"type": "object", "additionalProperties": false, "required": []any{"size"},
				"properties": map[string]any{"size": map[string]any{"type": "string", "description": "How big.", "pattern": "^[0-9]+Gi$"}},
			},
			"nothing": map[string]any{"type": "array", "items": map[string]any{"type": "string"}},
		},
	}
	assert.Equal(t, want, got)
}

func TestYAML(t *testing.T) {
	v := example{Name: "a", Count: 2, Tag: "1.0", N: true, Labels: map[string]string{"y": "2", "x": "1"}, Items: []inner{{Size: "1Gi"}}}
	out, err := valuesdoc.YAML(docs(t), v, "Header.", 40)
	require.NoError(t, err)
	assert.Equal(t, `# Header.
# The name.
name: a
# How many.
count: 2
tag: "1.0"
# A key YAML 1.1 reads as false.
"n": true
labels:
  x: "1"
  "y": "2"
# Some items.
items:
  - size: 1Gi
nothing: []
`, string(out))
}

func TestRows(t *testing.T) {
	rows, err := valuesdoc.Rows(docs(t), example{Name: "a", Items: []inner{{Size: "1Gi"}}})
	require.NoError(t, err)
	keys := make([]string, len(rows))
	for i, r := range rows {
		keys[i] = r.Key
	}
	assert.Equal(t, []string{"name", "count", "tag", "n", "labels", "items", "items[].size", "nothing"}, keys)
	assert.Equal(t, valuesdoc.Row{Key: "items[].size", Type: "string", Description: "How big."}, rows[6])
	assert.Equal(t, "`\"a\"`", rows[0].Default)
	assert.Contains(t, valuesdoc.Markdown(rows), "| `count` | int | `0` | How many. |")
}
