package webhook_test

import (
	"encoding/json"
	"fmt"
	"net/http"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	admissionv1 "k8s.io/api/admission/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/mpcguard/mpcguard/policies/engine"
	"github.com/mpcguard/mpcguard/policies/vocab"
)

var (
	podKind     = metav1.GroupVersionKind{Version: "v1", Kind: "Pod"}
	deployKind  = metav1.GroupVersionKind{Group: "apps", Version: "v1", Kind: "Deployment"}
	sessionKind = metav1.GroupVersionKind{Group: "mpc.mpcguard.io", Version: "v1alpha1", Kind: "MPCSession"}
	cmKind      = metav1.GroupVersionKind{Version: "v1", Kind: "ConfigMap"}
	bindingKind = metav1.GroupVersionKind{Version: "v1", Kind: "Binding"}
	execKind    = metav1.GroupVersionKind{Version: "v1", Kind: "PodExecOptions"}
	claimKind   = metav1.GroupVersionKind{Version: "v1", Kind: "PersistentVolumeClaim"}
)

const v1 = "admission.k8s.io/v1"

func partyPod(name string, labels map[string]string) map[string]any {
	l := map[string]any{"app.kubernetes.io/component": "mpc-party"}
	for k, v := range labels {
		l[k] = v
	}
	return map[string]any{"apiVersion": "v1", "kind": "Pod",
		"metadata": map[string]any{"name": name, "namespace": "mpc-system", "labels": l},
		"spec":     map[string]any{"containers": []any{map[string]any{"name": "party", "image": "mpc/party:1.0"}}}}
}

// ownedBy sets a pod's controller owner, as the controller that creates it does.
func ownedBy(pod map[string]any, kind, name string) map[string]any {
	pod["metadata"].(map[string]any)["ownerReferences"] = []any{map[string]any{"apiVersion": "apps/v1", "kind": kind, "name": name,
		"uid": "0d7c0b5e", "controller": true, "blockOwnerDeletion": true}}
	return pod
}

// statefulSetController is the identity that creates a StatefulSet's pods.
const statefulSetController = "system:serviceaccount:kube-system:statefulset-controller"

// as returns a review whose request is sent by username in groups, as the API server says in request.userInfo.
func as(t *testing.T, review []byte, username string, groups ...string) []byte {
	t.Helper()
	var rv map[string]any
	require.NoError(t, json.Unmarshal(review, &rv))
	rv["request"].(map[string]any)["userInfo"] = map[string]any{"username": username, "groups": groups}
	return mustJSON(t, rv)
}

// on returns a review whose request is for a subresource (request.subResource).
func on(t *testing.T, review []byte, subresource string) []byte {
	t.Helper()
	var rv map[string]any
	require.NoError(t, json.Unmarshal(review, &rv))
	rv["request"].(map[string]any)["subResource"] = subresource
	return mustJSON(t, rv)
}

// persistentPod is a persistent party pod of the StatefulSet mpc-party; ephemeral debug containers when debug > 0.
func persistentPod(name string, debug int) map[string]any {
	p := ownedBy(partyPod(name, map[string]string{"party-role": "persistent"}), "StatefulSet", "mpc-party")
	if debug > 0 {
		var eph []any
		for i := range debug {
			eph = append(eph, map[string]any{"name": fmt.Sprint("debugger-", i), "image": "busybox"})
		}
		p["spec"].(map[string]any)["ephemeralContainers"] = eph
	}
	return p
}

func session(name string, t, n int, composition map[string]any) map[string]any {
	spec := map[string]any{"type": "sign", "threshold": map[string]any{"t": t, "n": n}}
	if composition != nil {
		spec["composition"] = composition
	}
	return map[string]any{"apiVersion": "mpc.mpcguard.io/v1alpha1", "kind": "MPCSession",
		"metadata": map[string]any{"name": name, "namespace": "mpc-system"}, "spec": spec}
}

