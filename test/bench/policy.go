package bench

import (
	"fmt"
	"strings"

	"github.com/mpcguard/mpcguard/policies/engine"
)

// Policy is the policy configuration mpcguard and OPA both get. The zero value is engine.DefaultConfig(),
// what `mpcguard webhook` runs with no policy flags: every policy denies, no share storage named.
type Policy struct {
	// ShareSecretNames and ShareClaimPrefixes are --share-secret-names and --share-claim-prefixes.
	ShareSecretNames   []string
	ShareClaimPrefixes []string
	// PersistentWorkloads is --persistent-workloads, the StatefulSets whose pods may be persistent parties.
	PersistentWorkloads []string
	// Enforcement is --enforcement, e.g. "session-composition-sum=warn".
	Enforcement string
}

// Config is the configuration `mpcguard webhook` builds from the flags of [Policy.Args].
func (p Policy) Config() (engine.Config, error) {
	cfg := engine.DefaultConfig()
	var err error
	if cfg.Enforcement, err = engine.ParseEnforcement(p.Enforcement, cfg.Enforcement); err != nil {
		return cfg, fmt.Errorf("bench: enforcement: %w", err)
	}
	cfg.ShareStorage = engine.ShareStorage{SecretNames: engine.Names(p.ShareSecretNames),
		ClaimPrefixes: engine.Names(p.ShareClaimPrefixes)}
	cfg.PersistentWorkloads = engine.Names(p.PersistentWorkloads)
	if errs := cfg.Validate(); len(errs) > 0 {
		return cfg, fmt.Errorf("bench: %w", errs.ToAggregate())
	}
	return cfg, nil
}

// Args are the flags of `mpcguard webhook` for this configuration.
func (p Policy) Args() []string {
	var args []string
	if len(p.ShareSecretNames) > 0 {
		args = append(args, "--share-secret-names", strings.Join(p.ShareSecretNames, ","))
	}
	if len(p.ShareClaimPrefixes) > 0 {
		args = append(args, "--share-claim-prefixes", strings.Join(p.ShareClaimPrefixes, ","))
	}
	if len(p.PersistentWorkloads) > 0 {
		args = append(args, "--persistent-workloads", strings.Join(p.PersistentWorkloads, ","))
	}
	if p.Enforcement != "" {
		args = append(args, "--enforcement", p.Enforcement)
	}
	return args
}
