package analyze_test

import (
	"fmt"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"k8s.io/apimachinery/pkg/labels"
	"k8s.io/apimachinery/pkg/util/intstr"

	"github.com/mpcguard/mpcguard/internal/analyze"
)

// pool is a party pool named for its role, its pods labelled pool=<name>.
func pool(role string, replicas int, node analyze.Spacing, zone analyze.Spacing) analyze.Pool {
	name := "p-" + role
	return analyze.Pool{Kind: "StatefulSet", Namespace: "mpc", Name: name, Role: role, Replicas: replicas,
		Labels: map[string]string{"pool": name}, Node: node, Zone: zone}
}

var (
	required  = analyze.Spacing{AntiAffinity: analyze.Required}
	preferred = analyze.Spacing{AntiAffinity: analyze.Preferred}
	none      = analyze.Spacing{AntiAffinity: analyze.None}
)

func spread(skew int) analyze.Spacing {
	return analyze.Spacing{AntiAffinity: analyze.None, MaxSkew: skew}
}

// nodes returns n schedulable nodes spread round-robin over the zones (none: no zone label).
func nodes(n int, zones ...string) []analyze.Node {
	out := []analyze.Node{}
	for i := range n {
		nd := analyze.Node{Name: fmt.Sprintf("n%d", i)}
		if len(zones) > 0 {
			nd.Zone = zones[i%len(zones)]
		}
		out = append(out, nd)
	}
	return out
}

func persistent(replicas int, node, zone analyze.Spacing) analyze.Render {
	return analyze.Render{Pools: []analyze.Pool{pool("persistent", replicas, node, zone)}}
}

// finding returns the one finding with the id (and subject, when given).
func finding(t *testing.T, rep analyze.Report, id string) analyze.Finding {
	t.Helper()
	var found []analyze.Finding
	for _, f := range rep.Findings {
		if f.ID == id {
			found = append(found, f)
		}
	}
	require.Len(t, found, 1, "findings %s in %+v", id, rep.Findings)
	return found[0]
}

