package charts_test

import (
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/mpcguard/mpcguard/internal/analyze"
	"github.com/mpcguard/mpcguard/internal/validate"
)

// analyzeRender analyzes one rendering of the mpc-system chart as `mpcguard analyze` does: t and the party
// vocabulary from the webhook Deployment in it.
func analyzeRender(t *testing.T, values map[string]any, nodes []analyze.Node) analyze.Report {
	t.Helper()
	r := mustRender(t, loadChart(t, "mpc-system"), values)
	srcs := []validate.Source{{Name: "render.yaml", Data: []byte(r.manifest), Named: true}}
	objs, rep := validate.Decode(srcs, nil, "render.yaml")
	require.Empty(t, rep.Errors)
	cfg, th := analyze.DefaultConfig(), 0
	for _, w := range validate.FindWebhookArgs(srcs) {
		cfg = analyze.WebhookConfig(w.Args, cfg)
		n, err := analyze.WebhookThreshold(w.Args)
		require.NoError(t, err)
		th = max(th, n)
	}
	render, err := analyze.ReadRender(objs, cfg)
	require.NoError(t, err)
	return analyze.Analyze(analyze.Input{Operators: []analyze.Operator{{Render: render, Nodes: nodes}}, T: th, LoseNodes: 1})
}

func verdicts(rep analyze.Report) map[string]analyze.Verdict {
	out := map[string]analyze.Verdict{}
	for _, f := range rep.Findings {
		out[f.ID] = f.Verdict
	}
	return out
}

func TestAnalyzeTheDefaultChart(t *testing.T) {
	rep := analyzeRender(t, nil, nil)
	assert.Equal(t, 2, rep.T, "t is the webhook's --threshold-t, the chart's threshold.t")
	require.Len(t, rep.Operators, 1)
	assert.Equal(t, 3, rep.Operators[0].Persistent)
	assert.Equal(t, 1, rep.Operators[0].Delegate)
	assert.Equal(t, map[string]analyze.Verdict{
		// Required anti-affinity: a node takes one of three, two remain for t=2.
		analyze.NodeLoss: analyze.OK,
		// The zone spread is ScheduleAnyway: without the nodes' zones, all three may share one.
		analyze.ZoneLoss: analyze.Unknown,
		// minAvailable t=2 with unhealthyPodEvictionPolicy: AlwaysAllow: a crash-looping party never blocks a
		// drain; whether a drained party finds a node free of the others (required anti-affinity) depends on
		// nodes this render does not know.
		analyze.PDBDrain: analyze.Unknown,
		// One delegate, t=2.
		analyze.NonPersistentThreshold: analyze.OK,
	}, verdicts(rep))
}

func TestAnalyzeTheDefaultChartOnThreeZones(t *testing.T) {
	var nodes []analyze.Node
	for _, n := range []struct{ name, zone string }{{"a1", "a"}, {"a2", "a"}, {"b1", "b"}, {"b2", "b"}, {"c1", "c"}} {
		nodes = append(nodes, analyze.Node{Name: n.name, Zone: n.zone})
	}
	rep := analyzeRender(t, nil, nodes)
	v := verdicts(rep)
	assert.Equal(t, analyze.AtRisk, v[analyze.ZoneLoss], "ScheduleAnyway lets two of three parties share zone a's two nodes, leaving 1 < t=2")
	assert.Equal(t, analyze.OK, v[analyze.NodeLoss])
}

func TestAnalyzeTheDefaultChartOnFourNodesLetsDrainsThrough(t *testing.T) {
	var nodes []analyze.Node
	for _, n := range []string{"n1", "n2", "n3", "n4"} {
		nodes = append(nodes, analyze.Node{Name: n, Zone: "a"})
	}
	rep := analyzeRender(t, nil, nodes)
	for _, f := range rep.Findings {
		if f.ID == analyze.PDBDrain {
			assert.Equal(t, analyze.OK, f.Verdict, "AlwaysAllow and a fourth node for a drained party: %s", f.Message)
			assert.NotContains(t, f.Message, "unhealthyPodEvictionPolicy")
			return
		}
	}
	t.Fatal("no pdb-drain finding")
}
