package webhook

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"mime"
	"net/http"
	"runtime/debug"
	"slices"
	"time"

	"github.com/go-logr/logr"
	"github.com/valyala/fastjson"
	admissionv1 "k8s.io/api/admission/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/apimachinery/pkg/types"

	"github.com/mpcguard/mpcguard/policies/engine"
	"github.com/mpcguard/mpcguard/policies/vocab"
)

// MaxBodyBytes bounds an AdmissionReview: an object and its old version, each at most the API server's
// 3 MiB request limit, plus the envelope.
const MaxBodyBytes = 7 << 20

// deadlineMargin is kept from the API server's timeout so our answer arrives before it gives up.
const deadlineMargin = 100 * time.Millisecond

// otherKind is the kind label of requests for kinds the policies do not review: the label's values are the
// reviewed kinds and this, never a string taken from a request.
const otherKind = "other"

// reviewedKind holds the kinds the policies review, the only kind label values besides "other" and "unknown".
var reviewedKind = func() map[string]bool {
	m := map[string]bool{}
	for _, k := range vocab.Kinds {
		m[k.Kind] = true
	}
	return m
}()

// requestKinds lists the kind label values of mpcguard_admission_requests_total, sorted.
func requestKinds() []string {
	out := []string{otherKind, unknownKind}
	for k := range reviewedKind {
		out = append(out, k)
	}
	slices.Sort(out)
	return out
}

// unknownKind is the kind label of a request whose kind could not be read.
const unknownKind = "unknown"

// errBadRequest marks input the handler cannot read.
var errBadRequest = errors.New("bad admission review")

// Handler answers AdmissionReviews at /validate. It never returns an error: bad input becomes HTTP 400, an
// engine failure HTTP 500, a violation a denial.
type Handler struct {
	Engine    *engine.Engine
	Inventory engine.Inventory // nil: no inventory; session-persistent-available is skipped with a warning
	Metrics   *Metrics
	Log       logr.Logger
	// Decisions writes a line per denied or warned request; nil writes none.
	Decisions *DecisionLog
}

// review is admission.k8s.io/v1 or v1beta1; both share this shape.
type review struct {
	metav1.TypeMeta `json:",inline"`
	Request         *admissionv1.AdmissionRequest  `json:"request,omitempty"`
	Response        *admissionv1.AdmissionResponse `json:"response,omitempty"`
	// object and oldObject are the request's objects as the fast reader parsed them (nil when encoding/json
	// read the review, which leaves them in Request as raw JSON).
	object, oldObject *fastjson.Value
}

var supportedVersions = map[string]bool{"admission.k8s.io/v1": true, "admission.k8s.io/v1beta1": true}

func (h *Handler) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if r.Method != http.MethodPost {
		w.Header().Set("Allow", http.MethodPost)
		h.fail(w, nil, "", http.StatusMethodNotAllowed, fmt.Sprintf("method %s not allowed: send a POST", r.Method))
		return
	}
	defer func() {
		// A bug must cost one request, answered as an error (never an allow), not the process.
		if p := recover(); p != nil {
			h.Metrics.Errors.WithLabelValues("panic").Inc()
			h.Log.Error(fmt.Errorf("panic: %v", p), "admission handler panicked", "stack", string(debug.Stack()))
			h.fail(w, nil, "", http.StatusInternalServerError, "internal error while reviewing the request")
		}
	}()
	sc := scratches.Get().(*scratch)
	defer sc.release()
	rv, code, err := readReview(w, r, sc)
	if err != nil {
		h.fail(w, rv, "", code, err.Error())
		return
	}
	req := rv.Request
	ctx, cancel := requestContext(r)
	defer cancel()

	preq := engine.Request{
		Operation:      engine.Operation(req.Operation),
		Kind:           schema.GroupVersionKind{Group: req.Kind.Group, Version: req.Kind.Version, Kind: req.Kind.Kind},
		Subresource:    req.SubResource,
		Namespace:      req.Namespace,
		Name:           req.Name,
		DryRun:         req.DryRun != nil && *req.DryRun,
		User:           &engine.User{Username: req.UserInfo.Username, Groups: req.UserInfo.Groups},
		Object:         req.Object.Raw,
		OldObject:      req.OldObject.Raw,
		ObjectValue:    rv.object,
		OldObjectValue: rv.oldObject,
	}
	if !engine.ReviewedOperation(preq.Kind, preq.Operation) {
		// Kinds and operations the policies do not review are allowed untouched: the webhook configuration
		// decides what is sent here.
		h.Metrics.Requests.WithLabelValues(otherKind, "allowed").Inc()
		h.write(w, rv, http.StatusOK, allowed(req.UID, nil))
		return
	}
	start := time.Now()
	d, err := h.Engine.Review(ctx, preq, h.Inventory)
	h.Metrics.Latency.Observe(time.Since(start).Seconds())
	switch {
	case errors.Is(err, engine.ErrDecode), errors.Is(err, engine.ErrNoObject):
		h.fail(w, rv, preq.Kind.Kind, http.StatusBadRequest, err.Error())
		return
	case err != nil:
		reason := "eval"
		if ctx.Err() != nil {
			reason = "deadline"
			err = fmt.Errorf("%w (deadline of the request: %w)", err, ctx.Err())
		}
		h.Metrics.Errors.WithLabelValues(reason).Inc()
		h.Log.Error(err, "policy evaluation failed", "uid", req.UID, "kind", preq.Kind.Kind,
			"namespace", req.Namespace, "name", req.Name)
		h.fail(w, rv, preq.Kind.Kind, http.StatusInternalServerError, err.Error())
		return
	}
	h.count(d)
	h.Decisions.Record(&preq, string(req.UID), d)
	if d.Allowed() {
		h.Metrics.Requests.WithLabelValues(preq.Kind.Kind, "allowed").Inc()
		h.write(w, rv, http.StatusOK, allowed(req.UID, warnings(d)))
		return
	}
	h.Metrics.Requests.WithLabelValues(preq.Kind.Kind, "denied").Inc()
	h.write(w, rv, http.StatusOK, denied(req.UID, d.Deny, warnings(d)))
}

