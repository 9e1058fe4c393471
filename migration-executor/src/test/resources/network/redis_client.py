# Test client of a redis-server, in its own network namespace (RESP by hand: no client library needed).
#   load HOST PORT N        SET key:0..N-1 to value-i on one connection, pipelined
#   incr HOST PORT LOG      INCR counter every 10 ms on ONE connection forever; appends "<value> <gap ms>" to LOG;
#                           exits 2 if the connection closes or resets, 4 if a value is not the previous + 1
#   check HOST PORT N       one line of JSON: dbsize, keys whose value is wrong, connections the server accepted
import json, socket, sys, time

def connect(host, port):
    s = socket.create_connection((host, int(port)), timeout=60)
    return s, s.makefile("rb")

def reply(f):
    line = f.readline()
    if not line:
        raise ConnectionError("closed")
    if line[:1] == b"$":
        n = int(line[1:])
        return None if n < 0 else f.read(n + 2)[:-2]
    return line.rstrip(b"\r\n")

cmd, host, port = sys.argv[1], sys.argv[2], sys.argv[3]
if cmd == "load":
    n = int(sys.argv[4]); s, f = connect(host, port)
    s.sendall(b"".join(b"SET key:%d value-%d\r\n" % (i, i) for i in range(n)))
    for i in range(n):
        r = reply(f)
        if r != b"+OK":
            sys.exit("SET key:%d: %r" % (i, r))
elif cmd == "incr":
    log = open(sys.argv[4], "a", buffering=1)
    try:
        s, f = connect(host, port)
        last, t = None, time.monotonic()
        while True:
            s.sendall(b"INCR counter\r\n")
            r = reply(f)
            now = time.monotonic()
            v = int(r[1:])
            if last is not None and v != last + 1:
                print("jump from %d to %d" % (last, v), file=sys.stderr); sys.exit(4)
            log.write("%d %d\n" % (v, round((now - t) * 1000)))
            last, t = v, now
            time.sleep(0.01)
    except (ConnectionError, OSError) as e:
        print("connection broke: %s" % e, file=sys.stderr); sys.exit(2)
elif cmd == "check":
    n = int(sys.argv[4]); s, f = connect(host, port)
    s.sendall(b"DBSIZE\r\n"); dbsize = int(reply(f)[1:])
    wrong = 0
    for start in range(0, n, 1000):
        s.sendall(b"".join(b"GET key:%d\r\n" % i for i in range(start, min(n, start + 1000))))
        for i in range(start, min(n, start + 1000)):
            if reply(f) != b"value-%d" % i:
                wrong += 1
    s.sendall(b"INFO stats\r\n"); stats = reply(f).decode()
    accepted = int([l for l in stats.split("\r\n") if l.startswith("total_connections_received:")][0].split(":")[1])
    print(json.dumps({"dbsize": dbsize, "wrong": wrong, "connections": accepted}))
