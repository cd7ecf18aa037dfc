package mpcguard.session_test

import data.mpcguard.lib_test.config
import data.mpcguard.lib_test.policies
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

# The request with its spec replaced as a whole (object.union would merge it into the default one).
with_spec(spec) := object.union(object.remove(request(2, 3), ["session"]), {"session": spec})

with_ready(req, ready) := object.union(req, {"inventory": {"available": true, "persistent_ready": ready}})

unavailable(req) := object.union(req, {"inventory": {"available": false}})

# An UPDATE of req whose spec before was old_spec.
update(req, old_spec) := object.union(req, {"operation": "UPDATE", "old_session": old_spec})

spec_fix := "write the spec as the MPCSession CRD defines it"

# The spec-valid problems of a violation set, as sorted in its message.
spec_msg(v) := msg if {
	some x in v
	x.policy == "session-spec-valid"
	msg := x.msg
}

# composition absent, {} and all zeros

test_admits_session_without_composition if {
	v := session.violation with input as request(2, 3)
		with data.mpcguard.config as config
	v == set()
}

test_admits_each_session_type if {
	every type in ["keygen", "sign", "reshare"] {
		count(session.violation) == 0 with input as object.union(request(2, 3), {"session": {"type": type}})
			with data.mpcguard.config as config
	}
}

test_admits_null_composition_as_the_strict_default if {
	v := session.violation with input as with_composition(2, 3, null)
		with data.mpcguard.config as config
	v == set()
}

test_denies_composition_of_all_zeros if {
	v := session.violation with input as composed(2, 3, 0, 0, 0)
		with data.mpcguard.config as config
	v == {{
		"policy": "session-composition-nonempty",
		"msg": "composition is present but empty (persistent=0, delegate=0, temporary=0); omit it for the strict default (all 3 parties persistent) or give the counts",
	}}
}

test_denies_composition_given_as_an_empty_object if {
	v := session.violation with input as with_composition(1, 1, {})
		with data.mpcguard.config as config
	v == {{
		"policy": "session-composition-nonempty",
		"msg": "composition is present but empty (persistent=0, delegate=0, temporary=0); omit it for the strict default (all 1 party persistent) or give the counts",
	}}
}

test_partial_composition_counts_absent_and_null_fields_as_zero if {
	absent := session.violation with input as with_composition(2, 3, {"persistent": 3})
		with data.mpcguard.config as config
	null_counts := session.violation with input as with_composition(2, 3, {"persistent": 3, "delegate": null})
		with data.mpcguard.config as config
	absent == set()
	null_counts == set()
}

# session-delegate-only-threshold

test_denies_non_persistent_parties_reaching_exactly_t if {
	v := session.violation with input as composed(2, 3, 1, 2, 0)
		with data.mpcguard.config as config
	v == {{
		"policy": "session-delegate-only-threshold",
		"msg": "2 delegate + 0 temporary parties could reach the signing threshold t=2 without a persistent party; use at most 1 non-persistent party or raise t",
	}}
}

test_denies_delegate_and_temporary_parties_reaching_t_together if {
	v := session.violation with input as composed(3, 5, 2, 2, 1)
		with data.mpcguard.config as config
	v == {{
		"policy": "session-delegate-only-threshold",
		"msg": "2 delegate + 1 temporary parties could reach the signing threshold t=3 without a persistent party; use at most 2 non-persistent parties or raise t",
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
		"msg": "0 delegate + 1 temporary parties could reach the signing threshold t=1 without a persistent party; use at most 0 non-persistent parties or raise t",
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
		"msg": "composition adds up to 4 (persistent=2, delegate=1, temporary=1), not n=3; make the counts add up to n",
	}}
}

test_denies_composition_one_under_n if {
	v := session.violation with input as composed(2, 3, 2, 0, 0)
		with data.mpcguard.config as config
	v == {{
		"policy": "session-composition-sum",
		"msg": "composition adds up to 2 (persistent=2, delegate=0, temporary=0), not n=3; make the counts add up to n",
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
		"msg": "threshold t=0 is outside 1..n (n=3); set 1 <= t <= n",
	}}
}

