package mpcguard.workload_test

import data.mpcguard.lib
import data.mpcguard.lib_test.config
import data.mpcguard.lib_test.custom_config
import data.mpcguard.lib_test.party_labels
import data.mpcguard.lib_test.policies
import data.mpcguard.workload

party_selector := {"app.kubernetes.io/component": "mpc-party"}

request(kind, name, template) := {
	"kind": kind,
	"operation": "CREATE",
	"namespace": "mpc-system",
	"name": name,
	"template": template,
}

missing_role_msg := "pod template matches the party selector (app.kubernetes.io/component=mpc-party) but has no party-role label; add party-role (one of persistent, delegate, temporary) to the pod template labels"

no_persistent_config := object.union(config, {"persistent_workloads": []})

# workload-party-role

test_denies_deployment_whose_party_template_lacks_the_role if {
	v := workload.violation with input as request("Deployment", "d", {"labels": party_selector})
		with data.mpcguard.config as config
	v == {{"policy": "workload-party-role", "msg": missing_role_msg}}
}

test_denies_each_workload_kind_whose_party_template_lacks_the_role if {
	every kind in ["Deployment", "StatefulSet", "ReplicaSet", "DaemonSet", "Job", "CronJob"] {
		v := workload.violation with input as request(kind, "w", {"labels": party_selector})
			with data.mpcguard.config as config
		v == {{"policy": "workload-party-role", "msg": missing_role_msg}}
	}
}

test_denies_statefulset_whose_party_template_has_an_invalid_role if {
	v := workload.violation with input as request("StatefulSet", "s", {"labels": party_labels("Delegate")})
		with data.mpcguard.config as config
	v == {{
		"policy": "workload-party-role",
		"msg": "pod template has party-role=\"Delegate\", not one of persistent, delegate, temporary; set it to one of them in the pod template labels",
	}}
}

test_denies_template_role_with_surrounding_spaces if {
	v := workload.violation with input as request("DaemonSet", "ds", {"labels": party_labels("temporary ")})
		with data.mpcguard.config as config
	v == {{
		"policy": "workload-party-role",
		"msg": "pod template has party-role=\"temporary \", not one of persistent, delegate, temporary; set it to one of them in the pod template labels",
	}}
}

test_admits_party_template_with_each_allowed_role_in_the_persistent_statefulset if {
	every role in config.allowed_roles {
		count(workload.violation) == 0 with input as request("StatefulSet", "mpc-party", {"labels": party_labels(role)})
			with data.mpcguard.config as config
	}
}

test_admits_non_persistent_party_template_in_any_workload_kind if {
	every kind in lib.workload_kinds {
		every role in ["delegate", "temporary"] {
			count(workload.violation) == 0 with input as request(kind, "delegates", {"labels": party_labels(role)})
				with data.mpcguard.config as config
		}
	}
}

test_admits_template_outside_the_party_selector if {
	v := workload.violation with input as request("Deployment", "web", {"labels": {"app": "web"}})
		with data.mpcguard.config as config
	v == set()
}

test_admits_workload_without_template if {
	v := workload.violation with input as object.remove(request("Job", "j", {}), ["template"])
		with data.mpcguard.config as config
	v == set()
}

bad_template := {
	"labels": party_selector,
	"secrets": ["mpc-db"],
	"clones": [{"kind": "PersistentVolumeClaim", "name": "share-data-mpc-party-0"}],
}

test_ignores_template_of_an_unknown_kind if {
	v := workload.violation with input as request("Service", "svc", bad_template)
		with data.mpcguard.config as config
	v == set()
}

test_ignores_workload_on_delete if {
	v := workload.violation with input as object.union(request("Deployment", "d", bad_template), {"operation": "DELETE"})
		with data.mpcguard.config as config
	v == set()
}

test_admits_role_labels_of_a_template_outside_the_party_selector if {
	every role in ["Delegate", "persistent"] {
		count(workload.violation) == 0 with input as request("Deployment", "web", {"labels": {"party-role": role}})
			with data.mpcguard.config as config
	}
}

test_checks_workload_on_update if {
	v := workload.violation with input as object.union(request("CronJob", "c", {"labels": party_selector}), {"operation": "UPDATE"})
		with data.mpcguard.config as config
	v == {{"policy": "workload-party-role", "msg": missing_role_msg}}
}

# delegate-no-share-storage

