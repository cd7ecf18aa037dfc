// Package charts holds the tests of the checked-in charts (charts/mpc-system and charts/mpcguard), examined
// independently of the generator: they are loaded, linted and rendered with the Helm SDK, decoded into
// k8s.io/api and cert-manager types, and checked for the properties the charts promise (pool selectors,
// exact RBAC, restricted pods, the webhook's reach, PodDisruptionBudget arithmetic), and the rendered ci values
// are run through `mpcguard validate`.
package charts
