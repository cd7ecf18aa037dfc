// Command floor is the side-by-side benchmark's minimal floor: net/http and crypto/tls answering every
// AdmissionReview with a fixed allow, without decoding the review. It reads the body and copies the request's
// uid into the answer (the API server refuses an answer for another uid) by finding the first "uid" field,
// which the API server writes first in request. Nothing a webhook could do costs less per request on the same
// transport, so it bounds what any webhook can reach on this machine.
package main
