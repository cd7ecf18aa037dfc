package engine_test

import (
	"bytes"
	"fmt"
	"math/rand/v2"
	"sync"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/mpcguard/mpcguard/policies/engine"
	"github.com/mpcguard/mpcguard/policies/vocab"
)

// renamed is req as another object of the same shape: the generated objects are all named p-0 (pods), s
// (sessions), copy (claims) in mpc-system; the copy gets name i%4 and, every third, namespace team-b, which
// the policies of some classes read (sessions name it in a message) and others do not.
func renamed(req engine.Request, i int) engine.Request {
	if i == 0 {
		return req
	}
	ns := "mpc-system"
	if i%3 == 0 {
		ns = "team-b"
	}
	rename := func(b []byte) []byte {
		if b == nil {
			return nil
		}
		for _, name := range []string{"p-0", "s", "copy"} {
			b = bytes.ReplaceAll(b, []byte(`"name":"`+name+`"`), fmt.Appendf(nil, `"name":"%s-%d"`, name, i%4))
		}
		return bytes.ReplaceAll(b, []byte(`"namespace":"mpc-system"`), []byte(`"namespace":"`+ns+`"`))
	}
	req.Object, req.OldObject = rename(req.Object), rename(req.OldObject)
	req.Namespace = ns
	if req.Name != "" && req.Operation != engine.Connect {
		req.Name = fmt.Sprintf("%s-%d", req.Name, i%4)
	}
	return req
}

// TestMemoisedEngineDecidesExactlyAsThePlainOne holds the memoised engine to one with memoisation off, decision
// for decision and message for message, on generated requests of every class (the oracle's generators: pods
// through every subresource, workloads, sessions with specs at and past every boundary, Bindings, CONNECTs with
// and without an inventory, claims and snapshots), each also sent as objects that differ only in name and
// namespace — the requests a memo answers — under strict and mixed enforcement. A cache small enough to
// evict runs beside the large one.
func TestMemoisedEngineDecidesExactlyAsThePlainOne(t *testing.T) {
	oc := oracleConfig{persistentWorkloads: []string{"mpc-party"}}
	mixed := oracleEngineConfig(oc)
	mixed.Enforcement[vocab.PartyRoleValid] = vocab.Warn
	mixed.Enforcement[vocab.SessionPersistentAvailable] = vocab.Warn
	mixed.Enforcement[vocab.WorkloadPartyRole] = vocab.Off
	mixed.Enforcement[vocab.PartyAccess] = vocab.Warn
	for name, cfg := range map[string]engine.Config{"every policy denying": oracleEngineConfig(oracleConfig{}), "mixed enforcement": mixed} {
		t.Run(name, func(t *testing.T) {
			plain, err := engine.New(t.Context(), cfg, nil, engine.WithCacheSize(0))
			require.NoError(t, err)
			memoised, err := engine.New(t.Context(), cfg, nil)
			require.NoError(t, err)
			tiny, err := engine.New(t.Context(), cfg, nil, engine.WithCacheSize(16))
			require.NoError(t, err)
			r := rand.New(rand.NewPCG(20261201, 16))
			const runs, variants = 3000, 4
			differ, findings := 0, 0
			for i := range runs {
				g := generate(r, i, oc)
				for v := range variants {
					req := renamed(g.req, v)
					want, err := plain.Review(t.Context(), req, g.inv)
					require.NoError(t, err, g.describe)
					if len(want.Deny)+len(want.Warn)+len(want.Skipped) > 0 {
						findings++
					}
					for _, eng := range []*engine.Engine{memoised, tiny} {
						got, err := eng.Review(t.Context(), req, g.inv)
						require.NoError(t, err, g.describe)
						if !assert.Equal(t, want, got, "%s (variant %d)", g.describe, v) {
							differ++
						}
					}
				}
			}
			stats, small := memoised.CacheStats(), tiny.CacheStats()
			t.Logf("%d requests (%d with a finding), %d decisions differ; memo hits %d misses %d, 16-entry memo hits %d misses %d",
				runs*variants, findings, differ, stats.Hits, stats.Misses, small.Hits, small.Misses)
			assert.Zero(t, differ)
			assert.Greater(t, findings, runs, "the generator must produce findings, or the comparison proves little")
			assert.Greater(t, stats.Hits, uint64(runs), "the renamed objects must be answered from the memo, or it is not exercised")
			assert.Greater(t, stats.Misses, uint64(runs/2), "distinct objects must be evaluated")
			assert.Zero(t, plain.CacheStats(), "an engine without a memo counts nothing")
		})
	}
}

