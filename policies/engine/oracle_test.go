package engine_test

import (
	"encoding/json"
	"fmt"
	"maps"
	"math"
	"math/rand/v2"
	"regexp"
	"slices"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"k8s.io/apimachinery/pkg/runtime/schema"

	"github.com/mpcguard/mpcguard/policies/engine"
	"github.com/mpcguard/mpcguard/policies/vocab"
)

// The oracle is an independent, plain-Go reading of the policies (design.md and policies/README.md). The
// differential test generates requests of every class — pods (through pods, pods/status and
// pods/ephemeralcontainers, by users and controllers, with every kind of volume), workloads, sessions with
// specs the schema would and would not accept, Bindings, CONNECTs, claims and snapshots — and requires the
// Rego engine to deny (and skip) exactly what the oracle does.

const (
	shareClaimPrefix = "share-data-mpc-party-"
	shareSecret      = "mpc-db"
	breakGlassGroup  = vocab.DefaultBreakGlassGroup
	roleKey          = vocab.DefaultRoleLabelKey
	componentKey     = "app.kubernetes.io/component"
)

// oracleConfig is what the oracle knows of the configuration; the engine gets the same through oracleEngineConfig.
type oracleConfig struct {
	persistentWorkloads []string
}

func oracleEngineConfig(oc oracleConfig) engine.Config {
	cfg := engine.DefaultConfig()
	cfg.ShareStorage = engine.ShareStorage{SecretNames: []string{shareSecret}, ClaimPrefixes: []string{shareClaimPrefix}}
	cfg.PersistentWorkloads = append([]string{}, oc.persistentWorkloads...)
	return cfg
}

var (
	roleChoices  = []string{"persistent", "delegate", "temporary", "Persistent", " delegate", "", "signer", "-"}
	claimChoices = []string{shareClaimPrefix + "0", shareClaimPrefix + "12", shareClaimPrefix + "0-copy", shareClaimPrefix + "x1",
		"scratch-0"}
	secretChoices   = []string{shareSecret, "tls", "mpc-db-backup"}
	hostPathChoices = []string{"/var/log", "/var/lib/mpc"}
	sourceChoices   = []genSource{{"PersistentVolumeClaim", shareClaimPrefix + "1"}, {"PersistentVolumeClaim", "scratch-0"},
		{"PersistentVolumeClaim", shareClaimPrefix + "1-old"}, {"VolumeSnapshot", shareClaimPrefix + "1"}}
	ownerChoices = []genSource{{}, {"StatefulSet", "mpc-party"}, {"StatefulSet", "mpc-party-copy"}, {"ReplicaSet", "mpc-party-7d9f8"}}
	userChoices  = []*engine.User{nil,
		{Username: "system:serviceaccount:kube-system:statefulset-controller", Groups: []string{"system:serviceaccounts", "system:authenticated"}},
		{Username: "system:kube-controller-manager", Groups: []string{"system:authenticated"}},
		{Username: "alice", Groups: []string{"system:authenticated"}},
		{Username: "bob", Groups: []string{"system:authenticated", breakGlassGroup}},
		{Username: "", Groups: nil},
	}
)

// genSource is a claim's data source, or a pod's controller owner: a kind and a name.
type genSource struct{ kind, name string }

// genVolumes is everything a pod or a pod template can reach share storage with.
type genVolumes struct {
	claims, secrets, csiSecrets, envSecrets, hostPaths []string
	clones                                             []genSource // generic ephemeral volumes' data sources
	debug                                              int         // ephemeral containers
}

type genPod struct {
	subresource         string // "", "status" or "ephemeralcontainers"
	update, hasOld      bool
	labels, oldLabels   map[string]string
	volumes, oldVolumes genVolumes
	owner               genSource
	user                *engine.User
}

type genWorkload struct {
	kind, name string
	update     bool
	// replicas and oldReplicas (on UPDATE) of a StatefulSet; -1 leaves spec.replicas out (1 by default).
	replicas, oldReplicas int
	labels                map[string]string
	volumes               genVolumes
	vcts                  []string    // volumeClaimTemplate names (StatefulSet only)
	vctSources            []genSource // their data sources, one each ({} for none)
}

type genSession struct {
	spec, oldSpec string // JSON; "" for no spec
	update        bool
	ready         int
	inventory     bool
}

type genBinding struct{ labels map[string]string }

// genGuard is a request persistent-quorum or share-deletion judges alone: an UPDATE of a StatefulSet's scale
// subresource, or a DELETE of a StatefulSet, a PersistentVolumeClaim or a Secret.
type genGuard struct {
	kind, name            string // Scale, StatefulSet, PersistentVolumeClaim or Secret
	replicas, oldReplicas int    // Scale: -1 leaves spec.replicas out (0: autoscaling/v1 omits a zero)
	hasOld                bool   // DELETE: whether the old object is sent
	labels                map[string]string
	reason                string // the break-glass annotation; "-" for none
	user                  *engine.User
}

type genConnect struct {
	kind, target string
	inventory    int // 0 synced, 1 unsynced, 2 none
	user         *engine.User
}

type genStorage struct {
	snapshot    bool
	source, ref genSource // a claim's dataSource and dataSourceRef
	claim       string    // a snapshot's source claim
	user        *engine.User
}

func pick[T any](r *rand.Rand, xs []T) T { return xs[r.IntN(len(xs))] }

func some[T any](r *rand.Rand, xs []T, oneIn int) []T {
	var out []T
	for _, x := range xs {
		if r.IntN(oneIn) == 0 {
			out = append(out, x)
		}
	}
	return out
}

