package cluster

import (
	"fmt"

	"helm.sh/helm/v3/pkg/action"
	"k8s.io/cli-runtime/pkg/genericclioptions"
)

// Helm is a Helm SDK configuration for releases in namespace on this cluster (release records in Secrets,
// as the helm CLI keeps them). debug receives Helm's debug lines; nil discards them.
func (c *Cluster) Helm(namespace string, debug func(format string, v ...any)) (*action.Configuration, error) {
	if debug == nil {
		debug = func(string, ...any) {}
	}
	flags := genericclioptions.NewConfigFlags(false)
	flags.KubeConfig = &c.Kubeconfig
	flags.Namespace = &namespace
	cfg := new(action.Configuration)
	if err := cfg.Init(flags, namespace, "secret", debug); err != nil {
		return nil, fmt.Errorf("helm configuration for namespace %s: %w", namespace, err)
	}
	return cfg, nil
}