test_denies_threshold_above_n if {
	v := session.violation with input as request(4, 3)
		with data.mpcguard.config as config
	v == {{
		"policy": "session-threshold-range",
		"msg": "threshold t=4 is outside 1..n (n=3); set 1 <= t <= n",
	}}
}

test_admits_threshold_equal_to_n_and_to_one if {
	count(session.violation) == 0 with input as request(3, 3)
		with data.mpcguard.config as config
	count(session.violation) == 0 with input as request(1, 3)
		with data.mpcguard.config as config
}

# session-spec-valid

test_denies_unknown_top_level_key_in_another_case if {
	v := session.violation with input as with_spec({"type": "sign", "Threshold": {"t": 2, "n": 3}})
		with data.mpcguard.config as config
	policies(v) == {"session-spec-valid", "session-threshold-range"}
	{
		"policy": "session-spec-valid",
		"msg": sprintf("spec.threshold is missing or not an object; unknown field spec.Threshold (fields are case-sensitive: type, threshold, composition); %s", [spec_fix]),
	} in v
}

test_denies_an_unknown_top_level_key_beside_a_valid_spec if {
	v := session.violation with input as object.union(request(2, 3), {"session": {"parties": ["p-0"]}})
		with data.mpcguard.config as config
	v == {{
		"policy": "session-spec-valid",
		"msg": sprintf("unknown field spec.parties (fields are case-sensitive: type, threshold, composition); %s", [spec_fix]),
	}}
}

test_denies_threshold_keys_in_another_case if {
	v := session.violation with input as with_spec({"type": "sign", "threshold": {"t": 2, "N": 3}})
		with data.mpcguard.config as config
	spec_msg(v) == sprintf("spec.threshold.n is (absent), not a whole number from 1; unknown field spec.threshold.N (t and n are lower case); %s", [spec_fix])
}

test_denies_composition_keys_in_another_case if {
	v := session.violation with input as with_composition(2, 3, {"persistent": 2, "Delegate": 1})
		with data.mpcguard.config as config
	policies(v) == {"session-spec-valid", "session-composition-sum"}
	spec_msg(v) == sprintf("unknown field spec.composition.Delegate (persistent, delegate and temporary are lower case); %s", [spec_fix])
	fractional := session.violation with input as with_composition(2, 3, {"persistent": 3, "Delegate": 0.5})
		with data.mpcguard.config as config
	spec_msg(fractional) == sprintf("unknown field spec.composition.Delegate (persistent, delegate and temporary are lower case); %s", [spec_fix])
}

test_denies_unknown_or_absent_session_type if {
	sign_upper := session.violation with input as object.union(request(2, 3), {"session": {"type": "Sign"}})
		with data.mpcguard.config as config
	transfer := session.violation with input as object.union(request(2, 3), {"session": {"type": "transfer"}})
		with data.mpcguard.config as config
	absent := session.violation with input as with_spec({"threshold": {"t": 2, "n": 3}})
		with data.mpcguard.config as config
	sign_upper == {{"policy": "session-spec-valid", "msg": sprintf("spec.type Sign is not one of keygen, sign, reshare; %s", [spec_fix])}}
	transfer == {{"policy": "session-spec-valid", "msg": sprintf("spec.type transfer is not one of keygen, sign, reshare; %s", [spec_fix])}}
	absent == {{"policy": "session-spec-valid", "msg": sprintf("spec.type (absent) is not one of keygen, sign, reshare; %s", [spec_fix])}}
}

test_denies_negative_counts if {
	t := session.violation with input as request(-1, 3)
		with data.mpcguard.config as config
	persistent := session.violation with input as composed(2, 3, -1, 1, 0)
		with data.mpcguard.config as config
	policies(t) == {"session-spec-valid", "session-threshold-range"}
	spec_msg(t) == sprintf("spec.threshold.t is -1, not a whole number from 1; %s", [spec_fix])
	"session-spec-valid" in policies(persistent)
	spec_msg(persistent) == sprintf("spec.composition.persistent is -1, not a whole number from 0; %s", [spec_fix])
}

