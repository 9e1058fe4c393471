package io.pmig.executor.transfer;

import static io.pmig.executor.transfer.TransferProtocol.BUFFER_BYTES;

import java.io.BufferedInputStream;
import java.io.BufferedOutputStream;
import java.io.DataInputStream;
import java.io.DataOutputStream;
import java.io.EOFException;
import java.io.IOException;
import java.io.OutputStream;
import java.net.InetSocketAddress;
import java.net.ServerSocket;
import java.net.Socket;
import java.net.SocketException;
import java.nio.file.Files;
import java.nio.file.LinkOption;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.security.DigestOutputStream;
import java.security.MessageDigest;
import java.security.NoSuchAlgorithmException;
import java.util.HashMap;
import java.util.HexFormat;
import java.util.Map;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;
import org.slf4j.MDC;

/**
 * The destination's transfer endpoint. It accepts uploads only into sessions it opened for a migration, only
 * from a peer that proves it holds that migration's key, and only as entries inside the session directory
 * ({@link SessionFiles} writes them), each with a matching MAC (and a file's SHA-256) and within the size caps. Anything else is refused with a
 * reason and leaves nothing behind.
 */
public final class TransferServer implements AutoCloseable {

    private static final Logger log = LoggerFactory.getLogger(TransferServer.class);
    private static final int MAX_AUTH_FAILURES = 3;
    private static final int READ_TIMEOUT_MS = 120_000;

    private final InetSocketAddress requested;
    private final TransferCredentials credentials;
    private final TransferLimits limits;
    private final Map<String, TransferSession> sessions = new ConcurrentHashMap<>();
    private final Map<String, Integer> authFailures = new ConcurrentHashMap<>();
    private final ExecutorService connections = Executors.newCachedThreadPool(runnable -> {
        Thread thread = new Thread(runnable, "pmig-transfer-connection");
        thread.setDaemon(true);
        return thread;
    });
    private ServerSocket socket;
    private volatile SessionIntake intake;

    public TransferServer(InetSocketAddress listen, TransferCredentials credentials, TransferLimits limits) {
        this.requested = listen;
        this.credentials = credentials;
        this.limits = limits;
    }

    public synchronized TransferServer start() throws IOException {
        socket = new ServerSocket();
        socket.setReuseAddress(true);
        socket.bind(requested);
        Thread acceptor = new Thread(this::acceptLoop, "pmig-transfer-accept");
        acceptor.setDaemon(true);
        acceptor.start();
        log.info("transfer endpoint listening on {}", address());
        return this;
    }

    public InetSocketAddress address() {
        return new InetSocketAddress(socket.getInetAddress(), socket.getLocalPort());
    }

    /** Opens the one-time upload slot for a migration; files land in {@code directory}. */
    public TransferSession openSession(String migrationId, Path directory, SessionHandler handler) throws IOException {
        Files.createDirectories(directory);
        TransferSession session = new TransferSession(migrationId, directory.toRealPath(), handler, this);
        if (sessions.putIfAbsent(migrationId, session) != null) {
            throw new IllegalStateException("a transfer session for migration " + migrationId + " is already open");
        }
        return session;
    }

    /** Lets authenticated peers open sessions this node did not open in advance (checkpoints; see {@link SessionIntake}). */
    public void acceptUnannounced(SessionIntake intake) {
        this.intake = intake;
    }

    void forget(TransferSession session) {
        sessions.remove(session.migrationId(), session);
        authFailures.remove(session.migrationId());
    }

    private void acceptLoop() {
        while (!socket.isClosed()) {
            try {
                Socket connection = socket.accept();
                connections.execute(() -> serve(connection));
            } catch (IOException e) {
                if (!socket.isClosed()) {
                    log.warn("transfer endpoint accept failed: {}", e.getMessage());
                }
            }
        }
    }

    private void serve(Socket connection) {
        TransferSession session = null;
        String outcome = "connection closed before END";
        try (connection) {
            connection.setSoTimeout(READ_TIMEOUT_MS);
            connection.setTcpNoDelay(true);
            var in = new DataInputStream(new BufferedInputStream(connection.getInputStream(), BUFFER_BYTES));
            var out = new DataOutputStream(new BufferedOutputStream(connection.getOutputStream(), 64 * 1024));
            session = authenticate(connection, in, out);
            if (session == null) {
                return;
            }
            MDC.put("migration", session.migrationId());
            outcome = serveSession(session, in, out);
        } catch (EOFException | SocketException e) {
            outcome = "connection cut: " + e.getMessage();
        } catch (IOException e) {
            outcome = "transfer failed: " + e.getMessage();
        } finally {
            if (session != null) {
                if (outcome != null) {
                    log.warn("transfer session ended badly: {}", outcome);
                }
                session.finished(outcome);
            }
            MDC.remove("migration");
        }
    }

