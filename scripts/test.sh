#!/usr/bin/env bash
# The project's test command (README quick start #2; CI runs it through .ci/run).
# On a fresh Debian 12 machine, as root, it installs what the suite needs, then runs every module's tests
# against the real things: an embedded Kafka broker, real CRIU, real processes.
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$root"

# shellcheck source=scripts/prerequisites.sh
source "$root/scripts/prerequisites.sh"
ensure_build_tools
ensure_criu
ensure_chromium

mvn -B -ntp verify "$@"
