package engine_test

import (
	"encoding/json"
	"fmt"
	"github.com/mpcguard/mpcguard/policies/vocab"
	"math/rand/v2"
	"slices"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"k8s.io/apimachinery/pkg/runtime/schema"

	"github.com/mpcguard/mpcguard/policies/engine"
)

// The oracle is an independent, plain-Go reading of design.md's rules. The differential test generates
// valid pods and sessions and requires the Rego engine to deny (and skip) exactly what the oracle does.

const (
	shareClaimPrefix = "share-data-mpc-party-persistent-"
	shareSecret      = "mpc-db"
)

type genPod struct {
	labels, oldLabels map[string]string
	update            bool
	claims, secrets   []string
}

type genSession struct {
	t, n                            int
	hasComp                         bool
	persistent, delegate, temporary int
	ready                           int
	inventory                       bool
}

var roleChoices = []string{"persistent", "delegate", "temporary", "Persistent", " delegate", "", "signer", "-"}

func randLabels(r *rand.Rand) map[string]string {
	l := map[string]string{}
	if r.IntN(10) < 7 {
		l["app.kubernetes.io/component"] = "mpc-party"
	} else if r.IntN(2) == 0 {
		l["app.kubernetes.io/component"] = "mpc-coordinator"
	}
	if role := roleChoices[r.IntN(len(roleChoices))]; role != "-" {
		l["party-role"] = role
	}
	if r.IntN(2) == 0 {
		l["app"] = "mpc"
	}
	return l
}

func randPod(r *rand.Rand) genPod {
	p := genPod{labels: randLabels(r), update: r.IntN(3) == 0}
	if p.update {
		p.oldLabels = randLabels(r)
	}
	for _, c := range []string{shareClaimPrefix + "0", "scratch-0", "share-data-other-0"} {
		if r.IntN(4) == 0 {
			p.claims = append(p.claims, c)
		}
	}
	for _, s := range []string{shareSecret, "tls", "mpc-db-backup"} {
		if r.IntN(4) == 0 {
			p.secrets = append(p.secrets, s)
		}
	}
	return p
}

func randSession(r *rand.Rand) genSession {
	s := genSession{t: r.IntN(7), n: r.IntN(7), hasComp: r.IntN(10) < 7, ready: r.IntN(7), inventory: r.IntN(2) == 0}
	if s.hasComp {
		s.persistent, s.delegate, s.temporary = r.IntN(5), r.IntN(4), r.IntN(3)
	}
	return s
}

func isParty(l map[string]string) bool { return l["app.kubernetes.io/component"] == "mpc-party" }

func oraclePod(p genPod) (deny []string) {
	role, hasRole := p.labels["party-role"]
	valid := slices.Contains([]string{"persistent", "delegate", "temporary"}, role)
	if isParty(p.labels) {
		if !hasRole {
			deny = append(deny, vocab.PartyRoleRequired)
		} else if !valid {
			deny = append(deny, vocab.PartyRoleValid)
		}
		if hasRole && valid && role != "persistent" {
			mounts := slices.ContainsFunc(p.claims, func(c string) bool { return strings.HasPrefix(c, shareClaimPrefix) }) ||
				slices.Contains(p.secrets, shareSecret)
			if mounts {
				deny = append(deny, vocab.DelegateNoShareStorage)
			}
		}
	}
	if p.update && (isParty(p.labels) || isParty(p.oldLabels)) {
		if oldRole, had := p.oldLabels["party-role"]; had && (!hasRole || role != oldRole) {
			deny = append(deny, vocab.PartyRoleImmutable)
		}
	}
	slices.Sort(deny)
	return deny
}

func oracleSession(s genSession) (deny, skipped []string) {
	if s.hasComp {
		sum := s.persistent + s.delegate + s.temporary
		if sum == 0 {
			deny = append(deny, vocab.SessionCompositionNonempty)
		} else if sum != s.n {
			deny = append(deny, vocab.SessionCompositionSum)
		}
		if s.t >= 1 && s.delegate+s.temporary >= s.t {
			deny = append(deny, vocab.SessionDelegateOnlyThreshold)
		}
	}
	if s.t < 1 || s.t > s.n {
		deny = append(deny, vocab.SessionThresholdRange)
	}
	needed := s.n
	if s.hasComp {
		needed = s.persistent
	}
	if needed > 0 {
		if !s.inventory {
			skipped = append(skipped, vocab.SessionPersistentAvailable)
		} else if s.ready < needed {
			deny = append(deny, vocab.SessionPersistentAvailable)
		}
	}
	slices.Sort(deny)
	return deny, skipped
}

