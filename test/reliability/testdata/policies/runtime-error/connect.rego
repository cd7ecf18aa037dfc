# METADATA
# title: no connect policy
# description: The connect module has no policy in this set.
package mpcguard.connect

# METADATA
# title: violation
# description: None.
violation := set()
