# METADATA
# title: team policies
# description: Every party pod names the team that runs it, in a team label.
package mpcguard.pod

# METADATA
# title: party-team-label
# description: A party pod (one that matches the party selector) carries a non-empty team label.
violation contains {"policy": "party-team-label", "msg": msg} if {
	input.kind == "Pod"
	input.operation in {"CREATE", "UPDATE"}
	labels := object.get(input, ["pod", "labels"], {})
	every key, value in data.mpcguard.config.party_selector {
		labels[key] == value
	}
	object.get(labels, "team", "") == ""
	msg := "party pod has no team label; add team=<the team that runs it> to its labels"
}
