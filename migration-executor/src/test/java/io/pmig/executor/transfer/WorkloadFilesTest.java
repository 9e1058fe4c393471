package io.pmig.executor.transfer;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.pmig.executor.workload.NodeWorkloads;
import java.io.IOException;
import java.net.InetAddress;
import java.net.InetSocketAddress;
import java.net.StandardProtocolFamily;
import java.net.UnixDomainSocketAddress;
import java.nio.channels.ServerSocketChannel;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.LinkOption;
import java.nio.file.Path;
import java.nio.file.attribute.BasicFileAttributeView;
import java.nio.file.attribute.FileTime;
import java.time.Duration;
import java.time.Instant;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.HexFormat;
import java.util.List;
import java.util.Map;
import java.util.TreeMap;
import java.util.stream.Stream;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** A workload's directory crosses as it is: every kind of entry, any name, with mode, owner, times and hard links. */
class WorkloadFilesTest {

    private static final Duration TIMEOUT = Duration.ofSeconds(20);
    private static final TransferCredentials CLUSTER = new TransferCredentials("cluster-secret-0123456789".getBytes(StandardCharsets.UTF_8));
    private static final byte[] INVALID_UTF8 = {(byte) 0xff, 'n', (byte) 0xfe, '\t', '\\'};
    /** In the future, so that reading a file during the test does not move its atime (relatime). */
    private static final long ATIME = Instant.now().getEpochSecond() + 3600;

    @TempDir
    Path tmp;
    private TransferServer server;
    private int stamp;

    @BeforeEach
    void start() throws IOException {
        server = new TransferServer(new InetSocketAddress(InetAddress.getLoopbackAddress(), 0), CLUSTER,
                new TransferLimits(4L << 20, 16L << 20, 1000)).start();
    }

    @AfterEach
    void stop() {
        server.close();
    }

    @Test
    void everyKindOfEntryCrossesWithItsModeOwnerTimesAndLinks() throws Exception {
        Path workload = Files.createDirectories(tmp.resolve("node-a/workload"));
        Path work = Files.createDirectories(workload.resolve("work"));
        Path secret = dir(work.resolve("private"), 0700, 0, 0);
        Path held = file(secret.resolve("held"), "held open", 0407, 1234, 5678);
        dir(work.resolve("empty"), 0750, 42, 43);
        dir(work.resolve("sticky"), 01777, 0, 0);
        Path readOnly = dir(work.resolve("read-only"), 0500, 0, 0);
        file(readOnly.resolve("inside"), "written into a 0500 directory", 0644, 0, 0);
        file(work.resolve("setuid"), "#!/bin/sh\n", 04755, 0, 0);
        file(work.resolve("setgid"), "", 02710, 7, 8);
        file(work.resolve("tab\tback\\slash\nnewline \"quoted' *?[x]"), "odd name", 0600, 0, 0);
        file(work.resolve(".partial"), "a name the old protocol refused", 0644, 0, 0);
        file(work.resolve(PathBytes.relative(INVALID_UTF8)), "not UTF-8", 0640, 0, 0);
        file(work.resolve("mapped.bin"), "mapped by the workload", 0444, 0, 0);
        Files.createLink(secret.resolve("hard-b"), held);
        run("mkfifo", "-m", "620", work.resolve("fifo").toString());
        Files.createLink(work.resolve("fifo-link"), work.resolve("fifo"));
        run("mknod", "-m", "666", work.resolve("chr").toString(), "c", "1", "3");
        run("mknod", "-m", "640", work.resolve("blk").toString(), "b", "259", "70000");
        try (ServerSocketChannel socket = ServerSocketChannel.open(StandardProtocolFamily.UNIX)) {
            socket.bind(UnixDomainSocketAddress.of(work.resolve("sock")));
        }
        Files.createSymbolicLink(work.resolve("dangling-absolute"), Path.of("/no/such//target/"));
        Files.createSymbolicLink(work.resolve("relative"), Path.of("../work/private"));
        Files.createSymbolicLink(work.resolve("to-a-dir"), Path.of("private"));
        Files.createSymbolicLink(work.resolve("odd-target"), tmp.getFileSystem().getPath("/").resolve(PathBytes.relative(INVALID_UTF8)));
        run("sh", "-c", "printf 'x//y/' | xargs -0 -I{} ln -s {} " + work.resolve("doubled-slashes"));
        file(workload.resolve(NodeWorkloads.PID_FILE), "4242", 0644, 0, 0);
        for (String special : List.of("fifo", "chr", "blk", "sock", "dangling-absolute", "relative", "to-a-dir", "odd-target", "doubled-slashes")) {
            Files.setAttribute(work.resolve(special), "unix:uid", 600 + special.length(), LinkOption.NOFOLLOW_LINKS);
            touch(work.resolve(special));
        }
        for (Path dir : List.of(secret, readOnly, work.resolve("empty"), work.resolve("sticky"), work, workload)) {
            setTimes(dir); // after their contents, like the transfer itself
        }
        Map<String, String> before = snapshot(workload);
        before.remove(hex(NodeWorkloads.PID_FILE.getBytes(StandardCharsets.UTF_8)));
        assertEquals(25, before.size(), "every entry but the pid file: " + before.keySet());

        Path journal = Files.createDirectories(tmp.resolve("node-a/journal"));
        List<Path> files = new ArrayList<>();
        for (Path staged : WorkloadFiles.stage(workload, journal.resolve("workload"), WorkloadFiles.Staging.LINK, NodeWorkloads::isPidFile)) {
            files.add(journal.relativize(staged));
        }
        Path sessionDir = tmp.resolve("node-b/session");
        TransferSession session = server.openSession("m-fidelity", sessionDir, (verb, args) -> "restored");
        try (TransferConnection connection = TransferConnection.open(server.address(), CLUSTER, "m-fidelity", TIMEOUT)) {
            connection.sendFiles(journal, files);
            assertEquals("restored", connection.control("RESTORE", Map.of(), TIMEOUT));
            connection.finish();
        }
        assertTrue(session.awaitClosed(TIMEOUT));
        assertNull(session.failure());

        Map<String, String> after = snapshot(sessionDir.resolve("workload"));
        assertEquals(before.keySet(), after.keySet(), "the same names, byte for byte");
        before.forEach((name, stat) -> assertEquals(stat, after.get(name), "entry " + FileEntry.printable(HexFormat.of().parseHex(name))));
        assertEquals(Files.getAttribute(sessionDir.resolve("workload/work/private/held"), "unix:ino"),
                Files.getAttribute(sessionDir.resolve("workload/work/private/hard-b"), "unix:ino"), "hard links share an inode");
        assertEquals("held open", Files.readString(sessionDir.resolve("workload/work/private/held")));
        try (Stream<Path> left = Files.list(sessionDir)) {
            assertEquals(List.of(sessionDir.resolve("workload")), left.toList(), "no temporary left behind");
        }
    }

