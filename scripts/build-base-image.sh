#!/usr/bin/env bash
# build-base-image.sh - the offline base image for pmig's containers: Debian bookworm (minbase) with Java 17 and iproute2, built from
# Debian packages with debootstrap and `docker import`, for machines that reach no container registry.
#
#   scripts/build-base-image.sh [IMAGE]     (default pmig/base:bookworm-jre17-ip; ~1 min; skipped if IMAGE exists)
#
# Users with a registry do not need it: the Dockerfiles default to the official eclipse-temurin:17-jre image.
# Environment: PMIG_DEBIAN_MIRROR (default http://deb.debian.org/debian), DOCKER_HOST.
set -euo pipefail
here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
image="${1:-pmig/base:bookworm-jre17-ip}"
mirror="${PMIG_DEBIAN_MIRROR:-http://deb.debian.org/debian}"

# shellcheck source=scripts/prerequisites.sh
source "$here/prerequisites.sh"
if docker image inspect "$image" >/dev/null 2>&1; then
  echo "build-base-image: $image exists" >&2
  exit 0
fi
command -v debootstrap >/dev/null || apt_install debootstrap

dir="$(mktemp -d /tmp/pmig-base.XXXXXX)"
trap 'rm -rf "$dir"' EXIT
echo "build-base-image: debootstrap bookworm + openjdk-17-jre-headless + iproute2 into $dir" >&2
debootstrap --variant=minbase --include=openjdk-17-jre-headless,ca-certificates,iproute2 bookworm "$dir" "$mirror" >&2
# nothing of the build host's apt state or caches goes into the image
rm -rf "$dir"/var/cache/apt/archives/*.deb "$dir"/var/lib/apt/lists/*
tar -C "$dir" -c . | docker import -c 'ENV LANG=C.UTF-8' - "$image" >&2
echo "build-base-image: built $image" >&2
