# METADATA
# title: no binding policy
# description: The binding module has no policy in this set.
package mpcguard.binding

# METADATA
# title: violation
# description: None.
violation := set()
