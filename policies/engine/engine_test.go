package engine_test

import (
	"context"
	"encoding/json"
	"fmt"
	"slices"
	"strings"
	"sync"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"k8s.io/apimachinery/pkg/runtime/schema"

	"github.com/mpcguard/mpcguard/policies"
	"github.com/mpcguard/mpcguard/policies/engine"
	"github.com/mpcguard/mpcguard/policies/vocab"
)

var (
	podGVK     = schema.GroupVersionKind{Version: "v1", Kind: "Pod"}
	sessionGVK = schema.GroupVersionKind{Group: "mpc.mpcguard.io", Version: "v1alpha1", Kind: "MPCSession"}
)

func workloadGVK(kind string) schema.GroupVersionKind {
	switch kind {
	case "Job", "CronJob":
		return schema.GroupVersionKind{Group: "batch", Version: "v1", Kind: kind}
	}
	return schema.GroupVersionKind{Group: "apps", Version: "v1", Kind: kind}
}

// shareConfig is the default configuration with the persistent pool's share storage named, as the chart sets it.
func shareConfig() engine.Config {
	cfg := engine.DefaultConfig()
	cfg.ShareStorage = engine.ShareStorage{SecretNames: []string{"mpc-db"}, ClaimPrefixes: []string{"share-data-mpc-party-"}}
	return cfg
}

// newEngine compiles the embedded policies with cfg.
func newEngine(t testing.TB, cfg engine.Config) *engine.Engine {
	t.Helper()
	eng, err := engine.New(t.Context(), cfg, nil)
	require.NoError(t, err)
	return eng
}

// sharedEngine is compiled once for the tests that use shareConfig.
var sharedEngine = sync.OnceValues(func() (*engine.Engine, error) {
	return engine.New(context.Background(), shareConfig(), nil)
})

func defaultEngine(t testing.TB) *engine.Engine {
	t.Helper()
	eng, err := sharedEngine()
	require.NoError(t, err)
	return eng
}

// fakeInventory is a cluster inventory with a fixed answer.
type fakeInventory struct {
	ready int
	roles map[string]string // namespace/name -> role
	ok    bool
}

func (f fakeInventory) PersistentReady(string) (int, bool) { return f.ready, f.ok }

func (f fakeInventory) Role(namespace, name string) (string, bool) {
	return f.roles[namespace+"/"+name], f.ok
}

func readyInventory(n int) engine.Inventory { return fakeInventory{ready: n, ok: true} }

// vol builds a pod volume: "pvc:<claim>", "secret:<name>" or "projected:<secret>,<secret>".
func vol(spec string) map[string]any {
	kind, name, _ := strings.Cut(spec, ":")
	switch kind {
	case "pvc":
		return map[string]any{"name": "v-" + name, "persistentVolumeClaim": map[string]any{"claimName": name}}
	case "secret":
		return map[string]any{"name": "v-" + name, "secret": map[string]any{"secretName": name}}
	case "projected":
		var sources []any
		sources = append(sources, map[string]any{"configMap": map[string]any{"name": "ca"}})
		for _, s := range strings.Split(name, ",") {
			sources = append(sources, map[string]any{"secret": map[string]any{"name": s}})
		}
		return map[string]any{"name": "bundle", "projected": map[string]any{"sources": sources}}
	}
	return map[string]any{"name": "tmp", "emptyDir": map[string]any{}}
}

func mustJSON(t testing.TB, v any) []byte {
	t.Helper()
	b, err := json.Marshal(v)
	require.NoError(t, err)
	return b
}

// podJSON is a pod named p-0 in mpc-system with labels and volumes.
func podJSON(t testing.TB, labels map[string]string, volumes ...string) []byte {
	t.Helper()
	vols := []any{}
	for _, v := range volumes {
		vols = append(vols, vol(v))
	}
	return mustJSON(t, map[string]any{
		"apiVersion": "v1", "kind": "Pod",
		"metadata": map[string]any{"name": "p-0", "namespace": "mpc-system", "labels": labels},
		"spec": map[string]any{
			"containers": []any{map[string]any{"name": "party", "image": "mpc/party:1.0"}},
			"volumes":    vols,
		},
	})
}

// workloadJSON is a workload of kind named name in mpc-system whose pod template has labels and volumes, and
// (for a StatefulSet) the given volumeClaimTemplates.
func workloadJSON(t testing.TB, kind, name string, labels map[string]string, vcts []string, volumes ...string) []byte {
	t.Helper()
	vols := []any{}
	for _, v := range volumes {
		vols = append(vols, vol(v))
	}
	tmpl := map[string]any{
		"metadata": map[string]any{"labels": labels},
		"spec": map[string]any{
			"containers": []any{map[string]any{"name": "party", "image": "mpc/party:1.0"}},
			"volumes":    vols,
		},
	}
	spec := map[string]any{"template": tmpl}
	if kind == "CronJob" {
		spec = map[string]any{"schedule": "@hourly", "jobTemplate": map[string]any{"spec": spec}}
	}
	if len(vcts) > 0 {
		var list []any
		for _, n := range vcts {
			list = append(list, map[string]any{"metadata": map[string]any{"name": n}})
		}
		spec["volumeClaimTemplates"] = list
	}
	gvk := workloadGVK(kind)
	return mustJSON(t, map[string]any{
		"apiVersion": gvk.GroupVersion().String(), "kind": kind,
		"metadata": map[string]any{"name": name, "namespace": "mpc-system"},
		"spec":     spec,
	})
}

// sessionJSON is the MPCSession sign-42 in mpc-system with the given spec.
func sessionJSON(spec string) []byte {
	return []byte(`{"apiVersion": "mpc.mpcguard.io/v1alpha1", "kind": "MPCSession",
		"metadata": {"name": "sign-42", "namespace": "mpc-system"}, "spec": ` + spec + `}`)
}

func party(role string) map[string]string {
	l := map[string]string{"app.kubernetes.io/component": "mpc-party", "app.kubernetes.io/name": "mpc-system"}
	if role != "-" {
		l["party-role"] = role
	}
	return l
}

func createPod(t testing.TB, labels map[string]string, volumes ...string) engine.Request {
	return engine.Request{Operation: engine.Create, Kind: podGVK, Namespace: "mpc-system", Object: podJSON(t, labels, volumes...)}
}

// statefulSetController is the identity that creates a StatefulSet's pods.
const statefulSetController = "system:serviceaccount:kube-system:statefulset-controller"

// ownedBy returns req with its object's controller owner set to kind/name, as a controller creates its pods.
func ownedBy(t testing.TB, req engine.Request, kind, name string) engine.Request {
	t.Helper()
	var obj map[string]any
	require.NoError(t, json.Unmarshal(req.Object, &obj))
	obj["metadata"].(map[string]any)["ownerReferences"] = []any{map[string]any{
		"apiVersion": "apps/v1", "kind": kind, "name": name, "uid": "6f1c", "controller": true, "blockOwnerDeletion": true}}
	req.Object = mustJSON(t, obj)
	return req
}

// by returns req as sent by username in groups (an admission request; offline requests carry no user).
func by(req engine.Request, username string, groups ...string) engine.Request {
	req.User = &engine.User{Username: username, Groups: groups}
	return req
}

