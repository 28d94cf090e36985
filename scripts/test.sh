#!/usr/bin/env bash
# `npm test`: every test stage of Flotilla, in order, stopping at the first failure.
#   system packages -> build -> typecheck -> unit -> lab integration -> MCP conformance -> e2e (code-server + Chromium)
# Each stage prints a header; a summary with timings is printed at the end (also on failure).
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."

declare -a SUMMARY=()
T0=$(date +%s)
PASSED=0 FAILED=0
STAGE_LOG=$(mktemp)
trap 'rm -f "$STAGE_LOG"' EXIT
# Adds up the test counts a stage printed: vitest's "Tests  N failed | M passed" and node's "# pass N" / "# fail N".
count_tests() {
  local counts
  counts=$(sed 's/\x1b\[[0-9;]*m//g' "$STAGE_LOG" | awk '
    /^ +Tests / { for (i = 2; i <= NF; i++) { if ($i ~ /^passed/) p += $(i-1); if ($i ~ /^failed/) f += $(i-1) } }
    /^# pass [0-9]+$/ { p += $3 }
    /^# fail [0-9]+$/ { f += $3 }
    END { print p+0, f+0 }')
  PASSED=$(( PASSED + ${counts% *} ))
  FAILED=$(( FAILED + ${counts#* } ))
}
summary() {
  echo
  echo "==================== test summary ===================="
  printf '%s\n' "${SUMMARY[@]}"
  echo "total: $(( $(date +%s) - T0 ))s"
  echo "tests: $PASSED passed, $FAILED failed"
}
stage() {
  local name="$1"; shift
  echo
  echo "==================== $name ===================="
  echo "\$ $*"
  local t=$(date +%s) rc=0
  "$@" 2>&1 | tee "$STAGE_LOG" || rc=${PIPESTATUS[0]}
  count_tests
  if [ "$rc" -eq 0 ]; then
    SUMMARY+=("  PASS  $name ($(( $(date +%s) - t ))s)")
  else
    SUMMARY+=("  FAIL  $name ($(( $(date +%s) - t ))s, exit $rc)")
    summary
    echo "FAILED at stage: $name"
    exit "$rc"
  fi
}

if [ -f scripts/setup-system.sh ]; then
  stage "system packages" bash scripts/setup-system.sh
else
  SUMMARY+=("  SKIP  system packages (scripts/setup-system.sh not found)")
fi
stage "build" node esbuild.mjs
stage "typecheck" npx --no -- tsc -p . --noEmit
stage "unit tests" npx --no -- vitest run --project unit
stage "lab integration tests" npx --no -- vitest run --project lab
stage "MCP conformance suite (flotilla mcp --http)" bash test/mcp-conformance/run.sh
stage "e2e tests (code-server + Chromium)" bash test/e2e/run.sh
summary
echo "ALL PASSED"
