// Command standin is the stand-in workload of the real node's tests: one static binary that the stand-in
// images run in different modes, so that the charts have something real to run.
//
//	standin pause         the pod sandbox: waits for SIGTERM, reaps children
//	standin party         a party: serves /health on :8080 and accepts connections on $MPC_PARTY_GRPC_PORT;
//	                      writes its id into the share directory when one is mounted (MPC_SHARE_DIR)
//	standin coordinator   the session coordinator: discovers party pods through the API with its ServiceAccount
//	                      (in-cluster configuration, $MPC_PARTY_LABEL_SELECTOR in $K8S_NAMESPACE and
//	                      $MPC_PARTY_DISCOVERY_NAMESPACES), serves /health and /parties (what it saw, as JSON)
//	                      on :8080 and tries once to list Secrets, reporting whether it was refused
//	wget -q -O- URL       (called as wget) fetches URL and prints the body, as the chart's test pods use it
//	nc -z -w SECS HOST PORT (called as nc) checks that HOST:PORT accepts a TCP connection
//
// Nothing here is a real MPC party: it proves placement, identities, RBAC, probes and admission, not signing.
package main
