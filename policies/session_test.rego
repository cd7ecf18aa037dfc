package mpcguard.session_test

import data.mpcguard.lib_test.config
import data.mpcguard.session

# A sign session with threshold t-of-n, and an inventory with plenty of Ready persistent parties.
request(t, n) := {
	"kind": "MPCSession",
	"operation": "CREATE",
	"namespace": "mpc-system",
	"name": "sign-42",
	"session": {"type": "sign", "threshold": {"t": t, "n": n}},
	"inventory": {"available": true, "persistent_ready": 10},
}

composed(t, n, persistent, delegate, temporary) := object.union(request(t, n), {"session": {"composition": {
	"persistent": persistent,
	"delegate": delegate,
	"temporary": temporary,
}}})

with_composition(t, n, composition) := object.union(request(t, n), {"session": {"composition": composition}})

with_ready(req, ready) := object.union(req, {"inventory": {"available": true, "persistent_ready": ready}})

unavailable(req) := object.union(req, {"inventory": {"available": false}})

policies(violations) := {v.policy | some v in violations}

# composition absent, {} and all zeros

test_admits_session_without_composition if {
	v := session.violation with input as request(2, 3)
		with data.mpcguard.config as config
	v == set()
}

test_denies_composition_of_all_zeros if {
	v := session.violation with input as composed(2, 3, 0, 0, 0)
		with data.mpcguard.config as config
	v == {{
		"policy": "session-composition-nonempty",
		"msg": "[session-composition-nonempty] MPCSession mpc-system/sign-42: composition is present but empty (persistent=0, delegate=0, temporary=0); omit it for the strict default (all 3 parties persistent) or give the counts",
	}}
}

test_denies_composition_given_as_an_empty_object if {
	v := session.violation with input as with_composition(2, 3, {})
		with data.mpcguard.config as config
	v == {{
		"policy": "session-composition-nonempty",
		"msg": "[session-composition-nonempty] MPCSession mpc-system/sign-42: composition is present but empty (persistent=0, delegate=0, temporary=0); omit it for the strict default (all 3 parties persistent) or give the counts",
	}}
}

test_partial_composition_counts_absent_fields_as_zero if {
	v := session.violation with input as with_composition(2, 3, {"persistent": 3})
		with data.mpcguard.config as config
	v == set()
}

# session-delegate-only-threshold

test_denies_non_persistent_parties_reaching_exactly_t if {
	v := session.violation with input as composed(2, 3, 1, 2, 0)
		with data.mpcguard.config as config
	v == {{
		"policy": "session-delegate-only-threshold",
		"msg": "[session-delegate-only-threshold] MPCSession mpc-system/sign-42: 2 delegate + 0 temporary parties could reach the signing threshold t=2 without a persistent party; use at most 1 non-persistent party or raise t",
	}}
}

test_denies_delegate_and_temporary_parties_reaching_t_together if {
	v := session.violation with input as composed(3, 5, 2, 2, 1)
		with data.mpcguard.config as config
	v == {{
		"policy": "session-delegate-only-threshold",
		"msg": "[session-delegate-only-threshold] MPCSession mpc-system/sign-42: 2 delegate + 1 temporary parties could reach the signing threshold t=3 without a persistent party; use at most 2 non-persistent parties or raise t",
	}}
}

test_admits_non_persistent_parties_at_t_minus_one if {
	v := session.violation with input as composed(2, 3, 2, 1, 0)
		with data.mpcguard.config as config
	v == set()
}

test_admits_delegate_and_temporary_parties_at_t_minus_one if {
	v := session.violation with input as composed(3, 3, 1, 1, 1)
		with data.mpcguard.config as config
	v == set()
}

test_denies_any_non_persistent_party_when_t_is_one if {
	v := session.violation with input as composed(1, 2, 1, 0, 1)
		with data.mpcguard.config as config
	v == {{
		"policy": "session-delegate-only-threshold",
		"msg": "[session-delegate-only-threshold] MPCSession mpc-system/sign-42: 0 delegate + 1 temporary parties could reach the signing threshold t=1 without a persistent party; use at most 0 non-persistent parties or raise t",
	}}
}

test_threshold_of_zero_is_a_range_error_not_a_delegate_error if {
	v := session.violation with input as composed(0, 3, 2, 1, 0)
		with data.mpcguard.config as config
	policies(v) == {"session-threshold-range"}
}

# session-composition-sum

test_denies_composition_one_over_n if {
	v := session.violation with input as composed(3, 3, 2, 1, 1)
		with data.mpcguard.config as config
	v == {{
		"policy": "session-composition-sum",
		"msg": "[session-composition-sum] MPCSession mpc-system/sign-42: composition adds up to 4 (persistent=2, delegate=1, temporary=1), not n=3; make the counts add up to n",
	}}
}

test_denies_composition_one_under_n if {
	v := session.violation with input as composed(2, 3, 2, 0, 0)
		with data.mpcguard.config as config
	v == {{
		"policy": "session-composition-sum",
		"msg": "[session-composition-sum] MPCSession mpc-system/sign-42: composition adds up to 2 (persistent=2, delegate=0, temporary=0), not n=3; make the counts add up to n",
	}}
}

test_admits_composition_adding_up_to_n if {
	v := session.violation with input as composed(2, 3, 3, 0, 0)
		with data.mpcguard.config as config
	v == set()
}

# session-threshold-range

test_denies_threshold_of_zero if {
	v := session.violation with input as request(0, 3)
		with data.mpcguard.config as config
	v == {{
		"policy": "session-threshold-range",
		"msg": "[session-threshold-range] MPCSession mpc-system/sign-42: threshold t=0 is outside 1..n (n=3); set 1 <= t <= n",
	}}
}

