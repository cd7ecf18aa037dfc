package main

import (
	"encoding/json"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/mpcguard/mpcguard/policies"
)

// runCLI calls run(args) as main does, with stdin given and stdout and stderr captured. It swaps the process's
// standard files while run executes, so tests using it must not run in parallel.
func runCLI(t *testing.T, stdin string, args ...string) (code int, stdout, stderr string) {
	t.Helper()
	dir := t.TempDir()
	inPath, outPath, errPath := filepath.Join(dir, "stdin"), filepath.Join(dir, "stdout"), filepath.Join(dir, "stderr")
	require.NoError(t, os.WriteFile(inPath, []byte(stdin), 0o600))
	in, err := os.Open(inPath)
	require.NoError(t, err)
	defer in.Close()
	out, err := os.Create(outPath)
	require.NoError(t, err)
	defer out.Close()
	errOut, err := os.Create(errPath)
	require.NoError(t, err)
	defer errOut.Close()

	savedIn, savedOut, savedErr := os.Stdin, os.Stdout, os.Stderr
	os.Stdin, os.Stdout, os.Stderr = in, out, errOut
	func() {
		defer func() { os.Stdin, os.Stdout, os.Stderr = savedIn, savedOut, savedErr }()
		code = run(args)
	}()

	o, err := os.ReadFile(outPath)
	require.NoError(t, err)
	e, err := os.ReadFile(errPath)
	require.NoError(t, err)
	return code, string(o), string(e)
}

func writeManifest(t *testing.T, name, content string) string {
	t.Helper()
	path := filepath.Join(t.TempDir(), name)
	require.NoError(t, os.WriteFile(path, []byte(content), 0o644))
	return path
}

const (
	// cleanManifest is a persistent party pod as its StatefulSet creates it, and an object the policies ignore.
	cleanManifest = `apiVersion: v1
kind: Pod
metadata:
  name: p-0
  namespace: mpc-system
  labels: {app.kubernetes.io/component: mpc-party, party-role: persistent}
  ownerReferences: [{apiVersion: apps/v1, kind: StatefulSet, name: mpc-party, uid: 6f1c, controller: true}]
---
apiVersion: v1
kind: ConfigMap
metadata: {name: cfg}
`
	deniedManifest = `apiVersion: v1
kind: Pod
metadata:
  name: p-0
  namespace: mpc-system
  labels: {app.kubernetes.io/component: mpc-party}
`
	// deniedLine is what validate prints of deniedManifest, after "<file>:doc 1: ".
	deniedLine = "party-role-required Pod mpc-system/p-0: party pod (app.kubernetes.io/component=mpc-party) has no party-role label; add party-role with one of persistent, delegate, temporary\n"
	// skippedOrigin is what validate says of cleanManifest's pod: offline, nobody sends it.
	skippedOrigin = "party-persistent-origin Pod mpc-system/p-0: creator identity not checked: no user in the request (admission checks it)\n"
)

