# METADATA
# title: mpcguard decision
# description: |
#   The entry point, data.mpcguard.main.decision: every policy's violations sorted
#   into deny, warn or dropped by the enforcement action configured for the policy id
#   (deny when not configured), plus the checks skipped for want of a cluster inventory.
package mpcguard.main

import data.mpcguard.pod
import data.mpcguard.session
import data.mpcguard.workload

# METADATA
# title: enforcement
# description: The configured action per policy id, or {} when none is configured.
enforcement := data.mpcguard.config.enforcement if {
	is_object(data.mpcguard.config.enforcement)
} else := {}

# METADATA
# title: action
# description: |
#   The action for a policy id: "warn" or "off" when configured so, otherwise "deny"
#   (also for an unknown value: an unreadable setting fails closed).
action(id, actions) := actions[id] if {
	actions[id] in {"warn", "off"}
} else := "deny"

# METADATA
# title: violations
# description: The violations of all policy modules.
violations := (pod.violation | workload.violation) | session.violation

# METADATA
# title: deny
# description: Violations whose policy is enforced with deny.
deny contains v if {
	some v in violations
	action(v.policy, enforcement) == "deny"
}

# METADATA
# title: warn
# description: Violations whose policy is enforced with warn.
warn contains v if {
	some v in violations
	action(v.policy, enforcement) == "warn"
}

# METADATA
# title: skipped
# description: Checks that could not run (no cluster inventory), unless their policy is off.
skipped contains v if {
	some v in session.skipped
	action(v.policy, enforcement) != "off"
}

# METADATA
# title: by message
# description: The entries as an array sorted by message.
by_message(entries) := [entry |
	some msg in sort({e.msg | some e in entries})
	some entry in entries
	entry.msg == msg
]

# METADATA
# title: decision
# description: What the webhook and the offline validator read; always defined, each list sorted by message.
decision := {
	"deny": by_message(deny),
	"warn": by_message(warn),
	"skipped": by_message(skipped),
}
