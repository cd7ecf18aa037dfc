package mpcguard.pod_test

import data.mpcguard.lib_test.alice
import data.mpcguard.lib_test.alice_breaking_glass
import data.mpcguard.lib_test.config
import data.mpcguard.lib_test.custom_config
import data.mpcguard.lib_test.party_labels
import data.mpcguard.lib_test.policies
import data.mpcguard.pod

party_selector := {"app.kubernetes.io/component": "mpc-party"}

fix := "delete the pod and create it with the role it should have"

required_msg := "party pod (app.kubernetes.io/component=mpc-party) has no party-role label; add party-role with one of persistent, delegate, temporary"

# A pod as the persistent pool's StatefulSet controller creates it: owned by StatefulSet mpc-party.
create(labels) := {
	"kind": "Pod",
	"operation": "CREATE",
	"namespace": "mpc-system",
	"name": "p-0",
	"user": {"username": "system:serviceaccount:kube-system:statefulset-controller", "groups": ["system:serviceaccounts"]},
	"pod": {"labels": labels, "owner": {"kind": "StatefulSet", "name": "mpc-party"}},
}

update(old_labels, labels) := object.union(create(labels), {
	"operation": "UPDATE",
	"old_pod": {"labels": old_labels, "owner": {"kind": "StatefulSet", "name": "mpc-party"}},
})

# The request with more fields of the pod (claims, secrets, host_paths, clones, owner, ...).
with_pod(request, fields) := object.union(request, {"pod": fields})

with_old_pod(request, fields) := object.union(request, {"old_pod": fields})

# The request sent by another user.
by(request, user) := object.union(request, {"user": user})

offline(request) := object.remove(request, ["user"])

# party-role-required

test_denies_party_pod_without_role_label if {
	v := pod.violation with input as create(party_selector)
		with data.mpcguard.config as config
	v == {{"policy": "party-role-required", "msg": required_msg}}
}

test_denies_pod_that_joins_the_party_selector_without_a_role if {
	v := pod.violation with input as update({"app": "x"}, party_selector)
		with data.mpcguard.config as config
	v == {{"policy": "party-role-required", "msg": required_msg}}
}

test_admits_update_of_a_legacy_party_pod_without_role if {
	v := pod.violation with input as update(party_selector, object.union(party_selector, {"version": "2"}))
		with data.mpcguard.config as config
	v == set()
}

test_admits_party_pod_with_each_allowed_role if {
	every role in config.allowed_roles {
		count(pod.violation) == 0 with input as create(party_labels(role))
			with data.mpcguard.config as config
	}
}

test_admits_pod_outside_the_party_selector if {
	v := pod.violation with input as by(create({"app.kubernetes.io/component": "coordinator"}), alice)
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
	count(pod.violation) == 0 with input as with_pod(create({}), {"labels": "party-role=x"})
		with data.mpcguard.config as config
}

test_ignores_party_labels_on_a_non_pod_kind if {
	count(pod.violation) == 0 with input as object.union(create(party_selector), {"kind": "Service"})
		with data.mpcguard.config as config
	changed := with_pod(update(party_labels("persistent"), {"app": "x"}), {
		"secrets": ["mpc-db"],
		"clones": [{"kind": "PersistentVolumeClaim", "name": "share-data-mpc-party-0"}],
	})
	every kind in ["Service", "Deployment"] {
		count(pod.violation) == 0 with input as object.union(changed, {"kind": kind})
			with data.mpcguard.config as config
	}
}

test_ignores_pod_storage_on_delete if {
	request := with_pod(create({"app": "x"}), {
		"secrets": ["mpc-db"],
		"clones": [{"kind": "PersistentVolumeClaim", "name": "share-data-mpc-party-0"}],
	})
	v := pod.violation with input as object.union(request, {"operation": "DELETE"})
		with data.mpcguard.config as config
	v == set()
}

# party-role-valid

test_denies_role_in_another_case if {
	v := pod.violation with input as create(party_labels("Persistent"))
		with data.mpcguard.config as config
	v == {{
		"policy": "party-role-valid",
		"msg": "party-role=\"Persistent\" is not a valid role; set party-role to one of persistent, delegate, temporary (exact, lower case)",
	}}
}

