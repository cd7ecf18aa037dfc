package mpcguard.binding_test

import data.mpcguard.binding
import data.mpcguard.lib_test.config
import data.mpcguard.lib_test.custom_config
import data.mpcguard.lib_test.party_labels
import data.mpcguard.lib_test.policies

# A pods/binding request whose Binding carries the given labels.
request(labels) := {
	"kind": "Binding",
	"operation": "CREATE",
	"subresource": "binding",
	"namespace": "mpc-system",
	"name": "p-0",
	"user": {"username": "system:kube-scheduler", "groups": ["system:authenticated"]},
	"binding": {"labels": labels},
}

test_denies_binding_that_sets_the_role_label if {
	v := binding.violation with input as request({"party-role": "persistent"})
		with data.mpcguard.config as config
	v == {{
		"policy": "party-binding-labels",
		"msg": "a Binding would set the pod's party-role label(s), which decide whether it is a party and its role; bind without those labels and set them when the pod is created",
	}}
}

test_denies_binding_that_sets_a_party_selector_label if {
	v := binding.violation with input as request({"app.kubernetes.io/component": "mpc-party"})
		with data.mpcguard.config as config
	policies(v) == {"party-binding-labels"}
}

test_denies_binding_that_sets_a_party_selector_label_to_another_value if {
	v := binding.violation with input as request({"app.kubernetes.io/component": "coordinator"})
		with data.mpcguard.config as config
	policies(v) == {"party-binding-labels"}
}

test_names_every_party_label_a_binding_sets_in_order if {
	v := binding.violation with input as request(object.union(party_labels("persistent"), {"zone": "a"}))
		with data.mpcguard.config as config
	v == {{
		"policy": "party-binding-labels",
		"msg": "a Binding would set the pod's app.kubernetes.io/component, party-role label(s), which decide whether it is a party and its role; bind without those labels and set them when the pod is created",
	}}
}

test_admits_binding_without_party_labels if {
	every labels in [{}, {"zone": "a", "app": "signer"}, null] {
		count(binding.violation) == 0 with input as request(labels)
			with data.mpcguard.config as config
	}
}

test_admits_binding_without_a_binding_field if {
	v := binding.violation with input as object.remove(request({}), ["binding"])
		with data.mpcguard.config as config
	v == set()
}

test_ignores_party_labels_on_delete_or_another_kind if {
	every req in [
		object.union(request(party_labels("persistent")), {"operation": "DELETE"}),
		object.union(request(party_labels("persistent")), {"kind": "Pod"}),
	] {
		count(binding.violation) == 0 with input as req
			with data.mpcguard.config as config
	}
}

test_custom_party_keys_are_honoured if {
	custom := binding.violation with input as request({"tier": "mpc", "signer.example.com/role": "delegate", "party-role": "x"})
		with data.mpcguard.config as custom_config
	default_keys := binding.violation with input as request(party_labels("persistent"))
		with data.mpcguard.config as custom_config
	custom == {{
		"policy": "party-binding-labels",
		"msg": "a Binding would set the pod's signer.example.com/role, tier label(s), which decide whether it is a party and its role; bind without those labels and set them when the pod is created",
	}}
	default_keys == set()
}