test_denies_temporary_template_mounting_a_share_secret if {
	template := {"labels": party_labels("temporary"), "claims": ["scratch"], "secrets": ["mpc-db"]}
	v := workload.violation with input as request("Deployment", "d", template)
		with data.mpcguard.config as config
	v == {{
		"policy": "delegate-no-share-storage",
		"msg": "pod template with party-role=temporary uses the persistent pool's share storage (Secret mpc-db); remove those volumes and env references: only persistent parties may hold key shares",
	}}
}

test_denies_delegate_template_mounting_a_share_claim_and_a_host_path if {
	template := {"labels": party_labels("delegate"), "claims": ["share-data-mpc-party-2"], "host_paths": ["/mnt/disks"]}
	v := workload.violation with input as request("Deployment", "d", template)
		with data.mpcguard.config as config
	v == {{
		"policy": "delegate-no-share-storage",
		"msg": "pod template with party-role=delegate uses the persistent pool's share storage (PersistentVolumeClaim share-data-mpc-party-2, hostPath /mnt/disks); remove those volumes and env references: only persistent parties may hold key shares",
	}}
}

test_admits_delegate_statefulset_whose_claims_merely_start_with_the_share_prefix if {
	# StatefulSet mpc-party-delegate's volumeClaimTemplate share-data names its first claim share-data-mpc-party-delegate-0
	template := {"labels": party_labels("delegate"), "claims": ["share-data-mpc-party-delegate-0"], "secrets": []}
	v := workload.violation with input as request("StatefulSet", "mpc-party-delegate", template)
		with data.mpcguard.config as config
	v == set()
}

test_admits_persistent_template_mounting_share_storage if {
	template := {"labels": party_labels("persistent"), "claims": ["share-data-mpc-party-0"], "secrets": ["mpc-db"], "host_paths": ["/var/lib/mpc"]}
	v := workload.violation with input as request("StatefulSet", "mpc-party", template)
		with data.mpcguard.config as config
	v == set()
}

test_admits_delegate_template_without_share_storage if {
	template := {"labels": party_labels("delegate"), "claims": ["scratch"], "secrets": ["tls"]}
	v := workload.violation with input as request("Deployment", "d", template)
		with data.mpcguard.config as config
	v == set()
}

# share-storage-persistent-only

test_denies_non_party_template_reaching_share_storage if {
	template := {"labels": {"app": "backup"}, "claims": ["share-data-mpc-party-0"], "secrets": ["mpc-db"]}
	v := workload.violation with input as request("CronJob", "backup", template)
		with data.mpcguard.config as config
	v == {{
		"policy": "share-storage-persistent-only",
		"msg": "pod template is not a party template (app.kubernetes.io/component=mpc-party) but uses the persistent pool's share storage (PersistentVolumeClaim share-data-mpc-party-0, Secret mpc-db); only persistent party pods of the persistent pool may hold key shares",
	}}
}

test_denies_non_party_template_with_a_delegate_role_only_as_a_non_party_template if {
	v := workload.violation with input as request("Deployment", "d", {"labels": {"party-role": "delegate"}, "secrets": ["mpc-db"]})
		with data.mpcguard.config as config
	policies(v) == {"share-storage-persistent-only"}
}

test_admits_non_party_daemonset_with_a_host_path_alone if {
	template := {"labels": {"app": "log-collector"}, "host_paths": ["/var/log"]}
	v := workload.violation with input as request("DaemonSet", "logs", template)
		with data.mpcguard.config as config
	v == set()
}

test_denies_non_party_daemonset_with_a_host_path_and_a_share_claim if {
	template := {"labels": {"app": "log-collector"}, "host_paths": ["/var/log"], "claims": ["share-data-mpc-party-0"]}
	v := workload.violation with input as request("DaemonSet", "logs", template)
		with data.mpcguard.config as config
	policies(v) == {"share-storage-persistent-only"}
}

test_denies_template_without_labels_reaching_share_storage if {
	v := workload.violation with input as request("Job", "dump", {"secrets": ["mpc-db"]})
		with data.mpcguard.config as config
	policies(v) == {"share-storage-persistent-only"}
}

test_admits_non_party_template_with_other_storage if {
	template := {"labels": {"app": "web"}, "claims": ["share-data-mpc-party-delegate-0"], "secrets": ["tls"]}
	v := workload.violation with input as request("StatefulSet", "web", template)
		with data.mpcguard.config as config
	v == set()
}