test_denies_role_with_surrounding_spaces if {
	leading := pod.violation with input as create(party_labels(" persistent"))
		with data.mpcguard.config as config
	trailing := pod.violation with input as create(party_labels("persistent "))
		with data.mpcguard.config as config
	leading == {{
		"policy": "party-role-valid",
		"msg": "party-role=\" persistent\" is not a valid role; set party-role to one of persistent, delegate, temporary (exact, lower case)",
	}}
	trailing == {{
		"policy": "party-role-valid",
		"msg": "party-role=\"persistent \" is not a valid role; set party-role to one of persistent, delegate, temporary (exact, lower case)",
	}}
}

test_denies_empty_role if {
	v := pod.violation with input as create(party_labels(""))
		with data.mpcguard.config as config
	policies(v) == {"party-role-valid"}
}

test_denies_pod_that_joins_the_party_selector_with_an_invalid_role if {
	v := pod.violation with input as update({"party-role": "Delegate"}, party_labels("Delegate"))
		with data.mpcguard.config as config
	policies(v) == {"party-role-valid"}
}

test_admits_update_of_a_legacy_party_pod_with_an_invalid_role if {
	v := pod.violation with input as update(party_labels("Persistent"), object.union(party_labels("Persistent"), {"version": "2"}))
		with data.mpcguard.config as config
	v == set()
}

test_admits_invalid_role_on_a_pod_outside_the_party_selector if {
	v := pod.violation with input as create({"party-role": "Persistent"})
		with data.mpcguard.config as config
	v == set()
}

# party-role-immutable

test_denies_update_that_changes_the_role if {
	v := pod.violation with input as update(party_labels("persistent"), party_labels("delegate"))
		with data.mpcguard.config as config
	v == {{
		"policy": "party-role-immutable",
		"msg": sprintf("party-role cannot change from \"persistent\" to \"delegate\"; %s", [fix]),
	}}
}

test_denies_update_that_removes_the_role if {
	v := pod.violation with input as update(party_labels("persistent"), party_selector)
		with data.mpcguard.config as config
	v == {
		{
			"policy": "party-role-immutable",
			"msg": sprintf("party-role \"persistent\" cannot be removed; %s", [fix]),
		},
		{"policy": "party-role-required", "msg": required_msg},
	}
}

test_admits_update_that_keeps_the_role if {
	v := pod.violation with input as update(party_labels("delegate"), object.union(party_labels("delegate"), {"version": "2"}))
		with data.mpcguard.config as config
	v == set()
}

test_admits_update_that_adds_a_non_persistent_role_the_pod_lacked if {
	v := pod.violation with input as update(party_selector, party_labels("delegate"))
		with data.mpcguard.config as config
	v == set()
}

test_denies_role_change_of_a_pod_outside_the_party_selector if {
	v := pod.violation with input as update({"party-role": "persistent"}, {"party-role": "delegate"})
		with data.mpcguard.config as config
	policies(v) == {"party-role-immutable"}
}

test_denies_role_removal_from_a_pod_outside_the_party_selector if {
	v := pod.violation with input as update({"party-role": "delegate"}, {"app": "x"})
		with data.mpcguard.config as config
	v == {{
		"policy": "party-role-immutable",
		"msg": sprintf("party-role \"delegate\" cannot be removed; %s", [fix]),
	}}
}

test_denies_update_that_changes_role_while_leaving_the_party_selector if {
	v := pod.violation with input as update(party_labels("persistent"), {"party-role": "delegate"})
		with data.mpcguard.config as config
	policies(v) == {"party-role-immutable"}
}

test_denies_update_that_joins_the_party_selector_with_another_role if {
	v := pod.violation with input as update({"party-role": "persistent"}, party_labels("delegate"))
		with data.mpcguard.config as config
	policies(v) == {"party-role-immutable"}
}

# Turning a delegate into a persistent party in steps: leave the selector, change the role, come back.
test_denies_turning_a_delegate_persistent_by_relabelling_in_steps if {
	leave := pod.violation with input as update(party_labels("delegate"), {"party-role": "delegate"})
		with data.mpcguard.config as config
	change := pod.violation with input as update({"party-role": "delegate"}, {"party-role": "persistent"})
		with data.mpcguard.config as config
	come_back := pod.violation with input as update({"party-role": "persistent"}, party_labels("persistent"))
		with data.mpcguard.config as config

	# leaving the party selector with the role kept changes nothing about the role
	leave == set()
	change == {{
		"policy": "party-role-immutable",
		"msg": sprintf("party-role cannot change from \"delegate\" to \"persistent\"; %s", [fix]),
	}}
	policies(come_back) == {"party-persistent-origin"}
}

