package engine

import (
	"bytes"
	"encoding/json"
	"testing"

	"github.com/open-policy-agent/opa/v1/ast"
	"k8s.io/apimachinery/pkg/runtime/schema"
)

// BenchmarkBuildInputPartyPod measures the input adapter alone (the part of a review before Rego), on the
// same pod as BenchmarkReviewPartyPod, so the two show where a review's time goes.
func BenchmarkBuildInputPartyPod(b *testing.B) {
	var obj bytes.Buffer
	if err := json.Compact(&obj, []byte(benchPartyPod)); err != nil {
		b.Fatal(err)
	}
	req := Request{Operation: Create, Kind: schema.GroupVersionKind{Version: "v1", Kind: "Pod"}, Namespace: "mpc-system", Object: obj.Bytes()}
	b.SetBytes(int64(obj.Len()))
	b.ReportAllocs()
	for b.Loop() {
		if _, _, err := buildInput(req, nil); err != nil {
			b.Fatal(err)
		}
	}
}

const benchPartyPod = `{"apiVersion":"v1","kind":"Pod","metadata":{"name":"mpc-party-persistent-0","namespace":"mpc-system",
"labels":{"app.kubernetes.io/component":"mpc-party","party-role":"persistent","app.kubernetes.io/name":"mpc-system",
"app.kubernetes.io/instance":"mpc-system","controller-revision-hash":"mpc-party-7d9f8c6b5","statefulset.kubernetes.io/pod-name":"mpc-party-persistent-0"},
"annotations":{"kubectl.kubernetes.io/default-container":"party"},"ownerReferences":[{"apiVersion":"apps/v1","kind":"StatefulSet","name":"mpc-party-persistent","uid":"0d7c0b5e","controller":true}]},
"spec":{"containers":[{"name":"party","image":"ghcr.io/mpcguard/mpc-server-party:0.1.0","ports":[{"name":"grpc","containerPort":50051}],
"env":[{"name":"PARTY_ID","valueFrom":{"fieldRef":{"fieldPath":"metadata.name"}}},{"name":"DATABASE_URL","valueFrom":{"secretKeyRef":{"name":"mpc-db","key":"url"}}}],
"resources":{"requests":{"cpu":"250m","memory":"256Mi"},"limits":{"cpu":"1","memory":"512Mi"}},
"readinessProbe":{"grpc":{"port":50051},"periodSeconds":5},"livenessProbe":{"grpc":{"port":50051},"periodSeconds":10},
"securityContext":{"runAsNonRoot":true,"allowPrivilegeEscalation":false,"readOnlyRootFilesystem":true,"capabilities":{"drop":["ALL"]},"seccompProfile":{"type":"RuntimeDefault"}},
"volumeMounts":[{"name":"shares","mountPath":"/var/lib/mpc/shares"},{"name":"tmp","mountPath":"/tmp"}]}],
"volumes":[{"name":"shares","persistentVolumeClaim":{"claimName":"shares-mpc-party-persistent-0"}},{"name":"tmp","emptyDir":{}},
{"name":"kube-api-access","projected":{"sources":[{"serviceAccountToken":{"path":"token"}},{"configMap":{"name":"kube-root-ca.crt"}}]}}],
"affinity":{"podAntiAffinity":{"requiredDuringSchedulingIgnoredDuringExecution":[{"labelSelector":{"matchLabels":{"party-role":"persistent"}},"topologyKey":"kubernetes.io/hostname"}]}},
"securityContext":{"runAsNonRoot":true,"seccompProfile":{"type":"RuntimeDefault"}},"automountServiceAccountToken":false}}`

// BenchmarkMemoKeyPartyPod measures printing a party pod's reduced input into a memo key (memo.go), the part
// of a memoised review between the input adapter and the lookup.
func BenchmarkMemoKeyPartyPod(b *testing.B) {
	var obj bytes.Buffer
	if err := json.Compact(&obj, []byte(benchPartyPod)); err != nil {
		b.Fatal(err)
	}
	req := Request{Operation: Create, Kind: schema.GroupVersionKind{Version: "v1", Kind: "Pod"}, Namespace: "mpc-system", Object: obj.Bytes(),
		User: &User{Username: "system:serviceaccount:kube-system:statefulset-controller", Groups: []string{"system:authenticated"}}}
	in, _, err := buildInput(req, nil)
	if err != nil {
		b.Fatal(err)
	}
	keys := []string{"kind", "old_pod", "operation", "pod", "user"}
	buf := make([]byte, 0, 1024)
	b.ReportAllocs()
	for b.Loop() {
		if buf, err = appendKey(buf[:0], in.(ast.Object), keys); err != nil {
			b.Fatal(err)
		}
	}
	b.ReportMetric(float64(len(buf)), "key-bytes")
}
