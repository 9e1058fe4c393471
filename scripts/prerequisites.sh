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

# Exports PMIG_PROMETHEUS: Debian's prometheus in a private prefix (no service started), for the metrics tests.
ensure_prometheus() {
  local here
  here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
  PMIG_PROMETHEUS="$("$here/install-prometheus.sh" | tail -n 1)"
  export PMIG_PROMETHEUS
  echo "pmig: using prometheus at $PMIG_PROMETHEUS" >&2
}

# Debian's chromium, for the dashboard's browser test (a test tool's own browser download cannot work here).
ensure_chromium() {
  command -v chromium >/dev/null || apt_install chromium
}

# Third-party programs the network-identity tests move while clients talk to them (redis-server); installed with its
# service held back (policy-rc.d), as the tests start their own.
ensure_test_programs() {
  command -v redis-server >/dev/null && return 0
  local held=""
  if [ "$(id -u)" = 0 ] && [ ! -e /usr/sbin/policy-rc.d ]; then
    printf '#!/bin/sh\nexit 101\n' > /usr/sbin/policy-rc.d && chmod 755 /usr/sbin/policy-rc.d && held=1
  fi
  local rc=0
  apt_install redis-server || rc=$?
  [ -z "$held" ] || rm -f /usr/sbin/policy-rc.d
  return $rc
}

# Debian's docker.io (dockerd 20.10, containerd, runc) and busybox-static (the test images are built FROM scratch
# with it: no registry is reachable on our machines). Installed with services held back by a temporary policy-rc.d:
# a package-started dockerd would add iptables rules; pmig starts its engines itself (start_dockerd, test fixtures).
ensure_docker() {
  local need=()
  command -v dockerd >/dev/null || need+=(docker.io)
  [ -x /bin/busybox ] && /bin/busybox --list 2>/dev/null | grep -qx sh && ldd /bin/busybox 2>&1 | grep -q 'not a dynamic' \
    || need+=(busybox-static)
  [ ${#need[@]} -eq 0 ] && return 0
  local held=""
  if [ "$(id -u)" = 0 ] && [ ! -e /usr/sbin/policy-rc.d ]; then
    printf '#!/bin/sh\nexit 101\n' > /usr/sbin/policy-rc.d && chmod 755 /usr/sbin/policy-rc.d && held=1
  fi
  local rc=0
  apt_install "${need[@]}" || rc=$?
  [ -z "$held" ] || rm -f /usr/sbin/policy-rc.d
  return $rc
}

# Starts a dockerd for this machine on /var/run/docker.sock unless one answers there already: experimental (checkpoints),
# criu >= 4.2 first on its PATH, and no firewall or bridge changes (--iptables=false --bridge=none --ip-forward=false).
# Log: /var/log/pmig-dockerd.log. Needs ensure_docker and ensure_criu first.
start_dockerd() {
  local sock=/var/run/docker.sock
  if docker_answers "unix://$sock"; then return 0; fi
  echo "pmig: starting dockerd (log /var/log/pmig-dockerd.log)" >&2
  PATH="$(dirname "${PMIG_CRIU:-/usr/sbin/criu}"):$PATH" setsid dockerd --experimental --iptables=false --ip-forward=false \
    --bridge=none -H "unix://$sock" >>/var/log/pmig-dockerd.log 2>&1 < /dev/null &
  local i
  for i in $(seq 1 60); do
    docker_answers "unix://$sock" && return 0
    sleep 0.5
  done
  echo "pmig: dockerd did not answer within 30 s; see /var/log/pmig-dockerd.log" >&2
  tail -n 20 /var/log/pmig-dockerd.log >&2
  return 1
}

# True if a Docker engine answers at $1 (unix:///path): a bare HTTP ping, so no docker CLI is needed.
docker_answers() {
  local path="${1#unix://}"
  [ -S "$path" ] || return 1
  command -v curl >/dev/null && curl -sf --max-time 2 --unix-socket "$path" http://docker/_ping >/dev/null && return 0
  command -v docker >/dev/null && DOCKER_HOST="$1" docker version >/dev/null 2>&1
}

# Ruby, for the suite's syntax check of the Vagrantfile (`ruby -c`; VirtualBox cannot run on our machines).
ensure_ruby() {
  command -v ruby >/dev/null || apt_install ruby
}
