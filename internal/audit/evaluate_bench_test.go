package audit

import (
	"fmt"
	"testing"

	"github.com/mpcguard/mpcguard/policies/engine"
)

// BenchmarkEvaluate measures the audit's evaluation of a snapshot of party pods (the listing aside): the cost
// per object of a periodic audit.
func BenchmarkEvaluate(b *testing.B) {
	eng, err := engine.New(b.Context(), engine.DefaultConfig(), nil)
	if err != nil {
		b.Fatal(err)
	}
	for _, n := range []int{1000, 10000} {
		snap := Snapshot{Namespaces: []string{"team-a"}}
		for i := range n {
			snap.Items = append(snap.Items, Item{Kind: Kinds[0], Object: unlabelledParty("team-a", fmt.Sprintf("p%d", i))})
		}
		b.Run(fmt.Sprintf("pods=%d", n), func(b *testing.B) {
			for b.Loop() {
				if res := Evaluate(b.Context(), eng, nil, snap); res.Denied() != n {
					b.Fatalf("%d denials, want %d", res.Denied(), n)
				}
			}
			b.ReportMetric(float64(b.Elapsed().Microseconds())/float64(b.N*n), "µs/object")
		})
	}
}
