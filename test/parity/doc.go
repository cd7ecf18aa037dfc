// Package parity checks that the offline validator and the admission webhook — both as the built
// bin/mpcguard, run as a user runs them — give identical decisions on one fixture set.
package parity