// TestMemoisedEngineIsSafeForConcurrentReviews sends the same generated requests from several goroutines at
// once and requires every answer to be the plain engine's (run with -race to check the memo's locking).
func TestMemoisedEngineIsSafeForConcurrentReviews(t *testing.T) {
	oc := oracleConfig{}
	cfg := oracleEngineConfig(oc)
	plain, err := engine.New(t.Context(), cfg, nil, engine.WithCacheSize(0))
	require.NoError(t, err)
	memoised, err := engine.New(t.Context(), cfg, nil, engine.WithCacheSize(64))
	require.NoError(t, err)
	r := rand.New(rand.NewPCG(20261201, 17))
	var gens []generated
	var wants []engine.Decision
	for i := range 300 {
		g := generate(r, i, oc)
		g.req = renamed(g.req, i%3)
		want, err := plain.Review(t.Context(), g.req, g.inv)
		require.NoError(t, err)
		gens, wants = append(gens, g), append(wants, want)
	}
	var wg sync.WaitGroup
	differ := make([]int, 4)
	for w := range differ {
		wg.Go(func() {
			for k := range gens {
				i := (k*7 + w*31) % len(gens)
				got, err := memoised.Review(t.Context(), gens[i].req, gens[i].inv)
				if err != nil || !assert.ObjectsAreEqual(wants[i], got) {
					differ[w]++
				}
			}
		})
	}
	wg.Wait()
	assert.Equal(t, []int{0, 0, 0, 0}, differ, "decisions that differ from the plain engine's, per goroutine")
}

// inventorySequence is an inventory whose answers the test changes between reviews.
type inventorySequence struct {
	ready int
	ok    bool
	role  string
}

func (i *inventorySequence) PersistentReady(string) (int, bool) { return i.ready, i.ok }
func (i *inventorySequence) Role(string, string) (string, bool) { return i.role, i.ok }

// TestAChangedInventoryIsNeverAnsweredFromAStaleEntry reviews the same session and the same exec again and
// again while the inventory's answers change under them, and requires each answer to follow the inventory of
// that moment, never a memoised one from before.
func TestAChangedInventoryIsNeverAnsweredFromAStaleEntry(t *testing.T) {
	eng := newEngine(t, shareConfig())
	inv := &inventorySequence{}
	session := createSession(`{"type": "sign", "threshold": {"t": 2, "n": 3}, "composition": {"persistent": 2, "delegate": 1}}`)
	steps := []struct {
		ready    int
		ok       bool
		deny     bool
		skipped  bool
		describe string
	}{
		{ready: 1, ok: true, deny: true, describe: "one Ready persistent party of the two needed"},
		{ready: 2, ok: true, describe: "a second one turned Ready"},
		{ready: 2, ok: false, skipped: true, describe: "the inventory lost its sync"},
		{ready: 1, ok: true, deny: true, describe: "synced again with one Ready"},
		{ready: 0, ok: true, deny: true, describe: "none Ready"},
		{ready: 5, ok: true, describe: "the pool scaled up"},
		{ready: 1, ok: true, deny: true, describe: "and down again"},
	}
	for round := range 2 { // the second round meets every key again
		for _, s := range steps {
			inv.ready, inv.ok = s.ready, s.ok
			d, err := eng.Review(t.Context(), session, inv)
			require.NoError(t, err)
			assert.Equal(t, s.deny, !d.Allowed(), "round %d, %s: %v", round, s.describe, d.Deny)
			assert.Equal(t, s.skipped, len(d.Skipped) == 1, "round %d, %s: %v", round, s.describe, d.Skipped)
			if s.deny {
				require.Len(t, d.Deny, 1)
				assert.Contains(t, d.Deny[0].Message, fmt.Sprintf("has %d;", s.ready), "round %d, %s", round, s.describe)
			}
		}
	}
	exec := connectRequest("mpc-party-0")
	for round := range 2 {
		for _, s := range []struct {
			role string
			ok   bool
			deny bool
		}{{"persistent", true, true}, {"delegate", true, false}, {"persistent", true, true}, {"", true, false}, {"persistent", false, false}} {
			inv.role, inv.ok = s.role, s.ok
			d, err := eng.Review(t.Context(), exec, inv)
			require.NoError(t, err)
			assert.Equal(t, s.deny, !d.Allowed(), "round %d: exec into a pod whose role is %q (inventory synced: %v)", round, s.role, s.ok)
		}
	}
	assert.Positive(t, eng.CacheStats().Hits, "the second rounds must meet memoised entries")
}

