package bundle

import (
	"bytes"
	"crypto/sha256"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"

	admissionregistrationv1 "k8s.io/api/admissionregistration/v1"
	"sigs.k8s.io/yaml"
)

// Suffix is the name suffix the API server reserves for manifest-based admission: a policy or binding named
// with it can only come from a static manifest.
const Suffix = ".static.k8s.io"

// FileName is the file [Write] puts the bundle in. One file, replaced by a rename, so that the API server's
// watch never reads half a bundle.
const FileName = "mpcguard-policies.yaml"

// Sentinel errors of [Render], wrapped with the offending name.
var (
	ErrName          = errors.New("name must end with " + Suffix)
	ErrDuplicate     = errors.New("duplicate name")
	ErrParams        = errors.New("static manifests cannot have paramKind or paramRef")
	ErrUnboundPolicy = errors.New("binding names a policy that is not in the bundle")
	ErrEmpty         = errors.New("no policies")
)

// Render checks the policies and bindings against what the API server's manifest loader accepts and renders
// them as one multi-document YAML file: each policy followed by its bindings, in the order given.
func Render(policies []admissionregistrationv1.ValidatingAdmissionPolicy,
	bindings []admissionregistrationv1.ValidatingAdmissionPolicyBinding) ([]byte, error) {
	if len(policies) == 0 {
		return nil, ErrEmpty
	}
	byPolicy := map[string][]int{}
	seen := map[string]bool{}
	for _, p := range policies {
		if err := checkName("ValidatingAdmissionPolicy", p.Name, seen); err != nil {
			return nil, err
		}
		if p.Spec.ParamKind != nil {
			return nil, fmt.Errorf("ValidatingAdmissionPolicy %q: %w", p.Name, ErrParams)
		}
		byPolicy[p.Name] = nil
	}
	seen = map[string]bool{}
	for i, b := range bindings {
		if err := checkName("ValidatingAdmissionPolicyBinding", b.Name, seen); err != nil {
			return nil, err
		}
		if b.Spec.ParamRef != nil {
			return nil, fmt.Errorf("ValidatingAdmissionPolicyBinding %q: %w", b.Name, ErrParams)
		}
		if _, ok := byPolicy[b.Spec.PolicyName]; !ok {
			return nil, fmt.Errorf("ValidatingAdmissionPolicyBinding %q: policy %q: %w", b.Name, b.Spec.PolicyName, ErrUnboundPolicy)
		}
		byPolicy[b.Spec.PolicyName] = append(byPolicy[b.Spec.PolicyName], i)
	}
	var docs [][]byte
	for _, p := range policies {
		p.APIVersion, p.Kind = admissionregistrationv1.SchemeGroupVersion.String(), "ValidatingAdmissionPolicy"
		doc, err := manifestYAML(&p)
		if err != nil {
			return nil, err
		}
		docs = append(docs, doc)
		for _, i := range byPolicy[p.Name] {
			b := bindings[i]
			b.APIVersion, b.Kind = admissionregistrationv1.SchemeGroupVersion.String(), "ValidatingAdmissionPolicyBinding"
			if doc, err = manifestYAML(&b); err != nil {
				return nil, err
			}
			docs = append(docs, doc)
		}
	}
	// The comment goes inside the first document: a document of comments alone is an object without a kind to
	// the API server's loader, which then refuses to start.
	header := []byte("---\n# mpcguard's policies as a manifest-based admission bundle (KEP-5793), written by `mpcguard bundle`.\n" +
		"# The API server loads them from its staticManifestsDir; they cannot be changed or deleted through the API.\n")
	return append(header, bytes.Join(docs, []byte("---\n"))...), nil
}

func checkName(kind, name string, seen map[string]bool) error {
	if !strings.HasSuffix(name, Suffix) || len(name) == len(Suffix) {
		return fmt.Errorf("%s %q: %w", kind, name, ErrName)
	}
	if seen[name] {
		return fmt.Errorf("%s %q: %w", kind, name, ErrDuplicate)
	}
	seen[name] = true
	return nil
}

