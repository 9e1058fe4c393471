package io.pmig.executor.migration;

import io.pmig.executor.criu.BackgroundCriu;
import io.pmig.executor.criu.CriuException;
import io.pmig.executor.criu.PageServer;
import io.pmig.executor.criu.PageServerAddress;
import io.pmig.executor.criu.TlsIdentity;
import io.pmig.executor.events.MigrationCommit;
import io.pmig.executor.migration.MigrationJournal.Role;
import io.pmig.executor.migration.MigrationJournal.Step;
import io.pmig.executor.network.NamespaceBlueprint;
import io.pmig.executor.network.NamespaceContents;
import io.pmig.executor.network.WorkloadNetwork;
import io.pmig.executor.transfer.SessionHandler;
import io.pmig.executor.transfer.TransferConnection;
import io.pmig.executor.transfer.TransferSession;
import io.pmig.executor.workload.NodeWorkloads;
import io.pmig.platform.commands.CommandDeadline;
import io.pmig.schemas.MigrationCommand;
import io.pmig.schemas.MigrationEvent;
import io.pmig.schemas.MigrationMode;
import io.pmig.schemas.Phase;
import io.pmig.schemas.PhaseTimings;
import java.io.IOException;
import java.net.InetAddress;
import java.net.InetSocketAddress;
import java.net.ServerSocket;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.OptionalInt;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;
import org.slf4j.MDC;

/**
 * The destination's half of one migration. It prepares (checks, a one-time transfer session), announces PREPARED,
 * and then answers the source's control requests over the authenticated connection: HELLO checks what must hold
 * before the source freezes (criu versions, space, memory) and exchanges TLS certificates, RESTORE restores the received images with every task left stopped, COMMIT publishes
 * COMPLETED and only then resumes the tasks, ABORT kills the stopped copy. A restored copy that was never
 * committed is killed when the session ends, so the workload never runs on both nodes.
 *
 * <p>LAZY: RESTORE names the source's lazy page address; a {@code criu lazy-pages} daemon fetches the pages into the
 * stopped copy (and on after the commit, until it has them all).
 *
 * <p>Nothing arrives before the source has authenticated itself: the criu page server (PAGE_SERVER) starts only on
 * the source's HELLO, and criu's page connections (page server, lazy pages) use TLS pinned to the certificate the
 * source sent over the authenticated connection. A copy is never resumed without COMMIT, in any mode: the source
 * keeps its frozen tree until then.
 */
public final class DestinationMigration implements SessionHandler {

    private static final Logger log = LoggerFactory.getLogger(DestinationMigration.class);

    private final NodeServices node;
    private final MigrationCommand command;
    private final String migrationId;
    private final String workloadId;
    private final MigrationJournal journal;
    private final Path sessionDir;
    private final Path images;
    private PageServer pageServer;
    private volatile BackgroundCriu lazyPages;
    private volatile int restoredPid;
    private volatile boolean committed;
    /** This migration's COMPLETED transaction, opened while preparing. */
    private MigrationCommit completion;
    private volatile long restoreMs;
    private volatile Optional<String> leftoverLockTable = Optional.empty();
    private volatile List<String> tlsOptions = List.of();
    private volatile boolean localDump; // the source dumps locally whatever the mode (NodeFacts#releaseBeforeRestore)
    private volatile CheckpointEngine engine; // the node's process engine until HELLO names the workload's kind
    /** The workload's network namespace, built at HELLO; the restore joins it, else it is discarded. */
    private volatile WorkloadNetwork.Prepared preparedNetwork;

    private DestinationMigration(NodeServices node, MigrationCommand command, MigrationJournal journal) {
        this.node = node;
        this.command = command;
        this.migrationId = command.getCommandId();
        this.workloadId = command.getWorkloadId();
        this.journal = journal;
        this.sessionDir = journal.dir().resolve("incoming");
        this.engine = node.engine();
        this.images = sessionDir.resolve("images");
    }

    public static DestinationMigration create(NodeServices node, MigrationCommand command) throws IOException {
        MigrationJournal journal = MigrationJournal.create(node.config().workdir(), command.getCommandId(), Role.DESTINATION);
        journal.put("workloadId", command.getWorkloadId()).put("commandId", command.getCommandId())
                .put("source", command.getSourceNode()).put("mode", command.getMode().name());
        return new DestinationMigration(node, command, journal);
    }

