package validate_test

import (
	"encoding/json"
	"path/filepath"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/mpcguard/mpcguard/internal/validate"
)

// Objects must not be missed silently: every item of a list, typed or not, and every value of a JSON stream
// is evaluated as an object of its own; whatever cannot be read is an error naming its document, line and
// item.
func TestBytesExpandsListsAndJSONStreams(t *testing.T) {
	tests := map[string]struct {
		input      string
		want       []summary
		wantErrors []located
	}{
		"expands a PodList so every pod is checked, its items being Pods as the API server writes them": {
			input: `apiVersion: v1
kind: PodList
metadata: {resourceVersion: "42"}
items:
- metadata:
    name: party-0
    namespace: mpc-system
    labels: {app.kubernetes.io/component: mpc-party, party-role: persistent}
    ownerReferences: [{apiVersion: apps/v1, kind: StatefulSet, name: party, uid: 6f1c, controller: true}]
- metadata:
    name: party-1
    namespace: mpc-system
    labels: {app.kubernetes.io/component: mpc-party}
`,
			want: []summary{
				{Source: "in", Document: 1, Line: 1, Item: "items[0]", Kind: "Pod", Namespace: "mpc-system", Name: "party-0", Reviewed: true,
					Skipped: []string{"party-persistent-origin"}},
				{Source: "in", Document: 1, Line: 1, Item: "items[1]", Kind: "Pod", Namespace: "mpc-system", Name: "party-1", Reviewed: true,
					Deny: []string{"party-role-required"}},
			},
		},
		"expands a DeploymentList and a StatefulSetList so every workload's template is checked": {
			input: `apiVersion: apps/v1
kind: DeploymentList
items:
- metadata: {name: unlabelled}
  spec:
    template:
      metadata:
        labels: {app.kubernetes.io/component: mpc-party}
---
apiVersion: apps/v1
kind: StatefulSetList
items:
- apiVersion: apps/v1
  kind: StatefulSet
  metadata: {name: misspelt}
  spec:
    template:
      metadata:
        labels: {app.kubernetes.io/component: mpc-party, party-role: Persistent}
`,
			want: []summary{
				{Source: "in", Document: 1, Line: 1, Item: "items[0]", Kind: "Deployment", Namespace: "ns", Name: "unlabelled", Reviewed: true,
					Deny: []string{"workload-party-role"}},
				{Source: "in", Document: 2, Line: 10, Item: "items[0]", Kind: "StatefulSet", Namespace: "ns", Name: "misspelt", Reviewed: true,
					Deny: []string{"workload-party-role"}},
			},
		},
		"expands an MPCSessionList so every session's numbers are checked": {
			input: `apiVersion: mpc.mpcguard.io/v1alpha1
kind: MPCSessionList
items:
- metadata: {name: sign-ok, namespace: mpc-system}
  spec: {type: sign, threshold: {t: 2, "n": 3}, composition: {persistent: 2, delegate: 1}}
- metadata: {name: sign-42, namespace: mpc-system}
  spec: {type: sign, threshold: {t: 2, "n": 3}, composition: {persistent: 1, delegate: 2}}
`,
			want: []summary{
				{Source: "in", Document: 1, Line: 1, Item: "items[0]", Kind: "MPCSession", Namespace: "mpc-system", Name: "sign-ok", Reviewed: true,
					Skipped: []string{"session-persistent-available"}},
				{Source: "in", Document: 1, Line: 1, Item: "items[1]", Kind: "MPCSession", Namespace: "mpc-system", Name: "sign-42", Reviewed: true,
					Deny: []string{"session-delegate-only-threshold"}, Skipped: []string{"session-persistent-available"}},
			},
		},
		"expands lists nested in a List, keeping the kind an item names for itself": {
			input: `apiVersion: v1
kind: List
items:
- apiVersion: v1
  kind: PodList
  items:
  - metadata: {name: inherited, labels: {app.kubernetes.io/component: mpc-party}}
  - apiVersion: v1
    kind: ConfigMap
    metadata: {name: own-kind}
- apiVersion: v1
  kind: List
  items:
  - apiVersion: v1
    kind: List
    items:
    - ` + strings.ReplaceAll(strings.TrimSpace(partyPodWithoutRole), "\n", "\n      ") + `
- apiVersion: v1
  kind: Service
  metadata: {name: svc}
`,
			want: []summary{
				{Source: "in", Document: 1, Line: 1, Item: "items[0].items[0]", Kind: "Pod", Namespace: "ns", Name: "inherited", Reviewed: true,
					Deny: []string{"party-role-required"}},
				{Source: "in", Document: 1, Line: 1, Item: "items[0].items[1]", Kind: "ConfigMap", Namespace: "ns", Name: "own-kind"},
				{Source: "in", Document: 1, Line: 1, Item: "items[1].items[0].items[0]", Kind: "Pod", Namespace: "ns", Name: "no-role", Reviewed: true,
					Deny: []string{"party-role-required"}},
				{Source: "in", Document: 1, Line: 1, Item: "items[2]", Kind: "Service", Namespace: "ns", Name: "svc"},
			},
		},
		"expands a List whatever its apiVersion": {
			input: "apiVersion: example.com/v2\nkind: List\nitems:\n- " + strings.ReplaceAll(strings.TrimSpace(partyPodWithoutRole), "\n", "\n  ") + "\n",
			want: []summary{{Source: "in", Document: 1, Line: 1, Item: "items[0]", Kind: "Pod", Namespace: "ns", Name: "no-role", Reviewed: true,
				Deny: []string{"party-role-required"}}},
		},
		"evaluates a kind that ends in List but has no items as an object of its own": {
			input: "apiVersion: example.com/v1\nkind: AllowList\nmetadata: {name: allowed}\nspec: {cidrs: [10.0.0.0/8]}\n",
			want:  []summary{{Source: "in", Document: 1, Line: 1, Kind: "AllowList", Namespace: "ns", Name: "allowed"}},
		},
		"accepts a PodList with no pods": {
			input: `{"apiVersion": "v1", "kind": "PodList", "metadata": {}, "items": []}` + "\n" +
				`{"apiVersion": "v1", "kind": "PodList", "metadata": {}, "items": null}`,
			want: []summary{},
		},
		"reads every object of a JSON stream on one line": {
			input: `{"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "a"}}{"apiVersion": "v1", "kind": "Pod", "metadata": {"name": "p", "labels": {"app.kubernetes.io/component": "mpc-party"}}}`,
			want: []summary{
				{Source: "in", Document: 1, Line: 1, Kind: "ConfigMap", Namespace: "ns", Name: "a"},
				{Source: "in", Document: 2, Line: 1, Kind: "Pod", Namespace: "ns", Name: "p", Reviewed: true, Deny: []string{"party-role-required"}},
			},
		},
		"reads every object of a JSON stream written one per line, as jq -c writes it": {
			input: `{"apiVersion":"v1","kind":"Pod","metadata":{"name":"p0","labels":{"app.kubernetes.io/component":"mpc-party","party-role":"persistent"},"ownerReferences":[{"apiVersion":"apps/v1","kind":"StatefulSet","name":"p","uid":"u","controller":true}]}}
{"apiVersion":"v1","kind":"Pod","metadata":{"name":"p1","labels":{"app.kubernetes.io/component":"mpc-party","party-role":"leader"}}}
{"apiVersion":"v1","kind":"Pod","metadata":{"name":"p2","labels":{"app.kubernetes.io/component":"mpc-party"}}}
`,
			want: []summary{
				{Source: "in", Document: 1, Line: 1, Kind: "Pod", Namespace: "ns", Name: "p0", Reviewed: true, Skipped: []string{"party-persistent-origin"}},
				{Source: "in", Document: 2, Line: 2, Kind: "Pod", Namespace: "ns", Name: "p1", Reviewed: true, Deny: []string{"party-role-valid"}},
				{Source: "in", Document: 3, Line: 3, Kind: "Pod", Namespace: "ns", Name: "p2", Reviewed: true, Deny: []string{"party-role-required"}},
			},
		},
		"reads a stream of pretty-printed JSON lists, as kubectl get -o json runs piped together write it": {
			input: `{
    "apiVersion": "v1",
    "items": [
        {
            "metadata": {"name": "party-0", "labels": {"app.kubernetes.io/component": "mpc-party"}}
        }
    ],
    "kind": "PodList",
    "metadata": {"resourceVersion": "7"}
}
# sessions
{
    "apiVersion": "v1",
    "items": [
        {
            "apiVersion": "mpc.mpcguard.io/v1alpha1",
            "kind": "MPCSession",
            "metadata": {"name": "empty", "namespace": "mpc-system"},
            "spec": {"type": "keygen", "threshold": {"t": 2, "n": 3}, "composition": {}}
        }
    ],
    "kind": "List",
    "metadata": {"resourceVersion": ""}
}
`,
			want: []summary{
				{Source: "in", Document: 1, Line: 1, Item: "items[0]", Kind: "Pod", Namespace: "ns", Name: "party-0", Reviewed: true,
					Deny: []string{"party-role-required"}},
				{Source: "in", Document: 2, Line: 12, Item: "items[0]", Kind: "MPCSession", Namespace: "mpc-system", Name: "empty", Reviewed: true,
					Deny: []string{"session-composition-nonempty"}},
			},
		},
		"reads JSON streams between --- separators and numbers their documents in order": {
			input: `{"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "a"}}
{"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "b"}}
---
apiVersion: v1
kind: ConfigMap
metadata: {name: c}
---
{"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "d"}} {"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "e"}}
`,
			want: []summary{
				{Source: "in", Document: 1, Line: 1, Kind: "ConfigMap", Namespace: "ns", Name: "a"},
				{Source: "in", Document: 2, Line: 2, Kind: "ConfigMap", Namespace: "ns", Name: "b"},
				{Source: "in", Document: 3, Line: 4, Kind: "ConfigMap", Namespace: "ns", Name: "c"},
				{Source: "in", Document: 4, Line: 8, Kind: "ConfigMap", Namespace: "ns", Name: "d"},
				{Source: "in", Document: 5, Line: 8, Kind: "ConfigMap", Namespace: "ns", Name: "e"},
			},
		},
		"splits documents at a --- followed by a tab": {
			input: "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: a}\n---\t# next\n" + partyPodWithoutRole,
			want: []summary{
				{Source: "in", Document: 1, Line: 1, Kind: "ConfigMap", Namespace: "ns", Name: "a"},
				{Source: "in", Document: 2, Line: 5, Kind: "Pod", Namespace: "ns", Name: "no-role", Reviewed: true, Deny: []string{"party-role-required"}},
			},
		},
		"reports a document that is a JSON array of objects": {
			input: `[{"apiVersion": "v1", "kind": "Pod", "metadata": {"name": "p"}}]`,
			want:  []summary{},
			wantErrors: []located{{Source: "in", Document: 1, Line: 1,
				ErrorContains: "in: document 1 (line 1): not a Kubernetes object: the document is a sequence (JSON array), not a mapping with apiVersion and kind"}},
		},
		"reports a JSON scalar after an object of a stream": {
			input: "{\"apiVersion\": \"v1\", \"kind\": \"ConfigMap\", \"metadata\": {\"name\": \"a\"}}\n42\n",
			want:  []summary{{Source: "in", Document: 1, Line: 1, Kind: "ConfigMap", Namespace: "ns", Name: "a"}},
			wantErrors: []located{{Source: "in", Document: 2, Line: 2,
				ErrorContains: "in: document 2 (line 2): not a Kubernetes object: the document is a number"}},
		},
		"reports trailing garbage after a JSON object and still evaluates the object": {
			input: `{"apiVersion": "v1", "kind": "Pod", "metadata": {"name": "p", "labels": {"app.kubernetes.io/component": "mpc-party"}}}
  garbage`,
			want: []summary{{Source: "in", Document: 1, Line: 1, Kind: "Pod", Namespace: "ns", Name: "p", Reviewed: true, Deny: []string{"party-role-required"}}},
			wantErrors: []located{{Source: "in", Document: 2, Line: 2,
				ErrorContains: "in: document 2 (line 2): malformed YAML or JSON: line 2: after the JSON value that ends on line 1: invalid character 'g'"}},
		},
		"reports a JSON object cut short after a complete one": {
			input: "{\"apiVersion\": \"v1\", \"kind\": \"ConfigMap\", \"metadata\": {\"name\": \"a\"}}\n{\n  \"apiVersion\": \"v1\",\n  \"kind\": ",
			want:  []summary{{Source: "in", Document: 1, Line: 1, Kind: "ConfigMap", Namespace: "ns", Name: "a"}},
			wantErrors: []located{{Source: "in", Document: 2, Line: 2,
				ErrorContains: "malformed YAML or JSON: line 2: after the JSON value that ends on line 1: unexpected EOF"}},
		},
		"reports content after a YAML document end marker instead of dropping it": {
			input:      "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: a}\n...\n" + partyPodWithoutRole,
			want:       []summary{},
			wantErrors: []located{{Source: "in", Document: 1, Line: 1, ErrorContains: "malformed YAML or JSON: yaml: line 4: "}},
		},
		"reports a second document in a file with CR line ends instead of dropping it": {
			input: "apiVersion: v1\rkind: ConfigMap\rmetadata: {name: a}\r---\r" + strings.ReplaceAll(partyPodWithoutRole, "\n", "\r"),
			want:  []summary{},
			wantErrors: []located{{Source: "in", Document: 1, Line: 1,
				ErrorContains: "malformed YAML or JSON: line 5: a second document starts here, with no line of --- before it"}},
		},
		"reports the items of a List that are not objects by their index and evaluates the others": {
			input: `apiVersion: v1
kind: List
items:
- just text
- 3
- null
- [a, b]
- {}
- ` + strings.ReplaceAll(strings.TrimSpace(partyPodWithoutRole), "\n", "\n  ") + `
`,
			want: []summary{{Source: "in", Document: 1, Line: 1, Item: "items[5]", Kind: "Pod", Namespace: "ns", Name: "no-role", Reviewed: true,
				Deny: []string{"party-role-required"}}},
			wantErrors: []located{
				{Source: "in", Document: 1, Line: 1, Item: "items[0]", ErrorContains: `in: document 1 (line 1): items[0]: not a Kubernetes object: the item is a string, "just text", not a mapping`},
				{Source: "in", Document: 1, Line: 1, Item: "items[1]", ErrorContains: "items[1]: not a Kubernetes object: the item is a number"},
				{Source: "in", Document: 1, Line: 1, Item: "items[2]", ErrorContains: "items[2]: not a Kubernetes object: the item is null"},
				{Source: "in", Document: 1, Line: 1, Item: "items[3]", ErrorContains: "items[3]: not a Kubernetes object: the item is a sequence"},
				{Source: "in", Document: 1, Line: 1, Item: "items[4]", ErrorContains: "items[4]: not a Kubernetes object: apiVersion and kind are required (the items of a List do not inherit them)"},
			},
		},
		"reports the items of a list that are not a sequence": {
			input: "apiVersion: v1\nkind: PodList\nitems: {metadata: {name: p}}\n",
			want:  []summary{},
			wantErrors: []located{{Source: "in", Document: 1, Line: 1,
				ErrorContains: "not a Kubernetes object: the items of v1 PodList are a mapping (JSON object), not a sequence of objects"}},
		},
		"reports an item of a PodList that names its kind but not its apiVersion": {
			input: "apiVersion: v1\nkind: PodList\nitems:\n- {kind: Pod, metadata: {name: p}}\n- {metadata: {name: q}}\n",
			want:  []summary{{Source: "in", Document: 1, Line: 1, Item: "items[1]", Kind: "Pod", Namespace: "ns", Name: "q", Reviewed: true}},
			wantErrors: []located{{Source: "in", Document: 1, Line: 1, Item: "items[0]",
				ErrorContains: "items[0]: not a Kubernetes object: apiVersion and kind are required (an item of a PodList is a v1 Pod only when it names neither)"}},
		},
		"reports an apiVersion that is not a string": {
			input: "apiVersion: 1\nkind: Pod\nmetadata: {name: p}\n",
			want:  []summary{},
			wantErrors: []located{{Source: "in", Document: 1, Line: 1,
				ErrorContains: "not a Kubernetes object: apiVersion is a number, not a string"}},
		},
		"reports an MPCSession item that cannot be decoded by its index": {
			input: `apiVersion: mpc.mpcguard.io/v1alpha1
kind: MPCSessionList
items:
- metadata: {name: ok}
  spec: {type: sign, threshold: {t: 2, "n": 3}}
- metadata: {name: bad, labels: {team: [a]}}
  spec: {type: sign, threshold: {t: 2, "n": 3}}
`,
			want: []summary{{Source: "in", Document: 1, Line: 1, Item: "items[0]", Kind: "MPCSession", Namespace: "ns", Name: "ok", Reviewed: true,
				Skipped: []string{"session-persistent-available"}}},
			wantErrors: []located{{Source: "in", Document: 1, Line: 1, Item: "items[1]",
				ErrorContains: "in: document 1 (line 1): items[1]: cannot decode object: MPCSession object: metadata.labels.team: want a string, got array"}},
		},
		"denies an MPCSession item whose spec the schema would refuse, by its index": {
			input: `apiVersion: mpc.mpcguard.io/v1alpha1
kind: MPCSessionList
items:
- metadata: {name: ok}
  spec: {type: sign, threshold: {t: 2, "n": 3}}
- metadata: {name: bad}
  spec: {type: sign, threshold: {t: 2, "n": 3, "N": 4}}
`,
			want: []summary{
				{Source: "in", Document: 1, Line: 1, Item: "items[0]", Kind: "MPCSession", Namespace: "ns", Name: "ok", Reviewed: true,
					Skipped: []string{"session-persistent-available"}},
				{Source: "in", Document: 1, Line: 1, Item: "items[1]", Kind: "MPCSession", Namespace: "ns", Name: "bad", Reviewed: true,
					Deny: []string{"session-spec-valid"}, Skipped: []string{"session-persistent-available"}},
			},
		},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			rep := validator(t, "ns").Bytes(t.Context(), "in", []byte(tc.input))
			assertLocated(t, tc.wantErrors, rep.Errors)
			assert.Empty(t, rep.Warnings)
			assert.Equal(t, tc.want, summarize(rep.Objects))
		})
	}
}