func randLabels(r *rand.Rand) map[string]string {
	l := map[string]string{}
	if r.IntN(10) < 7 {
		l[componentKey] = "mpc-party"
	} else if r.IntN(2) == 0 {
		l[componentKey] = "mpc-coordinator"
	}
	if role := pick(r, roleChoices); role != "-" {
		l[roleKey] = role
	}
	if r.IntN(2) == 0 {
		l["app"] = "mpc"
	}
	return l
}

func randVolumes(r *rand.Rand) genVolumes {
	v := genVolumes{
		claims:     some(r, claimChoices, 5),
		secrets:    some(r, secretChoices, 5),
		csiSecrets: some(r, secretChoices, 10),
		envSecrets: some(r, secretChoices, 10),
		hostPaths:  some(r, hostPathChoices, 10),
		clones:     some(r, sourceChoices, 10),
	}
	if r.IntN(4) == 0 {
		v.debug = 1 + r.IntN(2)
	}
	return v
}

func randPod(r *rand.Rand) genPod {
	p := genPod{labels: randLabels(r), volumes: randVolumes(r), owner: pick(r, ownerChoices), user: pick(r, userChoices)}
	if r.IntN(4) == 0 { // a persistent party, whose origin, debug containers and share storage have the most rules
		p.labels = map[string]string{componentKey: "mpc-party", roleKey: vocab.RolePersistent}
	}
	if r.IntN(5) < 2 {
		p.update, p.hasOld = true, r.IntN(10) > 0
		p.subresource = pick(r, []string{"", "", "status", "ephemeralcontainers"})
		switch r.IntN(3) {
		case 0:
			p.oldLabels = randLabels(r)
		default: // most updates keep the labels, which is where share access and debug containers matter
			p.oldLabels = p.labels
		}
		p.oldVolumes = p.volumes
		if r.IntN(2) == 0 {
			p.oldVolumes = randVolumes(r)
		} else if r.IntN(2) == 0 {
			p.oldVolumes.debug = 0
		}
	}
	return p
}

func randWorkload(r *rand.Rand) genWorkload {
	w := genWorkload{kind: pick(r, vocab.WorkloadKinds()), name: pick(r, []string{"mpc-party", "mpc-party-copy"}),
		update: r.IntN(4) == 0, labels: randLabels(r), volumes: randVolumes(r)}
	w.volumes.debug = 0
	if w.kind == "StatefulSet" {
		w.replicas, w.oldReplicas = pick(r, replicaChoices), pick(r, replicaChoices)
		for _, name := range some(r, []string{"share-data", "scratch"}, 2) {
			w.vcts = append(w.vcts, name)
			src := genSource{}
			if r.IntN(4) == 0 {
				src = pick(r, sourceChoices)
			}
			w.vctSources = append(w.vctSources, src)
		}
	}
	return w
}

// randSpec is an MPCSession spec as JSON: mostly what the schema accepts, often not (wrong case, wrong types,
// fractions, negative counts, unknown keys, missing parts).
func randSpec(r *rand.Rand) string {
	count := func(hi int) any {
		switch r.IntN(14) {
		case 0:
			return "2"
		case 1:
			return 1.5
		case 2:
			return -1
		case 3:
			return nil
		}
		return r.IntN(hi)
	}
	switch r.IntN(20) {
	case 0:
		return ""
	case 1:
		return "null"
	case 2:
		return `["sign"]`
	}
	spec := map[string]any{}
	if r.IntN(12) > 0 {
		spec["type"] = pick(r, []any{"sign", "keygen", "reshare", "sign", "Sign", "", 7})
	}
	switch r.IntN(12) {
	case 0: // no threshold
	case 1:
		spec["threshold"] = "2-of-3"
	default:
		th := map[string]any{}
		if r.IntN(12) > 0 {
			th["t"] = count(7)
		}
		if r.IntN(12) > 0 {
			th["n"] = count(7)
		}
		if r.IntN(15) == 0 {
			th[pick(r, []string{"T", "N", "k"})] = r.IntN(4)
		}
		spec["threshold"] = th
	}
	switch r.IntN(10) {
	case 0, 1, 2: // no composition
	case 3:
		spec["composition"] = nil
	case 4:
		spec["composition"] = map[string]any{}
	case 5:
		if r.IntN(3) == 0 {
			spec["composition"] = 3
			break
		}
		fallthrough
	default:
		comp := map[string]any{}
		for _, role := range []string{"persistent", "delegate", "temporary"} {
			if r.IntN(5) > 0 {
				comp[role] = count(5 - len(comp))
			}
		}
		if r.IntN(15) == 0 {
			comp[pick(r, []string{"Persistent", "delegates"})] = 1
		}
		spec["composition"] = comp
	}
	if r.IntN(25) == 0 {
		spec[pick(r, []string{"Threshold", "parties"})] = 3
	}
	b, _ := json.Marshal(spec)
	return string(b)
}

func randSession(r *rand.Rand) genSession {
	s := genSession{spec: randSpec(r), ready: r.IntN(7), inventory: r.IntN(2) == 0}
	if r.IntN(4) == 0 {
		s.update = true
		s.oldSpec = s.spec // a finalizer or a label changed
		if r.IntN(2) == 0 {
			s.oldSpec = randSpec(r)
		}
	}
	return s
}

var (
	replicaChoices = []int{-1, 0, 1, 2, 3, 5}
	reasonChoices  = []string{"-", "-", "", "  ", "INC-42: decommission the pool"}
)