func TestHandlerDecisions(t *testing.T) {
	cfg := engine.DefaultConfig()
	cfg.Enforcement[vocab.SessionCompositionSum] = vocab.Warn
	cfg.ShareStorage.ClaimPrefixes = []string{"share-data-mpc-party-"}
	ts := startServer(t, cfg)

	cases := map[string]struct {
		body         []byte
		allowed      bool
		code         int32
		messages     []string // each must appear in the denial
		warnings     []string // each must prefix one warning
		lines        int      // lines of the denial, one per violated policy (when set)
		responseAPIV string
	}{
		"denies a party pod without a role label, naming the policy, the object and the fix": {
			body: reviewOf(t, v1, admissionv1.Create, podKind, "mpc-system", "p-0", partyPod("p-0", nil), nil, false),
			code: http.StatusForbidden,
			messages: []string{"[party-role-required] Pod mpc-system/p-0: party pod (app.kubernetes.io/component=mpc-party) " +
				"has no party-role label; add party-role with one of persistent, delegate, temporary"},
		},
		"admits a persistent party pod that the StatefulSet controller creates for its StatefulSet": {
			body: as(t, reviewOf(t, v1, admissionv1.Create, podKind, "mpc-system", "p-1", persistentPod("p-1", 0), nil, false),
				statefulSetController, "system:serviceaccounts", "system:serviceaccounts:kube-system", "system:authenticated"),
			allowed: true, code: http.StatusOK,
		},
		"denies a persistent party pod that a user creates, naming the user": {
			body: as(t, reviewOf(t, v1, admissionv1.Create, podKind, "mpc-system", "p-1", persistentPod("p-1", 0), nil, false),
				"alice", "system:authenticated"),
			code: http.StatusForbidden,
			messages: []string{`[party-persistent-origin] Pod mpc-system/p-1: a persistent party pod may only be created by the StatefulSet ` +
				`controller (system:serviceaccount:kube-system:statefulset-controller, system:kube-controller-manager), not by "alice"`},
			lines: 1,
		},
		"denies a persistent party pod without an owner, whoever creates it": {
			body: as(t, reviewOf(t, v1, admissionv1.Create, podKind, "mpc-system", "p-1", partyPod("p-1", map[string]string{"party-role": "persistent"}), nil, false),
				statefulSetController),
			code:     http.StatusForbidden,
			messages: []string{"[party-persistent-origin] Pod mpc-system/p-1: a persistent party pod must be created by a StatefulSet (its controller owner: none)"},
			lines:    1,
		},
		"denies a debug container added to a persistent party through pods/ephemeralcontainers": {
			body: as(t, on(t, reviewOf(t, v1, admissionv1.Update, podKind, "mpc-system", "p-7", persistentPod("p-7", 1), persistentPod("p-7", 0), false),
				"ephemeralcontainers"), "alice", "system:authenticated"),
			code:     http.StatusForbidden,
			messages: []string{"[party-access] Pod mpc-system/p-7 (ephemeralcontainers): a debug container in a persistent party reaches its key shares"},
		},
		"admits a debug container a member of the break-glass group adds": {
			body: as(t, on(t, reviewOf(t, v1, admissionv1.Update, podKind, "mpc-system", "p-7", persistentPod("p-7", 1), persistentPod("p-7", 0), false),
				"ephemeralcontainers"), "alice", "system:authenticated", vocab.DefaultBreakGlassGroup),
			allowed: true, code: http.StatusOK,
		},
		"denies a pod that becomes a persistent party through pods/status": {
			body: as(t, on(t, reviewOf(t, v1, admissionv1.Update, podKind, "mpc-system", "p-8", persistentPod("p-8", 0),
				partyPod("p-8", map[string]string{"party-role": "temporary"}), false), "status"), "system:node:node-1", "system:nodes"),
			code:     http.StatusForbidden,
			messages: []string{"[party-role-immutable] Pod mpc-system/p-8 (status): party-role cannot change from \"temporary\" to \"persistent\""},
		},
		"denies a Binding that sets the role label": {
			body: as(t, on(t, reviewOf(t, v1, admissionv1.Create, bindingKind, "mpc-system", "p-9", map[string]any{"apiVersion": "v1", "kind": "Binding",
				"metadata": map[string]any{"name": "p-9", "namespace": "mpc-system", "labels": map[string]any{"party-role": "persistent"}},
				"target":   map[string]any{"apiVersion": "v1", "kind": "Node", "name": "node-1"}}, nil, false), "binding"), "system:kube-scheduler"),
			code:     http.StatusForbidden,
			messages: []string{"[party-binding-labels] Pod mpc-system/p-9 (binding): a Binding would set the pod's party-role label(s)"},
		},
		"admits the scheduler's Binding": {
			body: as(t, on(t, reviewOf(t, v1, admissionv1.Create, bindingKind, "mpc-system", "p-9", map[string]any{"apiVersion": "v1", "kind": "Binding",
				"metadata": map[string]any{"name": "p-9", "namespace": "mpc-system"},
				"target":   map[string]any{"apiVersion": "v1", "kind": "Node", "name": "node-1"}}, nil, false), "binding"), "system:kube-scheduler"),
			allowed: true, code: http.StatusOK,
		},
		"admits an exec with a warning that it was not checked, without a cluster inventory": {
			body: as(t, on(t, reviewOf(t, v1, admissionv1.Connect, execKind, "mpc-system", "mpc-party-0", map[string]any{"apiVersion": "v1",
				"kind": "PodExecOptions", "command": []any{"sh"}, "stdin": true, "tty": true}, nil, false), "exec"), "alice"),
			allowed: true, code: http.StatusOK,
			warnings: []string{"[party-access] Pod mpc-system/mpc-party-0 (exec): not checked: no cluster inventory to tell whether the pod is a persistent party (exec)"},
		},
		"denies a claim that clones a share claim": {
			body: as(t, reviewOf(t, v1, admissionv1.Create, claimKind, "mpc-system", "copy", map[string]any{"apiVersion": "v1",
				"kind": "PersistentVolumeClaim", "metadata": map[string]any{"name": "copy", "namespace": "mpc-system"},
				"spec": map[string]any{"dataSource": map[string]any{"kind": "PersistentVolumeClaim", "name": "share-data-mpc-party-0"}}}, nil, false), "alice"),
			code:     http.StatusForbidden,
			messages: []string{"[share-storage-copy] PersistentVolumeClaim mpc-system/copy: claim clones the persistent pool's share storage (PersistentVolumeClaim share-data-mpc-party-0)"},
		},
		"denies a role in the wrong case": {
			body: reviewOf(t, v1, admissionv1.Create, podKind, "mpc-system", "p-2", partyPod("p-2", map[string]string{"party-role": "Persistent"}), nil, false),
			code: http.StatusForbidden, messages: []string{`[party-role-valid] Pod mpc-system/p-2: party-role="Persistent" is not a valid role`},
		},
		"denies an update that changes the role": {
			body: reviewOf(t, v1, admissionv1.Update, podKind, "mpc-system", "p-3",
				partyPod("p-3", map[string]string{"party-role": "delegate"}), partyPod("p-3", map[string]string{"party-role": "persistent"}), false),
			code: http.StatusForbidden, messages: []string{`[party-role-immutable] Pod mpc-system/p-3: party-role cannot change from "persistent" to "delegate"`},
		},
		"gives a dry run the same denial": {
			body: reviewOf(t, v1, admissionv1.Create, podKind, "mpc-system", "p-4", partyPod("p-4", nil), nil, true),
			code: http.StatusForbidden, messages: []string{"[party-role-required] Pod mpc-system/p-4"},
		},
		"answers a v1beta1 review in v1beta1": {
			body: reviewOf(t, "admission.k8s.io/v1beta1", admissionv1.Create, podKind, "mpc-system", "p-5", partyPod("p-5", nil), nil, false),
			code: http.StatusForbidden, messages: []string{"[party-role-required]"}, responseAPIV: "admission.k8s.io/v1beta1",
		},
		"allows a kind the policies do not look at, untouched": {
			body: reviewOf(t, v1, admissionv1.Create, cmKind, "mpc-system", "cm", map[string]any{"apiVersion": "v1", "kind": "ConfigMap",
				"metadata": map[string]any{"name": "cm", "labels": map[string]any{"app.kubernetes.io/component": "mpc-party"}}}, nil, false),
			allowed: true, code: http.StatusOK,
		},
		"denies a Deployment whose pod template lacks the role": {
			body: reviewOf(t, v1, admissionv1.Create, deployKind, "mpc-system", "d", map[string]any{"apiVersion": "apps/v1", "kind": "Deployment",
				"metadata": map[string]any{"name": "d", "namespace": "mpc-system"},
				"spec":     map[string]any{"template": map[string]any{"metadata": map[string]any{"labels": map[string]any{"app.kubernetes.io/component": "mpc-party"}}}}}, nil, false),
			code: http.StatusForbidden, messages: []string{"[workload-party-role] Deployment mpc-system/d: pod template matches the party selector"},
		},
		"denies a session with an empty composition": {
			body: reviewOf(t, v1, admissionv1.Create, sessionKind, "mpc-system", "s-empty", session("s-empty", 2, 3, map[string]any{}), nil, false),
			code: http.StatusForbidden, messages: []string{"[session-composition-nonempty] MPCSession mpc-system/s-empty: composition is present but empty"},
		},
		"denies a session whose delegates reach t, and joins every violated policy into one denial": {
			body: reviewOf(t, v1, admissionv1.Create, sessionKind, "mpc-system", "sign-42", session("sign-42", 4, 3, map[string]any{"delegate": 4}), nil, false),
			code: http.StatusForbidden,
			messages: []string{
				"[session-threshold-range] MPCSession mpc-system/sign-42: threshold t=4 is outside 1..n (n=3)",
				"[session-delegate-only-threshold] MPCSession mpc-system/sign-42: 4 delegate + 0 temporary parties",
			},
			lines:    2,
			warnings: []string{"[session-composition-sum] MPCSession mpc-system/sign-42: composition adds up to 4"},
		},
		"denies the design's example session with its exact message": {
			body: reviewOf(t, v1, admissionv1.Create, sessionKind, "mpc-system", "sign-42", session("sign-42", 2, 3, map[string]any{"delegate": 2, "persistent": 1}), nil, false),
			code: http.StatusForbidden,
			messages: []string{"[session-delegate-only-threshold] MPCSession mpc-system/sign-42: 2 delegate + 0 temporary parties could " +
				"reach the signing threshold t=2 without a persistent party; use at most 1 non-persistent party or raise t"},
			warnings: []string{"[session-persistent-available] MPCSession mpc-system/sign-42: not checked: no cluster inventory"},
		},
		"admits a 2-of-3 session with one delegate, warning that persistent availability was not checked": {
			body:    reviewOf(t, v1, admissionv1.Create, sessionKind, "mpc-system", "ok", session("ok", 2, 3, map[string]any{"persistent": 2, "delegate": 1}), nil, false),
			allowed: true, code: http.StatusOK,
			warnings: []string{"[session-persistent-available] MPCSession mpc-system/ok: not checked: no cluster inventory (needs 2 Ready persistent parties)"},
		},
		"admits with a warning a policy in warn mode": {
			body:    reviewOf(t, v1, admissionv1.Create, sessionKind, "mpc-system", "sum", session("sum", 2, 4, map[string]any{"persistent": 2, "delegate": 1}), nil, false),
			allowed: true, code: http.StatusOK,
			warnings: []string{"[session-composition-sum] MPCSession mpc-system/sum: composition adds up to 3"},
		},
		"ignores a DELETE": {
			body:    reviewOf(t, v1, admissionv1.Delete, podKind, "mpc-system", "p-6", nil, partyPod("p-6", nil), false),
			allowed: true, code: http.StatusOK,
		},
	}
	for name, tc := range cases {
		t.Run(name, func(t *testing.T) {
			r := ts.post(t, tc.body, "application/json", "?timeout=10s")
			require.Equal(t, http.StatusOK, r.status, r.raw)
			resp := r.review.Response
			require.NotNil(t, resp)
			assert.Equal(t, tc.allowed, resp.Allowed, r.raw)
			require.NotNil(t, resp.Result)
			assert.Equal(t, tc.code, resp.Result.Code)
			assert.NotEmpty(t, resp.UID, "the response carries the request's uid")
			want := tc.responseAPIV
			if want == "" {
				want = v1
			}
			assert.Equal(t, want, r.review.APIVersion)
			assert.Equal(t, "AdmissionReview", r.review.Kind)
			for _, m := range tc.messages {
				assert.Contains(t, resp.Result.Message, m)
			}
			if tc.lines > 0 {
				assert.Len(t, strings.Split(resp.Result.Message, "\n"), tc.lines)
			}
			if !tc.allowed {
				for _, line := range strings.Split(resp.Result.Message, "\n") {
					assert.Regexp(t, `^\[[a-z-]+\] `, line, "every line of a denial starts with its policy id")
				}
			}
			for _, w := range tc.warnings {
				assert.True(t, hasPrefix(resp.Warnings, w), "warnings %q lack %q", resp.Warnings, w)
			}
			if len(tc.warnings) == 0 {
				assert.Empty(t, resp.Warnings)
			}
		})
	}
}

