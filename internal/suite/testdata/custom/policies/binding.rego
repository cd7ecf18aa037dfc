# METADATA
# title: binding (not checked by this set)
# description: A replacement set defines every class's violation set; this one checks no binding objects.
package mpcguard.binding

violation := set()