// persistentPod is a persistent party pod created by the StatefulSet controller for the StatefulSet mpc-party.
func persistentPod(t testing.TB, volumes ...string) engine.Request {
	return by(ownedBy(t, createPod(t, party("persistent"), volumes...), "StatefulSet", "mpc-party"), statefulSetController,
		"system:serviceaccounts", "system:authenticated")
}

func updatePod(t testing.TB, oldLabels, newLabels map[string]string) engine.Request {
	return engine.Request{Operation: engine.Update, Kind: podGVK, Namespace: "mpc-system", Name: "p-0",
		Object: podJSON(t, newLabels), OldObject: podJSON(t, oldLabels)}
}

func createWorkload(t testing.TB, kind, name string, labels map[string]string, vcts []string, volumes ...string) engine.Request {
	return engine.Request{Operation: engine.Create, Kind: workloadGVK(kind), Namespace: "mpc-system",
		Object: workloadJSON(t, kind, name, labels, vcts, volumes...)}
}

func createSession(spec string) engine.Request {
	return engine.Request{Operation: engine.Create, Kind: sessionGVK, Namespace: "mpc-system", Object: sessionJSON(spec)}
}

// want is an expected result: the policy id, and the full message unless it is empty.
type want struct{ policy, msg string }

func ids(policies ...string) []want {
	out := make([]want, len(policies))
	for i, p := range policies {
		out[i] = want{policy: p}
	}
	return out
}

// assertResults checks results against the expected ones, in order, and that every message starts with
// "[<policy-id>] <Kind> <namespace>/<name>: " as policies/README.md promises.
func assertResults(t *testing.T, what string, wants []want, got []engine.Result, prefix string) {
	t.Helper()
	gotIDs := make([]string, len(got))
	for i, r := range got {
		gotIDs[i] = r.Policy
		assert.True(t, strings.HasPrefix(r.Message, "["+r.Policy+"] "+prefix), "%s[%d] message %q does not start with [%s] %s", what, i, r.Message, r.Policy, prefix)
	}
	wantIDs := make([]string, len(wants))
	for i, w := range wants {
		wantIDs[i] = w.policy
	}
	if !assert.Equal(t, wantIDs, gotIDs, "%s policies; got %+v", what, got) {
		return
	}
	for i, w := range wants {
		if w.msg != "" {
			assert.Equal(t, w.msg, got[i].Message, "%s[%d] message", what, i)
		}
	}
}

