package engine

import (
	"encoding/json"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"github.com/valyala/fastjson"
	"k8s.io/apimachinery/pkg/runtime/schema"

	"github.com/mpcguard/mpcguard/policies/vocab"
)

var (
	bindingKind  = schema.GroupVersionKind{Version: "v1", Kind: "Binding"}
	execKind     = schema.GroupVersionKind{Version: "v1", Kind: "PodExecOptions"}
	claimKind    = schema.GroupVersionKind{Version: "v1", Kind: "PersistentVolumeClaim"}
	snapshotKind = schema.GroupVersionKind{Group: "snapshot.storage.k8s.io", Version: "v1", Kind: "VolumeSnapshot"}
)

// inputField returns one top-level member of a policy input as JSON ("" when absent).
func inputField(t *testing.T, in string, key string) string {
	t.Helper()
	var m map[string]json.RawMessage
	require.NoError(t, json.Unmarshal([]byte(in), &m))
	return string(m[key])
}

func TestBuildInputPodReadsEveryRoadToShareStorage(t *testing.T) {
	tests := map[string]struct {
		spec string // the pod's spec
		meta string // the pod's metadata; a name by default
		want string // input.pod
	}{
		"reads a hostPath volume's path": {
			spec: `{"volumes": [
				{"name": "node", "hostPath": {"path": "/var/lib/kubelet/pods", "type": "Directory"}},
				{"name": "logs", "hostPath": {"path": "/var/log"}},
				{"name": "empty", "hostPath": {}}
			]}`,
			want: `{"labels": {}, "claims": [], "secrets": [], "host_paths": ["/var/lib/kubelet/pods", "/var/log", ""],
				"clones": [], "ephemeral_containers": 0}`,
		},
		"reads a CSI volume's nodePublishSecretRef and every other volume driver's secret reference": {
			spec: `{"volumes": [
				{"name": "csi", "csi": {"driver": "secrets-store.csi.k8s.io", "nodePublishSecretRef": {"name": "csi-creds"}}},
				{"name": "csi-plain", "csi": {"driver": "x"}},
				{"name": "cephfs", "cephfs": {"monitors": ["m"], "secretRef": {"name": "ceph-secret"}}},
				{"name": "rbd", "rbd": {"image": "i", "secretRef": {"name": "rbd-secret"}}},
				{"name": "iscsi", "iscsi": {"targetPortal": "p", "secretRef": {"name": "iscsi-secret"}}},
				{"name": "flex", "flexVolume": {"driver": "d", "secretRef": {"name": "flex-secret"}}},
				{"name": "scaleio", "scaleIO": {"gateway": "g", "secretRef": {"name": "scaleio-secret"}}},
				{"name": "storageos", "storageos": {"volumeName": "v", "secretRef": {"name": "storageos-secret"}}},
				{"name": "azure", "azureFile": {"secretName": "azure-secret", "shareName": "s"}},
				{"name": "empty-ref", "rbd": {"image": "i", "secretRef": {}}}
			]}`,
			want: `{"labels": {}, "claims": [], "host_paths": [], "clones": [], "ephemeral_containers": 0,
				"secrets": ["csi-creds", "ceph-secret", "rbd-secret", "iscsi-secret", "flex-secret", "scaleio-secret",
					"storageos-secret", "azure-secret"]}`,
		},
		"reads the data sources of a generic ephemeral volume's claim template, once when dataSourceRef repeats dataSource": {
			spec: `{"volumes": [
				{"name": "clone", "ephemeral": {"volumeClaimTemplate": {"spec": {
					"dataSource": {"kind": "PersistentVolumeClaim", "name": "share-data-mpc-party-0"},
					"dataSourceRef": {"kind": "PersistentVolumeClaim", "name": "share-data-mpc-party-0"}}}}},
				{"name": "restore", "ephemeral": {"volumeClaimTemplate": {"spec": {
					"dataSource": {"apiGroup": "snapshot.storage.k8s.io", "kind": "VolumeSnapshot", "name": "snap"},
					"dataSourceRef": {"apiGroup": "example.com", "kind": "Populator", "name": "pop"}}}}},
				{"name": "plain", "ephemeral": {"volumeClaimTemplate": {"spec": {"accessModes": ["ReadWriteOnce"]}}}},
				{"name": "no-template", "ephemeral": {}}
			]}`,
			want: `{"labels": {}, "claims": [], "secrets": [], "host_paths": [], "ephemeral_containers": 0, "clones": [
				{"kind": "PersistentVolumeClaim", "name": "share-data-mpc-party-0"},
				{"kind": "VolumeSnapshot", "name": "snap"},
				{"kind": "Populator", "name": "pop"}]}`,
		},
		"reads the controller among the owner references": {
			meta: `{"name": "p-0", "ownerReferences": [
				{"apiVersion": "v1", "kind": "ConfigMap", "name": "not-controller"},
				{"apiVersion": "apps/v1", "kind": "ReplicaSet", "name": "also-not", "controller": false},
				{"apiVersion": "apps/v1", "kind": "StatefulSet", "name": "mpc-party", "uid": "u", "controller": true}
			]}`,
			want: `{"labels": {}, "claims": [], "secrets": [], "host_paths": [], "clones": [], "ephemeral_containers": 0,
				"owner": {"kind": "StatefulSet", "name": "mpc-party"}}`,
		},
		"leaves the owner absent when no owner reference is the controller": {
			meta: `{"name": "p-0", "ownerReferences": [{"apiVersion": "apps/v1", "kind": "StatefulSet", "name": "mpc-party"}]}`,
			want: `{"labels": {}, "claims": [], "secrets": [], "host_paths": [], "clones": [], "ephemeral_containers": 0}`,
		},
		"counts the ephemeral containers and reads their env secrets": {
			spec: `{"containers": [{"name": "party"}], "ephemeralContainers": [
				{"name": "debugger-1", "image": "busybox"},
				{"name": "debugger-2", "image": "busybox", "envFrom": [{"secretRef": {"name": "mpc-db"}}]}
			]}`,
			want: `{"labels": {}, "claims": [], "secrets": ["mpc-db"], "host_paths": [], "clones": [], "ephemeral_containers": 2}`,
		},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			meta := tc.meta
			if meta == "" {
				meta = `{"name": "p-0"}`
			}
			obj := `{"metadata": ` + meta + `, "spec": {}}`
			if tc.spec != "" {
				obj = `{"metadata": ` + meta + `, "spec": ` + tc.spec + `}`
			}
			got, class, err := buildInput(Request{Operation: Create, Kind: podKind, Namespace: "ns", Object: []byte(obj)}, nil)
			require.NoError(t, err)
			assert.Equal(t, vocab.ClassPod, class)
			assert.JSONEq(t, tc.want, inputField(t, inputJSON(t, got), "pod"))
		})
	}
}

