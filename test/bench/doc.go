// Package bench is the side-by-side load generator behind `go run ./test/bench/sidebyside` (the lead wires it
// into `make bench`): the same mix of AdmissionReviews, over TLS with keep-alive connections, to six servers
// started as subprocesses on 127.0.0.1 —
//
//   - `mpcguard webhook --inventory=false`, and the same with --decision-cache-size=0 (mpcguard-uncached: every
//     review evaluated, the plain road the memoised one is compared with);
//   - OPA's own server (`opa run --server`) with the same rules written against input.request (opa-direct,
//     test/bench/opa/direct.rego), the best OPA set-up;
//   - OPA's own server with the same policies and configuration behind the classic admission wrapper of
//     test/bench/opa (opa);
//   - the floor: net/http and crypto/tls answering a fixed allow without decoding (test/bench/floor);
//   - a no-op webhook on controller-runtime, which decodes every review (test/bench/noop) —
//
// in interleaved rounds, reporting throughput, latency percentiles, the server's peak RSS and CPU per request
// and the load generator's CPU per request, and checking that mpcguard, mpcguard-uncached and both OPA set-ups make identical
// decisions on every request.
//
// The pieces: [Mix] and [EdgeCases] are the reviews; [Start] builds and starts the servers; [Verify] sends
// each review once; [RunCell] is one bounded load run; [Summarize] and [Report] turn cells into the tables.
// The test beside this file proves both OPA set-ups faithful: they decide every review as mpcguard does.
package bench
