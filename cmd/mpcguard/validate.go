package main

import (
	"errors"
	"fmt"
	"slices"
	"strings"

	"github.com/spf13/cobra"

	"github.com/mpcguard/mpcguard/internal/validate"
	"github.com/mpcguard/mpcguard/policies/engine"
)

func newValidateCmd() *cobra.Command {
	var (
		pf        policyFlags
		files     []string
		namespace string
		output    string
	)
	cmd := &cobra.Command{
		Use:   "validate -f FILE|DIR|- [-f ...]",
		Short: "Apply the admission policies to manifests offline (e.g. helm template output)",
		Long: `Validate evaluates every object of multi-document YAML or JSON as a CREATE with the policies the
webhook enforces and prints one line per violation:

  <file>:doc <N>: <policy-id> <Kind> <namespace>/<name>: <message>

Warnings, checks skipped for want of a cluster inventory, and documents skipped because they are not
Kubernetes objects (values.yaml, Chart.yaml, kustomization.yaml) go to stderr. -o json, junit or sarif
writes the whole report to stdout instead, for CI systems.

An input with nothing to validate — an empty file or stdin (as from a command that failed before the pipe),
or nothing but comments or non-Kubernetes YAML — is an error.

Exit status: 0 nothing denied, 1 something denied, 2 input that cannot be read or nothing to validate (the
file and document are named).`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if len(files) == 0 {
				return &exitError{code: 2, err: errors.New("validate: -f FILE|DIR|- is required")}
			}
			if !slices.Contains(validate.Formats, output) {
				return &exitError{code: 2, err: fmt.Errorf("validate: --output %q: want one of %s", output, strings.Join(validate.Formats, ", "))}
			}
			cfg, err := pf.config()
			if err != nil {
				return &exitError{code: 2, err: fmt.Errorf("validate: %w", err)}
			}
			mods, err := pf.modules()
			if err != nil {
				return &exitError{code: 2, err: fmt.Errorf("validate: %w", err)}
			}
			eng, err := engine.New(cmd.Context(), cfg, mods)
			if err != nil {
				return &exitError{code: 2, err: fmt.Errorf("validate: %w", err)}
			}
			rep := validate.Validator{Engine: eng, Namespace: namespace}.Paths(cmd.Context(), files, cmd.InOrStdin())
			if err := validate.Write(output, cmd.OutOrStdout(), cmd.ErrOrStderr(), rep, version); err != nil {
				return &exitError{code: 2, err: fmt.Errorf("validate: writing report: %w", err)}
			}
			switch {
			case len(rep.Errors) > 0:
				return &exitError{code: 2}
			case rep.Denied() > 0:
				return &exitError{code: 1}
			}
			return nil
		},
	}
	cmd.Flags().StringArrayVarP(&files, "filename", "f", nil, "file, directory or - (stdin) to validate; repeatable")
	cmd.Flags().StringVarP(&namespace, "namespace", "n", "default", "namespace of objects that name none")
	cmd.Flags().StringVarP(&output, "output", "o", "text", "output format: "+strings.Join(validate.Formats, ", "))
	pf.register(cmd.Flags())
	return cmd
}
