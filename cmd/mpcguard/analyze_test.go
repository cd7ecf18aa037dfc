package main

import (
	"encoding/json"
	"flag"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

var updateGolden = flag.Bool("update", false, "rewrite the golden files under testdata/analyze")

// golden compares got with testdata/analyze/<name>, or rewrites it with -update.
func golden(t *testing.T, name, got string) {
	t.Helper()
	path := filepath.Join("testdata", "analyze", name)
	if *updateGolden {
		require.NoError(t, os.WriteFile(path, []byte(got), 0o644))
	}
	want, err := os.ReadFile(path)
	require.NoError(t, err, "run go test ./cmd/mpcguard -run TestAnalyze -update to write it")
	assert.Equal(t, string(want), got)
}

func TestAnalyze(t *testing.T) {
	const (
		render = "testdata/analyze/render.yaml"
		nodes  = "testdata/analyze/nodes.yaml"
		kms    = "testdata/kms-13/operators.yaml"
	)
	renderText, err := os.ReadFile(render)
	require.NoError(t, err)
	// The default render with a budget that lets unready parties go: without nodes, only unknowns remain.
	alwaysAllow := strings.Replace(string(renderText), "  minAvailable: 2\n", "  minAvailable: 2\n  unhealthyPodEvictionPolicy: AlwaysAllow\n", 1)
	require.Contains(t, alwaysAllow, "AlwaysAllow")
	tests := map[string]struct {
		args       []string
		stdin      string
		wantCode   int
		golden     string   // stdout compared with this golden file, when set
		wantStdout []string // each contained
		wantStderr []string // each contained
	}{
		"the default chart with its nodes is at risk of losing a zone and of a blocked drain": {
			args: []string{"analyze", render, "--nodes", nodes}, wantCode: 1, golden: "render.txt",
			wantStderr: []string{"t=2 from the mpcguard webhook in " + render + ": document 3 (line 50): Deployment mpc/r-mpcguard-webhook"},
		},
		"the JSON report has the same findings": {
			args: []string{"analyze", render, "--nodes", nodes, "-o", "json"}, wantCode: 1, golden: "render.json",
		},
		"the render is read from stdin": {
			args: []string{"analyze", "-"}, stdin: string(renderText), wantCode: 1,
			wantStdout: []string{"OK       node-loss: losing any 1 node can take 1 of the 3 persistent parties", "UNKNOWN  zone-loss"},
		},
		"--threshold overrides the webhook's t": {
			args: []string{"analyze", render, "--threshold", "3"}, wantCode: 1,
			wantStdout: []string{"AT-RISK  node-loss: losing any 1 node can take 1 of the 3 persistent parties, leaving 2 for t=3"},
			wantStderr: []string{"t=3 from --threshold"},
		},
		"--lose-nodes asks about k nodes": {
			args: []string{"analyze", render, "--lose-nodes", "2"}, wantCode: 1,
			wantStdout: []string{"AT-RISK  nodes-loss: losing any 2 nodes can take 2 of the 3 persistent parties, leaving 1 for t=2"},
		},
		"the 13-party KMS: no operator or region holds t, but one cloud holds them all": {
			args: []string{"analyze", "--operators", kms}, wantCode: 1, golden: "kms-13.txt",
			wantStderr: []string{"t=5 from " + kms},
		},
		"--operator flags name operators as the operators file does": {
			args: []string{"analyze", "--operator", "a=testdata/kms-13/party1.yaml,cloud=aws,region=eu-west-1",
				"--operator", "b=testdata/kms-13/party2.yaml,cloud=gcp,region=europe-west1", "--threshold", "2"},
			wantCode:   1,
			wantStdout: []string{"AT-RISK  node-loss: losing any 1 node can take 1 of the 2 persistent parties, leaving 1 for t=2", "AT-RISK  single-cloud: cloud aws holds 1 of the 2 persistent parties (over 2 clouds): losing it leaves 1, fewer than t=2"},
		},
		"unknown verdicts pass unless --strict": {
			args: []string{"analyze", "-"}, stdin: alwaysAllow, wantCode: 0,
			wantStdout: []string{"UNKNOWN  zone-loss", "UNKNOWN  pdb-drain mpc/r-server-party", "t=2: 2 ok, 0 at-risk, 2 unknown"},
		},
		"--strict fails on an unknown verdict": {
			args: []string{"analyze", "-", "--strict"}, stdin: alwaysAllow, wantCode: 1,
			wantStdout: []string{"t=2: 2 ok, 0 at-risk, 2 unknown"},
		},
		"no t anywhere is a usage error": {
			args: []string{"analyze", "testdata/kms-13/party1.yaml"}, wantCode: 2,
			wantStderr: []string{"mpcguard: analyze: no threshold t: give --threshold T, or a render with the mpcguard webhook (its --threshold-t)"},
		},
		"malformed YAML names its file and line": {
			args: []string{"analyze", "-", "--threshold", "2"}, stdin: "apiVersion: v1\nkind: ConfigMap\n---\napiVersion: apps/v1\nkind: [\n", wantCode: 2,
			wantStderr: []string{"<stdin>: document 2 (line 4): malformed YAML or JSON: yaml: line 5"},
		},
		"a nodes file of other kinds is an input error": {
			args: []string{"analyze", render, "--nodes", render}, wantCode: 2,
			wantStderr: []string{render + ": document 1 (line 4): cannot read object: a PodDisruptionBudget, want Nodes"},
		},
		"an unknown flag is a usage error": {
			args: []string{"analyze", render, "--lose-zones", "2"}, wantCode: 2,
			wantStderr: []string{"unknown flag: --lose-zones"},
		},
		"renders and --operators together are a usage error": {
			args: []string{"analyze", render, "--operators", kms}, wantCode: 2,
			wantStderr: []string{"exactly one of these"},
		},
		"an --operator without a file is a usage error": {
			args: []string{"analyze", "--operator", "a", "--threshold", "2"}, wantCode: 2,
			wantStderr: []string{`--operator "a": want NAME=FILE`},
		},
		"an operators file with an unknown key names its line": {
			args: []string{"analyze", "--operators", writeManifest(t, "ops.yaml", "operators:\n- name: a\n  render: r.yaml\n  zone: z\n")}, wantCode: 2,
			wantStderr: []string{"malformed YAML or JSON: yaml: unmarshal errors:\n  line 4: field zone not found"},
		},
		"an unknown output format is a usage error": {
			args: []string{"analyze", render, "-o", "sarif"}, wantCode: 2,
			wantStderr: []string{`--output "sarif": want one of text, json`},
		},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			code, stdout, stderr := runCLI(t, tc.stdin, tc.args...)
			assert.Equal(t, tc.wantCode, code, "stdout:\n%s\nstderr:\n%s", stdout, stderr)
			if tc.golden != "" {
				golden(t, tc.golden, stdout)
			}
			for _, s := range tc.wantStdout {
				assert.Contains(t, stdout, s)
			}
			for _, s := range tc.wantStderr {
				assert.Contains(t, stderr, s)
			}
		})
	}
}

