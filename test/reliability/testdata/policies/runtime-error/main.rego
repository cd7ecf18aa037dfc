# METADATA
# title: a policy set that fails at run time
# description: |
#   For test/reliability: it compiles, but evaluating a party pod whose role label is not a
#   number fails, as to_number raises an error under strict builtin errors. The webhook must
#   answer that review with HTTP 500, never with an allow. Only pods have a policy here.
package mpcguard.main

import data.mpcguard.pod

# METADATA
# title: violation
# description: The pod module's violations.
violation := pod.violation
