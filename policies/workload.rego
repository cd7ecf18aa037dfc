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
