package io.pmig.executor.transfer;

import java.io.IOException;
import java.io.InputStream;
import java.io.OutputStream;
import java.net.InetAddress;
import java.net.InetSocketAddress;
import java.net.ServerSocket;
import java.net.Socket;

/**
 * A man in the middle on loopback for transfer tests: forwards source → destination bytes, and after
 * {@code afterBytes} either flips one bit (tamper) or cuts both connections (cut). Replies pass unchanged.
 */
final class TamperingProxy implements AutoCloseable {

    enum Action { FLIP_BIT, CUT }

    private final ServerSocket listener;
    private final InetSocketAddress target;
    private final long afterBytes;
    private final Action action;

    TamperingProxy(InetSocketAddress target, long afterBytes, Action action) throws IOException {
        this.listener = new ServerSocket(0, 1, InetAddress.getLoopbackAddress());
        this.target = target;
        this.afterBytes = afterBytes;
        this.action = action;
        Thread acceptor = new Thread(this::acceptOne, "tampering-proxy");
        acceptor.setDaemon(true);
        acceptor.start();
    }

    InetSocketAddress address() {
        return new InetSocketAddress(InetAddress.getLoopbackAddress(), listener.getLocalPort());
    }

    private void acceptOne() {
        try (Socket client = listener.accept(); Socket server = new Socket(target.getAddress(), target.getPort())) {
            Thread replies = new Thread(() -> pump(server, client, Long.MAX_VALUE, null), "tampering-proxy-replies");
            replies.setDaemon(true);
            replies.start();
            pump(client, server, afterBytes, action);
            replies.join(10_000);
        } catch (IOException | InterruptedException ignored) {
            // the test observes the effect on both ends
        }
    }

    private static void pump(Socket from, Socket to, long afterBytes, Action action) {
        byte[] buffer = new byte[8192];
        long total = 0;
        boolean done = false;
        try {
            InputStream in = from.getInputStream();
            OutputStream out = to.getOutputStream();
            int read;
            while ((read = in.read(buffer)) > 0) {
                if (!done && total + read > afterBytes) {
                    int at = (int) (afterBytes - total);
                    if (action == Action.CUT) {
                        out.write(buffer, 0, at);
                        out.flush();
                        from.close();
                        to.close();
                        return;
                    }
                    buffer[at] ^= 0x01;
                    done = true;
                }
                out.write(buffer, 0, read);
                total += read;
            }
            to.shutdownOutput();
        } catch (IOException ignored) {
            // one side closed
        }
    }

    @Override
    public void close() throws IOException {
        listener.close();
    }
}