func TestReview(t *testing.T) {
	ample := readyInventory(10)
	tests := map[string]struct {
		req                 engine.Request
		inv                 engine.Inventory // nil: 10 Ready persistent parties, unless noInventory
		noInventory         bool             // review without any inventory (nil)
		object              string           // "<Kind> <ns>/<name>" named by every message
		deny, warn, skipped []want
	}{
		// party-role-required
		"denies a party pod without a role label": {
			req: createPod(t, party("-")), object: "Pod mpc-system/p-0",
			deny: []want{{"party-role-required", "[party-role-required] Pod mpc-system/p-0: party pod (app.kubernetes.io/component=mpc-party) has no party-role label; add party-role with one of persistent, delegate, temporary"}},
		},
		"admits a persistent party pod the StatefulSet controller creates": {req: persistentPod(t)},
		"admits a delegate party pod":                                      {req: createPod(t, party("delegate"))},
		"admits a temporary party pod":                                     {req: createPod(t, party("temporary"))},
		"admits a pod outside the party selector without a role label": {
			req: createPod(t, map[string]string{"app": "web"}),
		},
		"admits a pod whose component label is not the party's": {
			req: createPod(t, map[string]string{"app.kubernetes.io/component": "coordinator"}),
		},
		"admits a pod without labels": {req: createPod(t, nil)},
		"names a party pod created from generateName by its prefix": {
			req: engine.Request{Operation: engine.Create, Kind: podGVK, Namespace: "mpc-system",
				Object: []byte(`{"metadata": {"generateName": "mpc-party-", "labels": {"app.kubernetes.io/component": "mpc-party"}}}`)},
			object: "Pod mpc-system/mpc-party-*",
			deny:   []want{{"party-role-required", "[party-role-required] Pod mpc-system/mpc-party-*: party pod (app.kubernetes.io/component=mpc-party) has no party-role label; add party-role with one of persistent, delegate, temporary"}},
		},
		// party-role-valid
		"denies a party pod whose role has another case": {
			req: createPod(t, party("Persistent")), object: "Pod mpc-system/p-0",
			deny: []want{{"party-role-valid", `[party-role-valid] Pod mpc-system/p-0: party-role="Persistent" is not a valid role; set party-role to one of persistent, delegate, temporary (exact, lower case)`}},
		},
		"denies a party pod whose role has surrounding spaces": {
			req: createPod(t, party(" delegate ")), object: "Pod mpc-system/p-0",
			deny: []want{{"party-role-valid", `[party-role-valid] Pod mpc-system/p-0: party-role=" delegate " is not a valid role; set party-role to one of persistent, delegate, temporary (exact, lower case)`}},
		},
		"denies a party pod whose role is empty": {
			req: createPod(t, party("")), object: "Pod mpc-system/p-0",
			deny: ids("party-role-valid"),
		},
		"denies a party pod whose role is unknown": {
			req: createPod(t, party("coordinator")), object: "Pod mpc-system/p-0",
			deny: ids("party-role-valid"),
		},
		"admits an invalid role on a pod outside the party selector": {
			req: createPod(t, map[string]string{"party-role": "Persistent"}),
		},
		// party-role-immutable
		"denies an UPDATE that removes the role": {
			req: updatePod(t, party("persistent"), party("-")), object: "Pod mpc-system/p-0",
			deny: []want{
				{"party-role-immutable", `[party-role-immutable] Pod mpc-system/p-0: party-role "persistent" cannot be removed; delete the pod and create it with the role it should have`},
				{"party-role-required", ""},
			},
		},
		"denies an UPDATE that changes the role": {
			req: updatePod(t, party("persistent"), party("delegate")), object: "Pod mpc-system/p-0",
			deny: []want{{"party-role-immutable", `[party-role-immutable] Pod mpc-system/p-0: party-role cannot change from "persistent" to "delegate"; delete the pod and create it with the role it should have`}},
		},
		"denies an UPDATE that changes the role while leaving the party selector": {
			req: updatePod(t, party("delegate"), map[string]string{"party-role": "persistent"}), object: "Pod mpc-system/p-0",
			deny: []want{{"party-role-immutable", `[party-role-immutable] Pod mpc-system/p-0: party-role cannot change from "delegate" to "persistent"; delete the pod and create it with the role it should have`}},
		},
		"denies an UPDATE that changes the role while joining the party selector, and the persistent role it would earn": {
			req: updatePod(t, map[string]string{"party-role": "delegate"}, party("persistent")), object: "Pod mpc-system/p-0",
			deny: []want{
				{"party-persistent-origin", "[party-persistent-origin] Pod mpc-system/p-0: a pod cannot become a persistent party by an update (app.kubernetes.io/component=mpc-party and party-role=persistent added); persistent parties are created by the persistent pool"},
				{"party-role-immutable", ""},
			},
		},
		"admits an UPDATE that keeps the role and changes other labels": {
			req: updatePod(t, party("persistent"), func() map[string]string {
				l := party("persistent")
				l["version"] = "2"
				return l
			}()),
		},
		"admits an UPDATE that adds a role to a party pod that had none": {
			req: updatePod(t, party("-"), party("temporary")),
		},
		"denies an UPDATE that changes the role of a pod that never was a party pod, as the role label is immutable on every pod": {
			req: updatePod(t, map[string]string{"party-role": "delegate"}, map[string]string{"party-role": "persistent"}), object: "Pod mpc-system/p-0",
			deny: []want{{"party-role-immutable", `[party-role-immutable] Pod mpc-system/p-0: party-role cannot change from "delegate" to "persistent"; delete the pod and create it with the role it should have`}},
		},
		"admits an UPDATE without old object when the new pod is valid": {
			req: engine.Request{Operation: engine.Update, Kind: podGVK, Namespace: "mpc-system", Object: podJSON(t, party("delegate"))},
		},
		// workload-party-role
		"denies a Deployment whose party template lacks the role label": {
			req: createWorkload(t, "Deployment", "signer", party("-"), nil), object: "Deployment mpc-system/signer",
			deny: []want{{"workload-party-role", "[workload-party-role] Deployment mpc-system/signer: pod template matches the party selector (app.kubernetes.io/component=mpc-party) but has no party-role label; add party-role (one of persistent, delegate, temporary) to the pod template labels"}},
		},
		"denies a StatefulSet whose party template lacks the role label": {
			req: createWorkload(t, "StatefulSet", "w", party("-"), nil), object: "StatefulSet mpc-system/w", deny: ids("workload-party-role"),
		},
		"denies a ReplicaSet whose party template lacks the role label": {
			req: createWorkload(t, "ReplicaSet", "w", party("-"), nil), object: "ReplicaSet mpc-system/w", deny: ids("workload-party-role"),
		},
		"denies a DaemonSet whose party template lacks the role label": {
			req: createWorkload(t, "DaemonSet", "w", party("-"), nil), object: "DaemonSet mpc-system/w", deny: ids("workload-party-role"),
		},
		"denies a Job whose party template lacks the role label": {
			req: createWorkload(t, "Job", "w", party("-"), nil), object: "Job mpc-system/w", deny: ids("workload-party-role"),
		},
		"denies a CronJob whose party job template lacks the role label": {
			req: createWorkload(t, "CronJob", "w", party("-"), nil), object: "CronJob mpc-system/w", deny: ids("workload-party-role"),
		},
		"denies a StatefulSet whose party template has an invalid role": {
			req: createWorkload(t, "StatefulSet", "mpc-party", party("Delegate"), nil), object: "StatefulSet mpc-system/mpc-party",
			deny: []want{{"workload-party-role", `[workload-party-role] StatefulSet mpc-system/mpc-party: pod template has party-role="Delegate", not one of persistent, delegate, temporary; set it to one of them in the pod template labels`}},
		},
		"admits a StatefulSet whose party template has a valid role": {
			req: createWorkload(t, "StatefulSet", "mpc-party", party("persistent"), []string{"share-data"}),
		},
		"admits a Deployment whose template is outside the party selector": {
			req: createWorkload(t, "Deployment", "web", map[string]string{"app": "web"}, nil),
		},
		// delegate-no-share-storage
		"denies a delegate pod mounting the share secret": {
			req: createPod(t, party("delegate"), "secret:mpc-db", "secret:tls"), object: "Pod mpc-system/p-0",
			deny: []want{{"delegate-no-share-storage", "[delegate-no-share-storage] Pod mpc-system/p-0: delegate party uses the persistent pool's share storage (Secret mpc-db); remove those volumes and env references: only persistent parties may hold key shares"}},
		},
		"denies a temporary pod mounting a share claim and the share secret through a projected volume": {
			req: createPod(t, party("temporary"), "pvc:share-data-mpc-party-0", "projected:tls,mpc-db"), object: "Pod mpc-system/p-0",
			deny: []want{{"delegate-no-share-storage", "[delegate-no-share-storage] Pod mpc-system/p-0: temporary party uses the persistent pool's share storage (PersistentVolumeClaim share-data-mpc-party-0, Secret mpc-db); remove those volumes and env references: only persistent parties may hold key shares"}},
		},
		"denies a delegate pod that reads the share secret into its environment": {
			req: engine.Request{Operation: engine.Create, Kind: podGVK, Namespace: "mpc-system", Object: []byte(`{
				"metadata": {"name": "p-0", "labels": {"app.kubernetes.io/component": "mpc-party", "party-role": "delegate"}},
				"spec": {"containers": [{"name": "party", "image": "mpc/party:1.0",
					"env": [{"name": "DATABASE_URL", "valueFrom": {"secretKeyRef": {"name": "mpc-db", "key": "url"}}}]}]}}`)},
			object: "Pod mpc-system/p-0",
			deny:   []want{{"delegate-no-share-storage", "[delegate-no-share-storage] Pod mpc-system/p-0: delegate party uses the persistent pool's share storage (Secret mpc-db); remove those volumes and env references: only persistent parties may hold key shares"}},
		},
		"admits a persistent pod mounting share storage": {
			req: persistentPod(t, "pvc:share-data-mpc-party-0", "secret:mpc-db"),
		},
		"admits a delegate pod mounting unrelated storage": {
			req: createPod(t, party("delegate"), "pvc:scratch", "secret:mpc-db-tls", "projected:tls", "emptydir"),
		},
		"denies a delegate StatefulSet whose volume claim template is share storage (the persistent pool's StatefulSet turned delegate)": {
			req:    createWorkload(t, "StatefulSet", "mpc-party", party("delegate"), []string{"share-data"}),
			object: "StatefulSet mpc-system/mpc-party",
			deny:   []want{{"delegate-no-share-storage", "[delegate-no-share-storage] StatefulSet mpc-system/mpc-party: pod template with party-role=delegate uses the persistent pool's share storage (PersistentVolumeClaim share-data-mpc-party-0); remove those volumes and env references: only persistent parties may hold key shares"}},
		},
		"admits a delegate StatefulSet whose claims only start like the share claims (share-data-mpc-party-delegates-0 is its own)": {
			req: createWorkload(t, "StatefulSet", "mpc-party-delegates", party("delegate"), []string{"share-data"}),
		},
		"denies a temporary CronJob mounting the share secret": {
			req: createWorkload(t, "CronJob", "refresh", party("temporary"), nil, "secret:mpc-db"), object: "CronJob mpc-system/refresh",
			deny: ids("delegate-no-share-storage"),
		},
		"admits a persistent StatefulSet whose volume claim template is share storage": {
			req: createWorkload(t, "StatefulSet", "mpc-party", party("persistent"), []string{"share-data"}, "secret:mpc-db"),
		},
		// session-composition-nonempty
		"admits a 2-of-3 session without composition when 3 persistent parties are ready": {
			req: createSession(`{"type": "sign", "threshold": {"t": 2, "n": 3}}`), inv: readyInventory(3),
		},
		"denies a session whose composition is {}": {
			req: createSession(`{"type": "sign", "threshold": {"t": 2, "n": 3}, "composition": {}}`), object: "MPCSession mpc-system/sign-42",
			deny: []want{{"session-composition-nonempty", "[session-composition-nonempty] MPCSession mpc-system/sign-42: composition is present but empty (persistent=0, delegate=0, temporary=0); omit it for the strict default (all 3 parties persistent) or give the counts"}},
		},
		"denies a session whose composition counts are all zero": {
			req:    createSession(`{"type": "sign", "threshold": {"t": 1, "n": 1}, "composition": {"persistent": 0, "delegate": 0, "temporary": 0}}`),
			object: "MPCSession mpc-system/sign-42",
			deny:   []want{{"session-composition-nonempty", "[session-composition-nonempty] MPCSession mpc-system/sign-42: composition is present but empty (persistent=0, delegate=0, temporary=0); omit it for the strict default (all 1 party persistent) or give the counts"}},
		},
		// session-delegate-only-threshold
		"admits a 2-of-3 session with one delegate": {
			req: createSession(`{"type": "sign", "threshold": {"t": 2, "n": 3}, "composition": {"persistent": 2, "delegate": 1}}`),
		},
		"denies a 2-of-3 session whose two delegates reach t": {
			req: createSession(`{"type": "sign", "threshold": {"t": 2, "n": 3}, "composition": {"persistent": 1, "delegate": 2}}`), object: "MPCSession mpc-system/sign-42",
			deny: []want{{"session-delegate-only-threshold", "[session-delegate-only-threshold] MPCSession mpc-system/sign-42: 2 delegate + 0 temporary parties could reach the signing threshold t=2 without a persistent party; use at most 1 non-persistent party or raise t"}},
		},
		"denies a 3-of-5 session whose delegate and temporary parties reach exactly t together": {
			req: createSession(`{"type": "sign", "threshold": {"t": 3, "n": 5}, "composition": {"persistent": 2, "delegate": 2, "temporary": 1}}`), object: "MPCSession mpc-system/sign-42",
			deny: []want{{"session-delegate-only-threshold", "[session-delegate-only-threshold] MPCSession mpc-system/sign-42: 2 delegate + 1 temporary parties could reach the signing threshold t=3 without a persistent party; use at most 2 non-persistent parties or raise t"}},
		},
		"admits a 3-of-5 session whose non-persistent parties are t-1": {
			req: createSession(`{"type": "sign", "threshold": {"t": 3, "n": 5}, "composition": {"persistent": 3, "delegate": 1, "temporary": 1}}`),
		},
		"denies a 1-of-2 session with one temporary party": {
			req: createSession(`{"type": "sign", "threshold": {"t": 1, "n": 2}, "composition": {"persistent": 1, "temporary": 1}}`), object: "MPCSession mpc-system/sign-42",
			deny: []want{{"session-delegate-only-threshold", "[session-delegate-only-threshold] MPCSession mpc-system/sign-42: 0 delegate + 1 temporary parties could reach the signing threshold t=1 without a persistent party; use at most 0 non-persistent parties or raise t"}},
		},
		"denies a session made only of delegates": {
			req: createSession(`{"type": "keygen", "threshold": {"t": 2, "n": 3}, "composition": {"delegate": 3}}`), inv: fakeInventory{}, object: "MPCSession mpc-system/sign-42",
			deny: ids("session-delegate-only-threshold"),
		},
		// session-composition-sum
		"denies a composition that adds up to more than n": {
			req: createSession(`{"type": "sign", "threshold": {"t": 2, "n": 3}, "composition": {"persistent": 3, "delegate": 1}}`), object: "MPCSession mpc-system/sign-42",
			deny: []want{{"session-composition-sum", "[session-composition-sum] MPCSession mpc-system/sign-42: composition adds up to 4 (persistent=3, delegate=1, temporary=0), not n=3; make the counts add up to n"}},
		},
		"denies a composition that adds up to less than n": {
			req: createSession(`{"type": "sign", "threshold": {"t": 2, "n": 5}, "composition": {"persistent": 3}}`), object: "MPCSession mpc-system/sign-42",
			deny: []want{{"session-composition-sum", "[session-composition-sum] MPCSession mpc-system/sign-42: composition adds up to 3 (persistent=3, delegate=0, temporary=0), not n=5; make the counts add up to n"}},
		},
		// session-threshold-range
		"denies t=0": {
			req: createSession(`{"type": "sign", "threshold": {"t": 0, "n": 3}}`), object: "MPCSession mpc-system/sign-42",
			deny: []want{{"session-threshold-range", "[session-threshold-range] MPCSession mpc-system/sign-42: threshold t=0 is outside 1..n (n=3); set 1 <= t <= n"}},
		},
		"denies t>n": {
			req: createSession(`{"type": "sign", "threshold": {"t": 4, "n": 3}}`), object: "MPCSession mpc-system/sign-42",
			deny: []want{{"session-threshold-range", "[session-threshold-range] MPCSession mpc-system/sign-42: threshold t=4 is outside 1..n (n=3); set 1 <= t <= n"}},
		},
		"denies absent t and n as an invalid spec, and as zero": {
			req: createSession(`{"type": "sign", "threshold": {}}`), object: "MPCSession mpc-system/sign-42",
			deny: []want{
				{"session-spec-valid", "[session-spec-valid] MPCSession mpc-system/sign-42: spec.threshold.n is (absent), not a whole number from 1; spec.threshold.t is (absent), not a whole number from 1; write the spec as the MPCSession CRD defines it"},
				{"session-threshold-range", "[session-threshold-range] MPCSession mpc-system/sign-42: threshold t=0 is outside 1..n (n=0); set 1 <= t <= n"},
			},
		},
		"denies an unknown session field as an invalid spec, not as an undecodable object": {
			req: createSession(`{"type": "sign", "threshold": {"t": 2, "n": 3}, "delegates": 3}`), object: "MPCSession mpc-system/sign-42",
			deny: []want{{"session-spec-valid", "[session-spec-valid] MPCSession mpc-system/sign-42: unknown field spec.delegates (fields are case-sensitive: type, threshold, composition); write the spec as the MPCSession CRD defines it"}},
		},
		"admits t=n":    {req: createSession(`{"type": "sign", "threshold": {"t": 3, "n": 3}}`)},
		"admits 1-of-1": {req: createSession(`{"type": "sign", "threshold": {"t": 1, "n": 1}}`)},
		"reports every session violation at once, sorted by message": {
			req: createSession(`{"type": "sign", "threshold": {"t": 6, "n": 4}, "composition": {"persistent": 1, "delegate": 4, "temporary": 2}}`), inv: readyInventory(0),
			object: "MPCSession mpc-system/sign-42",
			deny: []want{
				{"session-composition-sum", "[session-composition-sum] MPCSession mpc-system/sign-42: composition adds up to 7 (persistent=1, delegate=4, temporary=2), not n=4; make the counts add up to n"},
				{"session-delegate-only-threshold", "[session-delegate-only-threshold] MPCSession mpc-system/sign-42: 4 delegate + 2 temporary parties could reach the signing threshold t=6 without a persistent party; use at most 5 non-persistent parties or raise t"},
				{"session-persistent-available", "[session-persistent-available] MPCSession mpc-system/sign-42: needs 1 Ready persistent party but namespace mpc-system has 0; scale up the persistent pool or wait for its parties to be Ready"},
				{"session-threshold-range", "[session-threshold-range] MPCSession mpc-system/sign-42: threshold t=6 is outside 1..n (n=4); set 1 <= t <= n"},
			},
		},
		// session-persistent-available
		"denies a session when fewer persistent parties are ready than its composition needs": {
			req: createSession(`{"type": "sign", "threshold": {"t": 2, "n": 3}, "composition": {"persistent": 2, "delegate": 1}}`), inv: readyInventory(1),
			object: "MPCSession mpc-system/sign-42",
			deny:   []want{{"session-persistent-available", "[session-persistent-available] MPCSession mpc-system/sign-42: needs 2 Ready persistent parties but namespace mpc-system has 1; scale up the persistent pool or wait for its parties to be Ready"}},
		},
		"admits a session when exactly the persistent parties it needs are ready": {
			req: createSession(`{"type": "sign", "threshold": {"t": 2, "n": 3}, "composition": {"persistent": 2, "delegate": 1}}`), inv: readyInventory(2),
		},
		"needs all n persistent parties under the strict default": {
			req: createSession(`{"type": "sign", "threshold": {"t": 2, "n": 3}}`), inv: readyInventory(2), object: "MPCSession mpc-system/sign-42",
			deny: []want{{"session-persistent-available", "[session-persistent-available] MPCSession mpc-system/sign-42: needs 3 Ready persistent parties but namespace mpc-system has 2; scale up the persistent pool or wait for its parties to be Ready"}},
		},
		"skips the persistent check when the inventory is unavailable": {
			req: createSession(`{"type": "sign", "threshold": {"t": 2, "n": 3}}`), inv: fakeInventory{ready: 0, ok: false}, object: "MPCSession mpc-system/sign-42",
			skipped: []want{{"session-persistent-available", "[session-persistent-available] MPCSession mpc-system/sign-42: not checked: no cluster inventory (needs 3 Ready persistent parties)"}},
		},
		"skips the persistent check when there is no inventory": {
			req: createSession(`{"type": "sign", "threshold": {"t": 2, "n": 3}, "composition": {"persistent": 2, "delegate": 1}}`), noInventory: true, object: "MPCSession mpc-system/sign-42",
			skipped: []want{{"session-persistent-available", "[session-persistent-available] MPCSession mpc-system/sign-42: not checked: no cluster inventory (needs 2 Ready persistent parties)"}},
		},
		"denies and skips independently without an inventory": {
			req: createSession(`{"type": "sign", "threshold": {"t": 2, "n": 3}, "composition": {"persistent": 1, "delegate": 2}}`), noInventory: true, object: "MPCSession mpc-system/sign-42",
			deny:    ids("session-delegate-only-threshold"),
			skipped: []want{{"session-persistent-available", "[session-persistent-available] MPCSession mpc-system/sign-42: not checked: no cluster inventory (needs 1 Ready persistent party)"}},
		},
		"checks a session on UPDATE": {
			req: engine.Request{Operation: engine.Update, Kind: sessionGVK, Namespace: "mpc-system", Name: "sign-42",
				Object: sessionJSON(`{"type": "sign", "threshold": {"t": 0, "n": 3}}`), OldObject: sessionJSON(`{"type": "sign", "threshold": {"t": 2, "n": 3}}`)},
			object: "MPCSession mpc-system/sign-42",
			deny:   ids("session-threshold-range"),
		},
	}
	eng := defaultEngine(t)
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			t.Parallel() // the engine is documented as safe for concurrent use
			inv := tc.inv
			switch {
			case tc.noInventory:
				inv = nil
			case inv == nil:
				inv = ample
			}
			d, err := eng.Review(t.Context(), tc.req, inv)
			require.NoError(t, err)
			assert.True(t, d.Reviewed)
			assertResults(t, "deny", tc.deny, d.Deny, tc.object+": ")
			assertResults(t, "warn", tc.warn, d.Warn, tc.object+": ")
			assertResults(t, "skipped", tc.skipped, d.Skipped, tc.object+": ")
			assert.Equal(t, len(tc.deny) == 0, d.Allowed())
		})
	}
}

