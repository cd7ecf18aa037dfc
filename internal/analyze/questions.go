package analyze

import (
	"fmt"
	"sort"
	"strings"

	policyv1 "k8s.io/api/policy/v1"
	"k8s.io/apimachinery/pkg/labels"
	"k8s.io/apimachinery/pkg/util/intstr"

	"github.com/mpcguard/mpcguard/policies/vocab"
)

// worse is the graver of two verdicts: at-risk over unknown over ok.
func worse(a, b Verdict) Verdict {
	rank := map[Verdict]int{OK: 0, Unknown: 1, AtRisk: 2}
	if rank[b] > rank[a] {
		return b
	}
	return a
}

func sameNamespace(a, b string) bool { return a == b || a == "" || b == "" }

// pdbDrain asks of each PodDisruptionBudget that selects party pods whether it can block a node drain
// forever. A render whose persistent pool no budget selects gets one finding saying so.
func pdbDrain(op Operator, m opModel, multi bool) []Finding {
	var out []Finding
	guarded := map[string]bool{}
	for _, pdb := range op.Render.PDBs {
		var pools []Pool
		for _, p := range op.Render.Pools {
			if sameNamespace(p.Namespace, pdb.Namespace) && pdb.Selector.Matches(labels.Set(p.Labels)) {
				pools = append(pools, p)
				guarded[p.Namespace+"/"+p.Name] = true
			}
		}
		if len(pools) == 0 {
			continue
		}
		f := judgePDB(pdb, pools, m.schedulable)
		if multi {
			f.Subject = op.Name + "/" + f.Subject
		}
		out = append(out, f)
	}
	for _, p := range op.Render.Pools {
		if p.Role != vocab.RolePersistent || guarded[p.Namespace+"/"+p.Name] {
			continue
		}
		f := Finding{ID: PDBDrain, Subject: p.Namespace + "/" + p.Name, Verdict: OK,
			Numbers: map[string]int{"selected": p.Replicas},
			Message: fmt.Sprintf("no PodDisruptionBudget selects the persistent pool %s %s/%s: no drain waits for it, and nothing keeps t persistent parties through drains either", p.Kind, p.Namespace, p.Name)}
		if multi {
			f.Subject = op.Name + "/" + f.Subject
		}
		out = append(out, f)
	}
	return out
}

// judgePDB is the drain finding of one budget over the party pools it selects, with the count of
// schedulable nodes (-1: unknown).
func judgePDB(pdb PDB, pools []Pool, nodes int) Finding {
	expected, healthy := 0, 0
	oneEach := false
	for _, p := range pools {
		expected += p.Replicas
		run := p.Replicas
		if p.Node.AntiAffinity == Required {
			oneEach = true
			if nodes >= 0 {
				run = min(run, nodes)
			}
		}
		healthy += run
	}
	f := Finding{ID: PDBDrain, Subject: pdb.Namespace + "/" + pdb.Name, Verdict: OK}
	var desired int
	var budget string
	switch {
	case pdb.MinAvailable != nil:
		v, err := intstr.GetScaledValueFromIntOrPercent(pdb.MinAvailable, expected, true)
		if err != nil {
			return unreadablePDB(f, "minAvailable", err)
		}
		desired, budget = v, "minAvailable "+pdb.MinAvailable.String()
	case pdb.MaxUnavailable != nil:
		v, err := intstr.GetScaledValueFromIntOrPercent(pdb.MaxUnavailable, expected, true)
		if err != nil {
			return unreadablePDB(f, "maxUnavailable", err)
		}
		desired, budget = max(expected-v, 0), "maxUnavailable "+pdb.MaxUnavailable.String()
	default:
		f.Verdict, f.Numbers = Unknown, map[string]int{"selected": expected}
		f.Message = "sets neither minAvailable nor maxUnavailable: analyze does not judge such a budget; set minAvailable (t for a persistent pool)"
		return f
	}
	allowed := max(healthy-desired, 0)
	f.Numbers = map[string]int{"selected": expected, "desiredHealthy": desired, "allowed": allowed, "nodes": nodes}
	var reasons []string
	add := func(v Verdict, msg string) {
		f.Verdict = worse(f.Verdict, v)
		reasons = append(reasons, msg)
	}
	switch {
	case desired >= expected:
		add(AtRisk, fmt.Sprintf("%s of the %d party pods it selects allows no eviction ever: every drain of a node running one waits forever", budget, expected))
	case allowed == 0:
		add(AtRisk, fmt.Sprintf("only %d of the %d party pods it selects fit on the %d schedulable nodes (required anti-affinity), so with %s no eviction is allowed and every drain of a node running one waits forever",
			healthy, expected, nodes, budget))
	default:
		reasons = append(reasons, fmt.Sprintf("%s lets %d of %d party pods be evicted at a time", budget, allowed, expected))
	}
	// A drained party that cannot come back matters only when the budget runs out before every party of
	// the pool has been evicted once: a pool of one with maxUnavailable 1 never waits.
	if oneEach && desired < expected && allowed < expected {
		switch {
		case nodes < 0:
			add(Unknown, fmt.Sprintf("with required anti-affinity, a drained party is rescheduled only if a schedulable node runs none of the pool: that needs at least %d schedulable nodes, and the nodes are unknown (give --nodes or a cluster)", expected+1))
		case nodes <= expected && allowed > 0:
			add(AtRisk, fmt.Sprintf("with required anti-affinity and %d schedulable nodes for %d parties, a drained party stays Pending until its node comes back, so after %d drains every further drain waits forever; keep at least %d schedulable nodes",
				nodes, expected, allowed, expected+1))
		case nodes > expected:
			reasons = append(reasons, fmt.Sprintf("%d schedulable nodes leave room to reschedule a drained party", nodes))
		}
	}
	if pdb.UnhealthyPodEvictionPolicy != string(policyv1.AlwaysAllow) {
		policy := pdb.UnhealthyPodEvictionPolicy
		if policy == "" {
			policy = "unset (IfHealthyBudget)"
		}
		add(AtRisk, fmt.Sprintf("unhealthyPodEvictionPolicy is %s: a party that runs but is not Ready (crash-looping) may be evicted only while the budget holds, so with more than %d unready at once the drain of their nodes waits until they recover, which a crash loop never does; set unhealthyPodEvictionPolicy: AlwaysAllow",
			policy, allowed))
	}
	f.Message = strings.Join(reasons, "; ")
	return f
}

