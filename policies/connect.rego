# METADATA
# title: connect policies
# description: |
#   CONNECT to a pod (pods/exec, attach, portforward, proxy) reaches everything the pod
#   holds. Into a persistent party pod that is its key shares: only break-glass users.
#   The request names the pod but carries no labels; input.target is what the
#   webhook's cluster inventory knows of it.
package mpcguard.connect

import data.mpcguard.lib

# METADATA
# title: config
# description: The mpcguard configuration (data.mpcguard.config).
config := data.mpcguard.config

# METADATA
# title: connect kinds
# description: The options kinds a CONNECT request carries.
connect_kinds := {"PodExecOptions", "PodAttachOptions", "PodPortForwardOptions", "PodProxyOptions"}

# METADATA
# title: connect
# description: A CONNECT to a pod subresource.
connect if {
	input.operation == "CONNECT"
	input.kind in connect_kinds
}

# METADATA
# title: inventory available
# description: The webhook's cluster inventory is on and synced.
inventory_available if input.inventory.available == true

# METADATA
# title: party-access
# description: Only break-glass users connect to a persistent party pod.
violation contains {"policy": "party-access", "msg": msg} if {
	connect
	inventory_available
	input.target.role == lib.persistent_role
	not lib.break_glass(object.get(input, "user", {}), config.break_glass_groups)
	msg := sprintf("%s into a persistent party reaches its key shares; only members of %s may (break glass: kubectl ... --as=<you> --as-group=<group>, recorded in the audit log)", [
		object.get(input, "subresource", "connect"),
		concat(", ", config.break_glass_groups),
	])
}

# METADATA
# title: party-access
# description: Without a cluster inventory the target's role is unknown; reported as skipped, never silently passed.
violation contains {"policy": "party-access", "msg": msg, "skipped": true} if {
	connect
	not inventory_available
	msg := sprintf("not checked: no cluster inventory to tell whether the pod is a persistent party (%s)", [object.get(input, "subresource", "connect")])
}