func randGuard(r *rand.Rand) genGuard {
	g := genGuard{kind: pick(r, []string{"Scale", "StatefulSet", "PersistentVolumeClaim", "Secret"}),
		replicas: pick(r, replicaChoices), oldReplicas: pick(r, replicaChoices), hasOld: r.IntN(8) > 0,
		labels: randLabels(r), reason: pick(r, reasonChoices), user: pick(r, userChoices)}
	if r.IntN(2) == 0 { // the persistent pool's own template
		g.labels = map[string]string{componentKey: "mpc-party", roleKey: vocab.RolePersistent}
	}
	if r.IntN(3) == 0 { // the one user who may break glass
		g.user = userChoices[4]
	}
	switch g.kind {
	case "Scale", "StatefulSet":
		g.name = pick(r, []string{"mpc-party", "mpc-party-copy"})
	case "PersistentVolumeClaim":
		g.name = pick(r, claimChoices)
	default:
		g.name = pick(r, secretChoices)
	}
	return g
}

func randBinding(r *rand.Rand) genBinding {
	b := genBinding{labels: map[string]string{}}
	for k, v := range map[string]string{roleKey: pick(r, roleChoices[:3]), componentKey: "mpc-party", "app.kubernetes.io/name": "mpc-system", "team": "a"} {
		if r.IntN(4) == 0 {
			b.labels[k] = v
		}
	}
	return b
}

func randConnect(r *rand.Rand) genConnect {
	return genConnect{kind: pick(r, []string{"PodExecOptions", "PodAttachOptions", "PodPortForwardOptions", "PodProxyOptions"}),
		target: pick(r, []string{"mpc-party-0", "mpc-party-0", "mpc-party-delegate-0", "web-0"}), inventory: r.IntN(3), user: pick(r, userChoices)}
}

func randStorage(r *rand.Rand) genStorage {
	s := genStorage{snapshot: r.IntN(3) == 0, user: pick(r, userChoices)}
	if r.IntN(2) == 0 {
		s.source = pick(r, sourceChoices)
	}
	switch r.IntN(3) {
	case 0:
		s.ref = s.source // the API server fills dataSourceRef from dataSource
	case 1:
		s.ref = pick(r, sourceChoices)
	}
	s.claim = pick(r, append([]string{""}, claimChoices...))
	return s
}

// The oracle.

var ordinal = regexp.MustCompile(`^[0-9]+$`)

func isParty(l map[string]string) bool { return l != nil && l[componentKey] == "mpc-party" }

func validRole(role string) bool { return slices.Contains(vocab.Roles, role) }

func claimIsShare(c string) bool {
	return strings.HasPrefix(c, shareClaimPrefix) && ordinal.MatchString(strings.TrimPrefix(c, shareClaimPrefix))
}

func breakGlass(u *engine.User) bool { return u != nil && slices.Contains(u.Groups, breakGlassGroup) }

// shareAccess is the share storage a pod or template reaches, as "PersistentVolumeClaim x", "Secret x", "hostPath p".
func shareAccess(v genVolumes, extraClaims ...string) map[string]bool {
	out := map[string]bool{}
	for _, c := range append(append([]string{}, extraClaims...), v.claims...) {
		if claimIsShare(c) {
			out["PersistentVolumeClaim "+c] = true
		}
	}
	for _, s := range slices.Concat(v.secrets, v.csiSecrets, v.envSecrets) {
		if s == shareSecret {
			out["Secret "+s] = true
		}
	}
	for _, h := range v.hostPaths {
		out["hostPath "+h] = true
	}
	return out
}

func shareClones(sources []genSource) map[string]bool {
	out := map[string]bool{}
	for _, s := range sources {
		if s.kind == "PersistentVolumeClaim" && claimIsShare(s.name) {
			out[s.kind+" "+s.name] = true
		}
	}
	return out
}

// minus returns a without b's keys; withoutHostPaths drops the hostPath entries.
func minus(a, b map[string]bool) map[string]bool {
	out := map[string]bool{}
	for k := range a {
		if !b[k] {
			out[k] = true
		}
	}
	return out
}

func withoutHostPaths(a map[string]bool) map[string]bool {
	out := map[string]bool{}
	for k := range a {
		if !strings.HasPrefix(k, "hostPath ") {
			out[k] = true
		}
	}
	return out
}

func roleOf(l map[string]string) (string, bool) {
	role, ok := l[roleKey]
	return role, ok
}

func oraclePod(oc oracleConfig, p genPod) (deny, skipped []string) {
	role, hasRole := roleOf(p.labels)
	var old map[string]string // the old pod's labels, {} without an old pod
	if p.hasOld {
		old = p.oldLabels
	}
	oldRole, hadRole := roleOf(old)
	party := isParty(p.labels)
	oldParty := p.update && isParty(old)
	roleUnchanged := p.update && hasRole == hadRole && role == oldRole
	partyUnchanged := oldParty && roleUnchanged
	if party && !hasRole && !partyUnchanged {
		deny = append(deny, vocab.PartyRoleRequired)
	}
	if party && hasRole && !validRole(role) && !partyUnchanged {
		deny = append(deny, vocab.PartyRoleValid)
	}
	if p.update && hadRole {
		legacyFix := !validRole(oldRole) && validRole(role) && role != vocab.RolePersistent
		if (hasRole && role != oldRole && !legacyFix) || !hasRole {
			deny = append(deny, vocab.PartyRoleImmutable)
		}
	}
	access := shareAccess(p.volumes)
	newAccess := access
	membershipUnchanged := (party && oldParty) || (p.update && !party && !oldParty)
	if p.update && p.hasOld && hasRole == hadRole && role == oldRole && membershipUnchanged {
		newAccess = minus(access, shareAccess(p.oldVolumes))
	}
	if party && hasRole && validRole(role) && role != vocab.RolePersistent && len(newAccess) > 0 {
		deny = append(deny, vocab.DelegateNoShareStorage)
	}
	if !party && len(withoutHostPaths(newAccess)) > 0 {
		deny = append(deny, vocab.ShareStoragePersistentOnly)
	}
	oldClones := map[string]bool{}
	if p.update && p.hasOld {
		oldClones = shareClones(p.oldVolumes.clones)
	}
	if len(minus(shareClones(p.volumes.clones), oldClones)) > 0 {
		deny = append(deny, vocab.ShareStorageCopy)
	}
	persistentParty := party && role == vocab.RolePersistent
	if persistentParty && !p.update {
		if p.owner.kind != "StatefulSet" || (len(oc.persistentWorkloads) > 0 && !slices.Contains(oc.persistentWorkloads, p.owner.name)) {
			deny = append(deny, vocab.PartyPersistentOrigin)
		}
		if p.user == nil {
			skipped = append(skipped, vocab.PartyPersistentOrigin)
		} else if !slices.Contains(vocab.DefaultControllerUsers, p.user.Username) {
			deny = append(deny, vocab.PartyPersistentOrigin)
		}
	}
	if persistentParty && p.update && !partyUnchanged {
		deny = append(deny, vocab.PartyPersistentOrigin)
	}
	oldDebug := 0
	if p.hasOld {
		oldDebug = p.oldVolumes.debug
	}
	// A pod that carried the persistent role holds what it held, party selector or not.
	if p.update && hadRole && oldRole == vocab.RolePersistent && p.volumes.debug > oldDebug && !breakGlass(p.user) {
		deny = append(deny, vocab.PartyAccess)
	}
	return deny, skipped
}