func TestBuildInputPodUpdateReadsTheOldPodWhole(t *testing.T) {
	old := `{"metadata": {"name": "p-0", "labels": {"party-role": "persistent"},
			"ownerReferences": [{"kind": "StatefulSet", "name": "mpc-party", "controller": true}]},
		"spec": {"volumes": [{"name": "h", "hostPath": {"path": "/data"}}], "ephemeralContainers": [{"name": "d"}]}}`
	obj := `{"metadata": {"name": "p-0", "labels": {"party-role": "persistent"},
			"ownerReferences": [{"kind": "StatefulSet", "name": "mpc-party", "controller": true}]},
		"spec": {"volumes": [{"name": "h", "hostPath": {"path": "/data"}}], "ephemeralContainers": [{"name": "d"}, {"name": "e"}]}}`
	got, _, err := buildInput(Request{Operation: Update, Kind: podKind, Subresource: "ephemeralcontainers", Namespace: "ns",
		Object: []byte(obj), OldObject: []byte(old)}, nil)
	require.NoError(t, err)
	in := inputJSON(t, got)
	assert.JSONEq(t, `{"labels": {"party-role": "persistent"}, "claims": [], "secrets": [], "host_paths": ["/data"], "clones": [],
		"ephemeral_containers": 1, "owner": {"kind": "StatefulSet", "name": "mpc-party"}}`, inputField(t, in, "old_pod"))
	assert.JSONEq(t, `{"labels": {"party-role": "persistent"}, "claims": [], "secrets": [], "host_paths": ["/data"], "clones": [],
		"ephemeral_containers": 2, "owner": {"kind": "StatefulSet", "name": "mpc-party"}}`, inputField(t, in, "pod"))
	assert.JSONEq(t, `"ephemeralcontainers"`, inputField(t, in, "subresource"))
}

