#!/usr/bin/env bash
# Installs the Debian/Ubuntu packages Flotilla's lab fleet, integration tests, benchmarks and demo need.
# Idempotent: installs only what is missing. As root it runs apt-get itself; otherwise it prints the
# exact command to run and exits 1. It never starts the system sshd: the lab runs its own sshds.
set -euo pipefail

PACKAGES=(openssh-server tmux rsync pssh fish tcsh chromium libkrb5-dev ansible)

if ! command -v dpkg-query >/dev/null 2>&1 || ! command -v apt-get >/dev/null 2>&1; then
  echo "setup-system: this script supports Debian/Ubuntu (apt) only; install: ${PACKAGES[*]}" >&2
  exit 1
fi

missing_packages() {
  local p
  for p in "${PACKAGES[@]}"; do
    if ! dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q '^install ok installed$'; then
      echo "$p"
    fi
  done
}

mapfile -t missing < <(missing_packages)
if [ "${#missing[@]}" -eq 0 ]; then
  echo "setup-system: all packages present (${PACKAGES[*]})"
  exit 0
fi

if [ "$(id -u)" -ne 0 ]; then
  echo "setup-system: missing packages: ${missing[*]}" >&2
  echo "Run (after 'sudo apt-get update'):" >&2
  echo "sudo apt-get install -y ${missing[*]}"
  exit 1
fi

# Keep package scripts from starting services (the system sshd in particular) during installation,
# unless the administrator already has a policy in place.
policy=/usr/sbin/policy-rc.d
if [ ! -e "$policy" ]; then
  printf '#!/bin/sh\n# temporary, written by flotilla scripts/setup-system.sh\nexit 101\n' >"$policy"
  chmod 0755 "$policy"
  trap 'rm -f "$policy"' EXIT
fi

export DEBIAN_FRONTEND=noninteractive
echo "setup-system: installing ${missing[*]}"
apt-get update
apt-get install -y "${missing[@]}"

mapfile -t still_missing < <(missing_packages)
if [ "${#still_missing[@]}" -ne 0 ]; then
  echo "setup-system: still missing after install: ${still_missing[*]}" >&2
  exit 1
fi
echo "setup-system: done"
