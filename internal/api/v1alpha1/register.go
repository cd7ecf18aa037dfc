package v1alpha1

import (
	_ "embed"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/schema"
)

// The API's names, fixed by design.md.
const (
	Group    = "mpc.mpcguard.io"
	Version  = "v1alpha1"
	Kind     = "MPCSession"
	Resource = "mpcsessions"
)

var (
	// GroupVersion is the group and version of the MPCSession API.
	GroupVersion = schema.GroupVersion{Group: Group, Version: Version}
	// SchemeBuilder registers the types with a runtime.Scheme. It is apimachinery's, not controller-runtime's
	// (deprecated there), so the API package needs nothing beyond k8s.io/apimachinery.
	SchemeBuilder = runtime.NewSchemeBuilder(addKnownTypes)
	// AddToScheme adds the MPCSession types to a scheme.
	AddToScheme = SchemeBuilder.AddToScheme
)

// CRDYAML is the generated CustomResourceDefinition for MPCSession (controller-gen, `make generate`).
//
//go:embed crd/mpc.mpcguard.io_mpcsessions.yaml
var CRDYAML []byte

func addKnownTypes(s *runtime.Scheme) error {
	s.AddKnownTypes(GroupVersion, &MPCSession{}, &MPCSessionList{})
	metav1.AddToGroupVersion(s, GroupVersion)
	return nil
}

// GroupResource returns the group-qualified resource, for errors.
func GroupResource() schema.GroupResource { return GroupVersion.WithResource(Resource).GroupResource() }

var _ runtime.Object = &MPCSession{}