func hasPrefix(list []string, prefix string) bool {
	for _, s := range list {
		if strings.HasPrefix(s, prefix) {
			return true
		}
	}
	return false
}

func TestHandlerRejectsMalformedInputWithAMessage(t *testing.T) {
	ts := startServer(t, engine.DefaultConfig())
	deep := strings.Repeat("[", 20000) + strings.Repeat("]", 20000)
	badPod := reviewOf(t, v1, admissionv1.Create, podKind, "mpc-system", "bad", `{"metadata":{"labels":"not-a-map"}}`, nil, false)
	cases := map[string]struct {
		body        []byte
		contentType string
		status      int
		message     string
	}{
		"a body that is not JSON":                    {body: []byte("not json"), contentType: "application/json", status: 400, message: "not an AdmissionReview"},
		"an empty body":                              {body: nil, contentType: "application/json", status: 400, message: "empty body"},
		"a body of the wrong content type":           {body: reviewOf(t, v1, admissionv1.Create, podKind, "ns", "p", partyPod("p", nil), nil, false), contentType: "text/plain", status: 400, message: "content type"},
		"a review without a request":                 {body: []byte(`{"apiVersion":"admission.k8s.io/v1","kind":"AdmissionReview"}`), contentType: "application/json", status: 400, message: "has no request"},
		"a review of an unknown version":             {body: []byte(`{"apiVersion":"admission.k8s.io/v2","kind":"AdmissionReview","request":{"uid":"1"}}`), contentType: "application/json", status: 400, message: "want AdmissionReview"},
		"a request without a uid":                    {body: []byte(`{"apiVersion":"admission.k8s.io/v1","kind":"AdmissionReview","request":{"kind":{"version":"v1","kind":"Pod"},"operation":"CREATE"}}`), contentType: "application/json", status: 400, message: "uid is empty"},
		"a request without a kind":                   {body: []byte(`{"apiVersion":"admission.k8s.io/v1","kind":"AdmissionReview","request":{"uid":"1","operation":"CREATE"}}`), contentType: "application/json", status: 400, message: "kind is incomplete"},
		"a create without an object":                 {body: reviewOf(t, v1, admissionv1.Create, podKind, "ns", "p", nil, nil, false), contentType: "application/json", status: 400, message: "has no object"},
		"an object whose labels are not a map":       {body: badPod, contentType: "application/json", status: 400, message: "cannot decode object: Pod object"},
		"JSON nested deeper than the decoder allows": {body: []byte(`{"apiVersion":"admission.k8s.io/v1","kind":"AdmissionReview","request":` + deep + `}`), contentType: "application/json", status: 400, message: "not an AdmissionReview"},
		"a body over the size limit":                 {body: []byte(`{"x":"` + strings.Repeat("a", 8<<20) + `"}`), contentType: "application/json", status: 413, message: "larger than"},
	}
	for name, tc := range cases {
		t.Run("rejects "+name, func(t *testing.T) {
			r := ts.post(t, tc.body, tc.contentType, "")
			assert.Equal(t, tc.status, r.status, r.raw)
			require.NotNil(t, r.review.Response, r.raw)
			assert.False(t, r.review.Response.Allowed)
			require.NotNil(t, r.review.Response.Result)
			assert.EqualValues(t, tc.status, r.review.Response.Result.Code)
			assert.Contains(t, r.review.Response.Result.Message, tc.message)
		})
	}
	t.Run("rejects a GET with 405", func(t *testing.T) {
		resp, err := ts.client.Get(ts.url)
		require.NoError(t, err)
		defer resp.Body.Close()
		assert.Equal(t, http.StatusMethodNotAllowed, resp.StatusCode)
	})
	t.Run("still serves after all that", func(t *testing.T) {
		r := ts.post(t, reviewOf(t, v1, admissionv1.Create, podKind, "mpc-system", "p", partyPod("p", nil), nil, false), "application/json", "")
		require.Equal(t, http.StatusOK, r.status)
		assert.False(t, r.review.Response.Allowed)
	})
}

