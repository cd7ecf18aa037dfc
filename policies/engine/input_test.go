package engine

import (
	"encoding/json"
	"testing"

	"github.com/open-policy-agent/opa/v1/ast"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"k8s.io/apimachinery/pkg/runtime/schema"

	"github.com/mpcguard/mpcguard/internal/api/v1alpha1"
	"github.com/mpcguard/mpcguard/policies/vocab"
)

var (
	podKind     = schema.GroupVersionKind{Version: "v1", Kind: "Pod"}
	sessionKind = v1alpha1.GroupVersion.WithKind(v1alpha1.Kind)
)

// inputJSON renders a policy input as JSON, so it can be compared key-order-insensitively with JSONEq while
// still telling numbers from strings, {} from null and absent keys from empty ones.
func inputJSON(t *testing.T, v ast.Value) string {
	t.Helper()
	require.NotNil(t, v, "want an input, got none")
	x, err := ast.JSON(v)
	require.NoError(t, err)
	b, err := json.Marshal(x)
	require.NoError(t, err)
	return string(b)
}

// recordingInventory answers with fixed numbers and remembers which namespaces it was asked about.
type recordingInventory struct {
	ready int
	role  string
	ok    bool
	asked []string
}

func (i *recordingInventory) PersistentReady(namespace string) (int, bool) {
	i.asked = append(i.asked, namespace)
	return i.ready, i.ok
}

func (i *recordingInventory) Role(namespace, name string) (string, bool) {
	i.asked = append(i.asked, namespace+"/"+name)
	return i.role, i.ok
}

