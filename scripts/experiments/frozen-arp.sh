#!/bin/bash
# Does a frozen workload's namespace still answer ARP behind criu's network lock (an inet table dropping all IP)?
# Its only process is SIGSTOPped, a client on the same bridge resolves the address once with the workload's host side
# up and once with it down (migration-executor/NETWORK-IDENTITY.md, "Client resets in long freezes": why pmig now
# takes the host side down just before RESTORE, not right after the dump). Root; makes and deletes its own namespaces
# pfa<pid>{n,w,c}. NFT: nft binary (default: the project's, beside criu).
set -eu
NFT=${NFT:-/opt/pmig/criu/bin/nft}
t=pfa$$
N=${t}n; W=${t}w; C=${t}c
cleanup() { kill -CONT $frozen 2>/dev/null || true; kill $frozen 2>/dev/null || true; ip netns del $N; ip netns del $W; ip netns del $C; }
for ns in $N $W $C; do ip netns add $ns; ip -n $ns link set lo up; done
frozen=
trap cleanup EXIT
ip -n $N link add ${t}br type bridge forward_delay 0; ip -n $N link set ${t}br up
ip -n $N link add ${t}w type veth peer name eth0 netns $W
ip -n $N link add ${t}c type veth peer name eth0 netns $C
for h in ${t}w ${t}c; do ip -n $N link set $h master ${t}br up; done
ip -n $W addr add 10.215.0.2/24 dev eth0; ip -n $W link set eth0 up
ip -n $C addr add 10.215.0.3/24 dev eth0; ip -n $C link set eth0 up
ip netns exec $W sleep 600 & frozen=$!
ip netns exec $W "$NFT" -f - <<'EOF'
table inet LOCK {
  chain in { type filter hook prerouting priority -100; policy drop; }
  chain out { type filter hook output priority -100; policy drop; }
}
EOF
kill -STOP $frozen
# one datagram makes the client's kernel resolve the address; its neighbour entry then says whether anyone answered
resolve() {
  ip -n $C neigh flush dev eth0
  ip netns exec $C python3 -c "import socket, time
socket.socket(socket.AF_INET, socket.SOCK_DGRAM).sendto(b'x', ('10.215.0.2', 9)); time.sleep(4)"
  ip -n $C neigh show 10.215.0.2
}
echo "frozen and locked, host side up:   $(resolve)"
ip -n $N link set ${t}w down
echo "frozen and locked, host side down: $(resolve)"