func TestReviewWithoutShareStorageConfigured(t *testing.T) {
	eng := newEngine(t, engine.DefaultConfig())
	d, err := eng.Review(t.Context(), createPod(t, party("delegate"), "pvc:share-data-mpc-party-0", "secret:mpc-db"), nil)
	require.NoError(t, err)
	assert.True(t, d.Reviewed)
	assert.Empty(t, d.Deny, "no share storage is configured, so nothing names the pool's storage")
}

func TestReviewEnforcement(t *testing.T) {
	badSession := createSession(`{"type": "sign", "threshold": {"t": 2, "n": 3}, "composition": {"persistent": 2, "delegate": 2}}`)
	tests := map[string]struct {
		enforcement         map[string]vocab.Action
		req                 engine.Request
		inv                 engine.Inventory
		deny, warn, skipped []string
	}{
		"denies every violation by default": {
			req: badSession, inv: readyInventory(1),
			deny: []string{"session-composition-sum", "session-delegate-only-threshold", "session-persistent-available"},
		},
		"moves a warn policy's violation to warnings": {
			enforcement: map[string]vocab.Action{vocab.SessionDelegateOnlyThreshold: vocab.Warn},
			req:         badSession, inv: readyInventory(1),
			deny: []string{"session-composition-sum", "session-persistent-available"},
			warn: []string{"session-delegate-only-threshold"},
		},
		"drops an off policy's violation": {
			enforcement: map[string]vocab.Action{vocab.SessionCompositionSum: vocab.Off},
			req:         badSession, inv: readyInventory(1),
			deny: []string{"session-delegate-only-threshold", "session-persistent-available"},
		},
		"admits a party pod without role with a warning when party-role-required warns": {
			enforcement: map[string]vocab.Action{vocab.PartyRoleRequired: vocab.Warn},
			req:         createPod(t, party("-")),
			warn:        []string{"party-role-required"},
		},
		"warns about missing persistent parties when the inventory check warns": {
			enforcement: map[string]vocab.Action{vocab.SessionPersistentAvailable: vocab.Warn},
			req:         createSession(`{"type": "sign", "threshold": {"t": 2, "n": 3}}`), inv: readyInventory(0),
			warn: []string{"session-persistent-available"},
		},
		"still reports a skipped check whose policy warns": {
			enforcement: map[string]vocab.Action{vocab.SessionPersistentAvailable: vocab.Warn},
			req:         createSession(`{"type": "sign", "threshold": {"t": 2, "n": 3}}`),
			skipped:     []string{"session-persistent-available"},
		},
		"does not report a skipped check whose policy is off": {
			enforcement: map[string]vocab.Action{vocab.SessionPersistentAvailable: vocab.Off},
			req:         createSession(`{"type": "sign", "threshold": {"t": 2, "n": 3}}`),
		},
		"turns every pod policy off": {
			enforcement: map[string]vocab.Action{vocab.PartyRoleRequired: vocab.Off, vocab.PartyRoleImmutable: vocab.Off},
			req:         updatePod(t, party("persistent"), party("-")),
		},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			cfg := shareConfig()
			for id, act := range tc.enforcement {
				cfg.Enforcement[id] = act
			}
			d, err := newEngine(t, cfg).Review(t.Context(), tc.req, tc.inv)
			require.NoError(t, err)
			assertResults(t, "deny", ids(tc.deny...), d.Deny, "")
			assertResults(t, "warn", ids(tc.warn...), d.Warn, "")
			assertResults(t, "skipped", ids(tc.skipped...), d.Skipped, "")
			assert.Equal(t, len(tc.deny) == 0, d.Allowed())
		})
	}
}

