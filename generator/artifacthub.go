package generator

import (
	"strings"

	"sigs.k8s.io/yaml"
)

// KubeVersion is the charts' kubeVersion: Kubernetes 1.30 or later (the webhook configuration's matchConditions
// are GA in 1.30). "-0" admits pre-release and vendor builds such as v1.31.2-eks-1234. `helm template` checks it
// against its own default (a Helm release build's Kubernetes version) unless given --kube-version.
const KubeVersion = ">=1.30.0-0"

// The project's links, shown by Artifact Hub.
const (
	projectURL  = "https://github.com/mpcguard/mpcguard"
	securityURL = projectURL + "/blob/main/SECURITY.md"
	license     = "Apache-2.0"
)

type imageEntry struct {
	name  string
	image ImageValues
}

// artifactHub returns the Chart.yaml annotations Artifact Hub reads: the images (by digest when pinned), the
// license and the links.
func artifactHub(images ...imageEntry) map[string]string {
	type img struct {
		Name      string   `json:"name"`
		Image     string   `json:"image"`
		Platforms []string `json:"platforms,omitempty"`
	}
	type link struct {
		Name string `json:"name"`
		URL  string `json:"url"`
	}
	var imgs []img
	for _, e := range images {
		ref := e.image.Repository
		if e.image.Registry != "" {
			ref = e.image.Registry + "/" + ref
		}
		if e.image.Tag != "" {
			ref += ":" + e.image.Tag
		}
		if e.image.Digest != "" {
			ref += "@" + e.image.Digest
		}
		var plats []string
		if e.name == MpcguardChartName {
			plats = []string{"linux/amd64", "linux/arm64"}
		}
		imgs = append(imgs, img{Name: e.name, Image: ref, Platforms: plats})
	}
	return map[string]string{
		"artifacthub.io/images":  mustYAML(imgs),
		"artifacthub.io/license": license,
		"artifacthub.io/links": mustYAML([]link{
			{Name: "source", URL: projectURL},
			{Name: "security policy", URL: securityURL},
			{Name: "changelog", URL: projectURL + "/blob/main/CHANGELOG.md"},
		}),
	}
}

func mustYAML(v any) string {
	out, err := yaml.Marshal(v)
	if err != nil {
		panic(err) // plain structs of strings always encode
	}
	return strings.TrimSpace(string(out)) + "\n"
}