func TestPlacementQuestions(t *testing.T) {
	tests := map[string]struct {
		op          analyze.Operator
		t, k        int
		id          string
		want        analyze.Verdict
		wantNumbers map[string]int // each contained
	}{
		"required anti-affinity loses one party per node: 3 parties keep t=2 through a node loss": {
			op: analyze.Operator{Render: persistent(3, required, none)}, t: 2, id: analyze.NodeLoss,
			want: analyze.OK, wantNumbers: map[string]int{"lost": 1, "remaining": 2},
		},
		"2 parties with required anti-affinity and t=2 do not survive a node loss": {
			op: analyze.Operator{Render: persistent(2, required, none)}, t: 2, id: analyze.NodeLoss,
			want: analyze.AtRisk, wantNumbers: map[string]int{"lost": 1, "remaining": 1},
		},
		"preferred anti-affinity lets every party share one node": {
			op: analyze.Operator{Render: persistent(5, preferred, none), Nodes: nodes(10)}, t: 2, id: analyze.NodeLoss,
			want: analyze.AtRisk, wantNumbers: map[string]int{"lost": 5, "remaining": 0},
		},
		"no anti-affinity lets every party share one node": {
			op: analyze.Operator{Render: persistent(3, none, none)}, t: 1, id: analyze.NodeLoss,
			want: analyze.AtRisk, wantNumbers: map[string]int{"lost": 3},
		},
		"a DoNotSchedule spread over 4 known nodes keeps one of 4 parties per node": {
			op: analyze.Operator{Render: persistent(4, spread(1), none), Nodes: nodes(4)}, t: 3, id: analyze.NodeLoss,
			want: analyze.OK, wantNumbers: map[string]int{"lost": 1, "remaining": 3},
		},
		"a DoNotSchedule spread over unknown nodes cannot be judged": {
			op: analyze.Operator{Render: persistent(4, spread(1), none)}, t: 3, id: analyze.NodeLoss,
			want: analyze.Unknown,
		},
		"with required anti-affinity and 2 nodes only 2 of 3 parties run, and a node loss leaves 1 < t=2": {
			op: analyze.Operator{Render: persistent(3, required, none), Nodes: nodes(2)}, t: 2, id: analyze.NodeLoss,
			want: analyze.AtRisk, wantNumbers: map[string]int{"persistent": 2, "lost": 1, "remaining": 1},
		},
		"an unschedulable node does not count": {
			op: analyze.Operator{Render: persistent(3, required, none), Nodes: append(nodes(2), analyze.Node{Name: "c", Unschedulable: true})},
			t:  2, id: analyze.NodeLoss, want: analyze.AtRisk, wantNumbers: map[string]int{"persistent": 2},
		},
		"the live placement counts: two parties on one node are lost together": {
			op: analyze.Operator{Render: persistent(3, required, none), Nodes: nodes(3), Live: true,
				Placed: []analyze.Placed{{Name: "p-0", Node: "n0"}, {Name: "p-1", Node: "n0"}, {Name: "p-2", Node: "n1"}}},
			t: 2, id: analyze.NodeLoss, want: analyze.AtRisk, wantNumbers: map[string]int{"lost": 2, "remaining": 1},
		},
		"a pending party of the live cluster is not running": {
			op: analyze.Operator{Render: persistent(3, required, none), Nodes: nodes(3), Live: true,
				Placed: []analyze.Placed{{Name: "p-0", Node: "n0"}, {Name: "p-1", Node: "n1"}, {Name: "p-2"}}},
			t: 2, id: analyze.NodeLoss, want: analyze.AtRisk, wantNumbers: map[string]int{"persistent": 2, "remaining": 1},
		},
		"losing k=2 nodes with required anti-affinity leaves 3 of 5 parties, exactly t=3": {
			op: analyze.Operator{Render: persistent(5, required, none)}, t: 3, k: 2, id: analyze.NodesLoss,
			want: analyze.OK, wantNumbers: map[string]int{"k": 2, "lost": 2, "remaining": 3},
		},
		"losing k=2 nodes leaves 3 of 5 parties, one short of t=4": {
			op: analyze.Operator{Render: persistent(5, required, none)}, t: 4, k: 2, id: analyze.NodesLoss,
			want: analyze.AtRisk, wantNumbers: map[string]int{"remaining": 3},
		},
		"zones unknown and all parties possibly in one zone cannot be judged": {
			op: analyze.Operator{Render: persistent(3, required, spread(1))}, t: 2, id: analyze.ZoneLoss,
			want: analyze.Unknown, wantNumbers: map[string]int{"lost": 3},
		},
		"required anti-affinity on zones keeps one party per zone, zones known or not": {
			op: analyze.Operator{Render: persistent(3, required, required)}, t: 2, id: analyze.ZoneLoss,
			want: analyze.OK, wantNumbers: map[string]int{"lost": 1},
		},
		"a DoNotSchedule zone spread with maxSkew 1 over 3 zones loses one of 3 parties per zone": {
			op: analyze.Operator{Render: persistent(3, required, spread(1)), Nodes: nodes(6, "a", "b", "c")}, t: 2, id: analyze.ZoneLoss,
			want: analyze.OK, wantNumbers: map[string]int{"lost": 1, "remaining": 2},
		},
		"a DoNotSchedule zone spread with maxSkew 2 over 3 zones allows 2 of 3 parties in one zone, leaving 1 < t=2": {
			op: analyze.Operator{Render: persistent(3, required, spread(2)), Nodes: nodes(6, "a", "b", "c")}, t: 2, id: analyze.ZoneLoss,
			want: analyze.AtRisk, wantNumbers: map[string]int{"lost": 2},
		},
		"a soft zone spread with one party per node is bounded by the nodes of the largest zone": {
			op: analyze.Operator{Render: persistent(3, required, none), Nodes: nodes(4, "a", "b")}, t: 2, id: analyze.ZoneLoss,
			want: analyze.AtRisk, wantNumbers: map[string]int{"lost": 2, "remaining": 1},
		},
		"a soft zone spread over zones of one node each loses one party per zone": {
			op: analyze.Operator{Render: persistent(3, required, none), Nodes: nodes(3, "a", "b", "c")}, t: 2, id: analyze.ZoneLoss,
			want: analyze.OK, wantNumbers: map[string]int{"lost": 1},
		},
		"nodes without zone labels leave the zones unknown": {
			op: analyze.Operator{Render: persistent(3, required, spread(1)), Nodes: nodes(3)}, t: 2, id: analyze.ZoneLoss,
			want: analyze.Unknown,
		},
		"the live placement in two zones loses the larger": {
			op: analyze.Operator{Render: persistent(3, required, none), Nodes: nodes(3, "a", "a", "b"), Live: true,
				Placed: []analyze.Placed{{Name: "p-0", Node: "n0"}, {Name: "p-1", Node: "n1"}, {Name: "p-2", Node: "n2"}}},
			t: 2, id: analyze.ZoneLoss, want: analyze.AtRisk, wantNumbers: map[string]int{"lost": 2},
		},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			rep := analyze.Analyze(analyze.Input{Operators: []analyze.Operator{tc.op}, T: tc.t, LoseNodes: max(tc.k, 1)})
			f := finding(t, rep, tc.id)
			assert.Equal(t, tc.want, f.Verdict, f.Message)
			for k, v := range tc.wantNumbers {
				assert.Equal(t, v, f.Numbers[k], "numbers[%s]: %s", k, f.Message)
			}
		})
	}
}

