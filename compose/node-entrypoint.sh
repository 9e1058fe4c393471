#!/bin/sh
# A pmig node in a container: the agent samples this node, the executor runs and migrates its workloads.
# NODE (required), BOOTSTRAP (default kafka:9092); the transfer secret is mounted at /etc/pmig/transfer.secret.
set -eu
: "${NODE:?set NODE}"
BOOTSTRAP="${BOOTSTRAP:-kafka:9092}"
# criu writes /proc/sys/kernel/ns_last_pid; without `privileged` Docker mounts /proc/sys read-only (needs CAP_SYS_ADMIN)
[ -w /proc/sys/kernel/ns_last_pid ] || mount -o remount,rw /proc/sys 2>/dev/null || true
pmig agent --node "$NODE" --bootstrap-server "$BOOTSTRAP" --workdir /var/lib/pmig &
agent=$!
trap 'kill "$agent" 2>/dev/null' EXIT INT TERM
pmig executor --node "$NODE" --bootstrap-server "$BOOTSTRAP" --workdir /var/lib/pmig \
    --listen 0.0.0.0:7070 --advertise "$NODE:7070" --secret-file /etc/pmig/transfer.secret --kill-workloads-on-exit
