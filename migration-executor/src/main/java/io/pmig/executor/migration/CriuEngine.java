package io.pmig.executor.migration;

import io.pmig.executor.criu.BackgroundCriu;
import io.pmig.executor.criu.Criu;
import io.pmig.executor.criu.CriuException;
import io.pmig.executor.criu.PageServer;
import io.pmig.executor.criu.PageServerAddress;
import io.pmig.executor.migration.MigrationJournal.Step;
import io.pmig.executor.network.FrozenClientRules;
import io.pmig.executor.network.NamespaceBlueprint;
import io.pmig.executor.network.NamespaceContents;
import io.pmig.executor.network.WorkloadNetwork;
import io.pmig.executor.workload.ProcessTable;
import io.pmig.executor.workload.WorkloadIdentity;
import io.pmig.schemas.MigrationMode;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.List;
import java.util.Optional;
import java.util.Set;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/** The checkpoint engine of process-tree workloads: criu for dumps and restores, signals for the rest. */
public final class CriuEngine implements CheckpointEngine {

    private static final Logger log = LoggerFactory.getLogger(CriuEngine.class);
    private static final Duration RECOVERY_CRIU_WAIT = Duration.ofMinutes(2);

    private final Criu criu;
    private final Duration sessionTimeout;

    /** {@code sessionTimeout}: how long recovery lets a LAZY dump that outlived its executor serve its pages. */
    public CriuEngine(Criu criu, Duration sessionTimeout) {
        this.criu = criu;
        this.sessionTimeout = sessionTimeout;
    }

    @Override
    public String kind() {
        return "process";
    }

    @Override
    public boolean carriesMemoryApart() {
        return true;
    }

    @Override
    public String version() {
        return criu.version();
    }

    @Override
    public boolean restoresImagesOf(String version) {
        return criu.restoresImagesOf(version);
    }

    @Override
    public Optional<String> lazyPagesProblem() {
        return criu.lazyPagesProblem();
    }

    @Override
    public boolean isPresent(WorkloadIdentity init) {
        return init.isPresent();
    }

    @Override
    public List<String> refusals(int initPid) {
        return CheckpointPreflight.forThisExecutor(criu).refusals(initPid);
    }

    @Override
    public Set<Integer> stoppedTasks(int initPid) {
        return CheckpointPreflight.stoppedTasks(initPid);
    }

    @Override
    public long residentBytes(int initPid) {
        return residentSet(initPid);
    }

    /** The resident set of every task of the tree. */
    public static long residentSet(int initPid) {
        long bytes = 0;
        for (int pid : ProcessTable.namespaceMembers(initPid)) {
            try {
                for (String line : Files.readAllLines(Path.of("/proc", String.valueOf(pid), "status"))) {
                    if (line.startsWith("VmRSS:")) {
                        bytes += Long.parseLong(line.replaceAll("\\D+", "")) * 1024;
                    }
                }
            } catch (IOException | RuntimeException ignored) {
                // exited while we looked
            }
        }
        return bytes;
    }

    @Override
    public boolean holdsNetworkAddresses(int initPid) {
        return ProcessTable.holdsNetworkAddresses(initPid);
    }

    @Override
    public boolean hasOwnNetwork(int initPid) {
        return WorkloadNetwork.hasOwnNamespace(initPid);
    }

    /**
     * Where the destination can build the namespace (nft is there to compare firewall tables, the address and MAC are
     * readable): read before the freeze, a few tools run in the workload's namespace.
     */
    @Override
    public Optional<NamespaceBlueprint> namespaceBlueprint(int initPid) {
        if (!WorkloadNetwork.hasOwnNamespace(initPid) || criu.nft().isEmpty()) {
            return Optional.empty();
        }
        Optional<String> address = WorkloadNetwork.addressOf(initPid);
        Optional<String> mac = WorkloadNetwork.macOf(initPid);
        if (address.isEmpty() || mac.isEmpty()) {
            return Optional.empty();
        }
        try {
            return Optional.of(new NamespaceBlueprint(address.get(), mac.get(),
                    NamespaceContents.digest(NamespaceContents.of(initPid, criu.nft().get()))));
        } catch (java.io.IOException | IllegalArgumentException e) {
            log.info("the network namespace of {} is dumped with it: cannot read it ({})", initPid, e.getMessage());
            return Optional.empty();
        }
    }