test_denies_threshold_above_n if {
	v := session.violation with input as request(4, 3)
		with data.mpcguard.config as config
	v == {{
		"policy": "session-threshold-range",
		"msg": "[session-threshold-range] MPCSession mpc-system/sign-42: threshold t=4 is outside 1..n (n=3); set 1 <= t <= n",
	}}
}

test_admits_threshold_equal_to_n_and_to_one if {
	count(session.violation) == 0 with input as request(3, 3)
		with data.mpcguard.config as config
	count(session.violation) == 0 with input as request(1, 3)
		with data.mpcguard.config as config
}

test_denies_absent_threshold_as_zero if {
	req := object.union(request(2, 3), {"session": {"threshold": null}})
	v := session.violation with input as req
		with data.mpcguard.config as config
	v == {{
		"policy": "session-threshold-range",
		"msg": "[session-threshold-range] MPCSession mpc-system/sign-42: threshold t=0 is outside 1..n (n=0); set 1 <= t <= n",
	}}
}

test_non_numeric_threshold_counts_as_zero_without_error if {
	v := session.violation with input as request("2", "3")
		with data.mpcguard.config as config
	policies(v) == {"session-threshold-range"}
}

# session-persistent-available

test_denies_fewer_ready_persistent_parties_than_n if {
	v := session.violation with input as with_ready(request(2, 3), 2)
		with data.mpcguard.config as config
	v == {{
		"policy": "session-persistent-available",
		"msg": "[session-persistent-available] MPCSession mpc-system/sign-42: needs 3 Ready persistent parties but namespace mpc-system has 2; scale up the persistent pool or wait for its parties to be Ready",
	}}
}

test_admits_exactly_the_needed_ready_persistent_parties if {
	v := session.violation with input as with_ready(request(2, 3), 3)
		with data.mpcguard.config as config
	v == set()
}

test_composition_sets_the_persistent_parties_needed if {
	short := session.violation with input as with_ready(composed(2, 3, 2, 1, 0), 1)
		with data.mpcguard.config as config
	enough := session.violation with input as with_ready(composed(2, 3, 2, 1, 0), 2)
		with data.mpcguard.config as config
	short == {{
		"policy": "session-persistent-available",
		"msg": "[session-persistent-available] MPCSession mpc-system/sign-42: needs 2 Ready persistent parties but namespace mpc-system has 1; scale up the persistent pool or wait for its parties to be Ready",
	}}
	enough == set()
}

test_one_needed_persistent_party_is_singular if {
	v := session.violation with input as with_ready(request(1, 1), 0)
		with data.mpcguard.config as config
	v == {{
		"policy": "session-persistent-available",
		"msg": "[session-persistent-available] MPCSession mpc-system/sign-42: needs 1 Ready persistent party but namespace mpc-system has 0; scale up the persistent pool or wait for its parties to be Ready",
	}}
}

test_skips_inventory_check_when_inventory_is_unavailable if {
	req := unavailable(with_ready(request(2, 3), 0))
	v := session.violation with input as req
		with data.mpcguard.config as config
	s := session.skipped with input as req
		with data.mpcguard.config as config
	v == set()
	s == {{
		"policy": "session-persistent-available",
		"msg": "[session-persistent-available] MPCSession mpc-system/sign-42: not checked: no cluster inventory (needs 3 Ready persistent parties)",
	}}
}

test_skips_inventory_check_when_inventory_is_absent_or_incomplete if {
	absent := session.skipped with input as object.remove(request(2, 3), ["inventory"])
		with data.mpcguard.config as config
	no_count := session.skipped with input as object.union(request(2, 3), {"inventory": {"available": true, "persistent_ready": null}})
		with data.mpcguard.config as config
	policies(absent) == {"session-persistent-available"}
	policies(no_count) == {"session-persistent-available"}
}

test_does_not_skip_when_inventory_is_available if {
	s := session.skipped with input as request(2, 3)
		with data.mpcguard.config as config
	s == set()
}

test_needs_no_inventory_when_no_persistent_party_is_needed if {
	req := unavailable(with_composition(2, 3, {}))
	s := session.skipped with input as req
		with data.mpcguard.config as config
	s == set()
}

# scope

test_reports_every_session_violation_at_once if {
	v := session.violation with input as with_ready(composed(6, 4, 1, 4, 2), 0)
		with data.mpcguard.config as config
	policies(v) == {
		"session-delegate-only-threshold",
		"session-composition-sum",
		"session-threshold-range",
		"session-persistent-available",
	}
}

test_checks_session_on_update if {
	v := session.violation with input as object.union(request(0, 3), {"operation": "UPDATE"})
		with data.mpcguard.config as config
	policies(v) == {"session-threshold-range"}
}

test_ignores_session_on_delete if {
	req := unavailable(object.union(composed(0, 3, 0, 0, 0), {"operation": "DELETE"}))
	v := session.violation with input as req
		with data.mpcguard.config as config
	s := session.skipped with input as req
		with data.mpcguard.config as config
	v == set()
	s == set()
}

test_ignores_session_fields_on_another_kind if {
	req := unavailable(object.union(request(0, 3), {"kind": "Deployment"}))
	v := session.violation with input as req
		with data.mpcguard.config as config
	s := session.skipped with input as req
		with data.mpcguard.config as config
	v == set()
	s == set()
}

test_ignores_session_without_spec if {
	req := unavailable(object.remove(request(0, 3), ["session"]))
	v := session.violation with input as req
		with data.mpcguard.config as config
	s := session.skipped with input as req
		with data.mpcguard.config as config
	v == set()
	s == set()
}
