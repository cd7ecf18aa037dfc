# METADATA
# title: connect (not checked by this set)
# description: A replacement set defines every class's violation set; this one checks no connect objects.
package mpcguard.connect

violation := set()