    @Override
    public CheckpointEngine withNamespaceBuiltByDestination() {
        return new CriuEngine(criu.withNamespaceBuiltByDestination(), sessionTimeout);
    }

    @Override
    public CheckpointStrategy localDump() {
        return new CheckpointStrategy.LocalDump(criu);
    }

    @Override
    public CheckpointStrategy pageServerDump(PageServerAddress pageServer, List<String> tls) {
        return new CheckpointStrategy.PageServerDump(criu, pageServer, tls);
    }

    @Override
    public CheckpointStrategy lazyDump(PageServerAddress serveAt, List<String> tls) {
        return new CheckpointStrategy.LazyDump(criu, serveAt, tls);
    }

    /**
     * For a workload with its own network identity, where nft is there: new connections held from before the freeze,
     * and ICMP host-unreachable answers where the node can give them (the option is on and the workload bridge has an
     * IPv4 address to answer from: the answers must come from the node, never from the workload's own address; else
     * the drop, logged). Otherwise criu's plain drop.
     */
    @Override
    public FrozenTraffic frozenTraffic(String workloadId, int initPid) {
        Optional<WorkloadNetwork> network = criu.workloadNetwork();
        if (network.isEmpty() || !WorkloadNetwork.hasOwnNamespace(initPid)) {
            return FrozenTraffic.DROPPED;
        }
        Optional<String> ip = WorkloadNetwork.addressOf(initPid).map(a -> a.substring(0, a.indexOf('/')));
        if (criu.nft().isEmpty() || ip.isEmpty()) {
            log.info("clients of {} get only criu's drop while it is frozen: {}", workloadId, criu.nft().isEmpty()
                    ? "no nft beside criu or on PATH" : "its address is unknown");
            return FrozenTraffic.DROPPED;
        }
        String bridge = network.get().bridge();
        String nodeAddress = null;
        if (network.get().answersUnreachable()) {
            nodeAddress = FrozenClientRules.nodeAddress(bridge).orElse(null);
            if (nodeAddress == null) {
                log.info("clients of {} are not answered while it is frozen: the workload bridge {} has no IPv4 address"
                        + " to answer them from (ip addr add <an address of this node on the segment> dev {})",
                        workloadId, bridge, bridge);
            }
        }
        return new FrozenTraffic.HeldClients(network.get().frozenClientRules(workloadId, criu.nft().get()),
                initPid, ip.get(), nodeAddress, network.get().handshakeWait());
    }

    @Override
    public boolean isPresent(FrozenSource frozen) {
        return frozen.init().isPresent();
    }

    @Override
    public int resume(FrozenSource frozen) {
        if (!frozen.init().isPresent()) {
            return 0;
        }
        List<Integer> members = ProcessTable.namespaceMembers(frozen.init().pid()).stream()
                .filter(pid -> !frozen.stoppedBefore().contains(ProcessTable.namespacePid(pid)))
                .toList();
        if (WorkloadNetwork.hasOwnNamespace(frozen.init().pid())) {
            WorkloadNetwork.reinstate(frozen.init().pid()); // its address back on this node, announced
        }
        // unlocked and out of repair mode before the tasks run, so that their first packets go out
        if (!criu.resumeDumped(frozen.images(), frozen.init().pid(), members)) {
            log.warn("SIGCONT to {} did not reach every process", members);
        }
        return frozen.init().pid();
    }

