// Package e2e holds the end-to-end tests: mpcguard's claims checked on a real control plane running on this
// machine (test/cluster: etcd, kube-apiserver, kube-controller-manager, kube-scheduler, KWOK), with
// `mpcguard webhook` as a local process on 127.0.0.1 reached by the charts' ValidatingWebhookConfiguration by
// URL, and the checked-in charts installed with the Helm SDK, or with ct and helm for `ct install`.
//
// The tests share one cluster of 15 fake nodes over three zones (enough for the 13 persistent parties of the
// kms-13 values), started by the first test that needs it and stopped after the last one; each test that
// changes a release uses a namespace of its own or restores what it changed. The tools come from the cache
// that `make tools` fills (a missing one fails the test with that advice); `make test` sets MPCGUARD_BIN to
// bin/mpcguard, otherwise the tests build it.
//
// KWOK plays the kubelets: pods are scheduled by the real scheduler and reported Ready, and Helm test pods are
// completed by a stage of this project's own, but no container runs. What these tests prove is what the API
// server, the scheduler, the controllers and RBAC do with the charts, not what the images do.
package e2e
