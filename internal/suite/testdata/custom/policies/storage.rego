# METADATA
# title: storage (not checked by this set)
# description: A replacement set defines every class's violation set; this one checks no storage objects.
package mpcguard.storage

violation := set()
