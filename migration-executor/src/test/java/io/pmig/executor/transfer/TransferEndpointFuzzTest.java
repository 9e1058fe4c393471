package io.pmig.executor.transfer;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.pmig.schemas.fuzz.FuzzCampaign;
import io.pmig.schemas.fuzz.FuzzReport;
import java.io.ByteArrayOutputStream;
import java.io.DataInputStream;
import java.io.DataOutputStream;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.net.InetAddress;
import java.net.InetSocketAddress;
import java.net.Socket;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.Comparator;
import java.util.HexFormat;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.concurrent.ConcurrentHashMap;
import java.util.stream.Stream;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * Random and mutated frames against a real {@link TransferServer} on loopback, before and after authentication.
 * Each input is written whole, the connection half-closed, and the reply read to the end: the server must answer
 * and hang up (the campaign's watchdog reports an input it never finishes), accept only what the MACs vouch for,
 * write nothing outside the session, and still serve an honest source afterwards. One TCP connection per input,
 * so these campaigns run {@code pmig.fuzz.iterations / 20} inputs each.
 */
class TransferEndpointFuzzTest {

    private static final TransferCredentials CLUSTER =
            new TransferCredentials("cluster-secret-0123456789".getBytes(StandardCharsets.UTF_8));
    private static final String MIGRATION = "m-fuzz";
    private static final byte[] KEY = CLUSTER.migrationKey(MIGRATION);
    /** What an honest source sends after authenticating; with valid MACs only these may ever be accepted. */
    private static final Map<String, byte[]> FILES = Map.of(
            "images/pages-1.img", "pages pages pages".getBytes(StandardCharsets.UTF_8),
            "images/core-1.img", "core".getBytes(StandardCharsets.UTF_8));
    private static final String CONTROL_VERB = "RESTORE";
    private static final Map<String, String> CONTROL_ARGS = Map.of("pid", "42");

    @TempDir
    Path tmp;
    private Path sessions;
    private TransferServer server;
    private final Set<String> controlCalls = ConcurrentHashMap.newKeySet();

    @BeforeEach
    void start() throws IOException {
        sessions = Files.createDirectories(tmp.resolve("sessions"));
        Files.writeString(tmp.resolve("canary"), "untouched");
        server = new TransferServer(new InetSocketAddress(InetAddress.getLoopbackAddress(), 0), CLUSTER,
                new TransferLimits(1 << 20, 4 << 20, 16)).start();
    }

    @AfterEach
    void stop() {
        server.close();
    }

    @Test
    void framesBeforeAuthenticationAreRefusedAndClaimNothing() throws Exception {
        ByteArrayOutputStream hello = new ByteArrayOutputStream();
        var out = new DataOutputStream(hello);
        out.writeUTF(TransferProtocol.MAGIC);
        out.writeUTF(MIGRATION);
        out.writeUTF(TransferProtocol.nonce());
        out.writeUTF(TransferCredentials.hmacHex(KEY, "auth|guess"));
        TransferSession[] session = {openSession()};

        FuzzReport report = FuzzCampaign.of("TransferServer.handshake")
                .inputs(FuzzCampaign.iterations(20))
                .documenting(IOException.class)
                .run(List.of(hello.toByteArray()), 512, input -> {
                    if (session[0].awaitClosed(Duration.ZERO)) {
                        session[0] = openSession(); // three wrong answers close a session, as they should
                    }
                    var reply = new DataInputStream(new java.io.ByteArrayInputStream(exchange(input)));
                    if (reply.available() > 0 && TransferProtocol.CHALLENGE.equals(reply.readUTF())) {
                        reply.readUTF(); // the nonce
                        if (reply.available() > 0 && TransferProtocol.OK.equals(reply.readUTF())) {
                            throw new AssertionError("a forged handshake was accepted: " + HexFormat.of().formatHex(input));
                        }
                    }
                });
        assertTrue(report.clean(), report.failureSummary());
        assertEquals(List.of(), filesUnder(sessions), "nothing written before authentication");
        session[0].close();
        stillServesAnHonestSource();
    }

    @Test
    void framesAfterAuthenticationWriteOnlyWhatTheMacsVouchFor() throws Exception {
        List<byte[]> corpus = List.of(honestFrames(true), honestFrames(false));
        int[] n = {0};
        FuzzReport report = FuzzCampaign.of("TransferServer.session")
                .inputs(FuzzCampaign.iterations(20))
                .documenting(IOException.class)
                .run(corpus, 512, input -> {
                    Path dir = sessions.resolve("s-" + n[0]++);
                    TransferSession session = openSession(dir);
                    try (Socket socket = connect()) {
                        var in = new DataInputStream(socket.getInputStream());
                        var out = new DataOutputStream(socket.getOutputStream());
                        authenticate(in, out);
                        out.write(input);
                        out.flush();
                        socket.shutdownOutput();
                        in.readAllBytes();
                    } finally {
                        if (!session.awaitClosed(Duration.ofSeconds(30))) {
                            throw new AssertionError("session still open 30 s after its source hung up");
                        }
                        checkOnlyHonestFiles(dir);
                        deleteTree(dir);
                    }
                });
        assertTrue(report.clean(), report.failureSummary());
        assertTrue(controlCalls.stream().allMatch(call -> call.equals(CONTROL_VERB + CONTROL_ARGS)), controlCalls.toString());
        assertEquals(List.of(tmp.resolve("canary")), filesUnder(tmp), "nothing written outside the sessions");
        assertEquals("untouched", Files.readString(tmp.resolve("canary")));
        stillServesAnHonestSource();
    }

    private TransferSession openSession() throws IOException {
        return openSession(sessions.resolve("handshake"));
    }

    private TransferSession openSession(Path dir) throws IOException {
        return server.openSession(MIGRATION, dir, (verb, args) -> {
            controlCalls.add(verb + args);
            return "ok";
        });
    }

    private Socket connect() throws IOException {
        Socket socket = new Socket();
        socket.connect(server.address(), 10_000);
        socket.setSoLinger(true, 0); // close with RST: a million connections must not exhaust ports in TIME_WAIT
        return socket;
    }

    /** Sends the input whole, half-closes, and returns everything the server says before it hangs up. */
    private byte[] exchange(byte[] input) throws IOException {
        try (Socket socket = connect()) {
            socket.getOutputStream().write(input);
            socket.shutdownOutput();
            return socket.getInputStream().readAllBytes();
        }
    }

    private static void authenticate(DataInputStream in, DataOutputStream out) throws IOException {
        String sourceNonce = TransferProtocol.nonce();
        out.writeUTF(TransferProtocol.MAGIC);
        out.writeUTF(MIGRATION);
        out.writeUTF(sourceNonce);
        out.flush();
        if (!TransferProtocol.CHALLENGE.equals(in.readUTF())) {
            throw new AssertionError("no challenge");
        }
        String destNonce = in.readUTF();
        out.writeUTF(TransferCredentials.hmacHex(KEY, TransferProtocol.authMessage(MIGRATION, sourceNonce, destNonce)));
        out.flush();
        if (!TransferProtocol.OK.equals(in.readUTF())) {
            throw new AssertionError("honest handshake refused");
        }
        in.readUTF();
    }

    /** An honest session's frames after the handshake: directories, files, a control request, END. */
    private static byte[] honestFrames(boolean filesFirst) {
        try {
            ByteArrayOutputStream bytes = new ByteArrayOutputStream();
            var out = new DataOutputStream(bytes);
            long seq = 0;
            FileEntry images = new FileEntry("images".getBytes(StandardCharsets.UTF_8), FileEntry.Kind.DIRECTORY, 0755,
                    0, 0, 1_700_000_000L, 1, 1_700_000_000L, 2, 0, 0, new byte[0]);
            images.write(out);
            out.writeUTF(TransferCredentials.hmacHex(KEY, images.macMessage(seq++, "")));
            List<String> names = filesFirst ? List.of("images/pages-1.img", "images/core-1.img")
                    : List.of("images/core-1.img");
            for (String name : names) {
                byte[] content = FILES.get(name);
                String sha = HexFormat.of().formatHex(TransferServer.sha256().digest(content));
                FileEntry file = new FileEntry(name.getBytes(StandardCharsets.UTF_8), FileEntry.Kind.FILE, 0644,
                        0, 0, 1_700_000_000L, 3, 1_700_000_000L, 4, content.length, 0, new byte[0]);
                file.write(out);
                out.write(content);
                out.writeUTF(sha);
                out.writeUTF(TransferCredentials.hmacHex(KEY, file.macMessage(seq++, sha)));
            }
            out.writeUTF(TransferProtocol.CONTROL);
            out.writeUTF(CONTROL_VERB);
            out.writeInt(CONTROL_ARGS.size());
            for (var arg : CONTROL_ARGS.entrySet()) {
                out.writeUTF(arg.getKey());
                out.writeUTF(arg.getValue());
            }
            out.writeUTF(TransferCredentials.hmacHex(KEY, TransferProtocol.controlMessage(seq++, CONTROL_VERB, CONTROL_ARGS)));
            out.writeUTF(TransferProtocol.END);
            return bytes.toByteArray();
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
    }

    /** A file the server kept must be one the honest source sent, byte for byte; no partial file may remain. */
    private static void checkOnlyHonestFiles(Path dir) throws IOException {
        for (Path file : filesUnder(dir)) {
            String name = dir.relativize(file).toString();
            byte[] expected = FILES.get(name);
            if (expected == null || !java.util.Arrays.equals(expected, Files.readAllBytes(file))) {
                throw new AssertionError("the server kept a file no valid MAC vouches for: " + name);
            }
        }
    }

    private void stillServesAnHonestSource() throws Exception {
        Path dir = sessions.resolve("honest");
        TransferSession session = openSession(dir);
        Path source = Files.createDirectories(tmp.resolve("source/images"));
        Files.write(source.resolve("core-1.img"), FILES.get("images/core-1.img"));
        try (TransferConnection connection = TransferConnection.open(server.address(), CLUSTER, MIGRATION, Duration.ofSeconds(20))) {
            connection.sendFiles(tmp.resolve("source"), List.of(Path.of("images"), Path.of("images/core-1.img")));
            connection.finish();
        }
        assertTrue(session.awaitClosed(Duration.ofSeconds(20)));
        assertEquals(null, session.failure());
        assertEquals("core", Files.readString(dir.resolve("images/core-1.img")));
    }

    private static List<Path> filesUnder(Path dir) throws IOException {
        if (!Files.exists(dir)) {
            return List.of();
        }
        try (Stream<Path> files = Files.walk(dir)) {
            return files.filter(p -> !Files.isDirectory(p)).toList();
        }
    }

    private static void deleteTree(Path dir) throws IOException {
        if (!Files.exists(dir)) {
            return;
        }
        try (Stream<Path> paths = Files.walk(dir)) {
            for (Path p : paths.sorted(Comparator.reverseOrder()).toList()) {
                Files.delete(p);
            }
        }
    }
}
