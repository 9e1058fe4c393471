package io.pmig.executor.criu;

import io.pmig.executor.criu.MountInfo.Mount;
import java.io.IOException;
import java.io.Reader;
import java.io.Writer;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.HashSet;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.Properties;
import java.util.Set;
import java.util.TreeMap;
import java.util.TreeSet;
import java.util.regex.Pattern;

/**
 * The mounts a workload's mount namespace inherited from its node, which are the node's and not the workload's state.
 *
 * <p>pmig-init starts each workload's mount namespace as a (private) copy of the node's mount table, and criu dumps
 * every mount of that namespace: the content of each tmpfs goes into the images (the node's files travel with the
 * workload, and a node program writing there while criu's tar reads it fails the dump: "Can't dump tmpfs content"),
 * and any other filesystem must be mounted again by criu on the destination. So each such mount is marked external at
 * dump ({@code --external mnt[<mount point>]:host-N}) and a restore binds the destination node's mount at the same
 * path ({@code --external mnt[host-N]:<mount point>}): every node must have the mounts its workloads started with.
 *
 * <p>A mount of the namespace is the node's if this executor's own mount table (the node's, the one criu runs in) has a
 * mount at the same mount point of the same superblock (mountinfo's major:minor, one per tmpfs instance) with the same
 * root. That holds after a restore too: the restored namespace's copy is a bind of the destination node's mount. A
 * mount the workload made (a tmpfs, a bind) has a mount point or a superblock the node lacks, pmig-init's private
 * {@code /dev/shm} and {@code /dev/mqueue} are new instances, and the workload's directory is mounted where the node has
 * nothing: all of them are dumped as before.
 *
 * <p>Left to criu as before: the root mount, kernel filesystems criu mounts anew at restore with nothing to carry
 * ({@link #LEFT_TO_CRIU}), and mount points where the workload stacked a mount of its own on the node's (criu marks by
 * mount point, so its mount would be bound from the node's too).
 */
final class HostMounts {

    /** In the images directory: which key stands for which mount point (and its filesystem type, for messages). */
    static final String RECORD = "host-mounts.properties";
    static final String KEY_PREFIX = "host-";
    private static final Pattern KEY = Pattern.compile(Pattern.quote(KEY_PREFIX) + "[0-9]+");
    private static final String TYPE_SUFFIX = ".fstype";
    /** criu mounts these anew on restore and dumps no content of them: binding the node's would only add a requirement. */
    static final Set<String> LEFT_TO_CRIU = Set.of("proc", "sysfs", "devtmpfs", "devpts", "mqueue", "cgroup", "cgroup2",
            "binfmt_misc", "securityfs", "debugfs", "tracefs", "pstore", "fusectl");

    /** A node mount marked external: its mount point in the namespace, criu's key, and its filesystem type. */
    record Marked(String mountPoint, String key, String fsType) {
    }

    private final List<Marked> marked;
    /** Per marked mount point, the mounts stacked there when it was read: the race check compares them. */
    private final Map<String, List<Mount>> stacks;
    private final List<String> unmarked;

    private HostMounts(List<Marked> marked, Map<String, List<Mount>> stacks, List<String> unmarked) {
        this.marked = List.copyOf(marked);
        this.stacks = Map.copyOf(stacks);
        this.unmarked = List.copyOf(unmarked);
    }

    /** The node's mounts in the mount namespace of the workload whose init has host pid {@code initPid}, read now. */
    static HostMounts of(int initPid) {
        return of(MountInfo.of(initPid), MountInfo.ofThisProcess());
    }

    static HostMounts of(List<Mount> workload, List<Mount> node) {
        Set<List<String>> nodeMounts = new HashSet<>();
        node.forEach(m -> nodeMounts.add(identity(m)));
        List<Marked> marked = new ArrayList<>();
        Map<String, List<Mount>> stacks = new LinkedHashMap<>();
        List<String> unmarked = new ArrayList<>();
        for (Map.Entry<String, List<Mount>> point : byMountPoint(workload).entrySet()) {
            String mountPoint = point.getKey();
            List<Mount> stack = point.getValue();
            List<Mount> nodes = stack.stream().filter(m -> nodeMounts.contains(identity(m))).toList();
            if (nodes.isEmpty() || mountPoint.equals("/") || mountPoint.equals(Criu.WORKLOAD_MOUNT)
                    || mountPoint.startsWith(Criu.WORKLOAD_MOUNT + "/")
                    || stack.stream().allMatch(m -> LEFT_TO_CRIU.contains(m.fsType()))) {
                continue;
            }
            String types = String.join(", ", nodes.stream().map(Mount::fsType).distinct().toList());
            if (nodes.size() < stack.size()) {
                unmarked.add(mountPoint + " (the node's " + types + " with the workload's own mount stacked on it:"
                        + " criu marks by mount point, so both are dumped)");
            } else if (stack.stream().anyMatch(m -> LEFT_TO_CRIU.contains(m.fsType()))) {
                unmarked.add(mountPoint + " (the node's " + types + " stacked with "
                        + String.join(", ", stack.stream().map(Mount::fsType).filter(LEFT_TO_CRIU::contains).toList())
                        + ", which criu mounts itself)");
            } else if (MountInfo.unnamed(mountPoint) || mountPoint.contains("]")) {
                unmarked.add(mountPoint + " (the node's " + types + ": a path this executor cannot pass to criu in its"
                        + " encoding " + MountInfo.ARGUMENTS + " or with a ']')");
            } else {
                marked.add(new Marked(mountPoint, KEY_PREFIX + (marked.size() + 1), stack.get(stack.size() - 1).fsType()));
                stacks.put(mountPoint, stack);
            }
        }
        return new HostMounts(marked, stacks, unmarked);
    }