func oracleWorkload(oc oracleConfig, w genWorkload) (deny []string) {
	role, hasRole := roleOf(w.labels)
	party := isParty(w.labels)
	var vctClaims []string
	for _, n := range w.vcts {
		vctClaims = append(vctClaims, n+"-"+w.name+"-0")
	}
	access := shareAccess(w.volumes, vctClaims...)
	if party && !hasRole {
		deny = append(deny, vocab.WorkloadPartyRole)
	}
	if party && hasRole && !validRole(role) {
		deny = append(deny, vocab.WorkloadPartyRole)
	}
	if party && hasRole && validRole(role) && role != vocab.RolePersistent && len(access) > 0 {
		deny = append(deny, vocab.DelegateNoShareStorage)
	}
	if !party && len(withoutHostPaths(access)) > 0 {
		deny = append(deny, vocab.ShareStoragePersistentOnly)
	}
	if len(shareClones(append(slices.Clone(w.vctSources), w.volumes.clones...))) > 0 {
		deny = append(deny, vocab.ShareStorageCopy)
	}
	persistentWorkload := w.kind == "StatefulSet" && (len(oc.persistentWorkloads) == 0 || slices.Contains(oc.persistentWorkloads, w.name))
	if party && role == vocab.RolePersistent && !persistentWorkload {
		deny = append(deny, vocab.PartyPersistentOrigin)
	}
	if w.kind == "StatefulSet" && w.update && persistentPool(oc, w.name, w.labels) &&
		below(orDefault(w.replicas, 1), orDefault(w.oldReplicas, 1)) {
		deny = append(deny, vocab.PersistentQuorum)
	}
	return deny
}

// threshold is the t of oracleEngineConfig (DefaultConfig's).
const threshold = vocab.DefaultThreshold

func orDefault(n, def int) int {
	if n < 0 {
		return def
	}
	return n
}

// below: a change from old to n replicas takes the pool below t, or lower once below.
func below(n, old int) bool { return n < threshold && n < old }

// persistentPool: a StatefulSet named by the configuration, or with none named one whose template has the
// persistent role (labels nil: no template known, as for a Scale).
func persistentPool(oc oracleConfig, name string, labels map[string]string) bool {
	if len(oc.persistentWorkloads) > 0 {
		return slices.Contains(oc.persistentWorkloads, name)
	}
	return labels != nil && labels[roleKey] == vocab.RolePersistent
}

// oracleGuard judges a scale or a deletion: deny, or warn for a granted break-glass deletion.
func oracleGuard(oc oracleConfig, g genGuard) (deny, warn []string) {
	if g.kind == "Scale" {
		if len(oc.persistentWorkloads) > 0 && persistentPool(oc, g.name, nil) && below(orDefault(g.replicas, 0), orDefault(g.oldReplicas, 0)) {
			deny = append(deny, vocab.PersistentQuorum)
		}
		return deny, nil
	}
	var guarded bool
	switch g.kind {
	case "StatefulSet":
		var labels map[string]string
		if g.hasOld {
			labels = g.labels
		}
		guarded = persistentPool(oc, g.name, labels)
	case "PersistentVolumeClaim":
		guarded = claimIsShare(g.name)
	default:
		guarded = g.name == shareSecret
	}
	if !guarded {
		return nil, nil
	}
	if g.hasOld && g.reason != "-" && strings.TrimSpace(g.reason) != "" && breakGlass(g.user) {
		return nil, []string{vocab.ShareDeletion}
	}
	return []string{vocab.ShareDeletion}, nil
}

// whole reports whether v is a JSON number that is a whole number from 0 to 2^31-1, as the CRD's int32 minimum 0.
func whole(v any) bool {
	f, ok := v.(float64)
	return ok && f == math.Floor(f) && f >= 0 && f <= math.MaxInt32
}

// specValid reads a spec as the CRD schema does: known keys only, case-sensitive, whole counts.
func specValid(spec any) bool {
	s, ok := spec.(map[string]any)
	if !ok {
		return false
	}
	for k := range s {
		if !slices.Contains([]string{"type", "threshold", "composition"}, k) {
			return false
		}
	}
	if !slices.Contains([]any{"keygen", "sign", "reshare"}, s["type"]) {
		return false
	}
	th, ok := s["threshold"].(map[string]any)
	if !ok {
		return false
	}
	for k := range th {
		if k != "t" && k != "n" {
			return false
		}
	}
	if !whole(th["t"]) || !whole(th["n"]) {
		return false
	}
	if c, present := s["composition"]; present && c != nil {
		comp, ok := c.(map[string]any)
		if !ok {
			return false
		}
		for k, v := range comp {
			if !slices.Contains(vocab.Roles, k) || (v != nil && !whole(v)) {
				return false
			}
		}
	}
	return true
}