    public void run() throws IOException, InterruptedException {
        // events of one migration in causal order: nothing from here before the source has accepted (or refused)
        long waitMs = Math.max(node.config().prepareTimeout().toMillis(),
                CommandDeadline.deadlineMs(command) - System.currentTimeMillis());
        Optional<MigrationEvent> sourceAnswer = node.peers().await(migrationId,
                e -> command.getSourceNode().equals(e.getNode()) && (e.getPhase() == Phase.ACCEPTED
                        || e.getPhase() == Phase.FAILED || e.getPhase() == Phase.ROLLED_BACK), Duration.ofMillis(waitMs));
        if (sourceAnswer.isEmpty()) {
            node.events().publishEventually(event(Phase.FAILED).setError("source node " + command.getSourceNode()
                    + " never accepted the migration within " + waitMs / 1000 + " s (unknown or down); nothing was moved"), () -> { });
            journal.delete();
            return;
        }
        if (sourceAnswer.get().getPhase() != Phase.ACCEPTED) {
            log.info("source refused the migration of {}: {}", workloadId, sourceAnswer.get().getError());
            journal.delete();
            return;
        }
        String refusal = refusal();
        if (refusal != null) {
            log.warn("refusing to receive {}: {}", workloadId, refusal);
            node.events().publishEventually(event(Phase.FAILED).setError("destination refused: " + refusal), () -> { });
            journal.delete();
            return;
        }
        journal.step(Step.PREPARED);
        TransferSession session;
        PreparedEndpoint endpoint;
        try {
            Files.createDirectories(images);
            completion = node.events().openCommit(migrationId);
            session = node.transfer().openSession(migrationId, sessionDir, this);
            // a page server starts only once the source has authenticated itself (HELLO)
            endpoint = new PreparedEndpoint(node.advertised(), null);
        } catch (IOException | RuntimeException e) {
            node.events().publishEventually(event(Phase.FAILED).setError("destination refused: cannot prepare: " + e.getMessage()), () -> { });
            cleanUp();
            return;
        }
        node.events().publish(event(Phase.PREPARED).setEndpoint(endpoint.format()));
        log.info("prepared to receive {} at {}", workloadId, endpoint.format());

        long deadline = System.nanoTime() + node.config().sessionTimeout().toNanos();
        try (session) {
            while (!session.awaitClosed(Duration.ofMillis(500))) {
                Optional<MigrationEvent> sourceGaveUp = node.peers().find(migrationId,
                        e -> command.getSourceNode().equals(e.getNode())
                                && (e.getPhase() == Phase.ROLLED_BACK || e.getPhase() == Phase.FAILED));
                if (sourceGaveUp.isPresent() && restoredPid == 0) {
                    log.info("source ended the migration ({}): {}", sourceGaveUp.get().getPhase(), sourceGaveUp.get().getError());
                    break;
                }
                if (System.nanoTime() > deadline) {
                    log.warn("source did not finish within {} s; giving the migration up here",
                            node.config().sessionTimeout().toSeconds());
                    break;
                }
            }
            if (session.failure() != null && !committed) {
                log.warn("transfer session ended without COMMIT: {}", session.failure());
            }
        }
        // no COMMIT, no copy: the source keeps its frozen tree until it commits, in every mode (LAZY too)
        synchronized (this) {
            if (committed) {
                completion.close();
                if (lazyPages == null || !lazyPages.isRunning()) {
                    journal.delete(); // else the lazy-pages watcher does, once the daemon is done with its images
                }
                node.peers().forget(migrationId);
                return;
            }
            abort();
        }
        cleanUp();
        clearLockTableAfterSourceEnds();
    }

