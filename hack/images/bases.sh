#!/usr/bin/env bash
# Local stand-ins for the images the Dockerfiles build FROM, tagged in buildah's store under their
# real names, so Dockerfile.api and Dockerfile.worker build here unchanged with `--pull=never`
# (there is no container registry to pull from; ADR 0012):
#
#   node:<24.x>-bookworm-slim   Debian bookworm minbase (debootstrap) with the Node binary and npm
#                               that hack/use-node.sh fetched and checked, in /usr/local as in the
#                               official image, a `node` user (uid/gid 1000), and this machine's CA
#                               trust store (NODE_EXTRA_CA_CERTS), so `npm ci` in the build reaches
#                               the registry through this network's TLS proxy.
#   nvidia/cuda:<12.x>-...      Debian bookworm minbase only: no CUDA, no cuDNN. It stands in for the
#                               runtime layer so the worker's last stage builds and runs on the CPU.
#
# Cached under ~/.cache/pixelmill/images/ by what makes them: the debootstrap root filesystem
# (suite, variant, debootstrap version) as a tarball, and each stand-in (rootfs, tag, Node and npm
# versions, CA bundle, this script) as a label on the image; a second run reuses both.
set -euo pipefail
source "$(dirname "$0")/lib.sh"
cd "$images_root"
# shellcheck source=../use-node.sh
source hack/use-node.sh
pixelmill_install_node # also where the machine's node is already 24: the stand-in needs the pinned build
node_dir="$(dirname "$(dirname "$(command -v node)")")"
[ "$node_dir" != "${node_dir%/v$node_version-npm$npm_version}" ] || { echo "bases: expected Node from hack/use-node.sh's cache, found $node_dir" >&2; exit 1; }
case "$NODE_IMAGE" in
  node:"$node_version"-bookworm-slim) ;;
  *) echo "bases: Dockerfile.api's NODE_IMAGE ($NODE_IMAGE) is not node:$node_version-bookworm-slim, the Node hack/use-node.sh pins" >&2; exit 1 ;;
esac
ca_bundle=/etc/ssl/certs/ca-certificates.crt

key() { printf '%s\n' "$@" | sha256sum | cut -c1-16; }
suite=bookworm variant=minbase
rootfs_key="$(key "$suite" "$variant" "$(debootstrap --version)")"
rootfs="$images_cache/rootfs-$suite-$variant-$rootfs_key.tar"
script_sum="$(sha256sum "$0" | cut -c1-16)"
node_key="$(key "$rootfs_key" "$NODE_IMAGE" "$node_version" "$npm_version" "$(sha256sum "$ca_bundle")" "$script_sum")"
cuda_key="$(key "$rootfs_key" "$CUDA_IMAGE" "$script_sum")"

current_key() { buildah inspect --type image --format '{{index .OCIv1.Config.Labels "io.pixelmill.stand-in"}}' "$1" 2>/dev/null || true; }

ensure_rootfs() {
  [ -f "$rootfs" ] && return
  echo "bases: debootstrap --variant=$variant $suite (about 2 minutes, cached as $rootfs)"
  local dir; dir="$(mktemp -d "$images_cache/.rootfs.XXXXXX")"
  debootstrap --variant="$variant" "$suite" "$dir/root" >"$dir/log" 2>&1 || { tail -20 "$dir/log" >&2; rm -rf "$dir"; return 1; }
  rm -rf "$dir"/root/var/cache/apt/archives/*.deb "$dir"/root/var/lib/apt/lists/*
  tar -C "$dir/root" --numeric-owner -cf "$dir/rootfs.tar" .
  mv "$dir/rootfs.tar" "$rootfs"
  rm -rf "$dir"
  # Older root filesystems (another debootstrap) are dead weight.
  find "$images_cache" -maxdepth 1 -name "rootfs-*.tar" ! -path "$rootfs" -delete
}

# build_stand_in NAME KEY CUSTOMISE: rootfs + CUSTOMISE (a function given the mounted root), committed as NAME.
build_stand_in() {
  local name=$1 key=$2 customise=$3 ctr mnt
  if [ "$(current_key "$name")" = "$key" ]; then echo "bases: $name (stand-in $key) cached"; return; fi
  ensure_rootfs
  echo "bases: building the stand-in for $name ($key)"
  ctr="$(buildah from --pull=never scratch)"
  mnt="$(buildah mount "$ctr")"
  tar -C "$mnt" --numeric-owner -xf "$rootfs"
  "$customise" "$mnt"
  buildah umount "$ctr" >/dev/null
  buildah config --label "io.pixelmill.stand-in=$key" --env PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin --cmd bash "$ctr"
  [ "$customise" != node_customise ] || buildah config --env "NODE_VERSION=$node_version" --env "NODE_EXTRA_CA_CERTS=$ca_bundle" --cmd node "$ctr"
  buildah commit -q --rm "$ctr" "$name" >/dev/null
}

node_customise() {
  local root=$1
  cp "$node_dir/bin/node" "$root/usr/local/bin/node"
  mkdir -p "$root/usr/local/lib/node_modules"
  cp -r "$node_dir/lib/node_modules/npm" "$root/usr/local/lib/node_modules/npm"
  ln -s ../lib/node_modules/npm/bin/npm-cli.js "$root/usr/local/bin/npm"
  ln -s ../lib/node_modules/npm/bin/npx-cli.js "$root/usr/local/bin/npx"
  chroot "$root" groupadd --gid 1000 node
  chroot "$root" useradd --uid 1000 --gid node --shell /bin/bash --create-home node
  install -D -m 0644 "$ca_bundle" "$root$ca_bundle"
}

cuda_customise() { :; }

build_stand_in "docker.io/library/$NODE_IMAGE" "$node_key" node_customise
build_stand_in "docker.io/$CUDA_IMAGE" "$cuda_key" cuda_customise
# A stand-in rebuilt under its name leaves the old one untagged.
buildah rmi --prune >/dev/null 2>&1 || true