# share-storage-copy

test_denies_statefulset_claim_template_cloning_a_share_claim if {
	template := {
		"labels": party_labels("persistent"),
		"claims": ["share-data-mpc-party-0"],
		"clones": [{"kind": "PersistentVolumeClaim", "name": "share-data-mpc-party-0"}],
	}
	v := workload.violation with input as request("StatefulSet", "mpc-party", template)
		with data.mpcguard.config as config
	v == {{
		"policy": "share-storage-copy",
		"msg": "a volume of the pod template clones the persistent pool's share storage (PersistentVolumeClaim share-data-mpc-party-0); a copy of a key share outside the persistent pool is a leaked share",
	}}
}

test_denies_job_ephemeral_volume_cloning_a_share_claim if {
	template := {"labels": {"app": "restore"}, "clones": [{"kind": "PersistentVolumeClaim", "name": "share-data-mpc-party-3"}]}
	v := workload.violation with input as request("Job", "restore", template)
		with data.mpcguard.config as config
	policies(v) == {"share-storage-copy"}
}

test_admits_template_cloning_another_claim if {
	template := {"labels": {"app": "restore"}, "clones": [
		{"kind": "PersistentVolumeClaim", "name": "share-data-mpc-party-delegate-0"},
		{"kind": "PersistentVolumeClaim", "name": "seed"},
	]}
	v := workload.violation with input as request("Job", "restore", template)
		with data.mpcguard.config as config
	v == set()
}

# party-persistent-origin

test_denies_persistent_template_outside_a_persistent_statefulset if {
	v := workload.violation with input as request("Deployment", "mpc-party", {"labels": party_labels("persistent")})
		with data.mpcguard.config as config
	v == {{
		"policy": "party-persistent-origin",
		"msg": "only StatefulSet mpc-party may run persistent parties; give this pod template a non-persistent role or add its pool to the persistent workloads",
	}}
}

test_denies_persistent_template_in_another_statefulset if {
	v := workload.violation with input as request("StatefulSet", "mpc-party-delegate", {"labels": party_labels("persistent")})
		with data.mpcguard.config as config
	policies(v) == {"party-persistent-origin"}
}

test_denies_persistent_template_in_each_non_statefulset_kind if {
	every kind in ["Deployment", "ReplicaSet", "DaemonSet", "Job", "CronJob"] {
		v := workload.violation with input as request(kind, "mpc-party", {"labels": party_labels("persistent")})
			with data.mpcguard.config as config
		policies(v) == {"party-persistent-origin"}
	}
}

test_names_every_configured_persistent_statefulset if {
	v := workload.violation with input as request("StatefulSet", "web", {"labels": party_labels("persistent")})
		with data.mpcguard.config as object.union(config, {"persistent_workloads": ["mpc-party", "mpc-party-eu"]})
	v == {{
		"policy": "party-persistent-origin",
		"msg": "only StatefulSet mpc-party, StatefulSet mpc-party-eu may run persistent parties; give this pod template a non-persistent role or add its pool to the persistent workloads",
	}}
}

test_admits_persistent_template_in_any_statefulset_when_none_is_configured if {
	v := workload.violation with input as request("StatefulSet", "web", {"labels": party_labels("persistent")})
		with data.mpcguard.config as no_persistent_config
	v == set()
}

test_denies_persistent_template_outside_a_statefulset_when_none_is_configured if {
	v := workload.violation with input as request("Deployment", "mpc-party", {"labels": party_labels("persistent")})
		with data.mpcguard.config as no_persistent_config
	v == {{
		"policy": "party-persistent-origin",
		"msg": "only a StatefulSet may run persistent parties; give this pod template a non-persistent role or add its pool to the persistent workloads",
	}}
}

# non-default configuration

test_custom_config_is_honoured_for_templates if {
	template := {"labels": {"app": "signer", "tier": "mpc", "party-role": "delegate"}}
	v := workload.violation with input as request("ReplicaSet", "rs", template)
		with data.mpcguard.config as custom_config
	v == {{
		"policy": "workload-party-role",
		"msg": "pod template matches the party selector (app=signer,tier=mpc) but has no signer.example.com/role label; add signer.example.com/role (one of persistent, delegate, temporary) to the pod template labels",
	}}
}

