#!/bin/bash
# What a long freeze costs K connections from one client host when the node answers with ICMP host-unreachable
# (the tables of FrozenClientRules) under the node namespace's net.ipv4.icmp_ratelimit (migration-executor/
# NETWORK-IDENTITY.md, "ICMP rate limit"). Root; makes and deletes its own namespaces prl<pid>{n,w,c}; sets the rate
# limit inside its node namespace only. NFT: nft binary (default: the project's, beside criu).
# Usage: icmp-ratelimit.sh K FREEZE_S RATELIMIT_MS on|off OUTDIR
set -eu
NFT=${NFT:-/opt/pmig/criu/bin/nft}
k=$1; freeze=$2; ratelimit=$3; answers=$4; out=$5
mkdir -p "$out"
t=prl$$
N=${t}n; W=${t}w; C=${t}c
# a counter of the Icmp line of /proc/net/snmp in a namespace
icmp() { ip netns exec $1 awk -v f=$2 '/^Icmp:/{ if (!n) { for (i = 1; i <= NF; i++) col[$i] = i; n = 1 } else print $col[f] }' /proc/net/snmp; }
cleanup() { kill $server $client 2>/dev/null || true; ip netns del $N; ip netns del $W; ip netns del $C; }
for ns in $N $W $C; do ip netns add $ns; ip -n $ns link set lo up; done
trap cleanup EXIT
ip -n $N link add br0 type bridge forward_delay 0
ip netns exec $N sysctl -qw net.ipv6.conf.br0.disable_ipv6=1 net.ipv4.icmp_ratelimit=$ratelimit
ip -n $N addr add 10.214.0.254/24 dev br0; ip -n $N link set br0 up
ip -n $N link add wh type veth peer name eth0 netns $W
ip -n $N link add ch type veth peer name eth0 netns $C
for h in wh ch; do ip -n $N link set $h master br0 up; done
ip -n $W addr add 10.214.0.10/24 dev eth0; ip -n $W link set eth0 up
ip -n $C addr add 10.214.0.1/24 dev eth0; ip -n $C link set eth0 up
mac=$(ip -n $N -o link show br0 | sed -n 's|.* link/ether \([0-9a-f:]*\) .*|\1|p')
ip netns exec $W python3 -c '
import socket, threading
s = socket.socket(); s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1); s.bind(("0.0.0.0", 7000)); s.listen(64)
def serve(c):
    while True:
        d = c.recv(4096)
        if not d: break
        c.sendall(d)
while True:
    c, _ = s.accept(); threading.Thread(target=serve, args=(c,), daemon=True).start()' &
server=$!
until ip netns exec $W ss -ltn | grep -q ':7000 '; do sleep 0.1; done
stop=$out/stop; rm -f $stop
ip netns exec $C python3 "$(dirname "$0")/icmp-client.py" 10.214.0.10 7000 $k $stop $out/gaps.json &
client=$!
until [ -e $out/gaps.json.ready ]; do sleep 0.1; done; rm -f $out/gaps.json.ready
sleep 1
icmp_before=$(icmp $C InDestUnreachs)
limited_before=$(icmp $N OutRateLimitHost)
start=$(date +%s%3N)
# the freeze: everything dropped inside the workload's namespace (criu's lock), then the server stopped; the lock goes
# first so that every connection's next request is dropped and retransmitted (one that reaches a stopped but unlocked
# kernel is acknowledged there and never retransmitted)
ip netns exec $W $NFT -f - <<RULES
table inet lock {
  chain lockin { type filter hook input priority -300; policy drop; }
  chain lockout { type filter hook output priority -300; policy drop; }
}
RULES
kill -STOP $server
if [ "$answers" = on ]; then
  bare=$(for d in $(seq 5 15); do printf '%s . %s, ' $((20 + 4 * d)) $d; done)
  ip netns exec $N $NFT -f - <<RULES
table bridge frozen { chain frozen { type filter hook prerouting priority -300;
  ip daddr 10.214.0.10 tcp flags & (syn | ack) == syn drop
  ip daddr 10.214.0.10 ip hdrlength 5 ip length . tcp doff { ${bare%, } } accept
  ip daddr 10.214.0.10 tcp flags & syn == 0 ether daddr set $mac meta pkttype set host
  }
}
table inet frozen { chain frozen { type filter hook prerouting priority -300;
  ether daddr $mac ip daddr 10.214.0.10 tcp flags & syn == 0 reject with icmp type host-unreachable
  }
}
RULES
fi
sleep "$freeze"
ip netns exec $N $NFT flush ruleset
ip netns exec $W $NFT delete table inet lock
kill -CONT $server
end=$(date +%s%3N)
sleep 3
touch $stop; wait $client
icmp_after=$(icmp $C InDestUnreachs)
limited_after=$(icmp $N OutRateLimitHost)
python3 - "$out/gaps.json" $k $freeze $ratelimit $answers $((end - start)) $((icmp_after - icmp_before)) $((limited_after - limited_before)) <<'PY'
import json, sys
gaps = [json.loads(l)["gap_ms"] for l in open(sys.argv[1])]
k, freeze, rl, ans, lock, icmp, limited = sys.argv[2:]
gaps.sort()
print(f"k={k} freeze={freeze}s ratelimit={rl} answers={ans} lock={lock}ms icmp_received={icmp} rate_limited={limited}"
      f" gap_ms min={gaps[0]} median={gaps[len(gaps)//2]} max={gaps[-1]} excess_median={gaps[len(gaps)//2]-int(lock)}")
PY
