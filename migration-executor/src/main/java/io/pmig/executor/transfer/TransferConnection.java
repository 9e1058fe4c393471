package io.pmig.executor.transfer;

import static io.pmig.executor.transfer.TransferProtocol.BUFFER_BYTES;

import java.io.BufferedInputStream;
import java.io.BufferedOutputStream;
import java.io.DataInputStream;
import java.io.DataOutputStream;
import java.io.IOException;
import java.io.InputStream;
import java.net.ConnectException;
import java.net.InetSocketAddress;
import java.net.Socket;
import java.net.SocketTimeoutException;
import java.nio.file.Files;
import java.nio.file.LinkOption;
import java.nio.file.Path;
import java.security.MessageDigest;
import java.time.Duration;
import java.util.HashMap;
import java.util.HexFormat;
import java.util.List;
import java.util.Map;

/**
 * The source's side of a transfer session: authenticates to the destination (and checks the destination's
 * proof in return), streams files, then sends control requests over the same connection.
 */
public final class TransferConnection implements AutoCloseable {

    private final Socket socket;
    private final DataInputStream in;
    private final DataOutputStream out;
    private final byte[] key;
    private final String migrationId;
    private long seq;

    private TransferConnection(Socket socket, byte[] key, String migrationId) throws IOException {
        this.socket = socket;
        this.in = new DataInputStream(new BufferedInputStream(socket.getInputStream(), 64 * 1024));
        this.out = new DataOutputStream(new BufferedOutputStream(socket.getOutputStream(), BUFFER_BYTES));
        this.key = key;
        this.migrationId = migrationId;
    }

    public static TransferConnection open(InetSocketAddress destination, TransferCredentials credentials,
                                          String migrationId, Duration timeout) throws TransferException {
        Socket socket = new Socket();
        try {
            socket.connect(destination, (int) timeout.toMillis());
            socket.setSoTimeout((int) timeout.toMillis());
            socket.setTcpNoDelay(true);
            TransferConnection connection = new TransferConnection(socket, credentials.migrationKey(migrationId), migrationId);
            connection.authenticate();
            return connection;
        } catch (ConnectException e) {
            closeQuietly(socket);
            throw new TransferException("cannot reach transfer endpoint " + destination + ": " + e.getMessage(), true, e);
        } catch (IOException e) {
            closeQuietly(socket);
            throw new TransferException("transfer handshake with " + destination + " failed: " + e.getMessage(), true, e);
        } catch (TransferException e) {
            closeQuietly(socket);
            throw e;
        }
    }

    private void authenticate() throws IOException, TransferException {
        String sourceNonce = TransferProtocol.nonce();
        out.writeUTF(TransferProtocol.MAGIC);
        out.writeUTF(migrationId);
        out.writeUTF(sourceNonce);
        out.flush();
        String reply = in.readUTF();
        if (!TransferProtocol.CHALLENGE.equals(reply)) {
            throw refusal(reply);
        }
        String destNonce = in.readUTF();
        out.writeUTF(TransferCredentials.hmacHex(key, TransferProtocol.authMessage(migrationId, sourceNonce, destNonce)));
        out.flush();
        reply = in.readUTF();
        if (!TransferProtocol.OK.equals(reply)) {
            throw refusal(reply);
        }
        String proof = in.readUTF();
        if (!TransferCredentials.matches(
                TransferCredentials.hmacHex(key, TransferProtocol.serverMessage(migrationId, sourceNonce, destNonce)), proof)) {
            throw new TransferException("the destination could not prove it holds the transfer secret", false);
        }
    }

    /** Entries sent ahead of their answers: the answers (a few bytes each) never fill a socket buffer. */
    static final int UNACKNOWLEDGED = 64;

