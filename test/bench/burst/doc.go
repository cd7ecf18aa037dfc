// Command burst measures mpcguard's admission under a burst of creates through a real API server, against a
// native ValidatingAdmissionPolicy as the in-process floor:
//
//	go run ./test/bench/burst                     # 500 party pods, 1,000 MPCSessions, each mode
//	go run ./test/bench/burst --replicas 200 --sessions 400
//
// It starts the local control plane of test/cluster (etcd, kube-apiserver, kube-controller-manager,
// kube-scheduler, KWOK; the controller-manager and scheduler with --kube-api-qps/--kube-api-burst raised so
// that their client-side rate limits do not pace the burst), runs `mpcguard webhook` as a local process
// ($MPCGUARD_BIN, or built from the checkout) with the arguments the chart gives its own Deployment, and
// installs the checked-in charts/mpc-system into the restricted namespace mpc-system with its webhook
// configuration pointing at that process, as the demo does.
//
// Then, in each mode, as fast as the API server takes them:
//
//   - a Deployment of delegate parties (valid role, allowed) scaled to --replicas at once: the ReplicaSet
//     controller creates the pods, the time is from the Deployment's create until the API server has admitted
//     every pod (seen by a watch), then the scheduler and KWOK make them Ready;
//   - --sessions valid MPCSessions (2-of-3, 2 persistent + 1 delegate) created by the program from --clients
//     concurrent clients.
//
// Mode "webhook" is the mpcguard chart's ValidatingWebhookConfiguration. Mode "vap" removes it, stops the
// webhook, and adds a ValidatingAdmissionPolicy and binding (admissionregistration.k8s.io/v1, CEL) that only
// checks that party pods carry party-role in persistent, delegate, temporary: sessions then pass no admission
// check at all.
//
// Before and after each burst the program scrapes the API server's /metrics (with the cluster's administrator
// credentials) and computes p50 and p99 on the delta, with histogram_quantile's interpolation:
//
//   - webhook mode: apiserver_admission_webhook_admission_duration_seconds of the mpcguard webhook that judged
//     the burst (pods.mpcguard.io, mpcsessions.mpcguard.io), with its rejection, fail-open and non-200 counters;
//     and, from the webhook process's own /metrics, its policy evaluation latency and CPU seconds;
//   - vap mode: apiserver_admission_controller_admission_duration_seconds of the ValidatingAdmissionPolicy
//     plugin. In v1.36 apiserver_validating_admission_policy_check_duration_seconds is observed only for
//     denials and evaluation errors (validating/dispatcher.go), so an allowed burst leaves it empty; the
//     plugin's histogram has no resource label, so it covers every CREATE in the window (pods, bindings,
//     events). The policy's check_total counts denials and CEL errors.
//
// The same plugin-level histogram is printed for both modes (ValidatingAdmissionWebhook against
// ValidatingAdmissionPolicy). Failures add the API server's counters, the ReplicaSet controller's
// FailedCreate events, pods never created and the program's own client errors. It prints one table: mode,
// objects, wall time, objects/s, admission p50/p99, failures. Everything runs on 127.0.0.1, is bounded by
// --timeout, and stops on exit, error or Ctrl-C.
package main
