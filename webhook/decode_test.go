package webhook

import (
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// reviewWith is an AdmissionReview of a pods/exec CONNECT whose request carries extra members (JSON, no
// leading comma).
func reviewWith(extra string) []byte {
	return []byte(`{"apiVersion": "admission.k8s.io/v1", "kind": "AdmissionReview", "request": {
		"uid": "u-1", "kind": {"group": "", "version": "v1", "kind": "PodExecOptions"},
		"resource": {"group": "", "version": "v1", "resource": "pods"},
		"name": "mpc-party-0", "namespace": "mpc-system", "operation": "CONNECT"` + extra + `}}`)
}

func TestDecodeReviewReadsSubresourceAndUserInfo(t *testing.T) {
	tests := map[string]struct {
		extra       string
		subresource string
		username    string
		groups      []string
	}{
		"reads the subresource, the username and the groups": {
			extra: `, "subResource": "exec", "requestSubResource": "exec",
				"userInfo": {"username": "alice", "uid": "42", "groups": ["system:authenticated", "mpcguard:break-glass"],
					"extra": {"authentication.kubernetes.io/credential-id": ["X509SHA256=abc"]}}`,
			subresource: "exec", username: "alice", groups: []string{"system:authenticated", "mpcguard:break-glass"},
		},
		"reads a user without groups": {
			extra:       `, "subResource": "status", "userInfo": {"username": "system:kube-scheduler"}`,
			subresource: "status", username: "system:kube-scheduler",
		},
		"reads null groups as none": {
			extra:    `, "userInfo": {"username": "bob", "groups": null}`,
			username: "bob",
		},
		"reads an empty group list as none": {
			extra:    `, "userInfo": {"username": "bob", "groups": []}`,
			username: "bob", groups: []string{},
		},
		"reads no subresource and no user as empty": {},
		"reads a null userInfo and subResource as absent": {
			extra: `, "subResource": null, "userInfo": null`,
		},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			sc := scratches.Get().(*scratch)
			defer sc.release()
			rv, err := decodeReview(reviewWith(tc.extra), sc)
			require.NoError(t, err)
			require.NotNil(t, rv.Request)
			assert.Equal(t, tc.subresource, rv.Request.SubResource)
			assert.Equal(t, tc.username, rv.Request.UserInfo.Username)
			assert.Equal(t, tc.groups, rv.Request.UserInfo.Groups)
		})
	}
}

func TestDecodeReviewChecksTheTypesOfSubresourceAndUserInfo(t *testing.T) {
	tests := map[string]struct {
		extra, want string
	}{
		"refuses a subresource that is not a string": {
			extra: `, "subResource": ["exec"]`,
			want:  "request.subResource: want a string, got array",
		},
		"refuses a userInfo that is not an object": {
			extra: `, "userInfo": "alice"`,
			want:  "request.userInfo: want an object, got string",
		},
		"refuses a username that is not a string": {
			extra: `, "userInfo": {"username": 7}`,
			want:  "request.userInfo.username: want a string, got number",
		},
		"refuses groups that are not an array": {
			extra: `, "userInfo": {"username": "alice", "groups": "mpcguard:break-glass"}`,
			want:  "request.userInfo.groups: want an array, got string",
		},
		"refuses a group that is not a string, naming its index": {
			extra: `, "userInfo": {"username": "alice", "groups": ["system:authenticated", {"name": "mpcguard:break-glass"}]}`,
			want:  "request.userInfo.groups[1]: want a string, got object",
		},
		"refuses a null group rather than reading it as no group": {
			extra: `, "userInfo": {"username": "alice", "groups": [null]}`,
			want:  "request.userInfo.groups[0]: want a string, got null",
		},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			sc := scratches.Get().(*scratch)
			defer sc.release()
			rv, err := decodeReview(reviewWith(tc.extra), sc)
			require.ErrorIs(t, err, errBadRequest)
			assert.Nil(t, rv)
			assert.Contains(t, err.Error(), tc.want)
		})
	}
}