    /**
     * Sends the entries given relative to {@code baseDir} - files, directories, symlinks, FIFOs, device nodes,
     * sockets, each with its mode, owner and times; a name already sent for the same inode travels as a hard link
     * (list a directory before what it holds); returns the regular files and bytes the destination accepted. Up to
     * {@value #UNACKNOWLEDGED} entries go out before their answers are read, so that a LAZY migration's tens of small
     * images (inside the downtime) do not wait one round trip each; a refusal still stops the transfer at the answer it
     * comes with.
     */
    public TransferReceipt sendFiles(Path baseDir, List<Path> relativeFiles) throws TransferException {
        long bytes = 0;
        int files = 0;
        int unanswered = 0;
        byte[] buffer = new byte[BUFFER_BYTES];
        Map<String, byte[]> inodes = new HashMap<>();
        for (Path relative : relativeFiles) {
            Path file = baseDir.resolve(relative);
            String name = relative.toString();
            try {
                FileEntry entry = FileEntry.describe(file, PathBytes.of(relative), inodes);
                entry.write(out);
                String digest = "";
                if (entry.kind() == FileEntry.Kind.FILE) {
                    long size = entry.size();
                    MessageDigest sha = TransferServer.sha256();
                    long sent = 0;
                    try (InputStream data = Files.newInputStream(file, LinkOption.NOFOLLOW_LINKS)) {
                        int read;
                        while (sent < size && (read = data.read(buffer, 0, (int) Math.min(buffer.length, size - sent))) > 0) {
                            sha.update(buffer, 0, read);
                            out.write(buffer, 0, read);
                            sent += read;
                        }
                    }
                    if (sent != size) {
                        throw new TransferException(file + " changed size while being sent", false);
                    }
                    digest = HexFormat.of().formatHex(sha.digest());
                    out.writeUTF(digest);
                }
                out.writeUTF(TransferCredentials.hmacHex(key, entry.macMessage(seq++, digest)));
                if (++unanswered == UNACKNOWLEDGED) {
                    out.flush();
                    expectOk();
                    unanswered--;
                }
                if (entry.kind() == FileEntry.Kind.FILE) {
                    bytes += entry.size();
                    files++;
                }
            } catch (IOException e) {
                throw cut("sending " + name, e);
            }
        }
        try {
            out.flush();
            for (; unanswered > 0; unanswered--) {
                expectOk();
            }
        } catch (IOException e) {
            throw cut("finishing the transfer", e);
        }
        return new TransferReceipt(files, bytes);
    }

    /** Sends a control request and waits up to {@code timeout} for the destination's reply. */
    public String control(String verb, Map<String, String> args, Duration timeout) throws TransferException {
        try {
            socket.setSoTimeout((int) timeout.toMillis());
            out.writeUTF(TransferProtocol.CONTROL);
            out.writeUTF(verb);
            out.writeInt(args.size());
            for (var entry : args.entrySet()) {
                out.writeUTF(entry.getKey());
                out.writeUTF(entry.getValue());
            }
            out.writeUTF(TransferCredentials.hmacHex(key, TransferProtocol.controlMessage(seq++, verb, args)));
            out.flush();
            String status = in.readUTF();
            String reply = in.readUTF();
            if (!TransferProtocol.OK.equals(status)) {
                throw new TransferException(reply, false);
            }
            return reply;
        } catch (SocketTimeoutException e) {
            throw new TransferException("no reply to " + verb + " within " + timeout.toMillis() + " ms", true, e);
        } catch (IOException e) {
            throw cut(verb, e);
        }
    }

    /** Ends the session cleanly. */
    public void finish() throws TransferException {
        try {
            out.writeUTF(TransferProtocol.END);
            out.flush();
            String reply = in.readUTF();
            if (!TransferProtocol.BYE.equals(reply)) {
                throw refusal(reply);
            }
        } catch (IOException e) {
            throw cut("END", e);
        }
    }

    private void expectOk() throws IOException, TransferException {
        String reply = in.readUTF();
        if (!TransferProtocol.OK.equals(reply)) {
            throw refusal(reply);
        }
    }

    private TransferException refusal(String status) throws IOException {
        String why = TransferProtocol.ERR.equals(status) ? in.readUTF() : "unexpected reply " + status;
        return new TransferException("destination refused: " + why, false);
    }

    /** A write that fails because the destination refused and hung up should report the refusal, not the broken pipe. */
    private TransferException cut(String what, IOException e) {
        try {
            socket.setSoTimeout(1000);
            if (in.available() > 0 || !socket.isInputShutdown()) {
                // answers to entries sent ahead may come before the refusal
                for (int i = 0; i <= UNACKNOWLEDGED; i++) {
                    String status = in.readUTF();
                    if (TransferProtocol.ERR.equals(status)) {
                        return new TransferException("destination refused: " + in.readUTF(), false, e);
                    }
                    if (!TransferProtocol.OK.equals(status)) {
                        break;
                    }
                }
            }
        } catch (IOException ignored) {
            // nothing readable: the connection really was cut
        }
        return new TransferException("transfer cut while " + what + ": " + e.getMessage(), true, e);
    }

    private static void closeQuietly(Socket socket) {
        try {
            socket.close();
        } catch (IOException ignored) {
            // already failing
        }
    }

    @Override
    public void close() {
        closeQuietly(socket);
    }
}
