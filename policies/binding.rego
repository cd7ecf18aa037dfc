# METADATA
# title: binding policies
# description: |
#   pods/binding: the API server copies a Binding's labels onto the pod it binds, so a
#   Binding is a write to the pod's labels that no pod UPDATE shows. The scheduler's
#   Bindings carry no party labels.
package mpcguard.binding

import data.mpcguard.lib

# METADATA
# title: config
# description: The mpcguard configuration (data.mpcguard.config).
config := data.mpcguard.config

# METADATA
# title: party keys
# description: The label keys that make a pod a party or give it its role.
party_keys := {key | some key, _ in config.party_selector} | {config.role_label_key}

# METADATA
# title: party-binding-labels
# description: A Binding sets neither the role label nor a party selector label.
violation contains {"policy": "party-binding-labels", "msg": msg} if {
	lib.checks(input, "Binding")
	keys := {key | some key, _ in lib.labels(input.binding)} & party_keys
	count(keys) > 0
	msg := sprintf("a Binding would set the pod's %s label(s), which decide whether it is a party and its role; bind without those labels and set them when the pod is created", [concat(", ", sort(keys))])
}
