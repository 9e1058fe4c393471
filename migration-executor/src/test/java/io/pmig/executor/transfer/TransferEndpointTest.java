package io.pmig.executor.transfer;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNotNull;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.IOException;
import java.net.InetAddress;
import java.net.InetSocketAddress;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.attribute.PosixFilePermissions;
import java.time.Duration;
import java.util.List;
import java.util.Map;
import java.util.Random;
import java.util.stream.Stream;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

class TransferEndpointTest {

    private static final Duration TIMEOUT = Duration.ofSeconds(20);
    private static final TransferCredentials CLUSTER = new TransferCredentials("cluster-secret-0123456789".getBytes(StandardCharsets.UTF_8));

    @TempDir
    Path tmp;
    private Path source;
    private Path sessions;
    private TransferServer server;

    @BeforeEach
    void start() throws IOException {
        source = Files.createDirectories(tmp.resolve("source"));
        sessions = Files.createDirectories(tmp.resolve("dest"));
        server = new TransferServer(new InetSocketAddress(InetAddress.getLoopbackAddress(), 0), CLUSTER,
                new TransferLimits(4L << 20, 16L << 20, 100)).start();
    }

    @AfterEach
    void stop() {
        server.close();
    }

    private Path write(String name, byte[] content) throws IOException {
        Path file = source.resolve(name);
        Files.createDirectories(file.getParent());
        return Files.write(file, content);
    }

    private static byte[] random(int size) {
        byte[] bytes = new byte[size];
        new Random(size).nextBytes(bytes);
        return bytes;
    }

    private static List<Path> filesUnder(Path dir) throws IOException {
        try (Stream<Path> files = Files.walk(dir)) {
            return files.filter(Files::isRegularFile).toList();
        }
    }

    @Test
    void filesAndControlRequestsCrossIntact() throws Exception {
        byte[] pages = random(3 << 20);
        write("images/pages-1.img", pages);
        write("images/core-1.img", "core".getBytes());
        Path script = write("work/run.sh", "#!/bin/sh\n".getBytes());
        Files.setPosixFilePermissions(script, PosixFilePermissions.fromString("rwxr-x---"));
        Path sessionDir = sessions.resolve("m-1");
        TransferSession session = server.openSession("m-1", sessionDir, (verb, args) -> verb + ":" + args.get("pid"));

        Files.createDirectories(source.resolve("work/empty"));
        try (TransferConnection connection = TransferConnection.open(server.address(), CLUSTER, "m-1", TIMEOUT)) {
            TransferReceipt receipt = connection.sendFiles(source, List.of(Path.of("images"), Path.of("images/pages-1.img"),
                    Path.of("images/core-1.img"), Path.of("work"), Path.of("work/empty"), Path.of("work/run.sh")));
            assertEquals(new TransferReceipt(3, pages.length + 4 + 10), receipt);
            assertEquals("RESTORE:42", connection.control("RESTORE", Map.of("pid", "42"), TIMEOUT));
            connection.finish();
        }

        assertTrue(session.awaitClosed(TIMEOUT));
        assertEquals(null, session.failure());
        assertEquals(new TransferReceipt(3, pages.length + 14), session.receipt());
        assertArrayEquals(pages, Files.readAllBytes(sessionDir.resolve("images/pages-1.img")));
        assertEquals("rwxr-x---", PosixFilePermissions.toString(Files.getPosixFilePermissions(sessionDir.resolve("work/run.sh"))));
        assertTrue(Files.isDirectory(sessionDir.resolve("work/empty")), "empty directories cross too");
    }

    @Test
    void aControlHandlerFailureReachesTheSource() throws Exception {
        server.openSession("m-fail", sessions.resolve("m-fail"), (verb, args) -> {
            throw new IllegalStateException("criu restore exited 1");
        });
        try (TransferConnection connection = TransferConnection.open(server.address(), CLUSTER, "m-fail", TIMEOUT)) {
            TransferException e = assertThrows(TransferException.class, () -> connection.control("RESTORE", Map.of(), TIMEOUT));
            assertTrue(e.getMessage().contains("RESTORE failed: criu restore exited 1"), e.getMessage());
        }
    }

