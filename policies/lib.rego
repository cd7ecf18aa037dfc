# METADATA
# title: mpcguard shared helpers
# description: |
#   Pure functions shared by the policy modules: party selector matching, role,
#   identity and share-storage helpers. Every function takes its inputs as
#   arguments; none reads input or data.
package mpcguard.lib

# METADATA
# title: checked operations
# description: Admission operations the object policies check; DELETE is never checked, CONNECT only by the connect module.
checked_operations := {"CREATE", "UPDATE"}

# METADATA
# title: workload kinds
# description: Kinds whose pod template is checked as input.template.
workload_kinds := {"Deployment", "StatefulSet", "ReplicaSet", "DaemonSet", "Job", "CronJob"}

# METADATA
# title: persistent role
# description: The role that keeps key shares; every other allowed role is non-persistent.
persistent_role := "persistent"

# METADATA
# title: checks
# description: True when a request of this kind and operation is checked for the given kind.
checks(request, kind) if {
	request.kind == kind
	request.operation in checked_operations
}

# METADATA
# title: labels
# description: The labels object of a pod or pod template, or {} when absent or malformed.
labels(obj) := obj.labels if {
	is_object(obj)
	is_object(obj.labels)
} else := {}

# METADATA
# title: names
# description: The string members of obj[key] (claims, secrets, host paths) as a set, or an empty set.
names(obj, key) := {name |
	some name in obj[key]
	is_string(name)
} if {
	is_object(obj)
	is_array(obj[key])
} else := set()

# METADATA
# title: matches selector
# description: |
#   True when labels carry every key=value of the selector. An empty or malformed
#   selector matches nothing, so a missing configuration never turns every pod into a party pod.
matches_selector(labels, selector) if {
	is_object(labels)
	is_object(selector)
	count(selector) > 0
	every key, value in selector {
		labels[key] == value
	}
}

# METADATA
# title: selector text
# description: A selector as sorted "k=v" pairs joined by ",".
selector_text(selector) := concat(",", sort([sprintf("%s=%s", [key, value]) | some key, value in selector]))

# METADATA
# title: roles text
# description: The allowed roles in configuration order, joined by ", ".
roles_text(roles) := concat(", ", [sprintf("%v", [role]) | some role in roles])

# METADATA
# title: non-persistent role
# description: True when role is an allowed role other than the persistent one.
non_persistent_role(role, allowed_roles) if {
	role in allowed_roles
	role != persistent_role
}

# METADATA
# title: share access
# description: |
#   The share storage an object (pod or pod template) can reach, as a set of
#   "PersistentVolumeClaim <name>", "Secret <name>" and "hostPath <path>": claims
#   named as the persistent StatefulSet names its claims (<prefix><ordinal>), the
#   configured secrets however they are referenced (volumes, projected volumes,
#   env, envFrom, CSI nodePublishSecretRef and other volume secret references), and
#   any hostPath volume (it reaches the node's disks, where share volumes live).
share_access(obj, share_storage) := (claims | secrets) | host_paths if {
	claims := {sprintf("PersistentVolumeClaim %s", [claim]) |
		some claim in names(obj, "claims")
		claim_is_share(claim, share_storage)
	}
	secrets := {sprintf("Secret %s", [secret]) |
		some secret in names(obj, "secrets")
		secret_is_share(secret, share_storage)
	}
	host_paths := {sprintf("hostPath %s", [path]) | some path in names(obj, "host_paths")}
}

# METADATA
# title: claim is share
# description: |
#   True when a claim is named <prefix><ordinal> for a configured (non-empty) prefix,
#   as a StatefulSet names the claims of its volumeClaimTemplates: a claim of another
#   StatefulSet whose name merely starts the same way is not share storage.
claim_is_share(claim, share_storage) if {
	some prefix in share_storage.claim_prefixes
	is_string(prefix)
	prefix != ""
	startswith(claim, prefix)
	regex.match(`^[0-9]+$`, substring(claim, count(prefix), -1))
}

# METADATA
# title: secret is share
# description: True when a secret name is one of the configured share secret names.
secret_is_share(secret, share_storage) if {
	some name in share_storage.secret_names
	secret == name
}

# METADATA
# title: share clones
# description: |
#   The data sources of an object's claims (PVC dataSource/dataSourceRef, generic
#   ephemeral volumes, volumeClaimTemplates) that clone a share claim. (A VolumeSnapshot
#   of a share claim is refused when it is created, by the storage module.)
share_clones(obj, share_storage) := {sprintf("%s %s", [source.kind, source.name]) |
	some source in obj.clones
	source_is_share(source, share_storage)
} if {
	is_object(obj)
	is_array(obj.clones)
} else := set()

# METADATA
# title: source is share
# description: True when a claim's data source is share storage.
source_is_share(source, share_storage) if {
	source.kind == "PersistentVolumeClaim"
	claim_is_share(source.name, share_storage)
}

# METADATA
# title: break glass
# description: True when the requesting user is in one of the configured break-glass groups.
break_glass(user, groups) if {
	some group in user.groups
	group in groups
}

# METADATA
# title: count value
# description: A count from the input when it is a number, otherwise 0 (the contract's value for absent).
count_value(obj, key) := obj[key] if {
	is_object(obj)
	is_number(obj[key])
} else := 0

# METADATA
# title: party noun
# description: '"party" for a count of 1, otherwise "parties".'
party_noun(n) := "party" if {
	n == 1
} else := "parties"

# METADATA
# title: break-glass annotation
# description: The annotation whose value says why an object guarded by share-deletion is deleted.
break_glass_annotation := "mpcguard.io/break-glass"

# METADATA
# title: break-glass reason
# description: The reason a DELETE request's object carries in its break-glass annotation, or "" (input.break_glass_reason).
break_glass_reason(request) := trim_space(reason) if {
	reason := object.get(request, "break_glass_reason", "")
	is_string(reason)
} else := ""

# METADATA
# title: deletion granted
# description: |
#   The record of an allowed break-glass deletion: the requesting user is in a
#   break-glass group and the object carries a non-empty reason. Undefined otherwise.
deletion_granted(request, groups) := msg if {
	break_glass(request.user, groups)
	reason := break_glass_reason(request)
	reason != ""
	msg := sprintf("deleted by %s breaking glass (%s): %q", [
		request.user.username,
		concat(", ", sort([g | some g in request.user.groups; g in groups])),
		reason,
	])
}

# METADATA
# title: deletion refused
# description: |
#   Why a DELETE of a guarded object is refused, naming what it would lose (what)
#   and what break-glass needs; undefined when the deletion is granted.
deletion_refused(request, what, groups) := msg if {
	not deletion_granted(request, groups)
	msg := sprintf("%s; deleting it needs the annotation %s: \"<reason>\" on the object and a member of %s (kubectl annotate, then kubectl delete --as=<you> --as-group=<group>, recorded in the audit log)", [
		what,
		break_glass_annotation,
		concat(", ", groups),
	])
}
