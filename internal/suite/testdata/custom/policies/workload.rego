# METADATA
# title: workload (not checked by this set)
# description: |
#   A replacement set defines every class's violation set; this one checks no workloads.
package mpcguard.workload

violation := set()