    /** Returns the claimed session, or null after telling the peer why not. */
    private TransferSession authenticate(Socket connection, DataInputStream in, DataOutputStream out) throws IOException {
        String magic = in.readUTF();
        if (!TransferProtocol.MAGIC.equals(magic)) {
            refuse(out, magic.startsWith(TransferProtocol.MAGIC_PREFIX)
                    ? "this node speaks " + TransferProtocol.MAGIC + ", not " + magic + ": run the same pmig version on both nodes"
                    : "not a pmig transfer client");
            return null;
        }
        String migrationId = in.readUTF();
        String sourceNonce = in.readUTF();
        TransferSession session = sessions.get(migrationId);
        SessionIntake unannounced = session == null && intake != null && intake.accepts(migrationId) ? intake : null;
        if (session == null && unannounced == null) {
            refuse(out, "no open transfer session for migration " + migrationId + " (unknown, finished, or its credential was already used)");
            log.warn("refused transfer from {}: no open session for migration {}", connection.getRemoteSocketAddress(), migrationId);
            return null;
        }
        String destNonce = TransferProtocol.nonce();
        out.writeUTF(TransferProtocol.CHALLENGE);
        out.writeUTF(destNonce);
        out.flush();
        byte[] key = credentials.migrationKey(migrationId);
        String answer = in.readUTF();
        String expected = TransferCredentials.hmacHex(key, TransferProtocol.authMessage(migrationId, sourceNonce, destNonce));
        if (!TransferCredentials.matches(expected, answer)) {
            int failures = authFailures.merge(migrationId, 1, Integer::sum);
            refuse(out, "authentication failed for migration " + migrationId);
            log.warn("refused transfer from {} for migration {}: wrong credential (failure {} of {})",
                    connection.getRemoteSocketAddress(), migrationId, failures, MAX_AUTH_FAILURES);
            if (failures >= MAX_AUTH_FAILURES && session != null) {
                session.finished("too many failed authentication attempts");
                session.close();
            }
            return null;
        }
        if (unannounced != null) {
            // opened only now, after the peer proved it holds the key: an unauthenticated client leaves nothing on disk
            try {
                session = unannounced.open(migrationId);
            } catch (IOException | RuntimeException e) {
                refuse(out, "cannot open a session for " + migrationId + ": " + e.getMessage());
                return null;
            }
        }
        if (!session.claim()) {
            refuse(out, "the credential for migration " + migrationId + " was already used");
            return null;
        }
        out.writeUTF(TransferProtocol.OK);
        out.writeUTF(TransferCredentials.hmacHex(key, TransferProtocol.serverMessage(migrationId, sourceNonce, destNonce)));
        out.flush();
        return session;
    }

    /** Returns null when the source ended with END, otherwise why the session failed. */
    private String serveSession(TransferSession session, DataInputStream in, DataOutputStream out) throws IOException {
        byte[] key = credentials.migrationKey(session.migrationId());
        SessionFiles files = new SessionFiles(session.directory());
        long seq = 0;
        while (true) {
            String type = in.readUTF();
            switch (type) {
                case TransferProtocol.ENTRY -> {
                    String problem = receiveEntry(session, files, key, seq++, in);
                    if (problem != null) {
                        refuse(out, problem);
                        return problem;
                    }
                    out.writeUTF(TransferProtocol.OK);
                    out.flush();
                }
                case TransferProtocol.CONTROL -> {
                    files.seal();
                    String verb = in.readUTF();
                    int count = in.readInt();
                    if (count < 0 || count > 64) {
                        refuse(out, "bad control request");
                        return "bad control request";
                    }
                    Map<String, String> args = new HashMap<>();
                    for (int i = 0; i < count; i++) {
                        args.put(in.readUTF(), in.readUTF());
                    }
                    String mac = in.readUTF();
                    if (!TransferCredentials.matches(
                            TransferCredentials.hmacHex(key, TransferProtocol.controlMessage(seq++, verb, args)), mac)) {
                        refuse(out, "control request " + verb + " failed its MAC check");
                        return "control request " + verb + " failed its MAC check";
                    }
                    try {
                        String reply = session.handler().onControl(verb, args);
                        out.writeUTF(TransferProtocol.OK);
                        out.writeUTF(reply == null ? "" : reply);
                    } catch (Exception e) {
                        out.writeUTF(TransferProtocol.ERR);
                        out.writeUTF(verb + " failed: " + e.getMessage());
                    }
                    out.flush();
                }
                case TransferProtocol.END -> {
                    files.seal();
                    out.writeUTF(TransferProtocol.BYE);
                    out.flush();
                    return null;
                }
                default -> {
                    refuse(out, "unknown request " + type);
                    return "unknown request " + type;
                }
            }
        }
    }

