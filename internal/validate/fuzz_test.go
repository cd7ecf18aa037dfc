package validate_test

import (
	"errors"
	"strings"
	"testing"

	"github.com/mpcguard/mpcguard/internal/validate"
	"github.com/mpcguard/mpcguard/policies/engine"
)

// FuzzValidate feeds arbitrary manifests to the offline validator: it must never panic or hang, and every
// document (every value of a JSON stream, every item of a list) is either evaluated or reported as
// unreadable with its source, document number and line.
// The seed corpus is in testdata/fuzz/FuzzValidate.
func FuzzValidate(f *testing.F) {
	f.Add([]byte("apiVersion: v1\nkind: Pod\nmetadata: {name: p, labels: {app.kubernetes.io/component: mpc-party}}\n"))
	f.Add([]byte("---\n# c\n--- {\"apiVersion\": \"v1\", \"kind\": \"List\", \"items\": [{\"apiVersion\": \"v1\", \"kind\": \"Pod\"}]}\n"))
	f.Add([]byte("apiVersion: mpc.mpcguard.io/v1alpha1\nkind: MPCSession\nmetadata: {name: s}\nspec: {threshold: {t: 2, n: 3}, composition: {}}\n---\n"))
	f.Add([]byte("a: &x [*x]\n"))
	f.Add([]byte("apiVersion: v1\nkind: Pod\nmetadata: {name: [\n"))
	f.Add([]byte("? [a, b]\n: c\n"))
	f.Add([]byte("{\"apiVersion\": \"v1\", \"kind\": \"PodList\", \"items\": [{\"metadata\": {\"name\": \"p\"}}, 1]}\n{\"kind\": \"List\"} x"))
	f.Add([]byte("apiVersion: v1\nkind: List\nitems:\n- {apiVersion: apps/v1, kind: DeploymentList, items: [{metadata: {name: d}}, null]}\n"))
	f.Add([]byte("{}{\"apiVersion\":\"v1\",\"kind\":\"Pod\"}[1]\n# c\n\"s\"\r---\rkind: x\n...\n"))

	eng, err := engine.New(f.Context(), engine.DefaultConfig(), nil)
	if err != nil {
		f.Fatal(err)
	}
	v := validate.Validator{Engine: eng, Namespace: "default"}
	f.Fuzz(func(t *testing.T, data []byte) {
		rep := v.Bytes(t.Context(), "fuzz.yaml", data)
		for _, e := range rep.Errors {
			if errors.Is(e, validate.ErrEmpty) && e.Source == "fuzz.yaml" && e.Message != "" {
				continue // an input with no document or no object: it names the source only
			}
			if e.Source != "fuzz.yaml" || e.Document < 1 || e.Line < 1 || e.Message == "" {
				t.Fatalf("an error must name its source, document and line: %+v", e)
			}
		}
		for _, o := range rep.Objects {
			if o.Kind == "" || o.Document < 1 || o.Line < 1 || (o.Item != "" && !strings.HasPrefix(o.Item, "items[")) {
				t.Fatalf("an evaluated object must name its kind, document and line: %+v", o)
			}
			for _, r := range append(append(o.Deny, o.Warn...), o.Skipped...) {
				if r.Policy == "" || r.Message == "" {
					t.Fatalf("a result without policy id or message: %+v", r)
				}
			}
		}
	})
}
