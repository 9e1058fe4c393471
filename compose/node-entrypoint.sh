#!/bin/sh
# A pmig node in a container: the agent samples this node, the executor runs and migrates its workloads.
# NODE (required), BOOTSTRAP (default kafka:9092); the transfer secret is mounted at /etc/pmig/transfer.secret.
# AGENT_MODE (default simulated): node containers share one host, whose /proc/stat every one of them sees, so by default
# a node's load is its own workloads' usage against CAPACITY (default cpus=0.5,mem=1GiB); AGENT_MODE=host reports
# the host's figures (one node container per machine).
# AGENT_METRICS_PORT (default 9401) and EXECUTOR_METRICS_PORT (default 9402): their /metrics, for Prometheus.
# WORKLOAD_UPLINK_ADDRESS (optional): the container's address on the workload segment (a Docker network); its interface
# goes into a bridge pmig-wl, without that address, and the executor hosts own-network workloads with addresses of
# WORKLOAD_RANGE (required with it) on that bridge. Without it, workloads use the container's network.
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
set --
if [ -n "${WORKLOAD_UPLINK_ADDRESS:-}" ]; then
  : "${WORKLOAD_RANGE:?set WORKLOAD_RANGE with WORKLOAD_UPLINK_ADDRESS}"
  uplink="$(ip -o -4 addr show | awk -v a="$WORKLOAD_UPLINK_ADDRESS" 'index($4, a "/") == 1 { print $2; exit }')"
  if [ -z "$uplink" ] && ip link show pmig-wl >/dev/null 2>&1; then
    uplink=done # a restarted container: the bridge is already made
  fi
  [ -n "$uplink" ] || { echo "node-entrypoint: no interface has $WORKLOAD_UPLINK_ADDRESS" >&2; exit 1; }
  if [ "$uplink" != done ]; then
    ip link add pmig-wl type bridge forward_delay 0
    ip addr flush dev "$uplink"
    ip link set "$uplink" master pmig-wl
    ip link set pmig-wl up
  fi
  set -- --workload-bridge pmig-wl --workload-range "$WORKLOAD_RANGE"
fi
pmig executor --node "$NODE" --bootstrap-server "$BOOTSTRAP" --workdir /var/lib/pmig \
    --listen 0.0.0.0:7070 --advertise "$NODE:7070" --secret-file /etc/pmig/transfer.secret --kill-workloads-on-exit \
    --metrics-port "$EXECUTOR_METRICS_PORT" "$@"