    /** Why this node cannot take the workload, or null. */
    private String refusal() {
        var config = node.config();
        if (node.workloads().isRunning(workloadId)) {
            return "workload " + workloadId + " already runs on " + config.node();
        }
        if (command.getMode() == MigrationMode.LAZY && engine.lazyPagesProblem().isPresent()) {
            return "LAZY mode is unavailable: " + engine.lazyPagesProblem().get();
        }
        if (config.capacityCpus() > 0 && command.getCpuRequest() > config.capacityCpus()) {
            return "needs " + command.getCpuRequest() + " cpus, node capacity is " + config.capacityCpus() + " (--capacity cpus)";
        }
        if (config.capacityMemBytes() > 0 && command.getMemRequestBytes() > config.capacityMemBytes()) {
            return "needs " + command.getMemRequestBytes() + " bytes of memory, node capacity is "
                    + config.capacityMemBytes() + " (--capacity mem)";
        }
        long available = memAvailable();
        if (available > 0 && command.getMemRequestBytes() > available) {
            return "needs " + command.getMemRequestBytes() + " bytes of memory, " + available + " available";
        }
        try {
            Files.createDirectories(config.workdir());
            long free = Files.getFileStore(config.workdir()).getUsableSpace();
            long needed = command.getMemRequestBytes() + (256L << 20);
            if (free < needed) {
                return "only " + free + " bytes free in " + config.workdir() + ", images need about " + needed;
            }
        } catch (IOException e) {
            return "cannot check free space in " + config.workdir() + ": " + e.getMessage();
        }
        return null;
    }

    @Override
    public String onControl(String verb, Map<String, String> args) throws Exception {
        MDC.put("node", node.config().node());
        MDC.put("migration", migrationId);
        return switch (verb) {
            case "HELLO" -> hello(args);
            case "RESTORE" -> restore(args);
            case "COMMIT" -> commit(args);
            case "ABORT" -> {
                abort();
                yield "aborted";
            }
            default -> engine.control(verb, args, sessionDir);
        };
    }

    /**
     * The source has authenticated itself: check what must hold before it freezes anything, start the page
     * server its mode needs (TLS, pinned to the source's certificate), and answer with this node's facts, MACed.
     */
    private synchronized String hello(Map<String, String> args) throws Exception {
        NodeFacts source = NodeFacts.fromArguments(args);
        engine = node.engineForKind(source.kind());
        journal.put("kind", engine.kind());
        localDump = NodeFacts.releaseBeforeRestore(source, NodeFacts.thisNetwork()) || !engine.carriesMemoryApart();
        var config = node.config();
        if (!engine.restoresImagesOf(source.criuVersion())) {
            throw new IllegalStateException("incompatible destination: " + engine.kind() + " checkpoints of version "
                    + engine.version() + " here cannot restore those of version " + source.criuVersion() + " from "
                    + command.getSourceNode());
        }
        NamespaceBlueprint built = null;
        if (source.ownNetwork()) {
            var network = config.criu().workloadNetwork();
            if (network.isEmpty()) {
                throw new IllegalStateException(workloadId + " has its own network identity and " + config.node()
                        + " cannot host workload addresses: no workload bridge (executor.workload.bridge)");
            }
            network.get().problem().ifPresent(why -> {
                throw new IllegalStateException(workloadId + " has its own network identity and on " + config.node()
                        + " " + why);
            });
            if (source.namespace() != null && !localDump && preparedNetwork == null) {
                built = buildNamespace(network.get(), source.namespace());
            }
        }
        if (!source.kernel().equals(NodeFacts.thisKernel())) {
            log.info("source kernel {} differs from this node's {}", source.kernel(), NodeFacts.thisKernel());
        }
        long free = Files.getFileStore(config.workdir()).getUsableSpace();
        long needed = source.bytesNeeded() + (64L << 20);
        if (free < needed) {
            throw new IllegalStateException("only " + free + " bytes free in " + config.workdir() + ", the images need about "
                    + needed);
        }
        long available = memAvailable();
        if (available > 0 && source.bytesNeeded() > available) {
            throw new IllegalStateException("needs " + source.bytesNeeded() + " bytes of memory, " + available + " available");
        }
        String cert = null;
        String pages = null;
        if (source.tlsCert() != null) {
            TlsIdentity tls = TlsIdentity.in(config.workdir().resolve("tls"));
            cert = tls.certificatePem();
            tlsOptions = tls.criuOptions(TlsIdentity.writePeerCertificate(source.tlsCert(),
                    journal.dir().resolve("peer-cert.pem")));
            if (command.getMode() == MigrationMode.PAGE_SERVER && pageServer == null && !localDump) {
                // criu wants an IP literal; a wildcard listen address binds the page server to the advertised host
                InetAddress host = node.pageServerHost();
                PageServerAddress at = new PageServerAddress(host.getHostAddress(), NodeServices.freePort(host));
                pageServer = engine.startPageServer(images, at, tlsOptions, Duration.ofSeconds(10));
                pages = at.toString();
            }
        }
        log.info("source {} proven (criu {}, {} bytes): ready to receive {}", command.getSourceNode(),
                source.criuVersion(), source.bytesNeeded(), workloadId);
        return NodeFacts.ofThisNode(engine.kind(), engine.version(), 0, false, cert, pages).withNamespace(built)
                .signedReply(config.credentials(), migrationId);
    }

