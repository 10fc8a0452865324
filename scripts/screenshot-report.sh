#!/usr/bin/env bash
# Render an HTML report in headless Chromium (Debian's `chromium`) and save a PNG screenshot, to check that the
# report renders: layout, SVG charts and the embedded sample images.
#
#   scripts/screenshot-report.sh [report.html] [out.png] [height]
#
# With no report, it renders the example report of the tests' fixture (test/fixtures/suite-result.ts: MNIST-like,
# FGSM and PGD at three eps, one warning, one failed threshold, four samples) and writes docs/img/report-example.png.
# The screenshot is 1200 px wide and `height` px tall (default: the example's full page).
# Needs chromium (apt-get install chromium) and, for the example, the repository's node_modules.
set -euo pipefail

root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
html="${1:-}"
out="${2:-$root/docs/img/report-example.png}"
height="${3:-2200}"

browser="$(command -v chromium || command -v chromium-browser || command -v google-chrome || true)"
if [[ -z "$browser" ]]; then
  echo "screenshot-report: no chromium found; install it (Debian: apt-get install -y chromium)" >&2
  exit 2
fi

work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT

if [[ -z "$html" ]]; then
  # The fixture is TypeScript and Node 20 cannot run it directly: compile the fixture and the report writers (and
  # what they import) into the scratch folder, beside a copy of the schema the JSON writer reads.
  "$root/node_modules/.bin/tsc" --outDir "$work/build" --rootDir "$root" --target ES2022 --module NodeNext \
    --moduleResolution NodeNext --esModuleInterop --skipLibCheck --strict --types node --noEmitOnError false \
    "$root/test/fixtures/suite-result.ts" "$root/src/report/index.ts" >/dev/null || true
  mkdir -p "$work/build/schema"
  cp "$root/schema/robust.result.schema.json" "$work/build/schema/"
  cp "$root/package.json" "$work/build/package.json"
  ln -s "$root/node_modules" "$work/build/node_modules"
  html="$work/report.html"
  (cd "$work/build" && node --input-type=module -e "
    import { writeFileSync } from 'node:fs';
    import { renderHtml } from './src/report/index.js';
    import { makeSuiteResult } from './test/fixtures/suite-result.js';
    writeFileSync(process.argv[1], renderHtml(makeSuiteResult()));
  " "$html")
fi

if [[ ! -f "$html" ]]; then
  echo "screenshot-report: $html does not exist; pass the path of an HTML report" >&2
  exit 2
fi

mkdir -p "$(dirname "$out")"
"$browser" --headless --no-sandbox --disable-gpu --disable-quic --no-first-run --disable-background-networking \
  --disable-component-update --disable-sync --hide-scrollbars --user-data-dir="$work/profile" \
  --screenshot="$out" --window-size="1200,$height" "file://$(realpath "$html")" 2>"$work/chromium.log" || {
  cat "$work/chromium.log" >&2
  exit 1
}
echo "screenshot-report: wrote $out"
