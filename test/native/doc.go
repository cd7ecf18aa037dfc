// Package native holds the differential test of the native policies (package policies/native) against the
// webhook: the same generated requests go to a real kube-apiserver twice, once with only mpcguard's
// ValidatingWebhookConfiguration (the chart's, the webhook a local bin/mpcguard process) and once with only the
// ValidatingAdmissionPolicies and their bindings, and every request must get the same decision and the same
// policy ids. A deliberately changed CEL expression must be caught by the same comparison.
package native
