// Package ports finds free TCP ports on 127.0.0.1 for the servers tests start, outside the kernel's ephemeral
// range so that no outgoing connection of a parallel test can take the port between the check and the bind.
package ports