# A persistent party demoted in steps: the role change is refused outside the selector too.
test_denies_turning_a_persistent_party_into_a_delegate_by_relabelling_in_steps if {
	leave := pod.violation with input as update(party_labels("persistent"), {"party-role": "persistent"})
		with data.mpcguard.config as config
	change := pod.violation with input as update({"party-role": "persistent"}, {"party-role": "delegate"})
		with data.mpcguard.config as config
	leave == set()
	policies(change) == {"party-role-immutable"}
}

test_role_change_is_not_checked_on_create if {
	request := with_old_pod(create(party_labels("delegate")), {"labels": party_labels("persistent")})
	v := pod.violation with input as request
		with data.mpcguard.config as config
	v == set()
}

test_role_removal_is_not_checked_on_create if {
	request := with_old_pod(create({"app": "x"}), {"labels": party_labels("persistent")})
	v := pod.violation with input as request
		with data.mpcguard.config as config
	v == set()
}

test_denies_all_share_access_on_create_whatever_an_old_pod_says if {
	storage := {"secrets": ["mpc-db"]}
	delegate := with_old_pod(with_pod(create(party_labels("delegate")), storage), object.union(storage, {"labels": party_labels("delegate")}))
	non_party := with_old_pod(with_pod(create({"app": "x"}), storage), object.union(storage, {"labels": {"app": "x"}}))
	d := pod.violation with input as delegate
		with data.mpcguard.config as config
	n := pod.violation with input as non_party
		with data.mpcguard.config as config
	policies(d) == {"delegate-no-share-storage"}
	policies(n) == {"share-storage-persistent-only"}
}

# legacy roles (invalid, from before mpcguard)

test_admits_correcting_an_invalid_legacy_role_to_a_non_persistent_role if {
	every old, new in {"Delegate": "delegate", "Persistent": "temporary", "": "delegate"} {
		count(pod.violation) == 0 with input as update(party_labels(old), party_labels(new))
			with data.mpcguard.config as config
	}
}

test_admits_correcting_an_invalid_legacy_role_outside_the_party_selector if {
	v := pod.violation with input as update({"party-role": "Delegate"}, {"party-role": "delegate"})
		with data.mpcguard.config as config
	v == set()
}

test_denies_correcting_an_invalid_legacy_role_to_persistent if {
	v := pod.violation with input as update(party_labels("Persistent"), party_labels("persistent"))
		with data.mpcguard.config as config
	policies(v) == {"party-role-immutable", "party-persistent-origin"}
	{
		"policy": "party-role-immutable",
		"msg": sprintf("party-role cannot change from \"Persistent\" to \"persistent\"; %s", [fix]),
	} in v
}

test_denies_removing_an_invalid_legacy_role if {
	v := pod.violation with input as update(party_labels("Delegate"), party_selector)
		with data.mpcguard.config as config
	v == {
		{
			"policy": "party-role-immutable",
			"msg": sprintf("party-role \"Delegate\" cannot be removed; %s", [fix]),
		},
		{"policy": "party-role-required", "msg": required_msg},
	}
}

test_denies_changing_an_invalid_legacy_role_to_another_invalid_role if {
	v := pod.violation with input as update(party_labels("Delegate"), party_labels("DELEGATE"))
		with data.mpcguard.config as config
	policies(v) == {"party-role-immutable", "party-role-valid"}
}

test_denies_changing_a_corrected_legacy_role_again if {
	v := pod.violation with input as update(party_labels("delegate"), party_labels("temporary"))
		with data.mpcguard.config as config
	policies(v) == {"party-role-immutable"}
}

# delegate-no-share-storage

test_denies_delegate_pod_mounting_share_storage if {
	request := with_pod(create(party_labels("delegate")), {"claims": ["scratch", "share-data-mpc-party-0"], "secrets": ["mpc-db", "tls"]})
	v := pod.violation with input as request
		with data.mpcguard.config as config
	v == {{
		"policy": "delegate-no-share-storage",
		"msg": "delegate party uses the persistent pool's share storage (PersistentVolumeClaim share-data-mpc-party-0, Secret mpc-db); remove those volumes and env references: only persistent parties may hold key shares",
	}}
}