test_denies_fractional_counts if {
	n := session.violation with input as request(2, 3.5)
		with data.mpcguard.config as config
	delegate := session.violation with input as composed(2, 3, 2, 0.5, 0)
		with data.mpcguard.config as config
	spec_msg(n) == sprintf("spec.threshold.n is 3.5, not a whole number from 1; %s", [spec_fix])
	spec_msg(delegate) == sprintf("spec.composition.delegate is 0.5, not a whole number from 0; %s", [spec_fix])
}

test_denies_counts_beyond_int32 if {
	v := session.violation with input as request(2, 2147483648)
		with data.mpcguard.config as config
	spec_msg(v) == sprintf("spec.threshold.n is 2147483648, not a whole number from 1; %s", [spec_fix])
}

test_denies_counts_given_as_strings if {
	v := session.violation with input as request("2", "3")
		with data.mpcguard.config as config
	policies(v) == {"session-spec-valid", "session-threshold-range"}
	spec_msg(v) == sprintf("spec.threshold.n is 3, not a whole number from 1; spec.threshold.t is 2, not a whole number from 1; %s", [spec_fix])
}

test_denies_missing_t_or_n if {
	no_t := session.violation with input as with_spec({"type": "sign", "threshold": {"n": 3}})
		with data.mpcguard.config as config
	empty := session.violation with input as with_spec({"type": "sign", "threshold": {}})
		with data.mpcguard.config as config
	spec_msg(no_t) == sprintf("spec.threshold.t is (absent), not a whole number from 1; %s", [spec_fix])
	spec_msg(empty) == sprintf("spec.threshold.n is (absent), not a whole number from 1; spec.threshold.t is (absent), not a whole number from 1; %s", [spec_fix])
}

test_denies_missing_or_malformed_threshold if {
	every spec in [{"type": "sign"}, {"type": "sign", "threshold": null}, {"type": "sign", "threshold": "2-of-3"}] {
		v := session.violation with input as with_spec(spec)
			with data.mpcguard.config as config
		v == {
			{"policy": "session-spec-valid", "msg": sprintf("spec.threshold is missing or not an object; %s", [spec_fix])},
			{"policy": "session-threshold-range", "msg": "threshold t=0 is outside 1..n (n=0); set 1 <= t <= n"},
		}
	}
}

test_denies_threshold_and_composition_given_as_arrays_without_naming_indexes if {
	v := session.violation with input as with_spec({"type": "sign", "threshold": [2, 3], "composition": [3, 0, 0]})
		with data.mpcguard.config as config
	spec_msg(v) == sprintf("spec.composition is not an object; spec.threshold is missing or not an object; %s", [spec_fix])
}

test_denies_spec_that_is_not_an_object if {
	every spec in ["sign 2-of-3", [], null, 3] {
		v := session.violation with input as with_spec(spec)
			with data.mpcguard.config as config
		v == {{"policy": "session-spec-valid", "msg": sprintf("spec is missing or not an object; %s", [spec_fix])}}
	}
}

test_denies_session_without_spec if {
	v := session.violation with input as object.remove(request(2, 3), ["session"])
		with data.mpcguard.config as config
	v == {{"policy": "session-spec-valid", "msg": sprintf("spec is missing or not an object; %s", [spec_fix])}}
}

test_denies_composition_that_is_not_an_object if {
	v := session.violation with input as with_composition(2, 3, "2 persistent, 1 delegate")
		with data.mpcguard.config as config
	v == {{"policy": "session-spec-valid", "msg": sprintf("spec.composition is not an object; %s", [spec_fix])}}
}

# session-persistent-available

