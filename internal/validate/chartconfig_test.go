package validate_test

import (
	"fmt"
	"testing"

	"github.com/stretchr/testify/assert"

	"github.com/mpcguard/mpcguard/internal/validate"
)

func TestFindWebhookArgs(t *testing.T) {
	const deploy = `apiVersion: apps/v1
kind: Deployment
metadata: {name: w, namespace: mpcguard%s}
spec:
  template:
    spec:
      containers:
        - {name: webhook, image: %q, %s}
`
	tests := map[string]struct {
		input string
		want  []validate.WebhookArgs
	}{
		"finds the chart's webhook by its image and first argument": {
			input: "# Source: mpcguard/templates/webhook.yaml\n" + sprintf(deploy, "", "ghcr.io/mpcguard/mpcguard:0.1.0", "args: [webhook, --party-selector=app=x]"),
			want:  []validate.WebhookArgs{{Source: "in.yaml", Document: 1, Line: 1, Object: "Deployment mpcguard/w", Args: []string{"--party-selector=app=x"}}},
		},
		"finds it behind a command, in a mirrored image labelled by the chart": {
			input: "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: c}\n---\n" +
				sprintf(deploy, ", labels: {app.kubernetes.io/name: mpcguard}", "registry.local/admission:1", "command: [/mpcguard, webhook], args: [--role-label-key=r]"),
			want: []validate.WebhookArgs{{Source: "in.yaml", Document: 2, Line: 5, Object: "Deployment mpcguard/w", Args: []string{"--role-label-key=r"}}},
		},
		"ignores another program's webhook": {
			input: sprintf(deploy, "", "example.com/other-webhook:1", "args: [webhook, --role-label-key=r]"),
		},
		"ignores an mpcguard container that does not run the webhook": {
			input: sprintf(deploy, "", "ghcr.io/mpcguard/mpcguard:0.1.0", "args: [validate, -f, /m/webhook.yaml]"),
		},
		"ignores a document that cannot be read: validation reports it": {
			input: "kind: Deployment\nwebhook: [\n",
		},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			got := validate.FindWebhookArgs([]validate.Source{{Name: "in.yaml", Data: []byte(tc.input), Named: true}})
			assert.Equal(t, tc.want, got)
		})
	}
}

func sprintf(format string, a ...any) string { return fmt.Sprintf(format, a...) }
