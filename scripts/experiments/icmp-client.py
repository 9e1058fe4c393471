# K connections to HOST:PORT, each sending a byte every 10 ms and waiting for its echo; on stop file: per connection the
# longest gap between replies (ms) and when it began, as JSON lines to OUT.
import json, os, socket, sys, threading, time
host, port, k, stop, out = sys.argv[1], int(sys.argv[2]), int(sys.argv[3]), sys.argv[4], sys.argv[5]
results = [None] * k
ready = threading.Semaphore(0)
def run(i):
    s = socket.create_connection((host, port))
    last = time.time(); gap = 0; gap_start = 0; replies = 0
    while not os.path.exists(stop):
        s.sendall(b'x')
        if s.recv(1) != b'x':
            break
        t = time.time(); replies += 1
        if replies == 1: ready.release()
        if t - last > gap:
            gap, gap_start = t - last, last
        last = t
        time.sleep(0.01)
    results[i] = {"conn": i, "gap_ms": round(gap * 1000), "gap_start": round(gap_start * 1000), "replies": replies}
threads = [threading.Thread(target=run, args=(i,)) for i in range(k)]
for t in threads: t.start()
for t in threads: ready.acquire()
open(out + ".ready", "w").close()
for t in threads: t.join()
with open(out, "w") as f:
    for r in results: f.write(json.dumps(r) + "\n")
