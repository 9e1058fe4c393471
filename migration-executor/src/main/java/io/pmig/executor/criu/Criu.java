package io.pmig.executor.criu;

import io.pmig.executor.network.WorkloadNetwork;
import io.pmig.executor.workload.ProcessTable;
import io.pmig.executor.workload.ProcessTree;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.concurrent.TimeUnit;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * The criu binary and the exact command lines pmig runs (measured in CRIU-NOTES.md). Workloads live in their
 * own PID, mount, IPC and UTS namespaces under pmig-init, with the node's workload directory bind-mounted at
 * {@link #WORKLOAD_MOUNT}; dumps mark that mount external so a restore can bind the destination's directory, and
 * mark the mounts the namespace inherited from the node so a restore binds the destination node's ({@link HostMounts}).
 */
public final class Criu {

    /** Where every workload sees its directory inside its mount namespace, on every node. */
    public static final String WORKLOAD_MOUNT = "/var/lib/pmig/ns/workload";
    /** criu's key for the workload's directory mount; {@link WorkloadMounts} numbers the workload's own from it. */
    static final String EXTERNAL_KEY = "wl";
    /** criu's key for a workload's network namespace left out of a migration's images. */
    static final String EXTERNAL_NET_KEY = "wlnet";
    private static final Pattern NS_INODE = Pattern.compile("net:\\[(\\d+)\\]");
    private static final Duration TIMEOUT = Duration.ofMinutes(10);
    private static final Pattern VERSION = Pattern.compile("Version:\\s*(\\d+)\\.(\\d+)");
    private static final Pattern UUID = Pattern.compile(
            "[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}");
    private static final Logger log = LoggerFactory.getLogger(Criu.class);

    /** lazy-pages grows its pipes with F_SETPIPE_SZ up to this; below it criu fails with EPERM (no CAP_SYS_RESOURCE). */
    static final long LAZY_PIPE_BYTES = 4L << 20;
    private static final Path PIPE_MAX = Path.of("/proc/sys/fs/pipe-max-size");
    /** Where scripts/install-criu.sh installs the criu pmig is tested with. */
    public static final Path PROJECT_INSTALL = Path.of("/opt/pmig/criu/bin/criu");

    /** Default cap on the {@code --ghost-limit} of a dump: the biggest unlinked-but-open file a workload may carry. */
    public static final long DEFAULT_GHOST_LIMIT_CEILING = 1L << 30;

    private final Path binary;
    private final Path nft;
    private final Optional<String> lazyPagesProblem;
    private final String version;
    private final long ghostLimitCeiling;
    private final Optional<WorkloadNetwork> workloadNetwork;
    /** pmig-init, whose {@code --tcp-repair-off} takes a resumed tree's connections out of repair mode. */
    private final Path initBinary;
    /** Migration dumps leave a workload's own network namespace out: the destination has built one for it. */
    private final boolean namespaceBuiltByDestination;

    private Criu(Path binary, Path nft, Optional<String> lazyPagesProblem, String version, long ghostLimitCeiling,
                 Optional<WorkloadNetwork> workloadNetwork, Path initBinary) {
        this(binary, nft, lazyPagesProblem, version, ghostLimitCeiling, workloadNetwork, initBinary, false);
    }

    private Criu(Path binary, Path nft, Optional<String> lazyPagesProblem, String version, long ghostLimitCeiling,
                 Optional<WorkloadNetwork> workloadNetwork, Path initBinary, boolean namespaceBuiltByDestination) {
        this.namespaceBuiltByDestination = namespaceBuiltByDestination;
        this.workloadNetwork = workloadNetwork;
        this.initBinary = initBinary;
        this.binary = binary;
        this.version = version;
        this.nft = nft;
        this.lazyPagesProblem = lazyPagesProblem;
        this.ghostLimitCeiling = ghostLimitCeiling;
    }

    /**
     * This criu with another cap on the ghost limit of its dumps (see {@link GhostFiles#limit}); each copy of an
     * unlinked file goes into the images, so the cap bounds what one such file adds to a dump.
     */
    public Criu withGhostLimitCeiling(long bytes) {
        if (bytes < GhostFiles.CRIU_DEFAULT_LIMIT) {
            throw new IllegalArgumentException("the ghost limit ceiling must be at least criu's default of "
                    + GhostFiles.CRIU_DEFAULT_LIMIT + " bytes, got " + bytes);
        }
        return new Criu(binary, nft, lazyPagesProblem, version, bytes, workloadNetwork, initBinary);
    }

    /** This criu restoring workloads with their own network identity onto {@code network}'s bridge. */
    public Criu withWorkloadNetwork(WorkloadNetwork network) {
        return new Criu(binary, nft, lazyPagesProblem, version, ghostLimitCeiling, Optional.of(network), initBinary);
    }

    /** This criu resuming stopped trees' connections with {@code pmigInit --tcp-repair-off} ({@link #resumeDumped}). */
    public Criu withInitBinary(Path pmigInit) {
        return new Criu(binary, nft, lazyPagesProblem, version, ghostLimitCeiling, workloadNetwork, pmigInit);
    }

    /**
     * This criu, whose migration dumps ({@link #dumpLeavingStopped}, {@link #startLazyDump}) leave the workload's own
     * network namespace out of the images ({@code --external net[...]}): the destination has built an equal one, which
     * its restore joins (NETWORK-IDENTITY.md). Periodic checkpoints still carry the namespace.
     */
    public Criu withNamespaceBuiltByDestination() {
        return new Criu(binary, nft, lazyPagesProblem, version, ghostLimitCeiling, workloadNetwork, initBinary, true);
    }

    /** The nft binary pmig deletes lock tables with (beside criu, else on PATH), if there is one. */
    public Optional<Path> nft() {
        return Optional.ofNullable(nft);
    }

    /** Where workloads with their own network identity attach on this node; empty: it cannot host them. */
    public Optional<WorkloadNetwork> workloadNetwork() {
        return workloadNetwork;
    }

    public long ghostLimitCeiling() {
        return ghostLimitCeiling;
    }

    /**
     * The criu to use and a proof that it works here: version >= 4.2 (older ones fail on this kernel or cannot
     * dump sockets, see FACTS.md) and a passing {@code criu check}. {@code nft} is looked up beside it (the
     * private install puts it there) or on PATH; it is needed only to remove leftover lock tables. A host setting LAZY
     * needs is left as it is (LAZY then unavailable, with the reason); see {@link #verified(Path, boolean)}.
     */
    public static Criu verified(Path binary) throws CriuException {
        return verified(binary, false);
    }

    /**
     * {@link #verified(Path)}; with {@code tuneHost} it also raises {@code fs.pipe-max-size} to what LAZY needs when
     * it is lower, and gives criu a cache of its kernel probes where it keeps none itself ({@link KerndatCache}): both
     * host-wide, so only when asked - {@code --tune-host}, or one-machine tools like the demo.
     */
    public static Criu verified(Path binary, boolean tuneHost) throws CriuException {
        Path resolved = resolveExecutable(binary)
                .orElseThrow(() -> new CriuException(binary + " is not an executable file or a command on PATH"));
        String versionOut = run(List.of(resolved.toString(), "--version"), Duration.ofSeconds(30)).output();
        Matcher m = VERSION.matcher(versionOut);
        if (!m.find()) {
            throw new CriuException(resolved + " --version printed no version: " + versionOut.strip());
        }
        int major = Integer.parseInt(m.group(1));
        int minor = Integer.parseInt(m.group(2));
        if (major < 4 || (major == 4 && minor < 2)) {
            throw new CriuException(resolved + " is criu " + major + "." + minor
                    + "; pmig needs >= 4.2 (older versions fail on this kernel or cannot dump sockets; run scripts/install-criu.sh)");
        }
        KerndatCache.settle(resolved, tuneHost);
        Result check = run(List.of(resolved.toString(), "check"), Duration.ofSeconds(60));
        if (check.exitCode() != 0) {
            throw new CriuException("'" + resolved + " check' failed: " + lastLines(check.output(), 5));
        }
        Path nft = resolved.resolveSibling("nft");
        if (!Files.isExecutable(nft)) {
            nft = resolveExecutable(Path.of("nft")).orElse(null);
        }
        return new Criu(resolved, nft, pipeMaxSizeProblem(tuneHost), major + "." + minor, DEFAULT_GHOST_LIMIT_CEILING,
                Optional.empty(), null);
    }

    /**
     * LAZY mode needs {@code fs.pipe-max-size} >= 4 MiB (scripts/install-criu.sh sets it). Why LAZY cannot work here,
     * else empty; with {@code tuneHost} a lower setting is raised first.
     */
    static Optional<String> pipeMaxSizeProblem(boolean tuneHost) {
        long current;
        try {
            current = Long.parseLong(readSysctl(PIPE_MAX));
        } catch (IOException | NumberFormatException e) {
            return Optional.of("cannot read " + PIPE_MAX + ": " + e.getMessage());
        }
        if (current >= LAZY_PIPE_BYTES) {
            return Optional.empty();
        }
        if (!tuneHost) {
            String problem = pipeMaxSizeTooSmall(current);
            log.warn("LAZY mode unavailable: {}", problem);
            return Optional.of(problem);
        }
        try {
            Files.writeString(PIPE_MAX, String.valueOf(LAZY_PIPE_BYTES));
            log.info("raised fs.pipe-max-size from {} to {} for criu lazy-pages", current, LAZY_PIPE_BYTES);
            return Optional.empty();
        } catch (IOException e) {
            return Optional.of("fs.pipe-max-size is " + current + " (lazy-pages needs >= " + LAZY_PIPE_BYTES
                    + ") and cannot be raised: " + e.getMessage() + "; run 'sysctl -w fs.pipe-max-size=" + LAZY_PIPE_BYTES
                    + "' or scripts/install-criu.sh");
        }
    }

    /**
     * A sysctl's value in one read from offset 0: the kernel answers an integer sysctl read at a later offset with
     * end-of-file, and Files.readString reads a size-0 /proc file one byte first - so it saw "4" for 4194304 and
     * "raised" a setting that was already right.
     */
    static String readSysctl(Path file) throws IOException {
        try (java.io.InputStream in = Files.newInputStream(file)) {
            return new String(in.readNBytes(4096), java.nio.charset.StandardCharsets.US_ASCII).strip();
        }
    }

    static String pipeMaxSizeTooSmall(long current) {
        return "fs.pipe-max-size is " + current + ", criu lazy-pages needs >= " + LAZY_PIPE_BYTES + ": run 'sysctl -w"
                + " fs.pipe-max-size=" + LAZY_PIPE_BYTES + "' (scripts/install-criu.sh does), or start the executor with"
                + " --tune-host to let it raise the setting";
    }

    /** Why LAZY migrations cannot run on this node, or empty if they can. */
    public Optional<String> lazyPagesProblem() {
        return lazyPagesProblem;
    }

    /** major.minor of this criu: images from a newer criu may not restore with an older one. */
    public String version() {
        return version;
    }

    /** True if images dumped by criu {@code other} (major.minor) can be restored by this one: it is not older. */
    public boolean restoresImagesOf(String other) {
        String[] mine = version.split("\\.");
        String[] theirs = other.split("\\.");
        int byMajor = Integer.compare(Integer.parseInt(mine[0]), Integer.parseInt(theirs[0]));
        return byMajor != 0 ? byMajor > 0 : Integer.parseInt(mine[1]) >= Integer.parseInt(theirs[1]);
    }

    public Path binary() {
        return binary;
    }

    /**
     * Checkpoints the tree under {@code initPid} into {@code imagesDir}; the tree is killed when it succeeds. With
     * a page server, memory pages go straight to it and only the small non-page images stay in imagesDir.
     */
    public void dump(int initPid, Path imagesDir, PageServerAddress pageServer) throws CriuException {
        List<String> cmd = dumpCommand(initPid, imagesDir, carriedMounts(initPid, imagesDir),
                nodeMounts(initPid, imagesDir), Optional.empty(), false);
        if (pageServer != null) {
            cmd.addAll(List.of("--page-server", "--address", pageServer.host(), "--port", String.valueOf(pageServer.port())));
        }
        runLogged(cmd, imagesDir.resolve("dump.log"), "dump");
    }

    /**
     * Checkpoints the tree under {@code initPid} into {@code imagesDir} and leaves every task stopped (not killed):
     * the caller copies the workload's files while nothing can change them, then resumes the tree with SIGCONT and
     * deletes the network-lock table, which criu keeps locked for a stopped tree.
     */
    public void checkpoint(int initPid, Path imagesDir) throws CriuException {
        dumpLeavingStopped(initPid, imagesDir, null, List.of(), false);
    }

    /**
     * A migration's dump: the tree is left stopped in place, its network locked, so that until the destination
     * commits the source still holds the workload - a rollback is a SIGCONT, a commit a SIGKILL. With a page
     * server, memory goes straight to it over TLS ({@code tls}: {@link TlsIdentity#criuOptions}) and only the small
     * non-page images stay in imagesDir. The address of a workload with its own network namespace is withdrawn before
     * this returns.
     */
    public void dumpLeavingStopped(int initPid, Path imagesDir, PageServerAddress pageServer, List<String> tls)
            throws CriuException {
        DumpPlan plan = planDump(initPid, imagesDir, true);
        dumpLeavingStopped(plan, pageServer, tls);
        withdrawAddress(plan.hostSide);
    }

    /**
     * What a dump of {@code initPid} into {@code imagesDir} is told, read while the workload still runs: the mounts
     * criu must mark, the ghost limit, the host side of its veth. A migration reads it before the freeze, so that none
     * of it counts as downtime; the dump checks once the tree is frozen that the mounts did not change meanwhile
     * ({@link #mountsChanged}). {@code migrating}: a migration's dump (its address withdrawn, its namespace left out
     * where the destination built one), not a periodic checkpoint.
     */
    public DumpPlan planDump(int initPid, Path imagesDir, boolean migrating) throws CriuException {
        WorkloadMounts mounts = carriedMounts(initPid, imagesDir);
        HostMounts nodeMounts = nodeMounts(initPid, imagesDir);
        List<Integer> stoppedBefore = ProcessTree.pids(initPid).stream().filter(p -> ProcessTable.state(p) == 'T').toList();
        Optional<EmptyShm> emptyShm = EmptyShm.of(initPid);
        List<String> cmd = dumpCommand(initPid, imagesDir, mounts, nodeMounts, emptyShm, migrating);
        cmd.add("--leave-stopped");
        Optional<String> hostSide = migrating ? WorkloadNetwork.hostSideOf(initPid) : Optional.empty();
        return new DumpPlan(initPid, imagesDir, mounts, nodeMounts, emptyShm, List.copyOf(cmd), stoppedBefore, hostSide);
    }

    /** A dump's command line and what it was told, from {@link #planDump}. */
    public static final class DumpPlan {
        private final int initPid;
        private final Path imagesDir;
        private final WorkloadMounts mounts;
        private final HostMounts nodeMounts;
        private final Optional<EmptyShm> emptyShm;
        private final List<String> command;
        private final List<Integer> stoppedBefore;
        private final Optional<String> hostSide;

        private DumpPlan(int initPid, Path imagesDir, WorkloadMounts mounts, HostMounts nodeMounts,
                         Optional<EmptyShm> emptyShm, List<String> command, List<Integer> stoppedBefore,
                         Optional<String> hostSide) {
            this.initPid = initPid;
            this.emptyShm = emptyShm;
            this.imagesDir = imagesDir;
            this.mounts = mounts;
            this.nodeMounts = nodeMounts;
            this.command = command;
            this.stoppedBefore = stoppedBefore;
            this.hostSide = hostSide;
        }

        public int initPid() {
            return initPid;
        }
    }

    /**
     * Runs a planned dump, leaving the tree stopped and its network locked ({@link #dumpLeavingStopped(int, Path,
     * PageServerAddress, List)}); the address stays on this node until {@link #withdrawAddress(DumpPlan)}.
     */
    public void dumpLeavingStopped(DumpPlan plan, PageServerAddress pageServer, List<String> tls) throws CriuException {
        List<String> cmd = new ArrayList<>(plan.command);
        if (pageServer != null) {
            cmd.addAll(List.of("--page-server", "--address", pageServer.host(), "--port", String.valueOf(pageServer.port())));
            cmd.addAll(tls);
        }
        runLogged(cmd, plan.imagesDir.resolve("dump.log"), "dump");
        Optional<String> changed = mountsChanged(plan);
        if (changed.isPresent()) {
            // as after criu's own failures: the tree runs again, unlocked, and what was stopped stays stopped
            resumeDumped(plan.imagesDir, plan.initPid, ProcessTable.namespaceMembers(plan.initPid).stream()
                    .filter(p -> !plan.stoppedBefore.contains(p)).toList());
            throw new CriuException(changed.get());
        }
    }

    /** {@code migrating}: the dump takes the address of a workload with its own network namespace off this node. */
    private void dumpLeavingStopped(int initPid, Path imagesDir, PageServerAddress pageServer, List<String> tls,
                                    boolean migrating) throws CriuException {
        DumpPlan plan = planDump(initPid, imagesDir, migrating);
        dumpLeavingStopped(plan, pageServer, tls);
        if (migrating) {
            withdrawAddress(plan.hostSide);
        }
    }

    /**
     * Takes the address of a dumped workload with its own network namespace off this node: before its destination
     * announces it, not before (the frozen kernel answers ARP for it meanwhile: CheckpointStrategy#withdrawAddress).
     */
    public void withdrawAddress(DumpPlan plan) {
        withdrawAddress(plan.hostSide);
    }

    /**
     * A workload with its own network namespace: its frozen kernel would go on answering ARP for the address the
     * copy is about to announce, so the host side of its veth ({@code hostSide}, looked up before the freeze) goes
     * down until a rollback brings it up again.
     */
    private static void withdrawAddress(Optional<String> hostSide) {
        hostSide.ifPresent(WorkloadNetwork::withdraw);
    }

    /**
     * The namespaces of the init (PID, mount, IPC, UTS: see pmig-init) need no option: criu dumps every namespace of
     * the root task that differs from its own, and a restore recreates them. The workload's directory and the mounts
     * it made of it are external: a restore binds them from the destination's directory ({@link WorkloadMounts}). So
     * are the mounts its namespace inherited from the node: a restore binds the destination node's ({@link HostMounts}).
     * An own network namespace is dumped by criu, veth included, unless a migration's destination built it
     * ({@link #withNamespaceBuiltByDestination}).
     */
    private List<String> dumpCommand(int initPid, Path imagesDir, WorkloadMounts mounts, HostMounts nodeMounts,
                                     Optional<EmptyShm> emptyShm, boolean migrating) throws CriuException {
        Optional<String> externalNet = migrating && namespaceBuiltByDestination
                ? networkNamespaceInode(initPid) : Optional.empty();
        try {
            WorkloadNetwork.recordDump(initPid, imagesDir, externalNet.isPresent());
        } catch (IOException e) {
            throw new CriuException("cannot record the network of " + initPid + " in " + imagesDir + ": " + e.getMessage(), e);
        }
        try {
            if (emptyShm.isPresent()) {
                emptyShm.get().record(imagesDir);
            } else {
                EmptyShm.forget(imagesDir);
            }
        } catch (IOException e) {
            throw new CriuException("cannot record the /dev/shm of " + initPid + " in " + imagesDir + ": " + e.getMessage(), e);
        }
        long ghostLimit = GhostFiles.limit(GhostFiles.largest(initPid), ghostLimitCeiling);
        List<String> cmd = new ArrayList<>(List.of(binary.toString(), "dump", "-t", String.valueOf(initPid),
                "-D", imagesDir.toString(), "-o", "dump.log",
                "--tcp-established", "--file-locks", "--network-lock", "nftables",
                "--ghost-limit", String.valueOf(ghostLimit),
                "--external", "mnt[" + WORKLOAD_MOUNT + "]:" + EXTERNAL_KEY));
        cmd.addAll(mounts.dumpOptions());
        cmd.addAll(nodeMounts.dumpOptions());
        emptyShm.ifPresent(shm -> cmd.addAll(shm.dumpOptions()));
        externalNet.ifPresent(inode -> cmd.addAll(List.of("--external", "net[" + inode + "]:" + EXTERNAL_NET_KEY)));
        return cmd;
    }

    /** The inode of the network namespace of {@code initPid} when it is not the executor's ({@code net:[N]}). */
    private static Optional<String> networkNamespaceInode(int initPid) {
        if (!WorkloadNetwork.hasOwnNamespace(initPid)) {
            return Optional.empty();
        }
        try {
            Matcher m = NS_INODE.matcher(Files.readSymbolicLink(Path.of("/proc", String.valueOf(initPid), "ns", "net")).toString());
            return m.matches() ? Optional.of(m.group(1)) : Optional.empty();
        } catch (IOException e) {
            return Optional.empty();
        }
    }

    /** The workload's mounts of its own directory, recorded beside the images; refused if criu cannot carry them. */
    private static WorkloadMounts carriedMounts(int initPid, Path imagesDir) throws CriuException {
        WorkloadMounts mounts = WorkloadMounts.of(initPid);
        if (!mounts.problems().isEmpty()) {
            throw new CriuException("criu cannot carry the workload's mounts: " + String.join("; ", mounts.problems()));
        }
        try {
            mounts.record(imagesDir);
        } catch (IOException e) {
            throw new CriuException("cannot record the workload's mounts in " + imagesDir + ": " + e.getMessage(), e);
        }
        return mounts;
    }

    /**
     * The mounts the workload's namespace inherited from the node, recorded beside the images; the ones left unmarked
     * (criu copies them as before) are logged.
     */
    private static HostMounts nodeMounts(int initPid, Path imagesDir) throws CriuException {
        HostMounts mounts = HostMounts.of(initPid);
        if (!mounts.unmarked().isEmpty()) {
            log.info("workload with init {}: its checkpoint copies these mounts of the node as before: {}", initPid,
                    String.join("; ", mounts.unmarked()));
        }
        try {
            mounts.record(imagesDir);
        } catch (IOException e) {
            throw new CriuException("cannot record the node's mounts in " + imagesDir + ": " + e.getMessage(), e);
        }
        return mounts;
    }

    /**
     * Why the images may not match the mounts the dump was told about: a mount made or removed between reading them
     * and criu's freeze. Asked while the tree is still frozen, so the table read now is the one criu dumped.
     */
    private static Optional<String> mountsChanged(DumpPlan plan) {
        WorkloadMounts now = WorkloadMounts.of(plan.initPid);
        if (!now.sameAs(plan.mounts)) {
            return Optional.of("the workload changed its mounts while criu dumped it (before: " + plan.mounts + ", frozen: "
                    + now + "); it runs again, nothing was moved");
        }
        Optional<String> nodeMountsChanged = plan.nodeMounts.changedIn(plan.initPid);
        if (nodeMountsChanged.isPresent()) {
            return nodeMountsChanged.map(why -> why + "; it runs again, nothing was moved");
        }
        // the images do not carry /dev/shm: what the workload put there since it was read would be lost
        return plan.emptyShm.flatMap(shm -> shm.filledIn(plan.initPid)).map(what -> "the workload put " + what
                + " while criu dumped it, whose images leave its empty /dev/shm out; it runs again, nothing was moved");
    }

    /**
     * Post-copy dump of a planned migration dump ({@link #planDump}): writes every image but the lazy memory pages into
     * its directory and returns once they are complete
     * (the tree stays frozen). criu then serves the pages at {@code serveAt} over TLS until the destination's
     * lazy-pages daemon has fetched them all and exits 0, leaving the tree stopped in place (as
     * {@link #dumpLeavingStopped}): the source keeps the workload until it is told the destination committed.
     * Terminating it early leaves the tree stopped too, its network locked and its connections in repair mode: resume it
     * with {@link #resumeDumped}. The address stays on this node until {@link #withdrawAddress(DumpPlan)}.
     */
    public BackgroundCriu startLazyDump(DumpPlan plan, PageServerAddress serveAt, List<String> tls, Duration readyTimeout)
            throws CriuException {
        int initPid = plan.initPid;
        List<String> cmd = new ArrayList<>(plan.command);
        cmd.addAll(List.of("--lazy-pages", "--address", serveAt.host(), "--port", String.valueOf(serveAt.port()),
                "--status-fd", "3"));
        cmd.addAll(tls);
        BackgroundCriu dump = startBackground(cmd, plan.imagesDir, "lazy-dump", plan.imagesDir.resolve("dump.log"), readyTimeout);
        // A lazy dump that ends early (the destination's lazy-pages daemon gone, or stopped by a rollback) lets the tree
        // run with its TCP sockets still in repair mode, where every read and write fails: a workload touching one then
        // drops that client, which gets a reset once the lock is gone. A SIGSTOP queued now, while criu holds the tree
        // (its images already written), takes effect when criu lets go, and the tree waits for resumeDumped instead.
        if (!ProcessTable.signal("STOP", ProcessTable.namespaceMembers(initPid))) {
            log.warn("SIGSTOP did not reach every task of {}: an early end of its lazy dump may cost connections", initPid);
        }
        Optional<String> changed = mountsChanged(plan);
        if (changed.isPresent()) {
            try {
                dump.stop(); // the tree stays stopped, its lock table in place, for the caller's rollback
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
            }
            throw new CriuException(changed.get());
        }
        return dump;
    }

    /**
     * Destination side of post-copy: the lazy-pages daemon that fetches pages from the source's lazy dump at
     * {@code source} (over TLS) into the restored tasks (on fault, and in the background). It exits 0 once every
     * page is here.
     */
    public BackgroundCriu startLazyPages(Path imagesDir, PageServerAddress source, List<String> tls, Duration readyTimeout)
            throws CriuException {
        List<String> cmd = new ArrayList<>(List.of(binary.toString(), "lazy-pages", "--page-server", "--address", source.host(),
                "--port", String.valueOf(source.port()), "-D", imagesDir.toString(), "-o", "lazy-pages.log",
                "--status-fd", "3"));
        cmd.addAll(tls);
        return startBackground(cmd, imagesDir, "lazy-pages", imagesDir.resolve("lazy-pages.log"), readyTimeout);
    }

    /** Runs cmd in the background and waits for its "ready" byte on fd 3; see {@link BackgroundCriu}. */
    private static BackgroundCriu startBackground(List<String> cmd, Path dir, String name, Path logFile,
                                                  Duration readyTimeout) throws CriuException {
        Path status = dir.resolve(name + ".status");
        try {
            Files.createDirectories(dir);
            for (String suffix : List.of(".status", ".pid", ".rc")) {
                Files.deleteIfExists(dir.resolve(name + suffix));
            }
            Files.createFile(status);
        } catch (IOException e) {
            throw new CriuException("cannot prepare " + dir + ": " + e.getMessage(), e);
        }
        List<String> shell = new ArrayList<>(List.of("sh", "-c",
                "\"$0\" \"$@\" 3>>\"$PMIG_DIR/$PMIG_NAME.status\" </dev/null & echo $! > \"$PMIG_DIR/$PMIG_NAME.pid\"; "
                        + "wait $!; rc=$?; echo $rc > \"$PMIG_DIR/$PMIG_NAME.rc.tmp\"; "
                        + "mv \"$PMIG_DIR/$PMIG_NAME.rc.tmp\" \"$PMIG_DIR/$PMIG_NAME.rc\"; exit $rc"));
        shell.addAll(cmd);
        ProcessBuilder pb = new ProcessBuilder(shell).redirectErrorStream(true)
                .redirectOutput(dir.resolve(name + ".out").toFile());
        pb.environment().put("PMIG_DIR", dir.toString());
        pb.environment().put("PMIG_NAME", name);
        Process process;
        try {
            process = pb.start();
        } catch (IOException e) {
            throw new CriuException("cannot start criu " + cmd.get(1) + ": " + e.getMessage(), e);
        }
        BackgroundCriu criu = new BackgroundCriu(process, dir, name, logFile);
        long deadline = System.nanoTime() + readyTimeout.toNanos();
        try {
            while (Files.size(status) == 0) {
                if (!process.isAlive()) {
                    throw new CriuException("criu " + cmd.get(1) + " exited with " + process.exitValue() + ": "
                            + errorLines(logFile));
                }
                if (System.nanoTime() > deadline) {
                    criu.kill();
                    throw new CriuException("criu " + cmd.get(1) + " not ready within " + readyTimeout + ": "
                            + errorLines(logFile));
                }
                Thread.sleep(5);
            }
        } catch (IOException e) {
            criu.kill();
            throw new CriuException("cannot read the status of criu " + cmd.get(1) + ": " + e.getMessage(), e);
        } catch (InterruptedException e) {
            criu.kill();
            Thread.currentThread().interrupt();
            throw new CriuException("interrupted while starting criu " + cmd.get(1), e);
        }
        return criu;
    }

    /**
     * Restores the images into a fresh PID namespace with {@code workloadDir} bound at the workload mount and this
     * node's mounts bound where the images had the source node's ({@link HostMounts}; refused before criu runs if this
     * node lacks one), and returns the restored init's host pid. {@code leaveStopped} keeps every task stopped
     * (SIGCONT resumes them) so a destination can hold the copy until the source commits.
     */
    public int restore(Path imagesDir, Path workloadDir, boolean leaveStopped, String logName) throws CriuException {
        return restore(imagesDir, workloadDir, leaveStopped, false, logName);
    }

    /** As above; {@code lazyPages} restores without memory, served by a running {@link #startLazyPages} daemon. */
    public int restore(Path imagesDir, Path workloadDir, boolean leaveStopped, boolean lazyPages, String logName)
            throws CriuException {
        return restore(imagesDir, workloadDir, leaveStopped, lazyPages, logName, null);
    }

    /**
     * As above; {@code prepared}, when the images left the workload's network namespace out, is the one built for it
     * beforehand ({@link WorkloadNetwork#prepareForRestore}; else one is built now from what the images recorded). The
     * restore joins it, and ends its holder whatever happens: discarded (veth deleted) when the restore fails.
     */
    public int restore(Path imagesDir, Path workloadDir, boolean leaveStopped, boolean lazyPages, String logName,
                       WorkloadNetwork.Prepared prepared) throws CriuException {
        try {
            return restoreInto(imagesDir, workloadDir, leaveStopped, lazyPages, logName, prepared);
        } finally {
            if (prepared != null) {
                prepared.discard(); // unless the restored workload has it
            }
        }
    }

    private int restoreInto(Path imagesDir, Path workloadDir, boolean leaveStopped, boolean lazyPages, String logName,
                            WorkloadNetwork.Prepared prepared) throws CriuException {
        List<String> nodeMounts = HostMounts.restoreOptions(imagesDir);
        boolean ownNetwork = WorkloadNetwork.dumpedOwnNamespace(imagesDir);
        String workloadId = workloadDir.getFileName().toString();
        if (ownNetwork) {
            if (workloadNetwork.isEmpty()) {
                throw new CriuException("this node cannot host workload addresses (no executor.workload.bridge), and the"
                        + " workload in " + imagesDir + " has its own network identity");
            }
            Optional<String> problem = workloadNetwork.get().problem();
            if (problem.isPresent()) {
                throw new CriuException("the workload has its own network identity and " + problem.get());
            }
        }
        Optional<Map.Entry<String, String>> external;
        try {
            external = WorkloadNetwork.dumpedNamespaceExternal(imagesDir);
        } catch (IOException e) {
            throw new CriuException("cannot read the network of the workload in " + imagesDir + ": " + e.getMessage(), e);
        }
        if (external.isEmpty() && prepared != null) {
            prepared.discard(); // criu makes the namespace from the images
            prepared = null;
        }
        Path pidFile = imagesDir.resolve("restored.pid");
        try {
            Files.deleteIfExists(pidFile);
            // mountpoints of the workload's mount namespace must exist in this node's root: a node that never launched
            // a workload (a fresh node container) may lack them, and criu fails with "mnt-v2: Can't stat mountpoint
            // .../workload" (or ".../mqueue": pmig-init mounts one on /dev/mqueue, which not every host has)
            for (String mountpoint : List.of(WORKLOAD_MOUNT, "/dev/shm", "/dev/mqueue")) {
                Files.createDirectories(Path.of(mountpoint));
            }
            if (external.isPresent() && prepared == null) {
                // not built beforehand (a restore outside a migration's destination): built now, inside the downtime
                WorkloadNetwork.Prepared builtNow = workloadNetwork.get().prepareForRestore(workloadId,
                        external.get().getKey(), external.get().getValue(), TIMEOUT);
                try {
                    return restoreInto(imagesDir, workloadDir, leaveStopped, lazyPages, logName, builtNow);
                } finally {
                    builtNow.discard();
                }
            }
        } catch (IOException e) {
            throw new CriuException("cannot prepare the restore of " + imagesDir + ": " + e.getMessage(), e);
        }
        List<String> cmd = new ArrayList<>();
        if (external.isPresent()) {
            // criu joins the namespace built for the workload through an inherited descriptor
            cmd.addAll(List.of("sh", "-c", "exec \"$0\" \"$@\" 3<" + prepared.namespace()));
        }
        cmd.addAll(List.of(binary.toString(), "restore", "-D", imagesDir.toString(),
                "-o", logName, "--tcp-established", "--file-locks", "--root", "/", "-d",
                "--pidfile", pidFile.toString(),
                "--external", "mnt[" + EXTERNAL_KEY + "]:" + workloadDir));
        cmd.addAll(WorkloadMounts.restoreOptions(imagesDir, workloadDir));
        cmd.addAll(nodeMounts);
        if (leaveStopped) {
            cmd.add("--leave-stopped");
        }
        if (lazyPages) {
            cmd.add("--lazy-pages");
        }
        if (external.isPresent()) {
            cmd.addAll(List.of("--inherit-fd", "fd[3]:" + EXTERNAL_NET_KEY));
        } else if (ownNetwork) {
            String host = workloadNetwork.get().hostSide(workloadId);
            WorkloadNetwork.delete(host); // left by a copy that died here: criu would fail on it ("File exists")
            cmd.addAll(workloadNetwork.get().restoreOptions(workloadId));
        }
        Optional<EmptyShm.Fresh> freshShm = EmptyShm.mountFor(imagesDir);
        freshShm.ifPresent(shm -> cmd.addAll(shm.restoreOptions()));
        try {
            runLogged(cmd, imagesDir.resolve(logName), "restore");
        } finally {
            freshShm.ifPresent(EmptyShm.Fresh::close);
        }
        if (prepared != null) {
            prepared.handOver(); // the restored tasks keep the namespace from now on
        }
        int pid;
        try {
            pid = Integer.parseInt(Files.readString(pidFile).strip());
        } catch (IOException | NumberFormatException e) {
            throw new CriuException("criu restore succeeded but wrote no readable pid to " + pidFile, e);
        }
        if (ownNetwork) {
            try {
                // before anything resumes: clients' next packets find the new port
                workloadNetwork.get().attach(workloadId, pid, external.map(Map.Entry::getValue));
            } catch (IOException e) {
                ProcessTable.killNamespace(pid);
                ProcessTable.awaitGone(pid, Duration.ofSeconds(10));
                throw new CriuException("restored, but cannot plug the workload into " + workloadNetwork.get().bridge()
                        + ": " + e.getMessage(), e);
            }
        }
        return pid;
    }

    /**
     * Starts {@code criu page-server} receiving into imagesDir and waits until it listens (criu writes one byte to
     * its status fd). It accepts one dump and exits by itself. With {@code tls} it accepts only the peer whose
     * certificate it was given; callers also bind it to the node's own transfer host and open it only after the
     * source authenticated itself for this migration.
     */
    public PageServer startPageServer(Path imagesDir, PageServerAddress address, List<String> tls, Duration readyTimeout)
            throws CriuException {
        Path status = imagesDir.resolve("page-server.status");
        try {
            Files.createDirectories(imagesDir);
            Files.deleteIfExists(status);
            Files.createFile(status);
        } catch (IOException e) {
            throw new CriuException("cannot prepare " + imagesDir + ": " + e.getMessage(), e);
        }
        List<String> cmd = new ArrayList<>(List.of("sh", "-c", "exec \"$0\" \"$@\" 3>>\"$PMIG_STATUS\"", binary.toString(),
                "page-server", "-D", imagesDir.toString(), "--address", address.host(),
                "--port", String.valueOf(address.port()), "-o", "page-server.log", "--status-fd", "3"));
        cmd.addAll(tls);
        ProcessBuilder pb = new ProcessBuilder(cmd).redirectErrorStream(true)
                .redirectOutput(imagesDir.resolve("page-server.out").toFile());
        pb.environment().put("PMIG_STATUS", status.toString());
        if (!tls.isEmpty()) {
            // criu 4.2.1 never frees the GnuTLS packet of each record it receives (tls_recv_data_to_fd): the page
            // server's heap grows by the whole image, every 4 KiB page of it faulted in (820 MiB resident for 1 GiB,
            // 7 MiB without TLS). Transparent huge pages for its heap fault it in 2 MiB at a time (CRIU-NOTES.md).
            pb.environment().put("GLIBC_TUNABLES", "glibc.malloc.hugetlb=1");
        }
        Process process;
        try {
            process = pb.start();
        } catch (IOException e) {
            throw new CriuException("cannot start criu page-server: " + e.getMessage(), e);
        }
        long deadline = System.nanoTime() + readyTimeout.toNanos();
        try {
            while (Files.size(status) == 0) {
                if (!process.isAlive()) {
                    throw new CriuException("criu page-server exited with " + process.exitValue() + ": "
                            + errorLines(imagesDir.resolve("page-server.log")));
                }
                if (System.nanoTime() > deadline) {
                    process.destroyForcibly();
                    throw new CriuException("criu page-server not ready within " + readyTimeout);
                }
                Thread.sleep(10);
            }
        } catch (IOException e) {
            process.destroyForcibly();
            throw new CriuException("cannot read page-server status: " + e.getMessage(), e);
        } catch (InterruptedException e) {
            process.destroyForcibly();
            Thread.currentThread().interrupt();
            throw new CriuException("interrupted while starting the page server", e);
        }
        return new PageServer(process, imagesDir.resolve("page-server.log"));
    }

    /** The name of the nftables table a dump's network lock lives in: {@code CRIU-<first 21 chars of the dump uuid>}. */
    public static Optional<String> lockTable(Path imagesDir) {
        try {
            String inventory = new String(Files.readAllBytes(imagesDir.resolve("inventory.img")), StandardCharsets.ISO_8859_1);
            Matcher m = UUID.matcher(inventory);
            return m.find() ? Optional.of("CRIU-" + m.group().substring(0, 21)) : Optional.empty();
        } catch (IOException e) {
            return Optional.empty();
        }
    }

    /**
     * Deletes a network-lock table a failed restore or an abandoned dump left behind. Never call this before a
     * pending rollback on a node that shares the network namespace: an unlocked dead 4-tuple makes the kernel
     * reset the peer (CRIU-NOTES).
     */
    public void deleteLockTable(String table) {
        deleteLockTable(table, 0);
    }

    /**
     * Lets a tree a {@code --leave-stopped} dump left run again (a rollback, after a periodic checkpoint): criu leaves
     * its network locked and its TCP connections in repair mode, where every send fails (criu undoes both itself
     * only for a tree it lets run). The lock goes first, then repair mode (which sends a window probe), then
     * SIGCONT to {@code members} (host pids; tasks that were stopped before the dump stay stopped). Returns false if a
     * signal did not reach every member.
     */
    public boolean resumeDumped(Path imagesDir, int initPid, List<Integer> members) {
        unlock(imagesDir, initPid);
        if (initBinary == null) {
            log.warn("no pmig-init to take the connections of {} out of repair mode: they will fail", initPid);
        } else {
            List<String> cmd = new ArrayList<>(List.of(initBinary.toString(), "--tcp-repair-off"));
            // every task's sockets: one that stays stopped holds connections the others share or need
            ProcessTable.namespaceMembers(initPid).forEach(p -> cmd.add(String.valueOf(p)));
            try {
                Result result = run(cmd, Duration.ofSeconds(30));
                if (result.exitCode() != 0) {
                    log.warn("pmig-init --tcp-repair-off {}: exit {}: {}", members, result.exitCode(), result.output().strip());
                } else if (!result.output().strip().equals("0")) {
                    log.info("{} connection(s) of {} out of repair mode", result.output().strip(), initPid);
                }
            } catch (CriuException e) {
                log.warn("cannot take the connections of {} out of repair mode: {}", initPid, e.getMessage());
            }
        }
        return ProcessTable.signal("CONT", members);
    }

    /** The lock table {@code imagesDir}'s dump made, if any, deleted where it is ({@link #deleteLockTable(String, int)}). */
    public void unlock(Path imagesDir, int initPid) {
        lockTable(imagesDir).ifPresent(t -> deleteLockTable(t, initPid));
    }

    /**
     * As {@link #deleteLockTable(String)}, where criu put it: a dump of a tree with its own network namespace locks
     * that namespace (the table is inside it), any other the node's. {@code initPid} 0: the node's.
     */
    public void deleteLockTable(String table, int initPid) {
        if (nft == null) {
            log.warn("cannot delete nft table inet {}: no nft binary beside {} or on PATH", table, binary);
            return;
        }
        try {
            Result list = run(WorkloadNetwork.inNamespaceOf(initPid, List.of(nft.toString(), "list", "tables")),
                    Duration.ofSeconds(30));
            if (!list.output().contains("inet " + table)) {
                return;
            }
            Result del = run(WorkloadNetwork.inNamespaceOf(initPid, List.of(nft.toString(), "delete", "table", "inet", table)),
                    Duration.ofSeconds(30));
            if (del.exitCode() == 0) {
                log.info("deleted leftover criu network-lock table inet {}", table);
            } else {
                log.warn("cannot delete nft table inet {}: {}", table, del.output().strip());
            }
        } catch (CriuException e) {
            log.warn("cannot delete nft table inet {}: {}", table, e.getMessage());
        }
    }

    /** The criu error lines of a log file (criu writes "Error (...)" lines), for messages and events. */
    public static String errorLines(Path logFile) {
        try {
            List<String> errors = Files.readAllLines(logFile, StandardCharsets.ISO_8859_1).stream()
                    .filter(l -> l.contains("Error") && !l.contains("RLIMIT_NOFILE"))
                    .toList();
            List<String> tail = errors.subList(Math.max(0, errors.size() - 4), errors.size());
            return tail.isEmpty() ? "(no error lines in " + logFile + ")" : String.join(" | ", tail).strip();
        } catch (IOException e) {
            return "(no log " + logFile + ")";
        }
    }

    private void runLogged(List<String> cmd, Path logFile, String what) throws CriuException {
        Path out = logFile.resolveSibling(logFile.getFileName() + ".out");
        Result r = run(cmd, TIMEOUT, out);
        if (r.exitCode() != 0) {
            throw new CriuException("criu " + what + " failed (exit " + r.exitCode() + "): " + errorLines(logFile));
        }
    }

    private static Optional<Path> resolveExecutable(Path candidate) {
        if (candidate.getNameCount() > 1 || candidate.isAbsolute()) {
            return Files.isExecutable(candidate) && Files.isRegularFile(candidate)
                    ? Optional.of(candidate.toAbsolutePath()) : Optional.empty();
        }
        String path = System.getenv().getOrDefault("PATH", "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin");
        for (String dir : path.split(":")) {
            Path p = Path.of(dir, candidate.toString());
            if (Files.isExecutable(p) && Files.isRegularFile(p)) {
                return Optional.of(p);
            }
        }
        return Optional.empty();
    }

    private static String lastLines(String text, int n) {
        List<String> lines = text.strip().lines().toList();
        return String.join(" | ", lines.subList(Math.max(0, lines.size() - n), lines.size()));
    }

    record Result(int exitCode, String output) {
    }

    private static Result run(List<String> cmd, Duration timeout) throws CriuException {
        try {
            Path out = Files.createTempFile("pmig-criu", ".out");
            try {
                return run(cmd, timeout, out);
            } finally {
                Files.deleteIfExists(out);
            }
        } catch (IOException e) {
            throw new CriuException("cannot run " + cmd.get(0) + ": " + e.getMessage(), e);
        }
    }

    private static Result run(List<String> cmd, Duration timeout, Path outFile) throws CriuException {
        try {
            Process p = new ProcessBuilder(cmd).redirectErrorStream(true)
                    .redirectInput(ProcessBuilder.Redirect.from(new java.io.File("/dev/null")))
                    .redirectOutput(outFile.toFile()).start();
            if (!p.waitFor(timeout.toMillis(), TimeUnit.MILLISECONDS)) {
                p.destroyForcibly();
                throw new CriuException(String.join(" ", cmd.subList(0, Math.min(2, cmd.size())))
                        + " did not finish within " + timeout);
            }
            return new Result(p.exitValue(), Files.readString(outFile, StandardCharsets.ISO_8859_1));
        } catch (IOException e) {
            throw new CriuException("cannot run " + cmd.get(0) + ": " + e.getMessage(), e);
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            throw new CriuException("interrupted while running " + cmd.get(0), e);
        }
    }
}
