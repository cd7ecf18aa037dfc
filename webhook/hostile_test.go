package webhook_test

import (
	"encoding/json"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	admissionv1 "k8s.io/api/admission/v1"
	admissionv1beta1 "k8s.io/api/admission/v1beta1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/mpcguard/mpcguard/policies/engine"
)

// Hostile and odd input that handler_test.go does not cover: objects without metadata, kinds the policies do
// not look at, the v1beta1 wire format for sessions, and deep nesting inside the object. The rule throughout:
// a decision, or a 4xx with a message; never a 500, a panic or an allow of something the policies would deny.

const v1beta1 = "admission.k8s.io/v1beta1"

// withoutMetadata is obj with its metadata removed.
func withoutMetadata(obj map[string]any) map[string]any {
	delete(obj, "metadata")
	return obj
}

func partyDeployment(name string, labels map[string]any) map[string]any {
	return map[string]any{"apiVersion": "apps/v1", "kind": "Deployment",
		"metadata": map[string]any{"name": name, "namespace": "mpc-system"},
		"spec": map[string]any{"template": map[string]any{
			"metadata": map[string]any{"labels": labels},
			"spec":     map[string]any{"containers": []any{map[string]any{"name": "party", "image": "mpc/party:1.0"}}},
		}}}
}

// nested is depth JSON arrays, one inside the other, around a number.
func nested(depth int) json.RawMessage {
	return json.RawMessage(strings.Repeat("[", depth) + "1" + strings.Repeat("]", depth))
}

// outcome is what a hostile case must get: a decision (allowed or denied, HTTP 200) or a 4xx with a message.
type outcome struct {
	status  int    // HTTP status
	allowed bool   // for 200
	message string // contained in the denial or the error
	// unreadable: the review itself cannot be decoded, so there is no uid to answer with
	unreadable bool
}

func (ts *testServer) requireOutcome(t *testing.T, body []byte, want outcome) reply {
	t.Helper()
	start := time.Now()
	r := ts.post(t, body, "application/json", "?timeout=10s")
	assert.Less(t, time.Since(start), 5*time.Second, "answered promptly")
	assert.NotEqual(t, http.StatusInternalServerError, r.status, "hostile input is the caller's fault, not an engine failure: %s", r.raw)
	require.Equal(t, want.status, r.status, r.raw)
	resp := r.review.Response
	require.NotNil(t, resp, r.raw)
	require.NotNil(t, resp.Result, r.raw)
	if !want.unreadable {
		assert.NotEmpty(t, resp.UID, "the response carries the request's uid")
	}
	if want.status != http.StatusOK {
		assert.False(t, resp.Allowed)
		assert.EqualValues(t, want.status, resp.Result.Code)
		assert.NotEmpty(t, resp.Result.Message, "an error says what is wrong")
	} else {
		assert.Equal(t, want.allowed, resp.Allowed, r.raw)
	}
	assert.Contains(t, resp.Result.Message, want.message)
	return r
}

