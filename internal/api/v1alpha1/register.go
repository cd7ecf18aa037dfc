package v1alpha1

import (
	_ "embed"

	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"sigs.k8s.io/controller-runtime/pkg/scheme"
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
	// SchemeBuilder registers the types with a runtime.Scheme.
	SchemeBuilder = &scheme.Builder{GroupVersion: GroupVersion}
	// AddToScheme adds the MPCSession types to a scheme.
	AddToScheme = SchemeBuilder.AddToScheme
)

// CRDYAML is the generated CustomResourceDefinition for MPCSession (controller-gen, `make generate`).
//
//go:embed crd/mpc.mpcguard.io_mpcsessions.yaml
var CRDYAML []byte

func init() {
	SchemeBuilder.Register(&MPCSession{}, &MPCSessionList{})
}

// GroupResource returns the group-qualified resource, for errors.
func GroupResource() schema.GroupResource { return GroupVersion.WithResource(Resource).GroupResource() }

var _ runtime.Object = &MPCSession{}