func TestBuildInputWorkloadReadsClaimTemplateDataSources(t *testing.T) {
	obj := `{"metadata": {"name": "copy", "namespace": "ns"}, "spec": {
		"volumeClaimTemplates": [
			{"metadata": {"name": "data"}, "spec": {"dataSourceRef": {"kind": "PersistentVolumeClaim", "name": "share-data-mpc-party-0"}}},
			{"metadata": {"name": "snap"}, "spec": {"dataSource": {"kind": "VolumeSnapshot", "name": "nightly"}}},
			{"metadata": {"name": "plain"}, "spec": {"accessModes": ["ReadWriteOnce"]}}
		],
		"template": {"metadata": {"labels": {"app": "x"}}, "spec": {"volumes": [
			{"name": "e", "ephemeral": {"volumeClaimTemplate": {"spec": {"dataSource": {"kind": "PersistentVolumeClaim", "name": "other"}}}}},
			{"name": "h", "hostPath": {"path": "/srv"}},
			{"name": "c", "csi": {"driver": "d", "nodePublishSecretRef": {"name": "mpc-db"}}}
		]}}}}`
	got, class, err := buildInput(Request{Operation: Create, Kind: schema.GroupVersionKind{Group: "apps", Version: "v1", Kind: "StatefulSet"},
		Object: []byte(obj)}, nil)
	require.NoError(t, err)
	assert.Equal(t, vocab.ClassWorkload, class)
	assert.JSONEq(t, `{"labels": {"app": "x"}, "claims": ["data-copy-0", "snap-copy-0", "plain-copy-0"], "secrets": ["mpc-db"],
		"host_paths": ["/srv"], "ephemeral_containers": 0, "clones": [
			{"kind": "PersistentVolumeClaim", "name": "share-data-mpc-party-0"},
			{"kind": "VolumeSnapshot", "name": "nightly"},
			{"kind": "PersistentVolumeClaim", "name": "other"}]}`, inputField(t, inputJSON(t, got), "template"))
}

func TestBuildInputBinding(t *testing.T) {
	tests := map[string]struct {
		obj, want string
	}{
		"reads the labels a Binding would copy onto its pod": {
			obj: `{"apiVersion": "v1", "kind": "Binding", "metadata": {"name": "p-0", "namespace": "mpc-system",
				"labels": {"party-role": "persistent", "app.kubernetes.io/component": "mpc-party"}},
				"target": {"apiVersion": "v1", "kind": "Node", "name": "node-1"}}`,
			want: `{"labels": {"party-role": "persistent", "app.kubernetes.io/component": "mpc-party"}}`,
		},
		"gives a Binding without labels empty labels": {
			obj:  `{"apiVersion": "v1", "kind": "Binding", "metadata": {"name": "p-0", "namespace": "mpc-system"}, "target": {"name": "node-1"}}`,
			want: `{"labels": {}}`,
		},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			inv := &recordingInventory{ok: true}
			got, class, err := buildInput(Request{Operation: Create, Kind: bindingKind, Subresource: "binding",
				Namespace: "mpc-system", Name: "p-0", Object: []byte(tc.obj)}, inv)
			require.NoError(t, err)
			assert.Equal(t, vocab.ClassBinding, class)
			assert.JSONEq(t, `{"operation": "CREATE", "kind": "Binding", "subresource": "binding", "namespace": "mpc-system",
				"name": "p-0", "dry_run": false, "binding": `+tc.want+`}`, inputJSON(t, got))
			assert.Empty(t, inv.asked, "a Binding needs no inventory")
		})
	}
}

func TestBuildInputConnect(t *testing.T) {
	tests := map[string]struct {
		inv        *recordingInventory // nil: no inventory at all
		want       string              // input.target and input.inventory
		wantAsked  []string
		withObject bool
	}{
		"names the target's role as the inventory knows it": {
			inv:       &recordingInventory{role: "persistent", ok: true},
			want:      `"target": {"role": "persistent"}, "inventory": {"available": true}`,
			wantAsked: []string{"mpc-system/mpc-party-0"},
		},
		"leaves the role absent for a pod the inventory knows without one": {
			inv:       &recordingInventory{ok: true},
			want:      `"target": {}, "inventory": {"available": true}`,
			wantAsked: []string{"mpc-system/mpc-party-0"},
		},
		"reports an unsynced inventory as unavailable": {
			inv:       &recordingInventory{ok: false},
			want:      `"target": {}, "inventory": {"available": false}`,
			wantAsked: []string{"mpc-system/mpc-party-0"},
		},
		"reports no inventory as unavailable": {
			want: `"target": {}, "inventory": {"available": false}`,
		},
		"reads nothing of the options object": {
			inv:        &recordingInventory{role: "delegate", ok: true},
			withObject: true,
			want:       `"target": {"role": "delegate"}, "inventory": {"available": true}`,
			wantAsked:  []string{"mpc-system/mpc-party-0"},
		},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			req := Request{Operation: Connect, Kind: execKind, Subresource: "exec", Namespace: "mpc-system", Name: "mpc-party-0",
				User: &User{Username: "alice", Groups: []string{"dev", "system:authenticated"}}}
			if tc.withObject {
				req.Object = []byte(`{"kind": "PodExecOptions", "apiVersion": "v1", "command": ["sh"], "stdin": true, "tty": true}`)
			}
			var inv Inventory
			if tc.inv != nil {
				inv = tc.inv
			}
			got, class, err := buildInput(req, inv)
			require.NoError(t, err)
			assert.Equal(t, vocab.ClassConnect, class)
			assert.JSONEq(t, `{"operation": "CONNECT", "kind": "PodExecOptions", "subresource": "exec", "namespace": "mpc-system",
				"name": "mpc-party-0", "dry_run": false, "user": {"username": "alice", "groups": ["dev", "system:authenticated"]}, `+
				tc.want+`}`, inputJSON(t, got))
			if tc.inv != nil {
				assert.Equal(t, tc.wantAsked, tc.inv.asked)
			}
		})
	}
}