func TestBuildInputPod(t *testing.T) {
	tests := map[string]struct {
		req  Request
		want string
	}{
		"reads a party pod's labels, claims and secrets, including projected secret sources": {
			req: Request{Operation: Create, Kind: podKind, Object: []byte(`{
				"apiVersion": "v1", "kind": "Pod",
				"metadata": {"name": "p-0", "namespace": "mpc-system",
					"labels": {"app.kubernetes.io/component": "mpc-party", "party-role": "delegate"},
					"annotations": {"ignored": "yes"}},
				"spec": {
					"containers": [{"name": "party", "image": "mpc/party:1.0"}],
					"volumes": [
						{"name": "data", "persistentVolumeClaim": {"claimName": "share-data-mpc-party-0"}},
						{"name": "db", "secret": {"secretName": "mpc-db"}},
						{"name": "tmp", "emptyDir": {}},
						{"name": "cfg", "configMap": {"name": "party-config"}},
						{"name": "bundle", "projected": {"sources": [
							{"configMap": {"name": "ca"}},
							{"secret": {"name": "tls"}},
							{"serviceAccountToken": {"path": "token"}},
							{"secret": {"name": "mpc-db-replica"}}
						]}},
						{"name": "scratch", "persistentVolumeClaim": {"claimName": "scratch"}}
					]
				}
			}`)},
			want: `{
				"operation": "CREATE", "kind": "Pod", "namespace": "mpc-system", "name": "p-0", "subresource": "", "dry_run": false,
				"pod": {
					"labels": {"app.kubernetes.io/component": "mpc-party", "party-role": "delegate"},
					"claims": ["share-data-mpc-party-0", "scratch"],
					"secrets": ["mpc-db", "tls", "mpc-db-replica"],
					"host_paths": [], "clones": [], "ephemeral_containers": 0
				}
			}`,
		},
		"counts the Secrets containers read through env secretKeyRef and envFrom secretRef, init and ephemeral containers too": {
			req: Request{Operation: Create, Kind: podKind, Object: []byte(`{
				"metadata": {"name": "p-0", "namespace": "mpc-system"},
				"spec": {
					"volumes": [{"name": "db", "secret": {"secretName": "vol-secret"}}],
					"initContainers": [{"name": "init", "envFrom": [{"configMapRef": {"name": "cm"}}, {"secretRef": {"name": "init-env"}}]}],
					"containers": [{"name": "party", "env": [
						{"name": "PLAIN", "value": "x"},
						{"name": "FROM_CM", "valueFrom": {"configMapKeyRef": {"name": "cm", "key": "k"}}},
						{"name": "DATABASE_URL", "valueFrom": {"secretKeyRef": {"name": "mpc-db", "key": "url"}}}
					]}],
					"ephemeralContainers": [{"name": "debug", "env": [{"name": "T", "valueFrom": {"secretKeyRef": {"name": "debug-token", "key": "t"}}}]}]
				}
			}`)},
			want: `{
				"operation": "CREATE", "kind": "Pod", "namespace": "mpc-system", "name": "p-0", "subresource": "", "dry_run": false,
				"pod": {"labels": {}, "claims": [], "secrets": ["vol-secret", "init-env", "mpc-db", "debug-token"], "host_paths": [], "clones": [], "ephemeral_containers": 1}
			}`,
		},
		"gives a pod without labels or volumes empty labels, claims and secrets": {
			req: Request{Operation: Create, Kind: podKind, Namespace: "ns", Object: []byte(`{"metadata": {"name": "bare"}}`)},
			want: `{
				"operation": "CREATE", "kind": "Pod", "namespace": "ns", "name": "bare", "subresource": "", "dry_run": false,
				"pod": {"labels": {}, "claims": [], "secrets": [], "host_paths": [], "clones": [], "ephemeral_containers": 0}
			}`,
		},
		"names a pod with only generateName by its prefix and a star": {
			req: Request{Operation: Create, Kind: podKind, Namespace: "mpc-system",
				Object: []byte(`{"metadata": {"generateName": "mpc-party-", "labels": {"a": "b"}}}`)},
			want: `{
				"operation": "CREATE", "kind": "Pod", "namespace": "mpc-system", "name": "mpc-party-*", "subresource": "", "dry_run": false,
				"pod": {"labels": {"a": "b"}, "claims": [], "secrets": [], "host_paths": [], "clones": [], "ephemeral_containers": 0}
			}`,
		},
		"prefers the object's name to its generateName": {
			req: Request{Operation: Create, Kind: podKind, Namespace: "mpc-system",
				Object: []byte(`{"metadata": {"name": "mpc-party-x7k2p", "generateName": "mpc-party-"}}`)},
			want: `{
				"operation": "CREATE", "kind": "Pod", "namespace": "mpc-system", "name": "mpc-party-x7k2p", "subresource": "", "dry_run": false,
				"pod": {"labels": {}, "claims": [], "secrets": [], "host_paths": [], "clones": [], "ephemeral_containers": 0}
			}`,
		},
		"takes the request's name when the object has neither name nor generateName": {
			req: Request{Operation: Create, Kind: podKind, Namespace: "mpc-system", Name: "from-request",
				Object: []byte(`{"metadata": {}}`)},
			want: `{
				"operation": "CREATE", "kind": "Pod", "namespace": "mpc-system", "name": "from-request", "subresource": "", "dry_run": false,
				"pod": {"labels": {}, "claims": [], "secrets": [], "host_paths": [], "clones": [], "ephemeral_containers": 0}
			}`,
		},
		"lets the request's namespace win over the object's": {
			req: Request{Operation: Create, Kind: podKind, Namespace: "admitted-ns",
				Object: []byte(`{"metadata": {"name": "p-0", "namespace": "object-ns"}}`)},
			want: `{
				"operation": "CREATE", "kind": "Pod", "namespace": "admitted-ns", "name": "p-0", "subresource": "", "dry_run": false,
				"pod": {"labels": {}, "claims": [], "secrets": [], "host_paths": [], "clones": [], "ephemeral_containers": 0}
			}`,
		},
		"takes the object's namespace when the request names none": {
			req: Request{Operation: Create, Kind: podKind,
				Object: []byte(`{"metadata": {"name": "p-0", "namespace": "object-ns"}}`)},
			want: `{
				"operation": "CREATE", "kind": "Pod", "namespace": "object-ns", "name": "p-0", "subresource": "", "dry_run": false,
				"pod": {"labels": {}, "claims": [], "secrets": [], "host_paths": [], "clones": [], "ephemeral_containers": 0}
			}`,
		},
		"carries a dry run": {
			req: Request{Operation: Create, Kind: podKind, Namespace: "ns", DryRun: true,
				Object: []byte(`{"metadata": {"name": "p-0"}}`)},
			want: `{
				"operation": "CREATE", "kind": "Pod", "namespace": "ns", "name": "p-0", "subresource": "", "dry_run": true,
				"pod": {"labels": {}, "claims": [], "secrets": [], "host_paths": [], "clones": [], "ephemeral_containers": 0}
			}`,
		},
		"adds the old pod's labels on UPDATE": {
			req: Request{Operation: Update, Kind: podKind, Namespace: "mpc-system",
				Object: []byte(`{"metadata": {"name": "p-0", "labels": {"party-role": "delegate"}},
					"spec": {"volumes": [{"name": "db", "secret": {"secretName": "mpc-db"}}]}}`),
				OldObject: []byte(`{"metadata": {"name": "p-0", "labels": {"party-role": "persistent", "old": "x"}},
					"spec": {"volumes": [{"name": "old-db", "secret": {"secretName": "old-db"}}]}}`)},
			want: `{
				"operation": "UPDATE", "kind": "Pod", "namespace": "mpc-system", "name": "p-0", "subresource": "", "dry_run": false,
				"pod": {"labels": {"party-role": "delegate"}, "claims": [], "secrets": ["mpc-db"], "host_paths": [], "clones": [], "ephemeral_containers": 0},
				"old_pod": {"labels": {"party-role": "persistent", "old": "x"}, "claims": [], "secrets": ["old-db"], "host_paths": [], "clones": [], "ephemeral_containers": 0}
			}`,
		},
		"gives an old pod without labels empty labels": {
			req: Request{Operation: Update, Kind: podKind, Namespace: "ns",
				Object:    []byte(`{"metadata": {"name": "p-0", "labels": {"party-role": "delegate"}}}`),
				OldObject: []byte(`{"metadata": {"name": "p-0"}}`)},
			want: `{
				"operation": "UPDATE", "kind": "Pod", "namespace": "ns", "name": "p-0", "subresource": "", "dry_run": false,
				"pod": {"labels": {"party-role": "delegate"}, "claims": [], "secrets": [], "host_paths": [], "clones": [], "ephemeral_containers": 0},
				"old_pod": {"labels": {}, "claims": [], "secrets": [], "host_paths": [], "clones": [], "ephemeral_containers": 0}
			}`,
		},
		"leaves old_pod absent on an UPDATE without an old object": {
			req: Request{Operation: Update, Kind: podKind, Namespace: "ns",
				Object: []byte(`{"metadata": {"name": "p-0"}}`)},
			want: `{
				"operation": "UPDATE", "kind": "Pod", "namespace": "ns", "name": "p-0", "subresource": "", "dry_run": false,
				"pod": {"labels": {}, "claims": [], "secrets": [], "host_paths": [], "clones": [], "ephemeral_containers": 0}
			}`,
		},
		"leaves old_pod absent on CREATE even when an old object is given": {
			req: Request{Operation: Create, Kind: podKind, Namespace: "ns",
				Object:    []byte(`{"metadata": {"name": "p-0"}}`),
				OldObject: []byte(`{"metadata": {"name": "p-0", "labels": {"party-role": "persistent"}}}`)},
			want: `{
				"operation": "CREATE", "kind": "Pod", "namespace": "ns", "name": "p-0", "subresource": "", "dry_run": false,
				"pod": {"labels": {}, "claims": [], "secrets": [], "host_paths": [], "clones": [], "ephemeral_containers": 0}
			}`,
		},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			inv := &recordingInventory{ready: 3, ok: true}
			got, _, err := buildInput(tc.req, inv)
			require.NoError(t, err)
			assert.JSONEq(t, tc.want, inputJSON(t, got))
			assert.Empty(t, inv.asked, "a pod needs no inventory")
		})
	}
}

