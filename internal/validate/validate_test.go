package validate_test

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/mpcguard/mpcguard/internal/validate"
	"github.com/mpcguard/mpcguard/policies/engine"
)

var sharedEngine = sync.OnceValues(func() (*engine.Engine, error) {
	return engine.New(context.Background(), engine.DefaultConfig(), nil)
})

func validator(t testing.TB, namespace string) validate.Validator {
	t.Helper()
	eng, err := sharedEngine()
	require.NoError(t, err)
	return validate.Validator{Engine: eng, Namespace: namespace}
}

// summary is what a test cares about of an object: where it is, what it is, and which policies denied,
// warned or skipped it.
type summary struct {
	Source, Item, Kind, Namespace, Name string
	Document, Line                      int
	Reviewed                            bool
	Deny, Warn, Skipped                 []string
}

func summarize(objs []validate.Object) []summary {
	out := []summary{}
	for _, o := range objs {
		s := summary{Source: o.Source, Document: o.Document, Line: o.Line, Item: o.Item, Kind: o.Kind,
			Namespace: o.Namespace, Name: o.Name, Reviewed: o.Reviewed}
		for _, r := range o.Deny {
			s.Deny = append(s.Deny, r.Policy)
		}
		for _, r := range o.Warn {
			s.Warn = append(s.Warn, r.Policy)
		}
		for _, r := range o.Skipped {
			s.Skipped = append(s.Skipped, r.Policy)
		}
		out = append(out, s)
	}
	return out
}

// located is where an error or warning is reported, and a part of its message.
type located struct {
	Source        string
	Document      int
	Line          int
	Item          string
	ErrorContains string
}

func assertLocated(t *testing.T, want []located, got []*validate.InputError) {
	t.Helper()
	require.Len(t, got, len(want), "%v", got)
	for i, w := range want {
		assert.Equal(t, w.Source, got[i].Source, "[%d] source", i)
		assert.Equal(t, w.Document, got[i].Document, "[%d] document", i)
		assert.Equal(t, w.Line, got[i].Line, "[%d] line", i)
		assert.Equal(t, w.Item, got[i].Item, "[%d] item", i)
		assert.Contains(t, got[i].Error(), w.ErrorContains, "[%d]", i)
		assert.Equal(t, got[i].Error(), got[i].Message, "[%d] the JSON message is the error text", i)
	}
}

const partyPodWithoutRole = `apiVersion: v1
kind: Pod
metadata:
  name: no-role
  labels:
    app.kubernetes.io/component: mpc-party
`

func TestBytesMultiDocumentYAML(t *testing.T) {
	manifest := `# Source: mpc-system/templates/party.yaml
apiVersion: v1
kind: Pod
metadata:
  name: good
  namespace: mpc-system
  labels: {app.kubernetes.io/component: mpc-party, party-role: persistent}
  ownerReferences: [{apiVersion: apps/v1, kind: StatefulSet, name: mpc-party, uid: 6f1c, controller: true}]
---
# a document of comments only
# is skipped
---
---
` + partyPodWithoutRole + `---   
apiVersion: v1
kind: ConfigMap
metadata: {name: cfg}
data:
  separator: "---"
--- # a separator with a comment
apiVersion: mpc.mpcguard.io/v1alpha1
kind: MPCSession
metadata:
  name: sign-42
spec:
  type: sign
  threshold: {t: 2, "n": 3}
  composition: {persistent: 2, delegate: 1}

`
	rep := validator(t, "team-a").Bytes(t.Context(), "manifest.yaml", []byte(manifest))
	assert.Empty(t, rep.Errors)
	assert.Empty(t, rep.Warnings)
	assert.Equal(t, []summary{
		// Offline, nobody sends the pod: the check of its creator is skipped, never passed.
		{Source: "manifest.yaml", Document: 1, Line: 1, Kind: "Pod", Namespace: "mpc-system", Name: "good", Reviewed: true,
			Skipped: []string{"party-persistent-origin"}},
		{Source: "manifest.yaml", Document: 2, Line: 14, Kind: "Pod", Namespace: "team-a", Name: "no-role", Reviewed: true,
			Deny: []string{"party-role-required"}},
		{Source: "manifest.yaml", Document: 3, Line: 21, Kind: "ConfigMap", Namespace: "team-a", Name: "cfg"},
		{Source: "manifest.yaml", Document: 4, Line: 27, Kind: "MPCSession", Namespace: "team-a", Name: "sign-42", Reviewed: true,
			Skipped: []string{"session-persistent-available"}},
	}, summarize(rep.Objects))
	assert.Equal(t, 1, rep.Denied())
	require.Len(t, rep.Objects[1].Deny, 1)
	assert.Equal(t, "[party-role-required] Pod team-a/no-role: party pod (app.kubernetes.io/component=mpc-party) has no party-role label; add party-role with one of persistent, delegate, temporary",
		rep.Objects[1].Deny[0].Message)
}