func genPodJSON(name string, labels map[string]string, claims, secrets []string) []byte {
	b, _ := json.Marshal(map[string]any{"apiVersion": "v1", "kind": "Pod",
		"metadata": map[string]any{"name": name, "namespace": "mpc-system", "labels": labels},
		"spec":     podSpec(claims, secrets)})
	return b
}

// podSpec is a pod spec with one container and a volume per claim and per secret.
func podSpec(claims, secrets []string) map[string]any {
	var vols []any
	for i, c := range claims {
		vols = append(vols, map[string]any{"name": fmt.Sprint("c", i), "persistentVolumeClaim": map[string]any{"claimName": c}})
	}
	for i, s := range secrets {
		vols = append(vols, map[string]any{"name": fmt.Sprint("s", i), "secret": map[string]any{"secretName": s}})
	}
	return map[string]any{"containers": []any{map[string]any{"name": "c", "image": "x:1"}}, "volumes": vols}
}

func genSessionJSON(s genSession) []byte {
	spec := map[string]any{"type": "sign", "threshold": map[string]any{"t": s.t, "n": s.n}}
	if s.hasComp {
		spec["composition"] = map[string]any{"persistent": s.persistent, "delegate": s.delegate, "temporary": s.temporary}
	}
	b, _ := json.Marshal(map[string]any{"apiVersion": "mpc.mpcguard.io/v1alpha1", "kind": "MPCSession",
		"metadata": map[string]any{"name": "s", "namespace": "mpc-system"}, "spec": spec})
	return b
}

func policyIDs(rs []engine.Result) []string {
	out := []string{}
	for _, r := range rs {
		out = append(out, r.Policy)
	}
	slices.Sort(out)
	return out
}

func orEmpty(s []string) []string {
	if s == nil {
		return []string{}
	}
	return s
}

// TestEngineAgreesWithAnIndependentOracle runs generated pods and sessions through the Rego engine and
// through the oracle; the note on issue 6 reports the executions and disagreements (target zero).
func TestEngineAgreesWithAnIndependentOracle(t *testing.T) {
	cfg := engine.DefaultConfig()
	cfg.ShareStorage = engine.ShareStorage{SecretNames: []string{shareSecret}, ClaimPrefixes: []string{shareClaimPrefix}}
	eng, err := engine.New(t.Context(), cfg, nil)
	require.NoError(t, err)
	r := rand.New(rand.NewPCG(20261121, 6))
	const runs = 3000
	disagreements := 0
	for i := range runs {
		var (
			req                engine.Request
			inv                engine.Inventory
			wantDeny, wantSkip []string
			describe           string
		)
		if i%2 == 0 {
			p := randPod(r)
			req = engine.Request{Operation: engine.Create, Kind: schema.GroupVersionKind{Version: "v1", Kind: "Pod"},
				Object: genPodJSON("p", p.labels, p.claims, p.secrets)}
			if p.update {
				req.Operation = engine.Update
				req.OldObject = genPodJSON("p", p.oldLabels, nil, nil)
			}
			wantDeny = oraclePod(p)
			describe = fmt.Sprintf("pod %+v", p)
		} else {
			s := randSession(r)
			req = engine.Request{Operation: engine.Create, Kind: schema.GroupVersionKind{Group: "mpc.mpcguard.io", Version: "v1alpha1", Kind: "MPCSession"},
				Object: genSessionJSON(s)}
			inv = fakeInventory{ready: s.ready, ok: s.inventory}
			wantDeny, wantSkip = oracleSession(s)
			describe = fmt.Sprintf("session %+v", s)
		}
		d, err := eng.Review(t.Context(), req, inv)
		require.NoError(t, err, describe)
		if !slices.Equal(orEmpty(wantDeny), policyIDs(d.Deny)) || !slices.Equal(orEmpty(wantSkip), policyIDs(d.Skipped)) {
			disagreements++
			t.Errorf("disagreement on %s: oracle deny %v skip %v, engine deny %v skip %v",
				describe, wantDeny, wantSkip, policyIDs(d.Deny), policyIDs(d.Skipped))
		}
	}
	t.Logf("differential check: %d executions, %d disagreements", runs, disagreements)
}