func TestBuildInputWorkloadTemplates(t *testing.T) {
	const template = `{
		"metadata": {"labels": {"app.kubernetes.io/component": "mpc-party", "party-role": "persistent"}},
		"spec": {
			"containers": [{"name": "party", "image": "mpc/party:1.0"}],
			"volumes": [
				{"name": "data", "persistentVolumeClaim": {"claimName": "share-data"}},
				{"name": "db", "secret": {"secretName": "mpc-db"}},
				{"name": "bundle", "projected": {"sources": [{"secret": {"name": "tls"}}]}}
			]
		}
	}`
	const wantTemplate = `{
		"labels": {"app.kubernetes.io/component": "mpc-party", "party-role": "persistent"},
		"claims": ["share-data"],
		"secrets": ["mpc-db", "tls"],
		"host_paths": [], "clones": [], "ephemeral_containers": 0
	}`
	tests := map[string]struct {
		kind schema.GroupVersionKind
		spec string
		want string
	}{
		"reads a Deployment's pod template": {
			kind: schema.GroupVersionKind{Group: "apps", Version: "v1", Kind: "Deployment"},
			spec: `{"replicas": 3, "template": ` + template + `}`,
			want: wantTemplate,
		},
		"reads a ReplicaSet's pod template": {
			kind: schema.GroupVersionKind{Group: "apps", Version: "v1", Kind: "ReplicaSet"},
			spec: `{"template": ` + template + `}`,
			want: wantTemplate,
		},
		"reads a DaemonSet's pod template": {
			kind: schema.GroupVersionKind{Group: "apps", Version: "v1", Kind: "DaemonSet"},
			spec: `{"template": ` + template + `}`,
			want: wantTemplate,
		},
		"reads a StatefulSet's pod template": {
			kind: schema.GroupVersionKind{Group: "apps", Version: "v1", Kind: "StatefulSet"},
			spec: `{"serviceName": "w", "template": ` + template + `}`,
			want: wantTemplate,
		},
		"reads a Job's pod template": {
			kind: schema.GroupVersionKind{Group: "batch", Version: "v1", Kind: "Job"},
			spec: `{"backoffLimit": 1, "template": ` + template + `}`,
			want: wantTemplate,
		},
		"reads a CronJob's pod template under jobTemplate": {
			kind: schema.GroupVersionKind{Group: "batch", Version: "v1", Kind: "CronJob"},
			spec: `{"schedule": "*/5 * * * *", "jobTemplate": {"spec": {"template": ` + template + `}}}`,
			want: wantTemplate,
		},
		"adds the first pod's claim of each StatefulSet volumeClaimTemplate before the template's own claims": {
			kind: schema.GroupVersionKind{Group: "apps", Version: "v1", Kind: "StatefulSet"},
			spec: `{
				"template": ` + template + `,
				"volumeClaimTemplates": [
					{"metadata": {"name": "share-data"}, "spec": {"accessModes": ["ReadWriteOnce"]}},
					{"metadata": {"name": "scratch"}}
				]
			}`,
			want: `{
				"labels": {"app.kubernetes.io/component": "mpc-party", "party-role": "persistent"},
				"claims": ["share-data-w-0", "scratch-w-0", "share-data"],
				"secrets": ["mpc-db", "tls"],
				"host_paths": [], "clones": [], "ephemeral_containers": 0
			}`,
		},
		"gives a template without labels or volumes empty labels, claims and secrets": {
			kind: schema.GroupVersionKind{Group: "apps", Version: "v1", Kind: "Deployment"},
			spec: `{"template": {"spec": {"containers": [{"name": "c"}]}}}`,
			want: `{"labels": {}, "claims": [], "secrets": [], "host_paths": [], "clones": [], "ephemeral_containers": 0}`,
		},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			obj := `{"apiVersion": "` + tc.kind.GroupVersion().String() + `", "kind": "` + tc.kind.Kind + `",
				"metadata": {"name": "w", "namespace": "mpc-system", "labels": {"not": "the template's"}},
				"spec": ` + tc.spec + `}`
			got, _, err := buildInput(Request{Operation: Create, Kind: tc.kind, Object: []byte(obj)}, nil)
			require.NoError(t, err)
			replicas := ""
			if tc.kind.Kind == "StatefulSet" {
				replicas = `"replicas": 1,` // the API server's default, for persistent-quorum
			}
			assert.JSONEq(t, `{
				"operation": "CREATE", "kind": "`+tc.kind.Kind+`", "namespace": "mpc-system", "name": "w",
				"subresource": "", "dry_run": false, `+replicas+` "template": `+tc.want+`
			}`, inputJSON(t, got))
		})
	}
}

