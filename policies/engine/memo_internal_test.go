package engine

import (
	"maps"
	"testing"

	"github.com/open-policy-agent/opa/v1/ast"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/mpcguard/mpcguard/policies"
	"github.com/mpcguard/mpcguard/policies/vocab"
)

// compiled compiles the embedded modules, with extra ones replacing or joining them by file name.
func compiled(t *testing.T, extra map[string]string) *ast.Compiler {
	t.Helper()
	mods, err := policies.Modules()
	require.NoError(t, err)
	sources := map[string]string{}
	for _, m := range mods {
		sources[m.Name] = m.Source
	}
	maps.Copy(sources, extra)
	c, err := ast.CompileModulesWithOpt(sources, ast.CompileOpts{ParserOptions: ast.ParserOptions{RegoVersion: ast.RegoV1}})
	require.NoError(t, err)
	return c
}

// TestMemoKeysAreTheInputFieldsEachClassReads reads the embedded policies as memoKeys does and requires the
// fields a reader of the Rego finds: never the object's name for pods (so a template's pods share one
// evaluation), the namespace for sessions (their message names it), the inventory's answers wherever a policy
// consults them.
func TestMemoKeysAreTheInputFieldsEachClassReads(t *testing.T) {
	c := compiled(t, nil)
	want := map[vocab.Class][]string{
		vocab.ClassPod:      {"kind", "old_pod", "operation", "pod", "user"},
		vocab.ClassWorkload: {"break_glass_reason", "kind", "name", "old_replicas", "operation", "replicas", "template", "user"},
		vocab.ClassSession:  {"inventory", "kind", "namespace", "old_session", "operation", "session"},
		vocab.ClassBinding:  {"binding", "kind", "operation"},
		vocab.ClassConnect:  {"inventory", "kind", "operation", "subresource", "target", "user"},
		vocab.ClassStorage:  {"break_glass_reason", "claim", "kind", "name", "operation", "snapshot", "user"},
	}
	for _, class := range vocab.Classes {
		keys, why := memoKeysWhy(c, class)
		assert.Empty(t, why, "%s is memoised", class)
		assert.Equal(t, want[class], keys, "the fields %s's policies read", class)
	}
}

// TestMemoKeysGiveUpOnWhatTheyCannotFollow replaces the pod module's entry rule with uses of input that a
// field list cannot describe, or with a built-in whose answer changes by itself, and requires the pod class
// not to be memoised (and the others still to be).
func TestMemoKeysGiveUpOnWhatTheyCannotFollow(t *testing.T) {
	for name, body := range map[string]string{
		"a field chosen at evaluation":       `some k; input[k] == "Pod"`,
		"input compared whole":               `x := input; x == {"kind": "Pod"}`,
		"input handed to a built-in":         `count(input) > 0`,
		"object.get with a computed key":     `k := "kind"; object.get(input, k, "") == "Pod"`,
		"input replaced by with":             `lib.checks(input, "Pod") with input as {"kind": "Pod"}`,
		"the time":                           `time.now_ns() > 0; lib.checks(input, "Pod")`,
		"randomness":                         `rand.intn("x", 10) >= 0; lib.checks(input, "Pod")`,
		"another class's rules":              `data.mpcguard.session.session_request`,
		"a document outside the policies":    `data.other.flag`,
		"input walked into by a helper rule": `walk(input, [_, _])`,
	} {
		t.Run("gives up on "+name, func(t *testing.T) {
			src := "package mpcguard.pod\n\nimport data.mpcguard.lib\n\nextra if {\n\t" + body + "\n}\n\n" +
				"violation contains {\"policy\": \"x\", \"msg\": \"x\"} if extra\n"
			c := compiled(t, map[string]string{"custom/extra.rego": src})
			_, why := memoKeysWhy(c, vocab.ClassPod)
			assert.NotEmpty(t, why, "the pod class must not be memoised")
			t.Log(why)
			_, why = memoKeysWhy(c, vocab.ClassSession)
			assert.Empty(t, why, "the session class is untouched")
		})
	}
}

// TestMemoKeysFollowInputIntoAHelperFunctionAndAVariable adds a helper that reads a field of the request it is
// given, and a rule that reads a field of input through a variable: both fields join the pod class's key.
func TestMemoKeysFollowInputIntoAHelperFunctionAndAVariable(t *testing.T) {
	c := compiled(t, map[string]string{
		"custom/lib.rego": "package mpcguard.lib.extra\n\ndry(request) if request.dry_run == true\n",
		"custom/pod.rego": "package mpcguard.pod\n\nimport data.mpcguard.lib.extra\n\n" +
			"violation contains {\"policy\": \"x\", \"msg\": \"x\"} if extra.dry(input)\n\n" +
			"violation contains {\"policy\": \"y\", \"msg\": \"y\"} if {\n\tr := input\n\tr.subresource == \"status\"\n}\n",
	})
	keys, why := memoKeysWhy(c, vocab.ClassPod)
	require.Empty(t, why)
	assert.Contains(t, keys, "dry_run")
	assert.Contains(t, keys, "subresource")
}

// TestMemoEvictsTheLeastRecentlyUsedEntry fills a two-entry memo and requires the entry used least recently to
// be the one dropped.
func TestMemoEvictsTheLeastRecentlyUsedEntry(t *testing.T) {
	m := newMemo(2)
	a, b, c := []violation{{policy: "a"}}, []violation{{policy: "b"}}, []violation{{policy: "c"}}
	m.put([]byte("a"), a)
	m.put([]byte("b"), b)
	_, ok := m.get([]byte("a")) // a is now the most recent
	require.True(t, ok)
	m.put([]byte("c"), c)
	_, ok = m.get([]byte("b"))
	assert.False(t, ok, "b was used least recently and must be evicted")
	got, ok := m.get([]byte("a"))
	assert.True(t, ok)
	assert.Equal(t, a, got)
	got, ok = m.get([]byte("c"))
	assert.True(t, ok)
	assert.Equal(t, c, got)
	assert.Len(t, m.m, 2)
}

// TestMemoKeyFormsAreDistinctForDistinctValues prints values that a careless form would confuse (a string
// holding a number, an empty array and an empty object, a string that looks like two) and requires distinct
// keys.
func TestMemoKeyFormsAreDistinctForDistinctValues(t *testing.T) {
	values := []string{`"1"`, `1`, `[]`, `{}`, `set()`, `null`, `false`, `["a", "b"]`, `["a,b"]`, `{"a": "b"}`, `{"a": ["b"]}`,
		`"1:a"`, `["1:a"]`, `{"a": "b", "c": "d"}`, `{"a": "bc", "": "d"}`}
	seen := map[string]string{}
	for _, v := range values {
		in := ast.NewObject(item("pod", ast.MustParseTerm(v)))
		key, err := appendKey(nil, in, []string{"pod"})
		require.NoError(t, err)
		if prev, dup := seen[string(key)]; dup {
			t.Errorf("%s and %s print the same key %q", prev, v, key)
		}
		seen[string(key)] = v
	}
	reordered, err := appendKey(nil, ast.NewObject(item("pod", ast.MustParseTerm(`{"c": "d", "a": "b"}`))), []string{"pod"})
	require.NoError(t, err)
	ordered, err := appendKey(nil, ast.NewObject(item("pod", ast.MustParseTerm(`{"a": "b", "c": "d"}`))), []string{"pod"})
	require.NoError(t, err)
	assert.Equal(t, string(ordered), string(reordered), "an object's key order does not matter")
}
