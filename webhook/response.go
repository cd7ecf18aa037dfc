package webhook

import (
	"net/http"
	"strings"

	admissionv1 "k8s.io/api/admission/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"

	"github.com/mpcguard/mpcguard/policies/engine"
)

// allowed is an allow, with warnings if any.
func allowed(uid types.UID, warnings []string) *admissionv1.AdmissionResponse {
	return &admissionv1.AdmissionResponse{UID: uid, Allowed: true, Warnings: warnings,
		Result: &metav1.Status{Code: http.StatusOK}}
}

// denied joins every denial into one message, one policy per line, each naming its policy id.
func denied(uid types.UID, deny []engine.Result, warnings []string) *admissionv1.AdmissionResponse {
	msgs := make([]string, len(deny))
	for i, r := range deny {
		msgs[i] = r.Message
	}
	return &admissionv1.AdmissionResponse{UID: uid, Allowed: false, Warnings: warnings,
		Result: &metav1.Status{
			Status:  metav1.StatusFailure,
			Code:    http.StatusForbidden,
			Reason:  metav1.StatusReasonForbidden,
			Message: strings.Join(msgs, "\n"),
		}}
}

// errored is a response for a request the webhook could not judge; it travels with a non-200 HTTP status so
// the API server applies the webhook's failurePolicy instead of reading it as a verdict.
func errored(uid types.UID, code int32, msg string) *admissionv1.AdmissionResponse {
	return &admissionv1.AdmissionResponse{UID: uid, Allowed: false,
		Result: &metav1.Status{Status: metav1.StatusFailure, Code: code, Message: msg}}
}

// warnings are the warn-mode violations and the skipped checks, for the AdmissionResponse.
func warnings(d engine.Decision) []string {
	if len(d.Warn)+len(d.Skipped) == 0 {
		return nil
	}
	out := make([]string, 0, len(d.Warn)+len(d.Skipped))
	for _, r := range d.Warn {
		out = append(out, r.Message)
	}
	for _, r := range d.Skipped {
		out = append(out, r.Message)
	}
	return out
}
