# METADATA
# title: role-number
# description: A party pod's role label, read as a number, must not be above 3.
package mpcguard.pod

# METADATA
# title: violation
# description: The role label is a number above 3; to_number fails on a role that is no number.
violation contains {"policy": "role-number", "msg": "the role label is a number above 3"} if {
	to_number(input.pod.labels["party-role"]) > 3
}
