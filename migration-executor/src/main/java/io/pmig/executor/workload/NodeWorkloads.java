package io.pmig.executor.workload;

import io.pmig.executor.criu.Criu;
import io.pmig.executor.network.WorkloadNetwork;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.DirectoryStream;
import java.nio.file.Files;
import java.nio.file.NoSuchFileException;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Comparator;
import java.util.List;
import java.util.Optional;
import java.util.concurrent.TimeUnit;
import java.util.regex.Pattern;
import java.util.stream.Stream;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * The workloads of this node on disk: {@code <workdir>/workloads/<id>/} holds the workload's files (bind-mounted
 * at {@link Criu#WORKLOAD_MOUNT} inside its namespace: stdout.log, stderr.log, exit.status, work/ as cwd) and
 * {@code pid}, the host pid of its init. The node's agent reads {@code pid} to report managed workloads, so it is
 * always written atomically and exists only while the workload runs here.
 */
public final class NodeWorkloads {

    private static final Logger log = LoggerFactory.getLogger(NodeWorkloads.class);

    public static final String PID_FILE = "pid";
    /** Marker of a workload launched with migratable=false; the node's agent reports it as not migratable. */
    public static final String PINNED_FILE = "pinned";
    /** Beside the pid file: the workload's own address (address/prefix), when it has its own network identity. */
    public static final String ADDRESS_FILE = "address";
    private static final Pattern ID = Pattern.compile("[A-Za-z0-9][A-Za-z0-9._-]{0,127}");

    private final Path root;
    private final Path identities;
    private final Path initBinary;

    public NodeWorkloads(Path workdir, Path initBinary) {
        this.root = workdir.resolve("workloads");
        this.identities = workdir.resolve("identities");
        this.initBinary = initBinary;
    }

    /** Workload ids become directory names; anything that could escape the workloads dir is refused. */
    public static String checkId(String workloadId) {
        if (workloadId == null || !ID.matcher(workloadId).matches()) {
            throw new IllegalArgumentException("workload id '" + workloadId
                    + "' must match " + ID.pattern());
        }
        return workloadId;
    }

    public Path dir(String workloadId) {
        return root.resolve(checkId(workloadId));
    }

    /**
     * Starts argv under pmig-init in new PID, mount, IPC and UTS namespaces with its own /dev/shm and mqueue
     * (detached: the init is adopted by the host's init, exactly like a restored one) and returns the init's host pid.
     */
    public int launch(String workloadId, List<String> argv) throws IOException {
        return launch(workloadId, argv, null, null);
    }

    /**
     * As {@link #launch(String, List)}; with {@code network}, in a network namespace of its own whose interface
     * carries {@code cidr} (address/prefix), attached to the network's bridge.
     */
    public int launch(String workloadId, List<String> argv, WorkloadNetwork network, String cidr) throws IOException {
        if (argv.isEmpty()) {
            throw new IllegalArgumentException("LAUNCH needs a command line (argv is empty)");
        }
        Path dir = dir(workloadId);
        if (Files.exists(dir.resolve(PID_FILE))) {
            throw new IllegalStateException("workload " + workloadId + " already exists on this node");
        }
        Files.createDirectories(dir.resolve("work"));
        Files.deleteIfExists(dir.resolve("exit.status"));
        String inside = Criu.WORKLOAD_MOUNT;
        WorkloadNetwork.Prepared ownNetwork = network == null ? null : network.prepare(workloadId, cidr);
        List<String> cmd = new ArrayList<>(ownNetwork == null ? List.of() : ownNetwork.enter());
        cmd.addAll(List.of(initBinary.toString(), "--detach",
                "--pidfile", dir.resolve(PID_FILE).toString(),
                "--bind", dir + ":" + inside,
                "--stdout", inside + "/stdout.log", "--stderr", inside + "/stderr.log",
                "--status-file", inside + "/exit.status", "--cwd", inside + "/work", "--"));
        cmd.addAll(argv);
        int pid;
        try {
            pid = runLauncher(workloadId, cmd, dir.resolve("launch.log"));
        } catch (IOException | RuntimeException e) {
            if (ownNetwork != null) {
                WorkloadNetwork.delete(ownNetwork.hostSide());
            }
            throw e;
        } finally {
            if (ownNetwork != null) {
                ownNetwork.close(); // the init holds the namespace now
            }
        }
        // the identity of the pid the launcher printed, not of the pid file's: the workload may have rewritten that already
        writeIdentity(workloadId, pid);
        if (ownNetwork != null) {
            try {
                network.announceOnceForwarding(workloadId, pid);
            } catch (IOException e) { // it runs; clients that knew the address before reach it once their caches expire
                log.warn("cannot announce the address of {}: {}", workloadId, e.getMessage());
            }
        }
        return pid;
    }

    /** Runs pmig-init's launcher, which exits once the init runs in its set-up namespaces; returns its host pid. */
    private static int runLauncher(String workloadId, List<String> cmd, Path launchLog) throws IOException {
        Process launcher = new ProcessBuilder(cmd)
                .redirectInput(ProcessBuilder.Redirect.from(new java.io.File("/dev/null")))
                .redirectError(launchLog.toFile()).start();
        String printed = new String(launcher.getInputStream().readAllBytes(), StandardCharsets.UTF_8).strip();
        try {
            if (!launcher.waitFor(30, TimeUnit.SECONDS)) {
                launcher.destroyForcibly();
                throw new IOException("pmig-init did not detach within 30 s");
            }
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            throw new IOException("interrupted while launching " + workloadId, e);
        }
        if (launcher.exitValue() != 0) {
            throw new IOException("pmig-init failed (exit " + launcher.exitValue() + "): "
                    + Files.readString(launchLog, StandardCharsets.UTF_8).strip());
        }
        try {
            return Integer.parseInt(printed);
        } catch (NumberFormatException e) {
            throw new IOException("pmig-init printed no pid ('" + printed + "')");
        }
    }

    /**
     * The host pid of the workload's init, if the workload is on this node - from the identity this executor
     * recorded, outside the workload's reach (the pid file in its directory is the workload's to overwrite). Empty
     * when another live process has taken that pid since: nothing may signal or dump it as this workload.
     */
    public Optional<Integer> pid(String workloadId) {
        Optional<WorkloadIdentity> identity = identity(workloadId);
        if (identity.isEmpty()) {
            return Optional.empty();
        }
        WorkloadIdentity id = identity.get();
        return id.isPresent() || !ProcessTable.isAlive(id.pid()) ? Optional.of(id.pid()) : Optional.empty();
    }

    /** The recorded identity of the workload's init (a workload launched before identities were kept: taken now). */
    public Optional<WorkloadIdentity> identity(String workloadId) {
        try {
            Optional<WorkloadIdentity> recorded = WorkloadIdentity.parse(
                    Files.readString(identities.resolve(checkId(workloadId))).strip());
            if (recorded.isPresent()) {
                return recorded;
            }
        } catch (IOException e) {
            // none recorded
        }
        Optional<Integer> legacy = pidFile(workloadId);
        if (legacy.isEmpty()) {
            return Optional.empty();
        }
        try {
            return Optional.of(writeIdentity(workloadId, legacy.get()));
        } catch (IOException e) {
            return WorkloadIdentity.of(legacy.get());
        }
    }

    private Optional<Integer> pidFile(String workloadId) {
        try {
            return Optional.of(Integer.parseInt(Files.readString(dir(workloadId).resolve(PID_FILE)).strip()));
        } catch (IOException | NumberFormatException e) {
            return Optional.empty();
        }
    }

    private WorkloadIdentity writeIdentity(String workloadId, int pid) throws IOException {
        WorkloadIdentity identity = WorkloadIdentity.of(pid).orElse(new WorkloadIdentity(pid, 0, "gone"));
        Files.createDirectories(identities);
        Path tmp = identities.resolve(checkId(workloadId) + ".tmp." + ProcessHandle.current().pid());
        Files.writeString(tmp, identity + "\n");
        Files.move(tmp, identities.resolve(checkId(workloadId)), StandardCopyOption.ATOMIC_MOVE,
                StandardCopyOption.REPLACE_EXISTING);
        return identity;
    }

    public boolean isRunning(String workloadId) {
        return pid(workloadId).map(ProcessTable::isAlive).orElse(false);
    }

    /** Records the workload as running here under {@code pid} (tmp + rename: the agent never reads half a number). */
    public void writePid(String workloadId, int pid) throws IOException {
        Path dir = dir(workloadId);
        Path tmp = dir.resolve(PID_FILE + ".tmp." + ProcessHandle.current().pid());
        Files.writeString(tmp, pid + "\n");
        Files.move(tmp, dir.resolve(PID_FILE), StandardCopyOption.ATOMIC_MOVE, StandardCopyOption.REPLACE_EXISTING);
        writeIdentity(workloadId, pid);
    }

    /**
     * Records the workload's own address (address/prefix) in its directory, where it travels with it and the agent
     * reads it. A hint for display and for giving the address back; pmig.addresses is what holds it.
     */
    public void recordAddress(String workloadId, String cidr) throws IOException {
        Files.writeString(dir(workloadId).resolve(ADDRESS_FILE), cidr + "\n");
    }

    /** The address {@link #recordAddress} recorded, if any. */
    public Optional<String> address(String workloadId) {
        try {
            String text = Files.readString(dir(workloadId).resolve(ADDRESS_FILE)).strip();
            return text.isEmpty() ? Optional.empty() : Optional.of(text);
        } catch (IOException e) {
            return Optional.empty();
        }
    }

    /** Pins the workload to this node: MIGRATE is refused and the agent reports it as not migratable. */
    public void pin(String workloadId) throws IOException {
        Files.writeString(dir(workloadId).resolve(PINNED_FILE), "");
    }

    /**
     * Records the files outside its directory that travel with the workload (LAUNCH's declaredFiles). The list is
     * kept beside the workload directories, not inside: the workload can write its own directory, and a list it
     * could edit would let it make the root executor copy any host file to any node.
     */
    public void declareFiles(String workloadId, List<String> paths) throws IOException {
        for (String path : paths) {
            checkDeclaredPath(path);
        }
        Path list = declaredList(workloadId);
        Files.createDirectories(list.getParent());
        if (paths.isEmpty()) {
            Files.deleteIfExists(list);
        } else {
            Files.write(list, paths);
        }
    }

    /** The workload's declared files (absolute paths), empty when it has none. */
    public List<Path> declaredFiles(String workloadId) throws IOException {
        Path list = declaredList(workloadId);
        if (!Files.exists(list)) {
            return List.of();
        }
        List<Path> paths = new ArrayList<>();
        for (String line : Files.readAllLines(list)) {
            if (!line.isBlank()) {
                paths.add(Path.of(checkDeclaredPath(line.strip())));
            }
        }
        return paths;
    }

    /** Declared files must be absolute, normalised paths (no {@code ..}), so a list can only name what it says. */
    public static String checkDeclaredPath(String path) {
        Path p = Path.of(path);
        if (!p.isAbsolute() || !p.normalize().equals(p) || path.contains("/../") || path.endsWith("/..") || p.getNameCount() == 0) {
            throw new IllegalArgumentException("declared file '" + path + "' must be an absolute path without '..'");
        }
        return path;
    }

    private Path declaredList(String workloadId) {
        return root.resolveSibling("declared-files").resolve(checkId(workloadId));
    }

    public boolean isPinned(String workloadId) {
        return Files.exists(dir(workloadId).resolve(PINNED_FILE));
    }

    public void removePid(String workloadId) throws IOException {
        Files.deleteIfExists(dir(workloadId).resolve(PID_FILE));
        Files.deleteIfExists(identities.resolve(checkId(workloadId)));
    }

    /** The exit code pmig-init recorded when the workload finished by itself, if it did. */
    public Optional<Integer> exitStatus(String workloadId) {
        try {
            return Optional.of(Integer.parseInt(Files.readString(dir(workloadId).resolve("exit.status")).strip()));
        } catch (IOException | NumberFormatException e) {
            return Optional.empty();
        }
    }

    /** TERM to the init (it forwards to the workload), then KILL for the whole namespace after the grace period. */
    public void stop(String workloadId, Duration grace) throws InterruptedException {
        Optional<Integer> pid = pid(workloadId);
        if (pid.isEmpty() || !ProcessTable.isAlive(pid.get())) {
            return;
        }
        ProcessTable.signal("TERM", List.of(pid.get()));
        long deadline = System.nanoTime() + grace.toNanos();
        while (ProcessTable.isAlive(pid.get()) && System.nanoTime() < deadline) {
            Thread.sleep(20);
        }
        ProcessTable.killNamespace(pid.get());
        while (ProcessTable.isAlive(pid.get())) {
            Thread.sleep(20);
        }
    }

    /** The workload left this node: its directory goes, so the agent stops reporting it. */
    public void remove(String workloadId) throws IOException {
        Files.deleteIfExists(identities.resolve(checkId(workloadId)));
        deleteTree(dir(workloadId));
        Files.deleteIfExists(declaredList(workloadId));
    }

    /** Ids of every workload directory on this node. */
    public List<String> ids() {
        List<String> ids = new ArrayList<>();
        if (!Files.isDirectory(root)) {
            return ids;
        }
        try (DirectoryStream<Path> dirs = Files.newDirectoryStream(root, Files::isDirectory)) {
            dirs.forEach(d -> ids.add(d.getFileName().toString()));
        } catch (IOException e) {
            return ids;
        }
        return ids;
    }

    /** The pid file (and its temporary) in a workload's directory: this node's bookkeeping, never carried along. */
    public static boolean isPidFile(Path relative) {
        return relative.toString().startsWith(PID_FILE);
    }

    public static void deleteTree(Path dir) throws IOException {
        if (!Files.exists(dir)) {
            return;
        }
        try (Stream<Path> walk = Files.walk(dir)) {
            for (Path p : walk.sorted(Comparator.reverseOrder()).toList()) {
                try {
                    Files.delete(p);
                } catch (NoSuchFileException ignored) {
                    // already gone
                }
            }
        }
    }
}
