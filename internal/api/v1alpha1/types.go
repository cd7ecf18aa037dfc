package v1alpha1

import (
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

// SessionType is what an MPC session does.
// +kubebuilder:validation:Enum=keygen;sign;reshare
type SessionType string

// The session types.
const (
	SessionKeygen  SessionType = "keygen"
	SessionSign    SessionType = "sign"
	SessionReshare SessionType = "reshare"
)

// Threshold is t-of-n: any T of the N parties can sign. tss-lib's threshold parameter is T-1.
type Threshold struct {
	// T is how many parties must take part to sign.
	// +kubebuilder:validation:Minimum=1
	// +required
	T int32 `json:"t"`
	// N is how many parties hold a share of the key.
	// +kubebuilder:validation:Minimum=1
	// +required
	N int32 `json:"n"`
}

// Composition says how many parties of each role a session uses. Omitted, the strict default applies: all N
// parties persistent. A composition that is present must not be empty.
type Composition struct {
	// Persistent parties keep their key shares in durable storage.
	// +kubebuilder:validation:Minimum=0
	// +optional
	Persistent int32 `json:"persistent,omitempty"`
	// Delegate parties are stateless and act for a user.
	// +kubebuilder:validation:Minimum=0
	// +optional
	Delegate int32 `json:"delegate,omitempty"`
	// Temporary parties are stateless stand-ins.
	// +kubebuilder:validation:Minimum=0
	// +optional
	Temporary int32 `json:"temporary,omitempty"`
}

// MPCSessionSpec describes one threshold-signing session.
type MPCSessionSpec struct {
	// Type is keygen, sign or reshare.
	// +required
	Type SessionType `json:"type"`
	// Threshold is the session's t-of-n.
	// +required
	Threshold Threshold `json:"threshold"`
	// Composition is the parties by role; omitted means all N parties persistent.
	// +optional
	Composition *Composition `json:"composition,omitempty"`
}

// MPCSession is a threshold-signing session whose party composition mpcguard checks at admission.
// +kubebuilder:object:root=true
// +kubebuilder:resource:scope=Namespaced,path=mpcsessions,singular=mpcsession,shortName=mpcs
// +kubebuilder:printcolumn:name="Type",type=string,JSONPath=`.spec.type`
// +kubebuilder:printcolumn:name="T",type=integer,JSONPath=`.spec.threshold.t`
// +kubebuilder:printcolumn:name="N",type=integer,JSONPath=`.spec.threshold.n`
type MPCSession struct {
	metav1.TypeMeta   `json:",inline"`
	metav1.ObjectMeta `json:"metadata,omitempty"`

	// +required
	Spec MPCSessionSpec `json:"spec"`
}

// MPCSessionList is a list of MPCSessions.
// +kubebuilder:object:root=true
type MPCSessionList struct {
	metav1.TypeMeta `json:",inline"`
	metav1.ListMeta `json:"metadata,omitempty"`
	Items           []MPCSession `json:"items"`
}
