package analyze

import (
	"encoding/json"
	"fmt"
	"io"
	"strings"
)

// Formats are the output formats of a report.
var Formats = []string{"text", "json"}

// Write writes rep in format (one of Formats).
func Write(format string, w io.Writer, rep Report) error {
	switch format {
	case "text":
		return WriteText(w, rep)
	case "json":
		return WriteJSON(w, rep)
	}
	return fmt.Errorf("output format %q: want one of %s", format, strings.Join(Formats, ", "))
}

// WriteJSON writes the report as one indented JSON object (the fields are documented in the README).
func WriteJSON(w io.Writer, rep Report) error {
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	return enc.Encode(rep)
}

// WriteText writes one line per operator, one line per finding — its verdict, id, subject and message —
// the notes and a summary.
func WriteText(w io.Writer, rep Report) error {
	var b strings.Builder
	for _, o := range rep.Operators {
		name := o.Name
		if name == "" {
			name = "render"
		}
		where := ""
		if o.Cloud != "" || o.Region != "" {
			where = fmt.Sprintf(" (%s)", strings.Trim(o.Cloud+" "+o.Region, " "))
		}
		nodes := "nodes unknown"
		switch {
		case o.Live:
			nodes = fmt.Sprintf("%d schedulable nodes, live placement", o.Nodes)
		case o.Nodes >= 0:
			nodes = fmt.Sprintf("%d schedulable nodes", o.Nodes)
		}
		fmt.Fprintf(&b, "%s%s: %d persistent, %d delegate, %d temporary parties; %s\n", name, where, o.Persistent, o.Delegate, o.Temporary, nodes)
	}
	for _, f := range rep.Findings {
		id := f.ID
		if f.Subject != "" {
			id += " " + f.Subject
		}
		fmt.Fprintf(&b, "%-8s %s: %s\n", strings.ToUpper(string(f.Verdict)), id, f.Message)
	}
	for _, n := range rep.Notes {
		fmt.Fprintf(&b, "note: %s\n", n)
	}
	fmt.Fprintf(&b, "t=%d: %d ok, %d at-risk, %d unknown\n", rep.T, rep.Count(OK), rep.Count(AtRisk), rep.Count(Unknown))
	_, err := io.WriteString(w, b.String())
	return err
}