func TestBuildInputStorage(t *testing.T) {
	tests := map[string]struct {
		kind      schema.GroupVersionKind
		obj, want string // the object, and its part of the input (claim or snapshot)
	}{
		"reads a claim's dataSource and dataSourceRef": {
			kind: claimKind,
			obj: `{"metadata": {"name": "copy", "namespace": "ns"}, "spec": {
				"dataSource": {"kind": "PersistentVolumeClaim", "name": "share-data-mpc-party-0"},
				"dataSourceRef": {"apiGroup": "snapshot.storage.k8s.io", "kind": "VolumeSnapshot", "name": "snap"}}}`,
			want: `"claim": {"clones": [{"kind": "PersistentVolumeClaim", "name": "share-data-mpc-party-0"},
				{"kind": "VolumeSnapshot", "name": "snap"}]}`,
		},
		"reads a claim's source once when dataSourceRef repeats dataSource, as the API server fills it": {
			kind: claimKind,
			obj: `{"metadata": {"name": "copy", "namespace": "ns"}, "spec": {
				"dataSource": {"kind": "PersistentVolumeClaim", "name": "a"}, "dataSourceRef": {"kind": "PersistentVolumeClaim", "name": "a"}}}`,
			want: `"claim": {"clones": [{"kind": "PersistentVolumeClaim", "name": "a"}]}`,
		},
		"gives a claim without a data source no clones": {
			kind: claimKind,
			obj:  `{"metadata": {"name": "copy", "namespace": "ns"}, "spec": {"accessModes": ["ReadWriteOnce"]}}`,
			want: `"claim": {"clones": []}`,
		},
		"reads the claim a VolumeSnapshot copies": {
			kind: snapshotKind,
			obj: `{"apiVersion": "snapshot.storage.k8s.io/v1", "kind": "VolumeSnapshot", "metadata": {"name": "copy", "namespace": "ns"},
				"spec": {"volumeSnapshotClassName": "csi", "source": {"persistentVolumeClaimName": "share-data-mpc-party-0"}}}`,
			want: `"snapshot": {"claim": "share-data-mpc-party-0"}`,
		},
		"reads an empty claim for a VolumeSnapshot of existing content": {
			kind: snapshotKind,
			obj:  `{"metadata": {"name": "copy", "namespace": "ns"}, "spec": {"source": {"volumeSnapshotContentName": "content"}}}`,
			want: `"snapshot": {"claim": ""}`,
		},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			got, class, err := buildInput(Request{Operation: Create, Kind: tc.kind, Object: []byte(tc.obj)}, nil)
			require.NoError(t, err)
			assert.Equal(t, vocab.ClassStorage, class)
			assert.JSONEq(t, `{"operation": "CREATE", "kind": "`+tc.kind.Kind+`", "subresource": "", "namespace": "ns",
				"name": "copy", "dry_run": false, `+tc.want+`}`, inputJSON(t, got))
		})
	}
}

func TestBuildInputUser(t *testing.T) {
	obj := []byte(`{"metadata": {"name": "p-0"}}`)
	tests := map[string]struct {
		user *User
		want string // input.user, or "" for absent
	}{
		"carries the requesting user and groups": {
			user: &User{Username: "system:serviceaccount:kube-system:statefulset-controller",
				Groups: []string{"system:serviceaccounts", "system:serviceaccounts:kube-system", "system:authenticated"}},
			want: `{"username": "system:serviceaccount:kube-system:statefulset-controller",
				"groups": ["system:serviceaccounts", "system:serviceaccounts:kube-system", "system:authenticated"]}`,
		},
		"gives a user without groups an empty list": {
			user: &User{Username: "alice"},
			want: `{"username": "alice", "groups": []}`,
		},
		"carries an empty user as it is, never as no user": {
			user: &User{},
			want: `{"username": "", "groups": []}`,
		},
		"leaves the user absent offline": {},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			got, _, err := buildInput(Request{Operation: Create, Kind: podKind, Namespace: "ns", User: tc.user, Object: obj}, nil)
			require.NoError(t, err)
			user := inputField(t, inputJSON(t, got), "user")
			if tc.want == "" {
				assert.Empty(t, user)
				return
			}
			assert.JSONEq(t, tc.want, user)
		})
	}
}

