#!/usr/bin/env bash
# Flotilla's e2e tests: install the toolchain (idempotent), then run every
# test/e2e/*.test.mjs with node's test runner, one file at a time (each file
# starts its own code-server + Chromium). Prints node's TAP summary
# ("# pass N", "# fail N") and exits non-zero on failure.
# Artifacts (screenshots, server logs, vsix): artifacts/e2e/ or $E2E_ARTIFACTS.
# Run a single file: bash test/e2e/run.sh test/e2e/ui.test.mjs
set -euo pipefail
HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
ROOT="$(cd "$HERE/../.." && pwd)"
bash "$HERE/install.sh"
cd "$ROOT"
[ -d node_modules/mocha ] || { echo "[e2e] run 'npm ci' in the repo first (mocha, tsx, esbuild)"; exit 1; }
if [ $# -gt 0 ]; then files=("$@"); else files=(test/e2e/*.test.mjs); fi
exec node --test --test-concurrency=1 --test-reporter=tap "${files[@]}"
