package validate

import (
	"encoding/json"
	"encoding/xml"
	"fmt"
	"io"
	"net/url"
	"path/filepath"
	"strings"

	"github.com/mpcguard/mpcguard/policies/engine"
	"github.com/mpcguard/mpcguard/policies/vocab"
)

// Formats are the output formats of a report.
var Formats = []string{"text", "json", "junit", "sarif"}

// Write writes rep in format (one of Formats); text writes denials to out and everything else to errOut,
// the other formats write the whole report to out. toolVersion is mpcguard's version, for SARIF.
func Write(format string, out, errOut io.Writer, rep Report, toolVersion string) error {
	switch format {
	case "text":
		return WriteText(out, errOut, rep)
	case "json":
		return WriteJSON(out, rep)
	case "junit":
		return WriteJUnit(out, rep)
	case "sarif":
		return WriteSARIF(out, rep, toolVersion)
	}
	return fmt.Errorf("output format %q: want one of %s", format, strings.Join(Formats, ", "))
}

// Where names an object for a text line: "path:doc 2" or "path:doc 2 items[0]"; "" for an object read from
// a cluster (mpcguard audit), which has no file.
func (o Object) Where() string {
	if o.Source == "" && o.Document == 0 {
		return ""
	}
	w := fmt.Sprintf("%s:doc %d", o.Source, o.Document)
	if o.Item != "" {
		w += " " + o.Item
	}
	return w
}

// TextLine is "<file>:doc <N>: <policy-id> <Kind> <namespace>/<name>: <detail>": the engine keeps the object
// and the policy's words apart, so nothing is stripped from a message here.
// An object read from a cluster has no file: its line starts with the policy id.
func TextLine(o Object, r engine.Result) string {
	line := r.Policy + " " + r.Object + ": " + r.Detail
	if w := o.Where(); w != "" {
		return w + ": " + line
	}
	return line
}

// WriteText writes one line per denial to out and the warnings, checks not run, skipped documents,
// unreadable input and a summary to errOut.
func WriteText(out, errOut io.Writer, rep Report) error {
	for _, o := range rep.Objects {
		for _, r := range o.Deny {
			if _, err := fmt.Fprintln(out, TextLine(o, r)); err != nil {
				return err
			}
		}
		for _, r := range o.Warn {
			fmt.Fprintln(errOut, "warning:", TextLine(o, r))
		}
		for _, r := range o.Skipped {
			fmt.Fprintln(errOut, "skipped:", TextLine(o, r))
		}
	}
	for _, s := range rep.Skipped {
		fmt.Fprintln(errOut, "skipped:", s.String())
	}
	for _, e := range rep.Warnings {
		fmt.Fprintln(errOut, "warning:", e.Error())
	}
	for _, e := range rep.Errors {
		fmt.Fprintln(errOut, "error:", e.Error())
	}
	reviewed, warned := 0, 0
	for _, o := range rep.Objects {
		if o.Reviewed {
			reviewed++
		}
		warned += len(o.Warn)
	}
	_, err := fmt.Fprintf(errOut, "%d objects (%d reviewed): %d denied, %d warnings, %d unreadable, %d documents skipped\n",
		len(rep.Objects), reviewed, rep.Denied(), warned, len(rep.Errors), len(rep.Skipped))
	return err
}

// WriteJSON writes the report as one indented JSON object, with [] rather than null for empty lists and the
// number of denials.
func WriteJSON(out io.Writer, rep Report) error {
	if rep.Objects == nil {
		rep.Objects = []Object{}
	}
	if rep.Errors == nil {
		rep.Errors = []*InputError{}
	}
	if rep.Warnings == nil {
		rep.Warnings = []*InputError{}
	}
	if rep.Skipped == nil {
		rep.Skipped = []Skip{}
	}
	enc := json.NewEncoder(out)
	enc.SetIndent("", "  ")
	return enc.Encode(struct {
		Report
		Denied int `json:"denied"`
	}{rep, rep.Denied()})
}

// JUnit XML, as Jenkins, GitLab and GitHub test reporters read it.
type junitSuites struct {
	XMLName  xml.Name      `xml:"testsuites"`
	Name     string        `xml:"name,attr"`
	Tests    int           `xml:"tests,attr"`
	Failures int           `xml:"failures,attr"`
	Errors   int           `xml:"errors,attr"`
	Skipped  int           `xml:"skipped,attr"`
	Suites   []*junitSuite `xml:"testsuite"`
}

type junitSuite struct {
	Name     string       `xml:"name,attr"`
	Tests    int          `xml:"tests,attr"`
	Failures int          `xml:"failures,attr"`
	Errors   int          `xml:"errors,attr"`
	Skipped  int          `xml:"skipped,attr"`
	Cases    []*junitCase `xml:"testcase"`
}