func TestReviewCustomConfig(t *testing.T) {
	cfg := engine.DefaultConfig()
	cfg.RoleLabelKey = "signer.example.com/role"
	sel, err := engine.ParseSelector("tier=mpc,app=signer")
	require.NoError(t, err)
	cfg.PartySelector = sel
	cfg.ShareStorage = engine.ShareStorage{SecretNames: []string{"vault-shares"}, ClaimPrefixes: []string{"keys-"}}
	eng := newEngine(t, cfg)
	assert.Equal(t, cfg, eng.Config())

	signer := func(extra map[string]string) map[string]string {
		l := map[string]string{"app": "signer", "tier": "mpc"}
		for k, v := range extra {
			l[k] = v
		}
		return l
	}
	tests := map[string]struct {
		req  engine.Request
		deny []want
	}{
		"denies a pod matching the custom selector without the custom role key": {
			req:  createPod(t, signer(map[string]string{"party-role": "delegate"})),
			deny: []want{{"party-role-required", "[party-role-required] Pod mpc-system/p-0: party pod (app=signer,tier=mpc) has no signer.example.com/role label; add signer.example.com/role with one of persistent, delegate, temporary"}},
		},
		"admits a pod matching the custom selector with the custom role key": {
			req: createPod(t, signer(map[string]string{"signer.example.com/role": "delegate"})),
		},
		"admits a persistent pod with the custom role key that the StatefulSet controller creates": {
			req: by(ownedBy(t, createPod(t, signer(map[string]string{"signer.example.com/role": "persistent"})), "StatefulSet", "signer"),
				"system:kube-controller-manager"),
		},
		"validates the custom role key's value": {
			req:  createPod(t, signer(map[string]string{"signer.example.com/role": "DELEGATE"})),
			deny: []want{{"party-role-valid", `[party-role-valid] Pod mpc-system/p-0: signer.example.com/role="DELEGATE" is not a valid role; set signer.example.com/role to one of persistent, delegate, temporary (exact, lower case)`}},
		},
		"admits a pod matching only one label of the custom selector": {
			req: createPod(t, map[string]string{"app": "signer"}),
		},
		"admits a pod matching the default selector, which no longer applies": {
			req: createPod(t, party("-")),
		},
		"denies a workload whose template matches the custom selector without the custom role key": {
			req:  createWorkload(t, "ReplicaSet", "rs", signer(nil), nil),
			deny: []want{{"workload-party-role", "[workload-party-role] ReplicaSet mpc-system/rs: pod template matches the party selector (app=signer,tier=mpc) but has no signer.example.com/role label; add signer.example.com/role (one of persistent, delegate, temporary) to the pod template labels"}},
		},
		"denies a custom-role delegate mounting the custom share storage": {
			req:  createPod(t, signer(map[string]string{"signer.example.com/role": "delegate"}), "pvc:keys-0", "secret:mpc-db"),
			deny: []want{{"delegate-no-share-storage", "[delegate-no-share-storage] Pod mpc-system/p-0: delegate party uses the persistent pool's share storage (PersistentVolumeClaim keys-0); remove those volumes and env references: only persistent parties may hold key shares"}},
		},
		"follows the custom role key on UPDATE": {
			req: updatePod(t, signer(map[string]string{"signer.example.com/role": "temporary"}),
				signer(map[string]string{"signer.example.com/role": "persistent"})),
			deny: []want{
				{"party-persistent-origin", "[party-persistent-origin] Pod mpc-system/p-0: a pod cannot become a persistent party by an update (app=signer,tier=mpc and signer.example.com/role=persistent added); persistent parties are created by the persistent pool"},
				{"party-role-immutable", ""},
			},
		},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			d, err := eng.Review(t.Context(), tc.req, nil)
			require.NoError(t, err)
			assert.True(t, d.Reviewed)
			assertResults(t, "deny", tc.deny, d.Deny, "")
			assert.Empty(t, d.Warn)
			assert.Empty(t, d.Skipped)
		})
	}
}

