package mpcguard.pod_test

import data.mpcguard.lib_test.config
import data.mpcguard.lib_test.custom_config
import data.mpcguard.lib_test.party_labels
import data.mpcguard.pod

party_selector := {"app.kubernetes.io/component": "mpc-party"}

fix := "delete the pod and create it with the role it should have"

create(labels) := {
	"kind": "Pod",
	"operation": "CREATE",
	"namespace": "mpc-system",
	"name": "p-0",
	"pod": {"labels": labels},
}

update(old_labels, labels) := object.union(create(labels), {"operation": "UPDATE", "old_pod": {"labels": old_labels}})

with_volumes(request, claims, secrets) := object.union(request, {"name": "d-1", "pod": {"claims": claims, "secrets": secrets}})

# party-role-required

test_denies_party_pod_without_role_label if {
	v := pod.violation with input as create(party_selector)
		with data.mpcguard.config as config
	v == {{
		"policy": "party-role-required",
		"msg": "[party-role-required] Pod mpc-system/p-0: party pod (app.kubernetes.io/component=mpc-party) has no party-role label; add party-role with one of persistent, delegate, temporary",
	}}
}

test_denies_party_pod_without_role_label_on_update if {
	v := pod.violation with input as update(party_selector, party_selector)
		with data.mpcguard.config as config
	{x.policy | some x in v} == {"party-role-required"}
}

test_admits_party_pod_with_each_allowed_role if {
	every role in config.allowed_roles {
		count(pod.violation) == 0 with input as create(party_labels(role))
			with data.mpcguard.config as config
	}
}

test_admits_pod_outside_the_party_selector if {
	v := pod.violation with input as create({"app.kubernetes.io/component": "coordinator"})
		with data.mpcguard.config as config
	v == set()
}

test_ignores_party_pod_on_delete_and_connect if {
	every operation in ["DELETE", "CONNECT"] {
		count(pod.violation) == 0 with input as object.union(create(party_selector), {"operation": operation})
			with data.mpcguard.config as config
	}
}

test_ignores_pod_without_pod_field_or_with_malformed_labels if {
	count(pod.violation) == 0 with input as {"kind": "Pod", "operation": "CREATE", "name": "p-0"}
		with data.mpcguard.config as config
	count(pod.violation) == 0 with input as object.union(create({}), {"pod": {"labels": "party-role=x"}})
		with data.mpcguard.config as config
}

test_ignores_party_labels_on_a_non_pod_kind if {
	count(pod.violation) == 0 with input as object.union(create(party_selector), {"kind": "Service"})
		with data.mpcguard.config as config
}

# party-role-valid

test_denies_role_in_another_case if {
	v := pod.violation with input as create(party_labels("Persistent"))
		with data.mpcguard.config as config
	v == {{
		"policy": "party-role-valid",
		"msg": "[party-role-valid] Pod mpc-system/p-0: party-role=\"Persistent\" is not a valid role; set party-role to one of persistent, delegate, temporary (exact, lower case)",
	}}
}

test_denies_role_with_surrounding_spaces if {
	leading := pod.violation with input as create(party_labels(" persistent"))
		with data.mpcguard.config as config
	trailing := pod.violation with input as create(party_labels("persistent "))
		with data.mpcguard.config as config
	leading == {{
		"policy": "party-role-valid",
		"msg": "[party-role-valid] Pod mpc-system/p-0: party-role=\" persistent\" is not a valid role; set party-role to one of persistent, delegate, temporary (exact, lower case)",
	}}
	trailing == {{
		"policy": "party-role-valid",
		"msg": "[party-role-valid] Pod mpc-system/p-0: party-role=\"persistent \" is not a valid role; set party-role to one of persistent, delegate, temporary (exact, lower case)",
	}}
}

test_denies_empty_role if {
	v := pod.violation with input as create(party_labels(""))
		with data.mpcguard.config as config
	{x.policy | some x in v} == {"party-role-valid"}
}

# party-role-immutable

test_denies_update_that_changes_the_role if {
	v := pod.violation with input as update(party_labels("persistent"), party_labels("delegate"))
		with data.mpcguard.config as config
	v == {{
		"policy": "party-role-immutable",
		"msg": sprintf("[party-role-immutable] Pod mpc-system/p-0: party-role cannot change from \"persistent\" to \"delegate\"; %s", [fix]),
	}}
}

test_denies_update_that_removes_the_role if {
	v := pod.violation with input as update(party_labels("persistent"), party_selector)
		with data.mpcguard.config as config
	v == {
		{
			"policy": "party-role-immutable",
			"msg": sprintf("[party-role-immutable] Pod mpc-system/p-0: party-role \"persistent\" cannot be removed; %s", [fix]),
		},
		{
			"policy": "party-role-required",
			"msg": "[party-role-required] Pod mpc-system/p-0: party pod (app.kubernetes.io/component=mpc-party) has no party-role label; add party-role with one of persistent, delegate, temporary",
		},
	}
}

test_admits_update_that_keeps_the_role if {
	v := pod.violation with input as update(party_labels("delegate"), object.union(party_labels("delegate"), {"version": "2"}))
		with data.mpcguard.config as config
	v == set()
}

test_admits_update_that_adds_a_role_the_pod_lacked if {
	v := pod.violation with input as update(party_selector, party_labels("delegate"))
		with data.mpcguard.config as config
	v == set()
}

