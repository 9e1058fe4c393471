#!/usr/bin/env bash
# Installers shared by the test command, the demo and the VM/container provisioning: each is idempotent and
# changes nothing when the tool is already there.

apt_updated=""
apt_install() {
  if [ "$(id -u)" != 0 ]; then
    echo "pmig: need root to install $* (apt-get)" >&2
    return 1
  fi
  [ -n "$apt_updated" ] || { apt-get update -qq >&2; apt_updated=1; }
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "$@" >&2
}

ensure_build_tools() {
  command -v javac >/dev/null && javac -version 2>&1 | grep -qE 'javac (1[7-9]|2[0-9])' || apt_install openjdk-17-jdk-headless
  command -v mvn >/dev/null || apt_install maven
  command -v cc >/dev/null || apt_install gcc libc6-dev
}

# Exports PMIG_CRIU: a criu >= 4.2 that passes `criu check` (installed privately when the system has none).
ensure_criu() {
  local here
  here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
  PMIG_CRIU="$("$here/install-criu.sh" | tail -n 1)"
  export PMIG_CRIU
  echo "pmig: using criu at $PMIG_CRIU" >&2
}

# Debian's chromium, for the dashboard's browser test (a test tool's own browser download cannot work here).
ensure_chromium() {
  command -v chromium >/dev/null || apt_install chromium
}