func TestReviewUnreviewed(t *testing.T) {
	tests := map[string]engine.Request{
		"allows a Service untouched": {Operation: engine.Create, Kind: schema.GroupVersionKind{Version: "v1", Kind: "Service"},
			Namespace: "mpc-system", Object: []byte(`{"metadata": {"name": "svc", "labels": {"app.kubernetes.io/component": "mpc-party"}}}`)},
		"allows the DELETE of a party pod without role": {Operation: engine.Delete, Kind: podGVK, Namespace: "mpc-system",
			OldObject: []byte(`{"metadata": {"name": "p-0", "labels": {"app.kubernetes.io/component": "mpc-party"}}}`)},
		"allows a CONNECT to a party pod": {Operation: engine.Connect, Kind: podGVK, Namespace: "mpc-system"},
	}
	eng := defaultEngine(t)
	for name, req := range tests {
		t.Run(name, func(t *testing.T) {
			d, err := eng.Review(t.Context(), req, readyInventory(0))
			require.NoError(t, err)
			assert.Equal(t, engine.Decision{}, d)
			assert.True(t, d.Allowed())
		})
	}
}

func TestReviewBadInput(t *testing.T) {
	tests := map[string]struct {
		req     engine.Request
		wantErr error
	}{
		"fails on a malformed pod": {
			req:     engine.Request{Operation: engine.Create, Kind: podGVK, Object: []byte(`{"metadata":`)},
			wantErr: engine.ErrDecode,
		},
		"fails on a session that is not JSON": {
			req:     engine.Request{Operation: engine.Create, Kind: sessionGVK, Namespace: "mpc-system", Object: []byte(`{"spec": {"type": "sign"`)},
			wantErr: engine.ErrDecode,
		},
		"fails on a CREATE without object": {
			req:     engine.Request{Operation: engine.Create, Kind: sessionGVK, Namespace: "mpc-system", Name: "sign-42"},
			wantErr: engine.ErrNoObject,
		},
	}
	eng := defaultEngine(t)
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			d, err := eng.Review(t.Context(), tc.req, nil)
			require.ErrorIs(t, err, tc.wantErr)
			assert.False(t, d.Reviewed)
			assert.Empty(t, d.Deny)
		})
	}
}