    /**
     * Builds the workload's network namespace now, before the source freezes it, so that neither criu's dump nor its
     * restore spends the downtime on it (NETWORK-IDENTITY.md). Kept only if it is equal to the source's in everything
     * criu would carry; else (or if it cannot be built) criu carries the namespace as before. Returns what was built.
     */
    private NamespaceBlueprint buildNamespace(WorkloadNetwork network, NamespaceBlueprint wanted) {
        WorkloadNetwork.Prepared prepared = null;
        try {
            prepared = network.prepareForRestore(workloadId, wanted.address(), wanted.mac(),
                    node.config().sessionTimeout().plusMinutes(1));
            String contents = NamespaceContents.of(prepared.pid(), node.config().criu().nft().orElse(null));
            if (!NamespaceContents.digest(contents).equals(wanted.digest())) {
                log.info("the network namespace of {} has more than a namespace built here would: criu carries it."
                        + " Built here:\n{}", workloadId, contents);
                prepared.discard();
                return null;
            }
            preparedNetwork = prepared;
            return wanted;
        } catch (IOException | RuntimeException e) {
            log.info("cannot build the network namespace of {} before the freeze, criu carries it: {}", workloadId,
                    e.getMessage());
            if (prepared != null) {
                prepared.discard();
            }
            return null;
        }
    }

    private synchronized String restore(Map<String, String> args) throws Exception {
        if (restoredPid != 0 || committed) {
            throw new IllegalStateException("already restored");
        }
        if (pageServer != null) {
            pageServer.awaitFinished(Duration.ofSeconds(60));
        }
        Path dir = node.workloads().dir(workloadId);
        if (node.workloads().isRunning(workloadId)) {
            throw new IllegalStateException("workload " + workloadId + " already runs here");
        }
        NodeWorkloads.deleteTree(dir); // leftovers of an earlier failed attempt
        Files.createDirectories(dir.getParent());
        Path received = sessionDir.resolve("workload");
        if (Files.isDirectory(received)) {
            Files.move(received, dir);
        } else {
            Files.createDirectories(dir);
        }
        DeclaredFiles.putBack(sessionDir, node.workloads(), workloadId);
        journal.step(Step.RESTORING);
        long t = System.nanoTime();
        int pid;
        try {
            boolean lazy = command.getMode() == MigrationMode.LAZY && !localDump;
            if (lazy) {
                if (tlsOptions.isEmpty()) {
                    throw new IllegalStateException("LAZY RESTORE before HELLO: no TLS certificate of the source");
                }
                lazyPages = engine.startLazyPages(images, lazySource(args), tlsOptions, Duration.ofSeconds(30));
            }
            pid = engine.restore(images, dir, true, lazy, "restore.log", preparedNetwork);
        } catch (CriuException | RuntimeException e) {
            if (lazyPages != null) {
                lazyPages.kill(); // the source's lazy dump then ends, its tree left stopped for its rollback
                log.warn("criu lazy-pages for {}: {}", workloadId, lazyPages.errors());
            }
            // the source restores its own checkpoint next and that removes the lock when both share a network
            leftoverLockTable = engine.networkLock(images);
            NodeWorkloads.deleteTree(dir);
            log.warn("restore of {} failed: {}", workloadId, e.getMessage());
            throw e;
        }
        restoreMs = SourceMigration.millisSince(t);
        if (!engine.isAlive(pid)) {
            NodeWorkloads.deleteTree(dir);
            throw new IllegalStateException("restored init " + pid + " is not alive");
        }
        restoredPid = pid;
        journal.put("restoredPid", pid).step(Step.RESTORED);
        if (lazyPages != null) {
            watchLazyPages(lazyPages);
        }
        node.events().publishProgress(event(Phase.RESTORED).setPid(pid)
                .setTimings(PhaseTimings.newBuilder().setRestoreMs(restoreMs).build()));
        log.info("restored {} as pid {} in {} ms, stopped until the source commits", workloadId, pid, restoreMs);
        return "pid=" + pid + ";restoreMs=" + restoreMs;
    }

