package scenario

import (
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestWhatMakePublishPushedIsReadByKindWithChartsByName(t *testing.T) {
	const d1, d2, d3 = "sha256:1111111111111111111111111111111111111111111111111111111111111111",
		"sha256:2222222222222222222222222222222222222222222222222222222222222222",
		"sha256:3333333333333333333333333333333333333333333333333333333333333333"
	pub, err := ParsePublished([]byte("image 127.0.0.1:5000/mpcguard/mpcguard 0.1.0 " + d1 + "\n" +
		"sbom 127.0.0.1:5000/mpcguard/mpcguard 0.1.0.sbom " + d2 + "\n" +
		"chart 127.0.0.1:5000/mpcguard/charts/mpc-system 0.1.0 " + d3 + "\n"))
	require.NoError(t, err)
	assert.Equal(t, "127.0.0.1:5000/mpcguard/mpcguard@"+d1, pub["image"].Ref())
	assert.Equal(t, Published{Kind: "chart", Repo: "127.0.0.1:5000/mpcguard/charts/mpc-system", Tag: "0.1.0", Digest: d3},
		pub["chart mpc-system"])
	assert.Len(t, pub, 3)
}

func TestAPublishedLineWithoutADigestIsAnErrorNotAnEmptyReference(t *testing.T) {
	for _, line := range []string{"", "image 127.0.0.1:5000/mpcguard/mpcguard 0.1.0", "image repo 0.1.0 latest"} {
		_, err := ParsePublished([]byte(line))
		assert.Error(t, err, "%q", line)
	}
}