func TestValidateExitCodes(t *testing.T) {
	clean := writeManifest(t, "clean.yaml", cleanManifest)
	denied := writeManifest(t, "denied.yaml", deniedManifest)
	malformed := writeManifest(t, "malformed.yaml", "apiVersion: v1\nkind: Pod\nmetadata:\n  name: p\n    labels: : x\n")
	session := writeManifest(t, "session.yaml", `apiVersion: mpc.mpcguard.io/v1alpha1
kind: MPCSession
metadata: {name: sign-42}
spec:
  type: sign
  threshold: {t: 2, "n": 3}
  composition: {persistent: 1, delegate: 2}
`)
	strayPersistent := writeManifest(t, "stray.yaml", `apiVersion: v1
kind: Pod
metadata:
  name: p-9
  namespace: mpc-system
  labels: {app.kubernetes.io/component: mpc-party, party-role: persistent}
  ownerReferences: [{apiVersion: apps/v1, kind: StatefulSet, name: mpc-party-copy, uid: 7a2d, controller: true}]
`)
	customParty := writeManifest(t, "custom.yaml", `apiVersion: v1
kind: Pod
metadata:
  name: signer-0
  namespace: mpc-system
  labels: {app: signer, tier: mpc, party-role: persistent}
`)
	tests := map[string]struct {
		args       []string
		stdin      string
		wantCode   int
		wantStdout string   // exact
		wantStderr []string // each contained
	}{
		"exits 0 on a clean manifest, reporting the creator check it cannot run offline as skipped": {
			args:       []string{"validate", "-f", clean},
			wantCode:   0,
			wantStderr: []string{"skipped: " + clean + ":doc 1: " + skippedOrigin, "2 objects (1 reviewed): 0 denied, 0 warnings, 0 unreadable, 0 documents skipped\n"},
		},
		"exits 1 on a persistent party pod that no StatefulSet owns": {
			args:     []string{"validate", "-f", "-"},
			stdin:    strings.Replace(cleanManifest, "  ownerReferences: [{apiVersion: apps/v1, kind: StatefulSet, name: mpc-party, uid: 6f1c, controller: true}]\n", "", 1),
			wantCode: 1,
			wantStdout: "<stdin>:doc 1: party-persistent-origin Pod mpc-system/p-0: a persistent party pod must be created by a StatefulSet (its controller owner: none); " +
				"run persistent parties only in the persistent pool\n",
			wantStderr: []string{skippedOrigin},
		},
		"admits a persistent party pod of any StatefulSet by default": {
			args:       []string{"validate", "-f", strayPersistent},
			wantCode:   0,
			wantStderr: []string{"skipped: " + strayPersistent + ":doc 1: party-persistent-origin Pod mpc-system/p-9: creator identity not checked"},
		},
		"applies --persistent-workloads": {
			args:     []string{"validate", "-f", strayPersistent, "-f", clean, "--persistent-workloads", "mpc-party"},
			wantCode: 1,
			wantStdout: strayPersistent + ":doc 1: party-persistent-origin Pod mpc-system/p-9: a persistent party pod must be created by StatefulSet mpc-party " +
				"(its controller owner: StatefulSet mpc-party-copy); run persistent parties only in the persistent pool\n",
		},
		"exits 2 on a persistent workload that is not a StatefulSet name": {
			args:       []string{"validate", "-f", clean, "--persistent-workloads", "MPC_Party"},
			wantCode:   2,
			wantStderr: []string{"config.persistentWorkloads[0]: Invalid value"},
		},
		"exits 2 on no --controller-users, which would refuse every persistent party": {
			args:       []string{"validate", "-f", clean, "--controller-users", ""},
			wantCode:   2,
			wantStderr: []string{"config.controllerUsers: Required value"},
		},
		"exits 2 on a negative --threshold-t": {
			args:       []string{"validate", "-f", clean, "--threshold-t", "-1"},
			wantCode:   2,
			wantStderr: []string{"config.threshold: Invalid value: -1"},
		},
		"accepts no --break-glass-groups": {
			args:     []string{"validate", "-f", clean, "--break-glass-groups", ""},
			wantCode: 0,
		},
		"exits 1 on a denied manifest, printing the violation on stdout": {
			args:       []string{"validate", "-f", denied},
			wantCode:   1,
			wantStdout: denied + ":doc 1: " + deniedLine,
			wantStderr: []string{"1 objects (1 reviewed): 1 denied, 0 warnings, 0 unreadable, 0 documents skipped\n"},
		},
		"exits 1 when one of several files is denied": {
			args:       []string{"validate", "-f", clean, "--filename", denied},
			wantCode:   1,
			wantStdout: denied + ":doc 1: " + deniedLine,
		},
		"reads stdin for -f -": {
			args:       []string{"validate", "-f", "-"},
			stdin:      deniedManifest,
			wantCode:   1,
			wantStdout: "<stdin>:doc 1: " + deniedLine,
		},
		"names objects without namespace by -n": {
			args:       []string{"validate", "-f", session, "-n", "team-a"},
			wantCode:   1,
			wantStdout: session + ":doc 1: session-delegate-only-threshold MPCSession team-a/sign-42: 2 delegate + 0 temporary parties could reach the signing threshold t=2 without a persistent party; use at most 1 non-persistent party or raise t\n",
			wantStderr: []string{"skipped: " + session + ":doc 1: session-persistent-available MPCSession team-a/sign-42: not checked: no cluster inventory (needs 1 Ready persistent party)\n"},
		},
		"defaults the namespace of objects that name none to default": {
			args:       []string{"validate", "-f", session},
			wantCode:   1,
			wantStdout: session + ":doc 1: session-delegate-only-threshold MPCSession default/sign-42: 2 delegate + 0 temporary parties could reach the signing threshold t=2 without a persistent party; use at most 1 non-persistent party or raise t\n",
		},
		"exits 0 when the violated policy only warns, printing the warning on stderr": {
			args:       []string{"validate", "-f", denied, "--enforcement", "party-role-required=warn"},
			wantCode:   0,
			wantStderr: []string{"warning: " + denied + ":doc 1: " + deniedLine, "1 objects (1 reviewed): 0 denied, 1 warnings, 0 unreadable, 0 documents skipped\n"},
		},
		"exits 0 when the violated policy is off": {
			args:     []string{"validate", "-f", denied, "--enforcement", "party-role-required=off"},
			wantCode: 0,
		},
		"applies --party-selector and --role-label-key": {
			args:     []string{"validate", "-f", customParty, "--party-selector", "app=signer,tier=mpc", "--role-label-key", "signer.example.com/role"},
			wantCode: 1,
			wantStdout: customParty + ":doc 1: party-role-required Pod mpc-system/signer-0: party pod (app=signer,tier=mpc) has no signer.example.com/role label; " +
				"add signer.example.com/role with one of persistent, delegate, temporary\n",
		},
		"applies --share-secret-names": {
			args: []string{"validate", "-f", "-", "--share-secret-names", "mpc-db"},
			stdin: `apiVersion: v1
kind: Pod
metadata: {name: d-0, namespace: mpc-system, labels: {app.kubernetes.io/component: mpc-party, party-role: delegate}}
spec:
  volumes: [{name: db, secret: {secretName: mpc-db}}]
`,
			wantCode:   1,
			wantStdout: "<stdin>:doc 1: delegate-no-share-storage Pod mpc-system/d-0: delegate party uses the persistent pool's share storage (Secret mpc-db); remove those volumes and env references: only persistent parties may hold key shares\n",
		},
		"exits 2 on malformed YAML, naming the file, document and line": {
			args:       []string{"validate", "-f", malformed},
			wantCode:   2,
			wantStderr: []string{"error: " + malformed + ": document 1 (line 1): malformed YAML or JSON: yaml: line 5:", "0 objects (0 reviewed): 0 denied, 0 warnings, 1 unreadable, 0 documents skipped\n"},
		},
		"exits 2 when input is unreadable even though another object is denied": {
			args:       []string{"validate", "-f", denied, "-f", malformed},
			wantCode:   2,
			wantStdout: denied + ":doc 1: " + deniedLine,
			wantStderr: []string{"1 denied, 0 warnings, 1 unreadable"},
		},
		"exits 2 on a missing file": {
			args:       []string{"validate", "-f", filepath.Join(t.TempDir(), "nope.yaml")},
			wantCode:   2,
			wantStderr: []string{"nope.yaml: cannot read input:"},
		},
		"exits 2 without -f": {
			args:       []string{"validate"},
			wantCode:   2,
			wantStderr: []string{"mpcguard: validate: -f FILE|DIR|- is required\n"},
		},
		"exits 2 on a bad --party-selector": {
			args:       []string{"validate", "-f", clean, "--party-selector", "app!=signer"},
			wantCode:   2,
			wantStderr: []string{"mpcguard: validate: --party-selector: ", `"app!=signer" is not key=value`},
		},
		"exits 2 on an empty --party-selector": {
			args:       []string{"validate", "-f", clean, "--party-selector", ""},
			wantCode:   2,
			wantStderr: []string{"--party-selector: ", "no labels given"},
		},
		"exits 2 on a party selector value that is not a label value": {
			args:       []string{"validate", "-f", clean, "--party-selector", "app=mpc party"},
			wantCode:   2,
			wantStderr: []string{"config.partySelector[app]: Invalid value"},
		},
		"exits 2 on a bad --role-label-key": {
			args:       []string{"validate", "-f", clean, "--role-label-key", "party role"},
			wantCode:   2,
			wantStderr: []string{"config.roleLabelKey: Invalid value"},
		},
		"exits 2 on a bad --enforcement": {
			args:       []string{"validate", "-f", clean, "--enforcement", "party-role-required=audit"},
			wantCode:   2,
			wantStderr: []string{"--enforcement: ", `action "audit"`},
		},
		"exits 2 on an --enforcement id that is not spelt as a policy id": {
			args:       []string{"validate", "-f", clean, "--enforcement", "Party_Role=warn"},
			wantCode:   2,
			wantStderr: []string{"--enforcement: ", `"Party_Role" is not a policy id`},
		},
		"exits 2 on an --enforcement id that no policy defines": {
			args:       []string{"validate", "-f", clean, "--enforcement", "party-role-requried=warn"},
			wantCode:   2,
			wantStderr: []string{"party-role-requried, which no policy module defines"},
		},
		"exits 2 on a bad --output": {
			args:       []string{"validate", "-f", clean, "-o", "yaml"},
			wantCode:   2,
			wantStderr: []string{`validate: --output "yaml": want one of text, json, junit, sarif`},
		},
		"exits 2 on an unknown flag": {
			args:       []string{"validate", "-f", clean, "--nope"},
			wantCode:   2,
			wantStderr: []string{"unknown flag: --nope"},
		},
		"exits 2 on a positional argument": {
			args:     []string{"validate", clean},
			wantCode: 2,
		},
		"exits 2 on an unknown command": {
			args:       []string{"valdate"},
			wantCode:   2,
			wantStderr: []string{`unknown command "valdate"`},
		},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			code, stdout, stderr := runCLI(t, tc.stdin, tc.args...)
			assert.Equal(t, tc.wantCode, code, "stdout:\n%s\nstderr:\n%s", stdout, stderr)
			assert.Equal(t, tc.wantStdout, stdout)
			for _, s := range tc.wantStderr {
				assert.Contains(t, stderr, s)
			}
		})
	}
}