    /**
     * Commits COMPLETED ({@link MigrationCommit}) and only then lets the restored tasks run. A commit that was not
     * acknowledged is settled first, the copy kept stopped meanwhile: committed after all, it runs; never committed,
     * it is killed. An error answer therefore always means "not committed" (the source settles anyway).
     */
    private synchronized String commit(Map<String, String> args) throws Exception {
        if (restoredPid == 0 || !engine.isAlive(restoredPid)) {
            throw new IllegalStateException("nothing restored to commit");
        }
        long commitStart = System.nanoTime();
        // COMMITTED is journaled first; recovery resumes such a copy only if COMPLETED really was published
        journal.put("commitStartMs", System.currentTimeMillis())
                .put("keepStopped", args.getOrDefault("keepStopped", "")).step(Step.COMMITTED);
        long downtime = number(args, "downtimeMs");
        PhaseTimings timings = PhaseTimings.newBuilder()
                .setFreezeMs(number(args, "freezeMs")).setDumpMs(number(args, "dumpMs"))
                .setTransferMs(number(args, "transferMs")).setRestoreMs(restoreMs)
                .setDowntimeMs(downtime + SourceMigration.millisSince(commitStart))
                .setTotalMs(number(args, "totalMs") + SourceMigration.millisSince(commitStart)).build();
        node.workloads().writePid(workloadId, restoredPid); // still stopped: not running twice, only reported
        node.events().flushProgress(); // RESTORED and the rest before COMPLETED, as the log's readers expect
        MigrationEvent completed = event(Phase.COMPLETED).setPid(restoredPid).setTimings(timings)
                .setBytesMoved(number(args, "bytesMoved")).setTimestampMs(System.currentTimeMillis()).build();
        if (!completion.publishCompleted(completed)) {
            completion.close();
            if (!MigrationCommit.settle(node.config(), node.history(), workloadId, migrationId)) {
                node.workloads().removePid(workloadId);
                abandonCommit(node, engine, journal, restoredPid, "COMPLETED was never committed");
                restoredPid = 0;
                throw new IllegalStateException("COMPLETED of " + workloadId + " was never committed; the copy here is gone");
            }
            log.info("COMPLETED of {} was committed after all", workloadId);
        }
        committed = true;
        engine.resumeCopy(restoredPid, SourceMigration.parsePids(args.get("keepStopped")));
        node.exits().watch(workloadId, restoredPid);
        log.info("{} runs here as pid {} (downtime {} ms)", workloadId, restoredPid, timings.getDowntimeMs());
        return "pid=" + restoredPid;
    }

    /**
     * After COMMITTED was journaled but COMPLETED could not be confirmed: kills the copy and publishes ROLLED_BACK,
     * retrying until the broker takes it, so that a late COMPLETED is overruled in the log (the source decides by
     * the destination's last decisive event). Shared with recovery.
     */
    static void abandonCommit(NodeServices node, CheckpointEngine engine, MigrationJournal journal, int pid, String why)
            throws IOException {
        engine.kill(pid);
        String workloadId = journal.get("workloadId");
        NodeWorkloads.deleteTree(node.workloads().dir(workloadId));
        journal.step(Step.ABANDONED);
        node.events().publishEventually(node.events().event(journal.get("commandId"), journal.get("migrationId"),
                        workloadId, Phase.ROLLED_BACK).setMode(MigrationMode.valueOf(journal.get("mode")))
                .setSourceNode(journal.get("source")).setDestinationNode(node.config().node())
                .setError("destination gave its copy up: " + why), () -> {
                    try {
                        journal.delete();
                    } catch (IOException e) {
                        log.warn("cannot delete the journal in {}: {}", journal.dir(), e.getMessage());
                    }
                });
    }

