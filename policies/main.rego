# METADATA
# title: mpcguard entry point
# description: |
#   data.mpcguard.main.violation: the violations of the policy module for the
#   request's kind, bare ({"policy", "msg"}, plus "skipped": true for a check that
#   could not run). The caller names the object in front of each message and sorts
#   them by the enforcement configured for each id (deny, warn, off), as mpcguard's
#   engine does; nothing here depends on enforcement.
package mpcguard.main

import data.mpcguard.binding
import data.mpcguard.connect
import data.mpcguard.lib
import data.mpcguard.pod
import data.mpcguard.session
import data.mpcguard.storage
import data.mpcguard.workload

# METADATA
# title: violation
# description: |
#   The violations of the module for the request's kind; only that module is
#   evaluated, which keeps an admission cheap.
violation := pod.violation if {
	input.kind == "Pod"
} else := workload.violation if {
	input.kind in lib.workload_kinds
} else := workload.violation if {
	input.kind == "Scale"
} else := session.violation if {
	input.kind == "MPCSession"
} else := binding.violation if {
	input.kind == "Binding"
} else := connect.violation if {
	input.kind in connect.connect_kinds
} else := storage.violation if {
	input.kind in {"PersistentVolumeClaim", "VolumeSnapshot", "Secret"}
} else := set()
