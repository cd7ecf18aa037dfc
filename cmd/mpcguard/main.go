// Command mpcguard keeps a threshold-signing (MPC) system safe on Kubernetes: it generates its Helm charts,
// validates manifests offline, analyzes failure domains and serves the admission webhook. This package is CLI
// wiring only.
package main

import (
	"errors"
	"fmt"
	"os"

	"github.com/spf13/cobra"
)

// exitError carries a process exit code through cobra without printing twice.
type exitError struct {
	code int
	err  error
}

func (e *exitError) Error() string { return e.err.Error() }
func (e *exitError) Unwrap() error { return e.err }

func newRootCmd() *cobra.Command {
	root := &cobra.Command{
		Use:           "mpcguard",
		Short:         "Party-role security for threshold-signing (MPC) systems on Kubernetes",
		SilenceUsage:  true,
		SilenceErrors: true,
	}
	root.AddCommand(newGenerateCmd(), newValidateCmd(), newWebhookCmd(), newVersionCmd(), newTestCmd(), newAuditCmd(), newAnalyzeCmd(), newBundleCmd())
	// --version prints what `mpcguard version` prints. cobra renders the template when the flag is given.
	root.Version = version
	cobra.AddTemplateFunc("versionText", versionText)
	root.SetVersionTemplate(`{{versionText}}`)
	return root
}

func main() {
	os.Exit(run(os.Args[1:]))
}

// run executes the CLI and returns the process exit code: 0 success, 1 a policy denied, 2 bad input or usage.
func run(args []string) int {
	root := newRootCmd()
	root.SetArgs(args)
	err := root.Execute()
	if err == nil {
		return 0
	}
	code := 2
	if ee := (*exitError)(nil); errors.As(err, &ee) {
		code = ee.code
		if ee.err == nil {
			return code
		}
	}
	fmt.Fprintln(os.Stderr, "mpcguard:", err)
	return code
}