func TestBuildInputNewReadersNameTheBadField(t *testing.T) {
	pod := func(spec string) []byte { return []byte(`{"metadata": {"name": "p"}, "spec": ` + spec + `}`) }
	tests := map[string]struct {
		req     Request
		wantMsg string
	}{
		"a hostPath path that is not a string": {
			req:     Request{Operation: Create, Kind: podKind, Object: pod(`{"volumes": [{"name": "h", "hostPath": {"path": 1}}]}`)},
			wantMsg: "spec.volumes[0].hostPath.path: want a string, got number",
		},
		"a hostPath that is not an object": {
			req:     Request{Operation: Create, Kind: podKind, Object: pod(`{"volumes": [{"name": "h", "hostPath": "/"}]}`)},
			wantMsg: "spec.volumes[0].hostPath: want an object, got string",
		},
		"a CSI nodePublishSecretRef name that is not a string": {
			req: Request{Operation: Create, Kind: podKind,
				Object: pod(`{"volumes": [{"name": "c"}, {"name": "c2", "csi": {"nodePublishSecretRef": {"name": ["mpc-db"]}}}]}`)},
			wantMsg: "spec.volumes[1].csi.nodePublishSecretRef.name: want a string, got array",
		},
		"an rbd secretRef that is not an object": {
			req:     Request{Operation: Create, Kind: podKind, Object: pod(`{"volumes": [{"name": "r", "rbd": {"secretRef": "mpc-db"}}]}`)},
			wantMsg: "spec.volumes[0].rbd.secretRef: want an object, got string",
		},
		"an azureFile secretName that is not a string": {
			req:     Request{Operation: Create, Kind: podKind, Object: pod(`{"volumes": [{"name": "a", "azureFile": {"secretName": false}}]}`)},
			wantMsg: "spec.volumes[0].azureFile.secretName: want a string, got false",
		},
		"an ephemeral volume's dataSource kind that is not a string": {
			req: Request{Operation: Create, Kind: podKind, Object: pod(`{"volumes": [{"name": "e", "ephemeral": {"volumeClaimTemplate":
				{"spec": {"dataSourceRef": {"kind": 3, "name": "x"}}}}}]}`)},
			wantMsg: "spec.volumes[0].ephemeral.volumeClaimTemplate.spec.dataSourceRef.kind: want a string, got number",
		},
		"an ephemeral container list that is not an array": {
			req:     Request{Operation: Create, Kind: podKind, Object: pod(`{"ephemeralContainers": {"name": "d"}}`)},
			wantMsg: "spec.ephemeralContainers: want an array, got object",
		},
		"an owner reference that is not an object": {
			req:     Request{Operation: Create, Kind: podKind, Object: []byte(`{"metadata": {"ownerReferences": ["StatefulSet/mpc-party"]}}`)},
			wantMsg: "metadata.ownerReferences[0]: want an object, got string",
		},
		"a controller owner's kind that is not a string": {
			req: Request{Operation: Create, Kind: podKind,
				Object: []byte(`{"metadata": {"ownerReferences": [{"kind": {}, "name": "x", "controller": true}]}}`)},
			wantMsg: "metadata.ownerReferences[0].kind: want a string, got object",
		},
		"a bad field of the old pod": {
			req: Request{Operation: Update, Kind: podKind, Object: pod(`{}`),
				OldObject: pod(`{"volumes": [{"name": "h", "hostPath": {"path": 1}}]}`)},
			wantMsg: "Pod oldObject: spec.volumes[0].hostPath.path",
		},
		"a volumeClaimTemplate's dataSource that is not an object": {
			req: Request{Operation: Create, Kind: schema.GroupVersionKind{Group: "apps", Version: "v1", Kind: "StatefulSet"},
				Object: []byte(`{"metadata": {"name": "s"}, "spec": {"volumeClaimTemplates": [{"metadata": {"name": "d"}, "spec": {"dataSource": "x"}}]}}`)},
			wantMsg: "spec.volumeClaimTemplates[0].spec.dataSource: want an object, got string",
		},
		"a Binding label that is not a string": {
			req:     Request{Operation: Create, Kind: bindingKind, Object: []byte(`{"metadata": {"labels": {"party-role": true}}}`)},
			wantMsg: "Binding object: metadata.labels.party-role: want a string, got true",
		},
		"a Binding that is not an object": {
			req:     Request{Operation: Create, Kind: bindingKind, Object: []byte(`"p-0"`)},
			wantMsg: "Binding object: want a JSON object, got string",
		},
		"a claim's dataSource name that is not a string": {
			req:     Request{Operation: Create, Kind: claimKind, Object: []byte(`{"spec": {"dataSource": {"kind": "PersistentVolumeClaim", "name": 0}}}`)},
			wantMsg: "PersistentVolumeClaim object: spec.dataSource.name: want a string, got number",
		},
		"a snapshot's source claim that is not a string": {
			req:     Request{Operation: Create, Kind: snapshotKind, Object: []byte(`{"spec": {"source": {"persistentVolumeClaimName": ["a"]}}}`)},
			wantMsg: "VolumeSnapshot object: spec.source.persistentVolumeClaimName: want a string, got array",
		},
		"a snapshot's source that is not an object": {
			req:     Request{Operation: Create, Kind: snapshotKind, Object: []byte(`{"spec": {"source": "share-data-mpc-party-0"}}`)},
			wantMsg: "spec.source: want an object, got string",
		},
		"a session whose metadata is not an object (its spec is not read for errors)": {
			req:     Request{Operation: Create, Kind: sessionKind, Object: []byte(`{"metadata": [], "spec": {"threshold": "x"}}`)},
			wantMsg: "MPCSession object: metadata: want an object, got array",
		},
		"a malformed old session on UPDATE": {
			req: Request{Operation: Update, Kind: sessionKind, Object: []byte(`{"spec": {}}`),
				OldObject: []byte(`{"spec": `)},
			wantMsg: "MPCSession oldObject: malformed JSON",
		},
	}
	for name, tc := range tests {
		t.Run("rejects "+name, func(t *testing.T) {
			got, _, err := buildInput(tc.req, nil)
			require.ErrorIs(t, err, ErrDecode)
			assert.Nil(t, got)
			assert.Contains(t, err.Error(), tc.wantMsg)
		})
	}
}

