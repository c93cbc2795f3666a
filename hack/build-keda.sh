#!/usr/bin/env bash
# Builds KEDA's operator (`keda`) and metrics adapter (`keda-adapter`) from Go modules at the
# version pinned in hack/keda/go.mod, and caches them outside the repository, keyed by that pin
# and the Go version, beside a copy of KEDA's CRDs (crds/). Prints the folder on stdout; progress
# goes to stderr. A cached build is reused at once. Only `npm run bench:autoscale` needs it.
#
#   PIXELMILL_CACHE_DIR   cache root (default: ${XDG_CACHE_HOME:-~/.cache}/pixelmill)
set -euo pipefail
root="$(cd "$(dirname "$0")/.." && pwd)"
cache="${PIXELMILL_CACHE_DIR:-${XDG_CACHE_HOME:-$HOME/.cache}/pixelmill}"

command -v go >/dev/null || { echo "Go is needed to build KEDA (https://go.dev/dl)" >&2; exit 1; }

module=github.com/kedacore/keda/v2
version="$(awk -v m="$module" '$1 == "require" && $2 == m { print $3; exit }' "$root/hack/keda/go.mod")"
[ -n "$version" ] || { echo "no 'require $module' line in hack/keda/go.mod" >&2; exit 1; }
recipe=1 # bump when the build commands below change
key="$( (cat "$root"/hack/keda/go.{mod,sum}; go env GOVERSION; echo "$recipe") | sha256sum | cut -c1-12)"
dir="$cache/bin/keda-$version-$key"
bins=(keda keda-adapter)

have_all() { for b in "${bins[@]}"; do [ -x "$dir/$b" ] || return 1; done; [ -f "$dir/crds/keda.sh_scaledobjects.yaml" ]; }
if have_all; then echo "$dir"; exit 0; fi

mkdir -p "$cache"
exec 9>"$cache/build-keda.lock"
flock 9 # another build of the same pin may be running: wait for it, then reuse its result
if have_all; then echo "$dir"; exit 0; fi

tmp="$(mktemp -d "$cache/build-keda.XXXXXX")"
trap 'rm -rf "$tmp"' EXIT
cd "$root/hack/keda"
# KEDA's own release flags (its Makefile): static binaries, version stamped.
ldflags="-s -w -X $module/version.Version=${version#v} -X $module/version.GitCommit=$version"
build() { # output package
  echo "building $1 from $2 ($(go env GOVERSION))" >&2
  local start=$SECONDS
  CGO_ENABLED=0 go build -mod=readonly -trimpath -ldflags "$ldflags" -o "$tmp/$1" "$2"
  echo "built $1 in $((SECONDS - start)) s" >&2
}
build keda "$module/cmd/operator"
build keda-adapter "$module/cmd/adapter"
src="$(go list -mod=readonly -m -f '{{.Dir}}' "$module")"
mkdir "$tmp/crds"
cp "$src"/config/crd/bases/*.yaml "$tmp/crds/"
chmod -R u+w,go+rX "$tmp"
mkdir -p "$(dirname "$dir")"
rm -rf "$dir"
mv "$tmp" "$dir"
trap - EXIT
echo "$dir"
