package main

import (
	"encoding/json"
	"encoding/xml"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestValidateForCI(t *testing.T) {
	chartDir := t.TempDir()
	writeFileIn := func(name, content string) {
		t.Helper()
		require.NoError(t, writeFileErr(filepath.Join(chartDir, name), content))
	}
	writeFileIn("Chart.yaml", "apiVersion: v2\nname: c\nversion: 0.1.0\n")
	writeFileIn("values.yaml", "replicaCount: 1\n")
	writeFileIn("kustomization.yaml", "apiVersion: kustomize.config.k8s.io/v1beta1\nkind: Kustomization\nresources: [pod.yaml]\n")
	writeFileIn("pod.yaml", deniedManifest)
	onlyConfig := t.TempDir()
	require.NoError(t, writeFileErr(filepath.Join(onlyConfig, "values.yaml"), "a: 1\n"))

	tests := map[string]struct {
		args       []string
		stdin      string
		wantCode   int
		wantStdout string   // exact, when not empty
		wantStderr []string // each contained
	}{
		"an empty stdin, as from a command that failed before the pipe, exits 2": {
			args:       []string{"validate", "-f", "-"},
			wantCode:   2,
			wantStderr: []string{"error: <stdin>: nothing to validate: no document: empty, or only comments, separators and null documents (did a command before the pipe fail?)"},
		},
		"a stdin of comments only exits 2": {
			args:       []string{"validate", "-f", "-"},
			stdin:      "---\n# Source: nothing rendered\n",
			wantCode:   2,
			wantStderr: []string{"error: <stdin>: nothing to validate"},
		},
		"Chart.yaml, values.yaml and kustomization.yaml in a directory are skipped and listed, not fatal": {
			args:       []string{"validate", "-f", chartDir},
			wantCode:   1,
			wantStdout: filepath.Join(chartDir, "pod.yaml") + ":doc 1: " + deniedLine,
			wantStderr: []string{
				"skipped: " + filepath.Join(chartDir, "Chart.yaml") + ": document 1 (line 1): not a Kubernetes object: apiVersion but no kind or metadata",
				"skipped: " + filepath.Join(chartDir, "kustomization.yaml") + ": document 1 (line 1): a kustomize configuration",
				"skipped: " + filepath.Join(chartDir, "values.yaml") + ": document 1 (line 1): not a Kubernetes object: no apiVersion, kind or metadata",
				"1 objects (1 reviewed): 1 denied, 0 warnings, 0 unreadable, 3 documents skipped\n",
			},
		},
		"a directory of nothing but configuration exits 2": {
			args:       []string{"validate", "-f", onlyConfig},
			wantCode:   2,
			wantStderr: []string{"error: " + onlyConfig + ": nothing to validate: no Kubernetes object in the input (1 documents or files skipped)"},
		},
		"a document with kind but no apiVersion exits 2": {
			args:       []string{"validate", "-f", "-"},
			stdin:      "kind: Pod\nmetadata: {name: p}\n",
			wantCode:   2,
			wantStderr: []string{"error: <stdin>: document 1 (line 1): not a Kubernetes object: apiVersion and kind are required"},
		},
		"an item of a list is named on its line": {
			args:       []string{"validate", "-f", "-"},
			stdin:      "apiVersion: v1\nkind: List\nitems:\n- " + `{apiVersion: v1, kind: Pod, metadata: {name: p-0, namespace: mpc-system, labels: {app.kubernetes.io/component: mpc-party}}}` + "\n",
			wantCode:   1,
			wantStdout: "<stdin>:doc 1 items[0]: " + deniedLine,
		},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			code, stdout, stderr := runCLI(t, tc.stdin, tc.args...)
			assert.Equal(t, tc.wantCode, code, "stdout:\n%s\nstderr:\n%s", stdout, stderr)
			if tc.wantStdout != "" || tc.wantCode != 1 {
				assert.Equal(t, tc.wantStdout, stdout)
			}
			for _, s := range tc.wantStderr {
				assert.Contains(t, stderr, s)
			}
		})
	}
}

func TestValidateJSONListsSkippedDocuments(t *testing.T) {
	code, stdout, _ := runCLI(t, "replicaCount: 1\n---\n"+deniedManifest, "validate", "-f", "-", "-o", "json")
	assert.Equal(t, 1, code)
	var rep struct {
		Skipped []struct {
			Source   string `json:"source"`
			Document int    `json:"document"`
			Line     int    `json:"line"`
			Reason   string `json:"reason"`
		} `json:"skipped"`
		Denied int `json:"denied"`
	}
	require.NoError(t, json.Unmarshal([]byte(stdout), &rep), stdout)
	assert.Equal(t, 1, rep.Denied)
	require.Len(t, rep.Skipped, 1)
	assert.Equal(t, "<stdin>", rep.Skipped[0].Source)
	assert.Equal(t, 1, rep.Skipped[0].Document)
	assert.Equal(t, 1, rep.Skipped[0].Line)
	assert.Contains(t, rep.Skipped[0].Reason, "not a Kubernetes object")

	code, stdout, _ = runCLI(t, "", "validate", "-f", "-", "-o", "json")
	assert.Equal(t, 2, code, "an empty input is an error in JSON too")
	assert.Contains(t, stdout, `"error": "\u003cstdin\u003e: nothing to validate`)
}

