#!/usr/bin/env bash
# install-prometheus.sh - Debian's prometheus (bookworm: 2.42) in a private prefix, for the metrics tests and the
# compose image (scripts/build-images.sh). The package's files are extracted with dpkg-deb: no service is installed
# or started (the package's own scripts would start a system-wide prometheus on :9090) and apt/dpkg's state is left
# as it was. The binary needs only libc.
#
#   scripts/install-prometheus.sh        stdout: the prometheus binary's absolute path (last and only line)
#
# Idempotent: an existing working install in the prefix is kept. Environment:
#   PMIG_PROMETHEUS_PREFIX   install prefix (default /opt/pmig/prometheus)
#   PMIG_PROMETHEUS_FORCE=1  reinstall even if the prefix has a working prometheus
set -euo pipefail
prefix="${PMIG_PROMETHEUS_PREFIX:-/opt/pmig/prometheus}"
bin="$prefix/usr/bin/prometheus"

log() { echo "install-prometheus: $*" >&2; }

if [ -z "${PMIG_PROMETHEUS_FORCE:-}" ] && "$bin" --version >/dev/null 2>&1; then
  echo "$bin"
  exit 0
fi
[ "$(id -u)" = 0 ] || { log "ERROR: need root to install into $prefix"; exit 1; }
work="$(mktemp -d /tmp/pmig-prometheus.XXXXXX)"
trap 'rm -rf "$work"' EXIT
download() { (cd "$work" && apt-get download -qq -o APT::Sandbox::User=root prometheus >&2); }
if ! download; then
  log "apt-get update, then download again"
  apt-get update -qq >&2
  download
fi
deb="$(ls "$work"/prometheus_*.deb)"
log "extracting $(basename "$deb") into $prefix"
rm -rf "$prefix.new"
mkdir -p "$prefix.new"
dpkg-deb -x "$deb" "$prefix.new"
rm -rf "$prefix"
mv "$prefix.new" "$prefix"
"$bin" --version 2>&1 | head -n 1 >&2
echo "$bin"
