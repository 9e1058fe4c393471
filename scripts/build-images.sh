#!/usr/bin/env bash
# build-images.sh - everything `docker compose up` (compose/docker-compose.yml) needs, on a fresh Debian 12 machine:
# docker.io + a running dockerd (prerequisites.sh), criu >= 4.2, the pmig jar, the transfer secret and the pmig image.
#
#   scripts/build-images.sh          PMIG_BASE_IMAGE unset: builds the offline base (build-base-image.sh) and uses it
#   PMIG_BASE_IMAGE=eclipse-temurin:17-jre scripts/build-images.sh     with a registry: the official JRE image
#
# Images: pmig/pmig:latest (PMIG_IMAGE; every role), pmig/kafka:latest (PMIG_KAFKA_IMAGE; the broker with the
# apache/kafka image's interface, for Testcontainers) and pmig/prometheus:latest (PMIG_PROMETHEUS_IMAGE; Debian's
# prometheus from scripts/install-prometheus.sh with compose/prometheus.yml). PMIG_JAR: use this pmig.jar instead of building one. The build
# context is compose/build, which also keeps the transfer secret the compose file mounts. Also installs docker-compose
# (v1) when no compose is available.
set -euo pipefail
here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
root="$(cd "$here/.." && pwd)"
image="${PMIG_IMAGE:-pmig/pmig:latest}"
kafka_image="${PMIG_KAFKA_IMAGE:-pmig/kafka:latest}"
prometheus_image="${PMIG_PROMETHEUS_IMAGE:-pmig/prometheus:latest}"

# shellcheck source=scripts/prerequisites.sh
source "$here/prerequisites.sh"
ensure_build_tools
ensure_criu
ensure_docker
start_dockerd
docker compose version >/dev/null 2>&1 || command -v docker-compose >/dev/null || apt_install docker-compose

if [ -z "${PMIG_BASE_IMAGE:-}" ]; then
  PMIG_BASE_IMAGE=pmig/base:bookworm-jre17-ip
  "$here/build-base-image.sh" "$PMIG_BASE_IMAGE"
fi

if [ -n "${PMIG_JAR:-}" ]; then
  [ -s "$PMIG_JAR" ] || { echo "build-images: PMIG_JAR=$PMIG_JAR is not a file" >&2; exit 1; }
else
  "$root/bin/pmig" --version >/dev/null   # builds cli/target/pmig.jar when missing or stale
  PMIG_JAR="$root/cli/target/pmig.jar"
fi
ctx="$root/compose/build"
mkdir -p "$ctx"
rm -rf "$ctx/criu"
# the self-contained prefix (bin/criu runs criu through the prefix's own loader), not a system criu
prefix="${PMIG_CRIU_PREFIX:-/opt/pmig/criu}"
[ -x "$prefix/bin/criu" ] && [ -x "$prefix/usr/sbin/criu" ] || PMIG_CRIU_FORCE=1 "$here/install-criu.sh" >/dev/null
cp -a "$prefix" "$ctx/criu"
cp "$PMIG_JAR" "$ctx/pmig.jar"
# Debian's prometheus, extracted privately (no system service); only its binaries and web assets go into the image
prometheus_bin="$("$here/install-prometheus.sh" | tail -n 1)"
rm -rf "$ctx/prometheus"
mkdir -p "$ctx/prometheus/usr/bin" "$ctx/prometheus/usr/share"
cp "$prometheus_bin" "$(dirname "$prometheus_bin")/promtool" "$ctx/prometheus/usr/bin/"
cp -a "$(dirname "$prometheus_bin")/../share/prometheus" "$ctx/prometheus/usr/share/"
cp "$root/compose/prometheus.yml" "$root/compose/alerts.yml" "$ctx/"
cp "$root/compose/node-entrypoint.sh" "$root/compose/kafka-run.sh" "$ctx/"
[ -s "$ctx/transfer.secret" ] || head -c 32 /dev/urandom | od -An -tx1 | tr -d ' \n' > "$ctx/transfer.secret"
chmod 600 "$ctx/transfer.secret"

# Each rebuild leaves the previous image untagged (a new jar layer, ~160 MB): remove it unless something still uses it.
previous="$(docker image inspect -f '{{.Id}}' "$image" "$kafka_image" "$prometheus_image" 2>/dev/null || true)"
docker build -q -f "$root/compose/Dockerfile" --build-arg "BASE_IMAGE=$PMIG_BASE_IMAGE" -t "$image" "$ctx" >&2
docker build -q -f "$root/compose/Dockerfile.kafka" --build-arg "PMIG_IMAGE=$image" -t "$kafka_image" "$ctx" >&2
docker build -q -f "$root/compose/Dockerfile.prometheus" --build-arg "BASE_IMAGE=$PMIG_BASE_IMAGE" -t "$prometheus_image" "$ctx" >&2
for id in $previous; do
  [ "$(docker image inspect -f '{{len .RepoTags}}' "$id" 2>/dev/null)" = 0 ] && docker rmi "$id" >/dev/null 2>&1 || true
done
echo "build-images: $image, $kafka_image and $prometheus_image built on $PMIG_BASE_IMAGE" >&2
