#!/usr/bin/env bash
# Builds kube-apiserver, kube-controller-manager, etcd and kubectl from their published Go
# modules into a folder outside the work tree, keyed by version, and prints that folder. A
# folder that already holds all four is reused as it is, so only the first run on a machine
# pays for the build.
#
#   tests/envtest/build-assets.sh            # build what is missing, print the folder
#   KUBERNETES_VERSION=v1.35.4 tests/envtest/build-assets.sh
set -euo pipefail

kubernetes_version=${KUBERNETES_VERSION:-v1.35.4}
etcd_version=${ETCD_VERSION:-v3.6.5}
cache_root=${ORGO_ENVTEST_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/orgo-operator/envtest}
assets="$cache_root/kubernetes-$kubernetes_version-etcd-$etcd_version"
binaries=(kube-apiserver kube-controller-manager etcd kubectl)

have_all() {
  local name
  for name in "${binaries[@]}"; do [ -x "$assets/$name" ] || return 1; done
}

if have_all; then
  echo "$assets"
  exit 0
fi

# The staging modules (k8s.io/api, k8s.io/apiserver, ...) are replaced by local paths in
# k8s.io/kubernetes's own go.mod, so the release cannot be built as a dependency until each
# one points at its published v0.Y.Z twin. The list differs between releases: read it off the
# release's own go.mod.
staging_version="v0.${kubernetes_version#v1.}"
workdir="$cache_root/src-$kubernetes_version-etcd-$etcd_version"
mkdir -p "$workdir/cmd/etcd" "$assets"
cd "$workdir"

echo "Building kube-apiserver, kube-controller-manager, etcd and kubectl $kubernetes_version (etcd $etcd_version)" \
  "into $assets; the first build takes many minutes." >&2

kubernetes_gomod=$(go mod download -json "k8s.io/kubernetes@$kubernetes_version" \
  | sed -n 's/^[[:space:]]*"GoMod": "\(.*\)",$/\1/p')
staging_modules=$(sed -n '/^replace (/,/^)/s/^[[:space:]]*\(k8s\.io\/[^ ]*\) => \.\/staging.*/\1/p' \
  "$kubernetes_gomod")
[ -n "$staging_modules" ] || { echo "no staging modules found in $kubernetes_gomod" >&2; exit 1; }

{
  echo "module orgo.ai/envtest-assets"
  echo
  echo "go 1.25.0"
  echo
  echo "require ("
  echo "	k8s.io/kubernetes $kubernetes_version"
  echo "	go.etcd.io/etcd/server/v3 $etcd_version"
  echo ")"
  echo
  echo "replace ("
  for module in $staging_modules; do echo "	$module => $module $staging_version"; done
  echo ")"
} > go.mod

cat > cmd/etcd/main.go <<'GO'
// Command etcd is the etcd server, built from its published module.
package main

import (
	"os"

	"go.etcd.io/etcd/server/v3/etcdmain"
)

func main() {
	etcdmain.Main(os.Args)
}
GO

cat > tools.go <<'GO'
//go:build tools

package tools

import (
	_ "k8s.io/kubernetes/cmd/kube-apiserver"
	_ "k8s.io/kubernetes/cmd/kube-controller-manager"
	_ "k8s.io/kubernetes/cmd/kubectl"
)
GO

go mod tidy

export CGO_ENABLED=0 GOFLAGS="${GOFLAGS:-} -trimpath"
ldflags="-s -w \
  -X k8s.io/component-base/version.gitVersion=$kubernetes_version \
  -X k8s.io/component-base/version.gitMajor=1 \
  -X k8s.io/component-base/version.gitMinor=$(echo "$kubernetes_version" | cut -d. -f2) \
  -X k8s.io/client-go/pkg/version.gitVersion=$kubernetes_version"
go build -ldflags "-s -w" -o "$assets/etcd.partial" ./cmd/etcd
mv "$assets/etcd.partial" "$assets/etcd"
for name in kube-apiserver kube-controller-manager kubectl; do
  go build -ldflags "$ldflags" -o "$assets/$name.partial" "k8s.io/kubernetes/cmd/$name"
  mv "$assets/$name.partial" "$assets/$name"
done

have_all
echo "$assets"
