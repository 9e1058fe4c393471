#!/bin/sh
# A pmig node in a container: the agent samples this node, the executor runs and migrates its workloads.
# NODE (required), BOOTSTRAP (default kafka:9092); the transfer secret is mounted at /etc/pmig/transfer.secret.
# AGENT_MODE (default simulated): node containers share one host, whose /proc/stat every one of them sees, so by default
# a node's load is its own workloads' usage against CAPACITY (default cpus=0.5,mem=1GiB); AGENT_MODE=host reports
# the host's figures (one node container per machine).
# AGENT_METRICS_PORT (default 9401) and EXECUTOR_METRICS_PORT (default 9402): their /metrics, for Prometheus.
set -eu
: "${NODE:?set NODE}"
BOOTSTRAP="${BOOTSTRAP:-kafka:9092}"
AGENT_MODE="${AGENT_MODE:-simulated}"
CAPACITY="${CAPACITY:-cpus=0.5,mem=1GiB}"
AGENT_METRICS_PORT="${AGENT_METRICS_PORT:-9401}"
EXECUTOR_METRICS_PORT="${EXECUTOR_METRICS_PORT:-9402}"
# criu writes /proc/sys/kernel/ns_last_pid; without `privileged` Docker mounts /proc/sys read-only (needs CAP_SYS_ADMIN)
[ -w /proc/sys/kernel/ns_last_pid ] || mount -o remount,rw /proc/sys 2>/dev/null || true
if [ "$AGENT_MODE" = simulated ]; then
  pmig agent --node "$NODE" --bootstrap-server "$BOOTSTRAP" --workdir /var/lib/pmig --mode simulated --capacity "$CAPACITY" \
      --metrics-port "$AGENT_METRICS_PORT" &
else
  pmig agent --node "$NODE" --bootstrap-server "$BOOTSTRAP" --workdir /var/lib/pmig --mode "$AGENT_MODE" \
      --metrics-port "$AGENT_METRICS_PORT" &
fi
agent=$!
trap 'kill "$agent" 2>/dev/null' EXIT INT TERM
pmig executor --node "$NODE" --bootstrap-server "$BOOTSTRAP" --workdir /var/lib/pmig \
    --listen 0.0.0.0:7070 --advertise "$NODE:7070" --secret-file /etc/pmig/transfer.secret --kill-workloads-on-exit \
    --metrics-port "$EXECUTOR_METRICS_PORT"
