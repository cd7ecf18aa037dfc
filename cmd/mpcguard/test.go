package main

import (
	"fmt"

	"github.com/spf13/cobra"

	"github.com/mpcguard/mpcguard/internal/suite"
)

func newTestCmd() *cobra.Command {
	return &cobra.Command{
		Use:   "test [DIR|FILE ...]",
		Short: "Run policy test suites (YAML cases with expected decisions); with no argument, the embedded policies' suite",
		Long: `Test runs YAML policy suites, as gator verify and kyverno test do. A suite file gives a policy
configuration (the keys of the policy flags: roleLabelKey, partySelector, shareSecretNames,
shareClaimPrefixes, persistentWorkloads, controllerUsers, breakGlassGroups, enforcement, and policyDir for
custom policies, relative to the suite file) and cases: an object (reviewed as validate does) or a request
(operation, subresource, object, oldObject, userInfo, inventory), each with what it expects: allowed, and
the exact ids that deny, warn and are skipped. policies/README.md ("Writing a custom policy") shows one.

One line per case, PASS or FAIL, with expected and got under a failure, then "N passed, N failed".
Exit status: 0 every case passed, 1 a case failed, 2 a suite that cannot be read (file and field named).`,
		RunE: func(cmd *cobra.Command, args []string) error {
			var files []*suite.File
			var err error
			if len(args) == 0 {
				files, err = suite.Builtin()
			} else {
				files, err = suite.Load(args)
			}
			if err != nil {
				return &exitError{code: 2, err: fmt.Errorf("test: %w", err)}
			}
			var results []suite.Result
			for _, f := range files {
				eng, err := f.Engine(cmd.Context())
				if err != nil {
					return &exitError{code: 2, err: fmt.Errorf("test: %w", err)}
				}
				results = append(results, f.Run(cmd.Context(), eng)...)
			}
			if err := suite.Write(cmd.OutOrStdout(), results); err != nil {
				return &exitError{code: 2, err: fmt.Errorf("test: writing results: %w", err)}
			}
			if _, failed := suite.Summary(results); failed > 0 {
				return &exitError{code: 1, err: fmt.Errorf("test: %d of %d cases failed", failed, len(results))}
			}
			return nil
		},
	}
}
