package generator_test

import (
	"fmt"

	"github.com/mpcguard/mpcguard/generator"
)

// A spec whose persistent pool is smaller than the default threshold is refused, and every problem is named
// by its field path.
func ExampleSpec_Validate() {
	s := generator.DefaultSpec()
	s.Threshold = generator.ThresholdSpec{T: 4, N: 5}
	s.Images.Party.Tag = "latest"
	s.Pools = append(s.Pools, generator.PoolSpec{Name: "stand-in", Role: generator.RoleTemporary, Replicas: 3, Resources: s.Pools[1].Resources})
	errs, warnings := s.Validate()
	for _, e := range errs {
		fmt.Println("error:", e)
	}
	for _, w := range warnings {
		fmt.Println("warning:", w)
	}
	// Output:
	// error: images.party.tag: Invalid value: "latest": latest is not a pinned version; name a release tag or a digest
	// error: pools[0].replicas: Invalid value: 3: fewer persistent parties than the default threshold t=4: the strict persistent-only default could never sign
	// warning: pools: 4 delegate and temporary parties reach the default threshold t=4: sessions must keep non-persistent parties below t (mpcguard denies any that do not)
}

// Decode names the path of a field the spec does not know.
func ExampleDecode() {
	_, err := generator.Decode([]byte("pools:\n- name: server-party\n  replica: 3\n"))
	fmt.Println(err)
	// Output:
	// invalid spec: pools[0].replica: Forbidden: unknown field
}