func TestSeveralOperatorsLoseNodesOfTheirOwnClusters(t *testing.T) {
	// Operator a runs 3 parties that can share a node, b runs 2 kept apart: losing 2 nodes at worst takes
	// a's node and one of b's.
	ops := []analyze.Operator{
		{Name: "a", Render: persistent(3, preferred, none)},
		{Name: "b", Render: persistent(2, required, none)},
	}
	rep := analyze.Analyze(analyze.Input{Operators: ops, T: 2, LoseNodes: 2})
	f := finding(t, rep, analyze.NodesLoss)
	assert.Equal(t, 4, f.Numbers["lost"], f.Message)
	assert.Equal(t, analyze.AtRisk, f.Verdict)
	assert.Equal(t, analyze.OK, finding(t, rep, analyze.NodeLoss).Verdict, "one node takes at most a's 3 of 5, leaving 2 >= t=2")
}

func q(s string) *intstr.IntOrString {
	v := intstr.Parse(s)
	return &v
}

func TestPDBDrain(t *testing.T) {
	sel := labels.SelectorFromSet(labels.Set{"pool": "p-persistent"})
	budget := func(minAvailable, maxUnavailable string, alwaysAllow bool) analyze.PDB {
		p := analyze.PDB{Namespace: "mpc", Name: "budget", Selector: sel}
		if minAvailable != "" {
			p.MinAvailable = q(minAvailable)
		}
		if maxUnavailable != "" {
			p.MaxUnavailable = q(maxUnavailable)
		}
		if alwaysAllow {
			p.UnhealthyPodEvictionPolicy = "AlwaysAllow"
		}
		return p
	}
	tests := map[string]struct {
		render      analyze.Render
		nodes       []analyze.Node
		want        analyze.Verdict
		wantMessage string
		wantNumbers map[string]int
	}{
		"minAvailable t with AlwaysAllow and a spare node lets drains through": {
			render: analyze.Render{PDBs: []analyze.PDB{budget("2", "", true)}}, nodes: nodes(4),
			want: analyze.OK, wantNumbers: map[string]int{"allowed": 1, "desiredHealthy": 2},
		},
		"minAvailable equal to the replicas allows no eviction ever": {
			render: analyze.Render{PDBs: []analyze.PDB{budget("3", "", true)}}, nodes: nodes(4),
			want: analyze.AtRisk, wantMessage: "allows no eviction ever",
		},
		"minAvailable 100% allows no eviction ever": {
			render: analyze.Render{PDBs: []analyze.PDB{budget("100%", "", true)}}, nodes: nodes(4),
			want: analyze.AtRisk, wantMessage: "allows no eviction ever",
		},
		"maxUnavailable 0 allows no eviction ever": {
			render: analyze.Render{PDBs: []analyze.PDB{budget("", "0", true)}}, nodes: nodes(4),
			want: analyze.AtRisk, wantMessage: "allows no eviction ever",
		},
		"maxUnavailable 0% allows no eviction ever": {
			render: analyze.Render{PDBs: []analyze.PDB{budget("", "0%", true)}}, nodes: nodes(4),
			want: analyze.AtRisk, wantMessage: "allows no eviction ever",
		},
		"maxUnavailable 10% rounds up to one eviction": {
			render: analyze.Render{PDBs: []analyze.PDB{budget("", "10%", true)}}, nodes: nodes(4),
			want: analyze.OK, wantNumbers: map[string]int{"allowed": 1},
		},
		"without AlwaysAllow a crash-looping party can block the drain": {
			render: analyze.Render{PDBs: []analyze.PDB{budget("2", "", false)}}, nodes: nodes(4),
			want: analyze.AtRisk, wantMessage: "set unhealthyPodEvictionPolicy: AlwaysAllow",
		},
		"required anti-affinity without a spare node: a drained party stays Pending and the next drain waits": {
			render: analyze.Render{PDBs: []analyze.PDB{budget("2", "", true)}}, nodes: nodes(3),
			want: analyze.AtRisk, wantMessage: "keep at least 4 schedulable nodes",
		},
		"too few nodes for every party leave no eviction allowed at all": {
			render: analyze.Render{PDBs: []analyze.PDB{budget("2", "", true)}}, nodes: nodes(2),
			want: analyze.AtRisk, wantNumbers: map[string]int{"allowed": 0}, wantMessage: "only 2 of the 3 party pods",
		},
		"with nodes unknown, whether a drained party finds a node is unknown": {
			render: analyze.Render{PDBs: []analyze.PDB{budget("2", "", true)}},
			want:   analyze.Unknown, wantMessage: "needs at least 4 schedulable nodes",
		},
		"no budget over the persistent pool blocks nothing": {
			render: analyze.Render{}, want: analyze.OK, wantMessage: "no PodDisruptionBudget selects the persistent pool",
		},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			tc.render.Pools = []analyze.Pool{pool("persistent", 3, required, none)}
			rep := analyze.Analyze(analyze.Input{Operators: []analyze.Operator{{Render: tc.render, Nodes: tc.nodes}}, T: 2})
			f := finding(t, rep, analyze.PDBDrain)
			assert.Equal(t, tc.want, f.Verdict, f.Message)
			assert.Contains(t, f.Message, tc.wantMessage)
			for k, v := range tc.wantNumbers {
				assert.Equal(t, v, f.Numbers[k], "numbers[%s]: %s", k, f.Message)
			}
		})
	}
}