func TestBytesCRLFLineEndings(t *testing.T) {
	manifest := strings.ReplaceAll(partyPodWithoutRole+"---\n"+strings.ReplaceAll(partyPodWithoutRole, "no-role", "second"), "\n", "\r\n")
	rep := validator(t, "default").Bytes(t.Context(), "crlf.yaml", []byte(manifest))
	assert.Empty(t, rep.Errors)
	assert.Equal(t, []summary{
		{Source: "crlf.yaml", Document: 1, Line: 1, Kind: "Pod", Namespace: "default", Name: "no-role", Reviewed: true, Deny: []string{"party-role-required"}},
		{Source: "crlf.yaml", Document: 2, Line: 8, Kind: "Pod", Namespace: "default", Name: "second", Reviewed: true, Deny: []string{"party-role-required"}},
	}, summarize(rep.Objects))
}

func TestBytesJSON(t *testing.T) {
	tests := map[string]struct {
		input string
		want  []summary
	}{
		"reads a JSON session and evaluates its numbers": {
			input: `{
  "apiVersion": "mpc.mpcguard.io/v1alpha1",
  "kind": "MPCSession",
  "metadata": {"name": "sign-42", "namespace": "mpc-system"},
  "spec": {"type": "sign", "threshold": {"t": 2, "n": 3}, "composition": {"persistent": 1, "delegate": 2}}
}`,
			want: []summary{{Source: "in.json", Document: 1, Line: 1, Kind: "MPCSession", Namespace: "mpc-system", Name: "sign-42", Reviewed: true,
				Deny: []string{"session-delegate-only-threshold"}, Skipped: []string{"session-persistent-available"}}},
		},
		"reads tab-indented JSON": {
			input: "{\n\t\"apiVersion\": \"v1\",\n\t\"kind\": \"Pod\",\n\t\"metadata\": {\n\t\t\"name\": \"p\",\n\t\t\"labels\": {\"app.kubernetes.io/component\": \"mpc-party\", \"party-role\": \"Delegate\"}\n\t}\n}\n",
			want: []summary{{Source: "in.json", Document: 1, Line: 1, Kind: "Pod", Namespace: "ns", Name: "p", Reviewed: true,
				Deny: []string{"party-role-valid"}}},
		},
		"reads single-line JSON": {
			input: `{"apiVersion":"apps/v1","kind":"Deployment","metadata":{"name":"d"},"spec":{"template":{"metadata":{"labels":{"app.kubernetes.io/component":"mpc-party"}}}}}`,
			want: []summary{{Source: "in.json", Document: 1, Line: 1, Kind: "Deployment", Namespace: "ns", Name: "d", Reviewed: true,
				Deny: []string{"workload-party-role"}}},
		},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			rep := validator(t, "ns").Bytes(t.Context(), "in.json", []byte(tc.input))
			assert.Empty(t, rep.Errors)
			assert.Empty(t, rep.Warnings)
			assert.Equal(t, tc.want, summarize(rep.Objects))
		})
	}
}