type junitCase struct {
	Name      string         `xml:"name,attr"`
	ClassName string         `xml:"classname,attr"`
	Failures  []junitMessage `xml:"failure"`
	Error     *junitMessage  `xml:"error"`
	Skipped   *junitMessage  `xml:"skipped"`
	SystemOut string         `xml:"system-out,omitempty"`
}

type junitMessage struct {
	Message string `xml:"message,attr"`
	Type    string `xml:"type,attr,omitempty"`
	Text    string `xml:",chardata"`
}

// WriteJUnit writes JUnit XML: one testsuite per file, one testcase per object (failures: one per denial;
// warnings and checks not run in system-out), per unreadable document or file (an error) and per skipped
// document (skipped).
func WriteJUnit(out io.Writer, rep Report) error {
	doc := junitSuites{Name: "mpcguard validate"}
	suites := map[string]*junitSuite{}
	suite := func(source string) *junitSuite {
		s, ok := suites[source]
		if !ok {
			s = &junitSuite{Name: source}
			suites[source] = s
			doc.Suites = append(doc.Suites, s)
		}
		return s
	}
	for _, o := range rep.Objects {
		source := o.Source
		if source == "" {
			source = o.Namespace // an object of a cluster: one suite per namespace
		}
		s := suite(source)
		c := &junitCase{ClassName: source, Name: fmt.Sprintf("%s %s/%s", o.Kind, o.Namespace, o.Name)}
		if w := o.Where(); w != "" {
			c.Name = w[len(o.Source)+1:] + ": " + c.Name
		}
		var notes []string
		for _, r := range o.Deny {
			c.Failures = append(c.Failures, junitMessage{Message: r.Policy + ": " + r.Detail, Type: r.Policy, Text: TextLine(o, r)})
		}
		for _, r := range o.Warn {
			notes = append(notes, "warning: "+TextLine(o, r))
		}
		for _, r := range o.Skipped {
			notes = append(notes, "not checked: "+TextLine(o, r))
		}
		c.SystemOut = strings.Join(notes, "\n")
		s.Cases = append(s.Cases, c)
		s.Tests++
		if len(c.Failures) > 0 {
			s.Failures++
		}
	}
	for _, e := range rep.Errors {
		s := suite(e.Source)
		name := "read"
		if e.Document != 0 {
			name = fmt.Sprintf("doc %d (line %d)", e.Document, e.Line)
			if e.Item != "" {
				name += " " + e.Item
			}
		}
		s.Cases = append(s.Cases, &junitCase{ClassName: e.Source, Name: name, Error: &junitMessage{Message: e.Error(), Type: "input"}})
		s.Tests++
		s.Errors++
	}
	for _, sk := range rep.Skipped {
		s := suite(sk.Source)
		name := "file"
		if sk.Document != 0 {
			name = fmt.Sprintf("doc %d (line %d)", sk.Document, sk.Line)
		}
		s.Cases = append(s.Cases, &junitCase{ClassName: sk.Source, Name: name, Skipped: &junitMessage{Message: sk.Reason}})
		s.Tests++
		s.Skipped++
	}
	for _, s := range doc.Suites {
		doc.Tests += s.Tests
		doc.Failures += s.Failures
		doc.Errors += s.Errors
		doc.Skipped += s.Skipped
	}
	if _, err := io.WriteString(out, xml.Header); err != nil {
		return err
	}
	enc := xml.NewEncoder(out)
	enc.Indent("", "  ")
	if err := enc.Encode(doc); err != nil {
		return err
	}
	_, err := io.WriteString(out, "\n")
	return err
}

// SARIF 2.1.0 (https://docs.oasis-open.org/sarif/sarif/v2.1.0/), the subset GitHub code scanning reads.
type (
	sarifLog struct {
		Schema  string     `json:"$schema"`
		Version string     `json:"version"`
		Runs    []sarifRun `json:"runs"`
	}
	sarifRun struct {
		Tool        sarifTool         `json:"tool"`
		Results     []sarifResult     `json:"results"`
		Invocations []sarifInvocation `json:"invocations"`
	}
	sarifTool struct {
		Driver sarifDriver `json:"driver"`
	}
	sarifDriver struct {
		Name           string      `json:"name"`
		Version        string      `json:"version,omitempty"`
		InformationURI string      `json:"informationUri"`
		Rules          []sarifRule `json:"rules"`
	}
	sarifRule struct {
		ID               string        `json:"id"`
		ShortDescription sarifText     `json:"shortDescription"`
		FullDescription  sarifText     `json:"fullDescription"`
		Default          sarifRuleConf `json:"defaultConfiguration"`
	}
	sarifRuleConf struct {
		Level string `json:"level"`
	}
	sarifText struct {
		Text string `json:"text"`
	}
	sarifResult struct {
		RuleID    string          `json:"ruleId"`
		RuleIndex int             `json:"ruleIndex"`
		Level     string          `json:"level"`
		Message   sarifText       `json:"message"`
		Locations []sarifLocation `json:"locations"`
	}
	sarifLocation struct {
		Physical *sarifPhysical `json:"physicalLocation,omitempty"`
		Logical  []sarifLogical `json:"logicalLocations,omitempty"`
	}
	sarifPhysical struct {
		Artifact sarifArtifact `json:"artifactLocation"`
		Region   *sarifRegion  `json:"region,omitempty"`
	}
	sarifArtifact struct {
		URI string `json:"uri"`
	}
	sarifRegion struct {
		StartLine int `json:"startLine"`
	}
	sarifLogical struct {
		Name               string `json:"name,omitempty"`
		FullyQualifiedName string `json:"fullyQualifiedName"`
		Kind               string `json:"kind"`
	}
	sarifInvocation struct {
		ExecutionSuccessful bool                `json:"executionSuccessful"`
		Notifications       []sarifNotification `json:"toolExecutionNotifications"`
	}
	sarifNotification struct {
		Level     string          `json:"level"`
		Message   sarifText       `json:"message"`
		Locations []sarifLocation `json:"locations,omitempty"`
	}
)