// countOf is a count of the spec, 0 when it is absent or not a whole number.
func countOf(obj any, key string) int {
	m, ok := obj.(map[string]any)
	if !ok || !whole(m[key]) {
		return 0
	}
	return int(m[key].(float64))
}

func decodeSpec(s string) any {
	if s == "" {
		return nil
	}
	var v any
	if err := json.Unmarshal([]byte(s), &v); err != nil {
		panic(err)
	}
	return v
}

func oracleSession(s genSession) (deny, skipped []string) {
	spec := decodeSpec(s.spec)
	if s.update && (s.oldSpec == s.spec || equalJSON(decodeSpec(s.oldSpec), spec)) {
		return nil, nil // the spec is unchanged: a finalizer or a label, never judged by the spec
	}
	if !specValid(spec) {
		deny = append(deny, vocab.SessionSpecValid)
	}
	obj, ok := spec.(map[string]any)
	if !ok {
		return deny, nil
	}
	threshold := obj["threshold"]
	t, n := countOf(threshold, "t"), countOf(threshold, "n")
	comp, hasComp := obj["composition"].(map[string]any)
	var persistent, delegate, temporary int
	if hasComp {
		persistent, delegate, temporary = countOf(comp, "persistent"), countOf(comp, "delegate"), countOf(comp, "temporary")
		sum := persistent + delegate + temporary
		if sum == 0 {
			deny = append(deny, vocab.SessionCompositionNonempty)
		} else if sum != n {
			deny = append(deny, vocab.SessionCompositionSum)
		}
		if t >= 1 && delegate+temporary >= t {
			deny = append(deny, vocab.SessionDelegateOnlyThreshold)
		}
	}
	if t < 1 || t > n {
		deny = append(deny, vocab.SessionThresholdRange)
	}
	needed := n
	if hasComp {
		needed = persistent
	}
	if needed > 0 {
		if !s.inventory {
			skipped = append(skipped, vocab.SessionPersistentAvailable)
		} else if s.ready < needed {
			deny = append(deny, vocab.SessionPersistentAvailable)
		}
	}
	return deny, skipped
}

func equalJSON(a, b any) bool {
	x, _ := json.Marshal(a)
	y, _ := json.Marshal(b)
	return string(x) == string(y)
}

func oracleBinding(b genBinding) (deny []string) {
	if _, ok := b.labels[roleKey]; ok {
		return []string{vocab.PartyBindingLabels}
	}
	if _, ok := b.labels[componentKey]; ok {
		return []string{vocab.PartyBindingLabels}
	}
	return nil
}

// connectRoles is what the inventory knows of the CONNECT targets.
var connectRoles = map[string]string{"mpc-system/mpc-party-0": "persistent", "mpc-system/mpc-party-delegate-0": "delegate"}

func oracleConnect(c genConnect) (deny, skipped []string) {
	switch {
	case c.inventory != 0:
		return nil, []string{vocab.PartyAccess}
	case connectRoles["mpc-system/"+c.target] == vocab.RolePersistent && !breakGlass(c.user):
		return []string{vocab.PartyAccess}, nil
	}
	return nil, nil
}

func oracleStorage(s genStorage) (deny []string) {
	if breakGlass(s.user) {
		return nil
	}
	if s.snapshot && claimIsShare(s.claim) {
		return []string{vocab.ShareStorageCopy}
	}
	if !s.snapshot && len(shareClones([]genSource{s.source, s.ref})) > 0 {
		return []string{vocab.ShareStorageCopy}
	}
	return nil
}

// Requests.

var (
	podGVKOracle = schema.GroupVersionKind{Version: "v1", Kind: "Pod"}
	sessionKind  = schema.GroupVersionKind{Group: vocab.SessionGroup, Version: vocab.SessionVersion, Kind: vocab.SessionKind}
)

// podSpec is a pod spec with one container and a volume (or env reference) per entry of v.
func podSpec(v genVolumes) map[string]any {
	vols := []any{}
	for i, c := range v.claims {
		vols = append(vols, map[string]any{"name": fmt.Sprint("c", i), "persistentVolumeClaim": map[string]any{"claimName": c}})
	}
	for i, s := range v.secrets {
		vols = append(vols, map[string]any{"name": fmt.Sprint("s", i), "secret": map[string]any{"secretName": s}})
	}
	for i, s := range v.csiSecrets {
		vols = append(vols, map[string]any{"name": fmt.Sprint("csi", i), "csi": map[string]any{"driver": "secrets-store.csi.k8s.io",
			"nodePublishSecretRef": map[string]any{"name": s}}})
	}
	for i, h := range v.hostPaths {
		vols = append(vols, map[string]any{"name": fmt.Sprint("h", i), "hostPath": map[string]any{"path": h}})
	}
	for i, src := range v.clones {
		key := "dataSource"
		if i%2 == 1 {
			key = "dataSourceRef"
		}
		vols = append(vols, map[string]any{"name": fmt.Sprint("e", i), "ephemeral": map[string]any{"volumeClaimTemplate": map[string]any{
			"spec": map[string]any{"accessModes": []any{"ReadWriteOnce"}, key: map[string]any{"kind": src.kind, "name": src.name}}}}})
	}
	env := []any{map[string]any{"name": "PLAIN", "value": "x"}}
	for i, s := range v.envSecrets {
		env = append(env, map[string]any{"name": fmt.Sprint("S", i), "valueFrom": map[string]any{"secretKeyRef": map[string]any{"name": s, "key": "k"}}})
	}
	spec := map[string]any{"containers": []any{map[string]any{"name": "c", "image": "x:1", "env": env}}, "volumes": vols}
	if v.debug > 0 {
		var eph []any
		for i := range v.debug {
			eph = append(eph, map[string]any{"name": fmt.Sprint("debugger-", i), "image": "busybox"})
		}
		spec["ephemeralContainers"] = eph
	}
	return spec
}

