// Package bench is the side-by-side load generator behind `go run ./test/bench/sidebyside` (the lead wires it
// into `make bench`): the same mix of AdmissionReviews, over TLS with keep-alive connections, to three servers
// started as subprocesses on 127.0.0.1 —
//
//   - `mpcguard webhook --inventory=false`;
//   - OPA's own server (`opa run --server`) with the same policies and configuration behind the classic
//     admission wrapper of test/bench/opa;
//   - a no-op webhook on the same controller-runtime stack (test/bench/noop), the floor —
//
// in interleaved rounds, reporting throughput, latency percentiles, the server's peak RSS and CPU per request,
// and checking that mpcguard and OPA make identical decisions on every request.
//
// The pieces: [Mix] and [EdgeCases] are the reviews; [Start] builds and starts the servers; [Verify] sends
// each review once; [RunCell] is one bounded load run; [Summarize] and [Report] turn cells into the tables.
// The test beside this file proves the OPA wrapper faithful: both servers decide every review identically.
package bench