func TestAnalyzeJSONFieldsAreStable(t *testing.T) {
	code, stdout, _ := runCLI(t, "", "analyze", "testdata/analyze/render.yaml", "-o", "json")
	require.Equal(t, 1, code)
	var rep struct {
		T         int `json:"t"`
		Operators []struct {
			Persistent int `json:"persistent"`
			Delegate   int `json:"delegate"`
			Nodes      int `json:"nodes"`
		} `json:"operators"`
		Findings []struct {
			ID      string         `json:"id"`
			Subject string         `json:"subject"`
			Verdict string         `json:"verdict"`
			Message string         `json:"message"`
			Numbers map[string]int `json:"numbers"`
		} `json:"findings"`
	}
	require.NoError(t, json.Unmarshal([]byte(stdout), &rep))
	assert.Equal(t, 2, rep.T)
	require.Len(t, rep.Operators, 1)
	assert.Equal(t, 3, rep.Operators[0].Persistent)
	assert.Equal(t, -1, rep.Operators[0].Nodes, "nodes unknown is -1")
	var ids []string
	for _, f := range rep.Findings {
		ids = append(ids, f.ID+":"+f.Verdict)
	}
	assert.Equal(t, []string{"node-loss:ok", "zone-loss:unknown", "pdb-drain:at-risk", "non-persistent-threshold:ok"}, ids)
	assert.Equal(t, map[string]int{"k": 1, "persistent": 3, "lost": 1, "remaining": 2, "t": 2}, rep.Findings[0].Numbers)
}
