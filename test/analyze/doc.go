// Package analyze runs `mpcguard analyze --cluster` against the local control plane (package test/cluster):
// mpc-system is installed from charts/ on KWOK nodes labelled with zones, the real scheduler places the
// persistent parties, and the binary's verdicts, exit status and JSON report are checked against where the
// parties actually run. The identity it uses is impersonated and bound to a ClusterRole that only lists nodes
// and pods, so that the README's "list only" is a tested promise. A cluster that cannot be reached is exit 2.
package analyze
