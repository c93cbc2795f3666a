#!/usr/bin/env bash
# Builds helm from Go modules at the version pinned in hack/helm/go.mod and caches it outside the
# repository, keyed by that pin and the Go version, like hack/build-controlplane.sh. Prints the
# path of the helm binary on stdout; progress goes to stderr. A cached build is reused at once.
#
#   PIXELMILL_CACHE_DIR   cache root (default: ${XDG_CACHE_HOME:-~/.cache}/pixelmill)
set -euo pipefail
root="$(cd "$(dirname "$0")/.." && pwd)"
cache="${PIXELMILL_CACHE_DIR:-${XDG_CACHE_HOME:-$HOME/.cache}/pixelmill}"

command -v go >/dev/null || { echo "Go is needed to build helm (https://go.dev/dl)" >&2; exit 1; }

module="$(awk '$1 ~ /^helm\.sh\/helm\/v[0-9]+$/ { print $1; exit } $2 ~ /^helm\.sh\/helm\/v[0-9]+$/ { print $2; exit }' "$root/hack/helm/go.mod")"
version="$(awk -v m="$module" '($1 == m && $2 ~ /^v/) { print $2; exit } ($2 == m && $3 ~ /^v/) { print $3; exit }' "$root/hack/helm/go.mod")"
recipe=1 # bump when the build command below changes
key="$( (cat "$root"/hack/helm/go.{mod,sum}; go env GOVERSION; echo "$recipe") | sha256sum | cut -c1-12)"
dir="$cache/bin/helm-$version-$key"

if [ -x "$dir/helm" ]; then echo "$dir/helm"; exit 0; fi

mkdir -p "$cache"
exec 9>"$cache/build-helm.lock"
flock 9 # another build may be running: wait for it, then reuse its result
if [ -x "$dir/helm" ]; then echo "$dir/helm"; exit 0; fi

tmp="$(mktemp -d "$cache/build.XXXXXX")"
trap 'rm -rf "$tmp"' EXIT
echo "building helm $version from $module/cmd/helm ($(go env GOVERSION))" >&2
start=$SECONDS
# helm reports its version from internal/version; without these flags `helm version` says v4-dev.
(cd "$root/hack/helm" && go build -mod=readonly -trimpath \
  -ldflags "-s -w -X $module/internal/version.version=$version -X $module/internal/version.gitTreeState=clean" \
  -o "$tmp/helm" "$module/cmd/helm")
echo "built helm in $((SECONDS - start)) s" >&2
chmod 755 "$tmp"
mkdir -p "$(dirname "$dir")"
rm -rf "$dir"
mv "$tmp" "$dir"
trap - EXIT
echo "$dir/helm"