    /** Kills a restored copy that was not committed. */
    private synchronized void abort() throws IOException {
        if (committed) {
            return;
        }
        if (preparedNetwork != null) {
            preparedNetwork.discard(); // nothing if a copy was restored into it: killing the copy takes it
        }
        if (lazyPages != null) {
            lazyPages.kill(); // pages incomplete: the copy cannot run, and the source's dump must not finish
        }
        if (restoredPid != 0) {
            log.info("killing the uncommitted copy of {} (pid {})", workloadId, restoredPid);
            engine.kill(restoredPid);
            restoredPid = 0;
            NodeWorkloads.deleteTree(node.workloads().dir(workloadId));
        }
    }

    private static PageServerAddress lazySource(Map<String, String> args) {
        String at = args.get("lazyPages");
        int colon = at == null ? -1 : at.lastIndexOf(':');
        if (colon <= 0) {
            throw new IllegalArgumentException("LAZY RESTORE without the source's page address (lazyPages=HOST:PORT)");
        }
        return new PageServerAddress(at.substring(0, colon), Integer.parseInt(at.substring(colon + 1)));
    }

    /** Journals when the lazy-pages daemon ends, for a commit decision after a restart (it outlives the JVM). */
    private void watchLazyPages(BackgroundCriu daemon) {
        Thread t = new Thread(() -> {
            MDC.put("node", node.config().node());
            MDC.put("migration", migrationId);
            try {
                long start = System.nanoTime();
                OptionalInt rc = daemon.awaitExit(Duration.ofDays(1));
                if (rc.isPresent() && rc.getAsInt() == 0) {
                    log.info("every page of {} arrived {} ms after the restore", workloadId, SourceMigration.millisSince(start));
                } else {
                    log.warn("criu lazy-pages for {} ended with {}: {}", workloadId, rc, daemon.errors());
                }
                synchronized (this) {
                    if (committed) {
                        journal.delete();
                    }
                }
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
            } catch (IOException e) {
                log.warn("cannot delete the journal of {}: {}", workloadId, e.getMessage());
            }
        }, "pmig-lazy-pages-" + workloadId);
        t.setDaemon(true);
        t.start();
    }

    private void cleanUp() throws IOException {
        if (completion != null) {
            completion.close();
        }
        if (preparedNetwork != null) {
            preparedNetwork.discard();
        }
        if (pageServer != null) {
            pageServer.close();
        }
        if (journal.step() != Step.ABANDONED) { // else its publisher deletes it once ROLLED_BACK is out
            journal.delete();
        }
    }

    /**
     * A failed restore leaves criu's network-lock table. When source and destination share a network namespace it
     * is the source's own lock, and deleting it before the source's rollback would reset the workload's
     * connections, so it is removed only once the source has ended the migration.
     */
    private void clearLockTableAfterSourceEnds() throws InterruptedException {
        if (leftoverLockTable.isEmpty()) {
            node.peers().forget(migrationId);
            return;
        }
        node.peers().await(migrationId, e -> command.getSourceNode().equals(e.getNode())
                && (e.getPhase() == Phase.ROLLED_BACK || e.getPhase() == Phase.FAILED), Duration.ofMinutes(2));
        engine.unlockNetwork(leftoverLockTable.get());
        node.peers().forget(migrationId);
    }

    private MigrationEvent.Builder event(Phase phase) {
        return node.events().event(command.getCommandId(), migrationId, workloadId, phase)
                .setMode(command.getMode()).setSourceNode(command.getSourceNode())
                .setDestinationNode(node.config().node());
    }

    private static long number(Map<String, String> args, String key) {
        try {
            return Long.parseLong(args.getOrDefault(key, "0"));
        } catch (NumberFormatException e) {
            return 0;
        }
    }

    private static long memAvailable() {
        try {
            for (String line : Files.readAllLines(Path.of("/proc/meminfo"))) {
                if (line.startsWith("MemAvailable:")) {
                    return Long.parseLong(line.replaceAll("\\D+", "")) * 1024;
                }
            }
        } catch (IOException | NumberFormatException e) {
            return 0;
        }
        return 0;
    }
}