func TestAPoolOfOneWithMaxUnavailableOneNeverWaits(t *testing.T) {
	r := analyze.Render{Pools: []analyze.Pool{pool("persistent", 1, required, none)},
		PDBs: []analyze.PDB{{Namespace: "mpc", Name: "b", Selector: labels.SelectorFromSet(labels.Set{"pool": "p-persistent"}),
			MaxUnavailable: q("1"), UnhealthyPodEvictionPolicy: "AlwaysAllow"}}}
	rep := analyze.Analyze(analyze.Input{Operators: []analyze.Operator{{Render: r}}, T: 1})
	assert.Equal(t, analyze.OK, finding(t, rep, analyze.PDBDrain).Verdict)
}

func TestNonPersistentThreshold(t *testing.T) {
	tests := map[string]struct {
		delegate, temporary, t int
		want                   analyze.Verdict
	}{
		"t-1 delegates cannot reach t=3":                {delegate: 2, t: 3, want: analyze.OK},
		"t delegates could reach t=3":                   {delegate: 3, t: 3, want: analyze.AtRisk},
		"delegates and temporary parties add up to t=3": {delegate: 1, temporary: 2, t: 3, want: analyze.AtRisk},
		"no non-persistent party cannot reach any t=1":  {t: 1, want: analyze.OK},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			r := persistent(5, required, none)
			r.Pools = append(r.Pools, pool("delegate", tc.delegate, preferred, none), pool("temporary", tc.temporary, preferred, none))
			rep := analyze.Analyze(analyze.Input{Operators: []analyze.Operator{{Render: r}}, T: tc.t})
			f := finding(t, rep, analyze.NonPersistentThreshold)
			assert.Equal(t, tc.want, f.Verdict, f.Message)
			assert.Equal(t, tc.delegate, f.Numbers["delegate"])
			assert.Equal(t, tc.temporary, f.Numbers["temporary"])
		})
	}
}

func TestNonPersistentPartiesOfSeveralOperatorsAddUp(t *testing.T) {
	op := func(name string) analyze.Operator {
		r := persistent(2, required, none)
		r.Pools = append(r.Pools, pool("delegate", 1, preferred, none))
		return analyze.Operator{Name: name, Render: r}
	}
	rep := analyze.Analyze(analyze.Input{Operators: []analyze.Operator{op("a"), op("b")}, T: 2})
	f := finding(t, rep, analyze.NonPersistentThreshold)
	assert.Equal(t, analyze.AtRisk, f.Verdict, f.Message)
	assert.Equal(t, 2, f.Numbers["delegate"])
}