func TestBytesErrorsWrapTheirCause(t *testing.T) {
	tests := map[string]struct {
		input string
		want  error
	}{
		"an item that is not an object is ErrNotObject": {input: "apiVersion: v1\nkind: List\nitems: [x]\n", want: validate.ErrNotObject},
		"a document without kind is ErrNotObject":       {input: "apiVersion: v1\nmetadata: {name: x}\n", want: validate.ErrNotObject},
		"trailing garbage after JSON is ErrMalformed":   {input: `{"apiVersion": "v1", "kind": "ConfigMap"} }`, want: validate.ErrMalformed},
		"a YAML syntax error is ErrMalformed":           {input: "a: [\n", want: validate.ErrMalformed},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			rep := validator(t, "ns").Bytes(t.Context(), "in", []byte(tc.input))
			require.Len(t, rep.Errors, 1)
			assert.ErrorIs(t, rep.Errors[0], tc.want)
		})
	}
}

func TestReportJSONNamesTheItem(t *testing.T) {
	rep := validator(t, "ns").Bytes(t.Context(), "in", []byte("apiVersion: v1\nkind: PodList\nitems:\n- 1\n- metadata: {name: p}\n"))
	b, err := json.Marshal(rep)
	require.NoError(t, err)
	var got struct {
		Objects []map[string]any `json:"objects"`
		Errors  []map[string]any `json:"errors"`
	}
	require.NoError(t, json.Unmarshal(b, &got))
	require.Len(t, got.Objects, 1)
	assert.Equal(t, "items[1]", got.Objects[0]["item"])
	require.Len(t, got.Errors, 1)
	assert.Equal(t, "items[0]", got.Errors[0]["item"])
	assert.Equal(t, "in: document 1 (line 1): items[0]: not a Kubernetes object: the item is a number, not a mapping with apiVersion and kind",
		got.Errors[0]["error"])

	// A document that is the object itself has no item.
	rep = validator(t, "ns").Bytes(t.Context(), "in", []byte("apiVersion: v1\nkind: ConfigMap\nmetadata: {name: c}\n"))
	b, err = json.Marshal(rep.Objects[0])
	require.NoError(t, err)
	assert.NotContains(t, string(b), `"item"`)
}

