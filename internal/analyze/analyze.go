package analyze

import (
	"fmt"
	"slices"
	"sort"
	"strings"

	"github.com/mpcguard/mpcguard/policies/vocab"
)

// Verdict is a finding's answer.
type Verdict string

// The verdicts.
const (
	OK      Verdict = "ok"
	AtRisk  Verdict = "at-risk"
	Unknown Verdict = "unknown"
)

// The finding ids.
const (
	NodeLoss               = "node-loss"
	NodesLoss              = "nodes-loss"
	ZoneLoss               = "zone-loss"
	PDBDrain               = "pdb-drain"
	NonPersistentThreshold = "non-persistent-threshold"
	SingleOperator         = "single-operator"
	SingleCloud            = "single-cloud"
	SingleRegion           = "single-region"
)

// Finding is the answer to one question.
type Finding struct {
	ID string `json:"id"`
	// Subject names what the finding is about when the question is asked once per object (the
	// PodDisruptionBudget of pdb-drain, "operator/namespace/name" with several operators); "" otherwise.
	Subject string  `json:"subject,omitempty"`
	Verdict Verdict `json:"verdict"`
	Message string  `json:"message"`
	// Numbers are the counts the verdict rests on; the keys of each id are listed in the README.
	Numbers map[string]int `json:"numbers"`
}

// Operator is one operator's render, with what is known of where its parties run.
type Operator struct {
	// Name, Cloud and Region describe who runs the render and where; all may be empty for a single render.
	Name   string
	Cloud  string
	Region string
	Render Render
	// Nodes are the operator's nodes (nil: unknown).
	Nodes []Node
	// Placed are the persistent party pods of the operator's cluster with their nodes; Live says they were
	// listed (then they replace the worst case of the constraints).
	Placed []Placed
	Live   bool
}

// Input is everything an analysis reads.
type Input struct {
	Operators []Operator
	T         int
	// LoseNodes is the k of nodes-loss; 1 or less asks only node-loss.
	LoseNodes int
}

// Report is the outcome of an analysis.
type Report struct {
	T         int               `json:"t"`
	Operators []OperatorSummary `json:"operators"`
	Findings  []Finding         `json:"findings"`
	Notes     []string          `json:"notes"`
}

// OperatorSummary is what was found in one operator's render.
type OperatorSummary struct {
	Name       string `json:"name,omitempty"`
	Cloud      string `json:"cloud,omitempty"`
	Region     string `json:"region,omitempty"`
	Persistent int    `json:"persistent"`
	Delegate   int    `json:"delegate"`
	Temporary  int    `json:"temporary"`
	// Nodes is the count of schedulable nodes known, -1 when unknown.
	Nodes int    `json:"nodes"`
	Pools []Pool `json:"pools"`
	Live  bool   `json:"live,omitempty"`
}

// Count returns how many findings have the verdict.
func (r Report) Count(v Verdict) int {
	n := 0
	for _, f := range r.Findings {
		if f.Verdict == v {
			n++
		}
	}
	return n
}

// Analyze answers every question for the input.
func Analyze(in Input) Report {
	rep := Report{T: in.T, Notes: []string{}, Findings: []Finding{}}
	models := make([]opModel, len(in.Operators))
	for i, op := range in.Operators {
		models[i] = model(op)
		rep.Operators = append(rep.Operators, models[i].summary)
		for _, n := range op.Render.Notes {
			rep.Notes = append(rep.Notes, op.label()+n)
		}
		if n := liveMismatch(op); n != "" {
			rep.Notes = append(rep.Notes, op.label()+n)
		}
	}
	multi := len(in.Operators) > 1
	rep.Findings = append(rep.Findings, nodeLoss(models, in.T, 1, multi))
	if in.LoseNodes > 1 {
		rep.Findings = append(rep.Findings, nodeLoss(models, in.T, in.LoseNodes, multi))
	}
	rep.Findings = append(rep.Findings, zoneLoss(models, in.T, multi))
	for i, op := range in.Operators {
		rep.Findings = append(rep.Findings, pdbDrain(op, models[i], multi)...)
	}
	rep.Findings = append(rep.Findings, nonPersistent(models, in.T, multi))
	if multi || in.Operators[0].Cloud != "" || in.Operators[0].Region != "" {
		rep.Findings = append(rep.Findings,
			concentration(SingleOperator, "operator", models, in.T, func(op Operator) string { return op.Name }),
			concentration(SingleCloud, "cloud", models, in.T, func(op Operator) string { return op.Cloud }),
			concentration(SingleRegion, "region", models, in.T, func(op Operator) string { return op.Region }))
	}
	return rep
}