func TestValidateJSONOutput(t *testing.T) {
	dir := t.TempDir()
	require.NoError(t, os.WriteFile(filepath.Join(dir, "a.yaml"), []byte(deniedManifest+"---\n"+cleanManifest), 0o644))
	require.NoError(t, os.WriteFile(filepath.Join(dir, "b.json"), []byte(`{"apiVersion": "apps/v1", "kind": "Deployment",
		"metadata": {"name": "d", "namespace": "mpc-system"},
		"spec": {"template": {"metadata": {"labels": {"app.kubernetes.io/component": "mpc-party", "party-role": "Delegate"}}}}}`), 0o644))

	type result struct {
		Policy  string `json:"policy"`
		Message string `json:"message"`
	}
	type report struct {
		Denied  int `json:"denied"`
		Objects []struct {
			Source    string   `json:"source"`
			Document  int      `json:"document"`
			Line      int      `json:"line"`
			Kind      string   `json:"kind"`
			Namespace string   `json:"namespace"`
			Name      string   `json:"name"`
			Reviewed  bool     `json:"reviewed"`
			Deny      []result `json:"deny"`
		} `json:"objects"`
		Errors   []json.RawMessage `json:"errors"`
		Warnings []json.RawMessage `json:"warnings"`
	}

	t.Run("reports denials as JSON and exits 1", func(t *testing.T) {
		code, stdout, _ := runCLI(t, "", "validate", "-f", dir, "--output", "json")
		assert.Equal(t, 1, code)
		var rep report
		require.NoError(t, json.Unmarshal([]byte(stdout), &rep), stdout)
		assert.Equal(t, 2, rep.Denied)
		require.Len(t, rep.Objects, 4)
		assert.Equal(t, filepath.Join(dir, "a.yaml"), rep.Objects[0].Source)
		assert.Equal(t, []result{{Policy: "party-role-required", Message: "[party-role-required] Pod mpc-system/p-0: party pod (app.kubernetes.io/component=mpc-party) has no party-role label; add party-role with one of persistent, delegate, temporary"}}, rep.Objects[0].Deny)
		assert.Equal(t, 2, rep.Objects[1].Document)
		assert.Equal(t, 8, rep.Objects[1].Line)
		assert.Equal(t, "Deployment", rep.Objects[3].Kind)
		require.Len(t, rep.Objects[3].Deny, 1)
		assert.Equal(t, "workload-party-role", rep.Objects[3].Deny[0].Policy)
		assert.NotNil(t, rep.Errors, "errors is [] rather than null")
		assert.Empty(t, rep.Errors)
		assert.NotNil(t, rep.Warnings, "warnings is [] rather than null")
	})

	t.Run("reports a clean manifest as JSON and exits 0", func(t *testing.T) {
		code, stdout, _ := runCLI(t, cleanManifest, "validate", "-f", "-", "-o", "json")
		assert.Equal(t, 0, code)
		var rep report
		require.NoError(t, json.Unmarshal([]byte(stdout), &rep), stdout)
		assert.Equal(t, 0, rep.Denied)
		assert.Len(t, rep.Objects, 2)
		assert.Equal(t, "<stdin>", rep.Objects[0].Source)
	})

	t.Run("reports unreadable documents and warnings as JSON and exits 2", func(t *testing.T) {
		code, stdout, _ := runCLI(t, "kind: Pod\n---\napiVersion: v1\nkind: ConfigMap\nmetadata: {name: c}\ndata:\n  no: x\n",
			"validate", "-f", "-", "-o", "json")
		assert.Equal(t, 2, code)
		var rep struct {
			Denied int `json:"denied"`
			Errors []struct {
				Source   string `json:"source"`
				Document int    `json:"document"`
				Line     int    `json:"line"`
				Error    string `json:"error"`
			} `json:"errors"`
			Warnings []struct {
				Line  int    `json:"line"`
				Error string `json:"error"`
			} `json:"warnings"`
		}
		require.NoError(t, json.Unmarshal([]byte(stdout), &rep), stdout)
		require.Len(t, rep.Errors, 1)
		assert.Equal(t, "<stdin>", rep.Errors[0].Source)
		assert.Equal(t, 1, rep.Errors[0].Document)
		assert.Equal(t, 1, rep.Errors[0].Line)
		assert.Equal(t, "<stdin>: document 1 (line 1): not a Kubernetes object: apiVersion and kind are required", rep.Errors[0].Error)
		require.Len(t, rep.Warnings, 1)
		assert.Equal(t, 7, rep.Warnings[0].Line)
		assert.Contains(t, rep.Warnings[0].Error, "key no is a boolean in YAML 1.1")
	})
}