func TestHandlerAnswersABlownDeadlineAsAnErrorNeverAnAllow(t *testing.T) {
	ts := startServer(t, engine.DefaultConfig())
	body := reviewOf(t, v1, admissionv1.Create, podKind, "mpc-system", "p-ok", partyPod("p-ok", map[string]string{"party-role": "persistent"}), nil, false)
	r := ts.post(t, body, "application/json", "?timeout=1ns")
	assert.Equal(t, http.StatusInternalServerError, r.status, "a 5xx lets the API server's failurePolicy decide")
	require.NotNil(t, r.review.Response)
	assert.False(t, r.review.Response.Allowed)
	assert.Contains(t, r.review.Response.Result.Message, "policy evaluation failed")
	assert.Contains(t, r.review.Response.Result.Message, "deadline")
	assert.Contains(t, ts.scrape(t), `mpcguard_evaluation_errors_total{reason="deadline"} 1`)
}

func TestMetricsCountDecisionsByPolicyAndResult(t *testing.T) {
	cfg := engine.DefaultConfig()
	cfg.Enforcement[vocab.SessionCompositionSum] = vocab.Warn
	ts := startServer(t, cfg)
	for _, name := range []string{"a", "b"} {
		r := ts.post(t, reviewOf(t, v1, admissionv1.Create, podKind, "mpc-system", name, partyPod(name, nil), nil, false), "application/json", "")
		require.False(t, r.review.Response.Allowed)
	}
	r := ts.post(t, reviewOf(t, v1, admissionv1.Create, sessionKind, "mpc-system", "s", session("s", 2, 4, map[string]any{"persistent": 2, "delegate": 1}), nil, false), "application/json", "")
	require.True(t, r.review.Response.Allowed)

	m := ts.scrape(t)
	assert.Contains(t, m, `mpcguard_policy_decisions_total{policy="party-role-required",result="deny"} 2`)
	assert.Contains(t, m, `mpcguard_policy_decisions_total{policy="session-composition-sum",result="warn"} 1`)
	assert.Contains(t, m, `mpcguard_policy_decisions_total{policy="session-persistent-available",result="skipped"} 1`)
	assert.Contains(t, m, `mpcguard_admission_requests_total{kind="Pod",result="denied"} 2`)
	assert.Contains(t, m, `mpcguard_admission_requests_total{kind="MPCSession",result="allowed"} 1`)
	assert.Contains(t, m, `mpcguard_evaluation_duration_seconds_count 3`)
	assert.Contains(t, m, "\nmpcguard_decision_logs_suppressed_total 0\n", "within the bound nothing is suppressed")
}