func TestBuildInputWorkloadWithoutTemplate(t *testing.T) {
	tests := map[string]struct {
		kind schema.GroupVersionKind
		obj  string
	}{
		"leaves template absent for a Deployment without one": {
			kind: schema.GroupVersionKind{Group: "apps", Version: "v1", Kind: "Deployment"},
			obj:  `{"metadata": {"name": "w", "namespace": "ns"}, "spec": {"replicas": 1}}`,
		},
		"leaves template absent for a CronJob whose jobTemplate has none": {
			kind: schema.GroupVersionKind{Group: "batch", Version: "v1", Kind: "CronJob"},
			obj:  `{"metadata": {"name": "w", "namespace": "ns"}, "spec": {"jobTemplate": {"spec": {}}}}`,
		},
		"ignores a CronJob's spec.template, which is not where its pods come from": {
			kind: schema.GroupVersionKind{Group: "batch", Version: "v1", Kind: "CronJob"},
			obj: `{"metadata": {"name": "w", "namespace": "ns"}, "spec": {
				"template": {"metadata": {"labels": {"party-role": "x"}}}, "jobTemplate": {"spec": {}}}}`,
		},
		"leaves template absent for a StatefulSet with only volumeClaimTemplates": {
			kind: schema.GroupVersionKind{Group: "apps", Version: "v1", Kind: "StatefulSet"},
			obj: `{"metadata": {"name": "w", "namespace": "ns"},
				"spec": {"volumeClaimTemplates": [{"metadata": {"name": "share-data"}}]}}`,
		},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			got, _, err := buildInput(Request{Operation: Create, Kind: tc.kind, Object: []byte(tc.obj)}, nil)
			require.NoError(t, err)
			replicas := ""
			if tc.kind.Kind == "StatefulSet" {
				replicas = `, "replicas": 1`
			}
			assert.JSONEq(t, `{"operation": "CREATE", "kind": "`+tc.kind.Kind+`", "namespace": "ns", "name": "w",
				"subresource": "", "dry_run": false`+replicas+`}`, inputJSON(t, got))
		})
	}
}

