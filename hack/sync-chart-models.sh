#!/usr/bin/env bash
# models/manifests/ is the single source of the built-in ImageModels; the chart carries a copy
# (charts/pixelmill/builtin-models/, rendered into the release namespace). A test fails when the
# two differ.
set -euo pipefail
root="$(cd "$(dirname "$0")/.." && pwd)"
rm -f "$root"/charts/pixelmill/builtin-models/*.yaml
cp "$root"/models/manifests/*.yaml "$root/charts/pixelmill/builtin-models/"
echo "copied $(ls "$root"/models/manifests/*.yaml | wc -l) ImageModels into charts/pixelmill/builtin-models/"