// What a cluster hands out: a PodList straight from the API server (items without kind), followed in the same
// file by kubectl's List of sessions, as `kubectl get --raw /api/v1/pods; kubectl get mpcsessions -o json`
// writes them.
func TestPathsReadsAPIListsInAJSONStream(t *testing.T) {
	file := filepath.Join("testdata", "cluster-dump.json")
	rep := validator(t, "default").Paths(t.Context(), []string{file}, nil)
	assert.Empty(t, rep.Errors)
	assert.Equal(t, []summary{
		{Source: file, Document: 1, Line: 1, Item: "items[0]", Kind: "Pod", Namespace: "mpc-system", Name: "mpc-party-persistent-0", Reviewed: true,
			Skipped: []string{"party-persistent-origin"}},
		{Source: file, Document: 1, Line: 1, Item: "items[1]", Kind: "Pod", Namespace: "mpc-system", Name: "mpc-party-delegate-7d9f8-x2k4q", Reviewed: true},
		{Source: file, Document: 1, Line: 1, Item: "items[2]", Kind: "Pod", Namespace: "mpc-system", Name: "stray-party", Reviewed: true,
			Deny: []string{"party-role-required"}},
		{Source: file, Document: 2, Line: 67, Item: "items[0]", Kind: "MPCSession", Namespace: "mpc-system", Name: "sign-42", Reviewed: true,
			Deny: []string{"session-delegate-only-threshold"}, Skipped: []string{"session-persistent-available"}},
	}, summarize(rep.Objects))
	assert.Equal(t, 2, rep.Denied())
}
