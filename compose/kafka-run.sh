#!/bin/bash
# /etc/kafka/docker/run of the pmig/kafka image: pmig's broker configured the way the apache/kafka image is, by
# KAFKA_* environment variables (KAFKA_FOO_BAR=v is foo.bar=v; "__" stands for "_" and "___" for "-"), so tools
# written for that image - Testcontainers' KafkaContainer - run it unchanged. CLUSTER_ID is accepted and ignored:
# pmig formats a fresh data dir with its own id.
set -euo pipefail
args=()
for var in $(compgen -e | grep '^KAFKA_' || true); do
  key="${var#KAFKA_}"
  key="${key//___/-}"; key="${key//__/@}"; key="${key//_/.}"; key="${key//@/_}"
  args+=(--broker-property "${key,,}=${!var}")
done
# pmig broker's own admin client (readiness, topic creation) connects to 127.0.0.1 on the inter-broker listener: its
# advertised address (the container's host name) resolves inside the container, unlike the one advertised to the host.
inter="${KAFKA_INTER_BROKER_LISTENER_NAME:-PLAINTEXT}"
port=9092
IFS=',' read -ra listeners <<< "${KAFKA_LISTENERS:-}"
for l in "${listeners[@]}"; do
  [[ "$l" == "$inter://"* ]] && port="${l##*:}"
done
exec pmig broker --data-dir "${KAFKA_DATA_DIR:-/var/lib/pmig/broker}" --port "$port" "${args[@]}"