func TestBuildInputIgnoresOperationsOfTheNewClasses(t *testing.T) {
	tests := map[string]Request{
		"ignores a CREATE carrying exec options":  {Operation: Create, Kind: execKind, Object: []byte(`{}`)},
		"ignores a DELETE of a snapshot":          {Operation: Delete, Kind: snapshotKind},
		"ignores a DELETE of a Deployment":        {Operation: Delete, Kind: schema.GroupVersionKind{Group: "apps", Version: "v1", Kind: "Deployment"}},
		"ignores a CREATE of a Secret":            {Operation: Create, Kind: schema.GroupVersionKind{Version: "v1", Kind: "Secret"}, Object: []byte(`{}`)},
		"ignores an UPDATE of a Secret":           {Operation: Update, Kind: schema.GroupVersionKind{Version: "v1", Kind: "Secret"}, Object: []byte(`{}`)},
		"ignores a CONNECT that names a Binding":  {Operation: Connect, Kind: bindingKind},
		"ignores a CONNECT that names a claim":    {Operation: Connect, Kind: claimKind},
		"ignores a CONNECT to a pod's own kind":   {Operation: Connect, Kind: podKind, Subresource: "exec"},
		"ignores a CONNECT of an unreviewed kind": {Operation: Connect, Kind: schema.GroupVersionKind{Version: "v1", Kind: "NodeProxyOptions"}},
		"ignores exec options of another version": {Operation: Connect, Kind: schema.GroupVersionKind{Version: "v2", Kind: "PodExecOptions"}},
	}
	for name, req := range tests {
		t.Run(name, func(t *testing.T) {
			inv := &recordingInventory{ok: true}
			got, class, err := buildInput(req, inv)
			require.NoError(t, err)
			assert.Nil(t, got)
			assert.Empty(t, class)
			assert.Empty(t, inv.asked)
		})
	}
}

func TestBuildInputConnectNamesThePodBehindAProxyName(t *testing.T) {
	proxy := schema.GroupVersionKind{Version: "v1", Kind: "PodProxyOptions"}
	tests := map[string]struct {
		name, want string
	}{
		"a bare pod name":                   {name: "mpc-party-0", want: "mpc-party-0"},
		"a pod name and a port":             {name: "mpc-party-0:8443", want: "mpc-party-0"},
		"a scheme, a pod name and a port":   {name: "https:mpc-party-0:8443", want: "mpc-party-0"},
		"a scheme and a pod name, no port":  {name: "http:mpc-party-0:", want: "mpc-party-0"},
		"a form the API server refuses too": {name: "ftp:mpc-party-0:21", want: "ftp:mpc-party-0:21"},
	}
	for name, tc := range tests {
		t.Run("looks up the role of "+name, func(t *testing.T) {
			inv := &recordingInventory{role: "persistent", ok: true}
			got, _, err := buildInput(Request{Operation: Connect, Kind: proxy, Subresource: "proxy", Namespace: "mpc-system", Name: tc.name}, inv)
			require.NoError(t, err)
			assert.Equal(t, []string{"mpc-system/" + tc.want}, inv.asked)
			assert.JSONEq(t, `"`+tc.want+`"`, inputField(t, inputJSON(t, got), "name"))
		})
	}
}

