package mpcguard.main_test

import data.mpcguard.lib_test.config
import data.mpcguard.lib_test.custom_config
import data.mpcguard.lib_test.party_labels
import data.mpcguard.main

empty_decision := {"deny": [], "warn": [], "skipped": []}

party_selector := {"app.kubernetes.io/component": "mpc-party"}

pod_request(labels) := {
	"kind": "Pod",
	"operation": "CREATE",
	"namespace": "mpc-system",
	"name": "p-0",
	"pod": {"labels": labels},
}

session_request(t, n, composition, inventory) := {
	"kind": "MPCSession",
	"operation": "CREATE",
	"namespace": "mpc-system",
	"name": "sign-42",
	"session": {"type": "sign", "threshold": {"t": t, "n": n}, "composition": composition},
	"inventory": inventory,
}

ready(count) := {"available": true, "persistent_ready": count}

no_inventory := {"available": false}

with_enforcement(enforcement) := object.union(config, {"enforcement": enforcement})

delegate_only := {
	"policy": "session-delegate-only-threshold",
	"msg": "[session-delegate-only-threshold] MPCSession mpc-system/sign-42: 2 delegate + 0 temporary parties could reach the signing threshold t=2 without a persistent party; use at most 1 non-persistent party or raise t",
}

composition_sum := {
	"policy": "session-composition-sum",
	"msg": "[session-composition-sum] MPCSession mpc-system/sign-42: composition adds up to 4 (persistent=2, delegate=2, temporary=0), not n=3; make the counts add up to n",
}

persistent_available := {
	"policy": "session-persistent-available",
	"msg": "[session-persistent-available] MPCSession mpc-system/sign-42: needs 2 Ready persistent parties but namespace mpc-system has 1; scale up the persistent pool or wait for its parties to be Ready",
}

persistent_skipped := {
	"policy": "session-persistent-available",
	"msg": "[session-persistent-available] MPCSession mpc-system/sign-42: not checked: no cluster inventory (needs 2 Ready persistent parties)",
}

# t=2, n=3 with 2 persistent + 2 delegate: delegates reach t, and the counts add up to 4.
bad_session(inventory) := session_request(2, 3, {"persistent": 2, "delegate": 2, "temporary": 0}, inventory)

test_denies_every_violation_at_once_sorted_by_message if {
	d := main.decision with input as bad_session(ready(1))
		with data.mpcguard.config as config
	d == {
		"deny": [composition_sum, delegate_only, persistent_available],
		"warn": [],
		"skipped": [],
	}
}

test_denies_a_party_pod_without_role if {
	d := main.decision with input as pod_request(party_selector)
		with data.mpcguard.config as config
	d == {
		"deny": [{
			"policy": "party-role-required",
			"msg": "[party-role-required] Pod mpc-system/p-0: party pod (app.kubernetes.io/component=mpc-party) has no party-role label; add party-role with one of persistent, delegate, temporary",
		}],
		"warn": [],
		"skipped": [],
	}
}

test_admits_a_valid_party_pod_with_an_empty_decision if {
	d := main.decision with input as pod_request(party_labels("persistent"))
		with data.mpcguard.config as config
	d == empty_decision
}

test_warn_enforcement_moves_a_violation_to_warn if {
	d := main.decision with input as bad_session(ready(1))
		with data.mpcguard.config as with_enforcement({"session-delegate-only-threshold": "warn"})
	d == {
		"deny": [composition_sum, persistent_available],
		"warn": [delegate_only],
		"skipped": [],
	}
}

test_off_enforcement_drops_a_violation if {
	d := main.decision with input as bad_session(ready(1))
		with data.mpcguard.config as with_enforcement({"session-composition-sum": "off"})
	d == {
		"deny": [delegate_only, persistent_available],
		"warn": [],
		"skipped": [],
	}
}

test_explicit_deny_enforcement_denies if {
	d := main.decision with input as bad_session(ready(1))
		with data.mpcguard.config as with_enforcement({
			"session-composition-sum": "deny",
			"session-delegate-only-threshold": "deny",
			"session-persistent-available": "deny",
		})
	d.deny == [composition_sum, delegate_only, persistent_available]
}

