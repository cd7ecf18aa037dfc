#!/usr/bin/env bash
# build.sh TOOL... — builds the pinned tools of test/tools/<module>/ from the Go module proxy into a cache
# outside the checkout, and prints the directory holding the binaries on its last line.
#
# The cache key is the tool module's go.mod + go.sum and the Go version, so a fresh clone on a machine that
# already built the same pins reuses the binaries, and a changed pin builds anew. Nothing is downloaded but Go
# modules. Progress goes to stderr, because first builds take minutes on two cores.
#
# Tools: etcd kube-apiserver kube-controller-manager kube-scheduler kubectl kwok helm ct opa controller-gen
# golangci-lint registry cosign cyclonedx-gomod
set -euo pipefail

here=$(cd "$(dirname "$0")" && pwd)
cache=${MPCGUARD_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/mpcguard}
goversion=$(go env GOVERSION)

# module_of TOOL -> tools module dir and Go package of the binary
module_of() {
  case $1 in
    etcd) echo "etcd go.etcd.io/etcd/server/v3" ;;
    kube-apiserver | kube-controller-manager | kube-scheduler) echo "kube k8s.io/kubernetes/cmd/$1" ;;
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

key_of() { # key_of MODULE_DIR
  cat "$here/$1/go.mod" "$here/$1/go.sum" | { echo "$goversion"; cat; } | sha256sum | cut -c1-12
}

bindir=$cache/bin
mkdir -p "$bindir"
for tool in "$@"; do
  read -r mod pkg < <(module_of "$tool")
  dest=$cache/build/$mod-$(key_of "$mod")
  if [ ! -x "$dest/$tool" ]; then
    mkdir -p "$dest"
    start=$(date +%s)
    echo "==> building $tool from $pkg (first build takes minutes; cached in $dest)" >&2
    (cd "$here/$mod" && go build -trimpath -o "$dest/$tool.tmp" "$pkg")
    mv "$dest/$tool.tmp" "$dest/$tool"
    echo "==> built $tool in $(($(date +%s) - start))s" >&2
  fi
  ln -sfn "$dest/$tool" "$bindir/$tool"
done
echo "$bindir"
