package io.pmig.executor.criu;

import io.pmig.executor.workload.ProcessTree;
import java.io.IOException;
import java.nio.file.DirectoryStream;
import java.nio.file.Files;
import java.nio.file.LinkOption;
import java.nio.file.Path;
import java.nio.file.attribute.BasicFileAttributes;
import java.util.HashMap;
import java.util.Map;
import java.util.regex.Pattern;

/**
 * Files a workload holds open (or mapped) after they were unlinked. criu copies each of them into the images as a
 * "ghost file" and refuses any larger than its {@code --ghost-limit} (default 1 MiB: "Can't dump ghost file ... of
 * 33554432"), so the limit of a dump is sized from what the tree holds right before it.
 */
public final class GhostFiles {

    /** criu's own default; the ceiling may not go below it. */
    static final long CRIU_DEFAULT_LIMIT = 1L << 20;
    /** What a ghost may grow by between this look and the freeze. */
    static final long MARGIN = 16L << 20;

    /** Unlinked by nature and dumped by criu as memory, not as ghost files: memfd, SysV shm, shared anonymous maps. */
    private static final Pattern NOT_GHOSTS = Pattern.compile("/(memfd:|SYSV[0-9a-f]{8} |dev/zero )");

    private GhostFiles() {
    }

    /** The largest unlinked regular file the tree under {@code initPid} holds open or mapped, in bytes (0 if none). */
    public static long largest(int initPid) {
        return held(initPid).values().stream().mapToLong(Long::longValue).max().orElse(0);
    }

    /**
     * Every unlinked regular file the tree holds, by "device:inode" (one file held by several fds or processes
     * counts once), with its size. Found through /proc/PID/fd and /proc/PID/map_files, whose links name the file
     * with " (deleted)" appended; the link itself is stat'ed, so the size is that of the open file.
     */
    public static Map<String, Long> held(int initPid) {
        Map<String, Long> sizes = new HashMap<>();
        for (int pid : ProcessTree.pids(initPid)) {
            for (String dir : new String[] {"fd", "map_files"}) {
                try (DirectoryStream<Path> links = Files.newDirectoryStream(Path.of("/proc", String.valueOf(pid), dir))) {
                    for (Path link : links) {
                        addIfUnlinked(link, sizes);
                    }
                } catch (IOException | RuntimeException gone) {
                    // the process exited while we looked
                }
            }
        }
        return sizes;
    }

    private static void addIfUnlinked(Path link, Map<String, Long> sizes) {
        try {
            String target = Files.readSymbolicLink(link).toString();
            if (!target.endsWith(" (deleted)") || NOT_GHOSTS.matcher(target).lookingAt()) {
                return;
            }
            BasicFileAttributes attrs = Files.readAttributes(link, BasicFileAttributes.class);
            if (!attrs.isRegularFile() || ((Number) Files.getAttribute(link, "unix:nlink")).intValue() != 0) {
                return;
            }
            sizes.put(Files.getAttribute(link, "unix:dev") + ":" + Files.getAttribute(link, "unix:ino"), attrs.size());
        } catch (IOException | RuntimeException gone) {
            // closed or unmapped meanwhile
        }
    }

    /**
     * The {@code --ghost-limit} for a tree whose largest ghost is {@code largest} bytes: that plus a margin (criu
     * compares each file with the limit, not their sum), never above {@code ceiling} (a bigger file then fails the
     * dump, and {@code CheckpointPreflight} refuses the migration before any freeze).
     */
    public static long limit(long largest, long ceiling) {
        return Math.min(ceiling, largest + largest / 4 + MARGIN);
    }
}