func (op Operator) label() string {
	if op.Name == "" {
		return ""
	}
	return "operator " + op.Name + ": "
}

// opModel is one operator's persistent parties as placement allows them.
type opModel struct {
	op      Operator
	summary OperatorSummary
	// run is how many persistent parties can run at once.
	run int
	// lose returns the most persistent parties that losing k nodes of this operator can take.
	lose func(k int) int
	// nodeExact is false when the node bound needs nodes that are not known (a DoNotSchedule spread).
	nodeExact bool
	// zoneLoss is the most persistent parties one zone can hold; zoneExact is false when that is a bound
	// that does not know the zones.
	zoneLoss  int
	zoneExact bool
	// why explains the bounds, one phrase per persistent pool.
	why []string
	// schedulable is the count of schedulable nodes, -1 when unknown.
	schedulable int
}

func model(op Operator) opModel {
	m := opModel{op: op, nodeExact: true, schedulable: -1}
	m.summary = OperatorSummary{Name: op.Name, Cloud: op.Cloud, Region: op.Region, Nodes: -1, Pools: op.Render.Pools, Live: op.Live}
	if m.summary.Pools == nil {
		m.summary.Pools = []Pool{}
	}
	zoneNodes := map[string]int{}
	zonesKnown := op.Nodes != nil
	nodeZone := map[string]string{}
	if op.Nodes != nil {
		m.schedulable = 0
		for _, n := range op.Nodes {
			nodeZone[n.Name] = n.Zone
			if n.Unschedulable {
				continue
			}
			m.schedulable++
			if n.Zone == "" {
				zonesKnown = false
			}
			zoneNodes[n.Zone]++
		}
		m.summary.Nodes = m.schedulable
	}
	for _, p := range op.Render.Pools {
		switch p.Role {
		case vocab.RoleDelegate:
			m.summary.Delegate += p.Replicas
		case vocab.RoleTemporary:
			m.summary.Temporary += p.Replicas
		}
	}
	if op.Live {
		return m.live(nodeZone)
	}
	var pools []poolBound
	for _, p := range op.Render.Pools {
		if p.Role != vocab.RolePersistent {
			continue
		}
		b := bound(p, m.schedulable, zoneNodes, zonesKnown)
		pools = append(pools, b)
		m.run += b.run
		m.zoneLoss += b.zoneCap
		m.nodeExact = m.nodeExact && b.nodeExact
		m.why = append(m.why, b.why)
	}
	m.summary.Persistent = m.run
	m.zoneExact = zonesKnown
	m.zoneLoss = min(m.zoneLoss, m.run)
	m.lose = func(k int) int {
		lost := 0
		for _, b := range pools {
			lost += min(b.run, k*b.nodeCap)
		}
		return lost
	}
	return m
}

// liveMismatch says when a live cluster runs another count of persistent party pods than the render's
// persistent pools: the wrong namespace or vocabulary, a release not installed or not the render's, a scale
// in progress. The verdicts are then about the pods found, and a reader should know it.
func liveMismatch(op Operator) string {
	if !op.Live {
		return ""
	}
	want := 0
	for _, p := range op.Render.Pools {
		if p.Role == vocab.RolePersistent {
			want += p.Replicas
		}
	}
	if len(op.Placed) == want {
		return ""
	}
	return fmt.Sprintf("the cluster runs %d persistent party pods (%s, %s=%s) where the render's persistent pools run %d: the verdicts are about the %d found",
		len(op.Placed), op.Render.Config.PartySelector, op.Render.Config.RoleLabelKey, vocab.RolePersistent, want, len(op.Placed))
}

