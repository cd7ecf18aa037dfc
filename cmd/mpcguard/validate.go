package main

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"

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

  <policy-id> <Kind> <namespace>/<name>: <message>

Warnings and checks skipped for want of a cluster inventory go to stderr. Exit status: 0 nothing denied,
1 something denied, 2 input that cannot be read (the file and document are named).`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if len(files) == 0 {
				return &exitError{code: 2, err: errors.New("validate: -f FILE|DIR|- is required")}
			}
			if output != "text" && output != "json" {
				return &exitError{code: 2, err: fmt.Errorf("validate: --output %q: want text or json", output)}
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
			if output == "json" {
				err = writeJSON(cmd.OutOrStdout(), rep)
			} else {
				err = writeText(cmd.OutOrStdout(), cmd.ErrOrStderr(), rep)
			}
			if err != nil {
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
	cmd.Flags().StringVarP(&output, "output", "o", "text", "text or json")
	pf.register(cmd.Flags())
	return cmd
}

// line is "<policy-id> <Kind> <namespace>/<name>: <detail>": the engine keeps the object and the policy's
// words apart, so nothing is stripped from a message here.
func line(r engine.Result) string { return r.Policy + " " + r.Object + ": " + r.Detail }

func writeText(out, errOut io.Writer, rep validate.Report) error {
	for _, o := range rep.Objects {
		for _, r := range o.Deny {
			if _, err := fmt.Fprintln(out, line(r)); err != nil {
				return err
			}
		}
		for _, r := range o.Warn {
			fmt.Fprintln(errOut, "warning:", line(r))
		}
		for _, r := range o.Skipped {
			fmt.Fprintln(errOut, "skipped:", line(r))
		}
	}
	for _, e := range rep.Warnings {
		fmt.Fprintln(errOut, "warning:", e.Error())
	}
	for _, e := range rep.Errors {
		fmt.Fprintln(errOut, "error:", e.Error())
	}
	reviewed, warned := 0, 0
	for _, o := range rep.Objects {
		if o.Reviewed {
			reviewed++
		}
		warned += len(o.Warn)
	}
	fmt.Fprintf(errOut, "%d objects (%d reviewed): %d denied, %d warnings, %d unreadable\n",
		len(rep.Objects), reviewed, rep.Denied(), warned, len(rep.Errors))
	return nil
}

func writeJSON(out io.Writer, rep validate.Report) error {
	if rep.Objects == nil {
		rep.Objects = []validate.Object{}
	}
	if rep.Errors == nil {
		rep.Errors = []*validate.InputError{}
	}
	if rep.Warnings == nil {
		rep.Warnings = []*validate.InputError{}
	}
	enc := json.NewEncoder(out)
	enc.SetIndent("", "  ")
	return enc.Encode(struct {
		validate.Report
		Denied int `json:"denied"`
	}{rep, rep.Denied()})
}