func TestBytesList(t *testing.T) {
	tests := map[string]struct {
		input      string
		want       []summary
		wantErrors []located
	}{
		"evaluates every item of a List": {
			input: `apiVersion: v1
kind: List
items:
- ` + strings.ReplaceAll(strings.TrimSpace(partyPodWithoutRole), "\n", "\n  ") + `
- apiVersion: mpc.mpcguard.io/v1alpha1
  kind: MPCSession
  metadata: {name: s, namespace: other}
  spec: {type: sign, threshold: {t: 0, "n": 3}}
- apiVersion: v1
  kind: Service
  metadata: {name: svc}
`,
			want: []summary{
				{Source: "list.yaml", Document: 1, Line: 1, Item: "items[0]", Kind: "Pod", Namespace: "ns", Name: "no-role", Reviewed: true, Deny: []string{"party-role-required"}},
				{Source: "list.yaml", Document: 1, Line: 1, Item: "items[1]", Kind: "MPCSession", Namespace: "other", Name: "s", Reviewed: true,
					Deny: []string{"session-threshold-range"}, Skipped: []string{"session-persistent-available"}},
				{Source: "list.yaml", Document: 1, Line: 1, Item: "items[2]", Kind: "Service", Namespace: "ns", Name: "svc"},
			},
		},
		"reports a List item without kind by its index and still evaluates the others": {
			input: `apiVersion: v1
kind: ConfigMap
metadata: {name: first}
---
apiVersion: v1
kind: List
items:
- {apiVersion: v1, metadata: {name: kindless}}
- {apiVersion: v1, kind: Pod, metadata: {name: p, labels: {app.kubernetes.io/component: mpc-party}}}
`,
			want: []summary{
				{Source: "list.yaml", Document: 1, Line: 1, Kind: "ConfigMap", Namespace: "ns", Name: "first"},
				{Source: "list.yaml", Document: 2, Line: 5, Item: "items[1]", Kind: "Pod", Namespace: "ns", Name: "p", Reviewed: true, Deny: []string{"party-role-required"}},
			},
			wantErrors: []located{{Source: "list.yaml", Document: 2, Line: 5, Item: "items[0]", ErrorContains: "list.yaml: document 2 (line 5): items[0]: not a Kubernetes object: apiVersion and kind are required"}},
		},
		"accepts an empty List": {
			input: "apiVersion: v1\nkind: List\nitems: []\n",
			want:  []summary{},
		},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			rep := validator(t, "ns").Bytes(t.Context(), "list.yaml", []byte(tc.input))
			assertLocated(t, tc.wantErrors, rep.Errors)
			assert.Equal(t, tc.want, summarize(rep.Objects))
		})
	}
}

func TestBytesErrorsNameFileDocumentAndLine(t *testing.T) {
	tests := map[string]struct {
		input      string
		wantErrors []located
		wantNames  []string // objects still evaluated
	}{
		"reports a document without kind and evaluates the next ones": {
			input: `apiVersion: v1
kind: ConfigMap
metadata: {name: before}
---
# kind is missing
apiVersion: v1
metadata: {name: kindless}
---
apiVersion: v1
kind: ConfigMap
metadata: {name: after}
`,
			wantErrors: []located{{Source: "in.yaml", Document: 2, Line: 5,
				ErrorContains: "in.yaml: document 2 (line 5): not a Kubernetes object: apiVersion and kind are required"}},
			wantNames: []string{"before", "after"},
		},
		"reports a document without apiVersion": {
			input: "kind: Pod\nmetadata: {name: p}\n",
			wantErrors: []located{{Source: "in.yaml", Document: 1, Line: 1,
				ErrorContains: "apiVersion and kind are required"}},
			wantNames: []string{},
		},
		"reports a YAML syntax error at the file's absolute line": {
			input: `apiVersion: v1
kind: ConfigMap
metadata: {name: before}
---
apiVersion: v1
kind: Pod
metadata:
  name: broken
    labels: : x
---
apiVersion: v1
kind: ConfigMap
metadata: {name: after}
`,
			wantErrors: []located{{Source: "in.yaml", Document: 2, Line: 5, ErrorContains: "line 9:"}},
			wantNames:  []string{"before", "after"},
		},
		"reports a duplicate key": {
			input: `apiVersion: v1
kind: ConfigMap
metadata: {name: before}
---
apiVersion: v1
kind: Pod
metadata:
  name: twice
  labels:
    party-role: persistent
    party-role: delegate
`,
			wantErrors: []located{{Source: "in.yaml", Document: 2, Line: 5,
				ErrorContains: `line 11: mapping key "party-role" already defined at line 10`}},
			wantNames: []string{"before"},
		},
		"reports a duplicate key in JSON": {
			input:      `{"apiVersion": "v1", "kind": "Pod", "kind": "Service", "metadata": {"name": "p"}}`,
			wantErrors: []located{{Source: "in.yaml", Document: 1, Line: 1, ErrorContains: `mapping key "kind" already defined`}},
			wantNames:  []string{},
		},
		"reports a document that is a list": {
			input:      "- apiVersion: v1\n  kind: Pod\n",
			wantErrors: []located{{Source: "in.yaml", Document: 1, Line: 1, ErrorContains: "not a Kubernetes object"}},
			wantNames:  []string{},
		},
		"reports a document that is a scalar": {
			input:      "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: ok}\n---\njust text\n",
			wantErrors: []located{{Source: "in.yaml", Document: 2, Line: 5, ErrorContains: "not a Kubernetes object"}},
			wantNames:  []string{"ok"},
		},
		"reports an apiVersion that is not group/version": {
			input:      "apiVersion: a/b/c\nkind: Pod\nmetadata: {name: p}\n",
			wantErrors: []located{{Source: "in.yaml", Document: 1, Line: 1, ErrorContains: `apiVersion "a/b/c"`}},
			wantNames:  []string{},
		},
		"reports an MPCSession whose label is not a string": {
			input: `apiVersion: v1
kind: ConfigMap
metadata: {name: before}
---
apiVersion: mpc.mpcguard.io/v1alpha1
kind: MPCSession
metadata: {name: sign-42, labels: {team: [a, b]}}
spec:
  type: sign
  threshold: {t: 2, "n": 3}
`,
			wantErrors: []located{{Source: "in.yaml", Document: 2, Line: 5, ErrorContains: "metadata.labels.team: want a string, got array"}},
			wantNames:  []string{"before"},
		},
		"reports a null mapping key by its path": {
			input:      "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: m}\ndata:\n  ~: c\n",
			wantErrors: []located{{Source: "in.yaml", Document: 1, Line: 1, ErrorContains: "data: mapping key <nil> (<nil>) cannot be a JSON object key"}},
			wantNames:  []string{},
		},
		"reports a sequence used as a mapping key": {
			input:      "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: m}\ndata:\n  [a, b]: c\n",
			wantErrors: []located{{Source: "in.yaml", Document: 1, Line: 1, ErrorContains: "invalid map key"}},
			wantNames:  []string{},
		},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			rep := validator(t, "ns").Bytes(t.Context(), "in.yaml", []byte(tc.input))
			assertLocated(t, tc.wantErrors, rep.Errors)
			names := []string{}
			for _, o := range rep.Objects {
				names = append(names, o.Name)
			}
			assert.Equal(t, tc.wantNames, names)
		})
	}
}

