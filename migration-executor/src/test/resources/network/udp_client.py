# Test client of a UDP server, in its own network namespace: a datagram "<seq>" every 10 ms from ONE socket
# (connected, so an ICMP port-unreachable shows as a refusal) until STOP exists. The server answers each datagram
# with "<token> <count> <seq>": a token it drew once at start and how many datagrams it has received. Appends
# "<count> <gap ms> <token>" per reply to LOG, the gap being the time since the previous reply; exits 4 if the token
# changes or the count does not grow (another process or socket answered), else prints one line of JSON at the end:
# sent, replies, refused (ICMP port unreachable), the longest gap in ms.
import json, os, socket, sys, time
host, port, stop, log = sys.argv[1], int(sys.argv[2]), sys.argv[3], open(sys.argv[4], "a", buffering=1)
s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
s.connect((host, port))
s.settimeout(0.01)
sent = replies = refused = 0; token = None; last = 0; longest = 0.0; t = time.monotonic()
while not os.path.exists(stop):
    sent += 1
    try:
        s.send(b"%d" % sent)
    except ConnectionRefusedError:
        refused += 1
    deadline = time.monotonic() + 0.01
    while True:
        try:
            tok, count, seq = s.recv(512).split()
        except socket.timeout:
            break
        except ConnectionRefusedError:
            refused += 1
            break
        count = int(count); now = time.monotonic()
        if token is not None and tok != token:
            print("another server answered: token %r after %r" % (tok, token), file=sys.stderr); sys.exit(4)
        if count <= last:
            print("count went from %d to %d" % (last, count), file=sys.stderr); sys.exit(4)
        token, last = tok, count; replies += 1
        longest = max(longest, (now - t) * 1000)
        log.write("%d %d %s\n" % (count, round((now - t) * 1000), tok.decode()))
        t = now
        if time.monotonic() >= deadline:
            break
        s.settimeout(max(0.001, deadline - time.monotonic()))
    s.settimeout(0.01)
print(json.dumps({"sent": sent, "replies": replies, "refused": refused, "longest_gap_ms": round(longest)}))
