package engine_test

import (
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"k8s.io/apimachinery/pkg/runtime/schema"

	"github.com/mpcguard/mpcguard/policies/engine"
)

var (
	bindingGVK  = schema.GroupVersionKind{Version: "v1", Kind: "Binding"}
	claimGVK    = schema.GroupVersionKind{Version: "v1", Kind: "PersistentVolumeClaim"}
	snapshotGVK = schema.GroupVersionKind{Group: "snapshot.storage.k8s.io", Version: "v1", Kind: "VolumeSnapshot"}
)

func connectGVK(kind string) schema.GroupVersionKind {
	return schema.GroupVersionKind{Version: "v1", Kind: kind}
}

// rawPod is the pod p-0 in mpc-system with labels (JSON) and spec (JSON), and a StatefulSet mpc-party as its controller.
func rawPod(labels, spec string) []byte {
	return []byte(`{"apiVersion": "v1", "kind": "Pod", "metadata": {"name": "p-0", "namespace": "mpc-system", "labels": ` + labels + `,
		"ownerReferences": [{"apiVersion": "apps/v1", "kind": "StatefulSet", "name": "mpc-party", "uid": "u", "controller": true}]},
		"spec": ` + spec + `}`)
}

const (
	delegateLabels   = `{"app.kubernetes.io/component": "mpc-party", "party-role": "delegate"}`
	persistentLabels = `{"app.kubernetes.io/component": "mpc-party", "party-role": "persistent"}`
	podSpecJSON      = `{"containers": [{"name": "party", "image": "mpc/party:1.0"}]}`
	debugSpecJSON    = `{"containers": [{"name": "party", "image": "mpc/party:1.0"}], "ephemeralContainers": [{"name": "debugger", "image": "busybox"}]}`
)

func subresourceUpdate(sub string, oldObj, obj []byte) engine.Request {
	return engine.Request{Operation: engine.Update, Kind: podGVK, Subresource: sub, Namespace: "mpc-system", Name: "p-0",
		Object: obj, OldObject: oldObj}
}

func connect(kind, sub string) engine.Request {
	return engine.Request{Operation: engine.Connect, Kind: connectGVK(kind), Subresource: sub, Namespace: "mpc-system", Name: "mpc-party-0",
		Object: []byte(`{"kind": "` + kind + `", "apiVersion": "v1"}`)}
}

func binding(labels string) engine.Request {
	return engine.Request{Operation: engine.Create, Kind: bindingGVK, Subresource: "binding", Namespace: "mpc-system", Name: "p-0",
		Object: []byte(`{"apiVersion": "v1", "kind": "Binding", "metadata": {"name": "p-0", "namespace": "mpc-system", "labels": ` + labels + `},
			"target": {"apiVersion": "v1", "kind": "Node", "name": "node-1"}}`)}
}

func claim(spec string) engine.Request {
	return engine.Request{Operation: engine.Create, Kind: claimGVK, Namespace: "mpc-system",
		Object: []byte(`{"apiVersion": "v1", "kind": "PersistentVolumeClaim", "metadata": {"name": "copy", "namespace": "mpc-system"},
			"spec": ` + spec + `}`)}
}

func snapshot(claim string) engine.Request {
	return engine.Request{Operation: engine.Create, Kind: snapshotGVK, Namespace: "mpc-system",
		Object: []byte(`{"apiVersion": "snapshot.storage.k8s.io/v1", "kind": "VolumeSnapshot", "metadata": {"name": "copy", "namespace": "mpc-system"},
			"spec": {"volumeSnapshotClassName": "csi", "source": {"persistentVolumeClaimName": "` + claim + `"}}}`)}
}

// roles is an available inventory that knows mpc-party-0 as persistent and mpc-party-delegate-0 as delegate.
var roles = fakeInventory{ready: 3, ok: true, roles: map[string]string{
	"mpc-system/mpc-party-0": "persistent", "mpc-system/mpc-party-delegate-0": "delegate"}}