func genPodJSON(labels map[string]string, v genVolumes, owner genSource) []byte {
	meta := map[string]any{"name": "p-0", "namespace": "mpc-system", "labels": labels}
	if owner.kind != "" {
		meta["ownerReferences"] = []any{map[string]any{"apiVersion": "apps/v1", "kind": owner.kind, "name": owner.name, "uid": "u", "controller": true}}
	}
	b, _ := json.Marshal(map[string]any{"apiVersion": "v1", "kind": "Pod", "metadata": meta, "spec": podSpec(v)})
	return b
}

func (p genPod) request() engine.Request {
	req := engine.Request{Operation: engine.Create, Kind: podGVKOracle, Namespace: "mpc-system", User: p.user,
		Object: genPodJSON(p.labels, p.volumes, p.owner)}
	if p.update {
		req.Operation, req.Subresource, req.Name = engine.Update, p.subresource, "p-0"
		if p.hasOld {
			req.OldObject = genPodJSON(p.oldLabels, p.oldVolumes, p.owner)
		}
	}
	return req
}

func (w genWorkload) request() engine.Request {
	spec := map[string]any{"template": map[string]any{"metadata": map[string]any{"labels": w.labels}, "spec": podSpec(w.volumes)}}
	if len(w.vcts) > 0 {
		var vcts []any
		for i, n := range w.vcts {
			vspec := map[string]any{"accessModes": []any{"ReadWriteOnce"}}
			if src := w.vctSources[i]; src.kind != "" {
				vspec["dataSource"] = map[string]any{"kind": src.kind, "name": src.name}
			}
			vcts = append(vcts, map[string]any{"metadata": map[string]any{"name": n}, "spec": vspec})
		}
		spec["volumeClaimTemplates"] = vcts
	}
	if w.kind == "CronJob" {
		spec = map[string]any{"schedule": "@hourly", "jobTemplate": map[string]any{"spec": spec}}
	}
	group := "apps"
	if w.kind == "Job" || w.kind == "CronJob" {
		group = "batch"
	}
	meta := map[string]any{"name": w.name, "namespace": "mpc-system"}
	b, _ := json.Marshal(map[string]any{"apiVersion": group + "/v1", "kind": w.kind, "metadata": meta, "spec": withReplicas(spec, w.replicas)})
	req := engine.Request{Operation: engine.Create, Kind: schema.GroupVersionKind{Group: group, Version: "v1", Kind: w.kind},
		Namespace: "mpc-system", Object: b}
	if w.update {
		old, _ := json.Marshal(map[string]any{"apiVersion": group + "/v1", "kind": w.kind, "metadata": meta, "spec": withReplicas(spec, w.oldReplicas)})
		req.Operation, req.OldObject = engine.Update, old
	}
	return req
}

// withReplicas is a copy of spec with replicas set, unless n is -1.
func withReplicas(spec map[string]any, n int) map[string]any {
	out := maps.Clone(spec)
	if n >= 0 {
		out["replicas"] = n
	}
	return out
}

func (g genGuard) request() engine.Request {
	meta := map[string]any{"name": g.name, "namespace": "mpc-system"}
	if g.reason != "-" {
		meta["annotations"] = map[string]any{vocab.BreakGlassAnnotation: g.reason, "note": "x"}
	}
	if g.kind == "Scale" {
		scale := func(n int) []byte {
			spec := map[string]any{}
			if n > 0 { // autoscaling/v1 omits a zero
				spec["replicas"] = n
			}
			b, _ := json.Marshal(map[string]any{"apiVersion": "autoscaling/v1", "kind": "Scale", "metadata": meta, "spec": spec})
			return b
		}
		return engine.Request{Operation: engine.Update, Kind: schema.GroupVersionKind{Group: "autoscaling", Version: "v1", Kind: "Scale"},
			Subresource: "scale", Namespace: "mpc-system", Name: g.name, User: g.user,
			Object: scale(orDefault(g.replicas, 0)), OldObject: scale(orDefault(g.oldReplicas, 0))}
	}
	gvk := schema.GroupVersionKind{Version: "v1", Kind: g.kind}
	obj := map[string]any{"apiVersion": "v1", "kind": g.kind, "metadata": meta}
	switch g.kind {
	case "StatefulSet":
		gvk.Group, obj["apiVersion"] = "apps", "apps/v1"
		obj["spec"] = map[string]any{"replicas": 3, "template": map[string]any{"metadata": map[string]any{"labels": g.labels}}}
	case "Secret":
		obj["data"] = map[string]any{"share": "c2VjcmV0"}
	}
	req := engine.Request{Operation: engine.Delete, Kind: gvk, Namespace: "mpc-system", Name: g.name, User: g.user}
	if g.hasOld {
		req.OldObject, _ = json.Marshal(obj)
	}
	return req
}

func sessionObject(spec string) []byte {
	obj := `{"apiVersion": "mpc.mpcguard.io/v1alpha1", "kind": "MPCSession", "metadata": {"name": "s", "namespace": "mpc-system"}`
	if spec != "" {
		obj += `, "spec": ` + spec
	}
	return []byte(obj + "}")
}

func (s genSession) request() (engine.Request, engine.Inventory) {
	req := engine.Request{Operation: engine.Create, Kind: sessionKind, Namespace: "mpc-system", Object: sessionObject(s.spec)}
	if s.update {
		req.Operation, req.Name, req.OldObject = engine.Update, "s", sessionObject(s.oldSpec)
	}
	return req, fakeInventory{ready: s.ready, ok: s.inventory}
}

