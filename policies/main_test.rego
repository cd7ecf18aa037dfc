package mpcguard.main_test

import data.mpcguard.binding
import data.mpcguard.connect
import data.mpcguard.lib_test.alice
import data.mpcguard.lib_test.config
import data.mpcguard.lib_test.custom_config
import data.mpcguard.lib_test.party_labels
import data.mpcguard.lib_test.policies
import data.mpcguard.main
import data.mpcguard.pod
import data.mpcguard.session
import data.mpcguard.storage
import data.mpcguard.workload

party_selector := {"app.kubernetes.io/component": "mpc-party"}

pod_request(labels) := {
	"kind": "Pod",
	"operation": "CREATE",
	"namespace": "mpc-system",
	"name": "p-0",
	"user": {"username": "system:serviceaccount:kube-system:statefulset-controller", "groups": []},
	"pod": {"labels": labels, "owner": {"kind": "StatefulSet", "name": "mpc-party"}},
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

delegate_only := {
	"policy": "session-delegate-only-threshold",
	"msg": "2 delegate + 0 temporary parties could reach the signing threshold t=2 without a persistent party; use at most 1 non-persistent party or raise t",
}

composition_sum := {
	"policy": "session-composition-sum",
	"msg": "composition adds up to 4 (persistent=2, delegate=2, temporary=0), not n=3; make the counts add up to n",
}

persistent_available := {
	"policy": "session-persistent-available",
	"msg": "needs 2 Ready persistent parties but namespace mpc-system has 1; scale up the persistent pool or wait for its parties to be Ready",
}

persistent_skipped := {
	"policy": "session-persistent-available",
	"msg": "not checked: no cluster inventory (needs 2 Ready persistent parties)",
	"skipped": true,
}

# t=2, n=3 with 2 persistent + 2 delegate: delegates reach t, and the counts add up to 4.
bad_session(inventory) := session_request(2, 3, {"persistent": 2, "delegate": 2, "temporary": 0}, inventory)

# One request of each reviewed kind, each with a violation, and the module that judges it.
workload_request(kind) := {
	"kind": kind,
	"operation": "CREATE",
	"namespace": "mpc-system",
	"name": "w",
	"template": {"labels": party_selector},
}

binding_request := {
	"kind": "Binding",
	"operation": "CREATE",
	"namespace": "mpc-system",
	"name": "p-0",
	"binding": {"labels": {"party-role": "persistent"}},
}

connect_request(kind) := {
	"kind": kind,
	"operation": "CONNECT",
	"subresource": "exec",
	"namespace": "mpc-system",
	"name": "p-0",
	"user": alice,
	"target": {"role": "persistent"},
	"inventory": {"available": true},
}

claim_request := {
	"kind": "PersistentVolumeClaim",
	"operation": "CREATE",
	"namespace": "mpc-system",
	"name": "copy",
	"user": alice,
	"claim": {"clones": [{"kind": "PersistentVolumeClaim", "name": "share-data-mpc-party-0"}]},
}

snapshot_request := {
	"kind": "VolumeSnapshot",
	"operation": "CREATE",
	"namespace": "mpc-system",
	"name": "snap",
	"user": alice,
	"snapshot": {"claim": "share-data-mpc-party-0"},
}

# every field any module reads, each with something to object to: only the request kind's module may speak
everything := {
	"operation": "CREATE",
	"namespace": "mpc-system",
	"name": "x",
	"pod": {"labels": party_selector},
	"template": {"labels": party_selector},
	"session": "x",
	"binding": {"labels": {"party-role": "persistent"}},
	"target": {"role": "persistent"},
	"inventory": {"available": false},
	"claim": claim_request.claim,
	"snapshot": snapshot_request.snapshot,
}

test_violation_is_the_pod_modules_for_a_pod if {
	v := main.violation with input as pod_request(party_selector)
		with data.mpcguard.config as config
	p := pod.violation with input as pod_request(party_selector)
		with data.mpcguard.config as config
	v == p
	v == {{
		"policy": "party-role-required",
		"msg": "party pod (app.kubernetes.io/component=mpc-party) has no party-role label; add party-role with one of persistent, delegate, temporary",
	}}
}

test_violation_is_the_workload_modules_for_each_workload_kind if {
	every kind in ["Deployment", "StatefulSet", "ReplicaSet", "DaemonSet", "Job", "CronJob"] {
		v := main.violation with input as workload_request(kind)
			with data.mpcguard.config as config
		w := workload.violation with input as workload_request(kind)
			with data.mpcguard.config as config
		v == w
		policies(v) == {"workload-party-role"}
	}
}

test_violation_is_the_session_modules_for_a_session if {
	v := main.violation with input as bad_session(ready(1))
		with data.mpcguard.config as config
	s := session.violation with input as bad_session(ready(1))
		with data.mpcguard.config as config
	v == s
	v == {composition_sum, delegate_only, persistent_available}
}

test_violation_is_the_binding_modules_for_a_binding if {
	v := main.violation with input as binding_request
		with data.mpcguard.config as config
	b := binding.violation with input as binding_request
		with data.mpcguard.config as config
	v == b
	policies(v) == {"party-binding-labels"}
}

test_violation_is_the_connect_modules_for_each_connect_kind if {
	every kind in connect.connect_kinds {
		v := main.violation with input as connect_request(kind)
			with data.mpcguard.config as config
		c := connect.violation with input as connect_request(kind)
			with data.mpcguard.config as config
		v == c
		policies(v) == {"party-access"}
	}
}

test_violation_is_the_storage_modules_for_claims_and_snapshots if {
	every req in [claim_request, snapshot_request] {
		v := main.violation with input as req
			with data.mpcguard.config as config
		s := storage.violation with input as req
			with data.mpcguard.config as config
		v == s
		policies(v) == {"share-storage-copy"}
	}
}

test_only_the_module_for_the_request_kind_is_evaluated if {
	every kind, expected in {
		"Pod": {"party-role-required"},
		"Deployment": {"workload-party-role"},
		"MPCSession": {"session-spec-valid"},
		"Binding": {"party-binding-labels"},
		"PersistentVolumeClaim": {"share-storage-copy"},
		"VolumeSnapshot": {"share-storage-copy"},
	} {
		v := main.violation with input as object.union(everything, {"kind": kind})
			with data.mpcguard.config as config
		policies(v) == expected
	}
	v := main.violation with input as object.union(everything, {"kind": "PodExecOptions", "operation": "CONNECT"})
		with data.mpcguard.config as config
	v == {{
		"policy": "party-access",
		"msg": "not checked: no cluster inventory to tell whether the pod is a persistent party (connect)",
		"skipped": true,
	}}
}

test_messages_are_bare_without_policy_or_object_prefix if {
	v := main.violation with input as bad_session(ready(1))
		with data.mpcguard.config as config
	count(v) > 0
	every x in v {
		not startswith(x.msg, "[")
		not contains(x.msg, "MPCSession mpc-system/sign-42")
		object.keys(x) == {"policy", "msg"}
	}
}

test_a_check_that_could_not_run_is_a_violation_marked_skipped if {
	v := main.violation with input as bad_session(no_inventory)
		with data.mpcguard.config as config
	v == {composition_sum, delegate_only, persistent_skipped}
}

test_admits_a_valid_party_pod_with_no_violation if {
	v := main.violation with input as pod_request(party_labels("persistent"))
		with data.mpcguard.config as config
	v == set()
}

test_admits_session_with_exactly_the_needed_ready_parties if {
	v := main.violation with input as session_request(2, 3, {"persistent": 2, "delegate": 1, "temporary": 0}, ready(2))
		with data.mpcguard.config as config
	v == set()
}

test_delete_yields_no_violation if {
	every req in [
		object.union(bad_session(no_inventory), {"operation": "DELETE"}),
		object.union(pod_request(party_selector), {"operation": "DELETE"}),
		object.union(everything, {"kind": "Binding", "operation": "DELETE"}),
	] {
		count(main.violation) == 0 with input as req
			with data.mpcguard.config as config
	}
}

# Each module's violations replaced by a marker naming the module, to see which one main.violation returns.
marker(module) := {{"policy": module, "msg": module}}

dispatched(request) := v if {
	v := main.violation with input as request
		with data.mpcguard.config as config
		with data.mpcguard.pod.violation as marker("pod")
		with data.mpcguard.workload.violation as marker("workload")
		with data.mpcguard.session.violation as marker("session")
		with data.mpcguard.binding.violation as marker("binding")
		with data.mpcguard.connect.violation as marker("connect")
		with data.mpcguard.storage.violation as marker("storage")
}

test_dispatches_each_kind_to_its_module if {
	every kind, module in {
		"Pod": "pod",
		"Deployment": "workload",
		"StatefulSet": "workload",
		"ReplicaSet": "workload",
		"DaemonSet": "workload",
		"Job": "workload",
		"CronJob": "workload",
		"MPCSession": "session",
		"Binding": "binding",
		"PodExecOptions": "connect",
		"PodAttachOptions": "connect",
		"PodPortForwardOptions": "connect",
		"PodProxyOptions": "connect",
		"PersistentVolumeClaim": "storage",
		"VolumeSnapshot": "storage",
		"Scale": "workload",
		"Secret": "storage",
	} {
		dispatched({"kind": kind, "operation": "CREATE"}) == marker(module)
	}
}

test_unknown_kind_yields_no_violation if {
	every request in [{"kind": "ConfigMap"}, {"kind": "secret"}, {"kind": "pod"}, {"kind": "Binding "}, {}, "Pod", null] {
		dispatched(request) == set()
	}

	# A Secret is dispatched to the storage module, which judges only its DELETE.
	every kind in ["ConfigMap", "Secret", "Service", "Namespace"] {
		count(main.violation) == 0 with input as object.union(everything, {"kind": kind})
			with data.mpcguard.config as config
	}
}

test_empty_or_malformed_input_yields_no_violation if {
	every request in [{}, "Pod", [], null, {"kind": "Pod"}, {"kind": "Pod", "operation": "CREATE", "pod": "x"}] {
		v := main.violation with input as request
			with data.mpcguard.config as config
		v == set()
	}
}

test_malformed_session_spec_is_a_violation if {
	v := main.violation with input as {"kind": "MPCSession", "operation": "CREATE", "session": "x"}
		with data.mpcguard.config as config
	policies(v) == {"session-spec-valid"}
}

test_missing_config_yields_no_violation_for_pods if {
	v := main.violation with input as pod_request(party_selector)
		with data.mpcguard.config as {}
	v == set()
}

test_custom_config_decides_with_its_role_key_and_selector if {
	labels := {"app": "signer", "tier": "mpc", "signer.example.com/role": "Persistent"}
	v := main.violation with input as pod_request(labels)
		with data.mpcguard.config as custom_config
	v == {{
		"policy": "party-role-valid",
		"msg": "signer.example.com/role=\"Persistent\" is not a valid role; set signer.example.com/role to one of persistent, delegate, temporary (exact, lower case)",
	}}
}

test_workload_violations_reach_main if {
	request := {
		"kind": "Job",
		"operation": "CREATE",
		"namespace": "mpc-system",
		"name": "j",
		"template": {"labels": party_labels("delegate"), "secrets": ["mpc-db"]},
	}
	v := main.violation with input as request
		with data.mpcguard.config as config
	v == {{
		"policy": "delegate-no-share-storage",
		"msg": "pod template with party-role=delegate uses the persistent pool's share storage (Secret mpc-db); remove those volumes and env references: only persistent parties may hold key shares",
	}}
}

test_violation_is_the_workload_modules_for_a_scale if {
	scale := {
		"kind": "Scale", "operation": "UPDATE", "subresource": "scale",
		"namespace": "mpc-system", "name": "mpc-party", "replicas": 1, "old_replicas": 3,
	}
	v := main.violation with input as scale
		with data.mpcguard.config as config
	w := workload.violation with input as scale
		with data.mpcguard.config as config
	v == w
	policies(v) == {"persistent-quorum"}
}

test_violation_is_the_storage_modules_for_a_secret_deletion if {
	deletion := {"kind": "Secret", "operation": "DELETE", "namespace": "mpc-system", "name": "mpc-db"}
	v := main.violation with input as deletion
		with data.mpcguard.config as config
	s := storage.violation with input as deletion
		with data.mpcguard.config as config
	v == s
	policies(v) == {"share-deletion"}
}