func TestHandlerJudgesObjectsWithoutMetadata(t *testing.T) {
	ts := startServer(t, engine.DefaultConfig())
	role := map[string]string{"party-role": "persistent"}
	partyTemplate := map[string]any{"app.kubernetes.io/component": "mpc-party"}
	cases := map[string]struct {
		kind metav1.GroupVersionKind
		name string // the request's name
		obj  any
		want outcome
	}{
		"admits a pod without metadata: it has no labels, so it is no party pod": {
			kind: podKind, name: "p-nometa", obj: withoutMetadata(partyPod("p-nometa", role)),
			want: outcome{status: http.StatusOK, allowed: true},
		},
		"admits a pod whose metadata is null": {
			kind: podKind, name: "p-null", obj: map[string]any{"apiVersion": "v1", "kind": "Pod", "metadata": nil},
			want: outcome{status: http.StatusOK, allowed: true},
		},
		"rejects a pod whose metadata is a string, naming the field": {
			kind: podKind, name: "p-str", obj: map[string]any{"apiVersion": "v1", "kind": "Pod", "metadata": "p-str"},
			want: outcome{status: http.StatusBadRequest, message: "metadata: want an object, got string"},
		},
		"rejects a pod that is an array": {
			kind: podKind, name: "p-array", obj: []any{},
			want: outcome{status: http.StatusBadRequest, message: "want a JSON object, got array"},
		},
		"rejects a pod that is null, as no object": {
			kind: podKind, name: "p-nullobj", obj: json.RawMessage("null"),
			want: outcome{status: http.StatusBadRequest, message: "CREATE Pod: request has no object"},
		},
		"denies a Deployment without metadata whose template lacks the role, naming it by the request": {
			kind: deployKind, name: "d-nometa", obj: withoutMetadata(partyDeployment("d-nometa", partyTemplate)),
			want: outcome{status: http.StatusOK, message: "[workload-party-role] Deployment mpc-system/d-nometa"},
		},
		"admits a Deployment with neither metadata nor spec": {
			kind: deployKind, name: "d-bare", obj: map[string]any{"apiVersion": "apps/v1", "kind": "Deployment"},
			want: outcome{status: http.StatusOK, allowed: true},
		},
		"rejects a Deployment that is a number": {
			kind: deployKind, name: "d-num", obj: json.RawMessage("42"),
			want: outcome{status: http.StatusBadRequest, message: "want a JSON object, got number"},
		},
		"denies a session without metadata whose delegates reach t, naming it by the request": {
			kind: sessionKind, name: "s-nometa", obj: withoutMetadata(session("s-nometa", 2, 3, map[string]any{"persistent": 1, "delegate": 2})),
			want: outcome{status: http.StatusOK, message: "[session-delegate-only-threshold] MPCSession mpc-system/s-nometa: 2 delegate"},
		},
		"admits a valid session without metadata": {
			kind: sessionKind, name: "s-nometa-ok", obj: withoutMetadata(session("s-nometa-ok", 2, 3, map[string]any{"persistent": 2, "delegate": 1})),
			want: outcome{status: http.StatusOK, allowed: true},
		},
		"denies a session without metadata or a name in the request": {
			kind: sessionKind, name: "", obj: withoutMetadata(session("", 2, 3, map[string]any{"delegate": 3})),
			want: outcome{status: http.StatusOK, message: "[session-delegate-only-threshold] MPCSession mpc-system/: 3 delegate"},
		},
		"rejects a session that is null, as no object": {
			kind: sessionKind, name: "s-null", obj: json.RawMessage("null"),
			want: outcome{status: http.StatusBadRequest, message: "CREATE MPCSession: request has no object"},
		},
		"denies a session that is an empty object: no spec is no valid spec": {
			kind: sessionKind, name: "s-empty", obj: map[string]any{},
			want: outcome{status: http.StatusOK, message: "[session-spec-valid] MPCSession mpc-system/s-empty: spec is missing or not an object"},
		},
		"rejects a session that is a string": {
			kind: sessionKind, name: "s-str", obj: json.RawMessage(`"sign-42"`),
			want: outcome{status: http.StatusBadRequest, message: "cannot decode object: MPCSession object"},
		},
		"rejects a session whose metadata is a list": {
			kind: sessionKind, name: "s-meta-list", obj: map[string]any{"apiVersion": "mpc.mpcguard.io/v1alpha1", "kind": "MPCSession",
				"metadata": []any{"s"}, "spec": map[string]any{"type": "sign", "threshold": map[string]any{"t": 1, "n": 1}}},
			want: outcome{status: http.StatusBadRequest, message: "cannot decode object: MPCSession object"},
		},
	}
	for name, tc := range cases {
		t.Run(name, func(t *testing.T) {
			ts.requireOutcome(t, reviewOf(t, v1, admissionv1.Create, tc.kind, "mpc-system", tc.name, tc.obj, nil, false), tc.want)
		})
	}
}

func TestHandlerAllowsKindsItDoesNotReviewUntouched(t *testing.T) {
	ts := startServer(t, engine.DefaultConfig())
	partyLabels := map[string]any{"app.kubernetes.io/component": "mpc-party"}
	cases := map[string]struct {
		kind metav1.GroupVersionKind
		obj  any
	}{
		"a Secret labelled like a party": {
			kind: metav1.GroupVersionKind{Version: "v1", Kind: "Secret"},
			obj:  map[string]any{"apiVersion": "v1", "kind": "Secret", "metadata": map[string]any{"name": "s", "labels": partyLabels}},
		},
		"a custom resource of another group": {
			kind: metav1.GroupVersionKind{Group: "example.com", Version: "v1", Kind: "Widget"},
			obj:  map[string]any{"apiVersion": "example.com/v1", "kind": "Widget", "spec": map[string]any{"size": 3}},
		},
		"a Pod of a version the policies do not read": {
			kind: metav1.GroupVersionKind{Version: "v2", Kind: "Pod"},
			obj:  partyPod("p-v2", nil),
		},
		"an MPCSession of a version the policies do not read": {
			kind: metav1.GroupVersionKind{Group: "mpc.mpcguard.io", Version: "v1", Kind: "MPCSession"},
			obj:  session("s-v1", 3, 3, map[string]any{"delegate": 3}),
		},
		"a kind whose object is not even an object": {
			kind: metav1.GroupVersionKind{Group: "example.com", Version: "v1", Kind: "Gadget"},
			obj:  json.RawMessage(`"just a string"`),
		},
		"a kind whose object is nested deeper than the policy reader goes": {
			kind: metav1.GroupVersionKind{Group: "example.com", Version: "v1", Kind: "Gadget"},
			obj:  json.RawMessage(`{"spec":` + string(nested(5000)) + `}`),
		},
	}
	for name, tc := range cases {
		t.Run("allows "+name, func(t *testing.T) {
			r := ts.requireOutcome(t, reviewOf(t, v1, admissionv1.Create, tc.kind, "mpc-system", "x", tc.obj, nil, false),
				outcome{status: http.StatusOK, allowed: true})
			assert.Empty(t, r.review.Response.Warnings)
		})
	}
	t.Run("evaluates none of them", func(t *testing.T) {
		m := ts.scrape(t)
		assert.Contains(t, m, "mpcguard_evaluation_duration_seconds_count 0", "untouched: no policy was evaluated")
		assert.Empty(t, counted(m, "mpcguard_policy_decisions_total"), "no policy decision counted")
	})
}