func TestBuildInputSession(t *testing.T) {
	const ready = `{"available": true, "persistent_ready": 3}`
	tests := map[string]struct {
		spec string // the object's "spec" member, or "" for none
		want string // input.session, or "" for absent
	}{
		"carries a spec without composition as sent": {
			spec: `{"type": "sign", "threshold": {"t": 2, "n": 3}}`,
			want: `{"type": "sign", "threshold": {"t": 2, "n": 3}}`,
		},
		"keeps a null composition null": {
			spec: `{"type": "sign", "threshold": {"t": 2, "n": 3}, "composition": null}`,
			want: `{"type": "sign", "threshold": {"t": 2, "n": 3}, "composition": null}`,
		},
		"keeps an empty composition empty": {
			spec: `{"type": "sign", "threshold": {"t": 2, "n": 3}, "composition": {}}`,
			want: `{"type": "sign", "threshold": {"t": 2, "n": 3}, "composition": {}}`,
		},
		"carries every count of a full composition": {
			spec: `{"type": "keygen", "threshold": {"t": 3, "n": 6},
				"composition": {"persistent": 3, "delegate": 2, "temporary": 1}}`,
			want: `{"type": "keygen", "threshold": {"t": 3, "n": 6},
				"composition": {"persistent": 3, "delegate": 2, "temporary": 1}}`,
		},
		"adds no count a partial composition lacks": {
			spec: `{"type": "reshare", "threshold": {"t": 2, "n": 3}, "composition": {"delegate": 1}}`,
			want: `{"type": "reshare", "threshold": {"t": 2, "n": 3}, "composition": {"delegate": 1}}`,
		},
		"adds no t or n an empty threshold lacks": {
			spec: `{"type": "sign", "threshold": {}}`,
			want: `{"type": "sign", "threshold": {}}`,
		},
		"adds no threshold a spec lacks": {
			spec: `{"type": "sign"}`,
			want: `{"type": "sign"}`,
		},
		"keeps case-variant and unknown keys as they are, beside the real ones": {
			spec: `{"type": "sign", "Threshold": {"T": 9}, "threshold": {"t": 2, "n": 3, "N": 4},
				"composition": {"Persistent": 3, "persistent": 1, "delegates": 2}, "extra": [1, "x", true, null]}`,
			want: `{"type": "sign", "Threshold": {"T": 9}, "threshold": {"t": 2, "n": 3, "N": 4},
				"composition": {"Persistent": 3, "persistent": 1, "delegates": 2}, "extra": [1, "x", true, null]}`,
		},
		"keeps counts of the wrong type as they are": {
			spec: `{"type": 7, "threshold": {"t": "2", "n": 3.5}, "composition": {"persistent": -1, "delegate": false}}`,
			want: `{"type": 7, "threshold": {"t": "2", "n": 3.5}, "composition": {"persistent": -1, "delegate": false}}`,
		},
		"keeps a spec that is not an object as it is": {
			spec: `[1, 2]`,
			want: `[1, 2]`,
		},
		"leaves the session absent when there is no spec": {
			spec: "",
		},
		"leaves the session absent when the spec is null": {
			spec: "null",
		},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			obj := `{"apiVersion": "mpc.mpcguard.io/v1alpha1", "kind": "MPCSession",
				"metadata": {"name": "sign-42", "namespace": "mpc-system"}`
			if tc.spec != "" {
				obj += `, "spec": ` + tc.spec
			}
			obj += "}"
			inv := &recordingInventory{ready: 3, ok: true}
			got, class, err := buildInput(Request{Operation: Create, Kind: sessionKind, Object: []byte(obj)}, inv)
			require.NoError(t, err, "a malformed spec is the policies' to judge (session-spec-valid), not a decode error")
			assert.Equal(t, vocab.ClassSession, class)
			session := ""
			if tc.want != "" {
				session = `"session": ` + tc.want + `, `
			}
			assert.JSONEq(t, `{
				"operation": "CREATE", "kind": "MPCSession", "subresource": "", "namespace": "mpc-system", "name": "sign-42",
				"dry_run": false, `+session+`"inventory": `+ready+`
			}`, inputJSON(t, got))
		})
	}
}