func TestBytesErrorUnwrapsToThePolicyError(t *testing.T) {
	rep := validator(t, "ns").Bytes(t.Context(), "s.yaml", []byte(`apiVersion: mpc.mpcguard.io/v1alpha1
kind: MPCSession
metadata: {name: s, labels: {team: 7}}
spec: {type: sign, threshold: {t: 2, "n": 3}}
`))
	require.Len(t, rep.Errors, 1)
	assert.ErrorIs(t, rep.Errors[0], engine.ErrDecode)
	assert.Empty(t, rep.Objects)
}

// The schema is not trusted: a spec it would refuse is read as written and judged by session-spec-valid, so
// offline validation says what is wrong with it instead of failing to read it.
func TestBytesJudgesASessionSpecTheSchemaWouldRefuse(t *testing.T) {
	rep := validator(t, "ns").Bytes(t.Context(), "s.yaml", []byte(`apiVersion: mpc.mpcguard.io/v1alpha1
kind: MPCSession
metadata: {name: s}
spec: {type: sign, threshold: {t: two, "n": 3}, delegates: 2}
`))
	assert.Empty(t, rep.Errors)
	require.Len(t, rep.Objects, 1)
	assert.Equal(t, []summary{{Source: "s.yaml", Document: 1, Line: 1, Kind: "MPCSession", Namespace: "ns", Name: "s", Reviewed: true,
		Deny: []string{"session-spec-valid", "session-threshold-range"}, Skipped: []string{"session-persistent-available"}}},
		summarize(rep.Objects))
	assert.Equal(t, "[session-spec-valid] MPCSession ns/s: spec.threshold.t is two, not a whole number from 1; "+
		"unknown field spec.delegates (fields are case-sensitive: type, threshold, composition); write the spec as the MPCSession CRD defines it",
		rep.Objects[0].Deny[0].Message)
	assert.Equal(t, 2, rep.Denied(), "one denial per violated policy")
}

