package policies_test

import (
	"os"
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/mpcguard/mpcguard/policies"
)

func TestLoadDir(t *testing.T) {
	t.Run("reads the policies of this directory as the embedded set, tests excluded", func(t *testing.T) {
		embedded, err := policies.Modules()
		require.NoError(t, err)
		fromDir, err := policies.LoadDir(".")
		require.NoError(t, err)
		require.Len(t, fromDir, len(embedded))
		for i := range embedded {
			assert.Equal(t, filepath.Base(embedded[i].Name), filepath.Base(fromDir[i].Name))
			assert.Equal(t, embedded[i].Source, fromDir[i].Source, fromDir[i].Name)
		}
	})
	t.Run("names each module by its path, sorted, skipping tests, other files and subdirectories", func(t *testing.T) {
		dir := t.TempDir()
		for name, src := range map[string]string{
			"b.rego":            "package b\n",
			"a.rego":            "package a\n",
			"a_test.rego":       "package a_test\n",
			"notes.md":          "not rego\n",
			"sub/nested.rego":   "package nested\n",
			"sub/ignored.rego2": "x\n",
		} {
			path := filepath.Join(dir, name)
			require.NoError(t, os.MkdirAll(filepath.Dir(path), 0o755))
			require.NoError(t, os.WriteFile(path, []byte(src), 0o644))
		}
		mods, err := policies.LoadDir(dir)
		require.NoError(t, err)
		assert.Equal(t, []policies.Module{
			{Name: filepath.Join(dir, "a.rego"), Source: "package a\n"},
			{Name: filepath.Join(dir, "b.rego"), Source: "package b\n"},
		}, mods)
	})
	cases := map[string]struct {
		dir  func(t *testing.T) string
		want string
	}{
		"fails on a directory that does not exist": {
			dir:  func(t *testing.T) string { return filepath.Join(t.TempDir(), "missing") },
			want: "no such file or directory",
		},
		"fails on a file given as the directory": {
			dir: func(t *testing.T) string {
				path := filepath.Join(t.TempDir(), "main.rego")
				require.NoError(t, os.WriteFile(path, []byte("package main\n"), 0o644))
				return path
			},
			want: "not a directory",
		},
		"fails on a directory with only tests": {
			dir: func(t *testing.T) string {
				dir := t.TempDir()
				require.NoError(t, os.WriteFile(filepath.Join(dir, "x_test.rego"), []byte("package x_test\n"), 0o644))
				return dir
			},
			want: "no policy modules found",
		},
	}
	for name, tc := range cases {
		t.Run(name, func(t *testing.T) {
			dir := tc.dir(t)
			_, err := policies.LoadDir(dir)
			require.Error(t, err)
			assert.Contains(t, err.Error(), dir, "the error names the directory")
			assert.Contains(t, err.Error(), tc.want)
		})
	}
}
