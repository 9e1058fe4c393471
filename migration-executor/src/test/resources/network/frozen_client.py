# Test client of a workload frozen for a migration, in its own network namespace. Three threads append to LOG:
#   echo   one byte every 10 ms on ONE connection to HOST:PORT, waiting for it back: "reply <n> <gap ms>";
#          exits 2 if that connection closes or fails (a reset, or an ICMP error reported as a hard error)
#   sniff  every ICMP destination-unreachable this namespace receives about HOST:
#          "icmp <code> <source ip> <source mac> <quoted tcp flags> <arrival, ms since the epoch>"
#   dial   for every file CONNECTS/<n> that appears: a new connection to HOST:PORT, "dialing <n>", then
#          "connected <n> <ms>" or "failed <n> <error>"
#   --probe HOST PORT  exits 0 once a connection to HOST:PORT is made (the server is up)
import errno, os, socket, struct, sys, threading, time
if sys.argv[1] == "--probe":
    socket.create_connection((sys.argv[2], int(sys.argv[3])), timeout=2).close(); sys.exit(0)
host, port, log_path, connects = sys.argv[1], int(sys.argv[2]), sys.argv[3], sys.argv[4]
log = open(log_path, "a", buffering=1); lock = threading.Lock()
def write(line):
    with lock:
        log.write(line + "\n")

# Only a reset, a close or a hard ICMP error is a broken connection: a freeze that a loaded machine stretches past a
# minute or two is not (the test's own waits bound it), so the client's patience is far beyond them.
PATIENCE_S = 900
SO_TIMESTAMPNS = getattr(socket, "SO_TIMESTAMPNS", 35)  # Linux's value; Python does not name it

def sniff():
    s = socket.socket(socket.AF_PACKET, socket.SOCK_RAW, socket.htons(0x0800))
    s.setsockopt(socket.SOL_SOCKET, SO_TIMESTAMPNS, 1)  # the kernel's arrival time, not this thread's
    target = socket.inet_aton(host)
    while True:
        f, anc, _, _ = s.recvmsg(2048, 64); ip = f[14:]; ihl = (ip[0] & 15) * 4
        stamp = [struct.unpack("qq", d[:16]) for level, kind, d in anc if kind == SO_TIMESTAMPNS]
        ms = stamp[0][0] * 1000 + stamp[0][1] // 1000000 if stamp else time.time() * 1000
        if ip[9] != 1 or ip[ihl] != 3:
            continue
        inner = ip[ihl + 8:]; inner_ihl = (inner[0] & 15) * 4
        if inner[16:20] != target or inner[9] != 6:
            continue
        flags = inner[inner_ihl + 13] if len(inner) > inner_ihl + 13 else -1
        write("icmp %d %s %s %d %d" % (ip[ihl + 1], socket.inet_ntoa(ip[12:16]), f[6:12].hex(":"), flags, ms))

def dial():
    done = set()
    while True:
        for name in sorted(os.listdir(connects)):
            if name in done:
                continue
            done.add(name); write("dialing %s %d" % (name, time.monotonic() * 1000)); t = time.monotonic()
            try:
                socket.create_connection((host, port), timeout=PATIENCE_S).close()
                write("connected %s %d" % (name, (time.monotonic() - t) * 1000))
            except OSError as e:
                write("failed %s %s %d" % (name, errno.errorcode.get(e.errno, type(e).__name__), time.monotonic() * 1000))
        time.sleep(0.02)

threading.Thread(target=sniff, daemon=True).start()
threading.Thread(target=dial, daemon=True).start()
s = socket.create_connection((host, port), timeout=PATIENCE_S); n = 0; last = time.monotonic()
while True:
    try:
        s.sendall(b"x")
        if s.recv(1) != b"x":
            raise ConnectionError("closed")
    except OSError as e:
        write("broken %s" % type(e).__name__); sys.exit(2)
    now = time.monotonic(); n += 1
    write("reply %d %d" % (n, (now - last) * 1000)); last = now
    time.sleep(0.01)
