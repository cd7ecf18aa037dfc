package mpcguard.pod_test

import data.mpcguard.pod

config := {"party_selector": {"app.kubernetes.io/component": "mpc-party"}}

party(labels) := {"kind": "Pod", "operation": "CREATE", "pod": {"labels": labels}}

test_party_without_team_denied if {
	ids := {v.policy | some v in pod.violation with input as party({"app.kubernetes.io/component": "mpc-party"})
		with data.mpcguard.config as config}
	ids == {"party-team-label"}
}

test_party_with_team_admitted if {
	count(pod.violation) == 0 with input as party({"app.kubernetes.io/component": "mpc-party", "team": "signing"})
		with data.mpcguard.config as config
}

test_other_pod_admitted if {
	count(pod.violation) == 0 with input as party({"app": "web"})
		with data.mpcguard.config as config
}

test_pod_without_labels_admitted if {
	count(pod.violation) == 0 with input as {"kind": "Pod", "operation": "CREATE", "pod": {}}
		with data.mpcguard.config as config
}
