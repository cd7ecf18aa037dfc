package validate_test

import (
	"fmt"
	"strings"
	"testing"
)

// benchDocs is a helm-template-like stream of n documents: party pods, deployments, sessions and
// configmaps, each under a "# Source:" comment, as helm writes them.
func benchDocs(n int) []byte {
	var b strings.Builder
	for i := range n {
		b.WriteString("---\n")
		switch i % 4 {
		case 0:
			fmt.Fprintf(&b, `# Source: mpc-system/templates/party.yaml
apiVersion: v1
kind: Pod
metadata:
  name: party-%d
  namespace: mpc-system
  labels: {app.kubernetes.io/component: mpc-party, party-role: delegate}
spec:
  containers: [{name: party, image: mpc/party:1.0}]
`, i)
		case 1:
			fmt.Fprintf(&b, `# Source: mpc-system/templates/deployment.yaml
apiVersion: apps/v1
kind: Deployment
metadata:
  name: worker-%d
spec:
  replicas: 2
  template:
    metadata:
      labels: {app.kubernetes.io/component: mpc-party, party-role: temporary}
    spec:
      containers: [{name: w, image: mpc/party:1.0}]
`, i)
		case 2:
			fmt.Fprintf(&b, `# Source: mpc-system/templates/session.yaml
apiVersion: mpc.mpcguard.io/v1alpha1
kind: MPCSession
metadata:
  name: sign-%d
spec:
  type: sign
  threshold: {t: 2, "n": 3}
  composition: {persistent: 2, delegate: 1}
`, i)
		default:
			fmt.Fprintf(&b, `# Source: mpc-system/templates/configmap.yaml
apiVersion: v1
kind: ConfigMap
metadata:
  name: cfg-%d
data:
  key: value
`, i)
		}
	}
	return []byte(b.String())
}

// BenchmarkBytes shows that validation time grows linearly with the number of documents.
func BenchmarkBytes(b *testing.B) {
	for _, n := range []int{1000, 10000, 60000} {
		data := benchDocs(n)
		b.Run(fmt.Sprintf("%d documents", n), func(b *testing.B) {
			v := validator(b, "default")
			b.SetBytes(int64(len(data)))
			for b.Loop() {
				rep := v.Bytes(b.Context(), "bench.yaml", data)
				if len(rep.Objects) != n || len(rep.Errors) != 0 {
					b.Fatalf("%d objects, %d errors, want %d objects", len(rep.Objects), len(rep.Errors), n)
				}
			}
		})
	}
}