func TestBuildInputReadsAParsedObjectAsItReadsItsJSON(t *testing.T) {
	pod := `{"metadata": {"name": "p-0", "labels": {"app.kubernetes.io/component": "mpc-party", "party-role": "delegate"},
		"ownerReferences": [{"kind": "StatefulSet", "name": "s", "controller": true}]},
		"spec": {"volumes": [{"name": "h", "hostPath": {"path": "/x"}}, {"name": "c", "csi": {"nodePublishSecretRef": {"name": "mpc-db"}}}],
			"ephemeralContainers": [{"name": "d"}]}}`
	tests := map[string]Request{
		"a pod update": {Operation: Update, Kind: podKind, Subresource: "ephemeralcontainers", Namespace: "ns",
			Object: []byte(pod), OldObject: []byte(`{"metadata": {"name": "p-0", "labels": {"party-role": "delegate"}}}`)},
		"a StatefulSet": {Operation: Create, Kind: schema.GroupVersionKind{Group: "apps", Version: "v1", Kind: "StatefulSet"}, Namespace: "ns",
			Object: []byte(`{"metadata": {"name": "s"}, "spec": {"template": ` + pod + `,
				"volumeClaimTemplates": [{"metadata": {"name": "d"}, "spec": {"dataSource": {"kind": "PersistentVolumeClaim", "name": "x"}}}]}}`)},
		"a session update": {Operation: Update, Kind: sessionKind, Namespace: "ns",
			Object:    []byte(`{"metadata": {"name": "s"}, "spec": {"type": "sign", "threshold": {"t": 2.0, "n": 3}, "Extra": [null, true]}}`),
			OldObject: []byte(`{"metadata": {"name": "s"}, "spec": {"type": "keygen"}}`)},
		"a Binding":  {Operation: Create, Kind: bindingKind, Namespace: "ns", Object: []byte(`{"metadata": {"name": "p", "labels": {"a": "b"}}}`)},
		"a claim":    {Operation: Create, Kind: claimKind, Namespace: "ns", Object: []byte(`{"metadata": {"name": "c"}, "spec": {"dataSourceRef": {"kind": "VolumeSnapshot", "name": "v"}}}`)},
		"a snapshot": {Operation: Create, Kind: snapshotKind, Namespace: "ns", Object: []byte(`{"metadata": {"name": "v"}, "spec": {"source": {"persistentVolumeClaimName": "c"}}}`)},
	}
	for name, req := range tests {
		t.Run("reads "+name, func(t *testing.T) {
			want, wantClass, err := buildInput(req, nil)
			require.NoError(t, err)
			var p, q fastjson.Parser
			parsed := req
			parsed.Object, parsed.OldObject = nil, nil
			parsed.ObjectValue, err = p.ParseBytes(req.Object)
			require.NoError(t, err)
			if req.OldObject != nil {
				parsed.OldObjectValue, err = q.ParseBytes(req.OldObject)
				require.NoError(t, err)
			}
			got, gotClass, err := buildInput(parsed, nil)
			require.NoError(t, err)
			assert.Equal(t, wantClass, gotClass)
			assert.JSONEq(t, inputJSON(t, want), inputJSON(t, got))
		})
	}
	t.Run("refuses a parsed value that is not an object", func(t *testing.T) {
		var p fastjson.Parser
		v, err := p.Parse(`[1]`)
		require.NoError(t, err)
		got, _, err := buildInput(Request{Operation: Create, Kind: podKind, ObjectValue: v}, nil)
		require.ErrorIs(t, err, ErrDecode)
		assert.Nil(t, got)
		assert.Contains(t, err.Error(), "Pod object: want a JSON object, got array")
	})
}

