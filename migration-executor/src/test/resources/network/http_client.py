# Test client of an HTTP server, in its own network namespace: a NEW connection every 50 ms (or every INTERVAL_MS,
# the optional fifth argument) (GET /) until STOP exists, a line per request appended to LOG ("ok <ms>" or "failed <error>"); then one line of JSON on stdout:
# requests, failed (refused, reset, timed out or not 200), the longest request in ms.
import http.client, json, os, sys, time
host, port, stop, log = sys.argv[1], int(sys.argv[2]), sys.argv[3], open(sys.argv[4], "a", buffering=1)
interval = int(sys.argv[5]) / 1000 if len(sys.argv) > 5 else 0.05
requests = failed = 0; longest = 0.0; errors = {}
while not os.path.exists(stop):
    t = time.monotonic()
    try:
        c = http.client.HTTPConnection(host, port, timeout=30)
        c.request("GET", "/")
        status = c.getresponse().status
        c.close()
        ok, why = status == 200, "status %d" % status
    except OSError as e:
        ok, why = False, type(e).__name__
    ms = (time.monotonic() - t) * 1000
    requests += 1; longest = max(longest, ms)
    if not ok:
        failed += 1; errors[why] = errors.get(why, 0) + 1
    log.write("ok %d\n" % ms if ok else "failed %s\n" % why)
    time.sleep(interval)
print(json.dumps({"requests": requests, "failed": failed, "longest_ms": round(longest), "errors": errors}))
