# METADATA
# title: pod policies
# description: |
#   Pods, through pods, pods/status and pods/ephemeralcontainers: a party pod's role
#   is present, valid, immutable and earned; only persistent parties reach share
#   storage; nobody but break-glass users adds a debug container to a persistent party.
#   On UPDATE a check fires for what the update changes, so a legacy pod can still be
#   updated (finalizers, status) and fixed.
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
# title: old labels
# description: The labels of the pod before an UPDATE ({} on CREATE).
old_labels := lib.labels(input.old_pod)

# METADATA
# title: pod request
# description: A Pod CREATE or UPDATE.
pod_request if lib.checks(input, "Pod")

# METADATA
# title: update
# description: A Pod UPDATE.
update if {
	pod_request
	input.operation == "UPDATE"
}

# METADATA
# title: party pod
# description: The admitted Pod (CREATE or UPDATE) matches the party selector.
party_pod if {
	pod_request
	lib.matches_selector(labels, config.party_selector)
}

# METADATA
# title: old party pod
# description: On UPDATE, the pod matched the party selector before.
old_party_pod if {
	update
	lib.matches_selector(old_labels, config.party_selector)
}

# METADATA
# title: role unchanged
# description: On UPDATE, the role label is the same before and after (both absent counts as the same).
role_unchanged if {
	update
	object.get(old_labels, role_key, null) == object.get(labels, role_key, null)
}

# METADATA
# title: party unchanged
# description: On UPDATE, the pod was a party pod with the same role before; nothing about its role is new.
party_unchanged if {
	old_party_pod
	role_unchanged
}

# METADATA
# title: party-role-required
# description: A party pod must carry the role label.
violation contains {"policy": "party-role-required", "msg": msg} if {
	party_pod
	not labels[role_key]
	not party_unchanged
	msg := sprintf("party pod (%s) has no %s label; add %s with one of %s", [
		lib.selector_text(config.party_selector),
		role_key, role_key,
		lib.roles_text(allowed_roles),
	])
}

# METADATA
# title: party-role-valid
# description: A party pod's role is exactly one of the allowed roles (case-sensitive, no spaces).
violation contains {"policy": "party-role-valid", "msg": msg} if {
	party_pod
	role := labels[role_key]
	not role in allowed_roles
	not party_unchanged
	msg := sprintf("%s=%q is not a valid role; set %s to one of %s (exact, lower case)", [
		role_key, role,
		role_key,
		lib.roles_text(allowed_roles),
	])
}

# METADATA
# title: legacy fix
# description: An invalid role left from before mpcguard may be corrected once, to a non-persistent role.
legacy_fix(old_role, new_role) if {
	not old_role in allowed_roles
	lib.non_persistent_role(new_role, allowed_roles)
}

# METADATA
# title: party-role-immutable
# description: A role label, once on a pod, cannot change, party selector or not.
violation contains {"policy": "party-role-immutable", "msg": msg} if {
	update
	old_role := old_labels[role_key]
	new_role := labels[role_key]
	old_role != new_role
	not legacy_fix(old_role, new_role)
	msg := sprintf("%s cannot change from %q to %q; delete the pod and create it with the role it should have", [
		role_key,
		old_role, new_role,
	])
}

# METADATA
# title: party-role-immutable
# description: A role label, once on a pod, cannot be removed, party selector or not.
violation contains {"policy": "party-role-immutable", "msg": msg} if {
	update
	old_role := old_labels[role_key]
	not labels[role_key]
	msg := sprintf("%s %q cannot be removed; delete the pod and create it with the role it should have", [
		role_key,
		old_role,
	])
}

# METADATA
# title: share access
# description: The share storage the admitted pod reaches.
share_access := lib.share_access(input.pod, config.share_storage)

# METADATA
# title: new share access
# description: |
#   The share storage the request gives the pod: all of it on CREATE, or when the
#   pod's party role is new; on other UPDATEs only what the old pod did not reach
#   (a debug container reading a share Secret), so a legacy pod can still be updated.
new_share_access := share_access - lib.share_access(input.old_pod, config.share_storage) if {
	update
	object.get(old_labels, role_key, null) == object.get(labels, role_key, null)
	party_membership_unchanged
} else := share_access

# METADATA
# title: party membership unchanged
# description: On UPDATE, the pod matches the party selector both before and after, or neither before nor after.
party_membership_unchanged if {
	party_pod
	old_party_pod
}

party_membership_unchanged if {
	update
	not party_pod
	not old_party_pod
}

# METADATA
# title: delegate-no-share-storage
# description: A delegate or temporary party pod must not reach the persistent pool's share storage.
violation contains {"policy": "delegate-no-share-storage", "msg": msg} if {
	party_pod
	role := labels[role_key]
	lib.non_persistent_role(role, allowed_roles)
	count(new_share_access) > 0
	msg := sprintf("%s party uses the persistent pool's share storage (%s); remove those volumes and env references: only persistent parties may hold key shares", [
		role,
		concat(", ", sort(new_share_access)),
	])
}

