package engine_test

import (
	"context"
	"fmt"

	"k8s.io/apimachinery/pkg/runtime/schema"

	"github.com/mpcguard/mpcguard/policies/engine"
)

// A session whose two delegates could sign a 2-of-3 on their own is denied; without a cluster inventory the
// check of its persistent parties is reported as skipped, never passed.
func ExampleEngine_Review() {
	ctx := context.Background()
	eng, err := engine.New(ctx, engine.DefaultConfig(), nil)
	if err != nil {
		fmt.Println(err)
		return
	}
	d, err := eng.Review(ctx, engine.Request{
		Operation: engine.Create,
		Kind:      schema.GroupVersionKind{Group: "mpc.mpcguard.io", Version: "v1alpha1", Kind: "MPCSession"},
		Namespace: "mpc-system",
		Object: []byte(`{
			"apiVersion": "mpc.mpcguard.io/v1alpha1", "kind": "MPCSession",
			"metadata": {"name": "sign-42"},
			"spec": {"type": "sign", "threshold": {"t": 2, "n": 3}, "composition": {"persistent": 1, "delegate": 2}}
		}`),
	}, nil)
	if err != nil {
		fmt.Println(err)
		return
	}
	fmt.Println("allowed:", d.Allowed())
	for _, r := range d.Deny {
		fmt.Println("deny:", r.Message)
	}
	for _, r := range d.Skipped {
		fmt.Println("skipped:", r.Message)
	}
	// Output:
	// allowed: false
	// deny: [session-delegate-only-threshold] MPCSession mpc-system/sign-42: 2 delegate + 0 temporary parties could reach the signing threshold t=2 without a persistent party; use at most 1 non-persistent party or raise t
	// skipped: [session-persistent-available] MPCSession mpc-system/sign-42: not checked: no cluster inventory (needs 1 Ready persistent party)
}