func TestBytesWarnsAboutYAML11BooleanKeys(t *testing.T) {
	manifest := `apiVersion: v1
kind: ConfigMap
metadata: {name: first}
---
apiVersion: mpc.mpcguard.io/v1alpha1
kind: MPCSession
metadata:
  name: sign-42
  namespace: mpc-system
spec:
  type: sign
  threshold:
    t: 2
    n: 3
  composition:
    persistent: 1
    delegate: 2
`
	rep := validator(t, "ns").Bytes(t.Context(), "session.yaml", []byte(manifest))
	assert.Empty(t, rep.Errors)
	assertLocated(t, []located{{Source: "session.yaml", Document: 2, Line: 14,
		ErrorContains: `session.yaml: document 2 (line 14): key n is a boolean in YAML 1.1: kubectl and Helm would send it as "false"; quote it ("n")`}},
		rep.Warnings)

	// t and n are still read as numbers: the delegates reach t=2, and the composition adds up to n=3.
	require.Len(t, rep.Objects, 2)
	s := rep.Objects[1]
	require.Len(t, s.Deny, 1, "%+v", s.Deny)
	assert.Equal(t, "[session-delegate-only-threshold] MPCSession mpc-system/sign-42: 2 delegate + 0 temporary parties could reach the signing threshold t=2 without a persistent party; use at most 1 non-persistent party or raise t",
		s.Deny[0].Message)
	assert.Equal(t, []string{"session-persistent-available"}, summarize(rep.Objects)[1].Skipped)
}

func TestBytesBooleanKeyWarnings(t *testing.T) {
	tests := map[string]struct {
		data      string // the ConfigMap's data block, from line 4
		wantLines []int
		wantText  []string
	}{
		"warns about y, on and yes as true": {
			data:      "data:\n  y: a\n  on: b\n  yes: c\n",
			wantLines: []int{5, 6, 7},
			wantText:  []string{`key y is a boolean in YAML 1.1: kubectl and Helm would send it as "true"`, `key on is a boolean`, `key yes is a boolean`},
		},
		"warns about N, No and OFF as false": {
			data:      "data:\n  N: a\n  No: b\n  OFF: c\n",
			wantLines: []int{5, 6, 7},
			wantText:  []string{`key N is a boolean in YAML 1.1: kubectl and Helm would send it as "false"`, `key No is a boolean`, `key OFF is a boolean`},
		},
		"does not warn about quoted keys": {
			data: "data:\n  \"n\": a\n  'y': b\n",
		},
		"does not warn about boolean-looking values": {
			data: "data:\n  enabled: \"on\"\n  flag: \"no\"\n",
		},
		"does not warn about other keys": {
			data: "data:\n  nn: a\n  none: b\n  true: c\n",
		},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			rep := validator(t, "ns").Bytes(t.Context(), "cm.yaml", []byte("apiVersion: v1\nkind: ConfigMap\nmetadata: {name: cm}\n"+tc.data))
			assert.Empty(t, rep.Errors)
			require.Len(t, rep.Objects, 1)
			var lines []int
			for i, w := range rep.Warnings {
				lines = append(lines, w.Line)
				assert.Contains(t, w.Error(), tc.wantText[i])
			}
			assert.Equal(t, tc.wantLines, lines)
		})
	}
}

func TestBytesNamespaceDefaulting(t *testing.T) {
	manifest := `apiVersion: v1
kind: Pod
metadata:
  name: own
  namespace: mpc-system
  labels: {app.kubernetes.io/component: mpc-party}
---
apiVersion: v1
kind: Pod
metadata:
  generateName: mpc-party-
  labels: {app.kubernetes.io/component: mpc-party}
`
	tests := map[string]struct {
		namespace string
		want      []string // namespace/name of each object
		wantMsg   string   // the second object's denial
	}{
		"gives an object without namespace the validator's": {
			namespace: "team-a",
			want:      []string{"mpc-system/own", "team-a/mpc-party-*"},
			wantMsg:   "[party-role-required] Pod team-a/mpc-party-*: ",
		},
		"leaves the namespace empty when the validator has none": {
			namespace: "",
			want:      []string{"mpc-system/own", "/mpc-party-*"},
			wantMsg:   "[party-role-required] Pod /mpc-party-*: ",
		},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			rep := validator(t, tc.namespace).Bytes(t.Context(), "ns.yaml", []byte(manifest))
			require.Empty(t, rep.Errors)
			var got []string
			for _, o := range rep.Objects {
				got = append(got, o.Namespace+"/"+o.Name)
			}
			assert.Equal(t, tc.want, got)
			require.Len(t, rep.Objects[1].Deny, 1)
			assert.True(t, strings.HasPrefix(rep.Objects[1].Deny[0].Message, tc.wantMsg), rep.Objects[1].Deny[0].Message)
			require.Len(t, rep.Objects[0].Deny, 1)
			assert.True(t, strings.HasPrefix(rep.Objects[0].Deny[0].Message, "[party-role-required] Pod mpc-system/own: "))
		})
	}
}

