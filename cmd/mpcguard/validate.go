package main

import (
	"errors"
	"fmt"
	"io"
	"slices"
	"strings"

	"github.com/spf13/cobra"
	"github.com/spf13/pflag"

	"github.com/mpcguard/mpcguard/internal/validate"
	"github.com/mpcguard/mpcguard/policies/engine"
)

func newValidateCmd() *cobra.Command {
	var (
		pf        policyFlags
		files     []string
		namespace string
		output    string
		fromInput bool
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
			srcs, readErrs := validate.ReadSources(files, cmd.InOrStdin())
			used, err := "configuration: defaults and flags", error(nil)
			if fromInput {
				if used, err = pf.fromWebhookArgs(cmd.Flags(), validate.FindWebhookArgs(srcs)); err != nil {
					return &exitError{code: 2, err: fmt.Errorf("validate: %w", err)}
				}
			}
			cfg, err := pf.config()
			if err != nil {
				return &exitError{code: 2, err: fmt.Errorf("validate: %w (%s)", err, used)}
			}
			fmt.Fprintln(cmd.ErrOrStderr(), used)
			mods, err := pf.modules()
			if err != nil {
				return &exitError{code: 2, err: fmt.Errorf("validate: %w", err)}
			}
			eng, err := engine.New(cmd.Context(), cfg, mods)
			if err != nil {
				return &exitError{code: 2, err: fmt.Errorf("validate: %w", err)}
			}
			rep := validate.Validator{Engine: eng, Namespace: namespace}.Sources(cmd.Context(), srcs, readErrs, strings.Join(files, ", "))
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
	cmd.Flags().BoolVar(&fromInput, "config-from-input", true,
		"read the policy configuration from an mpcguard webhook Deployment in the input (a rendered chart); flags given explicitly override it")
	pf.register(cmd.Flags())
	return cmd
}

// inputConfigFlags are the webhook arguments that validate takes from a rendered chart: the policy
// configuration, without --policy-dir (a path in the webhook's image, not here).
var inputConfigFlags = []string{"role-label-key", "party-selector", "enforcement", "share-secret-names",
	"share-claim-prefixes", "persistent-workloads", "controller-users", "break-glass-groups", "threshold-t"}

// fromWebhookArgs sets the policy flags that were not given on the command line (flags, where f is
// registered) to the values of the mpcguard webhook Deployment in the input, through the flags themselves so
// that no second list of fields exists, and says which configuration is used. Several webhook
// Deployments must agree on the configuration.
func (f *policyFlags) fromWebhookArgs(flags *pflag.FlagSet, found []validate.WebhookArgs) (string, error) {
	if len(found) == 0 {
		return "configuration: defaults and flags (no mpcguard webhook Deployment in the input)", nil
	}
	var set *pflag.FlagSet
	var args []string
	for i, w := range found {
		pf, fs := &policyFlags{}, pflag.NewFlagSet("webhook", pflag.ContinueOnError)
		fs.ParseErrorsAllowlist.UnknownFlags = true
		fs.SetOutput(io.Discard)
		pf.register(fs)
		if err := fs.Parse(w.Args); err != nil {
			return "", fmt.Errorf("the arguments of the mpcguard webhook in %s: %w", w.Where(), err)
		}
		var mine []string
		for _, name := range inputConfigFlags {
			if fs.Changed(name) {
				mine = append(mine, "--"+name+"="+flagValue(fs, name))
			}
		}
		if i == 0 {
			set, args = fs, mine
			continue
		}
		if !slices.Equal(args, mine) {
			return "", fmt.Errorf("the mpcguard webhooks in %s and in %s are configured differently (%s; %s): "+
				"validate one release at a time, give the flags, or --config-from-input=false",
				found[0].Where(), w.Where(), strings.Join(args, " "), strings.Join(mine, " "))
		}
	}
	var taken, overridden []string
	for _, name := range inputConfigFlags {
		if !set.Changed(name) {
			continue
		}
		if flags.Changed(name) {
			overridden = append(overridden, "--"+name)
			continue
		}
		value := flagValue(set, name)
		if err := flags.Set(name, value); err != nil {
			return "", fmt.Errorf("--%s=%s from the mpcguard webhook in %s: %w", name, value, found[0].Where(), err)
		}
		taken = append(taken, "--"+name+"="+value)
	}
	msg := "configuration: from the mpcguard webhook in " + found[0].Where()
	if len(found) > 1 {
		msg += fmt.Sprintf(" (and %d more webhook Deployments configured alike)", len(found)-1)
	}
	if len(taken) > 0 {
		msg += ": " + strings.Join(taken, " ")
	} else {
		msg += ": no policy arguments there, defaults"
	}
	if len(overridden) > 0 {
		msg += "; overridden by the command line: " + strings.Join(overridden, " ")
	}
	return msg, nil
}

// flagValue is a flag's value as it would be given: a list comma-separated, not in brackets.
func flagValue(fs *pflag.FlagSet, name string) string {
	fl := fs.Lookup(name)
	if sv, ok := fl.Value.(pflag.SliceValue); ok {
		return strings.Join(sv.GetSlice(), ",")
	}
	return fl.Value.String()
}
