package validate

import (
	"bytes"
	"encoding/json"
	"fmt"
	"slices"
	"strings"
)

// WebhookArgs are the arguments of an mpcguard webhook container found in the input: a rendered mpcguard
// chart carries the configuration the cluster will enforce.
type WebhookArgs struct {
	Source   string
	Document int
	Line     int
	// Object is "Deployment namespace/name" (namespace as written, "" when the manifest names none).
	Object string
	// Args are the container's arguments after "webhook".
	Args []string
}

// Where names the Deployment and its place: "out.yaml: document 12 (line 401): Deployment mpc/r-mpcguard-webhook".
func (w WebhookArgs) Where() string {
	return fmt.Sprintf("%s: document %d (line %d): %s", w.Source, w.Document, w.Line, w.Object)
}

// FindWebhookArgs returns the mpcguard webhook Deployments of the sources: Deployments with a container
// whose first argument is "webhook" and whose image is an mpcguard image or whose Deployment is labelled
// app.kubernetes.io/name=mpcguard (as the chart labels it). Documents that cannot be read are left to
// validation to report. Only documents that mention both "Deployment" and "webhook" are parsed.
func FindWebhookArgs(srcs []Source) []WebhookArgs {
	var out []WebhookArgs
	for _, s := range srcs {
		if !bytes.Contains(s.Data, []byte("webhook")) {
			continue
		}
		n := 0
		for _, chunk := range split(s.Data) {
			if blank(chunk.data) {
				continue
			}
			for _, doc := range jsonStream(chunk) {
				n++
				if doc.err != nil || !bytes.Contains(doc.data, []byte("Deployment")) || !bytes.Contains(doc.data, []byte("webhook")) {
					continue
				}
				js, _, err := yamlToJSON(doc.data)
				if err != nil {
					continue
				}
				for _, e := range flatten(js) {
					if e.err != nil {
						continue
					}
					if w, ok := webhookArgs(e.raw); ok {
						w.Source, w.Document, w.Line = s.Name, n, doc.line
						out = append(out, w)
					}
				}
			}
		}
	}
	return out
}

func webhookArgs(raw json.RawMessage) (WebhookArgs, bool) {
	var d struct {
		APIVersion string `json:"apiVersion"`
		Kind       string `json:"kind"`
		Metadata   struct {
			Name      string            `json:"name"`
			Namespace string            `json:"namespace"`
			Labels    map[string]string `json:"labels"`
		} `json:"metadata"`
		Spec struct {
			Template struct {
				Spec struct {
					Containers []struct {
						Image   string   `json:"image"`
						Command []string `json:"command"`
						Args    []string `json:"args"`
					} `json:"containers"`
				} `json:"spec"`
			} `json:"template"`
		} `json:"spec"`
	}
	if json.Unmarshal(raw, &d) != nil || d.Kind != "Deployment" || !strings.HasPrefix(d.APIVersion, "apps/") {
		return WebhookArgs{}, false
	}
	for _, c := range d.Spec.Template.Spec.Containers {
		argv := append(slices.Clone(c.Command), c.Args...)
		i := slices.Index(argv, "webhook")
		if i < 0 {
			continue
		}
		if !strings.Contains(c.Image, "mpcguard") && d.Metadata.Labels["app.kubernetes.io/name"] != "mpcguard" {
			continue
		}
		return WebhookArgs{Object: fmt.Sprintf("Deployment %s/%s", d.Metadata.Namespace, d.Metadata.Name),
			Args: argv[i+1:]}, true
	}
	return WebhookArgs{}, false
}