    @Override
    public void release(FrozenSource frozen) {
        if (frozen.init().isPresent()) {
            kill(frozen.init().pid()); // its veth goes first: a copy may come back here, and no reset leaves
        }
        // the killed tree's sockets close silently (they were in repair mode); the lock has nothing left to guard
        networkLock(frozen.images()).ifPresent(this::unlockNetwork);
    }

    @Override
    public PageServer startPageServer(Path images, PageServerAddress at, List<String> tls, Duration readyTimeout)
            throws CriuException {
        return criu.startPageServer(images, at, tls, readyTimeout);
    }

    @Override
    public BackgroundCriu startLazyPages(Path images, PageServerAddress source, List<String> tls, Duration readyTimeout)
            throws CriuException {
        return criu.startLazyPages(images, source, tls, readyTimeout);
    }

    @Override
    public int restore(Path images, Path workloadDir, boolean leaveStopped, boolean lazy, String logName)
            throws CriuException {
        return criu.restore(images, workloadDir, leaveStopped, lazy, logName);
    }

    @Override
    public int restore(Path images, Path workloadDir, boolean leaveStopped, boolean lazy, String logName,
                       WorkloadNetwork.Prepared network) throws CriuException {
        return criu.restore(images, workloadDir, leaveStopped, lazy, logName, network);
    }

    @Override
    public boolean isAlive(int pid) {
        return ProcessTable.isAlive(pid);
    }

    @Override
    public void resumeCopy(int initPid, Set<Integer> keepStopped) {
        continueTree(initPid, keepStopped);
    }

    /** SIGCONT to every task of the tree but {@code keepStopped} (namespace-local pids). */
    public static void continueTree(int initPid, Set<Integer> keepStopped) {
        List<Integer> members = ProcessTable.namespaceMembers(initPid).stream()
                .filter(pid -> !keepStopped.contains(ProcessTable.namespacePid(pid))).toList();
        if (!ProcessTable.signal("CONT", members)) {
            log.warn("SIGCONT to {} did not reach every process", members);
        }
    }

    @Override
    public void kill(int initPid) {
        if (initPid != 0) {
            // off the segment first: the killed tree's sockets would close with a reset to every client
            WorkloadNetwork.hostSideOf(initPid).ifPresent(WorkloadNetwork::delete);
            ProcessTable.killNamespace(initPid);
            ProcessTable.awaitGone(initPid, Duration.ofSeconds(10));
        }
    }

    @Override
    public Optional<String> networkLock(Path images) {
        return Criu.lockTable(images);
    }

    @Override
    public void unlockNetwork(String lock) {
        criu.deleteLockTable(lock);
    }

    @Override
    public void settleSource(MigrationJournal journal) throws InterruptedException {
        Path images = journal.dir().resolve("images");
        Step step = journal.step();
        // rules a dead executor left in place: whatever recovery decides, the copy here is no longer held frozen
        // for a migration (it resumes, or its destination has it)
        String workloadId = journal.get("workloadId");
        criu.workloadNetwork().flatMap(n -> criu.nft().map(nft -> n.frozenClientRules(workloadId, nft)))
                .ifPresent(rules -> {
                    try {
                        rules.remove();
                    } catch (java.io.IOException e) {
                        log.warn("cannot remove nft tables {} of {}: {}", rules.table(), workloadId, e.getMessage());
                    }
                });
        // criu outlives a killed executor: a dump finishes (tree left stopped), a lazy dump serves pages until the
        // destination has them all - or is stopped now if the restore was never asked for
        if (MigrationMode.LAZY.name().equals(journal.get("mode"))) {
            int dumpPid = BackgroundCriu.pid(images, "lazy-dump");
            if (isCriu(dumpPid) && step != Step.RESTORING && step != Step.COMMITTING) {
                ProcessTable.signal("TERM", List.of(dumpPid));
            }
            long deadline = System.nanoTime() + sessionTimeout.toNanos();
            while (isCriu(dumpPid) && System.nanoTime() < deadline) {
                Thread.sleep(100);
            }
            if (isCriu(dumpPid)) {
                ProcessTable.signal("KILL", List.of(dumpPid));
            }
        } else {
            awaitCriu(images, "dump", RECOVERY_CRIU_WAIT);
        }
    }

