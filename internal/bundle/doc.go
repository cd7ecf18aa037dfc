// Package bundle writes ValidatingAdmissionPolicies and their bindings as a manifest-based admission bundle
// (KEP-5793, alpha in Kubernetes 1.36 behind the ManifestBasedAdmissionControlConfig feature gate): files the
// API server loads from a directory on its own disk at start, named with the reserved suffix
// .static.k8s.io, which no API request can create, change or delete. A cluster admin copies the bundle to
// every control-plane node and points the ValidatingAdmissionPolicy plugin's staticManifestsDir at it through
// the API server's --admission-control-config-file ([AdmissionConfiguration]).
//
// What the API server does with such a directory, read from k8s.io/apiserver v0.36.3 and checked on a real
// v1.36.3 API server by test/native:
//
//   - it reads every *.yaml, *.yml and *.json file of the directory (not its subdirectories) in name order,
//     multi-document YAML included, and refuses to start when one does not load: an unknown kind, a name
//     without the suffix, a duplicate name, a paramKind or paramRef, a binding whose policy is not in the
//     directory, or a policy that fails the API's own validation;
//   - the policies are not API objects: GET and LIST do not show them, DELETE answers 404 NotFound, and a
//     CREATE of a policy or binding whose name ends with the suffix is refused as Invalid while the gate is on;
//   - it watches the directory (and re-reads it every minute) and swaps the whole set when the files' content
//     changes; a set that fails to load or compile is logged and counted, and the previous set stays;
//   - apiserver_manifest_admission_config_controller_last_config_info{plugin="ValidatingAdmissionPolicy"}
//     carries the hash of the directory it enforces ([DirHash] computes the same), and
//     apiserver_manifest_admission_config_controller_automatic_reloads_total counts loads by status.
//
// Static policies also apply to ValidatingAdmissionPolicy and binding objects themselves, which API-object
// policies never do.
package bundle