test_denies_temporary_pod_mounting_a_share_secret if {
	request := with_pod(create(party_labels("temporary")), {"secrets": ["mpc-db"]})
	v := pod.violation with input as request
		with data.mpcguard.config as config
	v == {{
		"policy": "delegate-no-share-storage",
		"msg": "temporary party uses the persistent pool's share storage (Secret mpc-db); remove those volumes and env references: only persistent parties may hold key shares",
	}}
}

test_denies_delegate_pod_with_a_host_path if {
	request := with_pod(create(party_labels("delegate")), {"host_paths": ["/var/lib/kubelet"]})
	v := pod.violation with input as request
		with data.mpcguard.config as config
	v == {{
		"policy": "delegate-no-share-storage",
		"msg": "delegate party uses the persistent pool's share storage (hostPath /var/lib/kubelet); remove those volumes and env references: only persistent parties may hold key shares",
	}}
}

test_admits_persistent_pod_mounting_share_storage if {
	request := with_pod(create(party_labels("persistent")), {
		"claims": ["share-data-mpc-party-0"],
		"secrets": ["mpc-db"],
		"host_paths": ["/var/lib/mpc"],
	})
	v := pod.violation with input as request
		with data.mpcguard.config as config
	v == set()
}

test_admits_delegate_pod_with_other_storage if {
	request := with_pod(create(party_labels("delegate")), {"claims": ["scratch", "data-mpc-party-0"], "secrets": ["tls", "mpc-db-ro"]})
	v := pod.violation with input as request
		with data.mpcguard.config as config
	v == set()
}

test_admits_delegate_pod_whose_claim_merely_starts_with_the_share_prefix if {
	request := with_pod(create(party_labels("delegate")), {"claims": ["share-data-mpc-party-delegate-0"]})
	v := pod.violation with input as request
		with data.mpcguard.config as config
	v == set()
}

test_invalid_role_with_share_storage_is_only_an_invalid_role if {
	request := with_pod(create(party_labels("Delegate")), {"claims": ["share-data-mpc-party-0"]})
	v := pod.violation with input as request
		with data.mpcguard.config as config
	policies(v) == {"party-role-valid"}
}

test_admits_update_of_a_legacy_delegate_pod_that_adds_no_share_access if {
	storage := {"claims": ["share-data-mpc-party-0"], "secrets": ["mpc-db"]}
	request := with_old_pod(with_pod(update(party_labels("delegate"), party_labels("delegate")), storage), storage)
	v := pod.violation with input as request
		with data.mpcguard.config as config
	v == set()
}

test_denies_update_that_gives_a_delegate_pod_new_share_access if {
	request := with_old_pod(
		with_pod(update(party_labels("delegate"), party_labels("delegate")), {"claims": ["share-data-mpc-party-0"], "secrets": ["mpc-db"]}),
		{"claims": ["share-data-mpc-party-0"]},
	)
	v := pod.violation with input as request
		with data.mpcguard.config as config
	v == {{
		"policy": "delegate-no-share-storage",
		"msg": "delegate party uses the persistent pool's share storage (Secret mpc-db); remove those volumes and env references: only persistent parties may hold key shares",
	}}
}

test_denies_all_share_access_of_a_pod_that_becomes_a_delegate_party if {
	storage := {"claims": ["share-data-mpc-party-0"]}
	request := with_old_pod(with_pod(update({"party-role": "delegate"}, party_labels("delegate")), storage), storage)
	v := pod.violation with input as request
		with data.mpcguard.config as config
	policies(v) == {"delegate-no-share-storage"}
	some x in v
	contains(x.msg, "(PersistentVolumeClaim share-data-mpc-party-0)")
}

test_denies_all_share_access_of_a_legacy_role_corrected_to_delegate if {
	storage := {"secrets": ["mpc-db"]}
	request := with_old_pod(with_pod(update(party_labels("Delegate"), party_labels("delegate")), storage), storage)
	v := pod.violation with input as request
		with data.mpcguard.config as config
	policies(v) == {"delegate-no-share-storage"}
}