func TestHandlerRoundTripsAV1beta1SessionReview(t *testing.T) {
	ts := startServer(t, engine.DefaultConfig())
	cases := map[string]struct {
		obj     any
		status  int
		allowed bool
		code    int32
		message string
	}{
		"denies a session whose delegates reach t": {
			obj:    session("s-beta-deny", 2, 3, map[string]any{"persistent": 1, "delegate": 2}),
			status: http.StatusOK, code: http.StatusForbidden,
			message: "[session-delegate-only-threshold] MPCSession mpc-system/s-beta-deny: 2 delegate + 0 temporary parties could reach the signing threshold t=2",
		},
		"admits a 2-of-3 session with one delegate, with the skipped check as a warning": {
			obj:    session("s-beta-ok", 2, 3, map[string]any{"persistent": 2, "delegate": 1}),
			status: http.StatusOK, allowed: true, code: http.StatusOK,
		},
		"denies a session spec with an unknown field as an invalid spec": {
			obj: map[string]any{"apiVersion": "mpc.mpcguard.io/v1alpha1", "kind": "MPCSession",
				"metadata": map[string]any{"name": "s-beta-bad", "namespace": "mpc-system"},
				"spec":     map[string]any{"type": "sign", "threshold": map[string]any{"t": 1, "n": 1}, "parties": 3}},
			status: http.StatusOK, code: http.StatusForbidden,
			message: "[session-spec-valid] MPCSession mpc-system/s-beta-bad: unknown field spec.parties (fields are case-sensitive: type, threshold, composition)",
		},
		"rejects a session that is not JSON with 400": {
			obj:    json.RawMessage(`{"apiVersion": "mpc.mpcguard.io/v1alpha1", "kind": "MPCSession", "spec": ` + strings.Repeat("[", 400) + strings.Repeat("]", 400) + `}`),
			status: http.StatusBadRequest, code: http.StatusBadRequest, message: "cannot decode object: MPCSession object: malformed JSON",
		},
	}
	for name, tc := range cases {
		t.Run(name, func(t *testing.T) {
			body := reviewOf(t, v1beta1, admissionv1.Create, sessionKind, "mpc-system", "s", tc.obj, nil, false)
			// What the API server sends is a v1beta1 AdmissionReview: it decodes as one.
			var sent admissionv1beta1.AdmissionReview
			require.NoError(t, json.Unmarshal(body, &sent))
			require.NotNil(t, sent.Request)

			r := ts.post(t, body, "application/json", "?timeout=10s")
			require.Equal(t, tc.status, r.status, r.raw)
			var got admissionv1beta1.AdmissionReview
			require.NoError(t, json.Unmarshal([]byte(r.raw), &got), "the answer decodes as a v1beta1 AdmissionReview")
			assert.Equal(t, v1beta1, got.APIVersion)
			assert.Equal(t, "AdmissionReview", got.Kind)
			assert.Nil(t, got.Request, "the request is not echoed")
			require.NotNil(t, got.Response)
			assert.Equal(t, sent.Request.UID, got.Response.UID)
			assert.Equal(t, tc.allowed, got.Response.Allowed)
			require.NotNil(t, got.Response.Result)
			assert.Equal(t, tc.code, got.Response.Result.Code)
			assert.Contains(t, got.Response.Result.Message, tc.message)
			if tc.allowed {
				assert.True(t, hasPrefix(got.Response.Warnings, "[session-persistent-available] MPCSession mpc-system/s-beta-ok: not checked"),
					"warnings: %q", got.Response.Warnings)
			}
		})
	}
}