# METADATA
# title: share-storage-persistent-only
# description: |
#   A pod that is not a party pod must not use the share storage. (A hostPath alone is
#   not counted here: log collectors and node agents use one; on a party it is share access.)
violation contains {"policy": "share-storage-persistent-only", "msg": msg} if {
	pod_request
	not party_pod
	shares := {x | some x in new_share_access; not startswith(x, "hostPath ")}
	count(shares) > 0
	msg := sprintf("pod is not a party pod (%s) but uses the persistent pool's share storage (%s); only persistent party pods of the persistent pool may hold key shares", [
		lib.selector_text(config.party_selector),
		concat(", ", sort(shares)),
	])
}

# METADATA
# title: share-storage-copy
# description: A pod's generic ephemeral volumes must not clone share storage.
violation contains {"policy": "share-storage-copy", "msg": msg} if {
	pod_request
	clones := lib.share_clones(input.pod, config.share_storage) - lib.share_clones(object.get(input, "old_pod", null), config.share_storage)
	count(clones) > 0
	msg := sprintf("an ephemeral volume clones the persistent pool's share storage (%s); a copy of a key share outside the persistent pool is a leaked share", [concat(", ", sort(clones))])
}

# METADATA
# title: persistent party
# description: The admitted pod is a party pod with the persistent role.
persistent_party if {
	party_pod
	labels[role_key] == lib.persistent_role
}

# METADATA
# title: owner text
# description: The pod's controller owner as "Kind name", or "none".
owner_text := sprintf("%s %s", [input.pod.owner.kind, input.pod.owner.name]) if {
	is_string(input.pod.owner.kind)
	is_string(input.pod.owner.name)
} else := "none"

# METADATA
# title: persistent owner
# description: |
#   The pod's controller is a configured persistent StatefulSet (any StatefulSet when
#   none is configured: then the pod must still be created by a controller identity).
persistent_owner if {
	input.pod.owner.kind == "StatefulSet"
	count(config.persistent_workloads) == 0
}

persistent_owner if {
	input.pod.owner.kind == "StatefulSet"
	input.pod.owner.name in config.persistent_workloads
}

# METADATA
# title: workloads text
# description: The configured persistent StatefulSets, or "any StatefulSet".
workloads_text := concat(", ", [sprintf("StatefulSet %s", [name]) | some name in config.persistent_workloads]) if {
	count(config.persistent_workloads) > 0
} else := "a StatefulSet"

# METADATA
# title: party-persistent-origin
# description: A persistent party pod is owned by a persistent StatefulSet.
violation contains {"policy": "party-persistent-origin", "msg": msg} if {
	persistent_party
	input.operation == "CREATE"
	not persistent_owner
	msg := sprintf("a persistent party pod must be created by %s (its controller owner: %s); run persistent parties only in the persistent pool", [
		workloads_text,
		owner_text,
	])
}

# METADATA
# title: party-persistent-origin
# description: A persistent party pod is created by a controller identity, never directly by a user.
violation contains {"policy": "party-persistent-origin", "msg": msg} if {
	persistent_party
	input.operation == "CREATE"
	is_string(input.user.username)
	not input.user.username in config.controller_users
	msg := sprintf("a persistent party pod may only be created by the StatefulSet controller (%s), not by %q; scale the persistent pool instead", [
		concat(", ", config.controller_users),
		input.user.username,
	])
}

# METADATA
# title: party-persistent-origin
# description: Offline there is no requesting identity; the identity check runs at admission only.
violation contains {"policy": "party-persistent-origin", "msg": msg, "skipped": true} if {
	persistent_party
	input.operation == "CREATE"
	not is_string(object.get(input, ["user", "username"], null))
	msg := "creator identity not checked: no user in the request (admission checks it)"
}

# METADATA
# title: party-persistent-origin
# description: No pod becomes a persistent party by an UPDATE.
violation contains {"policy": "party-persistent-origin", "msg": msg} if {
	persistent_party
	update
	not party_unchanged
	msg := sprintf("a pod cannot become a persistent party by an update (%s and %s=%s added); persistent parties are created by the persistent pool", [
		lib.selector_text(config.party_selector),
		role_key, lib.persistent_role,
	])
}

# METADATA
# title: persistent party before
# description: |
#   On UPDATE, the pod carried the persistent role before, party selector or not: a
#   persistent pod whose party label was removed still holds what it held.
old_persistent_party if {
	update
	old_labels[role_key] == lib.persistent_role
}

# METADATA
# title: party-access
# description: Only break-glass users add a debug (ephemeral) container to a persistent party pod.
violation contains {"policy": "party-access", "msg": msg} if {
	update
	old_persistent_party
	lib.count_value(input.pod, "ephemeral_containers") > lib.count_value(input.old_pod, "ephemeral_containers")
	not lib.break_glass(object.get(input, "user", {}), config.break_glass_groups)
	msg := sprintf("a debug container in a persistent party reaches its key shares; only members of %s may add one (break glass: kubectl debug ... --as=<you> --as-group=<group>, recorded in the audit log)", [concat(", ", config.break_glass_groups)])
}
