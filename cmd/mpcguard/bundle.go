package main

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"

	"github.com/spf13/cobra"
	"github.com/spf13/pflag"

	"github.com/mpcguard/mpcguard/internal/bundle"
	"github.com/mpcguard/mpcguard/policies/engine"
	"github.com/mpcguard/mpcguard/policies/native"
)

// bundlePolicyFlags are the flags of policyFlags that the native policies read: a bundle is configured with
// exactly the values the webhook gets, parsed and validated the same way.
var bundlePolicyFlags = []string{"role-label-key", "party-selector", "enforcement", "share-secret-names",
	"share-claim-prefixes", "persistent-workloads", "threshold-t"}

func newBundleCmd() *cobra.Command {
	var pf policyFlags
	var output, manifestsDir, admissionConfig string
	var namespaces []string
	cmd := &cobra.Command{
		Use:   "bundle --output DIR [--admission-config FILE]",
		Short: "Write the native policies as a manifest-based admission bundle, which the API cannot delete",
		Long: "Bundle writes mpcguard's native policies (ValidatingAdmissionPolicies in CEL, one per policy id that needs\n" +
			"no cluster inventory) and their bindings to DIR/" + bundle.FileName + ", named mpcguard-<id>" + bundle.Suffix + ",\n" +
			"for API servers with manifest-based admission (Kubernetes 1.36+, feature gate\n" +
			"ManifestBasedAdmissionControlConfig, alpha). The API server loads them from its own disk at start and\n" +
			"on change: no API request can change or delete them. Copy DIR to the same absolute path on every\n" +
			"control-plane node, and give kube-apiserver the AdmissionConfiguration of --admission-config\n" +
			"(--admission-control-config-file) with the feature gate. The policy flags are the webhook's: give both\n" +
			"the same values.",
		Example: "  mpcguard bundle --output /etc/kubernetes/admission/mpcguard \\\n" +
			"    --admission-config /etc/kubernetes/admission/config.yaml --namespaces mpc-system",
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			cfg, err := pf.config()
			if err != nil {
				return err
			}
			ncfg := nativeConfig(cfg, engine.Names(namespaces))
			policies, bindings, err := native.Policies(ncfg)
			if err != nil {
				return err
			}
			content, err := bundle.Render(policies, bindings)
			if err != nil {
				return err
			}
			if manifestsDir == "" {
				if manifestsDir, err = filepath.Abs(output); err != nil {
					return fmt.Errorf("--output: %w", err)
				}
			}
			var admission []byte
			if admissionConfig != "" {
				if admission, err = bundle.AdmissionConfiguration(manifestsDir); err != nil {
					return fmt.Errorf("--manifests-dir: %w", err)
				}
				if err := outsideBundle(admissionConfig, output); err != nil {
					return err
				}
			}
			hash, err := bundle.Write(output, content)
			if err != nil {
				return err
			}
			if admission != nil {
				if err := os.WriteFile(admissionConfig, admission, 0o644); err != nil {
					return fmt.Errorf("--admission-config: %w", err)
				}
			}
			out := cmd.OutOrStdout()
			fmt.Fprintf(out, "wrote %d ValidatingAdmissionPolicies and %d bindings to %s\n", len(policies), len(bindings),
				filepath.Join(output, bundle.FileName))
			if admission != nil {
				fmt.Fprintf(out, "wrote the AdmissionConfiguration (staticManifestsDir %s) to %s\n", manifestsDir, admissionConfig)
			}
			_, err = fmt.Fprintf(out, "directory hash %s: the API server reports it in "+
				"apiserver_manifest_admission_config_controller_last_config_info once it enforces this directory\n", hash)
			return err
		},
	}
	all := pflag.NewFlagSet("policy", pflag.ContinueOnError)
	pf.register(all)
	for _, name := range bundlePolicyFlags {
		cmd.Flags().AddFlag(all.Lookup(name))
	}
	cmd.Flags().StringSliceVar(&namespaces, "namespaces", nil,
		"namespaces the policies apply to, as the webhook configuration's (default: every namespace but kube-system)")
	cmd.Flags().StringVarP(&output, "output", "o", "", "directory receiving "+bundle.FileName+" (other files in it are kept)")
	cmd.Flags().StringVar(&manifestsDir, "manifests-dir", "",
		"absolute path of the bundle's directory on the control-plane nodes, for --admission-config (default: --output, made absolute)")
	cmd.Flags().StringVar(&admissionConfig, "admission-config", "",
		"also write kube-apiserver's AdmissionConfiguration (--admission-control-config-file) to this file, outside DIR")
	_ = cmd.MarkFlagRequired("output")
	return cmd
}

// nativeConfig is the part of the webhook's configuration the native policies read.
func nativeConfig(cfg engine.Config, namespaces []string) native.Config {
	return native.Config{
		RoleLabelKey:        cfg.RoleLabelKey,
		PartySelector:       cfg.PartySelector,
		ShareSecretNames:    cfg.ShareStorage.SecretNames,
		ShareClaimPrefixes:  cfg.ShareStorage.ClaimPrefixes,
		PersistentWorkloads: cfg.PersistentWorkloads,
		ThresholdT:          int32(cfg.Threshold), //nolint:gosec // validated: 0 <= t, far below 2^31
		ControllerUsers:     cfg.ControllerUsers,
		BreakGlassGroups:    cfg.BreakGlassGroups,
		Enforcement:         cfg.Enforcement,
		Namespaces:          namespaces,
		NameSuffix:          bundle.Suffix,
	}
}

// outsideBundle refuses an AdmissionConfiguration file that the API server would read as a manifest of the
// bundle's directory, and so refuse to start.
func outsideBundle(file, dir string) error {
	f, err := filepath.Abs(file)
	if err != nil {
		return fmt.Errorf("--admission-config: %w", err)
	}
	d, err := filepath.Abs(dir)
	if err != nil {
		return fmt.Errorf("--output: %w", err)
	}
	ext := strings.ToLower(filepath.Ext(f))
	if filepath.Dir(f) == d && (ext == ".yaml" || ext == ".yml" || ext == ".json") {
		return errors.New("--admission-config: not inside --output: the API server would read it as a policy manifest and refuse to start")
	}
	return nil
}
