package opa

import (
	_ "embed"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"slices"

	"github.com/mpcguard/mpcguard/policies"
	"github.com/mpcguard/mpcguard/policies/engine"
)

// Wrapper is wrapper.rego: package system, whose main rule answers an AdmissionReview.
//
//go:embed wrapper.rego
var Wrapper string

// Direct is direct.rego: package direct, mpcguard's rules written against input.request as OPA's admission
// tutorial writes them, served without the policy modules or the wrapper (default_decision=/direct/main).
//
//go:embed direct.rego
var Direct string

// DirectFile is the direct policy's file name in the directory [WriteDirect] fills.
const DirectFile = "direct.rego"

// WrapperFile is the wrapper's file name in the directory [Write] fills.
const WrapperFile = "wrapper.rego"

// DataFile is the data file's name in the directory [Write] fills.
const DataFile = "data.json"

// ConfigData is data.mpcguard.config as the Go engine stores it (policies/engine's configData): the Config
// round-tripped through JSON, under {"mpcguard": {"config": ...}}.
func ConfigData(cfg engine.Config) ([]byte, error) {
	b, err := json.Marshal(cfg)
	if err != nil {
		return nil, fmt.Errorf("encoding the policy configuration: %w", err)
	}
	var c map[string]any
	if err := json.Unmarshal(b, &c); err != nil {
		return nil, fmt.Errorf("decoding the policy configuration: %w", err)
	}
	out, err := json.Marshal(map[string]any{"mpcguard": map[string]any{"config": c}})
	if err != nil {
		return nil, fmt.Errorf("encoding data.mpcguard.config: %w", err)
	}
	return out, nil
}

// Write puts into dir the files `opa run --server` loads — the policy modules (the embedded ones, which are
// policies/*.rego without the tests), the wrapper and the data file for cfg — and returns their paths.
func Write(dir string, cfg engine.Config) ([]string, error) {
	mods, err := policies.Modules()
	if err != nil {
		return nil, fmt.Errorf("loading the policy modules: %w", err)
	}
	data, err := ConfigData(cfg)
	if err != nil {
		return nil, err
	}
	files := map[string][]byte{WrapperFile: []byte(Wrapper), DataFile: data}
	for _, m := range mods {
		files[filepath.Base(m.Name)] = []byte(m.Source)
	}
	return writeFiles(dir, files)
}

// WriteDirect puts into dir the files of the direct set-up — direct.rego and the data file for cfg — and
// returns their paths.
func WriteDirect(dir string, cfg engine.Config) ([]string, error) {
	data, err := ConfigData(cfg)
	if err != nil {
		return nil, err
	}
	return writeFiles(dir, map[string][]byte{DirectFile: []byte(Direct), DataFile: data})
}

func writeFiles(dir string, files map[string][]byte) ([]string, error) {
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return nil, fmt.Errorf("creating %s: %w", dir, err)
	}
	paths := make([]string, 0, len(files))
	for name, content := range files {
		p := filepath.Join(dir, name)
		if err := os.WriteFile(p, content, 0o600); err != nil {
			return nil, fmt.Errorf("writing %s: %w", p, err)
		}
		paths = append(paths, p)
	}
	slices.Sort(paths)
	return paths, nil
}