func TestBuildInputSessionUpdateCarriesTheOldSpec(t *testing.T) {
	obj := func(spec string) []byte {
		return []byte(`{"metadata": {"name": "s", "namespace": "ns"}, "spec": ` + spec + `}`)
	}
	tests := map[string]struct {
		req     Request
		wantOld string // input.old_session, or "" for absent
	}{
		"carries the old spec on UPDATE": {
			req: Request{Operation: Update, Kind: sessionKind, Object: obj(`{"type": "sign"}`),
				OldObject: obj(`{"type": "keygen", "threshold": {"t": 1, "n": 1}}`)},
			wantOld: `{"type": "keygen", "threshold": {"t": 1, "n": 1}}`,
		},
		"leaves old_session absent when the old object has no spec": {
			req: Request{Operation: Update, Kind: sessionKind, Object: obj(`{"type": "sign"}`),
				OldObject: []byte(`{"metadata": {"name": "s"}}`)},
		},
		"leaves old_session absent on an UPDATE without an old object": {
			req: Request{Operation: Update, Kind: sessionKind, Object: obj(`{"type": "sign"}`)},
		},
		"leaves old_session absent on CREATE even when an old object is given": {
			req: Request{Operation: Create, Kind: sessionKind, Object: obj(`{"type": "sign"}`),
				OldObject: obj(`{"type": "keygen"}`)},
		},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			got, _, err := buildInput(tc.req, nil)
			require.NoError(t, err)
			var in map[string]json.RawMessage
			require.NoError(t, json.Unmarshal([]byte(inputJSON(t, got)), &in))
			assert.JSONEq(t, `{"type": "sign"}`, string(in["session"]))
			if tc.wantOld == "" {
				assert.NotContains(t, in, "old_session")
				return
			}
			assert.JSONEq(t, tc.wantOld, string(in["old_session"]))
		})
	}
}

func TestBuildInputSessionNumbersAreRegoNumbers(t *testing.T) {
	obj := `{"metadata": {"name": "s", "namespace": "ns"},
		"spec": {"type": "sign", "threshold": {"t": 2, "n": 3}, "composition": {"persistent": 2, "delegate": 1, "temporary": 1e0}}}`
	got, _, err := buildInput(Request{Operation: Create, Kind: sessionKind, Object: []byte(obj)},
		&recordingInventory{ready: 5, ok: true})
	require.NoError(t, err)
	// The policies compare these with numbers: a string "2" would silently count as 0.
	want := ast.MustParseTerm(`{
		"operation": "CREATE", "kind": "MPCSession", "subresource": "", "namespace": "ns", "name": "s", "dry_run": false,
		"session": {"type": "sign", "threshold": {"t": 2, "n": 3},
			"composition": {"persistent": 2, "delegate": 1, "temporary": 1}},
		"inventory": {"available": true, "persistent_ready": 5}
	}`)
	assert.Equal(t, 0, want.Value.Compare(got), "got %v", got)
}

func TestBuildInputSessionKeepsNumbersExact(t *testing.T) {
	// A count just past int32 or a fraction must reach session-spec-valid as written, not rounded into range.
	obj := `{"metadata": {"name": "s"}, "spec": {"threshold": {"t": 2147483648, "n": 2.0000000000000001}, "composition": {"persistent": 123456789012345678901234567890}}}`
	got, _, err := buildInput(Request{Operation: Create, Kind: sessionKind, Object: []byte(obj)}, nil)
	require.NoError(t, err)
	session := got.(ast.Object).Get(ast.StringTerm("session"))
	require.NotNil(t, session)
	assert.Equal(t, `{"composition": {"persistent": 123456789012345678901234567890}, "threshold": {"n": 2.0000000000000001, "t": 2147483648}}`,
		session.String())
}