func TestReviewClosesTheRoadsAroundTheRoles(t *testing.T) {
	const breakGlass = "mpcguard:break-glass"
	tests := map[string]struct {
		req                 engine.Request
		inv                 engine.Inventory // nil: roles
		noInventory         bool
		object              string
		deny, warn, skipped []want
	}{
		// party-persistent-origin
		"admits a persistent party pod of a StatefulSet offline, reporting the creator check as skipped": {
			req: ownedBy(t, createPod(t, party("persistent")), "StatefulSet", "mpc-party"), object: "Pod mpc-system/p-0",
			skipped: []want{{"party-persistent-origin", "[party-persistent-origin] Pod mpc-system/p-0: creator identity not checked: no user in the request (admission checks it)"}},
		},
		"admits a persistent party pod that kube-controller-manager creates under its own identity": {
			req: by(ownedBy(t, createPod(t, party("persistent")), "StatefulSet", "mpc-party"), "system:kube-controller-manager"),
		},
		"denies a persistent party pod a user creates, even with a StatefulSet owner": {
			req: by(ownedBy(t, createPod(t, party("persistent")), "StatefulSet", "mpc-party"), "alice", "system:authenticated"), object: "Pod mpc-system/p-0",
			deny: []want{{"party-persistent-origin", "[party-persistent-origin] Pod mpc-system/p-0: a persistent party pod may only be created by the StatefulSet controller (system:serviceaccount:kube-system:statefulset-controller, system:kube-controller-manager), not by \"alice\"; scale the persistent pool instead"}},
		},
		"denies a persistent party pod a break-glass user creates: break glass reaches in, it does not mint parties": {
			req: by(ownedBy(t, createPod(t, party("persistent")), "StatefulSet", "mpc-party"), "alice", breakGlass), object: "Pod mpc-system/p-0",
			deny: ids("party-persistent-origin"),
		},
		"denies a persistent party pod without a controller owner, offline too": {
			req: createPod(t, party("persistent")), object: "Pod mpc-system/p-0",
			deny:    []want{{"party-persistent-origin", "[party-persistent-origin] Pod mpc-system/p-0: a persistent party pod must be created by a StatefulSet (its controller owner: none); run persistent parties only in the persistent pool"}},
			skipped: ids("party-persistent-origin"),
		},
		"denies a persistent party pod of a ReplicaSet, even one the controller identity creates": {
			req: by(ownedBy(t, createPod(t, party("persistent")), "ReplicaSet", "mpc-party-7d9f8"), statefulSetController), object: "Pod mpc-system/p-0",
			deny: []want{{"party-persistent-origin", "[party-persistent-origin] Pod mpc-system/p-0: a persistent party pod must be created by a StatefulSet (its controller owner: ReplicaSet mpc-party-7d9f8); run persistent parties only in the persistent pool"}},
		},
		"admits a delegate party pod of any origin": {
			req: by(createPod(t, party("delegate")), "alice"),
		},
		"denies a pod that becomes a persistent party through pods/status": {
			req:    subresourceUpdate("status", rawPod(`{"party-role": "persistent"}`, podSpecJSON), rawPod(persistentLabels, podSpecJSON)),
			object: "Pod mpc-system/p-0 (status)",
			deny:   []want{{"party-persistent-origin", "[party-persistent-origin] Pod mpc-system/p-0 (status): a pod cannot become a persistent party by an update (app.kubernetes.io/component=mpc-party and party-role=persistent added); persistent parties are created by the persistent pool"}},
		},
		"denies a role change through pods/status": {
			req:    subresourceUpdate("status", rawPod(delegateLabels, podSpecJSON), rawPod(persistentLabels, podSpecJSON)),
			object: "Pod mpc-system/p-0 (status)",
			deny:   ids("party-persistent-origin", "party-role-immutable"),
		},
		"admits a pods/status update that leaves the labels alone": {
			req: subresourceUpdate("status", rawPod(persistentLabels, podSpecJSON), rawPod(persistentLabels, podSpecJSON)),
		},
		// party-access: debug containers
		"denies a debug container added to a persistent party": {
			req:    by(subresourceUpdate("ephemeralcontainers", rawPod(persistentLabels, podSpecJSON), rawPod(persistentLabels, debugSpecJSON)), "alice", "system:authenticated"),
			object: "Pod mpc-system/p-0 (ephemeralcontainers)",
			deny:   []want{{"party-access", "[party-access] Pod mpc-system/p-0 (ephemeralcontainers): a debug container in a persistent party reaches its key shares; only members of mpcguard:break-glass may add one (break glass: kubectl debug ... --as=<you> --as-group=<group>, recorded in the audit log)"}},
		},
		"denies a debug container added to a persistent party offline, where nobody is in a break-glass group": {
			req:    subresourceUpdate("ephemeralcontainers", rawPod(persistentLabels, podSpecJSON), rawPod(persistentLabels, debugSpecJSON)),
			object: "Pod mpc-system/p-0 (ephemeralcontainers)",
			deny:   ids("party-access"),
		},
		"denies a debug container added to a pod that carries the persistent role without the party label (it still holds its shares)": {
			req:    by(subresourceUpdate("ephemeralcontainers", rawPod(`{"party-role": "persistent"}`, podSpecJSON), rawPod(`{"party-role": "persistent"}`, debugSpecJSON)), "alice"),
			object: "Pod mpc-system/p-0 (ephemeralcontainers)",
			deny:   ids("party-access"),
		},
		"admits a debug container a break-glass user adds to a persistent party": {
			req: by(subresourceUpdate("ephemeralcontainers", rawPod(persistentLabels, podSpecJSON), rawPod(persistentLabels, debugSpecJSON)), "alice", breakGlass),
		},
		"admits a debug container added to a delegate party": {
			req: by(subresourceUpdate("ephemeralcontainers", rawPod(delegateLabels, podSpecJSON), rawPod(delegateLabels, debugSpecJSON)), "alice"),
		},
		"denies a debug container that reads the share secret into a delegate party": {
			req: by(subresourceUpdate("ephemeralcontainers", rawPod(delegateLabels, podSpecJSON), rawPod(delegateLabels,
				`{"containers": [{"name": "party"}], "ephemeralContainers": [{"name": "d", "envFrom": [{"secretRef": {"name": "mpc-db"}}]}]}`)), "alice"),
			object: "Pod mpc-system/p-0 (ephemeralcontainers)",
			deny:   []want{{"delegate-no-share-storage", "[delegate-no-share-storage] Pod mpc-system/p-0 (ephemeralcontainers): delegate party uses the persistent pool's share storage (Secret mpc-db); remove those volumes and env references: only persistent parties may hold key shares"}},
		},
		// party-access: CONNECT
		"denies exec into a persistent party": {
			req: by(connect("PodExecOptions", "exec"), "alice", "system:authenticated"), object: "Pod mpc-system/mpc-party-0 (exec)",
			deny: []want{{"party-access", "[party-access] Pod mpc-system/mpc-party-0 (exec): exec into a persistent party reaches its key shares; only members of mpcguard:break-glass may (break glass: kubectl ... --as=<you> --as-group=<group>, recorded in the audit log)"}},
		},
		"denies attach, port-forward and proxy into a persistent party": {
			req: by(connect("PodPortForwardOptions", "portforward"), "alice"), object: "Pod mpc-system/mpc-party-0 (portforward)",
			deny: []want{{"party-access", "[party-access] Pod mpc-system/mpc-party-0 (portforward): portforward into a persistent party reaches its key shares; only members of mpcguard:break-glass may (break glass: kubectl ... --as=<you> --as-group=<group>, recorded in the audit log)"}},
		},
		"denies attach into a persistent party": {
			req: by(connect("PodAttachOptions", "attach"), "alice"), object: "Pod mpc-system/mpc-party-0 (attach)", deny: ids("party-access"),
		},
		"denies proxy into a persistent party": {
			req: by(connect("PodProxyOptions", "proxy"), "alice"), object: "Pod mpc-system/mpc-party-0 (proxy)", deny: ids("party-access"),
		},
		"denies proxy into a persistent party named with a scheme and a port, as the API server's pod proxy names it": {
			req: by(func() engine.Request {
				r := connect("PodProxyOptions", "proxy")
				r.Name = "https:mpc-party-0:8443"
				return r
			}(), "alice"),
			object: "Pod mpc-system/mpc-party-0 (proxy)", deny: ids("party-access"),
		},
		"admits exec into a persistent party by a break-glass user": {
			req: by(connect("PodExecOptions", "exec"), "alice", "system:authenticated", breakGlass),
		},
		"admits exec into a delegate party": {
			req: by(func() engine.Request {
				r := connect("PodExecOptions", "exec")
				r.Name = "mpc-party-delegate-0"
				return r
			}(), "alice"),
		},
		"admits exec into a pod the inventory does not know": {
			req: by(func() engine.Request { r := connect("PodExecOptions", "exec"); r.Name = "web-0"; return r }(), "alice"),
		},
		"reports exec as skipped when the inventory has not synced": {
			req: by(connect("PodExecOptions", "exec"), "alice"), inv: fakeInventory{ok: false}, object: "Pod mpc-system/mpc-party-0 (exec)",
			skipped: []want{{"party-access", "[party-access] Pod mpc-system/mpc-party-0 (exec): not checked: no cluster inventory to tell whether the pod is a persistent party (exec)"}},
		},
		"reports exec as skipped without any inventory": {
			req: by(connect("PodExecOptions", "exec"), "alice"), noInventory: true, object: "Pod mpc-system/mpc-party-0 (exec)",
			skipped: ids("party-access"),
		},
		// party-binding-labels
		"denies a Binding that sets the role label": {
			req: binding(`{"party-role": "persistent"}`), object: "Pod mpc-system/p-0 (binding)",
			deny: []want{{"party-binding-labels", "[party-binding-labels] Pod mpc-system/p-0 (binding): a Binding would set the pod's party-role label(s), which decide whether it is a party and its role; bind without those labels and set them when the pod is created"}},
		},
		"denies a Binding that sets a party selector label": {
			req: binding(`{"app.kubernetes.io/component": "mpc-party", "team": "a"}`), object: "Pod mpc-system/p-0 (binding)",
			deny: []want{{"party-binding-labels", "[party-binding-labels] Pod mpc-system/p-0 (binding): a Binding would set the pod's app.kubernetes.io/component label(s), which decide whether it is a party and its role; bind without those labels and set them when the pod is created"}},
		},
		"admits a Binding with other labels":                  {req: binding(`{"team": "a"}`)},
		"admits the scheduler's Binding, which has no labels": {req: binding(`null`)},
		// delegate-no-share-storage and share-storage-persistent-only through the new readers
		"denies a delegate party with a hostPath volume": {
			req:    engine.Request{Operation: engine.Create, Kind: podGVK, Namespace: "mpc-system", Object: rawPod(delegateLabels, `{"volumes": [{"name": "n", "hostPath": {"path": "/var/lib/kubelet"}}]}`)},
			object: "Pod mpc-system/p-0",
			deny:   []want{{"delegate-no-share-storage", "[delegate-no-share-storage] Pod mpc-system/p-0: delegate party uses the persistent pool's share storage (hostPath /var/lib/kubelet); remove those volumes and env references: only persistent parties may hold key shares"}},
		},
		"denies a delegate party whose CSI volume reads the share secret": {
			req: engine.Request{Operation: engine.Create, Kind: podGVK, Namespace: "mpc-system", Object: rawPod(delegateLabels,
				`{"volumes": [{"name": "c", "csi": {"driver": "secrets-store.csi.k8s.io", "nodePublishSecretRef": {"name": "mpc-db"}}}]}`)},
			object: "Pod mpc-system/p-0",
			deny:   []want{{"delegate-no-share-storage", "[delegate-no-share-storage] Pod mpc-system/p-0: delegate party uses the persistent pool's share storage (Secret mpc-db); remove those volumes and env references: only persistent parties may hold key shares"}},
		},
		"denies a pod outside the party selector whose rbd volume reads the share secret": {
			req: engine.Request{Operation: engine.Create, Kind: podGVK, Namespace: "mpc-system", Object: rawPod(`{"app": "web"}`,
				`{"volumes": [{"name": "r", "rbd": {"image": "i", "secretRef": {"name": "mpc-db"}}}, {"name": "h", "hostPath": {"path": "/var/log"}}]}`)},
			object: "Pod mpc-system/p-0",
			deny:   []want{{"share-storage-persistent-only", "[share-storage-persistent-only] Pod mpc-system/p-0: pod is not a party pod (app.kubernetes.io/component=mpc-party) but uses the persistent pool's share storage (Secret mpc-db); only persistent party pods of the persistent pool may hold key shares"}},
		},
		"admits a pod outside the party selector with a hostPath alone": {
			req: engine.Request{Operation: engine.Create, Kind: podGVK, Namespace: "mpc-system", Object: rawPod(`{"app": "log-agent"}`,
				`{"volumes": [{"name": "h", "hostPath": {"path": "/var/log"}}]}`)},
		},
		"admits a delegate party whose claim only starts like a share claim": {
			req: createPod(t, party("delegate"), "pvc:share-data-mpc-party-0-backup", "pvc:share-data-mpc-party-x1"),
		},
		// share-storage-copy
		"denies a pod whose ephemeral volume clones a share claim": {
			req: engine.Request{Operation: engine.Create, Kind: podGVK, Namespace: "mpc-system", Object: rawPod(`{"app": "web"}`,
				`{"volumes": [{"name": "e", "ephemeral": {"volumeClaimTemplate": {"spec": {"dataSourceRef": {"kind": "PersistentVolumeClaim", "name": "share-data-mpc-party-1"}}}}}]}`)},
			object: "Pod mpc-system/p-0",
			deny:   []want{{"share-storage-copy", "[share-storage-copy] Pod mpc-system/p-0: an ephemeral volume clones the persistent pool's share storage (PersistentVolumeClaim share-data-mpc-party-1); a copy of a key share outside the persistent pool is a leaked share"}},
		},
		"denies a StatefulSet whose volumeClaimTemplate clones a share claim": {
			req: engine.Request{Operation: engine.Create, Kind: workloadGVK("StatefulSet"), Namespace: "mpc-system", Object: []byte(`{
				"metadata": {"name": "copier", "namespace": "mpc-system"}, "spec": {
				"volumeClaimTemplates": [{"metadata": {"name": "data"}, "spec": {"dataSource": {"kind": "PersistentVolumeClaim", "name": "share-data-mpc-party-2"}}}],
				"template": {"metadata": {"labels": {"app": "copier"}}, "spec": {"containers": [{"name": "c"}]}}}}`)},
			object: "StatefulSet mpc-system/copier",
			deny:   []want{{"share-storage-copy", "[share-storage-copy] StatefulSet mpc-system/copier: a volume of the pod template clones the persistent pool's share storage (PersistentVolumeClaim share-data-mpc-party-2); a copy of a key share outside the persistent pool is a leaked share"}},
		},
		"denies a claim that clones a share claim": {
			req:    claim(`{"dataSource": {"kind": "PersistentVolumeClaim", "name": "share-data-mpc-party-0"}}`),
			object: "PersistentVolumeClaim mpc-system/copy",
			deny:   []want{{"share-storage-copy", "[share-storage-copy] PersistentVolumeClaim mpc-system/copy: claim clones the persistent pool's share storage (PersistentVolumeClaim share-data-mpc-party-0); a copy of a key share outside the persistent pool is a leaked share (break glass: members of mpcguard:break-glass)"}},
		},
		"denies a claim that clones a share claim through dataSourceRef": {
			req:    by(claim(`{"dataSourceRef": {"kind": "PersistentVolumeClaim", "name": "share-data-mpc-party-0"}}`), "alice"),
			object: "PersistentVolumeClaim mpc-system/copy",
			deny:   ids("share-storage-copy"),
		},
		"admits a claim a break-glass user clones from a share claim (a backup)": {
			req: by(claim(`{"dataSource": {"kind": "PersistentVolumeClaim", "name": "share-data-mpc-party-0"}}`), "alice", breakGlass),
		},
		"admits a claim that clones another claim": {
			req: claim(`{"dataSource": {"kind": "PersistentVolumeClaim", "name": "scratch-0"}}`),
		},
		"admits a claim without a data source": {req: claim(`{"accessModes": ["ReadWriteOnce"]}`)},
		"denies a snapshot of a share claim": {
			req: by(snapshot("share-data-mpc-party-0"), "alice"), object: "VolumeSnapshot mpc-system/copy",
			deny: []want{{"share-storage-copy", "[share-storage-copy] VolumeSnapshot mpc-system/copy: snapshot copies the share claim share-data-mpc-party-0; a copy of a key share outside the persistent pool is a leaked share (break glass: members of mpcguard:break-glass)"}},
		},
		"admits a snapshot a break-glass user takes of a share claim": {req: by(snapshot("share-data-mpc-party-0"), "alice", breakGlass)},
		"admits a snapshot of another claim":                          {req: snapshot("scratch-0")},
		// workloads of the persistent role
		"denies a Deployment whose template is a persistent party": {
			req: createWorkload(t, "Deployment", "mpc-party", party("persistent"), nil), object: "Deployment mpc-system/mpc-party",
			deny: []want{{"party-persistent-origin", "[party-persistent-origin] Deployment mpc-system/mpc-party: only a StatefulSet may run persistent parties; give this pod template a non-persistent role or add its pool to the persistent workloads"}},
		},
		// session-spec-valid
		"denies a session spec whose keys differ in case from the schema's": {
			req:    createSession(`{"type": "sign", "Threshold": {"t": 2, "n": 3}, "threshold": {"t": 2, "n": 3, "N": 3}}`),
			object: "MPCSession mpc-system/sign-42",
			deny:   []want{{"session-spec-valid", "[session-spec-valid] MPCSession mpc-system/sign-42: unknown field spec.Threshold (fields are case-sensitive: type, threshold, composition); unknown field spec.threshold.N (t and n are lower case); write the spec as the MPCSession CRD defines it"}},
		},
		"denies a session whose counts are strings, fractions or negative": {
			req:    createSession(`{"type": "sign", "threshold": {"t": "2", "n": 3}, "composition": {"persistent": 2.5, "delegate": -1}}`),
			object: "MPCSession mpc-system/sign-42",
			deny: []want{
				{"session-composition-nonempty", ""}, // the counts it cannot read are 0
				{"session-spec-valid", "[session-spec-valid] MPCSession mpc-system/sign-42: spec.composition.delegate is -1, not a whole number from 0; spec.composition.persistent is 2.5, not a whole number from 0; spec.threshold.t is 2, not a whole number from 1; write the spec as the MPCSession CRD defines it"},
				{"session-threshold-range", ""},
			},
		},
		"denies a session without a spec": {
			req: engine.Request{Operation: engine.Create, Kind: sessionGVK, Namespace: "mpc-system",
				Object: []byte(`{"metadata": {"name": "sign-42", "namespace": "mpc-system"}}`)},
			object: "MPCSession mpc-system/sign-42",
			deny:   []want{{"session-spec-valid", "[session-spec-valid] MPCSession mpc-system/sign-42: spec is missing or not an object; write the spec as the MPCSession CRD defines it"}},
		},
		"admits an UPDATE that leaves a legacy session's spec alone (a finalizer removed)": {
			req: engine.Request{Operation: engine.Update, Kind: sessionGVK, Namespace: "mpc-system", Name: "sign-42",
				Object: sessionJSON(`{"type": "sign", "threshold": {"t": 5, "n": 3}, "Extra": 1}`), OldObject: sessionJSON(`{"type": "sign", "threshold": {"t": 5, "n": 3}, "Extra": 1}`)},
			inv: fakeInventory{ok: true},
		},
	}
	eng := defaultEngine(t)
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			inv := tc.inv
			switch {
			case tc.noInventory:
				inv = nil
			case inv == nil:
				inv = roles
			}
			d, err := eng.Review(t.Context(), tc.req, inv)
			require.NoError(t, err)
			assert.True(t, d.Reviewed)
			assertResults(t, "deny", tc.deny, d.Deny, tc.object+": ")
			assertResults(t, "warn", tc.warn, d.Warn, tc.object+": ")
			assertResults(t, "skipped", tc.skipped, d.Skipped, tc.object+": ")
			for _, r := range append(append(d.Deny, d.Warn...), d.Skipped...) {
				assert.Equal(t, tc.object, r.Object)
				assert.Equal(t, "["+r.Policy+"] "+r.Object+": "+r.Detail, r.Message)
			}
		})
	}
}

