package io.pmig.executor.transfer;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.LinkOption;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.nio.file.attribute.BasicFileAttributeView;
import java.nio.file.attribute.FileTime;
import java.util.ArrayList;
import java.util.Comparator;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.function.Predicate;
import java.util.stream.Stream;

/**
 * A workload's directory staged for a transfer: every entry - files, directories (empty ones too), symlinks,
 * FIFOs, device nodes, sockets - under one base directory, so that {@link TransferConnection#sendFiles} carries it
 * whole with modes, owners, times and hard links. Names are kept as bytes (any name Linux allows).
 */
public final class WorkloadFiles {

    private WorkloadFiles() {
    }

    /** How the non-directory entries get into the staging directory. */
    public enum Staging {
        /** Hard links (copies only across filesystems): for a workload that is not running, so it cannot change. */
        LINK,
        /** Copies: for a workload that runs on once the checkpoint is taken. */
        COPY
    }

    /**
     * Stages {@code source} as {@code staged} (deleted first if present), leaving out the non-directory entries whose
     * path relative to {@code source} {@code skip} accepts, and returns the staged paths, each directory before what it holds.
     * The staged directories get the source directories' mode, owner and times once they are filled.
     */
    public static List<Path> stage(Path source, Path staged, Staging staging, Predicate<Path> skip) throws IOException {
        deleteTree(staged);
        List<Path> entries = new ArrayList<>();
        List<Path[]> directories = new ArrayList<>();
        Map<Object, Path> copiedInodes = new HashMap<>();
        try (Stream<Path> walk = Files.walk(source)) {
            for (Path p : walk.toList()) {
                Path rel = source.relativize(p);
                Path target = rel.toString().isEmpty() ? staged : staged.resolve(rel);
                if (Files.isDirectory(p, LinkOption.NOFOLLOW_LINKS)) {
                    Files.createDirectories(target);
                    directories.add(new Path[] {p, target});
                } else if (skip.test(rel)) {
                    continue;
                } else if (staging == Staging.LINK) {
                    try {
                        Files.createLink(target, p); // link(2) does not follow a symlink: the link itself is staged
                    } catch (IOException | UnsupportedOperationException e) {
                        copy(p, target, copiedInodes);
                    }
                } else {
                    copy(p, target, copiedInodes);
                }
                entries.add(target);
            }
        }
        directories.sort(Comparator.comparingInt((Path[] d) -> d[1].getNameCount()).reversed());
        for (Path[] directory : directories) {
            copyMetadata(directory[0], directory[1]);
        }
        return entries;
    }

    /** Copies one non-directory entry, keeping its hard links to entries copied before and its nanosecond times. */
    private static void copy(Path from, Path to, Map<Object, Path> copiedInodes) throws IOException {
        Map<String, Object> a = Files.readAttributes(from, "unix:ino,dev,nlink", LinkOption.NOFOLLOW_LINKS);
        Object inode = a.get("dev") + ":" + a.get("ino");
        Path first = (Integer) a.get("nlink") > 1 ? copiedInodes.get(inode) : null;
        if (first != null) {
            Files.createLink(to, first);
            return;
        }
        if (Files.isRegularFile(from, LinkOption.NOFOLLOW_LINKS)) {
            copyFile(from, to);
        } else {
            Files.copy(from, to, StandardCopyOption.COPY_ATTRIBUTES, LinkOption.NOFOLLOW_LINKS); // mknod for FIFOs, devices
        }
        copiedInodes.put(inode, to);
    }

    /**
     * Copies a regular file with its mode, owner and nanosecond times ({@code COPY_ATTRIBUTES} alone keeps
     * microseconds, and criu refuses a mapped file whose mtime changed).
     */
    public static void copyFile(Path from, Path to, StandardCopyOption... options) throws IOException {
        StandardCopyOption[] all = java.util.Arrays.copyOf(options, options.length + 1);
        all[options.length] = StandardCopyOption.COPY_ATTRIBUTES;
        Files.copy(from, to, all);
        setTimes(from, to);
    }

    private static void copyMetadata(Path from, Path to) throws IOException {
        Map<String, Object> a = Files.readAttributes(from, "unix:mode,uid,gid", LinkOption.NOFOLLOW_LINKS);
        Files.setAttribute(to, "unix:uid", a.get("uid"), LinkOption.NOFOLLOW_LINKS);
        Files.setAttribute(to, "unix:gid", a.get("gid"), LinkOption.NOFOLLOW_LINKS);
        Files.setAttribute(to, "unix:mode", (Integer) a.get("mode") & 07777, LinkOption.NOFOLLOW_LINKS);
        setTimes(from, to);
    }

    private static void setTimes(Path from, Path to) throws IOException {
        Map<String, Object> a = Files.readAttributes(from, "lastModifiedTime,lastAccessTime", LinkOption.NOFOLLOW_LINKS);
        Files.getFileAttributeView(to, BasicFileAttributeView.class, LinkOption.NOFOLLOW_LINKS)
                .setTimes((FileTime) a.get("lastModifiedTime"), (FileTime) a.get("lastAccessTime"), null);
    }

    private static void deleteTree(Path dir) throws IOException {
        if (!Files.exists(dir, LinkOption.NOFOLLOW_LINKS)) {
            return;
        }
        try (Stream<Path> walk = Files.walk(dir)) {
            for (Path p : walk.sorted(Comparator.reverseOrder()).toList()) {
                Files.deleteIfExists(p);
            }
        }
    }
}
