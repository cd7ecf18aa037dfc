// Command noop is the side-by-side benchmark's floor: a validating webhook on the same controller-runtime
// stack as `mpcguard webhook` (pkg/webhook's server, an admission.Webhook around a Handler) that allows
// everything without looking at it. What it costs is TLS, HTTP and the AdmissionReview round trip.
//
//	noop --host 127.0.0.1 --port 9444 --cert-dir DIR    # serves https://127.0.0.1:9444/validate until SIGTERM
package main
