package main

import (
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"runtime"
	"runtime/debug"
	"strings"

	"github.com/spf13/cobra"

	"github.com/mpcguard/mpcguard/policies"
)

// version and commit are set at build time: -ldflags "-X main.version=$(git describe --tags --always --dirty)
// -X main.commit=$(git rev-parse HEAD)". The Makefile, the image build and the Dockerfile pass the same flags.
var (
	version = "dev"
	commit  = ""
)

// buildCommit is the commit the binary was built from: the -X value, else the VCS stamp Go records when it
// builds with -buildvcs, else "unknown".
func buildCommit() string {
	if commit != "" {
		return commit
	}
	if info, ok := debug.ReadBuildInfo(); ok {
		for _, s := range info.Settings {
			if s.Key == "vcs.revision" {
				return s.Value
			}
		}
	}
	return "unknown"
}

// policyDigest is the sha256 of the embedded policy set: each module's name and source, in the order
// policies.Modules returns them (sorted by name), each followed by a NUL byte. Two binaries with the same
// digest enforce the same Rego.
func policyDigest() (string, error) {
	mods, err := policies.Modules()
	if err != nil {
		return "", err
	}
	return digestModules(mods), nil
}

func digestModules(mods []policies.Module) string {
	h := sha256.New()
	for _, m := range mods {
		h.Write([]byte(m.Name))
		h.Write([]byte{0})
		h.Write([]byte(m.Source))
		h.Write([]byte{0})
	}
	return "sha256:" + hex.EncodeToString(h.Sum(nil))
}

// versionText is what `mpcguard version` and `mpcguard --version` print.
func versionText() (string, error) {
	digest, err := policyDigest()
	if err != nil {
		return "", err
	}
	var b strings.Builder
	fmt.Fprintf(&b, "mpcguard %s\n", version)
	fmt.Fprintf(&b, "commit:   %s\n", buildCommit())
	fmt.Fprintf(&b, "go:       %s %s/%s\n", runtime.Version(), runtime.GOOS, runtime.GOARCH)
	fmt.Fprintf(&b, "policies: %s\n", digest)
	return b.String(), nil
}

func newVersionCmd() *cobra.Command {
	return &cobra.Command{
		Use:   "version",
		Short: "Print mpcguard's version, commit, Go version and the digest of the embedded policies",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			text, err := versionText()
			if err != nil {
				return err
			}
			_, err = fmt.Fprint(cmd.OutOrStdout(), text)
			return err
		},
	}
}