test_custom_share_storage_is_honoured_for_templates if {
	template := {"labels": {"app": "signer", "tier": "mpc", "signer.example.com/role": "delegate"}, "claims": ["keys-1", "share-data-mpc-party-0"], "secrets": ["mpc-db"]}
	v := workload.violation with input as request("Deployment", "signer-delegates", template)
		with data.mpcguard.config as custom_config
	v == {{
		"policy": "delegate-no-share-storage",
		"msg": "pod template with signer.example.com/role=delegate uses the persistent pool's share storage (PersistentVolumeClaim keys-1); remove those volumes and env references: only persistent parties may hold key shares",
	}}
}

test_custom_config_lets_any_statefulset_run_persistent_parties if {
	template := {"labels": {"app": "signer", "tier": "mpc", "signer.example.com/role": "persistent"}}
	sts := workload.violation with input as request("StatefulSet", "signers", template)
		with data.mpcguard.config as custom_config
	deployment := workload.violation with input as request("Deployment", "signers", template)
		with data.mpcguard.config as custom_config
	sts == set()
	policies(deployment) == {"party-persistent-origin"}
}

# persistent-quorum

# An UPDATE of the StatefulSet named, from old to new replicas, with the given pod template.
resize(name, old, new, template) := {
	"kind": "StatefulSet",
	"operation": "UPDATE",
	"namespace": "mpc-system",
	"name": name,
	"template": template,
	"replicas": new,
	"old_replicas": old,
}

# The same through the scale subresource (kubectl scale).
scale(name, old, new) := {
	"kind": "Scale",
	"operation": "UPDATE",
	"subresource": "scale",
	"namespace": "mpc-system",
	"name": name,
	"replicas": new,
	"old_replicas": old,
}

persistent_template := {"labels": party_labels("persistent")}

test_denies_scaling_the_persistent_statefulset_below_t if {
	v := workload.violation with input as resize("mpc-party", 3, 1, persistent_template)
		with data.mpcguard.config as config
	v == {{
		"policy": "persistent-quorum",
		"msg": "1 replica would leave fewer than t=2 persistent parties, so the pool could not sign; keep at least 2 replicas (a lower t is a reshare, not a scale-down)",
	}}
}

test_denies_scaling_the_persistent_statefulset_to_zero_through_the_scale_subresource if {
	v := workload.violation with input as scale("mpc-party", 3, 0)
		with data.mpcguard.config as config
	v == {{
		"policy": "persistent-quorum",
		"msg": "0 replicas would leave fewer than t=2 persistent parties, so the pool could not sign; keep at least 2 replicas (a lower t is a reshare, not a scale-down)",
	}}
}

test_admits_scaling_the_persistent_statefulset_to_t_or_above if {
	every n in [2, 3, 5] {
		count(workload.violation) == 0 with input as scale("mpc-party", 3, n)
			with data.mpcguard.config as config
		count(workload.violation) == 0 with input as resize("mpc-party", 3, n, persistent_template)
			with data.mpcguard.config as config
	}
}

test_admits_a_pool_below_t_that_grows_or_keeps_its_size if {
	count(workload.violation) == 0 with input as scale("mpc-party", 0, 1)
		with data.mpcguard.config as config
	count(workload.violation) == 0 with input as resize("mpc-party", 1, 1, persistent_template)
		with data.mpcguard.config as config
}

test_denies_shrinking_a_pool_already_below_t if {
	v := workload.violation with input as scale("mpc-party", 1, 0)
		with data.mpcguard.config as config
	policies(v) == {"persistent-quorum"}
}

test_denies_a_scale_below_t_without_the_old_size if {
	v := workload.violation with input as object.remove(scale("mpc-party", 3, 1), ["old_replicas"])
		with data.mpcguard.config as config
	policies(v) == {"persistent-quorum"}
}

test_admits_scaling_another_statefulset_below_t if {
	count(workload.violation) == 0 with input as scale("web", 3, 0)
		with data.mpcguard.config as config
	count(workload.violation) == 0 with input as resize("web", 3, 0, {"labels": {"app": "web"}})
		with data.mpcguard.config as config
}

test_checks_nothing_without_a_threshold if {
	count(workload.violation) == 0 with input as scale("mpc-party", 3, 0)
		with data.mpcguard.config as object.union(config, {"threshold": 0})
}

