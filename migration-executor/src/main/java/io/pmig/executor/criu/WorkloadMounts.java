package io.pmig.executor.criu;

import io.pmig.executor.criu.MountInfo.Mount;
import io.pmig.executor.workload.ProcessTable;
import io.pmig.executor.workload.ProcessTree;
import java.io.IOException;
import java.io.Reader;
import java.io.Writer;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.HashSet;
import java.util.LinkedHashMap;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.Properties;
import java.util.Set;
import java.util.TreeMap;
import java.util.TreeSet;

/**
 * The mounts a workload made of its own directory inside its mount namespace, and how criu carries them to the
 * destination node's directory.
 *
 * <p>The directory reaches the namespace as one bind mount at {@link Criu#WORKLOAD_MOUNT}, which a dump marks
 * external so that a restore binds the destination's directory there. Any further mount of a directory or file from
 * it ({@code mount --bind $W/a $W/b}, through another such bind, or naming the node's path) is a mount of the node's
 * filesystem whose root criu records as the node's path, and restores by binding that path from the host's root
 * mount: the copy then shows the SOURCE node's files, deleted after the commit (between hosts the restore fails,
 * "Failed to open_tree &lt;source path&gt;"). So each such mount is marked external too, under its own key
 * ({@code wl-1}, {@code wl-2}, ...), and the restore binds {@code <destination directory>/<same relative path>} there;
 * criu re-applies its mount flags (read-only included). The keys and their relative paths travel beside the images in
 * {@link #RECORD}. Mounts of other filesystems (a tmpfs: criu carries its content) are left to criu.
 *
 * <p>What criu cannot carry is a {@link #problems() problem}, refused before any freeze: criu maps external mounts
 * by mount point, and only in the dumped tree's own mount namespace (measured with 4.2.1: a nested mount namespace's
 * copy of the directory is restored from the source's path); an overlay the workload mounted fails every restore; a
 * device's filesystem the node has not mounted itself (a loop-mounted image) fails the dump.
 */
public final class WorkloadMounts {

    /** In the images directory: which key stands for which path relative to the workload's directory. */
    public static final String RECORD = "workload-mounts.properties";
    private static final String DELETED = "//deleted";

    /** A workload mount marked external for criu: its mount point in the namespace and its source in the directory. */
    record Carried(String mountPoint, String key, String relative) {
    }

    private final List<Carried> carried;
    private final List<String> problems;

    private WorkloadMounts(List<Carried> carried, List<String> problems) {
        this.carried = List.copyOf(carried);
        this.problems = List.copyOf(problems);
    }

    /** The mounts of the workload whose init has host pid {@code initPid}, read from /proc now. */
    public static WorkloadMounts of(int initPid) {
        List<Mount> mounts = MountInfo.of(initPid);
        Optional<Mount> directory = mounts.stream()
                .filter(m -> m.mountPoint().equals(Criu.WORKLOAD_MOUNT))
                .findFirst(); // pmig-init's bind: the first mount at that point, anything else is stacked on it
        if (directory.isEmpty()) {
            return new WorkloadMounts(List.of(), List.of());
        }
        Mount dir = directory.get();
        List<String> problems = new ArrayList<>();
        List<Carried> carried = carry(mounts, dir, problems);

        Map<String, Integer> namespaces = new LinkedHashMap<>(); // mount namespace -> first pid seen in it
        for (int pid : ProcessTree.pids(initPid)) {
            mountNamespace(pid).ifPresent(ns -> namespaces.putIfAbsent(ns, pid));
        }
        String own = mountNamespace(initPid).orElse("");
        Set<String> nodeDevices = new HashSet<>();
        MountInfo.ofThisProcess().forEach(m -> nodeDevices.add(m.device()));
        Set<String> foreign = new LinkedHashSet<>();
        namespaces.forEach((ns, pid) -> {
            List<Mount> table = ns.equals(own) ? mounts : MountInfo.of(pid);
            if (!ns.equals(own)) {
                table.stream().filter(m -> showsPartOf(m, dir)).findFirst().ifPresent(m -> problems.add(
                        describeProcess(pid) + " is in a mount namespace of its own that shows the workload's directory"
                        + " (at " + m.mountPoint() + "): criu carries that directory to the destination's path only in"
                        + " the workload's own mount namespace, this one would keep the source node's"));
            }
            table.stream().filter(m -> !nodeDevices.contains(m.device()))
                    .flatMap(m -> unsupportedFilesystem(m).stream()).forEach(foreign::add);
        });
        problems.addAll(foreign);
        return new WorkloadMounts(carried, problems);
    }

    /**
     * The mounts of the workload's own mount namespace that show part of its directory {@code dir} and are not
     * {@code dir} itself, grouped by mount point (criu's key); what cannot be carried goes to {@code problems}.
     */
    private static List<Carried> carry(List<Mount> mounts, Mount dir, List<String> problems) {
        Map<String, List<Mount>> byMountPoint = new TreeMap<>();
        mounts.forEach(m -> byMountPoint.computeIfAbsent(m.mountPoint(), k -> new ArrayList<>()).add(m));
        List<Carried> carried = new ArrayList<>();
        for (Map.Entry<String, List<Mount>> point : byMountPoint.entrySet()) {
            List<Mount> stacked = point.getValue();
            List<Mount> ours = stacked.stream().filter(m -> showsPartOf(m, dir)).toList();
            if (ours.isEmpty()) {
                continue;
            }
            if (ours.size() < stacked.size() || ours.stream().map(Mount::root).distinct().count() > 1) {
                problems.add("the workload has " + stacked.size() + " mounts stacked at " + point.getKey() + " ("
                        + String.join(", ", stacked.stream().map(m -> describe(m, dir)).toList()) + "), at least one "
                        + "of its own directory: criu maps such mounts by mount point, so it cannot carry them");
                continue;
            }
            String relative = relative(ours.get(0), dir);
            if (relative.endsWith(DELETED)) {
                problems.add("the workload's bind mount at " + point.getKey() + " shows "
                        + relative.substring(0, relative.length() - DELETED.length()) + ", which it deleted from its"
                        + " directory: that content is in no file the migration copies");
            } else if (MountInfo.unnamed(point.getKey()) || MountInfo.unnamed(relative)) {
                problems.add("the workload's bind mount at " + point.getKey() + " has a path this executor cannot "
                        + "pass to criu in its encoding " + MountInfo.ARGUMENTS);
            } else if (!point.getKey().equals(Criu.WORKLOAD_MOUNT)) {
                carried.add(new Carried(point.getKey(), Criu.EXTERNAL_KEY + "-" + (carried.size() + 1), relative));
            }
        }
        return carried;
    }