func (b genBinding) request() engine.Request {
	obj, _ := json.Marshal(map[string]any{"apiVersion": "v1", "kind": "Binding",
		"metadata": map[string]any{"name": "p-0", "namespace": "mpc-system", "labels": b.labels},
		"target":   map[string]any{"apiVersion": "v1", "kind": "Node", "name": "node-1"}})
	return engine.Request{Operation: engine.Create, Kind: schema.GroupVersionKind{Version: "v1", Kind: "Binding"}, Subresource: "binding",
		Namespace: "mpc-system", Name: "p-0", User: &engine.User{Username: "system:kube-scheduler"}, Object: obj}
}

func (c genConnect) request() (engine.Request, engine.Inventory) {
	sub := map[string]string{"PodExecOptions": "exec", "PodAttachOptions": "attach", "PodPortForwardOptions": "portforward",
		"PodProxyOptions": "proxy"}[c.kind]
	req := engine.Request{Operation: engine.Connect, Kind: schema.GroupVersionKind{Version: "v1", Kind: c.kind}, Subresource: sub,
		Namespace: "mpc-system", Name: c.target, User: c.user, Object: []byte(`{"kind": "` + c.kind + `", "apiVersion": "v1"}`)}
	switch c.inventory {
	case 0:
		return req, fakeInventory{ready: 1, ok: true, roles: connectRoles}
	case 1:
		return req, fakeInventory{ok: false, roles: connectRoles}
	}
	return req, nil
}

func (s genStorage) request() engine.Request {
	if s.snapshot {
		src := map[string]any{"volumeSnapshotContentName": "content"}
		if s.claim != "" {
			src = map[string]any{"persistentVolumeClaimName": s.claim}
		}
		obj, _ := json.Marshal(map[string]any{"apiVersion": "snapshot.storage.k8s.io/v1", "kind": "VolumeSnapshot",
			"metadata": map[string]any{"name": "copy", "namespace": "mpc-system"}, "spec": map[string]any{"source": src}})
		return engine.Request{Operation: engine.Create, Kind: schema.GroupVersionKind{Group: "snapshot.storage.k8s.io", Version: "v1", Kind: "VolumeSnapshot"},
			Namespace: "mpc-system", User: s.user, Object: obj}
	}
	spec := map[string]any{"accessModes": []any{"ReadWriteOnce"}}
	if s.source.kind != "" {
		spec["dataSource"] = map[string]any{"kind": s.source.kind, "name": s.source.name}
	}
	if s.ref.kind != "" {
		spec["dataSourceRef"] = map[string]any{"kind": s.ref.kind, "name": s.ref.name}
	}
	obj, _ := json.Marshal(map[string]any{"apiVersion": "v1", "kind": "PersistentVolumeClaim",
		"metadata": map[string]any{"name": "copy", "namespace": "mpc-system"}, "spec": spec})
	return engine.Request{Operation: engine.Create, Kind: schema.GroupVersionKind{Version: "v1", Kind: "PersistentVolumeClaim"},
		Namespace: "mpc-system", User: s.user, Object: obj}
}

// generated is one generated request, with the oracle's verdict.
type generated struct {
	req                 engine.Request
	inv                 engine.Inventory
	deny, skipped, warn []string
	describe            string
}

// classes are the generators in turn: pods twice as often as the rest, as they have the most rules; "guard"
// is the scale subresource and deletions.
var classes = []string{"pod", "workload", "session", "pod", "binding", "connect", "storage", "guard", "guard"}

// generate makes the i-th request of a run and the oracle's verdict on it under oc.
func generate(r *rand.Rand, i int, oc oracleConfig) generated {
	var g generated
	switch classes[i%len(classes)] {
	case "pod":
		p := randPod(r)
		g.req, g.describe = p.request(), fmt.Sprintf("pod %+v user %+v", p, p.user)
		g.deny, g.skipped = oraclePod(oc, p)
	case "workload":
		w := randWorkload(r)
		g.req, g.describe = w.request(), fmt.Sprintf("workload %+v", w)
		g.deny = oracleWorkload(oc, w)
	case "session":
		s := randSession(r)
		g.req, g.inv = s.request()
		g.describe = fmt.Sprintf("session %+v", s)
		g.deny, g.skipped = oracleSession(s)
	case "binding":
		b := randBinding(r)
		g.req, g.describe = b.request(), fmt.Sprintf("binding %+v", b)
		g.deny = oracleBinding(b)
	case "connect":
		c := randConnect(r)
		g.req, g.inv = c.request()
		g.describe = fmt.Sprintf("connect %+v user %+v", c, c.user)
		g.deny, g.skipped = oracleConnect(c)
	case "guard":
		x := randGuard(r)
		if r.IntN(4) == 0 { // a StatefulSet resized by an UPDATE of its spec, with its template judged too
			w := genWorkload{kind: "StatefulSet", name: x.name, update: true, labels: x.labels, replicas: x.replicas, oldReplicas: x.oldReplicas}
			if x.kind != "Scale" && x.kind != "StatefulSet" {
				w.name = "mpc-party"
			}
			g.req, g.describe = w.request(), fmt.Sprintf("workload %+v", w)
			g.deny = oracleWorkload(oc, w)
			break
		}
		g.req, g.describe = x.request(), fmt.Sprintf("guard %+v user %+v", x, x.user)
		g.deny, g.warn = oracleGuard(oc, x)
	default:
		s := randStorage(r)
		g.req, g.describe = s.request(), fmt.Sprintf("storage %+v user %+v", s, s.user)
		g.deny = oracleStorage(s)
	}
	return g
}