test_denies_update_that_changes_role_while_leaving_the_party_selector if {
	v := pod.violation with input as update(party_labels("persistent"), {"party-role": "delegate"})
		with data.mpcguard.config as config
	{x.policy | some x in v} == {"party-role-immutable"}
}

test_denies_update_that_joins_the_party_selector_with_another_role if {
	v := pod.violation with input as update({"party-role": "delegate"}, party_labels("persistent"))
		with data.mpcguard.config as config
	{x.policy | some x in v} == {"party-role-immutable"}
}

test_admits_role_change_of_a_pod_outside_the_party_selector if {
	v := pod.violation with input as update({"party-role": "persistent"}, {"party-role": "delegate"})
		with data.mpcguard.config as config
	v == set()
}

test_role_change_is_not_checked_on_create if {
	request := object.union(create(party_labels("delegate")), {"old_pod": {"labels": party_labels("persistent")}})
	v := pod.violation with input as request
		with data.mpcguard.config as config
	v == set()
}

# delegate-no-share-storage

test_denies_delegate_pod_mounting_share_storage if {
	request := with_volumes(create(party_labels("delegate")), ["scratch", "share-data-mpc-party-0"], ["mpc-db", "tls"])
	v := pod.violation with input as request
		with data.mpcguard.config as config
	v == {{
		"policy": "delegate-no-share-storage",
		"msg": "[delegate-no-share-storage] Pod mpc-system/d-1: delegate party uses the persistent pool's share storage (PersistentVolumeClaim share-data-mpc-party-0, Secret mpc-db); remove those volumes and env references: only persistent parties may hold key shares",
	}}
}

test_denies_temporary_pod_mounting_a_share_secret if {
	request := with_volumes(create(party_labels("temporary")), [], ["mpc-db"])
	v := pod.violation with input as request
		with data.mpcguard.config as config
	v == {{
		"policy": "delegate-no-share-storage",
		"msg": "[delegate-no-share-storage] Pod mpc-system/d-1: temporary party uses the persistent pool's share storage (Secret mpc-db); remove those volumes and env references: only persistent parties may hold key shares",
	}}
}

test_admits_persistent_pod_mounting_share_storage if {
	request := with_volumes(create(party_labels("persistent")), ["share-data-mpc-party-0"], ["mpc-db"])
	v := pod.violation with input as request
		with data.mpcguard.config as config
	v == set()
}

test_admits_delegate_pod_with_other_storage if {
	request := with_volumes(create(party_labels("delegate")), ["scratch", "data-mpc-party-0"], ["tls", "mpc-db-ro"])
	v := pod.violation with input as request
		with data.mpcguard.config as config
	v == set()
}

test_invalid_role_with_share_storage_is_only_an_invalid_role if {
	request := with_volumes(create(party_labels("Delegate")), ["share-data-mpc-party-0"], [])
	v := pod.violation with input as request
		with data.mpcguard.config as config
	{x.policy | some x in v} == {"party-role-valid"}
}

test_admits_non_party_pod_mounting_share_storage if {
	request := with_volumes(create({"party-role": "delegate"}), ["share-data-mpc-party-0"], ["mpc-db"])
	v := pod.violation with input as request
		with data.mpcguard.config as config
	v == set()
}

# non-default configuration

test_custom_role_key_and_selector_are_honoured if {
	labels := {"app": "signer", "tier": "mpc", "party-role": "persistent"}
	v := pod.violation with input as create(labels)
		with data.mpcguard.config as custom_config
	v == {{
		"policy": "party-role-required",
		"msg": "[party-role-required] Pod mpc-system/p-0: party pod (app=signer,tier=mpc) has no signer.example.com/role label; add signer.example.com/role with one of persistent, delegate, temporary",
	}}
}

test_custom_selector_needs_every_label if {
	v := pod.violation with input as create({"app": "signer"})
		with data.mpcguard.config as custom_config
	v == set()
}

test_default_selector_is_not_used_under_a_custom_config if {
	v := pod.violation with input as create(party_selector)
		with data.mpcguard.config as custom_config
	v == set()
}

test_custom_share_storage_is_honoured if {
	labels := {"app": "signer", "tier": "mpc", "signer.example.com/role": "delegate"}
	request := with_volumes(create(labels), ["keys-0", "share-data-mpc-party-0"], ["vault-shares", "mpc-db"])
	v := pod.violation with input as request
		with data.mpcguard.config as custom_config
	v == {{
		"policy": "delegate-no-share-storage",
		"msg": "[delegate-no-share-storage] Pod mpc-system/d-1: delegate party uses the persistent pool's share storage (PersistentVolumeClaim keys-0, Secret vault-shares); remove those volumes and env references: only persistent parties may hold key shares",
	}}
}

test_custom_role_change_is_denied if {
	old := {"app": "signer", "tier": "mpc", "signer.example.com/role": "persistent"}
	new := {"app": "signer", "tier": "mpc", "signer.example.com/role": "temporary"}
	v := pod.violation with input as update(old, new)
		with data.mpcguard.config as custom_config
	v == {{
		"policy": "party-role-immutable",
		"msg": sprintf("[party-role-immutable] Pod mpc-system/p-0: signer.example.com/role cannot change from \"persistent\" to \"temporary\"; %s", [fix]),
	}}
}