// live models the actual placement of a cluster's persistent parties.
func (m opModel) live(nodeZone map[string]string) opModel {
	perNode := map[string]int{}
	perZone := map[string]int{}
	m.zoneExact = true
	pending := 0
	for _, p := range m.op.Placed {
		if p.Node == "" {
			pending++
			continue
		}
		perNode[p.Node]++
		z, ok := nodeZone[p.Node]
		if !ok || z == "" {
			m.zoneExact = false
		}
		perZone[z]++
		m.run++
	}
	counts := make([]int, 0, len(perNode))
	for _, n := range perNode {
		counts = append(counts, n)
	}
	sort.Sort(sort.Reverse(sort.IntSlice(counts)))
	for _, n := range perZone {
		m.zoneLoss = max(m.zoneLoss, n)
	}
	if !m.zoneExact {
		m.zoneLoss = m.run
	}
	m.lose = func(k int) int {
		lost := 0
		for i := 0; i < k && i < len(counts); i++ {
			lost += counts[i]
		}
		return lost
	}
	m.summary.Persistent = m.run
	why := fmt.Sprintf("as placed now: %d persistent parties running on %d nodes, at most %d on one node", m.run, len(counts), m.lose(1))
	if m.zoneExact && len(perZone) > 0 {
		why += fmt.Sprintf(", at most %d in one of %d zones", m.zoneLoss, len(perZone))
	}
	if pending > 0 {
		why += fmt.Sprintf(", %d not scheduled", pending)
	}
	m.why = []string{why}
	return m
}

type poolBound struct {
	run, nodeCap, zoneCap int
	nodeExact             bool
	why                   string
}

// bound is the worst case of one persistent pool: how many run, how many share one node, one zone.
func bound(p Pool, nodes int, zoneNodes map[string]int, zonesKnown bool) poolBound {
	b := poolBound{run: p.Replicas, nodeCap: p.Replicas, nodeExact: true}
	name := fmt.Sprintf("%s %s/%s", p.Kind, p.Namespace, p.Name)
	var why []string
	switch {
	case p.Node.AntiAffinity == Required:
		b.nodeCap = 1
		why = append(why, "required anti-affinity on "+HostnameKey+" keeps one per node")
		if nodes >= 0 && nodes < p.Replicas {
			b.run = nodes
			why = append(why, fmt.Sprintf("only %d of %d can run on %d schedulable nodes", nodes, p.Replicas, nodes))
		}
	case p.Node.MaxSkew > 0 && nodes > 0:
		b.nodeCap = spreadCap(p.Replicas, nodes, p.Node.MaxSkew)
		why = append(why, fmt.Sprintf("a DoNotSchedule spread with maxSkew %d over %d nodes allows %d on one node", p.Node.MaxSkew, nodes, b.nodeCap))
	case p.Node.MaxSkew > 0:
		b.nodeExact = false
		why = append(why, fmt.Sprintf("a DoNotSchedule spread over nodes (maxSkew %d) bounds nothing without the nodes", p.Node.MaxSkew))
	case p.Node.AntiAffinity == Preferred:
		why = append(why, fmt.Sprintf("anti-affinity on %s is only preferred, so all %d can share a node", HostnameKey, p.Replicas))
	default:
		why = append(why, fmt.Sprintf("no anti-affinity on %s, so all %d can share a node", HostnameKey, p.Replicas))
	}
	zones := len(zoneNodes)
	b.zoneCap = b.run
	switch {
	case p.Zone.AntiAffinity == Required:
		b.zoneCap = 1
		if zonesKnown && zones < b.run {
			b.run = zones
		}
		why = append(why, "required anti-affinity on "+ZoneKey+" keeps one per zone")
	case p.Zone.MaxSkew > 0 && zonesKnown:
		b.zoneCap = spreadCap(b.run, zones, p.Zone.MaxSkew)
		why = append(why, fmt.Sprintf("a DoNotSchedule zone spread with maxSkew %d over %d zones allows %d in one zone", p.Zone.MaxSkew, zones, b.zoneCap))
	case zonesKnown && b.nodeCap == 1:
		most := 0
		for _, n := range zoneNodes {
			most = max(most, n)
		}
		b.zoneCap = min(b.run, most)
		why = append(why, fmt.Sprintf("no DoNotSchedule zone spread: the largest of %d zones has %d schedulable nodes", zones, most))
	case !zonesKnown:
		why = append(why, "zones unknown")
	}
	b.nodeCap = min(b.nodeCap, b.zoneCap)
	b.why = name + ": " + strings.Join(why, "; ")
	return b
}