// An input with nothing in it is never a green run: an upstream command that failed leaves exactly that.
func TestBytesEmptyInputIsAnError(t *testing.T) {
	for name, input := range map[string]string{
		"an empty file is an error":                   "",
		"a file of comments is an error":              "# nothing here\n",
		"a file of separators and blanks is an error": "---\n\n---\n# c\n---\n",
		"a null document is an error":                 "null\n",
		"a file of white space only is an error":      " \n\t\n\r\n",
	} {
		t.Run(name, func(t *testing.T) {
			rep := validator(t, "ns").Bytes(t.Context(), "empty.yaml", []byte(input))
			require.Len(t, rep.Errors, 1)
			assert.ErrorIs(t, rep.Errors[0], validate.ErrEmpty)
			assert.Contains(t, rep.Errors[0].Error(), "empty.yaml: nothing to validate: no document")
			assert.Empty(t, rep.Objects)
		})
	}
}

// Documents that are not Kubernetes objects (values.yaml, Chart.yaml, kustomization.yaml) are skipped, and
// listed with the reason; documents that look like objects gone wrong stay errors.
func TestBytesSkipsWhatIsNotAKubernetesObject(t *testing.T) {
	const cm = "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: cfg}\n"
	tests := map[string]struct {
		input       string
		wantSkipped []string
		wantErrors  []string
	}{
		"a values.yaml is skipped": {
			input:       "replicaCount: 2\nimage: {tag: x}\n---\n" + cm,
			wantSkipped: []string{"in.yaml: document 1 (line 1): not a Kubernetes object: no apiVersion, kind or metadata"},
		},
		"a Chart.yaml (apiVersion but no kind) is skipped": {
			input:       "apiVersion: v2\nname: mpc-system\nversion: 1.0.0\n---\n" + cm,
			wantSkipped: []string{"in.yaml: document 1 (line 1): not a Kubernetes object: apiVersion but no kind or metadata"},
		},
		"a kustomization.yaml without apiVersion and kind is skipped": {
			input:       "resources: [pod.yaml]\n---\n" + cm,
			wantSkipped: []string{"in.yaml: document 1 (line 1): not a Kubernetes object"},
		},
		"a Kustomization of kustomize.config.k8s.io is skipped": {
			input:       cm + "---\napiVersion: kustomize.config.k8s.io/v1beta1\nkind: Kustomization\nresources: [pod.yaml]\n",
			wantSkipped: []string{"in.yaml: document 2 (line 5): a kustomize configuration (kustomize.config.k8s.io/v1beta1 Kustomization): run kustomize build"},
		},
		"a kind without apiVersion is an error": {
			input:      "kind: Pod\nmetadata: {name: p}\n",
			wantErrors: []string{"in.yaml: document 1 (line 1): not a Kubernetes object: apiVersion and kind are required"},
		},
		"metadata without kind is an error": {
			input:      "apiVersion: v1\nmetadata: {name: p}\n",
			wantErrors: []string{"in.yaml: document 1 (line 1): not a Kubernetes object: apiVersion and kind are required"},
		},
		"a document that is a sequence is an error": {
			input:      "- a\n- b\n",
			wantErrors: []string{"in.yaml: document 1 (line 1): not a Kubernetes object: the document is a sequence"},
		},
		"nothing but skipped documents is an error: nothing was validated": {
			input:       "replicaCount: 2\n",
			wantSkipped: []string{"in.yaml: document 1 (line 1): not a Kubernetes object"},
			wantErrors:  []string{"in.yaml: nothing to validate: no Kubernetes object in the input (1 documents or files skipped)"},
		},
		"an empty List is input, not an empty run": {
			input: "apiVersion: v1\nkind: List\nitems: []\n",
		},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			rep := validator(t, "ns").Bytes(t.Context(), "in.yaml", []byte(tc.input))
			require.Len(t, rep.Skipped, len(tc.wantSkipped), "%v", rep.Skipped)
			for i, w := range tc.wantSkipped {
				assert.Contains(t, rep.Skipped[i].String(), w)
			}
			require.Len(t, rep.Errors, len(tc.wantErrors), "%v", rep.Errors)
			for i, w := range tc.wantErrors {
				assert.Contains(t, rep.Errors[i].Error(), w)
			}
		})
	}
}

