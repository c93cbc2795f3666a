# shellcheck shell=bash
# Sourced by the image scripts: where buildah keeps its images (a vfs store under the project's
# cache, so stand-in bases survive between CI runs), chroot isolation (no daemon, no user
# namespaces), and the names the Dockerfiles pull their bases under.
images_root="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
images_cache="${PIXELMILL_CACHE_DIR:-${XDG_CACHE_HOME:-$HOME/.cache}/pixelmill}/images"
mkdir -p "$images_cache"
# buildah (and `buildah run` from the smoke test) reads its store from this file. The run root
# holds locks and mount state only, so it lives in the temp dir and starts clean after a reboot.
export CONTAINERS_STORAGE_CONF="$images_cache/storage.conf"
cat >"$CONTAINERS_STORAGE_CONF" <<CONF
[storage]
driver = "vfs"
graphroot = "$images_cache/storage"
runroot = "${TMPDIR:-/tmp}/pixelmill-buildah-$(id -u)"
CONF
export BUILDAH_ISOLATION=chroot

# The bases, as the Dockerfiles name them (their ARG defaults are the one home of the tags).
dockerfile_arg() { sed -n "s/^ARG $1=//p" "$images_root/$2" | head -1; }
NODE_IMAGE="$(dockerfile_arg NODE_IMAGE Dockerfile.api)"
CUDA_IMAGE="$(dockerfile_arg CUDA_IMAGE Dockerfile.worker)"
API_IMAGE="${PIXELMILL_API_IMAGE:-localhost/pixelmill/api:ci}"
WORKER_IMAGE="${PIXELMILL_WORKER_IMAGE:-localhost/pixelmill/worker:ci}"
export NODE_IMAGE CUDA_IMAGE API_IMAGE WORKER_IMAGE