// spreadCap is the most pods one of domains can hold with n pods spread with maxSkew: the others hold at
// least m-skew each, so m + (domains-1)(m-skew) <= n.
func spreadCap(n, domains, skew int) int {
	if domains <= 1 {
		return n
	}
	return min(n, (n+(domains-1)*skew)/domains)
}

// networkLoss is the most persistent parties losing k nodes can take over all operators (each node belongs
// to one operator), and which operators lose how many nodes in that worst case.
func networkLoss(models []opModel, k int) int {
	best := make([]int, k+1)
	for _, m := range models {
		next := slices.Clone(best)
		for used := 0; used <= k; used++ {
			for j := 1; used+j <= k; j++ {
				next[used+j] = max(next[used+j], best[used]+m.lose(j))
			}
		}
		best = next
	}
	return slices.Max(best)
}

func total(models []opModel) int {
	n := 0
	for _, m := range models {
		n += m.run
	}
	return n
}

func nodeLoss(models []opModel, t, k int, multi bool) Finding {
	id, what := NodeLoss, "any 1 node"
	if k > 1 {
		id, what = NodesLoss, fmt.Sprintf("any %d nodes", k)
	}
	all := total(models)
	lost := networkLoss(models, k)
	exact := true
	for _, m := range models {
		exact = exact && m.nodeExact
	}
	f := Finding{ID: id, Numbers: map[string]int{"k": k, "persistent": all, "lost": lost, "remaining": all - lost, "t": t}}
	f.Message = fmt.Sprintf("losing %s can take %d of the %d persistent parties, leaving %d for t=%d", what, lost, all, all-lost, t)
	switch {
	case all-lost >= t:
		f.Verdict = OK
	case !exact:
		f.Verdict = Unknown
		f.Message += " at worst; the nodes decide (give --nodes or a cluster)"
	default:
		f.Verdict = AtRisk
	}
	f.Message += " (" + explain(models, multi) + ")"
	return f
}

func zoneLoss(models []opModel, t int, multi bool) Finding {
	all := total(models)
	lost, exact := 0, true
	for _, m := range models {
		if m.zoneLoss > lost || (m.zoneLoss == lost && !m.zoneExact) {
			lost, exact = m.zoneLoss, m.zoneExact
		}
	}
	f := Finding{ID: ZoneLoss, Numbers: map[string]int{"persistent": all, "lost": lost, "remaining": all - lost, "t": t}}
	f.Message = fmt.Sprintf("losing any 1 zone can take %d of the %d persistent parties, leaving %d for t=%d", lost, all, all-lost, t)
	switch {
	case all-lost >= t:
		f.Verdict = OK
	case !exact:
		f.Verdict = Unknown
		f.Message = fmt.Sprintf("the zones of the nodes are unknown (give --nodes with %s labels, or a cluster): the placement constraints allow %d of the %d persistent parties in one zone, leaving %d for t=%d",
			ZoneKey, lost, all, all-lost, t)
	default:
		f.Verdict = AtRisk
	}
	f.Message += " (" + explain(models, multi) + ")"
	return f
}

// explain joins the reasons of the operators' bounds.
func explain(models []opModel, multi bool) string {
	var out []string
	for _, m := range models {
		for _, w := range m.why {
			out = append(out, m.op.label()+w)
		}
	}
	if len(out) == 0 {
		return "no persistent pool"
	}
	if multi && len(out) > 3 {
		// Thirteen operators' reasons say the same thing thirteen times: the first stands for them.
		return fmt.Sprintf("%s; and %d more", out[0], len(out)-1)
	}
	return strings.Join(out, "; ")
}