func unreadablePDB(f Finding, field string, err error) Finding {
	f.Verdict = Unknown
	f.Numbers = map[string]int{}
	f.Message = fmt.Sprintf("spec.%s cannot be read: %v", field, err)
	return f
}

// nonPersistent asks whether the delegate and temporary pools together could reach t.
func nonPersistent(models []opModel, t int, multi bool) Finding {
	d, tmp := 0, 0
	for _, m := range models {
		d += m.summary.Delegate
		tmp += m.summary.Temporary
	}
	scope := "the render runs"
	if multi {
		scope = "the renders together run"
	}
	f := Finding{ID: NonPersistentThreshold, Numbers: map[string]int{"delegate": d, "temporary": tmp, "t": t}}
	if d+tmp >= t {
		f.Verdict = AtRisk
		f.Message = fmt.Sprintf("%s up to %d delegate + %d temporary parties, at least t=%d: enough for a signing quorum without a persistent party. "+
			"The webhook's %s denies every MPCSession composed that way, so this is safe only while every session passes the webhook "+
			"(not while it is off or bypassed, nor for parties reached without a session); run at most %d non-persistent parties to make it impossible",
			scope, d, tmp, t, vocab.SessionDelegateOnlyThreshold, t-1)
		return f
	}
	f.Verdict = OK
	f.Message = fmt.Sprintf("%s at most %d delegate + %d temporary parties, fewer than t=%d: they cannot reach t without a persistent party, webhook or not", scope, d, tmp, t)
	return f
}

// concentration asks whether one operator, cloud or region (what, keyed by key) holds t persistent
// parties — it could sign alone — or so many that losing it leaves fewer than t.
func concentration(id, what string, models []opModel, t int, key func(Operator) string) Finding {
	all := total(models)
	groups := map[string]int{}
	var unnamed []string
	for i, m := range models {
		k := key(m.op)
		if k == "" {
			name := m.op.Name
			if name == "" {
				name = fmt.Sprintf("#%d", i+1)
			}
			unnamed = append(unnamed, name)
			continue
		}
		groups[k] += m.run
	}
	f := Finding{ID: id, Numbers: map[string]int{"groups": len(groups), "persistent": all, "t": t}}
	if len(unnamed) > 0 {
		f.Verdict = Unknown
		f.Message = fmt.Sprintf("operators %s name no %s (give %s= for each)", strings.Join(unnamed, ", "), what, what)
		return f
	}
	names := make([]string, 0, len(groups))
	for k := range groups {
		names = append(names, k)
	}
	sort.Slice(names, func(i, j int) bool {
		if groups[names[i]] != groups[names[j]] {
			return groups[names[i]] > groups[names[j]]
		}
		return names[i] < names[j]
	})
	top := names[0]
	largest := groups[top]
	f.Numbers["largest"], f.Numbers["remaining"] = largest, all-largest
	var risks []string
	if largest >= t {
		risks = append(risks, fmt.Sprintf("it alone holds t=%d and could sign without any other %s (collusion, or one compromise)", t, what))
	}
	if all-largest < t {
		risks = append(risks, fmt.Sprintf("losing it leaves %d, fewer than t=%d (one outage stops signing)", all-largest, t))
	}
	spread := fmt.Sprintf("%d %s", len(groups), what)
	if len(groups) != 1 {
		spread += "s"
	}
	if len(risks) > 0 {
		f.Verdict = AtRisk
		f.Message = fmt.Sprintf("%s %s holds %d of the %d persistent parties (over %s): %s", what, top, largest, all, spread, strings.Join(risks, "; "))
		return f
	}
	f.Verdict = OK
	f.Message = fmt.Sprintf("no single %s holds t=%d of the %d persistent parties (over %s, the largest is %s with %d), and losing any one leaves at least %d",
		what, t, all, spread, top, largest, all-largest)
	return f
}