test_denies_scaling_a_persistent_template_below_t_when_no_statefulset_is_named if {
	v := workload.violation with input as resize("signers", 3, 2, {"labels": {"tier": "mpc", "app": "signer", "signer.example.com/role": "persistent"}})
		with data.mpcguard.config as custom_config
	v == {{
		"policy": "persistent-quorum",
		"msg": "2 replicas would leave fewer than t=3 persistent parties, so the pool could not sign; keep at least 3 replicas (a lower t is a reshare, not a scale-down)",
	}}
}

test_does_not_check_a_scale_when_no_statefulset_is_named if {
	count(workload.violation) == 0 with input as scale("signers", 3, 0)
		with data.mpcguard.config as custom_config
}

test_does_not_check_the_quorum_on_create if {
	v := workload.violation with input as object.union(resize("mpc-party", 3, 1, persistent_template), {"operation": "CREATE"})
		with data.mpcguard.config as config
	v == set()
}

# share-deletion: the persistent StatefulSet

deletion(name, template) := {
	"kind": "StatefulSet",
	"operation": "DELETE",
	"namespace": "mpc-system",
	"name": name,
	"template": template,
	"user": {"username": "alice", "groups": ["system:authenticated"]},
}

breaking_glass(request, reason) := object.union(request, {
	"break_glass_reason": reason,
	"user": {"username": "alice", "groups": ["system:authenticated", "mpcguard:break-glass"]},
})

refused_msg := `the persistent StatefulSet runs the parties that hold the key shares; deleting it needs the annotation mpcguard.io/break-glass: "<reason>" on the object and a member of mpcguard:break-glass (kubectl annotate, then kubectl delete --as=<you> --as-group=<group>, recorded in the audit log)`

test_denies_deleting_the_persistent_statefulset if {
	v := workload.violation with input as deletion("mpc-party", persistent_template)
		with data.mpcguard.config as config
	v == {{"policy": "share-deletion", "msg": refused_msg}}
}

test_denies_deleting_the_persistent_statefulset_offline_and_without_its_old_object if {
	v := workload.violation with input as {"kind": "StatefulSet", "operation": "DELETE", "namespace": "mpc-system", "name": "mpc-party"}
		with data.mpcguard.config as config
	policies(v) == {"share-deletion"}
}

test_denies_a_break_glass_user_without_the_annotation if {
	v := workload.violation with input as object.remove(breaking_glass(deletion("mpc-party", persistent_template), ""), ["break_glass_reason"])
		with data.mpcguard.config as config
	v == {{"policy": "share-deletion", "msg": refused_msg}}
}

test_denies_a_blank_break_glass_reason if {
	v := workload.violation with input as breaking_glass(deletion("mpc-party", persistent_template), "  ")
		with data.mpcguard.config as config
	v == {{"policy": "share-deletion", "msg": refused_msg}}
}

test_denies_the_annotation_without_a_break_glass_user if {
	v := workload.violation with input as object.union(deletion("mpc-party", persistent_template), {"break_glass_reason": "decommission"})
		with data.mpcguard.config as config
	v == {{"policy": "share-deletion", "msg": refused_msg}}
}

test_admits_a_break_glass_deletion_with_a_notice_naming_the_reason if {
	v := workload.violation with input as breaking_glass(deletion("mpc-party", persistent_template), "INC-42 decommission")
		with data.mpcguard.config as config
	v == {{
		"policy": "share-deletion",
		"msg": `deleted by alice breaking glass (mpcguard:break-glass): "INC-42 decommission"`,
		"notice": true,
	}}
}

test_admits_deleting_another_statefulset if {
	count(workload.violation) == 0 with input as deletion("web", {"labels": {"app": "web"}})
		with data.mpcguard.config as config
}

test_denies_deleting_a_persistent_template_statefulset_when_none_is_named if {
	v := workload.violation with input as deletion("signers", {"labels": {"tier": "mpc", "app": "signer", "signer.example.com/role": "persistent"}})
		with data.mpcguard.config as custom_config
	policies(v) == {"share-deletion"}
}

test_the_workload_policies_do_not_judge_a_deleted_template if {
	# A delegate template that mounts the shares is refused on CREATE and UPDATE, never on DELETE.
	template := {"labels": party_labels("delegate"), "claims": ["share-data-mpc-party-0"]}
	count(workload.violation) == 0 with input as deletion("mpc-party-api", template)
		with data.mpcguard.config as config
}
