package cluster

import (
	apiextensionsv1 "k8s.io/apiextensions-apiserver/pkg/apis/apiextensions/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

// VolumeSnapshotCRD is a minimal snapshot.storage.k8s.io/v1 VolumeSnapshot CRD, enough for the API server to
// serve VolumeSnapshots as the external-snapshotter's CRD does (no controller runs).
func VolumeSnapshotCRD() *apiextensionsv1.CustomResourceDefinition {
	str := apiextensionsv1.JSONSchemaProps{Type: "string"}
	return &apiextensionsv1.CustomResourceDefinition{
		TypeMeta: metav1.TypeMeta{APIVersion: "apiextensions.k8s.io/v1", Kind: "CustomResourceDefinition"},
		ObjectMeta: metav1.ObjectMeta{Name: "volumesnapshots.snapshot.storage.k8s.io",
			// *.k8s.io groups are protected; the external-snapshotter's CRD carries the same approval.
			Annotations: map[string]string{"api-approved.kubernetes.io": "https://github.com/kubernetes-csi/external-snapshotter/pull/419"}},
		Spec: apiextensionsv1.CustomResourceDefinitionSpec{
			Group: "snapshot.storage.k8s.io", Scope: apiextensionsv1.NamespaceScoped,
			Names: apiextensionsv1.CustomResourceDefinitionNames{Plural: "volumesnapshots", Singular: "volumesnapshot",
				Kind: "VolumeSnapshot", ListKind: "VolumeSnapshotList"},
			Versions: []apiextensionsv1.CustomResourceDefinitionVersion{{Name: "v1", Served: true, Storage: true,
				Schema: &apiextensionsv1.CustomResourceValidation{OpenAPIV3Schema: &apiextensionsv1.JSONSchemaProps{
					Type: "object",
					Properties: map[string]apiextensionsv1.JSONSchemaProps{
						"spec": {Type: "object", Required: []string{"source"}, Properties: map[string]apiextensionsv1.JSONSchemaProps{
							"source": {Type: "object", Properties: map[string]apiextensionsv1.JSONSchemaProps{
								"persistentVolumeClaimName": str, "volumeSnapshotContentName": str}},
							"volumeSnapshotClassName": str,
						}},
						"status": {Type: "object", XPreserveUnknownFields: ptr(true)},
					},
				}}}},
		},
	}
}
