package io.pmig.executor.migration;

import io.pmig.executor.criu.CriuException;
import io.pmig.executor.criu.DumpStats;
import io.pmig.executor.criu.PageServerAddress;
import io.pmig.executor.criu.TlsIdentity;
import io.pmig.executor.migration.MigrationJournal.Role;
import io.pmig.executor.migration.MigrationJournal.Step;
import io.pmig.executor.transfer.TransferConnection;
import io.pmig.executor.transfer.TransferException;
import io.pmig.executor.transfer.TransferReceipt;
import io.pmig.executor.transfer.WorkloadFiles;
import io.pmig.executor.workload.NodeWorkloads;
import io.pmig.executor.workload.WorkloadIdentity;
import io.pmig.schemas.MigrationCommand;
import io.pmig.schemas.MigrationEvent;
import io.pmig.schemas.MigrationMode;
import io.pmig.schemas.Phase;
import io.pmig.schemas.PhaseTimings;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.Set;
import java.util.stream.Collectors;
import java.util.stream.Stream;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * The source's half of one migration, every mode, in the order it happens:
 * <ol>
 * <li><b>prepare</b> - wait for the destination's PREPARED, then prove it before anything is frozen: mutual
 *     authentication (the transfer connection), then HELLO: criu versions, free space, the TLS certificates
 *     criu pins for the memory pages, and in PAGE_SERVER mode the page server the destination starts only now;</li>
 * <li><b>freeze + dump</b> - the {@link CheckpointStrategy} of the mode; every dump leaves the tree stopped in
 *     place ({@link FrozenSource});</li>
 * <li><b>transfer</b> - images and the workload's directory over the authenticated connection;</li>
 * <li><b>restore</b> - the destination restores, stopped;</li>
 * <li><b>commit</b> - the destination publishes COMPLETED, then resumes; only then is the frozen source killed.</li>
 * </ol>
 * Any failure before the commit is a <b>rollback</b>: SIGCONT to the frozen tree. The source never depends on
 * the destination or on a second restore to get its workload back (a Docker container excepted: its frozen copy is a
 * stopped container, resumed by restarting it from its checkpoint).
 *
 * <p>What the phases do to the workload is its kind's {@link CheckpointEngine} ({@link CriuEngine} for a process
 * tree, {@code ContainerEngine} for a Docker container); what each mode does with the memory is a
 * {@link CheckpointStrategy} the engine makes. The phases, the journal and the events are written here, once.
 *
 * <p>One exception, on one host: when the destination shares this node's network namespace and the workload holds
 * network addresses (inet sockets, abstract unix sockets), its copy cannot be restored while the frozen source
 * still holds them. Then the source dumps locally (PLAIN, whatever the mode), and releases its frozen tree just
 * before the restore; a rollback after that restores the local images (the first generation's rollback, which can
 * fail where the destination's restore failed). Workloads with their own network namespace do not need this.
 *
 * <p>If the COMMIT's answer is lost, the settled commit decides ({@link io.pmig.executor.events.MigrationCommit}):
 * the source fences the destination's COMPLETED transaction and reads the events; COMPLETED committed, the frozen
 * tree is killed, else it resumes.
 */
public final class SourceMigration {

    private static final Logger log = LoggerFactory.getLogger(SourceMigration.class);
    private static final Duration CONNECT_TIMEOUT = Duration.ofSeconds(30);
    private static final Duration HELLO_TIMEOUT = Duration.ofSeconds(30);
    private static final Duration RESTORE_TIMEOUT = Duration.ofMinutes(5);

    private final NodeServices node;
    private final MigrationCommand command;
    private final String migrationId;
    private final String workloadId;
    private final MigrationMode mode;
    private final MigrationJournal journal;
    private final CheckpointEngine engine;
    private final PhaseTimings.Builder timings = PhaseTimings.newBuilder();
    private CheckpointStrategy strategy;
    private FrozenTraffic traffic = FrozenTraffic.DROPPED;
    private FrozenSource frozen;
    private boolean released;
    private long startNanos;
    private long freezeStartNanos;
    private long bytesMoved;
    private long queuedMs;

    private SourceMigration(NodeServices node, MigrationCommand command, MigrationJournal journal, CheckpointEngine engine) {
        this.node = node;
        this.engine = engine;
        this.command = command;
        this.migrationId = command.getCommandId();
        this.workloadId = command.getWorkloadId();
        this.mode = command.getMode();
        this.journal = journal;
    }

    public static SourceMigration create(NodeServices node, MigrationCommand command) throws IOException {
        CheckpointEngine engine = node.engineFor(command.getWorkloadId());
        MigrationJournal journal = MigrationJournal.create(node.config().workdir(), command.getCommandId(), Role.SOURCE);
        journal.put("workloadId", command.getWorkloadId()).put("commandId", command.getCommandId())
                .put("destination", command.getDestinationNode()).put("mode", command.getMode().name())
                .put("kind", engine.kind());
        return new SourceMigration(node, command, journal, engine);
    }

    /** How long this migration waited for one of its node's migration slots (reported on ACCEPTED). */
    public SourceMigration queuedFor(long millis) {
        this.queuedMs = millis;
        return this;
    }

    public void run() throws IOException, InterruptedException {
        startNanos = System.nanoTime();
        // the identity this executor recorded, not the pid file the workload can write
        Optional<WorkloadIdentity> init = node.workloads().identity(workloadId).filter(engine::isPresent);
        int initPid = init.map(WorkloadIdentity::pid).orElse(0);
        journal.put("initPid", initPid).put("init", init.map(Object::toString).orElse("")).step(Step.ACCEPTED);
        node.events().publish(event(Phase.ACCEPTED).setDetail(queuedMs > 0
                ? "waited " + queuedMs + " ms for a migration slot of " + node.config().node() : ""));
        log.info("migrating {} to {} in {} mode, waiting for the destination to prepare",
                workloadId, command.getDestinationNode(), mode);

        Optional<MigrationEvent> answer = node.peers().await(migrationId,
                e -> command.getDestinationNode().equals(e.getNode())
                        && (e.getPhase() == Phase.PREPARED || e.getPhase() == Phase.FAILED),
                node.config().prepareTimeout());
        if (answer.isEmpty()) {
            // nothing happened to the workload, but the move itself is impossible: FAILED, not ROLLED_BACK
            untouched(Phase.FAILED, "destination " + command.getDestinationNode() + " is unknown or down: no PREPARED within "
                    + node.config().prepareTimeout().toSeconds() + " s; the workload keeps running on " + node.config().node());
            return;
        }
        if (answer.get().getPhase() == Phase.FAILED) {
            untouched("destination refused: " + answer.get().getError());
            return;
        }
        PreparedEndpoint endpoint;
        try {
            endpoint = PreparedEndpoint.parse(answer.get().getEndpoint());
        } catch (IllegalArgumentException e) {
            untouched("destination sent an unusable endpoint: " + e.getMessage());
            return;
        }
        if (init.isEmpty()) {
            untouched("workload " + workloadId + " is no longer running here");
            return;
        }
        List<String> refusals = engine.refusals(initPid);
        if (!refusals.isEmpty()) {
            untouched("pmig cannot checkpoint " + workloadId + " here: " + String.join("; ", refusals));
            return;
        }

        // prepare: nothing is frozen until the destination has proven who it is and that it can take the workload
        TransferConnection connection;
        try {
            connection = TransferConnection.open(endpoint.transfer(), node.config().credentials(), migrationId, CONNECT_TIMEOUT);
        } catch (TransferException e) {
            untouched(e.getMessage());
            return;
        }
        try {
            strategy = handshake(connection, initPid);
            traffic = engine.frozenTraffic(workloadId, initPid);
            engine.beforeFreeze(connection, initPid, journal.dir());
        } catch (TransferException | CriuException | IOException | RuntimeException e) {
            abortQuietly(connection);
            untouched(e instanceof TransferException || e instanceof CriuException ? e.getMessage()
                    : "cannot prepare the move: " + e.getMessage());
            return;
        }
        Set<Integer> stoppedBefore = engine.stoppedTasks(initPid);
        Path images = journal.dir().resolve("images");
        Files.createDirectories(images);
        journal.put("stoppedBefore", stoppedBefore.stream().map(String::valueOf).collect(Collectors.joining(",")))
                .step(Step.CONNECTED);
        if (!node.exits().unwatch(workloadId) || !engine.isPresent(init.get())) {
            abortQuietly(connection);
            untouched("workload " + workloadId + " is no longer running here");
            return;
        }

        try {
            strategy.prepare(initPid, images); // read while it runs: the freeze starts with criu
        } catch (CriuException e) {
            abortQuietly(connection);
            untouched(e.getMessage());
            return;
        }

        // freeze + dump
        journal.step(Step.DUMPING);
        frozen = new FrozenSource(init.get(), stoppedBefore, images);
        traffic.hold(images); // new connections held from here: the workload still runs
        freezeStartNanos = System.nanoTime();
        try {
            strategy.dump(initPid, images);
        } catch (CriuException e) {
            abortQuietly(connection);
            rollback("checkpoint failed: " + e.getMessage(), null);
            return;
        }
        long dumpMs = millisSince(freezeStartNanos);
        DumpStats stats = DumpStats.read(images);
        long freezeMs = stats.freezingMicros() > 0 ? Math.max(1, (stats.freezingMicros() + 500) / 1000) : dumpMs;
        node.workloads().removePid(workloadId); // frozen here and about to move; the agent stops reporting it
        journal.step(Step.DUMPED);
        timings.setFreezeMs(freezeMs).setDumpMs(dumpMs);
        node.events().publishProgress(event(Phase.FROZEN));
        node.events().publishProgress(event(Phase.DUMPED).setBytesMoved(directorySize(images))
                .setDetail(journal.getInt("releaseBeforeRestore") == 1 ? "dumped locally, released before the restore:"
                        + " the workload holds network addresses and the destination shares this network namespace"
                        : "left stopped here until the destination commits"));
        log.info("checkpointed {} in {} ms (freeze {} ms), left stopped here until the destination commits; {}",
                workloadId, dumpMs, freezeMs, traffic.describe());

        // transfer, restore, commit
        try {
            List<Path> files = stageFiles(images);
            long transferStart = System.nanoTime();
            TransferReceipt receipt = connection.sendFiles(journal.dir(), files);
            bytesMoved = receipt.bytes() + (mode == MigrationMode.PAGE_SERVER && !strategy.transfersPages()
                    ? stats.pagesWritten() * 4096 : 0);
            timings.setTransferMs(millisSince(transferStart));
            node.events().publishProgress(event(Phase.TRANSFERRED).setBytesMoved(bytesMoved));
            log.info("sent {} files, {} bytes to {}", receipt.files(), receipt.bytes(), endpoint.transfer());
            strategy.withdrawAddress(); // off this node before the destination announces it, not earlier

            if (journal.getInt("releaseBeforeRestore") == 1) {
                // one network namespace, addresses held: the restore needs them (class comment)
                // the lock stays: the copy's restore takes over the connections it holds back
                engine.kill(initPid);
                released = true;
                journal.step(Step.RELEASED);
            }
            journal.step(Step.RESTORING);
            Map<String, String> restored = parseReply(connection.control("RESTORE", strategy.restoreArguments(), RESTORE_TIMEOUT));
            // the copy there is restored and announced: the rules must be gone before it resumes, not after the COMMIT's
            // answer (where nodes share a namespace they answered the resumed copy's clients with ICMP for ~1 s, measured)
            traffic.releaseSoon();
            timings.setRestoreMs(Long.parseLong(restored.getOrDefault("restoreMs", "0")));

            journal.put("commitSentMs", System.currentTimeMillis()).step(Step.COMMITTING);
            connection.control("COMMIT", Map.of(
                    "freezeMs", String.valueOf(timings.getFreezeMs()), "dumpMs", String.valueOf(timings.getDumpMs()),
                    "transferMs", String.valueOf(timings.getTransferMs()), "bytesMoved", String.valueOf(bytesMoved),
                    "downtimeMs", String.valueOf(millisSince(freezeStartNanos)),
                    "totalMs", String.valueOf(millisSince(startNanos)),
                    "keepStopped", journal.get("stoppedBefore")), node.config().commitTimeout());
            try {
                connection.finish();
            } catch (TransferException e) {
                log.debug("closing the transfer session: {}", e.getMessage());
            }
            completed();
        } catch (TransferException | IOException | RuntimeException e) {
            String why = e instanceof TransferException ? e.getMessage() : "source error: " + e;
            if (journal.step() == Step.COMMITTING) {
                // the COMMIT may have arrived: the settled commit decides (an error answer too: settling costs little)
                closeQuietly(connection);
                if (MigrationRecovery.destinationCommitted(node, journal)) {
                    log.info("no COMMIT answer ({}) but the destination's COMPLETED is committed", why);
                    completed();
                    return;
                }
            }
            rollback(why, connection);
        }
    }

    /**
     * HELLO: both sides' facts, checked before the freeze. Returns the mode's strategy - PLAIN's local dump in
     * place of the asked mode when the destination shares this network namespace and the workload holds
     * addresses (class comment).
     */
    private CheckpointStrategy handshake(TransferConnection connection, int initPid)
            throws TransferException, CriuException, IOException {
        boolean memoryOverCriu = (mode == MigrationMode.PAGE_SERVER || mode == MigrationMode.LAZY)
                && engine.carriesMemoryApart();
        if (memoryOverCriu && mode == MigrationMode.LAZY && engine.lazyPagesProblem().isPresent()) {
            throw new CriuException("LAZY mode is unavailable on " + node.config().node() + ": " + engine.lazyPagesProblem().get());
        }
        TlsIdentity tls = memoryOverCriu ? TlsIdentity.in(node.config().workdir().resolve("tls")) : null;
        boolean ownNetwork = engine.hasOwnNetwork(initPid);
        NodeFacts mine = NodeFacts.ofThisNode(engine.kind(), engine.version(), engine.residentBytes(initPid),
                engine.holdsNetworkAddresses(initPid), tls == null ? null : tls.certificatePem(), null)
                .withOwnNetwork(ownNetwork)
                .withNamespace(ownNetwork ? engine.namespaceBlueprint(initPid).orElse(null) : null);
        String reply = connection.control("HELLO", mine.toArguments(), HELLO_TIMEOUT);
        NodeFacts theirs;
        try {
            theirs = NodeFacts.verifiedReply(reply, node.config().credentials(), migrationId);
        } catch (IllegalArgumentException e) {
            throw new TransferException(e.getMessage(), false);
        }
        // the destination built the workload's namespace, equal to this one: criu leaves it out of the dump
        boolean namespaceBuilt = mine.namespace() != null && mine.namespace().equals(theirs.namespace());
        CheckpointEngine dumping = namespaceBuilt ? engine.withNamespaceBuiltByDestination() : engine;
        if (namespaceBuilt) {
            log.info("{} built the network namespace of {}: the dump leaves it out", command.getDestinationNode(), workloadId);
        }
        if (NodeFacts.releaseBeforeRestore(mine, theirs.network())) {
            log.info("{} holds network addresses and {} shares this network namespace: local dump, released before"
                    + " the restore", workloadId, command.getDestinationNode());
            journal.put("releaseBeforeRestore", 1);
            return dumping.localDump();
        }
        if (!memoryOverCriu) {
            return dumping.localDump();
        }
        if (theirs.tlsCert() == null) {
            throw new TransferException("the destination sent no TLS certificate for " + mode + " mode", false);
        }
        Path peerCert = TlsIdentity.writePeerCertificate(theirs.tlsCert(), journal.dir().resolve("peer-cert.pem"));
        List<String> tlsOptions = tls.criuOptions(peerCert);
        if (mode == MigrationMode.PAGE_SERVER) {
            if (theirs.pages() == null) {
                throw new TransferException("the destination prepared no page server for PAGE_SERVER mode", false);
            }
            return dumping.pageServerDump(pageAddress(theirs.pages()), tlsOptions);
        }
        java.net.InetAddress host = node.pageServerHost();
        PageServerAddress serveAt = new PageServerAddress(host.getHostAddress(), NodeServices.freePort(host));
        journal.put("lazyAddress", serveAt);
        return dumping.lazyDump(serveAt, tlsOptions);
    }

    private static PageServerAddress pageAddress(String text) {
        int colon = text.lastIndexOf(':');
        return new PageServerAddress(text.substring(0, colon), Integer.parseInt(text.substring(colon + 1)));
    }

    static Set<Integer> parsePids(String list) {
        if (list == null || list.isBlank()) {
            return Set.of();
        }
        return Arrays.stream(list.split(",")).map(String::strip).map(Integer::valueOf).collect(Collectors.toSet());
    }

    private static void abortQuietly(TransferConnection connection) {
        if (connection == null) {
            return;
        }
        try {
            connection.control("ABORT", Map.of(), Duration.ofSeconds(30));
            connection.finish();
        } catch (TransferException e) {
            log.debug("ABORT not acknowledged: {}", e.getMessage());
        }
        connection.close();
    }

    /** The workload directory travels as {@code workload/}, hard-linked (the source is dead, so it is consistent). */
    private List<Path> stageFiles(Path images) throws IOException {
        List<Path> files = new ArrayList<>();
        for (Path staged : WorkloadFiles.stage(node.workloads().dir(workloadId), journal.dir().resolve("workload"),
                WorkloadFiles.Staging.LINK, NodeWorkloads::isPidFile)) {
            files.add(journal.dir().relativize(staged));
        }
        stageDeclaredFiles(files);
        try (Stream<Path> walk = Files.list(images)) {
            walk.filter(Files::isRegularFile)
                    .filter(p -> !p.getFileName().toString().endsWith(".log") && !p.getFileName().toString().endsWith(".out")
                            && !p.getFileName().toString().startsWith("lazy-dump."))
                    // page-server mode: the pages are on the destination already
                    .filter(p -> !p.getFileName().toString().startsWith("pages-") && !p.getFileName().toString().startsWith("pagemap-")
                            || strategy.transfersPages())
                    .forEach(p -> files.add(journal.dir().relativize(p)));
        }
        return files;
    }

    /**
     * Declared files (outside the workload dir) travel as {@code declared/<absolute path>} plus the list
     * {@code declared.list}; the destination puts them back at the same paths before restoring.
     */
    private void stageDeclaredFiles(List<Path> files) throws IOException {
        List<Path> declared = node.workloads().declaredFiles(workloadId);
        if (declared.isEmpty()) {
            return;
        }
        Path staged = journal.dir().resolve(DeclaredFiles.DIR);
        NodeWorkloads.deleteTree(staged);
        List<String> names = new ArrayList<>();
        for (Path file : declared) {
            if (!Files.isRegularFile(file, java.nio.file.LinkOption.NOFOLLOW_LINKS)) {
                throw new IOException("declared file " + file + " is missing or not a regular file");
            }
            Path target = staged.resolve(file.toString().substring(1));
            Files.createDirectories(target.getParent());
            WorkloadFiles.copyFile(file, target);
            names.add(file.toString());
        }
        Files.write(journal.dir().resolve(DeclaredFiles.LIST), names);
        try (Stream<Path> walk = Files.walk(staged)) {
            walk.forEach(p -> files.add(journal.dir().relativize(p)));
        }
        files.add(Path.of(DeclaredFiles.LIST));
    }


    /** The destination runs the workload now: once it needs nothing more from here, the frozen copy goes. */
    private void completed() throws IOException, InterruptedException {
        traffic.release(); // the destination runs it and has announced its address
        if (!strategy.awaitHandedOver(node.config().sessionTimeout())) {
            log.error("{} committed on {} but did not fetch every page from here: it may have lost the workload",
                    workloadId, command.getDestinationNode());
        }
        if (frozen != null && !released) {
            engine.release(frozen);
        }
        log.info("migration of {} completed; the source copy is gone", workloadId);
        node.workloads().remove(workloadId);
        journal.delete();
        node.peers().forget(migrationId);
    }

    /** Nothing was frozen: the workload never stopped running here. */
    private void untouched(String why) throws IOException {
        untouched(Phase.ROLLED_BACK, why);
    }

    private void untouched(Phase phase, String why) throws IOException {
        log.warn("migration of {} abandoned before the freeze: {}", workloadId, why);
        node.workloads().pid(workloadId).ifPresent(pid -> node.exits().watch(workloadId, pid));
        // the outcome must reach the log even if the broker is away now (the journal keeps it for a restart)
        node.events().publishEventually(event(phase).setError(why)
                .setPid(node.workloads().pid(workloadId).orElse(0)), () -> deleteQuietly(journal));
    }

    /** Gives the workload back to this node after a failure before the commit. */
    void rollback(String why, TransferConnection connection) throws IOException, InterruptedException {
        log.warn("rolling back {}: {}", workloadId, why);
        journal.step(Step.ROLLING_BACK);
        if (strategy != null) {
            strategy.abandon();
        }
        traffic.release(); // before the resume: the workload's own answers must reach its clients again
        RecoveryDecision.SourceAction action = RecoveryDecision.forSource(Step.ROLLING_BACK, false,
                frozen != null && engine.isPresent(frozen), released, true);
        switch (action) {
            case RESUME_FROZEN -> {
                int pid = engine.resume(frozen);
                if (pid != 0) {
                    rolledBack(node, journal, pid, why, timings);
                    abortQuietly(connection); // the destination's copy is stopped and never resumes without COMMIT
                } else {
                    abortQuietly(connection);
                    lost(node, journal, why + "; the frozen tree vanished", timings);
                }
            }
            case RESTORE_LOCAL_IMAGES -> {
                abortQuietly(connection); // its copy must be gone before ours is restored
                restoreLocally(node, engine, journal, why, timings);
            }
            default -> {
                abortQuietly(connection);
                lost(node, journal, why + "; the frozen tree is gone", timings);
            }
        }
    }

    /** The frozen tree runs again here: ROLLED_BACK. Shared with recovery. */
    static void rolledBack(NodeServices node, MigrationJournal journal, int initPid, String why, PhaseTimings.Builder timings)
            throws IOException {
        String workloadId = journal.get("workloadId");
        node.workloads().writePid(workloadId, initPid);
        node.exits().watch(workloadId, initPid);
        log.info("rolled back: {} runs here again as pid {}", workloadId, initPid);
        node.events().publishEventually(node.events().event(journal.get("commandId"), journal.get("migrationId"), workloadId,
                        Phase.ROLLED_BACK)
                .setMode(MigrationMode.valueOf(journal.get("mode")))
                .setSourceNode(node.config().node()).setDestinationNode(journal.get("destination"))
                .setTimings(timings.build()).setPid(initPid).setError(why), () -> deleteQuietly(journal));
    }

    private static void deleteQuietly(MigrationJournal journal) {
        try {
            journal.delete();
        } catch (IOException e) {
            log.warn("cannot delete the journal in {}: {}", journal.dir(), e.getMessage());
        }
    }

    static void lost(NodeServices node, MigrationJournal journal, String why, PhaseTimings.Builder timings) {
        String workloadId = journal.get("workloadId");
        node.events().publishEventually(node.events().event(journal.get("commandId"), journal.get("migrationId"), workloadId,
                        Phase.FAILED)
                .setMode(MigrationMode.valueOf(journal.get("mode")))
                .setSourceNode(node.config().node()).setDestinationNode(journal.get("destination"))
                .setTimings(timings.build()).setError("workload lost: " + why), () -> { });
        log.error("workload {} lost: {} (journal kept in {})", workloadId, why, journal.dir());
    }

    /** Restores the checkpoint in the journal's directory on this node, after the frozen tree was released. */
    static void restoreLocally(NodeServices node, CheckpointEngine engine, MigrationJournal journal, String why,
                               PhaseTimings.Builder timings)
            throws IOException, InterruptedException {
        String workloadId = journal.get("workloadId");
        Path images = journal.dir().resolve("images");
        Path dir = node.workloads().dir(workloadId);
        CriuException last = null;
        // a destination that is still tearing down its stopped copy may briefly hold the same TCP 4-tuples
        for (int attempt = 1; attempt <= 3; attempt++) {
            try {
                long t = System.nanoTime();
                int pid = engine.restore(images, dir, false, false, "rollback-" + attempt + ".log");
                timings.setRestoreMs(millisSince(t));
                rolledBack(node, journal, pid, why, timings);
                return;
            } catch (CriuException e) {
                last = e;
                log.warn("rollback restore attempt {} failed: {}", attempt, e.getMessage());
                Thread.sleep(1000);
            }
        }
        // the workload is given up: nothing will unlock its connections any more
        engine.networkLock(images).ifPresent(engine::unlockNetwork);
        lost(node, journal, why + "; rollback failed: " + last.getMessage(), timings);
    }

    private MigrationEvent.Builder event(Phase phase) {
        return node.events().event(command.getCommandId(), migrationId, workloadId, phase)
                .setMode(mode).setSourceNode(node.config().node()).setDestinationNode(command.getDestinationNode())
                .setTimings(timings.setTotalMs(millisSince(startNanos))
                        .setDowntimeMs(freezeStartNanos == 0 ? 0 : millisSince(freezeStartNanos)).build());
    }

    /** Reads a control reply of the form {@code key=value;key=value}. */
    public static Map<String, String> parseReply(String reply) {
        Map<String, String> values = new HashMap<>();
        for (String part : reply.split(";")) {
            String[] kv = part.split("=", 2);
            if (kv.length == 2) {
                values.put(kv[0].strip(), kv[1].strip());
            }
        }
        return values;
    }

    public static long millisSince(long nanos) {
        return (System.nanoTime() - nanos) / 1_000_000;
    }

    private static long directorySize(Path dir) {
        try (Stream<Path> files = Files.walk(dir)) {
            return files.filter(Files::isRegularFile).mapToLong(p -> p.toFile().length()).sum();
        } catch (IOException e) {
            return 0;
        }
    }

    private static void closeQuietly(TransferConnection connection) {
        if (connection != null) {
            connection.close();
        }
    }
}