    /** Why criu cannot carry a filesystem the workload mounted that the node has no mount of (measured kinds only). */
    private static Optional<String> unsupportedFilesystem(Mount m) {
        if (m.fsType().equals("overlay")) {
            return Optional.of("the workload mounted an overlay filesystem at " + m.mountPoint() + ": criu mounts it "
                    + "again from the directories its options name as the workload saw them, which the restore cannot"
                    + " reach (\"Unable to mount overlay\")");
        }
        if (m.source().startsWith("/dev/")) {
            return Optional.of("the workload mounted " + m.source() + " (" + m.fsType() + ") at " + m.mountPoint()
                    + ": criu cannot checkpoint a device's filesystem the node has not mounted itself (\"FS mnt ..."
                    + " unsupported\"), and the device is this node's");
        }
        return Optional.empty();
    }

    /** Why criu cannot carry these mounts to another node's directory; empty if it can. */
    public List<String> problems() {
        return problems;
    }

    List<Carried> carried() {
        return carried;
    }

    /** The dump's {@code --external} options for the carried mounts (the directory's own mount is not among them). */
    List<String> dumpOptions() {
        List<String> options = new ArrayList<>();
        carried.forEach(c -> options.addAll(List.of("--external", "mnt[" + c.mountPoint() + "]:" + c.key())));
        return options;
    }

    /** Writes {@link #RECORD} into the images directory, which travels with the images to every restore. */
    void record(Path imagesDir) throws IOException {
        Properties keys = new Properties();
        carried.forEach(c -> keys.setProperty(c.key(), c.relative()));
        Files.createDirectories(imagesDir);
        try (Writer out = Files.newBufferedWriter(imagesDir.resolve(RECORD))) {
            keys.store(out, "criu external mount key = path relative to the workload's directory");
        }
    }

    /**
     * The restore's {@code --external} options binding each carried mount from {@code workloadDir}, read from the
     * images' {@link #RECORD} (none if the images have none: dumped by an executor that did not carry mounts).
     */
    static List<String> restoreOptions(Path imagesDir, Path workloadDir) throws CriuException {
        Path record = imagesDir.resolve(RECORD);
        if (!Files.exists(record)) {
            return List.of();
        }
        Properties keys = new Properties();
        try (Reader in = Files.newBufferedReader(record)) {
            keys.load(in);
        } catch (IOException | IllegalArgumentException e) {
            throw new CriuException("cannot read " + record + ": " + e.getMessage(), e);
        }
        List<String> options = new ArrayList<>();
        for (String key : new TreeSet<>(keys.stringPropertyNames())) {
            String relative = keys.getProperty(key);
            Path path = Path.of(relative);
            if (!key.startsWith(Criu.EXTERNAL_KEY + "-") || key.contains("]") || path.isAbsolute()
                    || !path.normalize().equals(path) || path.startsWith("..")) {
                throw new CriuException(record + " maps " + key + " to '" + relative
                        + "': not a key of a workload mount, or not a path inside the workload's directory");
            }
            options.addAll(List.of("--external", "mnt[" + key + "]:" + workloadDir.resolve(path)));
        }
        return options;
    }

    /** True if both reads found the same mounts to carry and the same problems. */
    boolean sameAs(WorkloadMounts other) {
        return carried.equals(other.carried) && problems.equals(other.problems);
    }

    @Override
    public String toString() {
        return carried.stream().map(c -> c.mountPoint() + " <- " + c.relative()).toList() + (problems.isEmpty() ? ""
                : " problems " + problems);
    }

    /** A mount of (a part of) the workload's directory: same filesystem, root inside the directory's root. */
    private static boolean showsPartOf(Mount m, Mount dir) {
        return m.device().equals(dir.device()) && (dir.root().equals("/") || m.root().equals(dir.root())
                || m.root().startsWith(dir.root() + "/"));
    }

    private static String relative(Mount m, Mount dir) {
        String rest = dir.root().equals("/") ? m.root() : m.root().substring(dir.root().length());
        return rest.startsWith("/") ? rest.substring(1) : rest;
    }

    private static String describe(Mount m, Mount dir) {
        return showsPartOf(m, dir) ? "of " + (relative(m, dir).isEmpty() ? "the directory" : relative(m, dir))
                : m.fsType() + " " + m.root();
    }

    private static Optional<String> mountNamespace(int pid) {
        try {
            return Optional.of(Files.readSymbolicLink(Path.of("/proc", String.valueOf(pid), "ns", "mnt")).toString());
        } catch (IOException | UnsupportedOperationException e) {
            return Optional.empty();
        }
    }

    private static String describeProcess(int pid) {
        String comm = ProcessTree.read(Path.of("/proc", String.valueOf(pid), "comm")).orElse("?");
        return "process " + ProcessTable.namespacePid(pid) + " (" + comm + ", host pid " + pid + ")";
    }
}
