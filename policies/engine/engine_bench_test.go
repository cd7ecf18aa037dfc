package engine_test

import (
	"bytes"
	"encoding/json"
	"testing"

	"github.com/stretchr/testify/require"
	"k8s.io/apimachinery/pkg/runtime/schema"

	"github.com/mpcguard/mpcguard/policies/engine"
)

// partyPodJSON is a party pod as a StatefulSet creates it (~3 KB once compact, as the API server sends it):
// containers with probes, resources and mounts, share storage, projected credentials and the usual metadata.
const partyPodJSON = `{
  "apiVersion": "v1",
  "kind": "Pod",
  "metadata": {
    "name": "mpc-party-2",
    "generateName": "mpc-party-",
    "namespace": "mpc-system",
    "labels": {
      "app.kubernetes.io/name": "mpc-system",
      "app.kubernetes.io/instance": "mpc-system",
      "app.kubernetes.io/component": "mpc-party",
      "app.kubernetes.io/part-of": "mpc-system",
      "app.kubernetes.io/managed-by": "Helm",
      "helm.sh/chart": "mpc-system-0.1.0",
      "party-role": "persistent",
      "controller-revision-hash": "mpc-party-7d9c6b5f4b",
      "statefulset.kubernetes.io/pod-name": "mpc-party-2",
      "apps.kubernetes.io/pod-index": "2"
    },
    "annotations": {
      "checksum/config": "5f1c1a1b0d8e2f4a9c3b7e6d5a4f3e2d1c0b9a8f7e6d5c4b3a2f1e0d9c8b7a6f",
      "prometheus.io/scrape": "true",
      "prometheus.io/port": "9090"
    },
    "ownerReferences": [{"apiVersion": "apps/v1", "kind": "StatefulSet", "name": "mpc-party", "uid": "9b2f4c1e-2d6a-4f0b-8c3e-1a2b3c4d5e6f", "controller": true, "blockOwnerDeletion": true}]
  },
  "spec": {
    "serviceAccountName": "mpc-party",
    "automountServiceAccountToken": false,
    "hostname": "mpc-party-2",
    "subdomain": "mpc-party",
    "securityContext": {"runAsNonRoot": true, "runAsUser": 65532, "fsGroup": 65532, "seccompProfile": {"type": "RuntimeDefault"}},
    "affinity": {
      "podAntiAffinity": {
        "requiredDuringSchedulingIgnoredDuringExecution": [{
          "labelSelector": {"matchLabels": {"app.kubernetes.io/component": "mpc-party", "app.kubernetes.io/instance": "mpc-system"}},
          "topologyKey": "topology.kubernetes.io/zone"
        }]
      }
    },
    "containers": [
      {
        "name": "party",
        "image": "registry.example.com/mpc/party:1.4.2",
        "imagePullPolicy": "IfNotPresent",
        "args": ["--listen=:7000", "--metrics=:9090", "--share-dir=/var/lib/mpc/shares"],
        "env": [
          {"name": "MPC_PARTY_ROLE", "valueFrom": {"fieldRef": {"fieldPath": "metadata.labels['party-role']"}}},
          {"name": "MPC_PARTY_LABEL_SELECTOR", "value": "app.kubernetes.io/component=mpc-party"},
          {"name": "POD_NAME", "valueFrom": {"fieldRef": {"fieldPath": "metadata.name"}}}
        ],
        "ports": [{"name": "p2p", "containerPort": 7000}, {"name": "metrics", "containerPort": 9090}],
        "readinessProbe": {"grpc": {"port": 7000}, "periodSeconds": 5, "failureThreshold": 3},
        "livenessProbe": {"httpGet": {"path": "/healthz", "port": "metrics"}, "initialDelaySeconds": 10, "periodSeconds": 10},
        "startupProbe": {"tcpSocket": {"port": "p2p"}, "failureThreshold": 30, "periodSeconds": 2},
        "resources": {"requests": {"cpu": "500m", "memory": "512Mi"}, "limits": {"memory": "1Gi"}},
        "securityContext": {"allowPrivilegeEscalation": false, "readOnlyRootFilesystem": true, "capabilities": {"drop": ["ALL"]}},
        "volumeMounts": [
          {"name": "share-data", "mountPath": "/var/lib/mpc/shares"},
          {"name": "db", "mountPath": "/etc/mpc/db", "readOnly": true},
          {"name": "credentials", "mountPath": "/etc/mpc/credentials", "readOnly": true},
          {"name": "tmp", "mountPath": "/tmp"}
        ]
      },
      {
        "name": "exporter",
        "image": "registry.example.com/mpc/exporter:0.9.0",
        "ports": [{"name": "exporter", "containerPort": 9100}],
        "readinessProbe": {"httpGet": {"path": "/ready", "port": 9100}},
        "resources": {"requests": {"cpu": "50m", "memory": "32Mi"}}
      }
    ],
    "volumes": [
      {"name": "share-data", "persistentVolumeClaim": {"claimName": "share-data-mpc-party-2"}},
      {"name": "db", "secret": {"secretName": "mpc-db", "defaultMode": 256}},
      {"name": "credentials", "projected": {"sources": [
        {"secret": {"name": "mpc-party-tls"}},
        {"configMap": {"name": "mpc-ca"}},
        {"serviceAccountToken": {"path": "token", "audience": "mpc-coordinator", "expirationSeconds": 3600}}
      ]}},
      {"name": "tmp", "emptyDir": {"medium": "Memory", "sizeLimit": "64Mi"}}
    ],
    "tolerations": [{"key": "dedicated", "operator": "Equal", "value": "mpc", "effect": "NoSchedule"}]
  }
}`

