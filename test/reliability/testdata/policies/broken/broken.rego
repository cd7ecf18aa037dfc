# Broken on purpose (test/reliability): line 4 calls a function that does not exist, so the policy set
# does not compile and mpcguard must refuse to start with it.
package mpcguard.main
decision := no_such_function(input)