    @Test
    void aWrongCredentialIsRefusedAndWritesNothing() throws Exception {
        write("images/core-1.img", "core".getBytes());
        server.openSession("m-2", sessions.resolve("m-2"), (verb, args) -> "");
        var impostor = new TransferCredentials("some-other-secret-0123".getBytes(StandardCharsets.UTF_8));

        TransferException e = assertThrows(TransferException.class,
                () -> TransferConnection.open(server.address(), impostor, "m-2", TIMEOUT));
        assertTrue(e.getMessage().contains("authentication failed for migration m-2"), e.getMessage());
        assertFalse(e.retriable());
        assertTrue(filesUnder(sessions).isEmpty());

        // The rightful source can still use its session.
        try (TransferConnection connection = TransferConnection.open(server.address(), CLUSTER, "m-2", TIMEOUT)) {
            connection.sendFiles(source, List.of(Path.of("images/core-1.img")));
            connection.finish();
        }
    }

    @Test
    void aCredentialWorksOnceAndOnlyForItsMigration() throws Exception {
        server.openSession("m-3", sessions.resolve("m-3"), (verb, args) -> "");
        TransferException unknown = assertThrows(TransferException.class,
                () -> TransferConnection.open(server.address(), CLUSTER, "m-never-opened", TIMEOUT));
        assertTrue(unknown.getMessage().contains("no open transfer session for migration m-never-opened"), unknown.getMessage());

        try (TransferConnection first = TransferConnection.open(server.address(), CLUSTER, "m-3", TIMEOUT)) {
            TransferException concurrent = assertThrows(TransferException.class,
                    () -> TransferConnection.open(server.address(), CLUSTER, "m-3", TIMEOUT));
            assertTrue(concurrent.getMessage().contains("already used"), concurrent.getMessage());
            first.finish();
        }
        TransferException replay = assertThrows(TransferException.class,
                () -> TransferConnection.open(server.address(), CLUSTER, "m-3", TIMEOUT));
        assertTrue(replay.getMessage().contains("no open transfer session for migration m-3"), replay.getMessage());
    }

    @Test
    void pathsThatEscapeTheSessionAreRefused() throws Exception {
        Files.writeString(tmp.resolve("evil.img"), "payload");
        Files.createDirectories(source.resolve("images"));
        for (String name : List.of("../evil.img", "images/../../evil.img", tmp.resolve("evil.img").toString())) {
            String id = "m-path-" + name.length();
            Path sessionDir = sessions.resolve(id);
            TransferSession session = server.openSession(id, sessionDir, (verb, args) -> "");
            try (TransferConnection connection = TransferConnection.open(server.address(), CLUSTER, id, TIMEOUT)) {
                TransferException e = assertThrows(TransferException.class,
                        () -> connection.sendFiles(source, List.of(Path.of(name))));
                assertTrue(e.getMessage().contains("escapes the session directory"), e.getMessage());
            }
            assertTrue(session.awaitClosed(TIMEOUT));
        }
        assertTrue(filesUnder(sessions).isEmpty(), "nothing written anywhere");
        assertEquals(List.of(tmp.resolve("evil.img")), filesUnder(tmp).stream().filter(p -> !p.startsWith(source)).toList());
        Path root = Path.of("/srv/session");
        for (String refused : List.of("/etc/passwd", "", "a//b", "a/./b", "a/", "..", "a/..", "a\0b")) {
            assertEquals(null, SessionFiles.resolveInside(root, refused.replace("\\0", "\0").getBytes(StandardCharsets.UTF_8)), refused);
        }
        assertEquals(root.resolve("a/b.img"), SessionFiles.resolveInside(root, "a/b.img".getBytes(StandardCharsets.UTF_8)));
        // confinement is by path, not by spelling: any other byte is a legitimate name
        assertEquals(root.resolve("a\\b\tc\nd/..e/.f/...").toString(),
                SessionFiles.resolveInside(root, "a\\b\tc\nd/..e/.f/...".getBytes(StandardCharsets.UTF_8)).toString());
    }

    @Test
    void oversizedFilesAreRefusedBeforeTheyAreWritten() throws Exception {
        write("big.img", random(5 << 20));
        TransferSession session = server.openSession("m-big", sessions.resolve("m-big"), (verb, args) -> "");
        try (TransferConnection connection = TransferConnection.open(server.address(), CLUSTER, "m-big", TIMEOUT)) {
            TransferException e = assertThrows(TransferException.class,
                    () -> connection.sendFiles(source, List.of(Path.of("big.img"))));
            assertTrue(e.getMessage().contains("exceeds the per-file cap"), e.getMessage());
        }
        assertTrue(session.awaitClosed(TIMEOUT));
        assertTrue(filesUnder(sessions).isEmpty());
    }