func TestConcentration(t *testing.T) {
	type op struct {
		name, cloud, region string
		parties             int
	}
	tests := map[string]struct {
		ops         []op
		t           int
		id          string
		want        analyze.Verdict
		wantMessage string
	}{
		"an operator holding t-1 parties cannot sign alone": {
			ops: []op{{"a", "aws", "r1", 2}, {"b", "gcp", "r2", 2}, {"c", "azure", "r3", 2}}, t: 3, id: analyze.SingleOperator,
			want: analyze.OK,
		},
		"an operator holding t parties could sign alone": {
			ops: []op{{"a", "aws", "r1", 3}, {"b", "gcp", "r2", 2}, {"c", "azure", "r3", 2}}, t: 3, id: analyze.SingleOperator,
			want: analyze.AtRisk, wantMessage: "operator a holds 3 of the 7 persistent parties (over 3 operators): it alone holds t=3",
		},
		"one cloud under several operators holds t": {
			ops: []op{{"a", "aws", "r1", 2}, {"b", "aws", "r2", 1}, {"c", "gcp", "r3", 2}}, t: 3, id: analyze.SingleCloud,
			want: analyze.AtRisk, wantMessage: "cloud aws holds 3",
		},
		"a region whose loss leaves fewer than t is an outage risk even below t": {
			ops: []op{{"a", "aws", "r1", 2}, {"b", "aws", "r1", 2}, {"c", "gcp", "r2", 1}, {"d", "gcp", "r3", 2}}, t: 5, id: analyze.SingleRegion,
			want: analyze.AtRisk, wantMessage: "losing it leaves 3, fewer than t=5",
		},
		"an operator without a cloud leaves the cloud question unknown": {
			ops: []op{{"a", "aws", "r1", 1}, {"b", "", "r2", 1}}, t: 2, id: analyze.SingleCloud,
			want: analyze.Unknown, wantMessage: "operators b name no cloud",
		},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			var in analyze.Input
			in.T = tc.t
			for _, o := range tc.ops {
				in.Operators = append(in.Operators, analyze.Operator{Name: o.name, Cloud: o.cloud, Region: o.region, Render: persistent(o.parties, required, none)})
			}
			f := finding(t, analyze.Analyze(in), tc.id)
			assert.Equal(t, tc.want, f.Verdict, f.Message)
			assert.Contains(t, f.Message, tc.wantMessage)
		})
	}
}

func TestASingleRenderWithoutMetadataIsNotAskedAboutOperators(t *testing.T) {
	rep := analyze.Analyze(analyze.Input{Operators: []analyze.Operator{{Render: persistent(3, required, none)}}, T: 2})
	for _, f := range rep.Findings {
		assert.NotContains(t, []string{analyze.SingleOperator, analyze.SingleCloud, analyze.SingleRegion}, f.ID)
	}
}

func TestLivePlacementNotes(t *testing.T) {
	render := persistent(3, required, none)
	render.Config = analyze.DefaultConfig()
	placed := func(nodes ...string) []analyze.Placed {
		var out []analyze.Placed
		for i, n := range nodes {
			out = append(out, analyze.Placed{Name: fmt.Sprintf("p-%d", i), Node: n})
		}
		return out
	}
	tests := map[string]struct {
		placed   []analyze.Placed
		wantNote string // "" for no note
		wantWhy  string
	}{
		"a cluster that runs the render's parties needs no note": {
			placed:  placed("n0", "n1", "n2"),
			wantWhy: "as placed now: 3 persistent parties running on 3 nodes, at most 1 on one node, at most 2 in one of 2 zones",
		},
		"a cluster that runs none of the render's parties says so with the selector it used": {
			placed:   []analyze.Placed{},
			wantNote: "the cluster runs 0 persistent party pods (app.kubernetes.io/component=mpc-party, party-role=persistent) where the render's persistent pools run 3: the verdicts are about the 0 found",
		},
		"a pending party is found but not running: no note, the reason says it": {
			placed:  placed("n0", "n1", ""),
			wantWhy: "1 not scheduled",
		},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			op := analyze.Operator{Render: render, Nodes: nodes(3, "a", "a", "b"), Live: true, Placed: tc.placed}
			rep := analyze.Analyze(analyze.Input{Operators: []analyze.Operator{op}, T: 2, LoseNodes: 1})
			if tc.wantNote == "" {
				assert.Empty(t, rep.Notes)
			} else {
				assert.Equal(t, []string{tc.wantNote}, rep.Notes)
			}
			assert.Contains(t, finding(t, rep, analyze.ZoneLoss).Message, tc.wantWhy)
		})
	}
}