test_unknown_enforcement_value_fails_closed_to_deny if {
	d := main.decision with input as bad_session(ready(1))
		with data.mpcguard.config as with_enforcement({"session-delegate-only-threshold": "Warn"})
	d.deny == [composition_sum, delegate_only, persistent_available]
	d.warn == []
}

test_missing_enforcement_denies_every_violation if {
	d := main.decision with input as bad_session(ready(1))
		with data.mpcguard.config as object.remove(config, ["enforcement"])
	d.deny == [composition_sum, delegate_only, persistent_available]
}

test_inventory_check_can_be_a_warning if {
	d := main.decision with input as bad_session(ready(1))
		with data.mpcguard.config as with_enforcement({"session-persistent-available": "warn"})
	d == {
		"deny": [composition_sum, delegate_only],
		"warn": [persistent_available],
		"skipped": [],
	}
}

test_admits_session_with_exactly_the_needed_ready_parties if {
	d := main.decision with input as session_request(2, 3, {"persistent": 2, "delegate": 1, "temporary": 0}, ready(2))
		with data.mpcguard.config as config
	d == empty_decision
}

test_unavailable_inventory_is_reported_as_skipped if {
	d := main.decision with input as bad_session(no_inventory)
		with data.mpcguard.config as config
	d == {
		"deny": [composition_sum, delegate_only],
		"warn": [],
		"skipped": [persistent_skipped],
	}
}

test_unavailable_inventory_is_skipped_also_when_warned if {
	d := main.decision with input as bad_session(no_inventory)
		with data.mpcguard.config as with_enforcement({"session-persistent-available": "warn"})
	d.skipped == [persistent_skipped]
}

test_off_inventory_check_is_not_skipped if {
	d := main.decision with input as bad_session(no_inventory)
		with data.mpcguard.config as with_enforcement({"session-persistent-available": "off"})
	d == {
		"deny": [composition_sum, delegate_only],
		"warn": [],
		"skipped": [],
	}
}

test_delete_yields_an_empty_decision if {
	d := main.decision with input as object.union(bad_session(no_inventory), {"operation": "DELETE"})
		with data.mpcguard.config as config
	d == empty_decision
}

test_delete_of_a_party_pod_without_role_yields_an_empty_decision if {
	d := main.decision with input as object.union(pod_request(party_selector), {"operation": "DELETE"})
		with data.mpcguard.config as config
	d == empty_decision
}

test_unknown_kind_yields_an_empty_decision if {
	d := main.decision with input as object.union(pod_request(party_selector), {"kind": "ConfigMap"})
		with data.mpcguard.config as config
	d == empty_decision
}

test_empty_or_malformed_input_yields_an_empty_decision if {
	every request in [{}, "Pod", [], null, {"kind": "Pod"}, {"kind": "MPCSession", "operation": "CREATE", "session": "x"}] {
		d := main.decision with input as request
			with data.mpcguard.config as config
		d == empty_decision
	}
}

test_missing_config_yields_an_empty_decision_for_pods if {
	d := main.decision with input as pod_request(party_selector)
		with data.mpcguard.config as {}
	d == empty_decision
}

test_custom_config_decides_with_its_role_key_and_selector if {
	labels := {"app": "signer", "tier": "mpc", "signer.example.com/role": "Persistent"}
	d := main.decision with input as pod_request(labels)
		with data.mpcguard.config as custom_config
	d == {
		"deny": [{
			"policy": "party-role-valid",
			"msg": "[party-role-valid] Pod mpc-system/p-0: signer.example.com/role=\"Persistent\" is not a valid role; set signer.example.com/role to one of persistent, delegate, temporary (exact, lower case)",
		}],
		"warn": [],
		"skipped": [],
	}
}

test_workload_violations_reach_the_decision if {
	request := {
		"kind": "Job",
		"operation": "CREATE",
		"namespace": "mpc-system",
		"name": "j",
		"template": {"labels": party_labels("delegate"), "secrets": ["mpc-db"]},
	}
	d := main.decision with input as request
		with data.mpcguard.config as with_enforcement({"delegate-no-share-storage": "warn"})
	d == {
		"deny": [],
		"warn": [{
			"policy": "delegate-no-share-storage",
			"msg": "[delegate-no-share-storage] Job mpc-system/j: pod template with party-role=delegate uses the persistent pool's share storage (Secret mpc-db); remove those volumes and env references: only persistent parties may hold key shares",
		}],
		"skipped": [],
	}
}