    List<Marked> marked() {
        return marked;
    }

    /** The node's mounts this dump copies as before instead (mount point and why), for the log. */
    List<String> unmarked() {
        return unmarked;
    }

    /** The dump's {@code --external} options, one per marked mount point. */
    List<String> dumpOptions() {
        List<String> options = new ArrayList<>();
        marked.forEach(m -> options.addAll(List.of("--external", "mnt[" + m.mountPoint() + "]:" + m.key())));
        return options;
    }

    /** Writes {@link #RECORD} into the images directory, which travels with the images to every restore. */
    void record(Path imagesDir) throws IOException {
        Properties keys = new Properties();
        marked.forEach(m -> {
            keys.setProperty(m.key(), m.mountPoint());
            keys.setProperty(m.key() + TYPE_SUFFIX, m.fsType());
        });
        Files.createDirectories(imagesDir);
        try (Writer out = Files.newBufferedWriter(imagesDir.resolve(RECORD))) {
            keys.store(out, "criu external mount key = mount point of a mount the workload inherited from its node");
        }
    }

    /**
     * The restore's {@code --external} options binding this node's mount at each recorded mount point, read from the
     * images' {@link #RECORD} (none if the images have none: dumped by an executor that copied the node's mounts).
     * Refused, before criu runs, if this node lacks one of those mounts: criu would fail on it
     * ("mnt-v2: Failed to open_tree"), or bind a plain directory where the workload had a filesystem.
     */
    static List<String> restoreOptions(Path imagesDir) throws CriuException {
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
        Set<String> nodeMountPoints = new HashSet<>();
        MountInfo.ofThisProcess().forEach(m -> nodeMountPoints.add(m.mountPoint()));
        List<String> options = new ArrayList<>();
        List<String> missing = new ArrayList<>();
        for (String key : new TreeSet<>(keys.stringPropertyNames())) {
            if (key.endsWith(TYPE_SUFFIX) && KEY.matcher(key.substring(0, key.length() - TYPE_SUFFIX.length())).matches()) {
                continue;
            }
            String mountPoint = keys.getProperty(key);
            if (!KEY.matcher(key).matches() || !mountPoint.startsWith("/")
                    || !Path.of(mountPoint).normalize().toString().equals(mountPoint)) {
                throw new CriuException(record + " maps " + key + " to '" + mountPoint
                        + "': not a key of a node mount, or not an absolute normalized mount point");
            }
            if (!nodeMountPoints.contains(mountPoint)) {
                missing.add(mountPoint + " (" + keys.getProperty(key + TYPE_SUFFIX, "?") + ")");
            }
            options.addAll(List.of("--external", "mnt[" + key + "]:" + mountPoint));
        }
        if (!missing.isEmpty()) {
            throw new CriuException("this node has no mount at " + String.join(", ", missing) + ", which the workload's"
                    + " mount namespace inherited from the node it was dumped on: a restore binds this node's mount at"
                    + " the same path, so the nodes must have the same mounts");
        }
        return options;
    }

    /**
     * Why the dump may not match these marks: the workload mounted on, or unmounted, a marked mount point between
     * reading them and criu's freeze. Asked while the tree is still frozen, so the table read now is the one criu
     * dumped. Only the workload's table is read again: a node mount that went away since is still in it.
     */
    Optional<String> changedIn(int initPid) {
        Map<String, List<Mount>> now = byMountPoint(MountInfo.of(initPid));
        List<String> changed = stacks.keySet().stream().filter(p -> !stacks.get(p).equals(now.get(p))).sorted().toList();
        return changed.isEmpty() ? Optional.empty() : Optional.of("the workload changed the mounts at " + changed
                + " (marked as the node's) while criu dumped it");
    }

    @Override
    public String toString() {
        return marked.stream().map(m -> m.mountPoint() + " (" + m.fsType() + ")").toList().toString();
    }

    /** What a copy of a mount keeps in another mount namespace. */
    private static List<String> identity(Mount m) {
        return List.of(m.device(), m.root(), m.mountPoint());
    }

    private static Map<String, List<Mount>> byMountPoint(List<Mount> mounts) {
        Map<String, List<Mount>> byMountPoint = new TreeMap<>();
        mounts.forEach(m -> byMountPoint.computeIfAbsent(m.mountPoint(), k -> new ArrayList<>()).add(m));
        return byMountPoint;
    }
}