func TestHandlerSurvivesDeepNestingInsideTheObject(t *testing.T) {
	ts := startServer(t, engine.DefaultConfig())
	role := map[string]string{"party-role": "delegate"}
	podWith := func(field string, depth int) map[string]any {
		p := partyPod("p-deep", role)
		p["spec"].(map[string]any)[field] = nested(depth)
		return p
	}
	sessionWith := func(depth int) map[string]any {
		s := session("s-deep", 2, 3, map[string]any{"persistent": 2, "delegate": 1})
		s["metadata"].(map[string]any)["annotations"] = map[string]any{"x": nested(depth)}
		return s
	}
	cases := map[string]struct {
		kind metav1.GroupVersionKind
		obj  any
		want outcome
	}{
		"admits a party pod with 100 levels of nesting in a field the policies do not read": {
			kind: podKind, obj: podWith("extra", 100), want: outcome{status: http.StatusOK, allowed: true},
		},
		"rejects a party pod with 1000 levels of nesting with 400, as malformed": {
			kind: podKind, obj: podWith("extra", 1000), want: outcome{status: http.StatusBadRequest, message: "cannot decode object: Pod object: malformed JSON"},
		},
		"rejects a party pod with 9000 levels of nesting with 400, as malformed": {
			kind: podKind, obj: podWith("extra", 9000), want: outcome{status: http.StatusBadRequest, message: "cannot decode object: Pod object: malformed JSON"},
		},
		"rejects a pod whose labels hold deep nesting instead of strings": {
			kind: podKind, obj: map[string]any{"apiVersion": "v1", "kind": "Pod",
				"metadata": map[string]any{"name": "p", "labels": map[string]any{"app.kubernetes.io/component": nested(200)}}},
			want: outcome{status: http.StatusBadRequest, message: "metadata.labels.app.kubernetes.io/component: want a string, got array"},
		},
		"rejects a Deployment with deep nesting in its pod template with 400": {
			kind: deployKind,
			obj: func() map[string]any {
				d := partyDeployment("d-deep", map[string]any{"app.kubernetes.io/component": "mpc-party", "party-role": "delegate"})
				d["spec"].(map[string]any)["template"].(map[string]any)["spec"].(map[string]any)["extra"] = nested(2000)
				return d
			}(),
			want: outcome{status: http.StatusBadRequest, message: "cannot decode object: Deployment object: malformed JSON"},
		},
		"admits a valid session with 100 levels of nesting in a field the policies do not read": {
			kind: sessionKind, obj: sessionWith(100), want: outcome{status: http.StatusOK, allowed: true},
		},
		"rejects a session with 5000 levels of nesting in a field the policies do not read with 400, as malformed, as a pod": {
			kind: sessionKind, obj: sessionWith(5000), want: outcome{status: http.StatusBadRequest, message: "cannot decode object: MPCSession object: malformed JSON"},
		},
		"denies a session with 200 levels of nesting in its spec as an invalid spec": {
			kind: sessionKind,
			obj: func() map[string]any {
				s := session("s-deep-spec", 2, 3, nil)
				s["spec"].(map[string]any)["threshold"] = nested(200)
				return s
			}(),
			want: outcome{status: http.StatusOK, message: "[session-spec-valid] MPCSession mpc-system/s-deep-spec: spec.threshold is missing or not an object"},
		},
		"rejects a session with deep nesting in its spec with 400": {
			kind: sessionKind,
			obj: func() map[string]any {
				s := session("s-deep-spec", 2, 3, nil)
				s["spec"].(map[string]any)["threshold"] = nested(3000)
				return s
			}(),
			want: outcome{status: http.StatusBadRequest, message: "cannot decode object: MPCSession object: malformed JSON"},
		},
	}
	for name, tc := range cases {
		t.Run(name, func(t *testing.T) {
			ts.requireOutcome(t, reviewOf(t, v1, admissionv1.Create, tc.kind, "mpc-system", "deep", tc.obj, nil, false), tc.want)
		})
	}
	t.Run("rejects nesting deeper than the review decoder allows, inside the object, with 400", func(t *testing.T) {
		// encoding/json will not marshal it, so it is spliced into the review's text.
		p := partyPod("p-deepest", role)
		p["spec"].(map[string]any)["extra"] = "DEEP"
		body := strings.Replace(string(reviewOf(t, v1, admissionv1.Create, podKind, "mpc-system", "p-deepest", p, nil, false)),
			`"DEEP"`, string(nested(20000)), 1)
		ts.requireOutcome(t, []byte(body), outcome{status: http.StatusBadRequest, message: "not an AdmissionReview", unreadable: true})
	})
	t.Run("still judges ordinary reviews afterwards", func(t *testing.T) {
		ts.requireOutcome(t, reviewOf(t, v1, admissionv1.Create, podKind, "mpc-system", "p", partyPod("p", nil), nil, false),
			outcome{status: http.StatusOK, message: "[party-role-required]"})
	})
	t.Run("counted no evaluation error", func(t *testing.T) {
		assert.Empty(t, counted(ts.scrape(t), "mpcguard_evaluation_errors_total"))
	})
}
