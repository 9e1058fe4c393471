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
import java.nio.file.FileAlreadyExistsException;
import java.nio.file.Files;
import java.nio.file.LinkOption;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.nio.file.StandardOpenOption;
import java.nio.file.attribute.PosixFilePermission;
import java.security.DigestOutputStream;
import java.security.MessageDigest;
import java.security.NoSuchAlgorithmException;
import java.util.HashMap;
import java.util.HexFormat;
import java.util.Map;
import java.util.Set;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;
import org.slf4j.MDC;

/**
 * The destination's transfer endpoint. It accepts uploads only into sessions it opened for a migration, only
 * from a peer that proves it holds that migration's key, and only as regular files inside the session
 * directory, each with a matching SHA-256 and MAC and within the size caps. Anything else is refused with a
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
            refuse(out, "not a pmig transfer client");
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
        long seq = 0;
        while (true) {
            String type = in.readUTF();
            switch (type) {
                case TransferProtocol.FILE -> {
                    String problem = receiveFile(session, key, seq++, in);
                    if (problem != null) {
                        refuse(out, problem);
                        return problem;
                    }
                    out.writeUTF(TransferProtocol.OK);
                    out.flush();
                }
                case TransferProtocol.DIR -> {
                    String problem = receiveDirectory(session, key, seq++, in);
                    if (problem != null) {
                        refuse(out, problem);
                        return problem;
                    }
                    out.writeUTF(TransferProtocol.OK);
                    out.flush();
                }
                case TransferProtocol.CONTROL -> {
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

    /** Creates one directory in the session dir; returns null on success or the reason it was refused. */
    private String receiveDirectory(TransferSession session, byte[] key, long seq, DataInputStream in) throws IOException {
        String name = in.readUTF();
        int mode = in.readInt();
        String mac = in.readUTF();
        if (!TransferCredentials.matches(TransferCredentials.hmacHex(key, TransferProtocol.dirMessage(seq, name, mode)), mac)) {
            return "refused directory " + name + ": its MAC does not match (tampered or wrong key)";
        }
        Path target = resolveInside(session.directory(), name);
        if (target == null) {
            return "refused path '" + name + "': it escapes the session directory";
        }
        if (!createDirectoriesInside(session.directory(), target)
                || !target.toRealPath().startsWith(session.directory())) {
            return "refused path '" + name + "': a directory on its way is a link or not a directory";
        }
        Files.setPosixFilePermissions(target, permissions(mode | 0700));
        return null;
    }

    /** Streams one file into the session dir; returns null on success or the reason it was refused. */
    private String receiveFile(TransferSession session, byte[] key, long seq, DataInputStream in) throws IOException {
        String name = in.readUTF();
        long size = in.readLong();
        int mode = in.readInt();
        Path target = resolveInside(session.directory(), name);
        if (target == null) {
            return "refused path '" + name + "': it escapes the session directory";
        }
        if (size < 0 || size > limits.maxFileBytes()) {
            return "refused " + name + ": " + size + " bytes exceeds the per-file cap of " + limits.maxFileBytes();
        }
        if (session.bytesSoFar() + size > limits.maxSessionBytes()) {
            return "refused " + name + ": the session would exceed its cap of " + limits.maxSessionBytes() + " bytes";
        }
        if (session.filesSoFar() + 1 > limits.maxFiles()) {
            return "refused " + name + ": more than " + limits.maxFiles() + " files";
        }
        if (!createDirectoriesInside(session.directory(), target.getParent())
                || !target.getParent().toRealPath().startsWith(session.directory())) {
            return "refused path '" + name + "': a directory on its way is a link or not a directory";
        }
        Path partial = target.resolveSibling("." + target.getFileName() + ".partial");
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
        } catch (FileAlreadyExistsException e) {
            return "refused " + name + ": sent twice";
        } catch (IOException e) {
            Files.deleteIfExists(partial);
            throw e;
        }
        String declaredSha;
        String mac;
        try {
            declaredSha = in.readUTF();
            mac = in.readUTF();
        } catch (IOException e) {
            Files.deleteIfExists(partial); // cut between the bytes and their checksum: keep nothing
            throw e;
        }
        String actualSha = HexFormat.of().formatHex(sha.digest());
        if (!TransferCredentials.matches(
                TransferCredentials.hmacHex(key, TransferProtocol.fileMessage(seq, name, size, mode, declaredSha)), mac)) {
            Files.deleteIfExists(partial);
            return "refused " + name + ": its MAC does not match (tampered or wrong key)";
        }
        if (!actualSha.equals(declaredSha)) {
            Files.deleteIfExists(partial);
            return "refused " + name + ": SHA-256 mismatch (sent " + declaredSha + ", received " + actualSha + ")";
        }
        Files.setPosixFilePermissions(partial, permissions(mode));
        Files.move(partial, target, StandardCopyOption.ATOMIC_MOVE, StandardCopyOption.REPLACE_EXISTING);
        session.received(size);
        return null;
    }

    /**
     * Creates {@code dir} and its missing parents below {@code root} one at a time, refusing (false) at the first
     * that exists as a link or as something other than a directory. {@link Files#createDirectories} would follow
     * a link planted in the session directory and create the rest of the path outside it.
     */
    private static boolean createDirectoriesInside(Path root, Path dir) throws IOException {
        Path current = root;
        for (Path part : root.relativize(dir)) {
            current = current.resolve(part);
            if (!Files.exists(current, LinkOption.NOFOLLOW_LINKS)) {
                try {
                    Files.createDirectory(current);
                } catch (FileAlreadyExistsException raced) {
                    // checked below like any existing entry
                }
            }
            if (!Files.isDirectory(current, LinkOption.NOFOLLOW_LINKS)) {
                return false;
            }
        }
        return true;
    }

    /** The path inside {@code root} that {@code name} denotes, or null if it is absolute, empty or climbs out. */
    static Path resolveInside(Path root, String name) {
        if (name.isEmpty() || name.indexOf('\0') >= 0 || name.startsWith("/") || name.contains("\\")) {
            return null;
        }
        for (String part : name.split("/")) {
            if (part.isEmpty() || part.equals(".") || part.equals("..") || part.endsWith(".partial") && part.startsWith(".")) {
                return null;
            }
        }
        Path resolved = root.resolve(name).normalize();
        return resolved.startsWith(root) && !resolved.equals(root) ? resolved : null;
    }

    private static Set<PosixFilePermission> permissions(int mode) {
        Set<PosixFilePermission> perms = java.util.EnumSet.noneOf(PosixFilePermission.class);
        PosixFilePermission[] order = {
            PosixFilePermission.OTHERS_EXECUTE, PosixFilePermission.OTHERS_WRITE, PosixFilePermission.OTHERS_READ,
            PosixFilePermission.GROUP_EXECUTE, PosixFilePermission.GROUP_WRITE, PosixFilePermission.GROUP_READ,
            PosixFilePermission.OWNER_EXECUTE, PosixFilePermission.OWNER_WRITE, PosixFilePermission.OWNER_READ};
        for (int bit = 0; bit < order.length; bit++) {
            if ((mode & (1 << bit)) != 0) {
                perms.add(order[bit]);
            }
        }
        perms.add(PosixFilePermission.OWNER_READ);
        perms.add(PosixFilePermission.OWNER_WRITE);
        return perms;
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