// In a directory, an empty file is skipped (a placeholder in a chart), and non-Kubernetes YAML is listed.
func TestPathsDirectorySkipsEmptyFilesAndConfiguration(t *testing.T) {
	dir := t.TempDir()
	writeFile(t, filepath.Join(dir, "Chart.yaml"), "apiVersion: v2\nname: c\nversion: 0.1.0\n")
	writeFile(t, filepath.Join(dir, "values.yaml"), "# no values\n")
	writeFile(t, filepath.Join(dir, "pod.yaml"), partyPodWithoutRole)
	rep := validator(t, "ns").Paths(t.Context(), []string{dir}, nil)
	assert.Empty(t, rep.Errors)
	require.Len(t, rep.Skipped, 2)
	assert.Equal(t, filepath.Join(dir, "Chart.yaml"), rep.Skipped[0].Source)
	assert.Equal(t, 1, rep.Skipped[0].Document)
	assert.Equal(t, validate.Skip{Source: filepath.Join(dir, "values.yaml"),
		Reason: "no document: empty, or only comments, separators and null documents"}, rep.Skipped[1])
	assert.Equal(t, 1, rep.Denied())

	only := t.TempDir()
	writeFile(t, filepath.Join(only, "values.yaml"), "a: 1\n")
	rep = validator(t, "ns").Paths(t.Context(), []string{only}, nil)
	require.Len(t, rep.Errors, 1, "a directory with no Kubernetes object validates nothing")
	assert.ErrorIs(t, rep.Errors[0], validate.ErrEmpty)
}

func writeFile(t *testing.T, path, content string) {
	t.Helper()
	require.NoError(t, os.MkdirAll(filepath.Dir(path), 0o755))
	require.NoError(t, os.WriteFile(path, []byte(content), 0o644))
}

func TestPathsDirectory(t *testing.T) {
	dir := t.TempDir()
	writeFile(t, filepath.Join(dir, "b.yaml"), "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: b}\n")
	writeFile(t, filepath.Join(dir, "a", "deeper", "c.json"), `{"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "c"}}`)
	writeFile(t, filepath.Join(dir, "a", "pod.yml"), partyPodWithoutRole)
	writeFile(t, filepath.Join(dir, "a", "UPPER.YAML"), "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: upper}\n")
	// Not manifests: must not be read (they would be errors if they were).
	writeFile(t, filepath.Join(dir, "README.md"), "# not: [yaml\n")
	writeFile(t, filepath.Join(dir, "a", "notes.txt"), "kind: Pod\n")
	writeFile(t, filepath.Join(dir, "values.yaml.bak"), "kind: Pod\n")
	writeFile(t, filepath.Join(dir, "dir.yaml", "inside.yaml"), "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: inside}\n")

	rep := validator(t, "ns").Paths(t.Context(), []string{dir}, nil)
	assert.Empty(t, rep.Errors)
	var got []string
	for _, o := range rep.Objects {
		rel, err := filepath.Rel(dir, o.Source)
		require.NoError(t, err)
		got = append(got, rel+" "+o.Name)
	}
	assert.Equal(t, []string{
		"a/UPPER.YAML upper",
		"a/deeper/c.json c",
		"a/pod.yml no-role",
		"b.yaml b",
		"dir.yaml/inside.yaml inside",
	}, got)
	assert.Equal(t, 1, rep.Denied())
}

func TestPathsFilesDirectoriesAndStdin(t *testing.T) {
	dir := t.TempDir()
	file := filepath.Join(dir, "pod.yaml")
	writeFile(t, file, "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: ok}\n---\n"+partyPodWithoutRole)
	empty := filepath.Join(dir, "empty")
	require.NoError(t, os.Mkdir(empty, 0o755))
	writeFile(t, filepath.Join(empty, "notes.txt"), "x")
	missing := filepath.Join(dir, "missing.yaml")

	rep := validator(t, "ns").Paths(t.Context(), []string{missing, file, empty, "-"},
		strings.NewReader("apiVersion: v1\nkind: Pod\nmetadata: {name: from-stdin, labels: {app.kubernetes.io/component: mpc-party, party-role: x}}\n"))

	assertLocated(t, []located{
		{Source: missing, ErrorContains: missing + ": cannot read input:"},
		{Source: empty, ErrorContains: empty + ": nothing to validate: directory has no .yaml, .yml or .json files"},
	}, rep.Errors)
	assert.Equal(t, []summary{
		{Source: file, Document: 1, Line: 1, Kind: "ConfigMap", Namespace: "ns", Name: "ok"},
		{Source: file, Document: 2, Line: 5, Kind: "Pod", Namespace: "ns", Name: "no-role", Reviewed: true, Deny: []string{"party-role-required"}},
		{Source: "<stdin>", Document: 1, Line: 1, Kind: "Pod", Namespace: "ns", Name: "from-stdin", Reviewed: true, Deny: []string{"party-role-valid"}},
	}, summarize(rep.Objects))
	assert.Equal(t, 2, rep.Denied())
}

