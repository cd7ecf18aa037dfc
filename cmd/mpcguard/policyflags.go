package main

import (
	"fmt"
	"strings"

	"github.com/spf13/pflag"

	"github.com/mpcguard/mpcguard/policies"
	"github.com/mpcguard/mpcguard/policies/engine"
	"github.com/mpcguard/mpcguard/policies/vocab"
)

// policyFlags are the policy configuration flags shared by validate and webhook, so both see the same
// configuration the chart's values give.
type policyFlags struct {
	roleLabelKey   string
	partySelector  string
	enforcement    string
	shareSecrets   []string
	shareClaimPfxs []string
	persistentSets []string
	controllers    []string
	breakGlass     []string
	threshold      int
	policyDir      string
}

func (f *policyFlags) register(fs *pflag.FlagSet) {
	fs.StringVar(&f.roleLabelKey, "role-label-key", vocab.DefaultRoleLabelKey, "label key that carries a party's role")
	fs.StringVar(&f.partySelector, "party-selector", vocab.DefaultPartySelector,
		"labels (k=v,k2=v2) that make a pod a party pod; the coordinator's MPC_PARTY_LABEL_SELECTOR")
	fs.StringVar(&f.enforcement, "enforcement", "",
		"per-policy actions, policy-id=deny|warn|off, comma-separated (default: every policy denies)")
	fs.StringSliceVar(&f.shareSecrets, "share-secret-names", nil,
		"Secrets holding the persistent pool's shares, which delegate and temporary parties must not mount")
	fs.StringSliceVar(&f.shareClaimPfxs, "share-claim-prefixes", nil,
		"PersistentVolumeClaim name prefixes of the persistent pool's share storage")
	fs.StringSliceVar(&f.persistentSets, "persistent-workloads", nil,
		"StatefulSets of the persistent pool: only their pods may be persistent parties (default: any StatefulSet)")
	fs.StringSliceVar(&f.controllers, "controller-users", vocab.DefaultControllerUsers,
		"identities that create persistent party pods (the StatefulSet controller's)")
	fs.StringSliceVar(&f.breakGlass, "break-glass-groups", []string{vocab.DefaultBreakGlassGroup},
		"groups whose members may exec into persistent parties, debug them, copy share storage and delete it (with the "+
			vocab.BreakGlassAnnotation+" annotation)")
	fs.IntVar(&f.threshold, "threshold-t", vocab.DefaultThreshold,
		"the t of t-of-n: no UPDATE or scale takes a persistent StatefulSet below t replicas (persistent-quorum); 0 checks nothing")
	fs.StringVar(&f.policyDir, "policy-dir", "",
		"replace the embedded policies with the *.rego files of this directory (*_test.rego excluded)")
}

// modules are the policies of --policy-dir, or nil for the embedded ones.
func (f *policyFlags) modules() ([]policies.Module, error) {
	if strings.TrimSpace(f.policyDir) == "" {
		return nil, nil
	}
	mods, err := policies.LoadDir(f.policyDir)
	if err != nil {
		return nil, fmt.Errorf("--policy-dir: %w", err)
	}
	return mods, nil
}

func (f *policyFlags) config() (engine.Config, error) {
	cfg := engine.DefaultConfig()
	cfg.RoleLabelKey = strings.TrimSpace(f.roleLabelKey)
	sel, err := engine.ParseSelector(f.partySelector)
	if err != nil {
		return cfg, fmt.Errorf("--party-selector: %w", err)
	}
	cfg.PartySelector = sel
	if cfg.Enforcement, err = engine.ParseEnforcement(f.enforcement, cfg.Enforcement); err != nil {
		return cfg, fmt.Errorf("--enforcement: %w", err)
	}
	cfg.ShareStorage.SecretNames = engine.Names(f.shareSecrets)
	cfg.ShareStorage.ClaimPrefixes = engine.Names(f.shareClaimPfxs)
	cfg.PersistentWorkloads = engine.Names(f.persistentSets)
	cfg.ControllerUsers = engine.Names(f.controllers)
	cfg.BreakGlassGroups = engine.Names(f.breakGlass)
	cfg.Threshold = f.threshold
	if errs := cfg.Validate(); len(errs) > 0 {
		return cfg, errs.ToAggregate()
	}
	return cfg, nil
}