    /** Writes one entry into the session dir; returns null on success or the reason it was refused. */
    private String receiveEntry(TransferSession session, SessionFiles files, byte[] key, long seq, DataInputStream in)
            throws IOException {
        FileEntry entry;
        try {
            entry = FileEntry.read(in);
            String name = FileEntry.printable(entry.name());
            if (entry.size() < 0 || entry.size() > limits.maxFileBytes()) {
                return "refused " + name + ": " + entry.size() + " bytes exceeds the per-file cap of " + limits.maxFileBytes();
            }
            if (session.bytesSoFar() + entry.size() > limits.maxSessionBytes()) {
                return "refused " + name + ": the session would exceed its cap of " + limits.maxSessionBytes() + " bytes";
            }
            if (session.entriesSoFar() + 1 > limits.maxFiles()) {
                return "refused " + name + ": more than " + limits.maxFiles() + " entries";
            }
            if (SessionFiles.resolveInside(session.directory(), entry.name()) == null) {
                return "refused path '" + name + "': it escapes the session directory";
            }
        } catch (FileEntry.Malformed e) {
            return e.getMessage();
        }
        session.entry();
        if (entry.kind() != FileEntry.Kind.FILE) {
            String mac = in.readUTF();
            if (!TransferCredentials.matches(TransferCredentials.hmacHex(key, entry.macMessage(seq, "")), mac)) {
                return "refused " + FileEntry.printable(entry.name()) + ": its MAC does not match (tampered or wrong key)";
            }
            try {
                files.create(entry, files.place(entry));
            } catch (FileEntry.Malformed e) {
                return e.getMessage();
            } catch (IOException e) {
                return "cannot create " + FileEntry.printable(entry.name()) + ": " + e.getMessage();
            }
            return null;
        }
        String name = FileEntry.printable(entry.name());
        long size = entry.size();
        Path partial = files.temporary();
        MessageDigest sha = sha256();
        try (OutputStream file = new DigestOutputStream(Files.newOutputStream(partial,
                StandardOpenOption.CREATE_NEW, StandardOpenOption.WRITE, LinkOption.NOFOLLOW_LINKS), sha)) {
            byte[] buffer = new byte[(int) Math.min(BUFFER_BYTES, Math.max(size, 1))];
            long remaining = size;
            while (remaining > 0) {
                int read = in.read(buffer, 0, (int) Math.min(buffer.length, remaining));
                if (read < 0) {
                    throw new EOFException("connection cut after " + (size - remaining) + " of " + size + " bytes of " + name);
                }
                file.write(buffer, 0, read);
                remaining -= read;
            }
        } catch (IOException e) {
            Files.deleteIfExists(partial);
            throw e;
        }
        try {
            String declaredSha = in.readUTF();
            String mac = in.readUTF();
            String actualSha = HexFormat.of().formatHex(sha.digest());
            if (!TransferCredentials.matches(TransferCredentials.hmacHex(key, entry.macMessage(seq, declaredSha)), mac)) {
                return "refused " + name + ": its MAC does not match (tampered or wrong key)";
            }
            if (!actualSha.equals(declaredSha)) {
                return "refused " + name + ": SHA-256 mismatch (sent " + declaredSha + ", received " + actualSha + ")";
            }
            files.finishFile(entry, partial, files.place(entry));
            session.received(size);
            return null;
        } catch (FileEntry.Malformed e) {
            return e.getMessage();
        } finally {
            Files.deleteIfExists(partial); // whatever did not make it into place: keep nothing
        }
    }

    static MessageDigest sha256() {
        try {
            return MessageDigest.getInstance("SHA-256");
        } catch (NoSuchAlgorithmException e) {
            throw new IllegalStateException(e);
        }
    }

    private static void refuse(DataOutputStream out, String why) throws IOException {
        out.writeUTF(TransferProtocol.ERR);
        out.writeUTF(why);
        out.flush();
    }

    @Override
    public synchronized void close() {
        try {
            if (socket != null) {
                socket.close();
            }
        } catch (IOException e) {
            log.debug("closing transfer endpoint: {}", e.getMessage());
        }
        connections.shutdownNow();
        sessions.values().forEach(s -> s.finished("transfer endpoint closed"));
    }
}
