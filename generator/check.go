package generator

import (
	"context"
	"errors"
	"fmt"
	"regexp"
	"strings"

	"helm.sh/helm/v3/pkg/action"
	"helm.sh/helm/v3/pkg/chart"
	"helm.sh/helm/v3/pkg/chart/loader"
	"helm.sh/helm/v3/pkg/chartutil"
	"k8s.io/apimachinery/pkg/util/validation/field"
)

// Warning is a problem of the values that does not stop generation: a line "WARNING: <value>: <message>" of
// a chart's NOTES, where `helm install` shows it too.
type Warning struct {
	Field   string
	Message string
}

func (w Warning) String() string { return w.Field + ": " + w.Message }

// checkKubeVersion is the Kubernetes version the generated charts are checked against: the oldest they support.
var checkKubeVersion = chartutil.KubeVersion{Version: "v1.30.0", Major: "1", Minor: "30"}

// check renders the generated charts with their own default values as `helm install` does, so that the values
// meet the same rules at generation as at install: values.schema.json, then the charts' validation templates.
// Every failure becomes an error naming its value; the NOTES' warnings are returned.
func check(files []File) ([]Warning, error) {
	var warns []Warning
	var errs field.ErrorList
	for _, c := range []struct{ name, prefix string }{{SystemChartName, ""}, {MpcguardChartName, "mpcguard"}} {
		ch, err := loadGenerated(files, c.name)
		if err != nil {
			return nil, err
		}
		notes, err := renderClientOnly(ch)
		if err != nil {
			errs = append(errs, renderErrors(err, c.prefix)...)
			break // the standalone chart's values are the system chart's: its errors would repeat these
		}
		if c.prefix == "" {
			warns = append(warns, notesWarnings(notes)...)
		}
	}
	if len(errs) > 0 {
		return warns, fmt.Errorf("%w: %w", ErrInvalidSpec, errs.ToAggregate())
	}
	return warns, nil
}

// loadGenerated loads the chart dir/ of the generated files with the Helm SDK, without touching the disk.
func loadGenerated(files []File, dir string) (*chart.Chart, error) {
	var buffered []*loader.BufferedFile
	for _, f := range files {
		if rest, ok := strings.CutPrefix(f.Path, dir+"/"); ok {
			buffered = append(buffered, &loader.BufferedFile{Name: rest, Data: f.Content})
		}
	}
	ch, err := loader.LoadFiles(buffered)
	if err != nil {
		return nil, fmt.Errorf("loading the generated chart %s: %w", dir, err)
	}
	return ch, nil
}

// renderClientOnly renders the chart with its default values like `helm install --dry-run=client` and returns
// its NOTES.
func renderClientOnly(ch *chart.Chart) (string, error) {
	install := action.NewInstall(&action.Configuration{})
	install.DryRun, install.ClientOnly, install.Replace = true, true, true
	kv := checkKubeVersion
	install.KubeVersion = &kv
	install.ReleaseName, install.Namespace = "mpc-system", "mpc-system"
	rel, err := install.RunWithContext(context.Background(), ch, map[string]any{})
	if err != nil {
		return "", err
	}
	return rel.Info.Notes, nil
}

var (
	// A check's message: "<chart>: <value path>: <detail>" (the templates' convention).
	checkRE = regexp.MustCompile(`^(mpc-system|mpcguard): ([A-Za-z0-9_.<>\[\]/-]+): (.+)$`)
	// A schema error of Helm's: "- at '<JSON pointer>': <detail>" under a line "<chart>:".
	schemaRE = regexp.MustCompile(`^- at '([^']*)': (.+)$`)
	// Where a template failed: "execution error at (<chart>/[charts/<sub>/]templates/...)".
	execRE = regexp.MustCompile(`execution error at \(([^)]*)\): `)
)

// renderErrors turns a failed render into errors with the paths of the values at fault, relative to the
// system chart's values (prefix is the path of the rendered chart's values there).
func renderErrors(err error, prefix string) field.ErrorList {
	msg := err.Error()
	var errs field.ErrorList
	join := func(parts ...string) *field.Path {
		var p *field.Path
		for _, part := range parts {
			for _, el := range strings.Split(part, ".") {
				if el == "" || el == "(root)" {
					continue
				}
				if p == nil {
					p = field.NewPath(el)
				} else {
					p = p.Child(el)
				}
			}
		}
		if p == nil {
			p = field.NewPath("(root)")
		}
		return p
	}
	if strings.Contains(msg, "values don't meet the specifications of the schema") {
		sub := prefix
		seen := map[string]bool{}
		for _, line := range strings.Split(msg, "\n") {
			line = strings.TrimSpace(line)
			if strings.HasSuffix(line, ":") && !strings.HasPrefix(line, "-") {
				sub = prefix
				if strings.TrimSuffix(line, ":") == MpcguardChartName && prefix == "" {
					sub = "mpcguard"
				}
				continue
			}
			m := schemaRE.FindStringSubmatch(line)
			if m == nil {
				continue
			}
			p := join(sub, strings.ReplaceAll(strings.Trim(m[1], "/"), "/", "."))
			if key := p.String() + m[2]; !seen[key] {
				seen[key] = true
				errs = append(errs, field.Invalid(p, field.OmitValueType{}, m[2]))
			}
		}
		if len(errs) > 0 {
			return errs
		}
	}
	if loc := execRE.FindStringSubmatchIndex(msg); loc != nil {
		where := msg[loc[2]:loc[3]]
		sub := prefix
		if strings.Contains(where, "/charts/"+MpcguardChartName+"/") {
			sub = "mpcguard"
		}
		for _, line := range strings.Split(msg[loc[1]:], "\n") {
			line = strings.TrimSpace(line)
			if line == "" {
				continue
			}
			if m := checkRE.FindStringSubmatch(line); m != nil {
				errs = append(errs, field.Invalid(join(sub, m[2]), field.OmitValueType{}, m[3]))
				continue
			}
			errs = append(errs, field.InternalError(join(sub), errors.New(line)))
		}
		return errs
	}
	return field.ErrorList{field.InternalError(join(prefix), err)}
}

// notesWarnings are the lines "WARNING: <value>: <message>" of NOTES.
func notesWarnings(notes string) []Warning {
	var warns []Warning
	for _, line := range strings.Split(notes, "\n") {
		rest, ok := strings.CutPrefix(strings.TrimSpace(line), "WARNING: ")
		if !ok {
			continue
		}
		f, m, _ := strings.Cut(rest, ": ")
		warns = append(warns, Warning{Field: f, Message: m})
	}
	return warns
}
