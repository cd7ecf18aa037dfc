package generator_test

import (
	"errors"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/mpcguard/mpcguard/generator"
)

func TestDecodeIsStrict(t *testing.T) {
	valid, err := generator.Encode(generator.DefaultSpec())
	require.NoError(t, err)
	cases := map[string]struct {
		yaml string
		want []string
	}{
		"rejects an unknown top-level field": {
			yaml: "chart: {name: a, version: 0.1.0}\nreplicas: 3\n",
			want: []string{"replicas: Forbidden: unknown field"},
		},
		"rejects an unknown field inside a pool, naming its index": {
			yaml: "pools:\n- name: a\n  role: persistent\n  replica: 3\n",
			want: []string{"pools[0].replica: Forbidden: unknown field"},
		},
		"rejects an unknown field of the share storage": {
			yaml: "pools:\n- name: a\n  shareStorage: {volumeClaim: {name: s, sise: 1Gi}}\n",
			want: []string{"pools[0].shareStorage.volumeClaim.sise: Forbidden: unknown field"},
		},
		"reports every unknown field at once": {
			yaml: "webhook: {replica: 2}\nthreshold: {t: 2, n: 3, k: 1}\n",
			want: []string{"webhook.replica: Forbidden: unknown field", "threshold.k: Forbidden: unknown field"},
		},
		"rejects a duplicated field, naming its line": {
			yaml: "threshold: {t: 2, t: 3}\n",
			want: []string{`line 1: key "t" already set`},
		},
		"rejects a wrong type": {
			yaml: "threshold: {t: two}\n",
			want: []string{"threshold.t"},
		},
	}
	for name, tc := range cases {
		t.Run(name, func(t *testing.T) {
			_, err := generator.Decode([]byte(tc.yaml))
			require.Error(t, err)
			assert.True(t, errors.Is(err, generator.ErrInvalidSpec), "wraps ErrInvalidSpec: %v", err)
			for _, w := range tc.want {
				assert.ErrorContains(t, err, w)
			}
		})
	}
	t.Run("decodes what Encode wrote, unchanged", func(t *testing.T) {
		s, err := generator.Decode(valid)
		require.NoError(t, err)
		assert.Equal(t, generator.DefaultSpec(), s)
	})
}
