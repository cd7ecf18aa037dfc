package bench

import (
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"slices"
	"strings"
)

// Sentinel errors of a review's answer; wrapped with the details.
var (
	// ErrStatus means the server answered with an HTTP status other than 200.
	ErrStatus = errors.New("unexpected HTTP status")
	// ErrAnswer means the body is not an AdmissionReview answering the request.
	ErrAnswer = errors.New("not an answer to the review")
)

// Decision is what an AdmissionReview answer decides, in the terms that must agree between servers: allowed,
// the set of denial messages (the status message, one per line) and the warnings.
type Decision struct {
	Allowed  bool     `json:"allowed"`
	Denials  []string `json:"denials,omitempty"`
	Warnings []string `json:"warnings,omitempty"`
}

// Allow is the decision of a server that allows without a word: the no-op's on everything.
var Allow = Decision{Allowed: true}

type answer struct {
	APIVersion string `json:"apiVersion"`
	Kind       string `json:"kind"`
	Response   *struct {
		UID     string `json:"uid"`
		Allowed bool   `json:"allowed"`
		Status  *struct {
			Message string `json:"message"`
		} `json:"status"`
		Warnings []string `json:"warnings"`
	} `json:"response"`
}

// ParseAnswer reads the answer to the review with the given uid: HTTP status 200, an admission.k8s.io/v1
// AdmissionReview whose response carries the uid.
func ParseAnswer(status int, body []byte, uid string) (Decision, error) {
	if status != http.StatusOK {
		return Decision{}, fmt.Errorf("%w %d: %.200s", ErrStatus, status, body)
	}
	var a answer
	if err := json.Unmarshal(body, &a); err != nil {
		return Decision{}, fmt.Errorf("%w: %w: %.200s", ErrAnswer, err, body)
	}
	switch {
	case a.APIVersion != "admission.k8s.io/v1" || a.Kind != "AdmissionReview":
		return Decision{}, fmt.Errorf("%w: apiVersion %q kind %q", ErrAnswer, a.APIVersion, a.Kind)
	case a.Response == nil:
		return Decision{}, fmt.Errorf("%w: no response", ErrAnswer)
	case a.Response.UID != uid:
		return Decision{}, fmt.Errorf("%w: uid %q, want %q", ErrAnswer, a.Response.UID, uid)
	}
	d := Decision{Allowed: a.Response.Allowed}
	if !d.Allowed && a.Response.Status != nil && a.Response.Status.Message != "" {
		d.Denials = strings.Split(a.Response.Status.Message, "\n")
		slices.Sort(d.Denials)
	}
	if len(a.Response.Warnings) > 0 {
		d.Warnings = slices.Sorted(slices.Values(a.Response.Warnings))
	}
	return d, nil
}

// Equal reports whether two decisions agree: allowed, the same denial messages and the same warnings.
func (d Decision) Equal(o Decision) bool {
	return d.Allowed == o.Allowed && slices.Equal(d.Denials, o.Denials) && slices.Equal(d.Warnings, o.Warnings)
}

func (d Decision) String() string {
	var b strings.Builder
	if d.Allowed {
		b.WriteString("allowed")
	} else {
		b.WriteString("denied")
	}
	for _, m := range d.Denials {
		b.WriteString("\n    deny: " + m)
	}
	for _, m := range d.Warnings {
		b.WriteString("\n    warn: " + m)
	}
	return b.String()
}