    @Test
    void aLinkPlantedEarlierInTheSameSessionIsNeverFollowed() throws Exception {
        Path outside = Files.createDirectories(tmp.resolve("outside"));
        Path planting = Files.createDirectories(tmp.resolve("planting"));
        Files.createSymbolicLink(planting.resolve("escape"), outside); // a legitimate entry: links are the workload's business
        Path honest = Files.createDirectories(tmp.resolve("honest/escape/dir"));
        Files.writeString(honest.resolve("../file"), "payload");
        Files.writeString(tmp.resolve("honest/plain"), "plain");
        Files.createLink(honest.resolve("../hard"), tmp.resolve("honest/plain"));
        run("mkfifo", honest.resolve("../fifo").toString());
        Files.createSymbolicLink(honest.resolve("../link"), Path.of("/etc/passwd"));

        Map<String, List<String>> attempts = new TreeMap<>(Map.of(
                "file", List.of("escape/file"), "dir", List.of("escape/dir"), "fifo", List.of("escape/fifo"),
                "link", List.of("escape/link"), "hard", List.of("plain", "escape/hard")));
        for (var attempt : attempts.entrySet()) {
            String id = "m-planted-" + attempt.getKey();
            Path sessionDir = tmp.resolve("sessions").resolve(id);
            TransferSession session = server.openSession(id, sessionDir, (verb, args) -> "");
            try (TransferConnection connection = TransferConnection.open(server.address(), CLUSTER, id, TIMEOUT)) {
                connection.sendFiles(planting, List.of(Path.of("escape")));
                TransferException e = assertThrows(TransferException.class, () -> connection.sendFiles(tmp.resolve("honest"),
                        attempt.getValue().stream().map(Path::of).toList()));
                assertTrue(e.getMessage().contains("a directory on its way is a link or not a directory"), e.getMessage());
                assertFalse(e.retriable());
            }
            assertTrue(session.awaitClosed(TIMEOUT));
            try (Stream<Path> entries = Files.list(outside)) {
                assertEquals(List.of(), entries.toList(), attempt.getKey() + ": nothing created through the link");
            }
            try (Stream<Path> entries = Files.list(sessionDir)) {
                List<String> left = entries.map(p -> p.getFileName().toString()).sorted().toList();
                assertEquals(attempt.getKey().equals("hard") ? List.of("escape", "plain") : List.of("escape"), left,
                        attempt.getKey() + ": only what was accepted, no temporary");
            }
        }
    }

