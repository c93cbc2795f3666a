#!/usr/bin/env bash
# crds/ is the single source of the CustomResourceDefinitions; the chart carries a copy (Helm
# installs charts/*/crds/ before the templates). A test fails when the two differ.
set -euo pipefail
root="$(cd "$(dirname "$0")/.." && pwd)"
rm -f "$root"/charts/pixelmill/crds/*.yaml
cp "$root"/crds/*.yaml "$root/charts/pixelmill/crds/"
echo "copied $(ls "$root"/crds/*.yaml | wc -l) CRDs into charts/pixelmill/crds/"