    @Test
    void bytesTamperedInFlightFailTheChecksum() throws Exception {
        write("pages.img", random(1 << 20));
        TransferSession session = server.openSession("m-tamper", sessions.resolve("m-tamper"), (verb, args) -> "");
        try (TamperingProxy proxy = new TamperingProxy(server.address(), 200_000, TamperingProxy.Action.FLIP_BIT);
             TransferConnection connection = TransferConnection.open(proxy.address(), CLUSTER, "m-tamper", TIMEOUT)) {
            TransferException e = assertThrows(TransferException.class,
                    () -> connection.sendFiles(source, List.of(Path.of("pages.img"))));
            assertTrue(e.getMessage().contains("SHA-256 mismatch"), e.getMessage());
            assertFalse(e.retriable());
        }
        assertTrue(session.awaitClosed(TIMEOUT));
        assertTrue(filesUnder(sessions).isEmpty(), "the tampered file is not kept");
    }

    @Test
    void aTransferCutMidStreamLeavesNoPartialFile() throws Exception {
        write("pages.img", random(2 << 20));
        TransferSession session = server.openSession("m-cut", sessions.resolve("m-cut"), (verb, args) -> "");
        try (TamperingProxy proxy = new TamperingProxy(server.address(), 500_000, TamperingProxy.Action.CUT);
             TransferConnection connection = TransferConnection.open(proxy.address(), CLUSTER, "m-cut", TIMEOUT)) {
            TransferException e = assertThrows(TransferException.class,
                    () -> connection.sendFiles(source, List.of(Path.of("pages.img"))));
            assertTrue(e.retriable(), e.getMessage());
        }
        assertTrue(session.awaitClosed(TIMEOUT));
        assertNotNull(session.failure());
        assertTrue(filesUnder(sessions).isEmpty(), "no partial file left behind");
    }

    @Test
    void aLinkPlantedInTheSessionDirectoryLeadsNothingOutOfIt() throws Exception {
        Path outside = Files.createDirectories(tmp.resolve("outside"));
        Path victim = Files.writeString(outside.resolve("victim.img"), "original");
        write("out/pages.img", "payload".getBytes());
        Files.createDirectories(source.resolve("out/sub"));
        write("core.img", "core".getBytes());

        Path sessionDir = Files.createDirectories(sessions.resolve("m-link"));
        Files.createSymbolicLink(sessionDir.resolve("out"), outside);
        Files.createSymbolicLink(sessionDir.resolve("core.img"), victim);
        TransferSession session = server.openSession("m-link", sessionDir, (verb, args) -> "");
        for (String name : List.of("out/pages.img", "out/sub")) {
            TransferSession attempt = name.equals("out/pages.img") ? session
                    : server.openSession("m-link-dir", sessionDir, (verb, args) -> "");
            try (TransferConnection connection = TransferConnection.open(server.address(), CLUSTER,
                    attempt.migrationId(), TIMEOUT)) {
                TransferException e = assertThrows(TransferException.class,
                        () -> connection.sendFiles(source, List.of(Path.of(name))));
                assertTrue(e.getMessage().contains("is a link or not a directory"), e.getMessage());
                assertFalse(e.retriable());
            }
            assertTrue(attempt.awaitClosed(TIMEOUT));
        }
        try (Stream<Path> entries = Files.list(outside)) {
            assertEquals(List.of(victim), entries.toList(), "no file or directory created through the link");
        }

        // A link in place of a file name is replaced, never written through.
        server.openSession("m-link-file", sessionDir, (verb, args) -> "");
        try (TransferConnection connection = TransferConnection.open(server.address(), CLUSTER, "m-link-file", TIMEOUT)) {
            connection.sendFiles(source, List.of(Path.of("core.img")));
            connection.finish();
        }
        assertEquals("original", Files.readString(victim));
        assertFalse(Files.isSymbolicLink(sessionDir.resolve("core.img")));
        assertEquals("core", Files.readString(sessionDir.resolve("core.img")));
    }
}
