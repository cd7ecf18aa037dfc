# METADATA
# title: workload policies
# description: |
#   Deployments, StatefulSets, ReplicaSets, DaemonSets, Jobs and CronJobs, judged by
#   their pod template: rejected up front, instead of their pods failing later.
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
# title: workload request
# description: A CREATE or UPDATE of a workload kind.
workload_request if {
	some kind in lib.workload_kinds
	lib.checks(input, kind)
}

# METADATA
# title: party template
# description: The admitted workload's pod template matches the party selector.
party_template if {
	workload_request
	lib.matches_selector(labels, config.party_selector)
}

# METADATA
# title: workload-party-role
# description: A party pod template must carry the role label.
violation contains {"policy": "workload-party-role", "msg": msg} if {
	party_template
	not labels[role_key]
	msg := sprintf("pod template matches the party selector (%s) but has no %s label; add %s (one of %s) to the pod template labels", [
		lib.selector_text(config.party_selector),
		role_key, role_key,
		lib.roles_text(allowed_roles),
	])
}

# METADATA
# title: workload-party-role
# description: A party pod template's role is exactly one of the allowed roles.
violation contains {"policy": "workload-party-role", "msg": msg} if {
	party_template
	role := labels[role_key]
	not role in allowed_roles
	msg := sprintf("pod template has %s=%q, not one of %s; set it to one of them in the pod template labels", [
		role_key, role,
		lib.roles_text(allowed_roles),
	])
}

# METADATA
# title: share access
# description: The share storage the pod template reaches.
share_access := lib.share_access(input.template, config.share_storage)

# METADATA
# title: delegate-no-share-storage
# description: A delegate or temporary party pod template must not reach the persistent pool's share storage.
violation contains {"policy": "delegate-no-share-storage", "msg": msg} if {
	party_template
	role := labels[role_key]
	lib.non_persistent_role(role, allowed_roles)
	count(share_access) > 0
	msg := sprintf("pod template with %s=%s uses the persistent pool's share storage (%s); remove those volumes and env references: only persistent parties may hold key shares", [
		role_key, role,
		concat(", ", sort(share_access)),
	])
}

# METADATA
# title: share-storage-persistent-only
# description: |
#   A pod template that is not a party template must not use the share storage. (A
#   hostPath alone is not counted here, as for pods.)
violation contains {"policy": "share-storage-persistent-only", "msg": msg} if {
	workload_request
	not party_template
	shares := {x | some x in share_access; not startswith(x, "hostPath ")}
	count(shares) > 0
	msg := sprintf("pod template is not a party template (%s) but uses the persistent pool's share storage (%s); only persistent party pods of the persistent pool may hold key shares", [
		lib.selector_text(config.party_selector),
		concat(", ", sort(shares)),
	])
}

# METADATA
# title: share-storage-copy
# description: A pod template's ephemeral volumes and a StatefulSet's volumeClaimTemplates must not clone share storage.
violation contains {"policy": "share-storage-copy", "msg": msg} if {
	workload_request
	clones := lib.share_clones(input.template, config.share_storage)
	count(clones) > 0
	msg := sprintf("a volume of the pod template clones the persistent pool's share storage (%s); a copy of a key share outside the persistent pool is a leaked share", [concat(", ", sort(clones))])
}

# METADATA
# title: persistent workload
# description: |
#   The workload may run persistent parties: a StatefulSet, one of the configured
#   persistent StatefulSets when any are configured.
persistent_workload if {
	input.kind == "StatefulSet"
	count(config.persistent_workloads) == 0
}

persistent_workload if {
	input.kind == "StatefulSet"
	input.name in config.persistent_workloads
}

# METADATA
# title: workloads text
# description: The configured persistent StatefulSets, or "a StatefulSet".
workloads_text := concat(", ", [sprintf("StatefulSet %s", [name]) | some name in config.persistent_workloads]) if {
	count(config.persistent_workloads) > 0
} else := "a StatefulSet"

# METADATA
# title: party-persistent-origin
# description: Only the persistent pool's StatefulSets have a persistent party template.
violation contains {"policy": "party-persistent-origin", "msg": msg} if {
	party_template
	labels[role_key] == lib.persistent_role
	not persistent_workload
	msg := sprintf("only %s may run persistent parties; give this pod template a non-persistent role or add its pool to the persistent workloads", [workloads_text])
}

# METADATA
# title: persistent pool
# description: |
#   The request is about a persistent StatefulSet: one named by the configured
#   persistent workloads, or, when none are named, one whose pod template is
#   persistent (a Scale carries no template: then it is not checked).
persistent_pool if {
	input.kind in {"StatefulSet", "Scale"}
	input.name in config.persistent_workloads
}

persistent_pool if {
	input.kind == "StatefulSet"
	count(config.persistent_workloads) == 0
	labels[role_key] == lib.persistent_role
}

# METADATA
# title: persistent-quorum
# description: |
#   An UPDATE of a persistent StatefulSet, or of its scale subresource, must not
#   take it below t replicas: below t, the persistent parties cannot sign, and
#   a pool scaled down and back up has to rely on shares it no longer runs. A
#   pool already below t may grow, or keep its size.
violation contains {"policy": "persistent-quorum", "msg": msg} if {
	input.operation == "UPDATE"
	persistent_pool
	t := config.threshold
	t > 0
	is_number(input.replicas)
	input.replicas < t
	input.replicas < object.get(input, "old_replicas", t)
	msg := sprintf("%d %s would leave fewer than t=%d persistent parties, so the pool could not sign; keep at least %d replicas (a lower t is a reshare, not a scale-down)", [
		input.replicas,
		replicas_noun(input.replicas),
		t, t,
	])
}

# METADATA
# title: replicas noun
# description: '"replica" for a count of 1, otherwise "replicas".'
replicas_noun(n) := "replica" if {
	n == 1
} else := "replicas"

# METADATA
# title: share-deletion
# description: |
#   Deleting a persistent StatefulSet stops every persistent party at once:
#   only a member of the break-glass groups may, on a StatefulSet annotated with
#   the reason (lib.break_glass_deletion).
violation contains {"policy": "share-deletion", "msg": msg} if {
	input.operation == "DELETE"
	persistent_pool
	msg := lib.deletion_refused(input, "the persistent StatefulSet runs the parties that hold the key shares", config.break_glass_groups)
}

# METADATA
# title: share-deletion
# description: An allowed break-glass deletion of a persistent StatefulSet is answered with a warning naming its reason.
violation contains {"policy": "share-deletion", "msg": msg, "notice": true} if {
	input.operation == "DELETE"
	persistent_pool
	msg := lib.deletion_granted(input, config.break_glass_groups)
}
