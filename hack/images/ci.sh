#!/usr/bin/env bash
# CI's image step (.ci/run): the stand-in bases (cached), both images built from their Dockerfiles
# with buildah, then the smoke test of both on the local stack. No Docker engine, no registry:
# buildah runs daemonless as root with vfs storage and chroot isolation (ADR 0012).
set -euo pipefail
cd "$(dirname "$0")/../.."
for tool in buildah debootstrap; do
  command -v "$tool" >/dev/null || { echo "images: $tool is missing (Debian packages buildah, debootstrap; .ci/run installs them)" >&2; exit 1; }
done
[ "$(id -u)" = 0 ] || { echo "images: buildah with vfs storage and chroot isolation needs root here" >&2; exit 1; }
source hack/images/lib.sh
# shellcheck source=../use-node.sh
source hack/use-node.sh
# One run at a time per store; a run killed midway may have left working containers: ours only.
exec 9>"$images_cache/lock"
flock 9
buildah rm --all >/dev/null

t=$SECONDS
lap() { echo "images: $1 in $((SECONDS - t)) s"; t=$SECONDS; }
bash hack/images/bases.sh; lap "stand-in bases"
bash hack/images/build.sh; lap "both images built"
node --import tsx hack/images/smoke.ts; lap "smoke test"
