package mpcguard.workload_test

import data.mpcguard.lib_test.config
import data.mpcguard.lib_test.custom_config
import data.mpcguard.lib_test.party_labels
import data.mpcguard.workload

party_selector := {"app.kubernetes.io/component": "mpc-party"}

request(kind, name, template) := {
	"kind": kind,
	"operation": "CREATE",
	"namespace": "mpc-system",
	"name": name,
	"template": template,
}

missing_role_msg(kind, name) := sprintf("[workload-party-role] %s mpc-system/%s: pod template matches the party selector (app.kubernetes.io/component=mpc-party) but has no party-role label; add party-role (one of persistent, delegate, temporary) to the pod template labels", [kind, name])

# workload-party-role

test_denies_deployment_whose_party_template_lacks_the_role if {
	v := workload.violation with input as request("Deployment", "d", {"labels": party_selector})
		with data.mpcguard.config as config
	v == {{
		"policy": "workload-party-role",
		"msg": "[workload-party-role] Deployment mpc-system/d: pod template matches the party selector (app.kubernetes.io/component=mpc-party) but has no party-role label; add party-role (one of persistent, delegate, temporary) to the pod template labels",
	}}
}

test_denies_each_workload_kind_whose_party_template_lacks_the_role if {
	every kind in ["Deployment", "StatefulSet", "ReplicaSet", "DaemonSet", "Job", "CronJob"] {
		v := workload.violation with input as request(kind, "w", {"labels": party_selector})
			with data.mpcguard.config as config
		v == {{"policy": "workload-party-role", "msg": missing_role_msg(kind, "w")}}
	}
}

test_denies_statefulset_whose_party_template_has_an_invalid_role if {
	v := workload.violation with input as request("StatefulSet", "s", {"labels": party_labels("Delegate")})
		with data.mpcguard.config as config
	v == {{
		"policy": "workload-party-role",
		"msg": "[workload-party-role] StatefulSet mpc-system/s: pod template has party-role=\"Delegate\", not one of persistent, delegate, temporary; set it to one of them in the pod template labels",
	}}
}

test_denies_template_role_with_surrounding_spaces if {
	v := workload.violation with input as request("DaemonSet", "ds", {"labels": party_labels("temporary ")})
		with data.mpcguard.config as config
	v == {{
		"policy": "workload-party-role",
		"msg": "[workload-party-role] DaemonSet mpc-system/ds: pod template has party-role=\"temporary \", not one of persistent, delegate, temporary; set it to one of them in the pod template labels",
	}}
}

test_admits_party_template_with_each_allowed_role if {
	every role in config.allowed_roles {
		count(workload.violation) == 0 with input as request("StatefulSet", "s", {"labels": party_labels(role)})
			with data.mpcguard.config as config
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

test_ignores_template_of_an_unknown_kind if {
	v := workload.violation with input as request("Service", "svc", {"labels": party_selector})
		with data.mpcguard.config as config
	v == set()
}

test_ignores_workload_on_delete if {
	v := workload.violation with input as object.union(request("Deployment", "d", {"labels": party_selector}), {"operation": "DELETE"})
		with data.mpcguard.config as config
	v == set()
}

test_checks_workload_on_update if {
	v := workload.violation with input as object.union(request("CronJob", "c", {"labels": party_selector}), {"operation": "UPDATE"})
		with data.mpcguard.config as config
	v == {{"policy": "workload-party-role", "msg": missing_role_msg("CronJob", "c")}}
}

# delegate-no-share-storage

test_denies_temporary_template_mounting_a_share_secret if {
	template := {"labels": party_labels("temporary"), "claims": ["scratch"], "secrets": ["mpc-db"]}
	v := workload.violation with input as request("Deployment", "d", template)
		with data.mpcguard.config as config
	v == {{
		"policy": "delegate-no-share-storage",
		"msg": "[delegate-no-share-storage] Deployment mpc-system/d: pod template with party-role=temporary uses the persistent pool's share storage (Secret mpc-db); remove those volumes and env references: only persistent parties may hold key shares",
	}}
}

test_denies_delegate_statefulset_whose_claim_template_is_share_storage if {
	template := {"labels": party_labels("delegate"), "claims": ["share-data-mpc-party-delegates-0"], "secrets": []}
	v := workload.violation with input as request("StatefulSet", "delegates", template)
		with data.mpcguard.config as config
	v == {{
		"policy": "delegate-no-share-storage",
		"msg": "[delegate-no-share-storage] StatefulSet mpc-system/delegates: pod template with party-role=delegate uses the persistent pool's share storage (PersistentVolumeClaim share-data-mpc-party-delegates-0); remove those volumes and env references: only persistent parties may hold key shares",
	}}
}

test_admits_persistent_template_mounting_share_storage if {
	template := {"labels": party_labels("persistent"), "claims": ["share-data-mpc-party-0"], "secrets": ["mpc-db"]}
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

# non-default configuration

test_custom_config_is_honoured_for_templates if {
	template := {"labels": {"app": "signer", "tier": "mpc", "party-role": "delegate"}}
	v := workload.violation with input as request("ReplicaSet", "rs", template)
		with data.mpcguard.config as custom_config
	v == {{
		"policy": "workload-party-role",
		"msg": "[workload-party-role] ReplicaSet mpc-system/rs: pod template matches the party selector (app=signer,tier=mpc) but has no signer.example.com/role label; add signer.example.com/role (one of persistent, delegate, temporary) to the pod template labels",
	}}
}
