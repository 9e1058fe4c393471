# A client whose handshake with HOST:PORT stays half-done until the file GO exists: an nft table in this namespace drops
# everything it sends on that connection but the SYN, so its connect() completes while the server's kernel keeps only
# a request socket (SYN_RECV). Once GO exists the table goes, the client sends one byte (which completes the handshake
# on the server's side) and waits for its echo. Appends to LOG "connected <local port>", then "echo" or "failed <error>".
import errno, os, socket, subprocess, sys, time
host, port, nft, go, log_path = sys.argv[1], int(sys.argv[2]), sys.argv[3], sys.argv[4], sys.argv[5]
log = open(log_path, "a", buffering=1)
s = socket.socket()
s.bind(("0.0.0.0", 0))
local = s.getsockname()[1]
table = "pmig-test-half-open-%d" % local
subprocess.run([nft, "-f", "-"], check=True, text=True, input="table inet %s {\n chain held {\n  type filter hook output"
               " priority 0;\n  ip daddr %s tcp dport %d tcp sport %d tcp flags & (syn | ack) == ack drop\n }\n}\n"
               % (table, host, port, local))
s.connect((host, port))
log.write("connected %d\n" % local)
while not os.path.exists(go):
    time.sleep(0.01)
subprocess.run([nft, "delete", "table", "inet", table], check=True)
s.settimeout(120)
try:
    s.sendall(b"x")
    log.write("echo\n" if s.recv(1) == b"x" else "failed closed\n")
except OSError as e:
    log.write("failed %s\n" % errno.errorcode.get(e.errno, type(e).__name__))
