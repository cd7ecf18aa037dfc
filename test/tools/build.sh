#!/usr/bin/env bash
# build.sh TOOL... — builds the pinned tools of test/tools/<module>/ from the Go module proxy into a cache
# outside the checkout, and prints the directory holding the binaries on its last line.
#
# The cache key is the tool module's go.mod + go.sum and the Go version, so a fresh clone on a machine that
# already built the same pins reuses the binaries, and a changed pin builds anew. Nothing is downloaded but Go
# modules. Progress goes to stderr, because first builds take minutes on two cores.
#
# Tools: etcd kube-apiserver kube-controller-manager kube-scheduler kubectl kwok helm ct opa controller-gen
# golangci-lint registry cosign cyclonedx-gomod kubelet kube-proxy containerd ctr containerd-shim-runc-v2
set -euo pipefail

here=$(cd "$(dirname "$0")" && pwd)
cache=${MPCGUARD_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/mpcguard}
goversion=$(go env GOVERSION)

# module_of TOOL -> tools module dir and Go package of the binary
module_of() {
  case $1 in
    etcd) echo "etcd go.etcd.io/etcd/server/v3" ;;
    kube-apiserver | kube-controller-manager | kube-scheduler) echo "kube k8s.io/kubernetes/cmd/$1" ;;
    kubelet | kube-proxy) echo "kubelet k8s.io/kubernetes/cmd/$1" ;;
    containerd | ctr | containerd-shim-runc-v2) echo "containerd github.com/containerd/containerd/v2/cmd/$1" ;;
    kubectl) echo "kubectl ." ;; # test/tools/kubectl/main.go: upstream's main over k8s.io/kubectl
    kwok) echo "kwok sigs.k8s.io/kwok/cmd/kwok" ;;
    helm) echo "helm helm.sh/helm/v3/cmd/helm" ;;
    ct) echo "ct github.com/helm/chart-testing/v3/ct" ;;
    opa) echo "opa github.com/open-policy-agent/opa" ;;
    controller-gen) echo "controller-gen sigs.k8s.io/controller-tools/cmd/controller-gen" ;;
    golangci-lint) echo "golangci-lint github.com/golangci/golangci-lint/v2/cmd/golangci-lint" ;;
    registry) echo "registry github.com/distribution/distribution/v3/cmd/registry" ;;
    cosign) echo "cosign github.com/sigstore/cosign/v2/cmd/cosign" ;;
    cyclonedx-gomod) echo "cyclonedx-gomod github.com/CycloneDX/cyclonedx-gomod/cmd/cyclonedx-gomod" ;;
    *) echo "build.sh: unknown tool '$1'" >&2; return 2 ;;
  esac
}

# modver MODULE_DIR MODULE -> the version MODULE_DIR/go.mod requires of MODULE
modver() { awk -v m="$2" '($1 == m && $2 ~ /^v/) {print $2; exit} ($1 == "require" && $2 == m) {print $3; exit}' "$here/$1/go.mod"; }

# ldflags_of TOOL -> the version stamps upstream's release builds set and a module build lacks. Without them
# the control plane reports v0.0.0-master+$Format:%H$ and Helm assumes Kubernetes v1.20, so a chart's
# kubeVersion constraint can be neither met nor checked.
ldflags_of() {
  case $1 in
    kube-apiserver | kube-controller-manager | kube-scheduler | kubelet | kube-proxy)
      local m v; read -r m _ < <(module_of "$1"); v=$(modver "$m" k8s.io/kubernetes)
      local minor=${v#v1.}; minor=${minor%%.*}
      echo "-X k8s.io/component-base/version.gitVersion=$v -X k8s.io/component-base/version.gitMajor=1" \
        "-X k8s.io/component-base/version.gitMinor=$minor -X k8s.io/component-base/version.gitTreeState=clean" ;;
    helm)
      local km; km=$(modver helm k8s.io/client-go); km=${km#v0.}; km=${km%%.*}
      echo "-X helm.sh/helm/v3/internal/version.version=$(modver helm helm.sh/helm/v3)" \
        "-X helm.sh/helm/v3/pkg/chartutil.k8sVersionMajor=1 -X helm.sh/helm/v3/pkg/chartutil.k8sVersionMinor=$km" \
        "-X helm.sh/helm/v3/pkg/lint/rules.k8sVersionMajor=1 -X helm.sh/helm/v3/pkg/lint/rules.k8sVersionMinor=$km" ;;
  esac
}

# tags_of TOOL -> build tags; a tool with tags is built without cgo (containerd without the storage drivers
# that need C libraries, as a static binary)
tags_of() {
  case $1 in
    containerd | ctr | containerd-shim-runc-v2) echo "no_btrfs no_devmapper no_zfs" ;;
  esac
}

key_of() { # key_of MODULE_DIR [LDFLAGS]
  cat "$here/$1/go.mod" "$here/$1/go.sum" | { echo "$goversion"; if [ -n "${2:-}" ]; then echo "ldflags $2"; fi; cat; } |
    sha256sum | cut -c1-12
}

bindir=$cache/bin
mkdir -p "$bindir"
for tool in "$@"; do
  read -r mod pkg < <(module_of "$tool")
  ldflags=$(ldflags_of "$tool")
  dest=$cache/build/$mod-$(key_of "$mod" "$ldflags")
  if [ ! -x "$dest/$tool" ]; then
    mkdir -p "$dest"
    start=$(date +%s)
    echo "==> building $tool from $pkg (first build takes minutes; cached in $dest)" >&2
    tags=$(tags_of "$tool")
    (cd "$here/$mod" && if [ -n "$tags" ]; then export CGO_ENABLED=0; fi &&
      go build -trimpath -tags "$tags" -ldflags "$ldflags" -o "$dest/$tool.tmp" "$pkg")
    mv "$dest/$tool.tmp" "$dest/$tool"
    echo "==> built $tool in $(($(date +%s) - start))s" >&2
  fi
  ln -sfn "$dest/$tool" "$bindir/$tool"
done
echo "$bindir"
