package mpcguard.connect_test

import data.mpcguard.connect
import data.mpcguard.lib_test.alice
import data.mpcguard.lib_test.alice_breaking_glass
import data.mpcguard.lib_test.config
import data.mpcguard.lib_test.custom_config
import data.mpcguard.lib_test.policies

# kubectl exec by alice into pod p-0, whose role the cluster inventory knows.
exec(role) := {
	"kind": "PodExecOptions",
	"operation": "CONNECT",
	"subresource": "exec",
	"namespace": "mpc-system",
	"name": "p-0",
	"user": alice,
	"target": {"role": role},
	"inventory": {"available": true},
}

by(request, user) := object.union(request, {"user": user})

without_inventory(request) := object.union(request, {"target": {}, "inventory": {"available": false}})

test_denies_exec_into_a_persistent_party if {
	v := connect.violation with input as exec("persistent")
		with data.mpcguard.config as config
	v == {{
		"policy": "party-access",
		"msg": "exec into a persistent party reaches its key shares; only members of mpcguard:break-glass may (break glass: kubectl ... --as=<you> --as-group=<group>, recorded in the audit log)",
	}}
}

test_denies_every_connect_subresource_into_a_persistent_party if {
	every kind, subresource in {
		"PodExecOptions": "exec",
		"PodAttachOptions": "attach",
		"PodPortForwardOptions": "portforward",
		"PodProxyOptions": "proxy",
	} {
		v := connect.violation with input as object.union(exec("persistent"), {"kind": kind, "subresource": subresource})
			with data.mpcguard.config as config
		policies(v) == {"party-access"}
		some x in v
		startswith(x.msg, sprintf("%s into a persistent party", [subresource]))
	}
}

test_names_the_connection_generically_without_a_subresource if {
	v := connect.violation with input as object.remove(exec("persistent"), ["subresource"])
		with data.mpcguard.config as config
	some x in v
	startswith(x.msg, "connect into a persistent party reaches its key shares")
}

test_denies_exec_into_a_persistent_party_without_a_user if {
	v := connect.violation with input as object.remove(exec("persistent"), ["user"])
		with data.mpcguard.config as config
	policies(v) == {"party-access"}
}

test_admits_exec_into_a_persistent_party_by_a_break_glass_user if {
	v := connect.violation with input as by(exec("persistent"), alice_breaking_glass)
		with data.mpcguard.config as config
	v == set()
}

test_admits_exec_into_a_non_persistent_or_unlabelled_pod if {
	every role in ["delegate", "temporary", "Persistent"] {
		count(connect.violation) == 0 with input as exec(role)
			with data.mpcguard.config as config
	}
	count(connect.violation) == 0 with input as object.union(exec("persistent"), {"target": {"role": null}})
		with data.mpcguard.config as config
}

test_reports_connect_as_skipped_without_inventory if {
	v := connect.violation with input as without_inventory(exec("persistent"))
		with data.mpcguard.config as config
	v == {{
		"policy": "party-access",
		"msg": "not checked: no cluster inventory to tell whether the pod is a persistent party (exec)",
		"skipped": true,
	}}
}

test_reports_connect_as_skipped_when_the_inventory_is_absent_or_not_true if {
	no_inventory := object.remove(exec("persistent"), ["inventory"])
	every req in [
		no_inventory,
		object.union(no_inventory, {"inventory": null}),
		object.union(no_inventory, {"inventory": {}}),
		object.union(no_inventory, {"inventory": {"available": "true"}}),
	] {
		v := connect.violation with input as req
			with data.mpcguard.config as config
		policies(v) == {"party-access"}
		every x in v {
			x.skipped == true
		}
	}
}

test_reports_connect_as_skipped_without_inventory_even_for_a_break_glass_user if {
	v := connect.violation with input as by(without_inventory(exec("persistent")), alice_breaking_glass)
		with data.mpcguard.config as config
	policies(v) == {"party-access"}
}

test_ignores_other_operations_and_kinds if {
	every req in [
		object.union(exec("persistent"), {"operation": "CREATE"}),
		object.union(exec("persistent"), {"kind": "Pod"}),
		without_inventory(object.union(exec("persistent"), {"kind": "Pod"})),
	] {
		count(connect.violation) == 0 with input as req
			with data.mpcguard.config as config
	}
}

test_custom_break_glass_groups_are_honoured if {
	sre := connect.violation with input as by(exec("persistent"), {"username": "bob", "groups": ["signer:sre"]})
		with data.mpcguard.config as custom_config
	default_group := connect.violation with input as by(exec("persistent"), alice_breaking_glass)
		with data.mpcguard.config as custom_config
	sre == set()
	default_group == {{
		"policy": "party-access",
		"msg": "exec into a persistent party reaches its key shares; only members of signer:oncall, signer:sre may (break glass: kubectl ... --as=<you> --as-group=<group>, recorded in the audit log)",
	}}
}
