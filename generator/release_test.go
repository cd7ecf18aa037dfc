package generator

import (
	"errors"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"sigs.k8s.io/yaml"
)

// A release takes the charts' versions, appVersion and default webhook image from one version (the git tag)
// and pins the pushed digest.
func TestGenerateRelease(t *testing.T) {
	s := Default()
	digest := "sha256:" + strings.Repeat("ab", 32)
	SetRelease(s, "1.4.0-rc.1", "127.0.0.1:5000/mpcguard/mpcguard@"+digest)
	files, _, err := GenerateRelease(s, Release{Version: "1.4.0-rc.1"})
	require.NoError(t, err)
	byPath := map[string]string{}
	for _, f := range files {
		byPath[f.Path] = string(f.Content)
	}
	for _, p := range []string{"mpcguard/Chart.yaml", "mpc-system/Chart.yaml", "mpc-system/charts/mpcguard/Chart.yaml"} {
		var md struct {
			Version, AppVersion string
			Annotations         map[string]string
			Dependencies        []struct{ Version string }
		}
		require.NoError(t, yaml.Unmarshal([]byte(byPath[p]), &md), p)
		assert.Equal(t, "1.4.0-rc.1", md.Version, p)
		assert.Equal(t, "1.4.0-rc.1", md.AppVersion, p)
		for _, d := range md.Dependencies {
			assert.Equal(t, "1.4.0-rc.1", d.Version, p)
		}
		assert.Contains(t, md.Annotations["artifacthub.io/images"], "127.0.0.1:5000/mpcguard/mpcguard:1.4.0-rc.1@"+digest, p)
		assert.Equal(t, "Apache-2.0", md.Annotations["artifacthub.io/license"], p)
	}
	for _, p := range []string{"mpcguard/values.yaml", "mpc-system/charts/mpcguard/values.yaml"} {
		assert.Contains(t, byPath[p], "registry: 127.0.0.1:5000\n", p)
		assert.Contains(t, byPath[p], "repository: mpcguard/mpcguard\n", p)
		assert.Contains(t, byPath[p], "digest: "+digest+"\n", p)
	}

	_, _, err = GenerateRelease(Default(), Release{Version: "v1.4.0"})
	assert.True(t, errors.Is(err, ErrInvalidSpec), "a release version is SemVer without v: %v", err)
}