test_denies_share_access_on_an_update_without_the_old_pod if {
	request := object.remove(with_pod(update(party_labels("delegate"), party_labels("delegate")), {"secrets": ["mpc-db"]}), ["old_pod"])
	v := pod.violation with input as request
		with data.mpcguard.config as config
	policies(v) == {"delegate-no-share-storage"}
}

# share-storage-persistent-only

test_denies_non_party_pod_reaching_share_storage if {
	request := with_pod(by(create({"app": "backup"}), alice), {"claims": ["share-data-mpc-party-0"], "secrets": ["mpc-db"]})
	v := pod.violation with input as request
		with data.mpcguard.config as config
	v == {{
		"policy": "share-storage-persistent-only",
		"msg": "pod is not a party pod (app.kubernetes.io/component=mpc-party) but uses the persistent pool's share storage (PersistentVolumeClaim share-data-mpc-party-0, Secret mpc-db); only persistent party pods of the persistent pool may hold key shares",
	}}
}

test_denies_non_party_pod_with_a_persistent_role_reaching_share_storage if {
	request := with_pod(create({"party-role": "persistent"}), {"claims": ["share-data-mpc-party-0"]})
	v := pod.violation with input as request
		with data.mpcguard.config as config
	policies(v) == {"share-storage-persistent-only"}
}

test_denies_non_party_pod_with_a_delegate_role_only_as_a_non_party_pod if {
	request := with_pod(create({"party-role": "delegate"}), {"secrets": ["mpc-db"]})
	v := pod.violation with input as request
		with data.mpcguard.config as config
	policies(v) == {"share-storage-persistent-only"}
}

test_admits_non_party_pod_with_a_host_path_alone if {
	request := with_pod(create({"app": "node-exporter"}), {"host_paths": ["/"]})
	v := pod.violation with input as request
		with data.mpcguard.config as config
	v == set()
}

test_names_only_share_storage_when_a_non_party_pod_also_has_a_host_path if {
	request := with_pod(create({"app": "node-exporter"}), {"host_paths": ["/"], "secrets": ["mpc-db"]})
	v := pod.violation with input as request
		with data.mpcguard.config as config
	v == {{
		"policy": "share-storage-persistent-only",
		"msg": "pod is not a party pod (app.kubernetes.io/component=mpc-party) but uses the persistent pool's share storage (Secret mpc-db); only persistent party pods of the persistent pool may hold key shares",
	}}
}

test_admits_non_party_pod_with_other_storage if {
	request := with_pod(create({"app": "web"}), {"claims": ["share-data-mpc-party-delegate-0", "www"], "secrets": ["tls"]})
	v := pod.violation with input as request
		with data.mpcguard.config as config
	v == set()
}

test_denies_all_share_access_of_a_persistent_party_leaving_the_party_selector if {
	storage := {"claims": ["share-data-mpc-party-0"]}
	request := with_old_pod(with_pod(update(party_labels("persistent"), {"party-role": "persistent"}), storage), storage)
	v := pod.violation with input as request
		with data.mpcguard.config as config
	policies(v) == {"share-storage-persistent-only"}
}

test_admits_update_of_a_legacy_non_party_pod_that_adds_no_share_access if {
	storage := {"secrets": ["mpc-db"]}
	request := with_old_pod(with_pod(update({"app": "backup"}, {"app": "backup", "version": "2"}), storage), storage)
	v := pod.violation with input as request
		with data.mpcguard.config as config
	v == set()
}

# share-storage-copy

test_denies_ephemeral_volume_cloning_a_share_claim if {
	request := with_pod(by(create({"app": "restore"}), alice), {"clones": [
		{"kind": "PersistentVolumeClaim", "name": "share-data-mpc-party-0"},
		{"kind": "PersistentVolumeClaim", "name": "scratch"},
	]})
	v := pod.violation with input as request
		with data.mpcguard.config as config
	v == {{
		"policy": "share-storage-copy",
		"msg": "an ephemeral volume clones the persistent pool's share storage (PersistentVolumeClaim share-data-mpc-party-0); a copy of a key share outside the persistent pool is a leaked share",
	}}
}