func TestReviewWithCancelledContextFails(t *testing.T) {
	eng := defaultEngine(t)
	reqs := map[string]engine.Request{
		"fails a party pod review":     createPod(t, party("-")),
		"fails a valid session review": createSession(`{"type": "sign", "threshold": {"t": 2, "n": 3}}`),
	}
	for name, req := range reqs {
		t.Run(name, func(t *testing.T) {
			ctx, cancel := context.WithCancel(t.Context())
			cancel()
			d, err := eng.Review(ctx, req, readyInventory(3))
			require.ErrorIs(t, err, engine.ErrEval, "a cancelled evaluation must never read as an allow")
			assert.False(t, d.Reviewed)
			assert.Empty(t, d.Deny)
		})
	}
}

func TestNewRejectsInvalidConfig(t *testing.T) {
	cfg := engine.DefaultConfig()
	cfg.RoleLabelKey = "party role"
	cfg.Enforcement["Party Role"] = vocab.Warn
	cfg.Enforcement[vocab.PartyAccess] = "audit"
	eng, err := engine.New(t.Context(), cfg, nil)
	require.ErrorIs(t, err, engine.ErrConfig)
	assert.Nil(t, eng)
	assert.Contains(t, err.Error(), `config.roleLabelKey: Invalid value: "party role"`)
	assert.Contains(t, err.Error(), `config.enforcement[Party Role]: Invalid value: "Party Role"`)
	assert.Contains(t, err.Error(), `config.enforcement[party-access]: Unsupported value: "audit"`)
	assert.NotErrorIs(t, err, engine.ErrCompile)
}

func TestNewReportsCompileErrorsWithFileAndLine(t *testing.T) {
	tests := map[string]struct {
		source string
		want   string
	}{
		"names the line of a call to an undefined function": {
			source: "package mpcguard.main\n\n# a comment\ndecision := undefined_function(1)\n",
			want:   "policies/broken.rego:4:",
		},
		"names the line of a parse error": {
			source: "package mpcguard.main\n\ndecision := {\n\t\"deny\": [],\n\t\"warn\" [],\n}\n",
			want:   "policies/broken.rego:5:",
		},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			eng, err := engine.New(t.Context(), engine.DefaultConfig(),
				[]policies.Module{{Name: "policies/broken.rego", Source: tc.source}})
			require.ErrorIs(t, err, engine.ErrCompile)
			assert.Nil(t, eng)
			assert.Contains(t, err.Error(), tc.want)
		})
	}
}

func TestNewCompilesTheEmbeddedPolicies(t *testing.T) {
	mods, err := policies.Modules()
	require.NoError(t, err)
	// Passing the embedded modules explicitly is the same as passing nil.
	eng, err := engine.New(t.Context(), engine.DefaultConfig(), mods)
	require.NoError(t, err)
	d, err := eng.Review(t.Context(), createPod(t, party("-")), nil)
	require.NoError(t, err)
	assertResults(t, "deny", ids("party-role-required"), d.Deny, "Pod mpc-system/p-0: ")
}

func TestNewRejectsAPolicySetThatLacksARuleTheEngineReads(t *testing.T) {
	mods, err := policies.Modules()
	require.NoError(t, err)
	var kept []policies.Module
	for _, m := range mods {
		if strings.HasSuffix(m.Name, "workload.rego") {
			continue
		}
		kept = append(kept, m)
	}
	kept = append(kept, policies.Module{Name: "custom/workload.rego", Source: "package mpcguard.workload\n\nlabels := {}\n"})
	_, err = engine.New(t.Context(), engine.DefaultConfig(), kept)
	require.ErrorIs(t, err, engine.ErrCompile)
	assert.Contains(t, err.Error(), "must define data.mpcguard.workload.violation")
}

// withModule returns the embedded modules and one more.
func withModule(t *testing.T, name, source string) []policies.Module {
	t.Helper()
	mods, err := policies.Modules()
	require.NoError(t, err)
	return append(mods, policies.Module{Name: name, Source: source})
}

// teamLabelPolicy is a custom policy: a party pod must name its team.
const teamLabelPolicy = `package mpcguard.pod

import data.mpcguard.lib

violation contains {"policy": "party-team-label", "msg": "party pod has no team label; add team"} if {
	party_pod
	not lib.labels(input.pod).team
}
`

func TestNewAcceptsACustomPolicyWhoseIDEnforcementNames(t *testing.T) {
	mods := withModule(t, "custom/team.rego", teamLabelPolicy)
	cfg := shareConfig()
	cfg.Enforcement["party-team-label"] = vocab.Warn
	eng, err := engine.New(t.Context(), cfg, mods)
	require.NoError(t, err)
	assert.Contains(t, eng.PolicyIDs(), "party-team-label")
	assert.True(t, eng.Defines("party-team-label"))
	assert.True(t, eng.Defines(vocab.PartyRoleRequired))
	assert.False(t, eng.Defines("party-team"))

	d, err := eng.Review(t.Context(), createPod(t, party("-")), nil)
	require.NoError(t, err)
	assertResults(t, "deny", ids(vocab.PartyRoleRequired), d.Deny, "Pod mpc-system/p-0: ")
	assertResults(t, "warn", []want{{"party-team-label", "[party-team-label] Pod mpc-system/p-0: party pod has no team label; add team"}},
		d.Warn, "Pod mpc-system/p-0: ")
	assert.False(t, d.Allowed())

	l := party("delegate")
	l["team"] = "signers"
	d, err = eng.Review(t.Context(), createPod(t, l), nil)
	require.NoError(t, err)
	assert.Empty(t, d.Deny)
	assert.Empty(t, d.Warn)

	// Without an enforcement of its own, a custom policy denies, as every policy does by default.
	eng, err = engine.New(t.Context(), shareConfig(), mods)
	require.NoError(t, err)
	d, err = eng.Review(t.Context(), createPod(t, party("delegate")), nil)
	require.NoError(t, err)
	assertResults(t, "deny", ids("party-team-label"), d.Deny, "Pod mpc-system/p-0: ")
}

func TestNewRefusesAnEnforcementIDNoModuleDefines(t *testing.T) {
	tests := map[string]struct {
		enforcement map[string]vocab.Action
		mods        []policies.Module // nil: the embedded set
		want        string
	}{
		"refuses a misspelt built-in id, which would silently enforce nothing": {
			enforcement: map[string]vocab.Action{"party-role-requried": vocab.Warn},
			want:        "enforcement names party-role-requried, which no policy module defines (defined: delegate-no-share-storage, party-access,",
		},
		"refuses a custom id when its module is not loaded": {
			enforcement: map[string]vocab.Action{"party-team-label": vocab.Warn, "zz-other": vocab.Off},
			want:        "enforcement names party-team-label, zz-other, which no policy module defines",
		},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			cfg := engine.DefaultConfig()
			for id, a := range tc.enforcement {
				cfg.Enforcement[id] = a
			}
			eng, err := engine.New(t.Context(), cfg, tc.mods)
			require.ErrorIs(t, err, engine.ErrConfig)
			assert.NotErrorIs(t, err, engine.ErrCompile)
			assert.Nil(t, eng)
			assert.Contains(t, err.Error(), tc.want)
		})
	}
}

