#!/usr/bin/env bash
# Builds the local control plane (etcd, kube-apiserver, kube-controller-manager, kube-scheduler),
# KWOK (fake nodes) and the S3 server (versitygw) from Go modules at the versions pinned in
# hack/controlplane/go.mod, hack/kwok/go.mod and hack/s3server/go.mod, and caches them outside
# the repository, keyed by those pins and the Go version. Prints the binary folder
# on stdout; progress goes to stderr. A cached build is reused at once.
#
#   PIXELMILL_CACHE_DIR   cache root (default: ${XDG_CACHE_HOME:-~/.cache}/pixelmill)
set -euo pipefail
root="$(cd "$(dirname "$0")/.." && pwd)"
cache="${PIXELMILL_CACHE_DIR:-${XDG_CACHE_HOME:-$HOME/.cache}/pixelmill}"

command -v go >/dev/null || { echo "Go is needed to build the local control plane (https://go.dev/dl)" >&2; exit 1; }

k8s_version="$(awk '$1 == "k8s.io/kubernetes" && $2 ~ /^v1\./ { print $2; exit }' "$root/hack/controlplane/go.mod")"
recipe=2 # bump when the build commands below change
key="$( (cat "$root"/hack/controlplane/go.{mod,sum} "$root"/hack/kwok/go.{mod,sum} "$root"/hack/s3server/go.{mod,sum}; go env GOVERSION; echo "$recipe") | sha256sum | cut -c1-12)"
dir="$cache/bin/$k8s_version-$key"
bins=(etcd kube-apiserver kube-controller-manager kube-scheduler kwok versitygw)

have_all() { for b in "${bins[@]}"; do [ -x "$dir/$b" ] || return 1; done; }
if have_all; then echo "$dir"; exit 0; fi

mkdir -p "$cache"
exec 9>"$cache/build.lock"
flock 9 # another build of the same pins may be running: wait for it, then reuse its result
if have_all; then echo "$dir"; exit 0; fi

tmp="$(mktemp -d "$cache/build.XXXXXX")"
trap 'rm -rf "$tmp"' EXIT
minor="${k8s_version#v1.}"; minor="${minor%%.*}"
version_flags="-X k8s.io/component-base/version.gitVersion=$k8s_version -X k8s.io/component-base/version.gitMajor=1 -X k8s.io/component-base/version.gitMinor=$minor -X k8s.io/component-base/version.gitTreeState=clean"
build() { # module-dir output package [extra ldflags]
  echo "building $2 from $3 ($(go env GOVERSION))" >&2
  local start=$SECONDS
  (cd "$root/hack/$1" && go build -mod=readonly -trimpath -ldflags "-s -w ${4:-}" -o "$tmp/$2" "$3")
  echo "built $2 in $((SECONDS - start)) s" >&2
}
build controlplane kube-apiserver k8s.io/kubernetes/cmd/kube-apiserver "$version_flags"
build controlplane kube-controller-manager k8s.io/kubernetes/cmd/kube-controller-manager "$version_flags"
build controlplane kube-scheduler k8s.io/kubernetes/cmd/kube-scheduler "$version_flags"
build controlplane etcd go.etcd.io/etcd/server/v3
build kwok kwok sigs.k8s.io/kwok/cmd/kwok
build s3server versitygw github.com/versity/versitygw/cmd/versitygw
chmod 755 "$tmp"
mkdir -p "$(dirname "$dir")"
rm -rf "$dir"
mv "$tmp" "$dir"
trap - EXIT
echo "$dir"