test_denies_ephemeral_volume_cloning_a_share_claim_even_in_a_persistent_party if {
	request := with_pod(create(party_labels("persistent")), {"clones": [{"kind": "PersistentVolumeClaim", "name": "share-data-mpc-party-1"}]})
	v := pod.violation with input as request
		with data.mpcguard.config as config
	policies(v) == {"share-storage-copy"}
}

test_admits_ephemeral_volume_cloning_another_claim if {
	request := with_pod(create({"app": "restore"}), {"clones": [
		{"kind": "PersistentVolumeClaim", "name": "share-data-mpc-party-delegate-0"},
		{"kind": "VolumeSnapshot", "name": "share-data-mpc-party-0"},
	]})
	v := pod.violation with input as request
		with data.mpcguard.config as config
	v == set()
}

test_admits_update_of_a_pod_keeping_an_existing_share_clone if {
	clones := {"clones": [{"kind": "PersistentVolumeClaim", "name": "share-data-mpc-party-0"}]}
	request := with_old_pod(with_pod(update({"app": "restore"}, {"app": "restore", "version": "2"}), clones), clones)
	v := pod.violation with input as request
		with data.mpcguard.config as config
	v == set()
}

# party-persistent-origin

test_admits_persistent_party_created_by_a_controller_for_the_persistent_pool if {
	every username in config.controller_users {
		count(pod.violation) == 0 with input as by(create(party_labels("persistent")), {"username": username, "groups": []})
			with data.mpcguard.config as config
	}
}

test_denies_persistent_party_owned_by_another_statefulset if {
	request := with_pod(create(party_labels("persistent")), {"owner": {"kind": "StatefulSet", "name": "mpc-party-delegate"}})
	v := pod.violation with input as request
		with data.mpcguard.config as config
	v == {{
		"policy": "party-persistent-origin",
		"msg": "a persistent party pod must be created by StatefulSet mpc-party (its controller owner: StatefulSet mpc-party-delegate); run persistent parties only in the persistent pool",
	}}
}

test_denies_persistent_party_owned_by_a_replicaset if {
	request := with_pod(create(party_labels("persistent")), {"owner": {"kind": "ReplicaSet", "name": "mpc-party"}})
	v := pod.violation with input as request
		with data.mpcguard.config as config
	policies(v) == {"party-persistent-origin"}
}

test_denies_persistent_party_without_owner if {
	request := json.remove(create(party_labels("persistent")), ["pod/owner"])
	v := pod.violation with input as request
		with data.mpcguard.config as config
	v == {{
		"policy": "party-persistent-origin",
		"msg": "a persistent party pod must be created by StatefulSet mpc-party (its controller owner: none); run persistent parties only in the persistent pool",
	}}
}

test_denies_persistent_party_of_another_statefulset_when_several_are_configured if {
	request := with_pod(create(party_labels("persistent")), {"owner": {"kind": "StatefulSet", "name": "web"}})
	v := pod.violation with input as request
		with data.mpcguard.config as object.union(config, {"persistent_workloads": ["mpc-party", "mpc-party-eu"]})
	v == {{
		"policy": "party-persistent-origin",
		"msg": "a persistent party pod must be created by StatefulSet mpc-party, StatefulSet mpc-party-eu (its controller owner: StatefulSet web); run persistent parties only in the persistent pool",
	}}
}

test_admits_persistent_party_of_any_statefulset_when_none_is_configured if {
	request := with_pod(create(party_labels("persistent")), {"owner": {"kind": "StatefulSet", "name": "web"}})
	v := pod.violation with input as request
		with data.mpcguard.config as object.union(config, {"persistent_workloads": []})
	v == set()
}

test_denies_persistent_party_of_a_deployment_when_no_statefulset_is_configured if {
	request := with_pod(create(party_labels("persistent")), {"owner": {"kind": "ReplicaSet", "name": "web-5d4f"}})
	v := pod.violation with input as request
		with data.mpcguard.config as object.union(config, {"persistent_workloads": []})
	v == {{
		"policy": "party-persistent-origin",
		"msg": "a persistent party pod must be created by a StatefulSet (its controller owner: ReplicaSet web-5d4f); run persistent parties only in the persistent pool",
	}}
}