func connectRequest(pod string) engine.Request {
	req, _ := genConnect{kind: "PodExecOptions", target: pod, user: userChoices[3]}.request()
	return req
}

// TestMemoKeepsTheObjectsOwnNameInEveryMessage reviews party pods that differ only in name: the second is
// answered from the memo, and its message must name it, not the first.
func TestMemoKeepsTheObjectsOwnNameInEveryMessage(t *testing.T) {
	eng := newEngine(t, shareConfig())
	first := createPod(t, map[string]string{componentKey: "mpc-party", roleKey: "signer"})
	second := renamed(first, 1)
	d1, err := eng.Review(t.Context(), first, nil)
	require.NoError(t, err)
	d2, err := eng.Review(t.Context(), second, nil)
	require.NoError(t, err)
	require.Len(t, d1.Deny, 1)
	require.Len(t, d2.Deny, 1)
	assert.Equal(t, uint64(1), eng.CacheStats().Hits, "the second pod differs only in name, which the pod policies never read")
	assert.NotEqual(t, d1.Deny[0].Object, d2.Deny[0].Object)
	assert.Contains(t, d2.Deny[0].Message, d2.Deny[0].Object+": ")
	assert.Equal(t, d1.Deny[0].Detail, d2.Deny[0].Detail)
}

// namePolicy is a custom pod policy that reads the object's name, which the built-in pod policies never do.
const namePolicy = `package mpcguard.pod

violation contains {"policy": "party-name-prefix", "msg": "a pod's name must start with mpc-"} if {
	input.kind == "Pod"
	not startswith(input.name, "mpc-")
}
`

// TestAPolicyThatReadsTheNameMakesTheNamePartOfTheKey adds a policy that reads input.name: pods that differ
// only in name must then be evaluated each, and decided by their names.
func TestAPolicyThatReadsTheNameMakesTheNamePartOfTheKey(t *testing.T) {
	eng, err := engine.New(t.Context(), shareConfig(), withModule(t, "custom/name.rego", namePolicy))
	require.NoError(t, err)
	for _, c := range []struct {
		name string
		deny bool
	}{{"mpc-a", false}, {"web-a", true}, {"mpc-b", false}, {"web-b", true}} {
		req := createPod(t, map[string]string{"app": "web"})
		req.Object = bytes.ReplaceAll(req.Object, []byte(`"name":"p-0"`), []byte(`"name":"`+c.name+`"`))
		d, err := eng.Review(t.Context(), req, nil)
		require.NoError(t, err)
		assert.Equal(t, c.deny, !d.Allowed(), "pod %s: %v", c.name, d.Deny)
	}
	assert.Zero(t, eng.CacheStats().Hits, "no two pods had the same name")
}
