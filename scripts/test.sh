#!/usr/bin/env bash
# The project's test command (README quick start #2; CI runs it through .ci/run).
# On a fresh Debian 12 machine, as root, it installs what the suite needs, then runs every module's tests
# against the real things: an embedded Kafka broker, real CRIU, real processes, real Docker engines.
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$root"

# shellcheck source=scripts/prerequisites.sh
source "$root/scripts/prerequisites.sh"
ensure_build_tools
ensure_criu
ensure_prometheus
ensure_chromium
ensure_docker
ensure_test_programs
ensure_ruby
# The Docker container tests (they start their own dockerd instances) and the Vagrantfile check must run here, not skip.
export PMIG_REQUIRE_DOCKER=1 PMIG_REQUIRE_RUBY=1

mvn -B -ntp verify "$@"