    @Override
    public int settleDestination(MigrationJournal journal) throws InterruptedException {
        Path incoming = journal.dir().resolve("incoming").resolve("images");
        // criu outlives a killed executor: a page server waits for a dump that will not come, and a restore in
        // progress finishes (stopped copy) without the journal ever learning its pid - read it from criu's pidfile
        if (!MigrationMode.LAZY.name().equals(journal.get("mode"))) {
            ProcessTable.signal("KILL", criuUsing(incoming, "page-server"));
        } else if (journal.step() != Step.COMMITTED) {
            // pages for a copy that will never run (the source keeps its frozen tree until it commits)
            int daemon = BackgroundCriu.pid(incoming, "lazy-pages");
            if (isCriu(daemon)) {
                ProcessTable.signal("KILL", List.of(daemon));
            }
            // a lazy restore whose daemon is gone never ends (its tasks wait on page faults nobody serves):
            // kill it and the tree it was restoring instead of waiting
            for (int restore : criuUsing(incoming, "restore")) {
                List<Integer> restoredInits = ProcessTable.children(restore);
                ProcessTable.signal("KILL", List.of(restore));
                restoredInits.forEach(ProcessTable::killNamespace);
                log.info("killed the unfinished lazy restore {} and the tree {} it was restoring", restore, restoredInits);
            }
        }
        awaitCriu(incoming, "restore", RECOVERY_CRIU_WAIT);
        return restoredPidFile(incoming);
    }

    /** Host pids of criu processes running {@code verb} on that images directory. */
    static List<Integer> criuUsing(Path images, String verb) {
        String dir = images.toAbsolutePath().toString();
        try (var procs = Files.list(Path.of("/proc"))) {
            return procs.filter(p -> p.getFileName().toString().chars().allMatch(Character::isDigit))
                    .filter(p -> {
                        try {
                            List<String> argv = List.of(Files.readString(p.resolve("cmdline")).split("\0"));
                            // the private install runs criu through its own loader: criu is not always argv[0]
                            return argv.stream().anyMatch(a -> a.equals("criu") || a.endsWith("/criu"))
                                    && argv.contains(verb) && argv.contains(dir);
                        } catch (IOException | RuntimeException e) {
                            return false;
                        }
                    })
                    .map(p -> Integer.parseInt(p.getFileName().toString()))
                    .filter(ProcessTable::isAlive)
                    .toList();
        } catch (IOException e) {
            return List.of();
        }
    }

    private static void awaitCriu(Path images, String verb, Duration timeout) throws InterruptedException {
        long deadline = System.nanoTime() + timeout.toNanos();
        List<Integer> running = criuUsing(images, verb);
        if (!running.isEmpty()) {
            log.info("criu {} {} left by the previous run is still working on {}; waiting for it", verb, running, images);
        }
        while (!running.isEmpty() && System.nanoTime() < deadline) {
            Thread.sleep(50);
            running = criuUsing(images, verb);
        }
        if (!running.isEmpty()) {
            log.warn("criu {} {} still running after {} s; killing it", verb, running, timeout.toSeconds());
            ProcessTable.signal("KILL", running);
        }
    }

    private static int restoredPidFile(Path images) {
        try {
            return Integer.parseInt(Files.readString(images.resolve("restored.pid")).strip());
        } catch (IOException | NumberFormatException e) {
            return 0;
        }
    }

    /** The pid still belongs to a criu (not to a process that reused it). */
    private static boolean isCriu(int pid) {
        if (!ProcessTable.isAlive(pid)) {
            return false;
        }
        try {
            return Files.readString(Path.of("/proc", String.valueOf(pid), "cmdline")).contains("criu");
        } catch (IOException e) {
            return false;
        }
    }
}