test_denies_persistent_party_created_directly_by_a_user if {
	# the ownerReference is forged: only the creator's identity tells
	v := pod.violation with input as by(create(party_labels("persistent")), alice)
		with data.mpcguard.config as config
	v == {{
		"policy": "party-persistent-origin",
		"msg": "a persistent party pod may only be created by the StatefulSet controller (system:serviceaccount:kube-system:statefulset-controller, system:kube-controller-manager), not by \"alice\"; scale the persistent pool instead",
	}}
}

test_denies_persistent_party_created_by_a_break_glass_user if {
	v := pod.violation with input as by(create(party_labels("persistent")), alice_breaking_glass)
		with data.mpcguard.config as config
	policies(v) == {"party-persistent-origin"}
}

test_reports_creator_check_as_skipped_offline if {
	skipped := {{
		"policy": "party-persistent-origin",
		"msg": "creator identity not checked: no user in the request (admission checks it)",
		"skipped": true,
	}}
	without_user := pod.violation with input as offline(create(party_labels("persistent")))
		with data.mpcguard.config as config
	without_username := pod.violation with input as json.remove(create(party_labels("persistent")), ["user/username"])
		with data.mpcguard.config as config
	without_user == skipped
	without_username == skipped
}

test_reports_owner_check_offline_as_a_violation_beside_the_skipped_creator_check if {
	request := offline(with_pod(create(party_labels("persistent")), {"owner": {"kind": "Job", "name": "keygen"}}))
	v := pod.violation with input as request
		with data.mpcguard.config as config
	count(v) == 2
	{x | some x in v; not x.skipped} == {{
		"policy": "party-persistent-origin",
		"msg": "a persistent party pod must be created by StatefulSet mpc-party (its controller owner: Job keygen); run persistent parties only in the persistent pool",
	}}
}

test_admits_non_persistent_party_of_any_origin if {
	every role in ["delegate", "temporary"] {
		request := with_pod(by(create(party_labels(role)), alice), {"owner": {"kind": "ReplicaSet", "name": "delegates-7c9"}})
		count(pod.violation) == 0 with input as request
			with data.mpcguard.config as config
	}
}

test_admits_pod_outside_the_party_selector_with_a_persistent_role_of_any_origin if {
	request := json.remove(by(create({"party-role": "persistent"}), alice), ["pod/owner"])
	v := pod.violation with input as request
		with data.mpcguard.config as config
	v == set()
}

test_admits_update_of_a_legacy_persistent_party_of_another_origin if {
	request := with_pod(by(update(party_labels("persistent"), party_labels("persistent")), alice), {"owner": {"kind": "ReplicaSet", "name": "legacy-5d4f"}})
	v := pod.violation with input as request
		with data.mpcguard.config as config
	v == set()
}

test_denies_pod_becoming_a_persistent_party_by_update if {
	v := pod.violation with input as update({"app": "x"}, party_labels("persistent"))
		with data.mpcguard.config as config
	v == {{
		"policy": "party-persistent-origin",
		"msg": "a pod cannot become a persistent party by an update (app.kubernetes.io/component=mpc-party and party-role=persistent added); persistent parties are created by the persistent pool",
	}}
}

test_denies_update_that_adds_the_persistent_role_to_a_party_pod_without_role if {
	v := pod.violation with input as update(party_selector, party_labels("persistent"))
		with data.mpcguard.config as config
	policies(v) == {"party-persistent-origin"}
}

test_admits_update_of_a_persistent_party if {
	request := by(update(party_labels("persistent"), object.union(party_labels("persistent"), {"version": "2"})), alice)
	v := pod.violation with input as request
		with data.mpcguard.config as config
	v == set()
}

# party-access (debug containers)

test_denies_debug_container_added_to_a_persistent_party if {
	request := with_old_pod(with_pod(by(update(party_labels("persistent"), party_labels("persistent")), alice), {"ephemeral_containers": 1}), {"ephemeral_containers": 0})
	v := pod.violation with input as object.union(request, {"subresource": "ephemeralcontainers"})
		with data.mpcguard.config as config
	v == {{
		"policy": "party-access",
		"msg": "a debug container in a persistent party reaches its key shares; only members of mpcguard:break-glass may add one (break glass: kubectl debug ... --as=<you> --as-group=<group>, recorded in the audit log)",
	}}
}

