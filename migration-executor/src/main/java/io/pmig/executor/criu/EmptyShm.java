package io.pmig.executor.criu;

import io.pmig.executor.workload.ProcessTable;
import java.io.IOException;
import java.io.Reader;
import java.io.Writer;
import java.nio.charset.StandardCharsets;
import java.nio.file.DirectoryStream;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.time.Instant;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.Locale;
import java.util.Optional;
import java.util.Properties;
import java.util.Set;
import java.util.concurrent.TimeUnit;
import java.util.stream.Collectors;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * A workload's private {@code /dev/shm} (pmig-init's own tmpfs) that holds nothing: no file, and nothing open or mapped
 * on it. criu carries a tmpfs by running {@code tar | gzip} inside the freeze and {@code tar -x} in the restore, even for
 * an empty one (a LAZY 1 GiB dump spent ~15 % of its time there, its restore more); an empty one has nothing to carry.
 * So the dump marks it external ({@code --external mnt[/dev/shm]:shm}) and a restore binds a fresh tmpfs there, mounted
 * with the same options. A {@code /dev/shm} with anything in it is dumped by criu as before.
 *
 * <p>Read before the freeze ({@link #of}); asked again under the freeze ({@link #filledIn}): a file made in between
 * fails the dump (the tree runs again, nothing moved), as a mount made in between does.
 */
public final class EmptyShm {

    static final String MOUNT_POINT = "/dev/shm";
    /** Where a restore's fresh tmpfs is mounted on the node: {@code /tmp/pmig-shm-*}. */
    private static final String FRESH_PREFIX = "pmig-shm-";
    /** A fresh tmpfs this young may be one whose criu has not started yet. */
    private static final Duration FRESH_GRACE = Duration.ofSeconds(60);
    static final String KEY = "shm";
    /** In the images directory: the tmpfs options a restore mounts the fresh {@code /dev/shm} with. */
    static final String RECORD = "empty-shm.properties";
    /** Superblock options of a tmpfs worth keeping on the fresh one (rw/ro and the rest are per-mount flags criu sets). */
    private static final Set<String> KEPT_OPTIONS = Set.of("size", "nr_inodes", "mode", "uid", "gid", "huge", "mpol",
            "inode64", "inode32", "noswap");
    private static final Logger log = LoggerFactory.getLogger(EmptyShm.class);

    /** The tmpfs's mount id and device (major:minor, decimal) in the workload's table, and its superblock options. */
    private final String mountId;
    private final String device;
    private final String options;

    private EmptyShm(String mountId, String device, String options) {
        this.mountId = mountId;
        this.device = device;
        this.options = options;
    }

    /**
     * The {@code /dev/shm} of the workload whose init has host pid {@code initPid}, if it is a tmpfs of its own (not
     * the node's, nothing stacked on it) and empty now.
     */
    static Optional<EmptyShm> of(int initPid) {
        List<String[]> atShm = new ArrayList<>();
        List<String> nodeDevices = MountInfo.ofThisProcess().stream().map(MountInfo.Mount::device).toList();
        try {
            for (String line : Files.readAllLines(Path.of("/proc", String.valueOf(initPid), "mountinfo"), StandardCharsets.ISO_8859_1)) {
                String[] f = line.split(" ");
                if (f.length > 4 && f[4].equals(MOUNT_POINT)) {
                    atShm.add(new String[] {f[0], f[2], f[3], line.substring(line.indexOf(" - ") + 3)});
                }
            }
        } catch (IOException | RuntimeException e) {
            return Optional.empty();
        }
        if (atShm.size() != 1) {
            return Optional.empty(); // none, or something stacked on it: criu's way
        }
        String[] m = atShm.get(0);
        String[] fs = m[3].split(" ");
        if (!fs[0].equals("tmpfs") || !m[2].equals("/") || nodeDevices.contains(m[1]) || fs.length < 3) {
            return Optional.empty();
        }
        String kept = Arrays.stream(fs[2].split(","))
                .filter(o -> KEPT_OPTIONS.contains(o.contains("=") ? o.substring(0, o.indexOf('=')) : o))
                .collect(Collectors.joining(","));
        EmptyShm shm = new EmptyShm(m[0], m[1], kept);
        return shm.filledIn(initPid).isEmpty() ? Optional.of(shm) : Optional.empty();
    }

    /** What the workload holds in or on its {@code /dev/shm} now, if anything: a file, an open descriptor, a mapping. */
    Optional<String> filledIn(int initPid) {
        try (DirectoryStream<Path> entries = Files.newDirectoryStream(Path.of("/proc", String.valueOf(initPid), "root", "dev", "shm"))) {
            for (Path entry : entries) {
                return Optional.of("a file in " + MOUNT_POINT + " (" + entry.getFileName() + ")");
            }
        } catch (IOException e) {
            return Optional.of(MOUNT_POINT + " cannot be read (" + e.getMessage() + ")");
        }
        String[] majorMinor = device.split(":");
        String mapsDevice = String.format(Locale.ROOT, "%02x:%02x", Integer.parseInt(majorMinor[0]), Integer.parseInt(majorMinor[1]));
        for (int pid : ProcessTable.namespaceMembers(initPid)) {
            Path proc = Path.of("/proc", String.valueOf(pid));
            try {
                for (String line : Files.readAllLines(proc.resolve("maps"), StandardCharsets.ISO_8859_1)) {
                    String[] f = line.split("\\s+", 6);
                    if (f.length > 3 && f[3].equals(mapsDevice)) {
                        return Optional.of("a mapping of " + (f.length > 5 ? f[5] : "a file in " + MOUNT_POINT) + " by " + pid);
                    }
                }
                try (DirectoryStream<Path> fds = Files.newDirectoryStream(proc.resolve("fd"))) {
                    for (Path fd : fds) {
                        // asked under the freeze: one readlink per descriptor, fdinfo only for what may be there
                        // (a mount the executor cannot reach reads as its path in the workload's namespace)
                        if (!readLink(fd).startsWith(MOUNT_POINT + "/")) {
                            continue;
                        }
                        for (String line : Files.readAllLines(proc.resolve("fdinfo").resolve(fd.getFileName()),
                                StandardCharsets.ISO_8859_1)) {
                            if (line.startsWith("mnt_id:") && line.substring(7).strip().equals(mountId)) {
                                return Optional.of("a file in " + MOUNT_POINT + " open in " + pid);
                            }
                        }
                    }
                }
            } catch (IOException e) {
                // a task that exited meanwhile holds nothing
            }
        }
        return Optional.empty();
    }

    private static String readLink(Path fd) {
        try {
            return Files.readSymbolicLink(fd).toString();
        } catch (IOException e) {
            return ""; // closed meanwhile
        }
    }

    List<String> dumpOptions() {
        return List.of("--external", "mnt[" + MOUNT_POINT + "]:" + KEY);
    }

    /** Writes {@link #RECORD} beside the images, which tells every restore to mount a fresh tmpfs. */
    void record(Path imagesDir) throws IOException {
        Properties p = new Properties();
        p.setProperty("options", options);
        try (Writer out = Files.newBufferedWriter(imagesDir.resolve(RECORD))) {
            p.store(out, "the workload's /dev/shm was empty and left out of the images: a restore mounts a fresh tmpfs");
        }
    }

    /** Removes a {@link #RECORD} an earlier dump into the same directory left. */
    static void forget(Path imagesDir) throws IOException {
        Files.deleteIfExists(imagesDir.resolve(RECORD));
    }

    /**
     * A fresh tmpfs mounted for a restore, detached from the node once criu has bound it (or failed): in the background,
     * as the restored namespace keeps its own bind and the node needs none (a process start inside the downtime is
     * 1-2 ms on a quiet machine, 100-300 ms on a loaded one, measured).
     */
    record Fresh(Path mountPoint, List<String> restoreOptions) implements AutoCloseable {
        @Override
        public void close() {
            Thread detach = new Thread(() -> {
                try {
                    run(List.of("umount", "-l", mountPoint.toString()));
                    Files.deleteIfExists(mountPoint);
                } catch (IOException | CriuException e) {
                    log.warn("cannot detach the fresh /dev/shm at {}: {}", mountPoint, e.getMessage());
                }
            }, "pmig-detach-shm");
            detach.setDaemon(true);
            detach.start();
        }
    }

    /**
     * For images whose {@code /dev/shm} was left out: a fresh tmpfs and the restore's option binding it; empty for
     * other images.
     */
    static Optional<Fresh> mountFor(Path imagesDir) throws CriuException {
        Path record = imagesDir.resolve(RECORD);
        if (!Files.exists(record)) {
            return Optional.empty();
        }
        Properties p = new Properties();
        try (Reader in = Files.newBufferedReader(record)) {
            p.load(in);
        } catch (IOException | IllegalArgumentException e) {
            throw new CriuException("cannot read " + record + ": " + e.getMessage(), e);
        }
        String options = p.getProperty("options", "");
        if (!options.matches("[A-Za-z0-9_=:,.+-]*")) {
            throw new CriuException(record + " holds unexpected tmpfs options: '" + options + "'");
        }
        // under /tmp, whose mounts pmig-init detaches: a workload launched meanwhile must not inherit it (its
        // checkpoints would then expect a mount there on every node, HostMounts)
        Path mountPoint;
        try {
            mountPoint = Files.createTempDirectory(Path.of("/tmp"), FRESH_PREFIX);
        } catch (IOException e) {
            throw new CriuException("cannot make a mount point for a fresh /dev/shm: " + e.getMessage(), e);
        }
        run(List.of("mount", "-t", "tmpfs", "-o", "nosuid,nodev" + (options.isEmpty() ? "" : "," + options), "tmpfs",
                mountPoint.toString()));
        return Optional.of(new Fresh(mountPoint, List.of("--external", "mnt[" + KEY + "]:" + mountPoint)));
    }

    /**
     * Detaches the fresh tmpfs mounts that no restore uses any more, whichever executor of this host made them: one
     * that died inside a restore, or before its background detach ran, left its mount on the node for good. In use
     * means named on a running process's command line (criu, or a wrapper about to exec it), or mounted within the last
     * minute (its criu may not have started yet). Returns the mount points detached.
     */
    public static List<Path> detachLeftovers() {
        List<Path> candidates = new ArrayList<>();
        Instant youngest = Instant.now().minus(FRESH_GRACE);
        for (MountInfo.Mount m : MountInfo.ofThisProcess()) {
            Path point = Path.of(m.mountPoint());
            if (m.fsType().equals("tmpfs") && point.getParent() != null && point.getParent().equals(Path.of("/tmp"))
                    && point.getFileName().toString().startsWith(FRESH_PREFIX) && !candidates.contains(point)) {
                try {
                    // the tmpfs's root: modified when mounted, or when the workload's /dev/shm changed since
                    if (Files.getLastModifiedTime(point).toInstant().isBefore(youngest)) {
                        candidates.add(point);
                    }
                } catch (IOException e) {
                    // detached meanwhile
                }
            }
        }
        if (candidates.isEmpty()) {
            return List.of();
        }
        Set<String> named = namedOnCommandLines(candidates);
        List<Path> detached = new ArrayList<>();
        for (Path point : candidates) {
            if (named.contains(point.toString())) {
                continue;
            }
            try {
                run(List.of("umount", "-l", point.toString()));
                Files.deleteIfExists(point);
                detached.add(point);
            } catch (IOException | CriuException e) {
                log.warn("cannot detach the leftover fresh /dev/shm at {} ({}); detach it by hand: umount -l {}",
                        point, e.getMessage(), point);
            }
        }
        return detached;
    }

    /** Those of {@code points} that a running process names in its arguments. */
    private static Set<String> namedOnCommandLines(List<Path> points) {
        Set<String> named = new java.util.HashSet<>();
        try (DirectoryStream<Path> procs = Files.newDirectoryStream(Path.of("/proc"), p -> p.getFileName().toString().matches("\\d+"))) {
            for (Path proc : procs) {
                String argv;
                try {
                    argv = new String(Files.readAllBytes(proc.resolve("cmdline")), MountInfo.ARGUMENTS);
                } catch (IOException e) {
                    continue; // exited meanwhile
                }
                for (Path point : points) {
                    // as criu's option mnt[shm]:POINT, or as a wrapper's argument: followed by the end of an argument
                    String p = point.toString();
                    int at = argv.indexOf(p);
                    while (at >= 0) {
                        int end = at + p.length();
                        if (end == argv.length() || argv.charAt(end) == '\0') {
                            named.add(p);
                            break;
                        }
                        at = argv.indexOf(p, end);
                    }
                }
            }
        } catch (IOException e) {
            points.forEach(p -> named.add(p.toString())); // cannot tell: keep them all
        }
        return named;
    }

    private static void run(List<String> cmd) throws CriuException {
        try {
            Process p = new ProcessBuilder(cmd).redirectErrorStream(true)
                    .redirectInput(ProcessBuilder.Redirect.from(new java.io.File("/dev/null"))).start();
            String out = new String(p.getInputStream().readAllBytes(), StandardCharsets.UTF_8);
            if (!p.waitFor(30, TimeUnit.SECONDS) || p.exitValue() != 0) {
                p.destroyForcibly();
                throw new CriuException(String.join(" ", cmd) + " failed: " + out.strip());
            }
        } catch (IOException e) {
            throw new CriuException("cannot run " + cmd.get(0) + ": " + e.getMessage(), e);
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            throw new CriuException("interrupted while running " + cmd.get(0), e);
        }
    }
}
