package generator

import (
	"bytes"
	"embed"
	"fmt"
	"strings"
	"text/template"
)

// The charts' READMEs: prose in text/template files a maintainer edits, the values table and the webhook's
// routes filled in.
//
//go:embed readme/*.md.tmpl
var readmeFS embed.FS

var readmeTemplates = template.Must(template.ParseFS(readmeFS, "readme/*.md.tmpl"))

// renderReadme renders the README of the chart with its values table.
func renderReadme(chartName, valuesTable string) ([]byte, error) {
	data := map[string]string{
		"KubeVersion":          KubeVersion,
		"Values":               strings.TrimRight(valuesTable, "\n"),
		"WebhookRoutes":        webhookRoutesMarkdown(),
		"ShareStoragePolicies": strings.Join(codeList(shareStoragePolicies), ", "),
	}
	var b bytes.Buffer
	if err := readmeTemplates.ExecuteTemplate(&b, chartName+".md.tmpl", data); err != nil {
		return nil, fmt.Errorf("README of %s: %w", chartName, err)
	}
	return b.Bytes(), nil
}

// webhookRoutesMarkdown is a table of the webhook entries and the requests routed to them.
func webhookRoutesMarkdown() string {
	var b strings.Builder
	b.WriteString("| webhook | API group/version | resources | operations |\n|---|---|---|---|\n")
	for _, e := range WebhookEntries() {
		for _, r := range e.Rules {
			gv := strings.Join(r.APIVersions, ", ")
			if g := strings.Join(r.APIGroups, ", "); g != "" {
				gv = g + "/" + gv
			}
			ops := make([]string, len(r.Operations))
			for i, op := range r.Operations {
				ops[i] = string(op)
			}
			fmt.Fprintf(&b, "| `%s` | %s | %s | %s |\n", e.Name, gv, strings.Join(codeList(r.Resources), ", "), strings.Join(ops, ", "))
		}
	}
	return b.String()
}

func codeList(items []string) []string {
	out := make([]string, len(items))
	for i, s := range items {
		out[i] = "`" + s + "`"
	}
	return out
}
