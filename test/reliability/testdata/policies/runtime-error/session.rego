# METADATA
# title: no session policy
# description: Sessions have no policy in this set.
package mpcguard.session

# METADATA
# title: violation
# description: None.
violation := set()
