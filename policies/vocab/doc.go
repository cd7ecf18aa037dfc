// Package vocab is the one home of mpcguard's policy contract: the policy ids and what each checks, the
// roles, the enforcement actions, the kinds, resources and subresources the policies review, and the
// configuration defaults. The policy engine, the chart generator, the CLI and the tests all import it, so a
// new policy or a newly reviewed subresource is added here and nowhere else in Go; a test reads the policy ids
// from the Rego modules and compares them with this list.
//
// It depends on nothing but the standard library, so the generator can use it without the policy engine.
package vocab
