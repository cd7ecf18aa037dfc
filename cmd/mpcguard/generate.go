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
		Short: "Generate the mpc-system and mpcguard Helm charts from a spec",
		Long: "Generate writes DIR/<chart name> (the MPC system, with mpcguard as a dependency in its charts/) and\n" +
			"DIR/mpcguard (the admission side alone), replacing what those directories held. The spec is read\n" +
			"strictly from --spec, or taken from a preset: " + strings.Join(generator.PresetNames(), ", ") + ".",
		Example: "  mpcguard generate --preset default --output charts\n  mpcguard generate --spec mpc.yaml --output out",
		Args:    cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			spec, err := loadSpec(specFile, preset)
			if err != nil {
				return err
			}
			r := generator.Release{Version: generator.MpcguardChartVersion}
			if release != "" {
				repo, digest, _ := strings.Cut(webhookImage, "@")
				generator.SetRelease(spec, release, repo, digest)
				r.Version = release
			} else if webhookImage != "" {
				return errors.New("--webhook-image needs --release")
			}
			files, warnings, err := generator.GenerateRelease(spec, r)
			for _, w := range warnings {
				fmt.Fprintln(cmd.ErrOrStderr(), "warning:", w)
			}
			if err != nil {
				return err
			}
			if err := generator.Write(output, files); err != nil {
				return err
			}
			_, err = fmt.Fprintf(cmd.OutOrStdout(), "wrote %d files under %s: %s/ and %s/\n", len(files), output, spec.Chart.Name, generator.MpcguardChartName)
			return err
		},
	}
	cmd.Flags().StringVar(&specFile, "spec", "", "YAML spec of the MPC system")
	cmd.Flags().StringVar(&preset, "preset", "", "built-in spec: "+strings.Join(generator.PresetNames(), "|"))
	cmd.Flags().StringVarP(&output, "output", "o", "", "directory receiving the charts")
	cmd.Flags().StringVar(&release, "release", "", "mpcguard release (SemVer, from the git tag): the charts' version and appVersion and the webhook image tag")
	cmd.Flags().StringVar(&webhookImage, "webhook-image", "", "with --release: the webhook image REPOSITORY[@sha256:DIGEST] the charts default to")
	cmd.MarkFlagsMutuallyExclusive("spec", "preset")
	cmd.MarkFlagsOneRequired("spec", "preset")
	_ = cmd.MarkFlagRequired("output")
	return cmd
}

func loadSpec(specFile, preset string) (*generator.Spec, error) {
	if preset != "" {
		return generator.Preset(preset)
	}
	data, err := os.ReadFile(specFile)
	if err != nil {
		return nil, fmt.Errorf("reading the spec: %w", err)
	}
	spec, err := generator.Decode(data)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", specFile, err)
	}
	return spec, nil
}
