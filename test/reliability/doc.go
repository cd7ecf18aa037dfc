// Package reliability tests how mpcguard behaves under faults and hostile conditions, end to end, with the
// real binary (bin/mpcguard from $MPCGUARD_BIN, or built once per run):
//
//   - fail closed exactly where it matters: with the webhook down, a real API server (test/cluster) rejects
//     party pods and MPCSessions in the namespaces the mpc-system chart enforces, and admits everything
//     else, the webhook's own pods included; restarted on the same URL and certificate, admission resumes
//     with no manual step;
//   - graceful shutdown: SIGTERM under a concurrent load of AdmissionReviews turns the webhook unready
//     first, answers every request it accepted, exits 0, and a restarted webhook takes the load again;
//   - policy faults: a broken --policy-dir stops `mpcguard webhook` and `mpcguard validate` with the file
//     and line, and the webhook never reports ready; a policy that fails at run time is answered with
//     HTTP 500 (the API server's failurePolicy decides, never an allow) and counted on /metrics.
//
// Every server listens on 127.0.0.1 and every load is bounded in count and time. testdata/policies holds the
// policy sets of the fault tests; testdata/policies/broken is invalid Rego on purpose.
package reliability
