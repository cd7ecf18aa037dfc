# METADATA
# title: MPCSession policies
# description: |
#   Threshold and party composition of an MPCSession (t-of-n: any t of the n parties
#   can sign). A session without a composition is the strict default: all n parties persistent.
package mpcguard.session

import data.mpcguard.lib

# METADATA
# title: session
# description: The admitted MPCSession's spec (CREATE or UPDATE).
session := input.session if {
	lib.checks(input, "MPCSession")
	is_object(input.session)
}

# METADATA
# title: threshold
# description: The session's threshold {t, n}.
threshold := object.get(session, "threshold", {})

# METADATA
# title: t
# description: The signing threshold, any t of the n parties can sign (0 when absent).
t := lib.count_value(threshold, "t")

# METADATA
# title: n
# description: The number of parties (0 when absent).
n := lib.count_value(threshold, "n")

# METADATA
# title: composition
# description: The session's composition with every count a number (0 when absent); undefined when the spec has none.
composition := {role: lib.count_value(session.composition, role) |
	some role in ["persistent", "delegate", "temporary"]
} if {
	is_object(session.composition)
}

# METADATA
# title: empty composition
# description: The composition is present and all its counts are zero.
empty_composition if {
	every _, value in composition {
		value == 0
	}
}

# METADATA
# title: composition sum
# description: persistent + delegate + temporary.
composition_sum := (composition.persistent + composition.delegate) + composition.temporary

# METADATA
# title: session-composition-nonempty
# description: A composition that is present must not be empty; an empty one never means "anything goes".
violation contains {"policy": id, "msg": msg} if {
	id := "session-composition-nonempty"
	empty_composition
	msg := sprintf("%scomposition is present but empty (persistent=0, delegate=0, temporary=0); omit it for the strict default (all %v %s persistent) or give the counts", [
		lib.prefix(id, input),
		n, lib.party_noun(n),
	])
}

# METADATA
# title: session-delegate-only-threshold
# description: Non-persistent parties alone must never reach the signing threshold (delegate + temporary < t).
violation contains {"policy": id, "msg": msg} if {
	id := "session-delegate-only-threshold"
	t >= 1
	composition.delegate + composition.temporary >= t
	msg := sprintf("%s%v delegate + %v temporary parties could reach the signing threshold t=%v without a persistent party; use at most %v non-persistent %s or raise t", [
		lib.prefix(id, input),
		composition.delegate, composition.temporary, t,
		t - 1, lib.party_noun(t - 1),
	])
}

# METADATA
# title: session-composition-sum
# description: A non-empty composition's counts add up to n.
violation contains {"policy": id, "msg": msg} if {
	id := "session-composition-sum"
	not empty_composition
	composition_sum != n
	msg := sprintf("%scomposition adds up to %v (persistent=%v, delegate=%v, temporary=%v), not n=%v; make the counts add up to n", [
		lib.prefix(id, input),
		composition_sum,
		composition.persistent, composition.delegate, composition.temporary,
		n,
	])
}

# METADATA
# title: threshold in range
# description: 1 <= t <= n.
threshold_in_range if {
	t >= 1
	t <= n
}

# METADATA
# title: session-threshold-range
# description: The threshold satisfies 1 <= t <= n.
violation contains {"policy": id, "msg": msg} if {
	id := "session-threshold-range"
	session
	not threshold_in_range
	msg := sprintf("%sthreshold t=%v is outside 1..n (n=%v); set 1 <= t <= n", [
		lib.prefix(id, input),
		t, n,
	])
}

# METADATA
# title: persistent needed
# description: The Ready persistent parties the session needs; composition.persistent, or n under the strict default.
persistent_needed := composition.persistent if {
	composition
} else := n

# METADATA
# title: inventory available
# description: The webhook's cluster inventory is on and synced, and counted the Ready persistent parties.
inventory_available if {
	input.inventory.available == true
	is_number(input.inventory.persistent_ready)
}

# METADATA
# title: persistent ready
# description: The Ready persistent party pods in the namespace, when the cluster inventory is available.
persistent_ready := input.inventory.persistent_ready if inventory_available

# METADATA
# title: session-persistent-available
# description: The persistent parties a session needs are Ready in its namespace.
violation contains {"policy": id, "msg": msg} if {
	id := "session-persistent-available"
	persistent_needed > 0
	persistent_ready < persistent_needed
	msg := sprintf("%sneeds %v Ready persistent %s but namespace %s has %v; scale up the persistent pool or wait for its parties to be Ready", [
		lib.prefix(id, input),
		persistent_needed, lib.party_noun(persistent_needed),
		object.get(input, "namespace", ""),
		persistent_ready,
	])
}

# METADATA
# title: skipped session-persistent-available
# description: Without a cluster inventory the check cannot run; it is reported as skipped, never silently passed.
skipped contains {"policy": id, "msg": msg} if {
	id := "session-persistent-available"
	persistent_needed > 0
	not inventory_available
	msg := sprintf("%snot checked: no cluster inventory (needs %v Ready persistent %s)", [
		lib.prefix(id, input),
		persistent_needed, lib.party_noun(persistent_needed),
	])
}