func TestBuildInputQuorumAndDeletion(t *testing.T) {
	stsKind := schema.GroupVersionKind{Group: "apps", Version: "v1", Kind: "StatefulSet"}
	scaleKind := schema.GroupVersionKind{Group: "autoscaling", Version: "v1", Kind: "Scale"}
	secretKind := schema.GroupVersionKind{Version: "v1", Kind: "Secret"}
	scale := func(spec string) []byte {
		return []byte(`{"apiVersion": "autoscaling/v1", "kind": "Scale", "metadata": {"name": "p", "namespace": "ns"}, "spec": ` + spec + `}`)
	}
	user := &User{Username: "alice", Groups: []string{"g"}}
	tests := map[string]struct {
		req  Request
		want string
	}{
		"reads a scale subresource's replicas and the old ones": {
			req: Request{Operation: Update, Kind: scaleKind, Subresource: "scale", Object: scale(`{"replicas": 1}`), OldObject: scale(`{"replicas": 3}`)},
			want: `{"operation": "UPDATE", "kind": "Scale", "subresource": "scale", "namespace": "ns", "name": "p", "dry_run": false,
				"replicas": 1, "old_replicas": 3}`,
		},
		"reads a Scale without spec.replicas as zero, which autoscaling/v1 omits": {
			req: Request{Operation: Update, Kind: scaleKind, Subresource: "scale", Object: scale(`{}`), OldObject: scale(`{"replicas": 2}`)},
			want: `{"operation": "UPDATE", "kind": "Scale", "subresource": "scale", "namespace": "ns", "name": "p", "dry_run": false,
				"replicas": 0, "old_replicas": 2}`,
		},
		"reads a StatefulSet's replicas on UPDATE, and the old ones": {
			req: Request{Operation: Update, Kind: stsKind,
				Object:    []byte(`{"metadata": {"name": "p", "namespace": "ns"}, "spec": {"replicas": 2}}`),
				OldObject: []byte(`{"metadata": {"name": "p", "namespace": "ns"}, "spec": {}}`)},
			want: `{"operation": "UPDATE", "kind": "StatefulSet", "subresource": "", "namespace": "ns", "name": "p", "dry_run": false,
				"replicas": 2, "old_replicas": 1}`,
		},
		"reads a deleted StatefulSet's template and break-glass reason from the old object": {
			req: Request{Operation: Delete, Kind: stsKind, Namespace: "ns", Name: "p", User: user,
				OldObject: []byte(`{"metadata": {"name": "p", "namespace": "ns", "annotations": {"mpcguard.io/break-glass": "INC-1", "other": "x"}},
					"spec": {"replicas": 3, "template": {"metadata": {"labels": {"party-role": "persistent"}}}}}`)},
			want: `{"operation": "DELETE", "kind": "StatefulSet", "subresource": "", "namespace": "ns", "name": "p", "dry_run": false,
				"break_glass_reason": "INC-1", "user": {"username": "alice", "groups": ["g"]},
				"template": {"labels": {"party-role": "persistent"}, "claims": [], "secrets": [], "host_paths": [], "clones": [], "ephemeral_containers": 0}}`,
		},
		"reads only a deleted Secret's name and annotation, never its data": {
			req: Request{Operation: Delete, Kind: secretKind, Namespace: "ns", Name: "mpc-db",
				OldObject: []byte(`{"metadata": {"name": "mpc-db", "namespace": "ns"}, "data": {"share": "c2VjcmV0"}}`)},
			want: `{"operation": "DELETE", "kind": "Secret", "subresource": "", "namespace": "ns", "name": "mpc-db", "dry_run": false}`,
		},
		"names a deletion by the request when the old object is not sent": {
			req:  Request{Operation: Delete, Kind: claimKind, Namespace: "ns", Name: "share-data-p-0"},
			want: `{"operation": "DELETE", "kind": "PersistentVolumeClaim", "subresource": "", "namespace": "ns", "name": "share-data-p-0", "dry_run": false}`,
		},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			got, _, err := buildInput(tc.req, nil)
			require.NoError(t, err)
			assert.JSONEq(t, tc.want, inputJSON(t, got))
		})
	}
}

func TestBuildInputRejectsMalformedReplicasAndAnnotations(t *testing.T) {
	tests := map[string]struct {
		req     Request
		wantMsg string
	}{
		"negative replicas on a Scale": {
			req: Request{Operation: Update, Kind: schema.GroupVersionKind{Group: "autoscaling", Version: "v1", Kind: "Scale"},
				Object: []byte(`{"spec": {"replicas": -1}}`)},
			wantMsg: "Scale object: spec.replicas: want a whole number of replicas",
		},
		"fractional replicas on a StatefulSet": {
			req: Request{Operation: Update, Kind: schema.GroupVersionKind{Group: "apps", Version: "v1", Kind: "StatefulSet"},
				Object: []byte(`{"spec": {"replicas": 1.5}}`)},
			wantMsg: "StatefulSet object: spec.replicas: want a whole number of replicas",
		},
		"a break-glass annotation that is no string": {
			req: Request{Operation: Delete, Kind: claimKind, Name: "c",
				OldObject: []byte(`{"metadata": {"annotations": {"mpcguard.io/break-glass": true}}}`)},
			wantMsg: "PersistentVolumeClaim oldObject: metadata.annotations.mpcguard.io/break-glass: want a string",
		},
	}
	for name, tc := range tests {
		t.Run("rejects "+name, func(t *testing.T) {
			got, _, err := buildInput(tc.req, nil)
			require.ErrorIs(t, err, ErrDecode)
			assert.Nil(t, got)
			assert.Contains(t, err.Error(), tc.wantMsg)
		})
	}
}