func TestReviewPersistentWorkloadsAndControllerUsers(t *testing.T) {
	cfg := shareConfig()
	cfg.PersistentWorkloads = []string{"mpc-party"}
	cfg.ControllerUsers = []string{"system:serviceaccount:kube-system:statefulset-controller"}
	cfg.BreakGlassGroups = []string{"oncall", "security"}
	eng := newEngine(t, cfg)
	tests := map[string]struct {
		req  engine.Request
		deny []want
	}{
		"admits a persistent party of the configured StatefulSet": {
			req: persistentPod(t),
		},
		"denies a persistent party of another StatefulSet": {
			req:  by(ownedBy(t, createPod(t, party("persistent")), "StatefulSet", "mpc-party-copy"), statefulSetController),
			deny: []want{{"party-persistent-origin", "[party-persistent-origin] Pod mpc-system/p-0: a persistent party pod must be created by StatefulSet mpc-party (its controller owner: StatefulSet mpc-party-copy); run persistent parties only in the persistent pool"}},
		},
		"denies a persistent party that an identity no longer configured creates": {
			req:  by(ownedBy(t, createPod(t, party("persistent")), "StatefulSet", "mpc-party"), "system:kube-controller-manager"),
			deny: []want{{"party-persistent-origin", "[party-persistent-origin] Pod mpc-system/p-0: a persistent party pod may only be created by the StatefulSet controller (system:serviceaccount:kube-system:statefulset-controller), not by \"system:kube-controller-manager\"; scale the persistent pool instead"}},
		},
		"admits the configured persistent StatefulSet": {
			req: createWorkload(t, "StatefulSet", "mpc-party", party("persistent"), []string{"share-data"}),
		},
		"denies a persistent template in another StatefulSet": {
			req:  createWorkload(t, "StatefulSet", "mpc-party-copy", party("persistent"), nil),
			deny: []want{{"party-persistent-origin", "[party-persistent-origin] StatefulSet mpc-system/mpc-party-copy: only StatefulSet mpc-party may run persistent parties; give this pod template a non-persistent role or add its pool to the persistent workloads"}},
		},
		"denies exec by a member of the default break-glass group, which is no longer configured": {
			req:  by(connect("PodExecOptions", "exec"), "alice", "mpcguard:break-glass"),
			deny: []want{{"party-access", "[party-access] Pod mpc-system/mpc-party-0 (exec): exec into a persistent party reaches its key shares; only members of oncall, security may (break glass: kubectl ... --as=<you> --as-group=<group>, recorded in the audit log)"}},
		},
		"admits exec by a member of a configured break-glass group": {
			req: by(connect("PodExecOptions", "exec"), "alice", "security"),
		},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			d, err := eng.Review(t.Context(), tc.req, roles)
			require.NoError(t, err)
			assertResults(t, "deny", tc.deny, d.Deny, "")
			assert.Empty(t, d.Warn)
			assert.Empty(t, d.Skipped)
		})
	}
}