// helm template output starts every manifest, the first included, with "---" and a "# Source:" comment. In
// YAML a stream that opens with "---" (after nothing but comments) has no document before it, so the first
// manifest is document 1, as yq and every YAML library count.
func TestBytesLeadingSeparatorOpensTheFirstDocument(t *testing.T) {
	manifest := `# rendered by helm template
---
# Source: mpc-system/templates/party.yaml
apiVersion: v1
kind: Pod
metadata:
  name: first
  labels: {app.kubernetes.io/component: mpc-party}
---
# Source: mpc-system/templates/broken.yaml
kind: ConfigMap
`
	rep := validator(t, "ns").Bytes(t.Context(), "helm.yaml", []byte(manifest))
	assert.Equal(t, []summary{{Source: "helm.yaml", Document: 1, Line: 3, Kind: "Pod", Namespace: "ns", Name: "first",
		Reviewed: true, Deny: []string{"party-role-required"}}}, summarize(rep.Objects))
	assertLocated(t, []located{{Source: "helm.yaml", Document: 2, Line: 10,
		ErrorContains: "helm.yaml: document 2 (line 10): not a Kubernetes object"}}, rep.Errors)
}

// YAML allows a document's content on its "---" line ("--- {...}"); kubectl rejects such a file. Either way
// the content must not vanish: it is evaluated, or reported as unreadable, never silently skipped.
func TestBytesContentOnASeparatorLineIsNotDropped(t *testing.T) {
	manifest := `apiVersion: v1
kind: ConfigMap
metadata: {name: a}
--- {"apiVersion": "v1", "kind": "Pod", "metadata": {"name": "p", "labels": {"app.kubernetes.io/component": "mpc-party"}}}
`
	rep := validator(t, "ns").Bytes(t.Context(), "sep.yaml", []byte(manifest))
	var names []string
	for _, o := range rep.Objects {
		names = append(names, o.Name)
	}
	evaluated := assert.ObjectsAreEqual([]string{"a", "p"}, names) && rep.Denied() == 1
	reported := len(rep.Errors) == 1 && rep.Errors[0].Line == 4
	assert.True(t, evaluated || reported,
		"the Pod on line 4 was neither evaluated nor reported: objects %v, errors %v", names, rep.Errors)
}

func TestDecode(t *testing.T) {
	tests := map[string]struct {
		input     string
		wantItems []string // Where() of each object
		wantErr   string   // contained in the only error, "" for none
	}{
		"the objects of a stream and of a list are returned with their places": {
			input:     "apiVersion: v1\nkind: Node\nmetadata: {name: a}\n---\napiVersion: v1\nkind: NodeList\nitems:\n- metadata: {name: b}\n",
			wantItems: []string{"in.yaml: document 1 (line 1)", "in.yaml: document 2 (line 5): items[0]"},
		},
		"malformed YAML is an error naming its line in the file": {
			input:   "apiVersion: v1\nkind: Node\n---\napiVersion: v1\nkind: [\n",
			wantErr: "in.yaml: document 2 (line 4): malformed YAML or JSON: yaml: line 5",
		},
		"a document without a kind is an error, not an object": {
			input:   "apiVersion: v1\nmetadata: {name: a}\n",
			wantErr: "in.yaml: document 1 (line 1): not a Kubernetes object: apiVersion and kind are required",
		},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			objs, rep := validate.Decode([]validate.Source{{Name: "in.yaml", Data: []byte(tc.input), Named: true}}, nil, "in.yaml")
			if tc.wantErr != "" {
				require.Len(t, rep.Errors, 1)
				assert.Contains(t, rep.Errors[0].Error(), tc.wantErr)
				return
			}
			require.Empty(t, rep.Errors)
			var got []string
			for _, o := range objs {
				got = append(got, o.Where())
			}
			assert.Equal(t, tc.wantItems, got)
			assert.Empty(t, rep.Objects)
		})
	}
}
