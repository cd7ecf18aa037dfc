# METADATA
# title: party pod policies
# description: |
#   Pods that match the party selector: the role label is present, valid, immutable,
#   and a non-persistent party mounts no share storage.
package mpcguard.pod

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
# description: The labels of the admitted pod.
labels := lib.labels(input.pod)

# METADATA
# title: party pod
# description: The admitted Pod (CREATE or UPDATE) matches the party selector.
party_pod if {
	lib.checks(input, "Pod")
	lib.matches_selector(labels, config.party_selector)
}

# METADATA
# title: party-role-required
# description: A party pod must carry the role label.
violation contains {"policy": id, "msg": msg} if {
	id := "party-role-required"
	party_pod
	not labels[role_key]
	msg := sprintf("%sparty pod (%s) has no %s label; add %s with one of %s", [
		lib.prefix(id, input),
		lib.selector_text(config.party_selector),
		role_key, role_key,
		lib.roles_text(allowed_roles),
	])
}

# METADATA
# title: party-role-valid
# description: A party pod's role is exactly one of the allowed roles (case-sensitive, no spaces).
violation contains {"policy": id, "msg": msg} if {
	id := "party-role-valid"
	party_pod
	role := labels[role_key]
	not role in allowed_roles
	msg := sprintf("%s%s=%q is not a valid role; set %s to one of %s (exact, lower case)", [
		lib.prefix(id, input),
		role_key, role,
		role_key,
		lib.roles_text(allowed_roles),
	])
}

# METADATA
# title: party pod update
# description: A Pod UPDATE where the old or the new pod matches the party selector.
party_pod_update if {
	input.operation == "UPDATE"
	lib.checks(input, "Pod")
	some pod_labels in [lib.labels(input.old_pod), labels]
	lib.matches_selector(pod_labels, config.party_selector)
}

# METADATA
# title: old labels
# description: The labels of the pod before an UPDATE.
old_labels := lib.labels(input.old_pod)

# METADATA
# title: party-role-immutable
# description: A party pod's role cannot change on UPDATE.
violation contains {"policy": id, "msg": msg} if {
	id := "party-role-immutable"
	party_pod_update
	old_role := old_labels[role_key]
	new_role := labels[role_key]
	old_role != new_role
	msg := sprintf("%s%s cannot change from %q to %q; delete the pod and create it with the role it should have", [
		lib.prefix(id, input),
		role_key,
		old_role, new_role,
	])
}

# METADATA
# title: party-role-immutable
# description: A party pod's role cannot be removed on UPDATE.
violation contains {"policy": id, "msg": msg} if {
	id := "party-role-immutable"
	party_pod_update
	old_role := old_labels[role_key]
	not labels[role_key]
	msg := sprintf("%s%s %q cannot be removed; delete the pod and create it with the role it should have", [
		lib.prefix(id, input),
		role_key,
		old_role,
	])
}

# METADATA
# title: delegate-no-share-storage
# description: A delegate or temporary party pod must not mount the persistent pool's share storage.
violation contains {"policy": id, "msg": msg} if {
	id := "delegate-no-share-storage"
	party_pod
	role := labels[role_key]
	lib.non_persistent_role(role, allowed_roles)
	mounts := lib.share_mounts(input.pod, config.share_storage)
	count(mounts) > 0
	msg := sprintf("%s%s party uses the persistent pool's share storage (%s); remove those volumes and env references: only persistent parties may hold key shares", [
		lib.prefix(id, input),
		role,
		concat(", ", mounts),
	])
}
