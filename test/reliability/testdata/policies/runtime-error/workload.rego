# METADATA
# title: no workload policy
# description: Workloads have no policy in this set.
package mpcguard.workload

# METADATA
# title: violation
# description: None.
violation := set()
