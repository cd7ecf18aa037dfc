package generator

import (
	"bytes"
	"embed"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"path"
	"sort"
	"strings"

	"k8s.io/apimachinery/pkg/util/validation/field"
	kjson "sigs.k8s.io/json"

	"github.com/mpcguard/mpcguard/internal/validate"
)

// The presets are values files of the mpc-system chart: default.yaml is complete (the checked-in chart's
// values), every other one applies over it as `helm install -f` would, and so does a spec file.
//
//go:embed presets/*.yaml
var presetsFS embed.FS

// PresetNames lists the presets, sorted.
func PresetNames() []string {
	entries, _ := fs.ReadDir(presetsFS, "presets")
	names := make([]string, 0, len(entries))
	for _, e := range entries {
		names = append(names, strings.TrimSuffix(e.Name(), ".yaml"))
	}
	sort.Strings(names)
	return names
}

// PresetFile returns the values file of the named preset.
func PresetFile(name string) ([]byte, error) {
	data, err := presetsFS.ReadFile(path.Join("presets", name+".yaml"))
	if err != nil {
		return nil, fmt.Errorf("%w %q (have %v)", ErrUnknownPreset, name, PresetNames())
	}
	return data, nil
}

// Preset returns the values of the named preset.
func Preset(name string) (*SystemValues, error) {
	data, err := PresetFile(name)
	if err != nil {
		return nil, err
	}
	v, _, err := Load(data)
	if err != nil {
		return nil, fmt.Errorf("preset %s: %w", name, err)
	}
	return v, nil
}

// Default returns the values of the default preset.
func Default() *SystemValues {
	v, err := Preset("default")
	if err != nil {
		panic(err) // the embedded preset is tested
	}
	return v
}

// Load reads a values file of the mpc-system chart applied over the default preset: maps merge, anything else
// replaces, null removes a key (so `pools: {server-party: null}` drops a default pool). The file is read as
// `mpcguard validate` reads manifests, YAML 1.2 (`n: 3` is the key "n"); each unquoted key that Helm's YAML
// 1.1 would read as a boolean is a warning. An unknown or duplicated key is an error naming its path. Load
// does not check the values: Generate does, with the charts' schema and checks.
func Load(data []byte) (*SystemValues, []Warning, error) {
	overlay, remarks, err := readValues(data)
	if err != nil {
		return nil, nil, err
	}
	var warns []Warning
	for _, r := range remarks {
		warns = append(warns, Warning{Field: "spec", Message: r})
	}
	base := map[string]any{}
	if def, _ := presetsFS.ReadFile("presets/default.yaml"); !bytes.Equal(def, data) {
		if base, _, err = readValues(def); err != nil {
			return nil, nil, fmt.Errorf("the default preset: %w", err)
		}
	}
	js, err := json.Marshal(overlayValues(base, overlay))
	if err != nil {
		return nil, nil, fmt.Errorf("%w: %w", ErrInvalidSpec, err)
	}
	var v SystemValues
	strict, err := kjson.UnmarshalStrict(js, &v, kjson.DisallowDuplicateFields, kjson.DisallowUnknownFields)
	if err != nil {
		return nil, warns, fmt.Errorf("%w: %w", ErrInvalidSpec, err)
	}
	var errs field.ErrorList
	for _, e := range strict {
		var fe kjson.FieldError
		if !errors.As(e, &fe) {
			errs = append(errs, field.InternalError(nil, e))
			continue
		}
		errs = append(errs, &field.Error{Type: field.ErrorTypeForbidden, Field: fe.FieldPath(), Detail: "unknown field"})
	}
	if len(errs) > 0 {
		return nil, warns, fmt.Errorf("%w: %w", ErrInvalidSpec, errs.ToAggregate())
	}
	return &v, warns, nil
}

// readValues reads one YAML document that must be a mapping (or empty).
func readValues(data []byte) (map[string]any, []string, error) {
	js, remarks, err := validate.YAMLToJSON(data)
	if err != nil {
		return nil, nil, fmt.Errorf("%w: %w", ErrInvalidSpec, err)
	}
	var m map[string]any
	if err := json.Unmarshal(js, &m); err != nil {
		return nil, nil, fmt.Errorf("%w: a values file is a mapping of keys to values: %w", ErrInvalidSpec, err)
	}
	if m == nil {
		m = map[string]any{}
	}
	return m, remarks, nil
}

// overlayValues applies over to base: maps merge, null removes, anything else replaces.
func overlayValues(base, over map[string]any) map[string]any {
	for k, ov := range over {
		if ov == nil {
			delete(base, k)
			continue
		}
		bm, bok := base[k].(map[string]any)
		om, ook := ov.(map[string]any)
		if bok && ook {
			base[k] = overlayValues(bm, om)
			continue
		}
		base[k] = ov
	}
	return base
}