func TestVersion(t *testing.T) {
	mods, err := policies.Modules()
	require.NoError(t, err)
	want := digestModules(mods)
	require.Regexp(t, `^sha256:[0-9a-f]{64}$`, want)

	saved, savedCommit := version, commit
	t.Cleanup(func() { version, commit = saved, savedCommit })
	version, commit = "v1.2.3", "0123456789abcdef0123456789abcdef01234567"
	wantText := "mpcguard v1.2.3\n" +
		"commit:   0123456789abcdef0123456789abcdef01234567\n" +
		"go:       " + runtime.Version() + " " + runtime.GOOS + "/" + runtime.GOARCH + "\n" +
		"policies: " + want + "\n"
	for _, args := range [][]string{{"version"}, {"--version"}} {
		code, stdout, stderr := runCLI(t, "", args...)
		assert.Equal(t, 0, code, args)
		assert.Equal(t, wantText, stdout, args)
		assert.Empty(t, stderr, args)
	}

	code, _, _ := runCLI(t, "", "version", "extra")
	assert.Equal(t, 2, code)
}

func TestPolicyDigest(t *testing.T) {
	a := []policies.Module{{Name: "policies/a.rego", Source: "package a"}, {Name: "policies/b.rego", Source: "package b"}}
	d := digestModules(a)
	// Any change of a name, a source or the order changes the digest; moving text across the boundary too.
	assert.NotEqual(t, d, digestModules([]policies.Module{a[1], a[0]}))
	assert.NotEqual(t, d, digestModules([]policies.Module{{Name: "policies/a.rego", Source: "package a "}, a[1]}))
	assert.NotEqual(t, d, digestModules([]policies.Module{{Name: "policies/a.regop", Source: "ackage a"}, a[1]}))
	assert.NotEqual(t, d, digestModules([]policies.Module{{Name: "policies/c.rego", Source: "package a"}, a[1]}))
	assert.Equal(t, d, digestModules(append([]policies.Module(nil), a...)))
}

func TestBuildCommitFallback(t *testing.T) {
	saved := commit
	t.Cleanup(func() { commit = saved })
	commit = ""
	// Tests are built without -X main.commit and with -buildvcs=false here: no VCS stamp either.
	assert.NotEmpty(t, buildCommit())
}

func TestExitErrorWithoutCause(t *testing.T) {
	// validate returns an exitError without cause once it has printed its report: run must not print it.
	ee := &exitError{code: 1}
	assert.Nil(t, ee.Unwrap())
	code, stdout, stderr := runCLI(t, deniedManifest, "validate", "-f", "-")
	assert.Equal(t, 1, code)
	assert.Equal(t, "<stdin>:doc 1: "+deniedLine, stdout)
	assert.NotContains(t, stderr, "mpcguard:", "a denial is reported once, by the report")
	assert.True(t, strings.HasSuffix(stderr, "1 objects (1 reviewed): 1 denied, 0 warnings, 0 unreadable, 0 documents skipped\n"), stderr)
}