func TestBuildInputSessionInventory(t *testing.T) {
	obj := []byte(`{"metadata": {"name": "sign-42", "namespace": "object-ns"},
		"spec": {"type": "sign", "threshold": {"t": 2, "n": 3}}}`)
	tests := map[string]struct {
		inv       *recordingInventory // nil: no inventory at all
		namespace string
		want      string
		wantAsked []string
	}{
		"reports an available inventory's Ready persistent parties": {
			inv:       &recordingInventory{ready: 2, ok: true},
			want:      `{"available": true, "persistent_ready": 2}`,
			wantAsked: []string{"object-ns"},
		},
		"reports zero Ready persistent parties as available": {
			inv:       &recordingInventory{ready: 0, ok: true},
			want:      `{"available": true, "persistent_ready": 0}`,
			wantAsked: []string{"object-ns"},
		},
		"reports an unsynced inventory as unavailable": {
			inv:       &recordingInventory{ready: 0, ok: false},
			want:      `{"available": false, "persistent_ready": 0}`,
			wantAsked: []string{"object-ns"},
		},
		"reports no inventory as unavailable": {
			want: `{"available": false, "persistent_ready": 0}`,
		},
		"asks the inventory about the request's namespace when it overrides the object's": {
			inv:       &recordingInventory{ready: 4, ok: true},
			namespace: "admitted-ns",
			want:      `{"available": true, "persistent_ready": 4}`,
			wantAsked: []string{"admitted-ns"},
		},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			var inv Inventory
			if tc.inv != nil {
				inv = tc.inv
			}
			got, _, err := buildInput(Request{Operation: Create, Kind: sessionKind, Namespace: tc.namespace, Object: obj}, inv)
			require.NoError(t, err)
			var in struct {
				Namespace string          `json:"namespace"`
				Inventory json.RawMessage `json:"inventory"`
			}
			require.NoError(t, json.Unmarshal([]byte(inputJSON(t, got)), &in))
			assert.JSONEq(t, tc.want, string(in.Inventory))
			if tc.inv != nil {
				assert.Equal(t, tc.wantAsked, tc.inv.asked)
				assert.Equal(t, tc.wantAsked[0], in.Namespace)
			}
		})
	}
}

func TestBuildInputErrors(t *testing.T) {
	deployment := schema.GroupVersionKind{Group: "apps", Version: "v1", Kind: "Deployment"}
	tests := map[string]struct {
		req     Request
		wantErr error
		wantMsg string
	}{
		"rejects a malformed MPCSession": {
			req:     Request{Operation: Create, Kind: sessionKind, Object: []byte(`{"metadata": {"name": "s"`)},
			wantErr: ErrDecode,
			wantMsg: "MPCSession object",
		},
		"rejects a malformed Pod": {
			req:     Request{Operation: Create, Kind: podKind, Object: []byte(`{"metadata": `)},
			wantErr: ErrDecode,
			wantMsg: "Pod object",
		},
		"rejects a Pod whose label value is not a string": {
			req:     Request{Operation: Create, Kind: podKind, Object: []byte(`{"metadata": {"labels": {"party-role": 1}}}`)},
			wantErr: ErrDecode,
		},
		"rejects an env entry that is not an object, naming its path": {
			req:     Request{Operation: Create, Kind: podKind, Object: []byte(`{"spec": {"containers": [{"name": "c", "env": ["DATABASE_URL"]}]}}`)},
			wantErr: ErrDecode,
			wantMsg: "spec.containers[0].env[0]: want an object, got string",
		},
		"rejects a secretKeyRef whose name is not a string, naming its path": {
			req: Request{Operation: Create, Kind: podKind, Object: []byte(`{"spec": {"initContainers": [{"name": "c",
				"env": [{"name": "X", "valueFrom": {"secretKeyRef": {"name": 7}}}]}]}}`)},
			wantErr: ErrDecode,
			wantMsg: "spec.initContainers[0].env[0].valueFrom.secretKeyRef.name: want a string, got number",
		},
		"rejects a malformed old Pod on UPDATE": {
			req: Request{Operation: Update, Kind: podKind, Object: []byte(`{"metadata": {"name": "p"}}`),
				OldObject: []byte(`not json`)},
			wantErr: ErrDecode,
			wantMsg: "Pod oldObject",
		},
		"rejects a malformed workload": {
			req:     Request{Operation: Create, Kind: deployment, Object: []byte(`[1, 2]`)},
			wantErr: ErrDecode,
			wantMsg: "Deployment object",
		},
		"rejects a CREATE without object": {
			req:     Request{Operation: Create, Kind: podKind},
			wantErr: ErrNoObject,
			wantMsg: "CREATE Pod",
		},
		"rejects an UPDATE whose object is only whitespace": {
			req:     Request{Operation: Update, Kind: sessionKind, Object: []byte(" \n\t")},
			wantErr: ErrNoObject,
			wantMsg: "UPDATE MPCSession",
		},
		"rejects a workload CREATE without object": {
			req:     Request{Operation: Create, Kind: deployment},
			wantErr: ErrNoObject,
		},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			got, _, err := buildInput(tc.req, &recordingInventory{ok: true})
			require.ErrorIs(t, err, tc.wantErr)
			assert.Nil(t, got)
			assert.Contains(t, err.Error(), tc.wantMsg)
		})
	}
}

