# METADATA
# title: workload policies
# description: |
#   Deployments, StatefulSets, ReplicaSets, DaemonSets, Jobs and CronJobs whose pod
#   template matches the party selector: rejected up front, instead of their pods failing later.
package mpcguard.workload

import data.mpcguard.lib

# METADATA
# title: config
# description: The mpcguard configuration (data.mpcguard.config).
config := data.mpcguard.config

# METADATA
# title: role key
# description: The label that carries a party's role.
role_key := config.role_label_key

# METADATA
# title: allowed roles
# description: The valid role values, in configuration order.
allowed_roles := config.allowed_roles

# METADATA
# title: labels
# description: The labels of the admitted workload's pod template.
labels := lib.labels(input.template)

# METADATA
# title: party template
# description: The admitted workload's pod template matches the party selector.
party_template if {
	some kind in lib.workload_kinds
	lib.checks(input, kind)
	lib.matches_selector(labels, config.party_selector)
}

# METADATA
# title: workload-party-role
# description: A party pod template must carry the role label.
violation contains {"policy": id, "msg": msg} if {
	id := "workload-party-role"
	party_template
	not labels[role_key]
	msg := sprintf("%spod template matches the party selector (%s) but has no %s label; add %s (one of %s) to the pod template labels", [
		lib.prefix(id, input),
		lib.selector_text(config.party_selector),
		role_key, role_key,
		lib.roles_text(allowed_roles),
	])
}

# METADATA
# title: workload-party-role
# description: A party pod template's role is exactly one of the allowed roles.
violation contains {"policy": id, "msg": msg} if {
	id := "workload-party-role"
	party_template
	role := labels[role_key]
	not role in allowed_roles
	msg := sprintf("%spod template has %s=%q, not one of %s; set it to one of them in the pod template labels", [
		lib.prefix(id, input),
		role_key, role,
		lib.roles_text(allowed_roles),
	])
}

# METADATA
# title: delegate-no-share-storage
# description: A delegate or temporary party pod template must not mount the persistent pool's share storage.
violation contains {"policy": id, "msg": msg} if {
	id := "delegate-no-share-storage"
	party_template
	role := labels[role_key]
	lib.non_persistent_role(role, allowed_roles)
	mounts := lib.share_mounts(input.template, config.share_storage)
	count(mounts) > 0
	msg := sprintf("%spod template with %s=%s uses the persistent pool's share storage (%s); remove those volumes and env references: only persistent parties may hold key shares", [
		lib.prefix(id, input),
		role_key, role,
		concat(", ", mounts),
	])
}
