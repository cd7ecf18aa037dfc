package main

import (
	"errors"
	"fmt"
	"os"
	"strings"

	"github.com/spf13/cobra"

	"github.com/mpcguard/mpcguard/generator"
)

func newGenerateCmd() *cobra.Command {
	var specFile, preset, output, release, webhookImage string
	cmd := &cobra.Command{
		Use:   "generate (--spec FILE | --preset NAME) --output DIR",
		Short: "Generate the mpc-system and mpcguard Helm charts from a values file",
		Long: "Generate writes DIR/mpc-system (the MPC system, with mpcguard as a dependency in its charts/) and\n" +
			"DIR/mpcguard (the admission side alone). The spec is a values file of the mpc-system chart, applied\n" +
			"over the default preset as `helm install -f` would and read as `mpcguard validate` reads YAML; the\n" +
			"presets are values files too: " + strings.Join(generator.PresetNames(), ", ") + ". The values are\n" +
			"checked by rendering the charts, with the same schema and rules as `helm install`.\n" +
			"Generate overwrites the files it generates and removes only those it wrote before (listed in\n" +
			"DIR/.mpcguard-generated) and no longer generates: it never deletes a file it did not write.",
		Example: "  mpcguard generate --preset default --output charts\n  mpcguard generate --spec mpc.yaml --output out",
		Args:    cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			values, warnings, err := loadSpec(specFile, preset)
			for _, w := range warnings {
				fmt.Fprintln(cmd.ErrOrStderr(), "warning:", w)
			}
			if err != nil {
				return err
			}
			r := generator.Release{Version: generator.MpcguardChartVersion}
			if release != "" {
				generator.SetRelease(values, release, webhookImage)
				r.Version = release
			} else if webhookImage != "" {
				return errors.New("--webhook-image needs --release")
			}
			files, warnings, err := generator.GenerateRelease(values, r)
			for _, w := range warnings {
				fmt.Fprintln(cmd.ErrOrStderr(), "warning:", w)
			}
			if err != nil {
				if specFile != "" {
					return fmt.Errorf("%s: %w", specFile, err)
				}
				return err
			}
			if err := generator.Write(output, files); err != nil {
				return err
			}
			_, err = fmt.Fprintf(cmd.OutOrStdout(), "wrote %d files under %s: %s/ and %s/\n", len(files), output, generator.SystemChartName, generator.MpcguardChartName)
			return err
		},
	}
	cmd.Flags().StringVar(&specFile, "spec", "", "values file of the mpc-system chart, over the default preset")
	cmd.Flags().StringVar(&preset, "preset", "", "built-in values file: "+strings.Join(generator.PresetNames(), "|"))
	cmd.Flags().StringVarP(&output, "output", "o", "", "directory receiving the charts")
	cmd.Flags().StringVar(&release, "release", "", "mpcguard release (SemVer, from the git tag): the charts' version and appVersion and the webhook image tag")
	cmd.Flags().StringVar(&webhookImage, "webhook-image", "", "with --release: the webhook image [REGISTRY/]REPOSITORY[@sha256:DIGEST] the charts default to")
	cmd.MarkFlagsMutuallyExclusive("spec", "preset")
	cmd.MarkFlagsOneRequired("spec", "preset")
	_ = cmd.MarkFlagRequired("output")
	return cmd
}

func loadSpec(specFile, preset string) (*generator.SystemValues, []generator.Warning, error) {
	if preset != "" {
		v, err := generator.Preset(preset)
		return v, nil, err
	}
	data, err := os.ReadFile(specFile)
	if err != nil {
		return nil, nil, fmt.Errorf("reading the spec: %w", err)
	}
	v, warns, err := generator.Load(data)
	if err != nil {
		return nil, warns, fmt.Errorf("%s: %w", specFile, err)
	}
	return v, warns, nil
}
