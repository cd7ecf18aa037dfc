package generator_test

import (
	"errors"
	"fmt"

	"github.com/mpcguard/mpcguard/generator"
)

// A spec is a values file of the mpc-system chart over the default preset; Generate checks it with the
// charts' own schema and rules, naming each value at fault.
func ExampleGenerate() {
	v, _, err := generator.Load([]byte(`
threshold:
  t: 4
  n: 3
pools:
  stand-in:
    role: temporary
    replicas: 3
    resources: {requests: {cpu: 10m, memory: 16Mi}, limits: {cpu: 10m, memory: 16Mi}}
    shareStorage: {databaseSecret: {name: db, key: url, env: DATABASE_URL}}
`))
	if err != nil {
		fmt.Println(err)
		return
	}
	_, warnings, err := generator.Generate(v)
	fmt.Println(errors.Is(err, generator.ErrInvalidSpec))
	fmt.Println(err)
	fmt.Println(len(warnings))
	// Output:
	// true
	// invalid spec: [threshold.t: Invalid value: 4 must not exceed threshold.n=3 (t-of-n: any t of the n parties can sign), pools.server-party.replicas: Invalid value: 3 persistent parties, fewer than threshold.t=4: the strict persistent-only default could never sign, pools.stand-in.shareStorage: Invalid value: a temporary pool has no share storage: a non-persistent party with shares is a persistent party in disguise, mpcguard.threshold.t: Invalid value: must be threshold.t (4), the t below which the webhook refuses to scale the persistent pool, not 2]
	// 0
}

// Load names the path of a key the values do not know.
func ExampleLoad() {
	_, _, err := generator.Load([]byte("pools:\n  server-party:\n    replica: 3\n"))
	fmt.Println(err)
	// Output:
	// invalid spec: pools.server-party.replica: Forbidden: unknown field
}