func TestBuildInputIgnores(t *testing.T) {
	partyPod := []byte(`{"metadata": {"name": "p-0", "labels": {"app.kubernetes.io/component": "mpc-party"}}}`)
	tests := map[string]Request{
		"ignores a DELETE of a party pod":              {Operation: Delete, Kind: podKind, OldObject: partyPod},
		"ignores a DELETE that carries objects":        {Operation: Delete, Kind: podKind, Object: partyPod, OldObject: partyPod},
		"ignores a CONNECT to a pod":                   {Operation: Connect, Kind: podKind, Object: []byte(`{}`)},
		"ignores a DELETE of a session without object": {Operation: Delete, Kind: sessionKind},
		"ignores a Service": {Operation: Create, Kind: schema.GroupVersionKind{Version: "v1", Kind: "Service"},
			Object: []byte(`{"metadata": {"name": "svc"}}`)},
		"ignores a kind it does not know without reading the object": {Operation: Create,
			Kind: schema.GroupVersionKind{Version: "v1", Kind: "ConfigMap"}, Object: []byte(`not json`)},
		"ignores a Deployment of another API version": {Operation: Create,
			Kind:   schema.GroupVersionKind{Group: "apps", Version: "v1beta1", Kind: "Deployment"},
			Object: []byte(`{"spec": {"template": {"metadata": {"labels": {"app.kubernetes.io/component": "mpc-party"}}}}}`)},
		"ignores an MPCSession-named kind of another group": {Operation: Create,
			Kind: schema.GroupVersionKind{Group: "example.com", Version: "v1alpha1", Kind: "MPCSession"}, Object: []byte(`{}`)},
		"ignores an empty operation": {Kind: podKind, Object: partyPod},
	}
	for name, req := range tests {
		t.Run(name, func(t *testing.T) {
			inv := &recordingInventory{ok: true}
			got, _, err := buildInput(req, inv)
			require.NoError(t, err)
			assert.Nil(t, got)
			assert.Empty(t, inv.asked)
		})
	}
}

func TestReviewedKinds(t *testing.T) {
	want := []schema.GroupVersionKind{
		{Version: "v1", Kind: "Pod"},
		{Group: "apps", Version: "v1", Kind: "Deployment"},
		{Group: "apps", Version: "v1", Kind: "StatefulSet"},
		{Group: "apps", Version: "v1", Kind: "ReplicaSet"},
		{Group: "apps", Version: "v1", Kind: "DaemonSet"},
		{Group: "batch", Version: "v1", Kind: "Job"},
		{Group: "batch", Version: "v1", Kind: "CronJob"},
		{Group: "mpc.mpcguard.io", Version: "v1alpha1", Kind: "MPCSession"},
		{Version: "v1", Kind: "Binding"},
		{Version: "v1", Kind: "PodExecOptions"},
		{Version: "v1", Kind: "PodAttachOptions"},
		{Version: "v1", Kind: "PodPortForwardOptions"},
		{Version: "v1", Kind: "PodProxyOptions"},
		{Version: "v1", Kind: "PersistentVolumeClaim"},
		{Group: "snapshot.storage.k8s.io", Version: "v1", Kind: "VolumeSnapshot"},
		{Group: "autoscaling", Version: "v1", Kind: "Scale"},
		{Version: "v1", Kind: "Secret"},
	}
	var got []schema.GroupVersionKind
	for _, k := range vocab.Kinds {
		got = append(got, schema.GroupVersionKind{Group: k.Group, Version: k.Version, Kind: k.Kind})
	}
	assert.ElementsMatch(t, want, got)
	for _, gvk := range want {
		assert.True(t, Reviewed(gvk), "%s", gvk)
	}
	assert.False(t, Reviewed(schema.GroupVersionKind{Version: "v1", Kind: "Service"}))
	assert.False(t, Reviewed(schema.GroupVersionKind{Group: "apps", Version: "v1beta2", Kind: "StatefulSet"}))
	assert.False(t, Reviewed(schema.GroupVersionKind{Version: "v1", Kind: "pod"}), "kinds are case-sensitive")
}