// sarifURI is the artifact URI of a source: a relative URI reference for a relative path, a file URI for
// an absolute one. stdin has none.
func sarifURI(source string) string {
	if source == "<stdin>" {
		return ""
	}
	p := filepath.ToSlash(source)
	if filepath.IsAbs(source) {
		return (&url.URL{Scheme: "file", Path: p}).String()
	}
	return (&url.URL{Path: p}).String()
}

func sarifLocate(source string, line int, logical string) sarifLocation {
	var loc sarifLocation
	if uri := sarifURI(source); uri != "" {
		loc.Physical = &sarifPhysical{Artifact: sarifArtifact{URI: uri}}
		if line > 0 {
			loc.Physical.Region = &sarifRegion{StartLine: line}
		}
	}
	if logical != "" || loc.Physical == nil {
		if logical == "" {
			logical = source
		}
		loc.Logical = []sarifLogical{{FullyQualifiedName: logical, Kind: "object"}}
	}
	return loc
}

// WriteSARIF writes one SARIF 2.1.0 run: the rules are the built-in policies (and any other policy id the
// report names, from a --policy-dir), the results the denials (level error) and warnings (level warning),
// each located at the start line of its document; unreadable input is a tool execution notification.
func WriteSARIF(out io.Writer, rep Report, toolVersion string) error {
	driver := sarifDriver{Name: "mpcguard", Version: toolVersion, InformationURI: "https://github.com/mpcguard/mpcguard"}
	index := map[string]int{}
	addRule := func(id, short, full string) {
		index[id] = len(driver.Rules)
		driver.Rules = append(driver.Rules, sarifRule{ID: id, ShortDescription: sarifText{Text: short},
			FullDescription: sarifText{Text: full}, Default: sarifRuleConf{Level: "error"}})
	}
	for _, p := range vocab.Policies {
		addRule(p.ID, p.Rule, p.Objects+": "+p.Rule)
	}
	results := []sarifResult{}
	add := func(o Object, r engine.Result, level string) {
		i, ok := index[r.Policy]
		if !ok {
			addRule(r.Policy, "policy "+r.Policy, "policy "+r.Policy+" (not a built-in policy)")
			i = index[r.Policy]
		}
		results = append(results, sarifResult{RuleID: r.Policy, RuleIndex: i, Level: level,
			Message:   sarifText{Text: TextLine(o, r)},
			Locations: []sarifLocation{sarifLocate(o.Source, o.Line, strings.TrimPrefix(o.Item+" ", " ")+r.Object)}})
	}
	for _, o := range rep.Objects {
		for _, r := range o.Deny {
			add(o, r, "error")
		}
		for _, r := range o.Warn {
			add(o, r, "warning")
		}
	}
	inv := sarifInvocation{ExecutionSuccessful: len(rep.Errors) == 0, Notifications: []sarifNotification{}}
	for _, e := range rep.Errors {
		inv.Notifications = append(inv.Notifications, sarifNotification{Level: "error", Message: sarifText{Text: e.Error()},
			Locations: []sarifLocation{sarifLocate(e.Source, e.Line, "")}})
	}
	for _, e := range rep.Warnings {
		inv.Notifications = append(inv.Notifications, sarifNotification{Level: "warning", Message: sarifText{Text: e.Error()},
			Locations: []sarifLocation{sarifLocate(e.Source, e.Line, "")}})
	}
	log := sarifLog{
		Schema:  "https://json.schemastore.org/sarif-2.1.0.json",
		Version: "2.1.0",
		Runs:    []sarifRun{{Tool: sarifTool{Driver: driver}, Results: results, Invocations: []sarifInvocation{inv}}},
	}
	enc := json.NewEncoder(out)
	enc.SetIndent("", "  ")
	return enc.Encode(log)
}