// TestMetricsCountMemoisedDecisions sends two party pods that differ only in name and a session: the second pod
// is answered from the engine's memo, the others are evaluated, and the metrics say so.
func TestMetricsCountMemoisedDecisions(t *testing.T) {
	ts := startServer(t, engine.DefaultConfig())
	for _, name := range []string{"a", "b"} {
		r := ts.post(t, reviewOf(t, v1, admissionv1.Create, podKind, "mpc-system", name, partyPod(name, nil), nil, false), "application/json", "")
		require.False(t, r.review.Response.Allowed)
		require.Contains(t, r.review.Response.Result.Message, "Pod mpc-system/"+name+":", "each answer names its own pod")
	}
	ts.post(t, reviewOf(t, v1, admissionv1.Create, sessionKind, "mpc-system", "s", session("s", 2, 3, nil), nil, false), "application/json", "")
	m := ts.scrape(t)
	assert.Contains(t, m, "\nmpcguard_decision_cache_hits_total 1\n")
	assert.Contains(t, m, "\nmpcguard_decision_cache_misses_total 2\n")
}

// TestWithTheCacheOffEveryReviewIsEvaluated sends the same two party pods to a webhook whose engine memoises
// nothing (engine.WithCacheSize(0), what --decision-cache-size=0 passes): both are denied, each naming its own
// pod, and the cache counters stay at zero.
func TestWithTheCacheOffEveryReviewIsEvaluated(t *testing.T) {
	ts := startServerWith(t, engine.DefaultConfig(), engine.WithCacheSize(0))
	for _, name := range []string{"a", "b"} {
		r := ts.post(t, reviewOf(t, v1, admissionv1.Create, podKind, "mpc-system", name, partyPod(name, nil), nil, false), "application/json", "")
		require.False(t, r.review.Response.Allowed)
		require.Contains(t, r.review.Response.Result.Message, "Pod mpc-system/"+name+":", "each answer names its own pod")
	}
	m := ts.scrape(t)
	assert.Contains(t, m, "\nmpcguard_decision_cache_hits_total 0\n")
	assert.Contains(t, m, "\nmpcguard_decision_cache_misses_total 0\n")
}
