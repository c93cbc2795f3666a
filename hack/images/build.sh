#!/usr/bin/env bash
# Builds Dockerfile.api and Dockerfile.worker with buildah on the stand-in bases (bases.sh), as
# $API_IMAGE and $WORKER_IMAGE in the store lib.sh names. `npm ci` inside the build uses this
# machine's npm registry (a build argument, never written into the repository). The worker is
# built with ONNXRUNTIME_CUDA=skip: onnxruntime-node's CUDA EP is a download this network cannot
# reach, and the CPU image is what the smoke test runs anyway.
set -euo pipefail
source "$(dirname "$0")/lib.sh"
cd "$images_root"
# shellcheck source=../use-node.sh
source hack/use-node.sh
bud=(bud --pull=never --isolation chroot --format docker --build-arg "NPM_CONFIG_REGISTRY=$(npm config get registry)")
# --format docker: the OCI image format has no HEALTHCHECK.
for image in api worker; do
  started=$SECONDS
  if [ $image = api ]; then buildah "${bud[@]}" -f Dockerfile.api -t "$API_IMAGE" .
  else buildah "${bud[@]}" -f Dockerfile.worker --build-arg ONNXRUNTIME_CUDA=skip -t "$WORKER_IMAGE" .; fi
  echo "build: $image in $((SECONDS - started)) s"
done
# The images these tags named before are unreferenced now.
buildah rmi --prune >/dev/null