func TestValidateJUnitAndSARIFExitCodes(t *testing.T) {
	for _, format := range []string{"junit", "sarif"} {
		t.Run("-o "+format+" exits 1 on a denial and writes only the report on stdout", func(t *testing.T) {
			code, stdout, stderr := runCLI(t, deniedManifest, "validate", "-f", "-", "-o", format)
			assert.Equal(t, 1, code, stderr)
			if format == "junit" {
				var v struct {
					Failures int `xml:"failures,attr"`
				}
				require.NoError(t, xml.Unmarshal([]byte(stdout), &v), stdout)
				assert.Equal(t, 1, v.Failures)
			} else {
				var v map[string]any
				require.NoError(t, json.Unmarshal([]byte(stdout), &v), stdout)
				assert.Equal(t, "2.1.0", v["version"])
			}
		})
		t.Run("-o "+format+" exits 2 on an empty input", func(t *testing.T) {
			code, _, _ := runCLI(t, "", "validate", "-f", "-", "-o", format)
			assert.Equal(t, 2, code)
		})
	}
}

func writeFileErr(path, content string) error { return os.WriteFile(path, []byte(content), 0o644) }

// webhookDeployment is the mpcguard chart's webhook Deployment, rendered, with the given arguments.
func webhookDeployment(name string, args ...string) string {
	return `apiVersion: apps/v1
kind: Deployment
metadata:
  name: ` + name + `
  namespace: mpcguard
  labels: {app.kubernetes.io/name: mpcguard, app.kubernetes.io/component: admission-webhook}
spec:
  template:
    spec:
      containers:
        - name: webhook
          image: "ghcr.io/mpcguard/mpcguard:0.1.0"
          args: [webhook, --port=9443, ` + strings.Join(args, ", ") + `]
`
}

func TestValidateReadsTheConfigurationOfARenderedChart(t *testing.T) {
	const signer = `apiVersion: v1
kind: Pod
metadata: {name: s-0, namespace: mpc-system, labels: {app: signer, party-role: delegate}}
`
	chart := webhookDeployment("r-mpcguard-webhook", "--party-selector=app=signer", `"--role-label-key=signer.example.com/role"`)
	tests := map[string]struct {
		args       []string
		stdin      string
		wantCode   int
		wantStdout string
		wantStderr []string
	}{
		"the webhook's arguments in the input configure validate, and it says so": {
			args:       []string{"validate", "-f", "-"},
			stdin:      chart + "---\n" + signer,
			wantCode:   1,
			wantStdout: "<stdin>:doc 2: party-role-required Pod mpc-system/s-0: party pod (app=signer) has no signer.example.com/role label; add signer.example.com/role with one of persistent, delegate, temporary\n",
			wantStderr: []string{"configuration: from the mpcguard webhook in <stdin>: document 1 (line 1): Deployment mpcguard/r-mpcguard-webhook: " +
				"--role-label-key=signer.example.com/role --party-selector=app=signer\n"},
		},
		"a flag given explicitly overrides the chart's": {
			args:       []string{"validate", "-f", "-", "--role-label-key", "party-role"},
			stdin:      chart + "---\n" + signer,
			wantCode:   0,
			wantStderr: []string{": --party-selector=app=signer; overridden by the command line: --role-label-key\n"},
		},
		"--config-from-input=false ignores the chart": {
			args:       []string{"validate", "-f", "-", "--config-from-input=false"},
			stdin:      chart + "---\n" + signer,
			wantCode:   0,
			wantStderr: []string{"configuration: defaults and flags\n"},
		},
		"without a webhook Deployment the defaults and flags are used, and it says so": {
			args:       []string{"validate", "-f", "-"},
			stdin:      signer,
			wantCode:   0,
			wantStderr: []string{"configuration: defaults and flags (no mpcguard webhook Deployment in the input)\n"},
		},
		"two webhooks configured alike are one configuration": {
			args:       []string{"validate", "-f", "-"},
			stdin:      chart + "---\n" + chart + "---\n" + signer,
			wantCode:   1,
			wantStderr: []string{"(and 1 more webhook Deployments configured alike)"},
		},
		"two webhooks configured differently exit 2, naming both": {
			args:     []string{"validate", "-f", "-"},
			stdin:    chart + "---\n" + webhookDeployment("other", "--party-selector=app=other") + "---\n" + signer,
			wantCode: 2,
			wantStderr: []string{"validate: the mpcguard webhooks in <stdin>: document 1 (line 1): Deployment mpcguard/r-mpcguard-webhook and in " +
				"<stdin>: document 2 (line 15): Deployment mpcguard/other are configured differently"},
		},
		"an invalid configuration in the chart exits 2, saying where it came from": {
			args:       []string{"validate", "-f", "-"},
			stdin:      webhookDeployment("w", "--party-selector=app!=x") + "---\n" + signer,
			wantCode:   2,
			wantStderr: []string{"validate: --party-selector: ", "(configuration: from the mpcguard webhook in <stdin>: document 1 (line 1)"},
		},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			code, stdout, stderr := runCLI(t, tc.stdin, tc.args...)
			assert.Equal(t, tc.wantCode, code, "stdout:\n%s\nstderr:\n%s", stdout, stderr)
			if tc.wantStdout != "" || tc.wantCode == 0 {
				assert.Equal(t, tc.wantStdout, stdout)
			}
			for _, s := range tc.wantStderr {
				assert.Contains(t, stderr, s)
			}
		})
	}
}