// manifestYAML is obj as a YAML document without the fields a manifest has no use for (a null
// creationTimestamp, an empty status).
func manifestYAML(obj any) ([]byte, error) {
	raw, err := json.Marshal(obj)
	if err != nil {
		return nil, fmt.Errorf("encoding %T: %w", obj, err)
	}
	var m map[string]any
	if err := json.Unmarshal(raw, &m); err != nil {
		return nil, fmt.Errorf("encoding %T: %w", obj, err)
	}
	delete(m, "status")
	if meta, ok := m["metadata"].(map[string]any); ok {
		delete(meta, "creationTimestamp")
	}
	doc, err := yaml.Marshal(m)
	if err != nil {
		return nil, fmt.Errorf("encoding %T: %w", obj, err)
	}
	return doc, nil
}

// Write puts content into dir/[FileName] (creating dir), through a temporary file the API server does not
// read (its extension is not .yaml) and a rename, and returns the hash of the whole directory as the API
// server computes it ([DirHash]).
func Write(dir string, content []byte) (string, error) {
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return "", fmt.Errorf("creating %s: %w", dir, err)
	}
	tmp, err := os.CreateTemp(dir, "."+FileName+".*.tmp")
	if err != nil {
		return "", fmt.Errorf("writing the bundle: %w", err)
	}
	defer os.Remove(tmp.Name()) // after a successful rename there is nothing left to remove
	if _, err := tmp.Write(content); err != nil {
		tmp.Close()
		return "", fmt.Errorf("writing %s: %w", tmp.Name(), err)
	}
	if err := tmp.Chmod(0o644); err != nil {
		tmp.Close()
		return "", fmt.Errorf("writing %s: %w", tmp.Name(), err)
	}
	if err := tmp.Close(); err != nil {
		return "", fmt.Errorf("writing %s: %w", tmp.Name(), err)
	}
	if err := os.Rename(tmp.Name(), filepath.Join(dir, FileName)); err != nil {
		return "", fmt.Errorf("writing the bundle: %w", err)
	}
	return DirHash(dir)
}

// DirHash is the hash the API server reports for a manifest directory (label hash of
// apiserver_manifest_admission_config_controller_last_config_info): sha256 over the contents of the
// directory's non-empty *.yaml, *.yml and *.json files in name order, each followed by a zero byte, as
// k8s.io/apiserver/pkg/admission/plugin/manifest.LoadFiles computes it. It is "" for a directory without
// such files.
func DirHash(dir string) (string, error) {
	entries, err := os.ReadDir(dir)
	if err != nil {
		return "", fmt.Errorf("reading %s: %w", dir, err)
	}
	h := sha256.New()
	hasData := false
	for _, e := range entries {
		if e.IsDir() || !slices.Contains([]string{".yaml", ".yml", ".json"}, strings.ToLower(filepath.Ext(e.Name()))) {
			continue
		}
		data, err := os.ReadFile(filepath.Join(dir, e.Name()))
		if err != nil {
			return "", fmt.Errorf("reading %s: %w", e.Name(), err)
		}
		if len(data) == 0 {
			continue
		}
		h.Write(data)
		h.Write([]byte{0})
		hasData = true
	}
	if !hasData {
		return "", nil
	}
	return fmt.Sprintf("sha256:%x", h.Sum(nil)), nil
}

// AdmissionConfiguration is an AdmissionConfiguration (apiserver.config.k8s.io/v1) for the API server's
// --admission-control-config-file that makes the ValidatingAdmissionPolicy plugin load staticManifestsDir,
// an absolute path on the control-plane node. An API server that already has such a file needs this plugin
// entry added to its plugins list instead.
func AdmissionConfiguration(staticManifestsDir string) ([]byte, error) {
	if !filepath.IsAbs(staticManifestsDir) {
		return nil, fmt.Errorf("staticManifestsDir %q: must be an absolute path on the control-plane node", staticManifestsDir)
	}
	cfg := map[string]any{
		"apiVersion": "apiserver.config.k8s.io/v1",
		"kind":       "AdmissionConfiguration",
		"plugins": []any{map[string]any{
			"name": "ValidatingAdmissionPolicy",
			"configuration": map[string]any{
				"apiVersion":         "apiserver.config.k8s.io/v1",
				"kind":               "ValidatingAdmissionPolicyConfiguration",
				"staticManifestsDir": staticManifestsDir,
			},
		}},
	}
	doc, err := yaml.Marshal(cfg)
	if err != nil {
		return nil, fmt.Errorf("encoding the AdmissionConfiguration: %w", err)
	}
	return append([]byte("# kube-apiserver --admission-control-config-file, with --feature-gates=ManifestBasedAdmissionControlConfig=true\n"), doc...), nil
}