    @Test
    void namesAreConfinedByPathNotBySpelling() {
        Path root = Path.of("/srv/session");
        assertNull(SessionFiles.resolveInside(root, "../x".getBytes(StandardCharsets.UTF_8)));
        assertNull(SessionFiles.resolveInside(root, "/etc/passwd".getBytes(StandardCharsets.UTF_8)));
        assertNull(SessionFiles.resolveInside(root, "a/../../x".getBytes(StandardCharsets.UTF_8)));
        assertNull(SessionFiles.resolveInside(root, new byte[] {'a', 0, 'b'}));
        assertEquals(root.resolve(PathBytes.relative(INVALID_UTF8)), SessionFiles.resolveInside(root, INVALID_UTF8));
        assertEquals(List.of(root.resolve("..a"), root.resolve("a..")), List.of(
                SessionFiles.resolveInside(root, "..a".getBytes(StandardCharsets.UTF_8)),
                SessionFiles.resolveInside(root, "a..".getBytes(StandardCharsets.UTF_8))));
    }

    /** Type, mode, owner, times, size, device number, link text and hard-link group of every entry, by name bytes. */
    private static Map<String, String> snapshot(Path root) throws IOException {
        Map<String, String> entries = new TreeMap<>();
        Map<Object, String> firstNameOfInode = new HashMap<>();
        try (Stream<Path> walk = Files.walk(root)) {
            for (Path p : walk.sorted().toList()) {
                String name = hex(PathBytes.of(root.relativize(p)));
                Map<String, Object> a = Files.readAttributes(p, "unix:mode,uid,gid,size,rdev,ino,nlink,lastModifiedTime,lastAccessTime",
                        LinkOption.NOFOLLOW_LINKS);
                int mode = (Integer) a.get("mode");
                boolean link = (mode & 0170000) == 0120000;
                boolean dir = (mode & 0170000) == 0040000;
                String group = !dir && (Integer) a.get("nlink") > 1 ? firstNameOfInode.computeIfAbsent(a.get("ino"), k -> name) : "-";
                entries.put(name, Integer.toOctalString(mode) + " uid=" + a.get("uid") + " gid=" + a.get("gid")
                        + " mtime=" + a.get("lastModifiedTime") + " atime=" + a.get("lastAccessTime")
                        + " size=" + (dir || link ? "-" : a.get("size")) + " rdev=" + a.get("rdev") + " group=" + group
                        + " target=" + (link ? hex(PathBytes.of(Files.readSymbolicLink(p))) : "-"));
            }
        }
        return entries;
    }

    private Path dir(Path dir, int mode, int uid, int gid) throws IOException {
        Files.createDirectories(dir);
        own(dir, mode, uid, gid);
        return dir;
    }

    private Path file(Path file, String content, int mode, int uid, int gid) throws IOException {
        Files.writeString(file, content);
        own(file, mode, uid, gid);
        setTimes(file);
        return file;
    }

    private static void own(Path path, int mode, int uid, int gid) throws IOException {
        Files.setAttribute(path, "unix:uid", uid, LinkOption.NOFOLLOW_LINKS);
        Files.setAttribute(path, "unix:gid", gid, LinkOption.NOFOLLOW_LINKS);
        Files.setAttribute(path, "unix:mode", mode, LinkOption.NOFOLLOW_LINKS);
    }

    /** Distinct nanosecond times per entry: mtime in the past, atime in the future. */
    private void setTimes(Path path) throws IOException {
        stamp++;
        Files.getFileAttributeView(path, BasicFileAttributeView.class, LinkOption.NOFOLLOW_LINKS).setTimes(
                FileTime.from(Instant.ofEpochSecond(1_000_000_000L + stamp, 123_456_789 + stamp)),
                FileTime.from(Instant.ofEpochSecond(ATIME + stamp, 987_654_321 - stamp)), null);
    }

    /** Times of a node Java must not open (FIFO, device) or can only set to the microsecond (link). */
    private void touch(Path path) throws Exception {
        stamp++;
        run("touch", "-h", "-m", "-d", "@" + (1_000_000_000L + stamp) + "." + (123_456_789 + stamp), path.toString());
        run("touch", "-h", "-a", "-d", "@" + (ATIME + stamp) + "." + (987_654_321 - stamp), path.toString());
    }

    private static void run(String... command) throws Exception {
        Process process = new ProcessBuilder(command).redirectErrorStream(true).start();
        String output = new String(process.getInputStream().readAllBytes(), StandardCharsets.UTF_8);
        assertEquals(0, process.waitFor(), String.join(" ", command) + ": " + output);
    }

    private static String hex(byte[] bytes) {
        return HexFormat.of().formatHex(bytes);
    }
}