test_denies_debug_container_added_to_a_persistent_party_that_had_none if {
	request := with_pod(by(update(party_labels("persistent"), party_labels("persistent")), alice), {"ephemeral_containers": 1})
	v := pod.violation with input as request
		with data.mpcguard.config as config
	policies(v) == {"party-access"}
}

test_denies_debug_container_added_to_a_persistent_party_without_a_user if {
	request := offline(with_pod(update(party_labels("persistent"), party_labels("persistent")), {"ephemeral_containers": 1}))
	v := pod.violation with input as request
		with data.mpcguard.config as config
	policies(v) == {"party-access"}
}

test_admits_debug_container_added_by_a_break_glass_user if {
	request := with_old_pod(with_pod(by(update(party_labels("persistent"), party_labels("persistent")), alice_breaking_glass), {"ephemeral_containers": 2}), {"ephemeral_containers": 1})
	v := pod.violation with input as request
		with data.mpcguard.config as config
	v == set()
}

test_denies_debug_container_added_to_a_persistent_pod_whose_party_label_was_removed if {
	request := with_pod(by(update({"party-role": "persistent"}, {"party-role": "persistent"}), alice), {"ephemeral_containers": 1})
	v := pod.violation with input as request
		with data.mpcguard.config as config
	policies(v) == {"party-access"}
}

test_admits_debug_container_added_to_a_pod_without_a_role if {
	request := with_pod(by(update({"app": "web"}, {"app": "web"}), alice), {"ephemeral_containers": 1})
	v := pod.violation with input as request
		with data.mpcguard.config as config
	v == set()
}

test_admits_debug_container_added_to_a_delegate_party if {
	request := with_pod(by(update(party_labels("delegate"), party_labels("delegate")), alice), {"ephemeral_containers": 1})
	v := pod.violation with input as request
		with data.mpcguard.config as config
	v == set()
}

test_admits_update_of_a_persistent_party_that_adds_no_debug_container if {
	request := with_old_pod(with_pod(by(update(party_labels("persistent"), party_labels("persistent")), alice), {"ephemeral_containers": 1}), {"ephemeral_containers": 1})
	v := pod.violation with input as request
		with data.mpcguard.config as config
	v == set()
}

# non-default configuration

custom_party(role) := {"app": "signer", "tier": "mpc", "signer.example.com/role": role}

test_custom_role_key_and_selector_are_honoured if {
	labels := {"app": "signer", "tier": "mpc", "party-role": "persistent"}
	v := pod.violation with input as create(labels)
		with data.mpcguard.config as custom_config
	v == {{
		"policy": "party-role-required",
		"msg": "party pod (app=signer,tier=mpc) has no signer.example.com/role label; add signer.example.com/role with one of persistent, delegate, temporary",
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
	request := with_pod(create(custom_party("delegate")), {"claims": ["keys-0", "share-data-mpc-party-0"], "secrets": ["vault-shares", "mpc-db"]})
	v := pod.violation with input as request
		with data.mpcguard.config as custom_config
	v == {{
		"policy": "delegate-no-share-storage",
		"msg": "delegate party uses the persistent pool's share storage (PersistentVolumeClaim keys-0, Secret vault-shares); remove those volumes and env references: only persistent parties may hold key shares",
	}}
}

test_custom_role_change_is_denied if {
	v := pod.violation with input as update(custom_party("persistent"), custom_party("temporary"))
		with data.mpcguard.config as custom_config
	v == {{
		"policy": "party-role-immutable",
		"msg": sprintf("signer.example.com/role cannot change from \"persistent\" to \"temporary\"; %s", [fix]),
	}}
}

test_custom_break_glass_groups_are_honoured if {
	base := with_pod(update(custom_party("persistent"), custom_party("persistent")), {"ephemeral_containers": 1})
	oncall := pod.violation with input as by(base, {"username": "bob", "groups": ["signer:sre"]})
		with data.mpcguard.config as custom_config
	default_group := pod.violation with input as by(base, alice_breaking_glass)
		with data.mpcguard.config as custom_config
	oncall == set()
	default_group == {{
		"policy": "party-access",
		"msg": "a debug container in a persistent party reaches its key shares; only members of signer:oncall, signer:sre may add one (break glass: kubectl debug ... --as=<you> --as-group=<group>, recorded in the audit log)",
	}}
}
