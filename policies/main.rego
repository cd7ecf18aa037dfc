# METADATA
# title: mpcguard decision
# description: |
#   The entry point, data.mpcguard.main.decision: every policy's violations sorted
#   into deny, warn or dropped by the enforcement action configured for the policy id
#   (deny when not configured), plus the checks skipped for want of a cluster inventory.
package mpcguard.main

import data.mpcguard.lib
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
# description: |
#   The violations of the policy module for the request's kind; only that module is
#   evaluated, which keeps an admission cheap.
violations := pod.violation if {
	input.kind == "Pod"
} else := workload.violation if {
	input.kind in lib.workload_kinds
} else := session.violation if {
	input.kind == "MPCSession"
} else := set()

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
# description: |
#   The entries as an array sorted by message: entries are {"msg", "policy"} objects,
#   and objects order by their sorted keys' values, so msg decides first.
by_message(entries) := sort(entries)

# METADATA
# title: decision
# description: What the webhook and the offline validator read; always defined, each list sorted by message.
decision := {
	"deny": by_message(deny),
	"warn": by_message(warn),
	"skipped": by_message(skipped),
}