// TestEngineDecisionEqualsMainRego holds the engine's road (each kind's module partially evaluated, the
// enforcement applied in Go) to main.rego's decision evaluated as it stands, message for message and in
// order, on generated pods, pod updates, workloads and sessions, under enforcement that mixes deny, warn
// and off.
func TestEngineDecisionEqualsMainRego(t *testing.T) {
	mixed := engine.DefaultConfig()
	mixed.ShareStorage = engine.ShareStorage{SecretNames: []string{shareSecret}, ClaimPrefixes: []string{shareClaimPrefix}}
	mixed.Enforcement[vocab.PartyRoleValid] = vocab.Warn
	mixed.Enforcement[vocab.SessionCompositionSum] = vocab.Warn
	mixed.Enforcement[vocab.SessionPersistentAvailable] = vocab.Warn
	mixed.Enforcement[vocab.WorkloadPartyRole] = vocab.Off
	strict := engine.DefaultConfig()
	strict.ShareStorage = mixed.ShareStorage
	for name, cfg := range map[string]engine.Config{"every policy denying": strict, "mixed enforcement": mixed} {
		t.Run(name, func(t *testing.T) {
			eng, err := engine.New(t.Context(), cfg, nil)
			require.NoError(t, err)
			main, err := engine.NewMainRego(t.Context(), cfg)
			require.NoError(t, err)
			r := rand.New(rand.NewPCG(20261121, 7))
			const runs = 1500
			differ, nonEmpty := 0, 0
			for i := range runs {
				req, inv, describe := randRequest(r, i)
				got, err := eng.Review(t.Context(), req, inv)
				require.NoError(t, err, describe)
				want, err := main.Review(t.Context(), req, inv)
				require.NoError(t, err, describe)
				if len(want.Deny)+len(want.Warn)+len(want.Skipped) > 0 {
					nonEmpty++
				}
				if !assert.Equal(t, want, got, describe) {
					differ++
				}
			}
			t.Logf("two roads: %d requests (%d with a finding), %d decisions differ", runs, nonEmpty, differ)
			assert.Greater(t, nonEmpty, runs/3, "the generator must produce findings, or the comparison proves little")
		})
	}
}

// randRequest generates a pod CREATE or UPDATE, a workload or a session, in turn.
func randRequest(r *rand.Rand, i int) (engine.Request, engine.Inventory, string) {
	switch i % 3 {
	case 0:
		p := randPod(r)
		req := engine.Request{Operation: engine.Create, Kind: schema.GroupVersionKind{Version: "v1", Kind: "Pod"},
			Object: genPodJSON("p", p.labels, p.claims, p.secrets)}
		if p.update {
			req.Operation = engine.Update
			req.OldObject = genPodJSON("p", p.oldLabels, nil, nil)
		}
		return req, nil, fmt.Sprintf("pod %+v", p)
	case 1:
		p := randPod(r)
		kind := []string{"Deployment", "StatefulSet", "DaemonSet"}[r.IntN(3)]
		tmpl := map[string]any{"metadata": map[string]any{"labels": p.labels}, "spec": podSpec(p.claims, p.secrets)}
		b, _ := json.Marshal(map[string]any{"apiVersion": "apps/v1", "kind": kind,
			"metadata": map[string]any{"name": "w", "namespace": "mpc-system"}, "spec": map[string]any{"template": tmpl}})
		return engine.Request{Operation: engine.Create, Kind: schema.GroupVersionKind{Group: "apps", Version: "v1", Kind: kind}, Object: b},
			nil, fmt.Sprintf("%s with template %+v", kind, p)
	default:
		s := randSession(r)
		req := engine.Request{Operation: engine.Create, Kind: schema.GroupVersionKind{Group: "mpc.mpcguard.io", Version: "v1alpha1", Kind: "MPCSession"},
			Object: genSessionJSON(s)}
		return req, fakeInventory{ready: s.ready, ok: s.inventory}, fmt.Sprintf("session %+v", s)
	}
}
