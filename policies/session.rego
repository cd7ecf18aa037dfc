# METADATA
# title: MPCSession policies
# description: |
#   Threshold and party composition of an MPCSession (t-of-n: any t of the n parties
#   can sign). A session without a composition is the strict default: all n parties
#   persistent. input.session is the spec as sent, read without trusting the CRD
#   schema: session-spec-valid decides what the schema would, the others read counts
#   that are not whole numbers as 0.
package mpcguard.session

import data.mpcguard.lib

# METADATA
# title: session request
# description: |
#   An MPCSession CREATE, or an UPDATE that changes the spec. Removing a finalizer or a
#   label from a session must never depend on its spec or its parties, or a session
#   left from before a policy could never finish terminating.
session_request if {
	lib.checks(input, "MPCSession")
	spec_changed
}

# METADATA
# title: session
# description: The admitted MPCSession's spec, when it is an object.
session := input.session if {
	session_request
	is_object(input.session)
}

# METADATA
# title: roles
# description: The composition's counts, one per role.
roles := ["persistent", "delegate", "temporary"]

# METADATA
# title: threshold
# description: The session's threshold {t, n}.
threshold := object.get(session, "threshold", {})

# METADATA
# title: whole
# description: The value at obj[key] is a whole number from 0 to 2^31-1 (the schema's int32).
whole(obj, key) if {
	is_number(obj[key])
	obj[key] == floor(obj[key])
	obj[key] >= 0
	obj[key] <= 2147483647
}

# METADATA
# title: count
# description: A count of the spec, or 0 when it is absent or not a whole number (session-spec-valid denies those).
count_of(obj, key) := obj[key] if {
	is_object(obj)
	whole(obj, key)
} else := 0

# METADATA
# title: t
# description: The signing threshold, any t of the n parties can sign (0 when absent).
t := count_of(threshold, "t")

# METADATA
# title: n
# description: The number of parties (0 when absent).
n := count_of(threshold, "n")

# METADATA
# title: composition
# description: The session's composition with every count a number (0 when absent); undefined when the spec has none.
composition := {role: count_of(session.composition, role) |
	some role in roles
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
# title: spec problems
# description: What the CRD schema would refuse in the spec, each as a short sentence naming the field.
spec_problems contains "spec is missing or not an object" if {
	session_request
	not is_object(object.get(input, "session", null))
}

spec_problems contains sprintf("unknown field spec.%s (fields are case-sensitive: type, threshold, composition)", [key]) if {
	some key, _ in session
	not key in {"type", "threshold", "composition"}
}

spec_problems contains sprintf("spec.type %v is not one of keygen, sign, reshare", [object.get(session, "type", "(absent)")]) if {
	session
	not object.get(session, "type", null) in {"keygen", "sign", "reshare"}
}

spec_problems contains "spec.threshold is missing or not an object" if {
	session
	not is_object(object.get(session, "threshold", null))
}

spec_problems contains sprintf("unknown field spec.threshold.%s (t and n are lower case)", [key]) if {
	is_object(session.threshold)
	some key, _ in session.threshold
	not key in {"t", "n"}
}

spec_problems contains sprintf("spec.threshold.%s is %v, not a whole number from 1", [key, object.get(session.threshold, key, "(absent)")]) if {
	is_object(session.threshold)
	some key in ["t", "n"]
	not whole(session.threshold, key)
}

spec_problems contains "spec.composition is not an object" if {
	session.composition != null
	not is_object(session.composition)
}

spec_problems contains sprintf("unknown field spec.composition.%s (persistent, delegate and temporary are lower case)", [key]) if {
	is_object(session.composition)
	some key, _ in session.composition
	not key in roles
}

spec_problems contains sprintf("spec.composition.%s is %v, not a whole number from 0", [key, session.composition[key]]) if {
	is_object(session.composition)
	some key in roles
	session.composition[key] != null
	not whole(session.composition, key)
}

# METADATA
# title: session-spec-valid
# description: The spec is what the CRD schema says, checked here as well so that no road around the schema lets a malformed session through.
violation contains {"policy": "session-spec-valid", "msg": msg} if {
	count(spec_problems) > 0
	msg := sprintf("%s; write the spec as the MPCSession CRD defines it", [concat("; ", sort(spec_problems))])
}

# METADATA
# title: session-composition-nonempty
# description: A composition that is present must not be empty; an empty one never means "anything goes".
violation contains {"policy": "session-composition-nonempty", "msg": msg} if {
	empty_composition
	msg := sprintf("composition is present but empty (persistent=0, delegate=0, temporary=0); omit it for the strict default (all %v %s persistent) or give the counts", [
		n, lib.party_noun(n),
	])
}

# METADATA
# title: session-delegate-only-threshold
# description: Non-persistent parties alone must never reach the signing threshold (delegate + temporary < t).
violation contains {"policy": "session-delegate-only-threshold", "msg": msg} if {
	t >= 1
	composition.delegate + composition.temporary >= t
	msg := sprintf("%v delegate + %v temporary parties could reach the signing threshold t=%v without a persistent party; use at most %v non-persistent %s or raise t", [
		composition.delegate, composition.temporary, t,
		t - 1, lib.party_noun(t - 1),
	])
}

# METADATA
# title: session-composition-sum
# description: A non-empty composition's counts add up to n.
violation contains {"policy": "session-composition-sum", "msg": msg} if {
	not empty_composition
	composition_sum != n
	msg := sprintf("composition adds up to %v (persistent=%v, delegate=%v, temporary=%v), not n=%v; make the counts add up to n", [
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
violation contains {"policy": "session-threshold-range", "msg": msg} if {
	session
	not threshold_in_range
	msg := sprintf("threshold t=%v is outside 1..n (n=%v); set 1 <= t <= n", [t, n])
}

# METADATA
# title: persistent needed
# description: The Ready persistent parties the session needs; composition.persistent, or n under the strict default.
persistent_needed := composition.persistent if {
	composition
} else := n

# METADATA
# title: spec changed
# description: The request sets the spec, a CREATE or an UPDATE whose spec differs.
spec_changed if input.operation == "CREATE"

spec_changed if {
	input.operation == "UPDATE"
	object.get(input, "session", null) != object.get(input, "old_session", null)
}

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
violation contains {"policy": "session-persistent-available", "msg": msg} if {
	session
	spec_changed
	persistent_needed > 0
	persistent_ready < persistent_needed
	msg := sprintf("needs %v Ready persistent %s but namespace %s has %v; scale up the persistent pool or wait for its parties to be Ready", [
		persistent_needed, lib.party_noun(persistent_needed),
		object.get(input, "namespace", ""),
		persistent_ready,
	])
}

# METADATA
# title: session-persistent-available
# description: Without a cluster inventory the check cannot run; it is reported as skipped, never silently passed.
violation contains {"policy": "session-persistent-available", "msg": msg, "skipped": true} if {
	session
	spec_changed
	persistent_needed > 0
	not inventory_available
	msg := sprintf("not checked: no cluster inventory (needs %v Ready persistent %s)", [
		persistent_needed, lib.party_noun(persistent_needed),
	])
}
