# METADATA
# title: no storage policy
# description: The storage module has no policy in this set.
package mpcguard.storage

# METADATA
# title: violation
# description: None.
violation := set()