func TestNewAcceptsABuiltInIDAReplacementSetLeavesOut(t *testing.T) {
	mods, err := policies.Modules()
	require.NoError(t, err)
	var kept []policies.Module
	for _, m := range mods {
		if strings.HasSuffix(m.Name, "/binding.rego") {
			continue
		}
		kept = append(kept, m)
	}
	kept = append(kept, policies.Module{Name: "custom/binding.rego", Source: "package mpcguard.binding\n\nviolation := set()\n"})
	cfg := engine.DefaultConfig()
	cfg.Enforcement[vocab.PartyBindingLabels] = vocab.Warn
	eng, err := engine.New(t.Context(), cfg, kept)
	require.NoError(t, err, "DefaultConfig names every built-in id; a set without one of them must still start")
	assert.NotContains(t, eng.PolicyIDs(), vocab.PartyBindingLabels)
	assert.False(t, eng.Defines(vocab.PartyBindingLabels))
}

func TestNewRefusesAModuleInAPackageItNeverReads(t *testing.T) {
	tests := map[string]struct {
		source string
		want   string
	}{
		"refuses a policy in a package of its own": {
			source: "package mpcguard.pods\n\nviolation contains {\"policy\": \"x-policy\", \"msg\": \"x\"} if input.kind == \"Pod\"\n",
			want:   "custom/extra.rego: package mpcguard.pods is never evaluated",
		},
		"refuses a policy outside data.mpcguard": {
			source: "package kubernetes.admission\n\ndeny contains \"x\" if true\n",
			want:   "custom/extra.rego: package kubernetes.admission is never evaluated",
		},
		"refuses a policy id that is not spelt as an id": {
			source: "package mpcguard.pod\n\nviolation contains {\"policy\": \"Team_Label\", \"msg\": \"x\"} if input.kind == \"Pod\"\n",
			want:   `policy id "Team_Label" is not lower-case letters, digits and single '-'`,
		},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			eng, err := engine.New(t.Context(), engine.DefaultConfig(), withModule(t, "custom/extra.rego", tc.source))
			require.ErrorIs(t, err, engine.ErrCompile)
			assert.Nil(t, eng)
			assert.Contains(t, err.Error(), tc.want)
		})
	}
	t.Run("accepts helpers under data.mpcguard.lib", func(t *testing.T) {
		mods := withModule(t, "custom/teams.rego", "package mpcguard.lib.teams\n\nknown := {\"signers\"}\n")
		mods = append(mods, policies.Module{Name: "custom/team.rego", Source: `package mpcguard.pod

import data.mpcguard.lib
import data.mpcguard.lib.teams

violation contains {"policy": "party-team-known", "msg": "unknown team"} if {
	party_pod
	not object.get(lib.labels(input.pod), "team", "") in teams.known
}
`})
		eng, err := engine.New(t.Context(), engine.DefaultConfig(), mods)
		require.NoError(t, err)
		d, err := eng.Review(t.Context(), createPod(t, party("delegate")), nil)
		require.NoError(t, err)
		assertResults(t, "deny", ids("party-team-known"), d.Deny, "Pod mpc-system/p-0: ")
		l := party("delegate")
		l["team"] = "signers"
		d, err = eng.Review(t.Context(), createPod(t, l), nil)
		require.NoError(t, err)
		assert.Empty(t, d.Deny)
	})
}

func TestEnginePolicyIDsAreTheVocabularysForTheEmbeddedSet(t *testing.T) {
	want := vocab.PolicyIDs()
	slices.Sort(want)
	assert.Equal(t, want, defaultEngine(t).PolicyIDs())
	assert.Equal(t, []string{"data.mpcguard.binding", "data.mpcguard.connect", "data.mpcguard.lib", "data.mpcguard.main",
		"data.mpcguard.pod", "data.mpcguard.session", "data.mpcguard.storage", "data.mpcguard.workload"}, engine.Packages())
}

func TestReviewAnswersAGrantedBreakGlassDeletionWithAWarning(t *testing.T) {
	cfg := engine.DefaultConfig()
	cfg.ShareStorage.SecretNames = []string{"mpc-db"}
	secret := schema.GroupVersionKind{Version: "v1", Kind: "Secret"}
	old := []byte(`{"metadata": {"name": "mpc-db", "namespace": "mpc-system", "annotations": {"mpcguard.io/break-glass": "rotate, INC-9"}}}`)
	req := engine.Request{Operation: engine.Delete, Kind: secret, Namespace: "mpc-system", Name: "mpc-db", OldObject: old,
		User: &engine.User{Username: "bob", Groups: []string{"system:authenticated", vocab.DefaultBreakGlassGroup}}}

	eng, err := engine.New(t.Context(), cfg, nil)
	require.NoError(t, err)
	d, err := eng.Review(t.Context(), req, nil)
	require.NoError(t, err)
	assert.True(t, d.Allowed(), "a break-glass member deletes an annotated share Secret")
	require.Len(t, d.Warn, 1)
	assert.Equal(t, `[share-deletion] Secret mpc-system/mpc-db: deleted by bob breaking glass (mpcguard:break-glass): "rotate, INC-9"`, d.Warn[0].Message)

	req.User = &engine.User{Username: "alice", Groups: []string{"system:authenticated"}}
	d, err = eng.Review(t.Context(), req, nil)
	require.NoError(t, err)
	require.Len(t, d.Deny, 1, "the annotation alone is not enough")
	assert.Empty(t, d.Warn)

	cfg.Enforcement[vocab.ShareDeletion] = vocab.Off
	off, err := engine.New(t.Context(), cfg, nil)
	require.NoError(t, err)
	req.User.Groups = append(req.User.Groups, vocab.DefaultBreakGlassGroup)
	d, err = off.Review(t.Context(), req, nil)
	require.NoError(t, err)
	assert.Empty(t, d.Deny)
	assert.Empty(t, d.Warn, "a policy that is off records nothing")
}

func TestReviewNamesAScaleByItsStatefulSet(t *testing.T) {
	cfg := engine.DefaultConfig()
	cfg.PersistentWorkloads = []string{"mpc-party"}
	cfg.Threshold = 3
	eng, err := engine.New(t.Context(), cfg, nil)
	require.NoError(t, err)
	scale := func(n int) []byte {
		return fmt.Appendf(nil, `{"apiVersion": "autoscaling/v1", "kind": "Scale", "metadata": {"name": "mpc-party", "namespace": "mpc-system"}, "spec": {"replicas": %d}}`, n)
	}
	req := engine.Request{Operation: engine.Update, Kind: schema.GroupVersionKind{Group: "autoscaling", Version: "v1", Kind: "Scale"},
		Subresource: "scale", Namespace: "mpc-system", Name: "mpc-party", Object: scale(2), OldObject: scale(3)}
	d, err := eng.Review(t.Context(), req, nil)
	require.NoError(t, err)
	require.Len(t, d.Deny, 1)
	assert.Equal(t, "[persistent-quorum] StatefulSet mpc-system/mpc-party (scale): 2 replicas would leave fewer than t=3 persistent parties, so the pool could not sign; keep at least 3 replicas (a lower t is a reshare, not a scale-down)", d.Deny[0].Message)

	req.Object = scale(3)
	d, err = eng.Review(t.Context(), req, nil)
	require.NoError(t, err)
	assert.True(t, d.Allowed(), "t replicas are enough")
}
