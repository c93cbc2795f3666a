#!/usr/bin/env bash
# Generates the Prisma client into api/data/generated/prisma (gitignored). Runs at `npm install`.
# The CLI wants to download a schema-engine binary at start even though `generate` never uses
# it; naming an existing file in PRISMA_SCHEMA_ENGINE_BINARY skips that download (see ADR 0002).
set -euo pipefail
cd "$(dirname "$0")/.."
if [ ! -x node_modules/.bin/prisma ]; then
  echo "prisma CLI not installed (production install): skipping client generation" >&2
  exit 0
fi
export PRISMA_SCHEMA_ENGINE_BINARY="${PRISMA_SCHEMA_ENGINE_BINARY:-$PWD/hack/prisma-schema-engine-unavailable.sh}"
export PRISMA_HIDE_UPDATE_MESSAGE=1 CHECKPOINT_DISABLE=1
exec node_modules/.bin/prisma generate