// BenchmarkReviewPartyPod reviews the same party pod again and again: after the first review, each is answered
// from the memo (the input adapter, the key and a lookup); BenchmarkReviewPartyPodPlain evaluates every time.
func BenchmarkReviewPartyPod(b *testing.B) { benchmarkReviewPartyPod(b) }

// BenchmarkReviewPartyPodPlain is BenchmarkReviewPartyPod with memoisation off: every review is evaluated, as a
// pod the memo has not seen is.
func BenchmarkReviewPartyPodPlain(b *testing.B) { benchmarkReviewPartyPod(b, engine.WithCacheSize(0)) }

func benchmarkReviewPartyPod(b *testing.B, opts ...engine.Option) {
	eng, err := engine.New(b.Context(), shareConfig(), nil, opts...)
	require.NoError(b, err)
	var obj bytes.Buffer
	require.NoError(b, json.Compact(&obj, []byte(partyPodJSON)))
	// As the API server sends it: created by the StatefulSet controller, so every check runs and none is skipped.
	req := engine.Request{Operation: engine.Create, Kind: podGVK, Namespace: "mpc-system", Object: obj.Bytes(),
		User: &engine.User{Username: statefulSetController, Groups: []string{"system:serviceaccounts", "system:authenticated"}}}
	d, err := eng.Review(b.Context(), req, nil)
	require.NoError(b, err)
	require.True(b, d.Reviewed)
	require.Empty(b, d.Deny)
	require.Empty(b, d.Skipped)
	b.SetBytes(int64(obj.Len()))
	b.ReportAllocs()
	for b.Loop() {
		if _, err := eng.Review(b.Context(), req, nil); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkReviewSession reviews the same session with the same inventory again and again, answered from the
// memo after the first; BenchmarkReviewSessionPlain evaluates every time.
func BenchmarkReviewSession(b *testing.B) { benchmarkReviewSession(b) }

// BenchmarkReviewSessionPlain is BenchmarkReviewSession with memoisation off.
func BenchmarkReviewSessionPlain(b *testing.B) { benchmarkReviewSession(b, engine.WithCacheSize(0)) }

func benchmarkReviewSession(b *testing.B, opts ...engine.Option) {
	eng, err := engine.New(b.Context(), shareConfig(), nil, opts...)
	require.NoError(b, err)
	req := createSession(`{"type": "sign", "threshold": {"t": 2, "n": 3}, "composition": {"persistent": 2, "delegate": 1}}`)
	inv := readyInventory(3)
	d, err := eng.Review(b.Context(), req, inv)
	require.NoError(b, err)
	require.True(b, d.Reviewed)
	require.Empty(b, d.Deny)
	b.ReportAllocs()
	for b.Loop() {
		if _, err := eng.Review(b.Context(), req, inv); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkReviewUnreviewedKind(b *testing.B) {
	eng := newEngine(b, shareConfig())
	req := engine.Request{Operation: engine.Create, Kind: schema.GroupVersionKind{Version: "v1", Kind: "ConfigMap"},
		Namespace: "mpc-system", Object: []byte(`{"metadata": {"name": "cfg"}, "data": {"a": "b"}}`)}
	b.ReportAllocs()
	for b.Loop() {
		if d, err := eng.Review(b.Context(), req, nil); err != nil || d.Reviewed {
			b.Fatal(d, err)
		}
	}
}