test_denies_fewer_ready_persistent_parties_than_n if {
	v := session.violation with input as with_ready(request(2, 3), 2)
		with data.mpcguard.config as config
	v == {{
		"policy": "session-persistent-available",
		"msg": "needs 3 Ready persistent parties but namespace mpc-system has 2; scale up the persistent pool or wait for its parties to be Ready",
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
		"msg": "needs 2 Ready persistent parties but namespace mpc-system has 1; scale up the persistent pool or wait for its parties to be Ready",
	}}
	enough == set()
}

test_one_needed_persistent_party_is_singular if {
	v := session.violation with input as with_ready(request(1, 1), 0)
		with data.mpcguard.config as config
	v == {{
		"policy": "session-persistent-available",
		"msg": "needs 1 Ready persistent party but namespace mpc-system has 0; scale up the persistent pool or wait for its parties to be Ready",
	}}
}

test_reports_inventory_check_as_skipped_when_inventory_is_unavailable if {
	v := session.violation with input as unavailable(with_ready(request(2, 3), 0))
		with data.mpcguard.config as config
	v == {{
		"policy": "session-persistent-available",
		"msg": "not checked: no cluster inventory (needs 3 Ready persistent parties)",
		"skipped": true,
	}}
}

test_reports_inventory_check_as_skipped_when_inventory_is_absent_or_incomplete if {
	absent := session.violation with input as object.remove(request(2, 3), ["inventory"])
		with data.mpcguard.config as config
	no_count := session.violation with input as object.union(request(2, 3), {"inventory": {"available": true, "persistent_ready": null}})
		with data.mpcguard.config as config
	every v in [absent, no_count] {
		v == {{
			"policy": "session-persistent-available",
			"msg": "not checked: no cluster inventory (needs 3 Ready persistent parties)",
			"skipped": true,
		}}
	}
}

test_needs_no_inventory_when_no_persistent_party_is_needed if {
	v := session.violation with input as unavailable(with_composition(2, 3, {}))
		with data.mpcguard.config as config
	policies(v) == {"session-composition-nonempty"}
}

test_admits_update_with_the_same_spec_even_with_no_ready_party if {
	# e.g. the finalizer's removal while the session terminates
	req := with_ready(request(2, 3), 0)
	v := session.violation with input as update(req, req.session)
		with data.mpcguard.config as config
	v == set()
}

test_admits_update_with_the_same_spec_without_inventory if {
	req := unavailable(request(2, 3))
	v := session.violation with input as update(req, req.session)
		with data.mpcguard.config as config
	v == set()
}

test_denies_update_that_changes_the_spec_without_enough_ready_parties if {
	v := session.violation with input as update(with_ready(request(2, 3), 2), {"type": "sign", "threshold": {"t": 2, "n": 2}})
		with data.mpcguard.config as config
	v == {{
		"policy": "session-persistent-available",
		"msg": "needs 3 Ready persistent parties but namespace mpc-system has 2; scale up the persistent pool or wait for its parties to be Ready",
	}}
}

test_denies_update_without_the_old_spec_without_enough_ready_parties if {
	v := session.violation with input as object.union(with_ready(request(2, 3), 0), {"operation": "UPDATE"})
		with data.mpcguard.config as config
	policies(v) == {"session-persistent-available"}
}

test_admits_an_update_that_keeps_an_invalid_legacy_spec_so_a_finalizer_can_be_removed if {
	req := with_ready(request(0, 3), 0)
	v := session.violation with input as update(req, req.session)
		with data.mpcguard.config as config
	v == set()
}

test_checks_the_spec_on_an_update_that_changes_it if {
	req := with_ready(request(0, 3), 3)
	v := session.violation with input as update(req, {"type": "sign", "threshold": {"t": 2, "n": 3}})
		with data.mpcguard.config as config
	policies(v) == {"session-threshold-range"}
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

test_ignores_session_on_delete if {
	v := session.violation with input as unavailable(object.union(composed(0, 3, 0, 0, 0), {"operation": "DELETE"}))
		with data.mpcguard.config as config
	v == set()
}

test_ignores_session_fields_on_another_kind if {
	v := session.violation with input as unavailable(object.union(with_spec("x"), {"kind": "Deployment"}))
		with data.mpcguard.config as config
	v == set()
}
