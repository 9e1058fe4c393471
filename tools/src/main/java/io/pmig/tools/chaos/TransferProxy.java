package io.pmig.tools.chaos;

import java.io.IOException;
import java.io.InputStream;
import java.io.OutputStream;
import java.net.InetAddress;
import java.net.InetSocketAddress;
import java.net.ServerSocket;
import java.net.Socket;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.concurrent.atomic.AtomicLong;

/**
 * A loopback TCP proxy in front of an executor's transfer endpoint (the executor advertises the proxy). Normally it
 * forwards; {@link #cutAfter} arms it to sever the next connection once that many bytes (both directions) have passed,
 * which is a network cut mid-stream as the two executors see it.
 */
final class TransferProxy implements AutoCloseable {

    private final ServerSocket server;
    private final InetSocketAddress target;
    private final AtomicLong armedLimit = new AtomicLong(-1);
    private final AtomicInteger cuts = new AtomicInteger();
    private final AtomicLong largestConnection = new AtomicLong();
    private volatile boolean open = true;

    TransferProxy(InetSocketAddress target) throws IOException {
        this.target = target;
        this.server = new ServerSocket(0, 50, InetAddress.getLoopbackAddress());
        Thread t = new Thread(this::acceptLoop, "chaos-proxy-" + target.getPort());
        t.setDaemon(true);
        t.start();
    }

    InetSocketAddress address() {
        return new InetSocketAddress(InetAddress.getLoopbackAddress(), server.getLocalPort());
    }

    /** The next connection is cut after {@code bytes}; one cut, then the proxy forwards again. */
    void cutAfter(long bytes) {
        armedLimit.set(bytes);
    }

    void disarm() {
        armedLimit.set(-1);
    }

    int cuts() {
        return cuts.get();
    }

    /** Bytes of the largest connection seen so far, to place a cut inside a typical transfer. */
    long largestConnectionBytes() {
        return largestConnection.get();
    }

    private void acceptLoop() {
        while (open) {
            try {
                Socket client = server.accept();
                long limit = armedLimit.getAndSet(-1);
                Socket upstream;
                try {
                    upstream = new Socket(target.getAddress(), target.getPort());
                } catch (IOException e) {
                    client.close(); // the executor behind is down: the source sees a refused/closed connection
                    continue;
                }
                new Connection(client, upstream, limit).start();
            } catch (IOException e) {
                if (open) {
                    continue;
                }
                return;
            }
        }
    }

    private final class Connection {
        private final Socket client;
        private final Socket upstream;
        private final long limit;
        private final AtomicLong bytes = new AtomicLong();

        Connection(Socket client, Socket upstream, long limit) {
            this.client = client;
            this.upstream = upstream;
            this.limit = limit;
        }

        void start() {
            pump(client, upstream, "up");
            pump(upstream, client, "down");
        }

        private final AtomicInteger finished = new AtomicInteger();
        private final java.util.concurrent.atomic.AtomicBoolean severed = new java.util.concurrent.atomic.AtomicBoolean();

        private void pump(Socket from, Socket to, String direction) {
            Thread t = new Thread(() -> {
                byte[] buf = new byte[16 * 1024];
                boolean clean = false;
                try {
                    InputStream in = from.getInputStream();
                    OutputStream out = to.getOutputStream();
                    int n;
                    while ((n = in.read(buf)) > 0) {
                        long before = bytes.getAndAdd(n);
                        if (limit >= 0 && before + n >= limit) {
                            out.write(buf, 0, (int) Math.max(0, limit - before));
                            out.flush();
                            if (severed.compareAndSet(false, true)) {
                                cuts.incrementAndGet();
                            }
                            break;
                        }
                        out.write(buf, 0, n);
                        out.flush();
                    }
                    clean = n <= 0;
                    if (clean) {
                        to.shutdownOutput(); // pass a half-close on; the other direction may still be talking
                    }
                } catch (IOException e) {
                    // either side reset, or the cut closed the sockets
                } finally {
                    if (!clean || finished.incrementAndGet() == 2) {
                        largestConnection.accumulateAndGet(bytes.get(), Math::max);
                        closeQuietly(client);
                        closeQuietly(upstream);
                    }
                }
            }, "chaos-proxy-" + direction);
            t.setDaemon(true);
            t.start();
        }
    }

    private static void closeQuietly(Socket s) {
        try {
            s.close();
        } catch (IOException ignored) {
            // already closed
        }
    }

    @Override
    public void close() throws IOException {
        open = false;
        server.close();
    }
}