func policyIDs(rs []engine.Result) []string {
	out := []string{}
	for _, r := range rs {
		out = append(out, r.Policy)
	}
	slices.Sort(out)
	return out
}

func sorted(s []string) []string {
	out := append([]string{}, s...)
	slices.Sort(out)
	return out
}

// TestEngineAgreesWithAnIndependentOracle runs generated requests of every class through the Rego engine and
// through the oracle, with and without configured persistent workloads; it reports the executions and
// disagreements (target zero) and how often each policy fired, so a generator that stops reaching a policy
// shows.
func TestEngineAgreesWithAnIndependentOracle(t *testing.T) {
	for name, oc := range map[string]oracleConfig{
		"any StatefulSet may run persistent parties": {},
		"only mpc-party may run persistent parties":  {persistentWorkloads: []string{"mpc-party"}},
	} {
		t.Run(name, func(t *testing.T) {
			eng, err := engine.New(t.Context(), oracleEngineConfig(oc), nil)
			require.NoError(t, err)
			r := rand.New(rand.NewPCG(20261121, 6))
			const runs = 7000
			disagreements := 0
			fired := map[string]int{}
			for i := range runs {
				g := generate(r, i, oc)
				d, err := eng.Review(t.Context(), g.req, g.inv)
				require.NoError(t, err, g.describe)
				require.True(t, d.Reviewed, g.describe)
				if !slices.Equal(sorted(g.deny), policyIDs(d.Deny)) || !slices.Equal(sorted(g.skipped), policyIDs(d.Skipped)) ||
					!slices.Equal(sorted(g.warn), policyIDs(d.Warn)) {
					disagreements++
					if disagreements <= 20 {
						t.Errorf("disagreement on %s:\n oracle deny %v skip %v\n engine deny %v skip %v warn %v",
							g.describe, sorted(g.deny), sorted(g.skipped), policyIDs(d.Deny), policyIDs(d.Skipped), d.Warn)
					}
				}
				for _, id := range append(policyIDs(d.Deny), policyIDs(d.Skipped)...) {
					fired[id]++
				}
				for _, id := range policyIDs(d.Warn) {
					fired[id+" (break glass)"]++
				}
			}
			t.Logf("differential check: %d executions, %d disagreements; findings per policy: %v", runs, disagreements, fired)
			assert.Zero(t, disagreements)
			for _, id := range append(vocab.PolicyIDs(), vocab.ShareDeletion+" (break glass)") {
				assert.Greater(t, fired[id], 10, "the generator must reach %s, or the comparison proves little of it", id)
			}
		})
	}
}

// TestEngineDecisionEqualsMainRego holds the engine's road (each class's module partially evaluated, the
// enforcement applied in Go) to main.rego's violations evaluated as they stand and partitioned by the same Go
// code, message for message and in order, on generated requests of every class (pods through pods/status and
// pods/ephemeralcontainers, workloads, sessions, Bindings, CONNECTs with an inventory, claims and snapshots,
// with and without a requesting user), under enforcement that mixes deny, warn and off.
func TestEngineDecisionEqualsMainRego(t *testing.T) {
	oc := oracleConfig{persistentWorkloads: []string{"mpc-party"}}
	mixed := oracleEngineConfig(oc)
	mixed.Enforcement[vocab.PartyRoleValid] = vocab.Warn
	mixed.Enforcement[vocab.SessionCompositionSum] = vocab.Warn
	mixed.Enforcement[vocab.SessionPersistentAvailable] = vocab.Warn
	mixed.Enforcement[vocab.WorkloadPartyRole] = vocab.Off
	mixed.Enforcement[vocab.PartyAccess] = vocab.Warn
	mixed.Enforcement[vocab.PartyPersistentOrigin] = vocab.Warn
	mixed.Enforcement[vocab.ShareStorageCopy] = vocab.Warn
	mixed.Enforcement[vocab.ShareStoragePersistentOnly] = vocab.Off
	mixed.Enforcement[vocab.SessionSpecValid] = vocab.Warn
	mixed.Enforcement[vocab.PersistentQuorum] = vocab.Warn
	// Both with the persistent StatefulSet named: without it, a Scale is never judged.
	strict := oracleEngineConfig(oc)
	for name, cfg := range map[string]engine.Config{"every policy denying": strict, "mixed enforcement": mixed} {
		t.Run(name, func(t *testing.T) {
			eng, err := engine.New(t.Context(), cfg, nil)
			require.NoError(t, err)
			main, err := engine.NewMainRego(t.Context(), cfg)
			require.NoError(t, err)
			r := rand.New(rand.NewPCG(20261121, 7))
			const runs = 3000
			differ, nonEmpty := 0, 0
			perClass := map[string]int{}
			for i := range runs {
				g := generate(r, i, oc)
				got, err := eng.Review(t.Context(), g.req, g.inv)
				require.NoError(t, err, g.describe)
				want, err := main.Review(t.Context(), g.req, g.inv)
				require.NoError(t, err, g.describe)
				require.True(t, want.Reviewed, g.describe)
				if len(want.Deny)+len(want.Warn)+len(want.Skipped) > 0 {
					nonEmpty++
					perClass[g.req.Kind.Kind]++
				}
				if !assert.Equal(t, want, got, g.describe) {
					differ++
				}
			}
			t.Logf("two roads: %d requests (%d with a finding: %v), %d decisions differ", runs, nonEmpty, perClass, differ)
			assert.Greater(t, nonEmpty, runs/3, "the generator must produce findings, or the comparison proves little")
			for _, kind := range []string{"Pod", "MPCSession", "Binding", "PersistentVolumeClaim", "VolumeSnapshot", "Scale", "Secret", "StatefulSet"} {
				assert.Greater(t, perClass[kind], 10, "findings for %s", kind)
			}
		})
	}
}
