#!/usr/bin/env bash
# provision-node.sh - turn a Debian 12 machine into a pmig node (the Vagrant VMs; any host you own works the same).
#
#   scripts/provision-node.sh --node ID --address IP --bootstrap HOST:PORT --secret-file FILE [--controller]
#                             [--workload-uplink-mac MAC --workload-range CIDR [--workload-router A.B.C.D/P]]
#
# Installs Java 17, Maven and gcc (to build pmig), criu >= 4.2 (scripts/install-criu.sh, via prerequisites.sh), builds
# the pmig jar into /opt/pmig/pmig.jar and installs systemd units: pmig-agent and pmig-executor on every node, and
# with --controller also pmig-broker (listening on IP:9092), pmig-analytics and pmig-dashboard (IP:8080).
# With --workload-uplink-mac: a unit pmig-workload-bridge makes the bridge pmig-wl at boot and enslaves the interface
# with that MAC (the node's NIC on the workload segment, no address of its own), and the executor hosts own-network
# workloads with addresses of --workload-range on it (README "Network identity"); --workload-router puts that address
# on the bridge, so this node reaches the workloads (the range's first host address, which pmig never hands out).
# Idempotent: re-running rebuilds the jar and restarts the units.
set -euo pipefail
here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
root="$(cd "$here/.." && pwd)"

node="" address="" bootstrap="" secret="" controller=0 uplink_mac="" workload_range="" workload_router=""
while [ $# -gt 0 ]; do
  case "$1" in
    --node) node="$2"; shift 2 ;;
    --address) address="$2"; shift 2 ;;
    --bootstrap) bootstrap="$2"; shift 2 ;;
    --secret-file) secret="$2"; shift 2 ;;
    --controller) controller=1; shift ;;
    --workload-uplink-mac) uplink_mac="$2"; shift 2 ;;
    --workload-range) workload_range="$2"; shift 2 ;;
    --workload-router) workload_router="$2"; shift 2 ;;
    *) echo "provision-node: unknown argument $1" >&2; exit 2 ;;
  esac
done
for v in node address bootstrap secret; do
  [ -n "${!v}" ] || { echo "provision-node: --${v/secret/secret-file} is required" >&2; exit 2; }
done
[ -r "$secret" ] || { echo "provision-node: cannot read secret file $secret" >&2; exit 2; }
if [ -n "$uplink_mac" ] && [ -z "$workload_range" ]; then
  echo "provision-node: --workload-uplink-mac needs --workload-range" >&2; exit 2
fi

# shellcheck source=scripts/prerequisites.sh
source "$here/prerequisites.sh"
ensure_build_tools
ensure_criu

(cd "$root" && mvn -q -B -DskipTests install)
install -d -m 755 /opt/pmig /etc/pmig /var/lib/pmig
install -m 644 "$root/cli/target/pmig.jar" /opt/pmig/pmig.jar
install -m 600 "$secret" /etc/pmig/transfer.secret

java_opts="-Xss1m -XX:+UseSerialGC -XX:-UsePerfData"
unit() { # name, description, command line
  cat > "/etc/systemd/system/$1.service" <<UNIT
[Unit]
Description=$2
After=network-online.target
Wants=network-online.target

[Service]
Environment=PMIG_CRIU=$PMIG_CRIU
ExecStart=/usr/bin/java $java_opts -jar /opt/pmig/pmig.jar $3
Restart=on-failure
RestartSec=3

[Install]
WantedBy=multi-user.target
UNIT
}

units=(pmig-agent pmig-executor)
workload_options=""
if [ -n "$uplink_mac" ]; then
  cat > /usr/local/sbin/pmig-workload-bridge <<SCRIPT
#!/bin/sh
# the workload bridge pmig-wl with the NIC $uplink_mac in it (written by provision-node.sh)
set -eu
uplink="\$(ip -o link | awk -v mac="$uplink_mac" 'tolower(\$0) ~ "link/ether " tolower(mac) { sub(":", "", \$2); print \$2; exit }')"
[ -n "\$uplink" ] || { echo "pmig-workload-bridge: no interface has MAC $uplink_mac" >&2; exit 1; }
ip link show pmig-wl >/dev/null 2>&1 || ip link add pmig-wl type bridge forward_delay 0
ip addr flush dev "\$uplink"
ip link set "\$uplink" master pmig-wl up
ip link set pmig-wl up
${workload_router:+ip addr replace $workload_router dev pmig-wl}
SCRIPT
  chmod 755 /usr/local/sbin/pmig-workload-bridge
  cat > /etc/systemd/system/pmig-workload-bridge.service <<UNIT
[Unit]
Description=pmig workload bridge pmig-wl
After=network-online.target
Wants=network-online.target

[Service]
Type=oneshot
RemainAfterExit=yes
ExecStart=/usr/local/sbin/pmig-workload-bridge

[Install]
WantedBy=multi-user.target
UNIT
  workload_options=" --workload-bridge pmig-wl --workload-range $workload_range"
  units=(pmig-workload-bridge "${units[@]}")
fi
unit pmig-executor "pmig executor ($node)" "executor --node $node --bootstrap-server $bootstrap --listen $address:7070 --workdir /var/lib/pmig/executor --secret-file /etc/pmig/transfer.secret --criu $PMIG_CRIU --metrics-host $address --metrics-port 9402$workload_options"
if [ -n "$uplink_mac" ]; then
  sed -i 's/^After=network-online.target$/After=network-online.target pmig-workload-bridge.service/; s/^Wants=network-online.target$/Wants=network-online.target\nRequires=pmig-workload-bridge.service/' \
    /etc/systemd/system/pmig-executor.service
fi
unit pmig-agent "pmig agent ($node)" "agent --node $node --bootstrap-server $bootstrap --workdir /var/lib/pmig/executor --metrics-host $address --metrics-port 9401"
if [ "$controller" = 1 ]; then
  unit pmig-broker "pmig Kafka broker" "broker --data-dir /var/lib/pmig/broker --broker-property listeners=PLAINTEXT://$address:9092 --broker-property advertised.listeners=PLAINTEXT://$address:9092"
  # G1, as bin/pmig runs it: the serial collector's full pauses (0.5-1.9 s at 10,000 nodes) delay decisions
  java_opts="-Xss1m -XX:+UseG1GC -XX:-UsePerfData" unit pmig-analytics "pmig analytics" "analytics --bootstrap-server $bootstrap --state-dir /var/lib/pmig/analytics --http-host $address --http-port 7071"
  unit pmig-dashboard "pmig dashboard" "dashboard --bootstrap-server $bootstrap --analytics http://$address:7071 --http-host $address --http-port 8080"
  units=(pmig-broker pmig-analytics pmig-dashboard "${units[@]}")
  sed -i 's/^After=network-online.target/& pmig-broker.service/' \
    /etc/systemd/system/pmig-{analytics,dashboard,agent,executor}.service
fi
systemctl daemon-reload
mapfile -t services < <(printf '%s.service\n' "${units[@]}")
systemctl enable "${services[@]}"
systemctl restart "${services[@]}"
echo "provision-node: $node ready (${units[*]})" >&2
