# METADATA
# title: session (not checked by this set)
# description: A replacement set defines every class's violation set; this one checks no session objects.
package mpcguard.session

violation := set()