// readReview checks the content type, bounds the body and decodes an AdmissionReview with a request.
// On failure it returns the HTTP status to answer with, and whatever of the review it could read.
func readReview(w http.ResponseWriter, r *http.Request, sc *scratch) (*review, int, error) {
	ct, _, err := mime.ParseMediaType(r.Header.Get("Content-Type"))
	if err != nil || ct != "application/json" {
		return nil, http.StatusBadRequest, fmt.Errorf("%w: content type %q, want application/json",
			errBadRequest, r.Header.Get("Content-Type"))
	}
	body, err := sc.readBody(w, r)
	if err != nil {
		var tooBig *http.MaxBytesError
		if errors.As(err, &tooBig) {
			return nil, http.StatusRequestEntityTooLarge, fmt.Errorf("%w: body larger than %d bytes",
				errBadRequest, MaxBodyBytes)
		}
		return nil, http.StatusBadRequest, fmt.Errorf("%w: reading body: %w", errBadRequest, err)
	}
	if len(bytes.TrimSpace(body)) == 0 {
		return nil, http.StatusBadRequest, fmt.Errorf("%w: empty body", errBadRequest)
	}
	rv, err := decodeReview(body, sc)
	if err != nil {
		// The fast reader gave up (malformed JSON, nesting deeper than it reads, a field of the wrong type):
		// encoding/json decides, and its message is the one clients have always had.
		var slow review
		if err := json.Unmarshal(body, &slow); err != nil {
			return nil, http.StatusBadRequest, notAReview(err)
		}
		rv = &slow
	}
	if !supportedVersions[rv.APIVersion] || rv.Kind != "AdmissionReview" {
		return nil, http.StatusBadRequest, fmt.Errorf("%w: got apiVersion %q kind %q, want AdmissionReview of "+
			"admission.k8s.io/v1 or v1beta1", errBadRequest, rv.APIVersion, rv.Kind)
	}
	if rv.Request == nil {
		return rv, http.StatusBadRequest, fmt.Errorf("%w: AdmissionReview has no request", errBadRequest)
	}
	if rv.Request.UID == "" {
		return rv, http.StatusBadRequest, fmt.Errorf("%w: request.uid is empty", errBadRequest)
	}
	if rv.Request.Kind.Kind == "" || rv.Request.Kind.Version == "" {
		return rv, http.StatusBadRequest, fmt.Errorf("%w: request.kind is incomplete: %+v", errBadRequest,
			rv.Request.Kind)
	}
	return rv, http.StatusOK, nil
}

// requestContext honours the API server's deadline, sent as ?timeout=10s on every webhook call.
func requestContext(r *http.Request) (context.Context, context.CancelFunc) {
	if t, err := time.ParseDuration(r.URL.Query().Get("timeout")); err == nil && t > 0 {
		if t > 2*deadlineMargin {
			t -= deadlineMargin
		}
		return context.WithTimeout(r.Context(), t)
	}
	return context.WithCancel(r.Context())
}

func (h *Handler) count(d engine.Decision) {
	for _, part := range []struct {
		result string
		list   []engine.Result
	}{{"deny", d.Deny}, {"warn", d.Warn}, {"skipped", d.Skipped}} {
		for _, r := range part.list {
			policy := r.Policy
			if !h.Engine.Defines(policy) {
				policy = unknownPolicy // ids are bounded by the policy set; a metric label must never come from a request
			}
			h.Metrics.Decisions.WithLabelValues(policy, part.result).Inc()
		}
	}
}

func (h *Handler) fail(w http.ResponseWriter, rv *review, kind string, code int, msg string) {
	result := "invalid"
	if code >= 500 {
		result = "error"
	}
	if kind == "" {
		kind = unknownKind
	}
	if kind != unknownKind && !reviewedKind[kind] {
		kind = otherKind
	}
	h.Metrics.Requests.WithLabelValues(kind, result).Inc()
	var uid types.UID
	if rv != nil && rv.Request != nil {
		uid = rv.Request.UID
	}
	h.write(w, rv, code, errored(uid, int32(code), msg))
}

// write answers in the review's own API version (v1 when it could not be read).
func (h *Handler) write(w http.ResponseWriter, rv *review, code int, resp *admissionv1.AdmissionResponse) {
	out := review{TypeMeta: metav1.TypeMeta{APIVersion: "admission.k8s.io/v1", Kind: "AdmissionReview"}, Response: resp}
	if rv != nil && supportedVersions[rv.APIVersion] {
		out.APIVersion = rv.APIVersion
	}
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(code)
	if err := json.NewEncoder(w).Encode(out); err != nil {
		h.Log.Error(err, "writing admission response")
	}
}
