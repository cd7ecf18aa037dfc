# METADATA
# title: mpcguard shared helpers
# description: |
#   Pure functions shared by the policy modules: message prefix, party selector
#   matching, role and share-storage helpers. Every function takes its inputs as
#   arguments; none reads input or data.
package mpcguard.lib

# METADATA
# title: checked operations
# description: Admission operations the policies check; DELETE and CONNECT are never checked.
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
# title: prefix
# description: |
#   The start of every message, "[<id>] <Kind> <namespace>/<name>: ", from the
#   request's kind, namespace and name (empty when absent).
prefix(id, request) := sprintf("[%s] %s %s/%s: ", [
	id,
	object.get(request, "kind", ""),
	object.get(request, "namespace", ""),
	object.get(request, "name", ""),
]) if {
	is_object(request)
} else := sprintf("[%s] : ", [id])

# METADATA
# title: labels
# description: The labels object of a pod or pod template, or {} when absent or malformed.
labels(obj) := obj.labels if {
	is_object(obj)
	is_object(obj.labels)
} else := {}

# METADATA
# title: names
# description: The string members of obj[key] (claims or secrets) as a set, or an empty set.
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
# title: share mounts
# description: |
#   The share storage an object (pod or pod template) mounts, as a sorted list of
#   "PersistentVolumeClaim <name>" and "Secret <name>": claims whose name starts
#   with a configured prefix and secrets whose name is configured.
share_mounts(obj, share_storage) := sort(array.concat(
	[sprintf("PersistentVolumeClaim %s", [claim]) |
		some claim in names(obj, "claims")
		claim_is_share(claim, share_storage)
	],
	[sprintf("Secret %s", [secret]) |
		some secret in names(obj, "secrets")
		secret_is_share(secret, share_storage)
	],
))

# METADATA
# title: claim is share
# description: True when a claim name starts with one of the configured (non-empty) claim prefixes.
claim_is_share(claim, share_storage) if {
	some prefix in share_storage.claim_prefixes
	is_string(prefix)
	prefix != ""
	startswith(claim, prefix)
}

# METADATA
# title: secret is share
# description: True when a secret name is one of the configured share secret names.
secret_is_share(secret, share_storage) if {
	some name in share_storage.secret_names
	secret == name
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
