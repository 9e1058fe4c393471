package io.pmig.executor.migration;

import io.pmig.executor.ExecutorConfig.RestoreFault;
import io.pmig.executor.criu.BackgroundCriu;
import io.pmig.executor.criu.Criu;
import io.pmig.executor.criu.PageServerAddress;
import io.pmig.executor.criu.CriuException;
import io.pmig.executor.criu.DumpStats;
import io.pmig.executor.migration.MigrationJournal.Role;
import io.pmig.executor.migration.MigrationJournal.Step;
import io.pmig.executor.transfer.TransferConnection;
import io.pmig.executor.transfer.TransferException;
import io.pmig.executor.transfer.TransferReceipt;
import io.pmig.executor.transfer.TransferSession;
import io.pmig.executor.transfer.WorkloadFiles;
import io.pmig.executor.workload.NodeWorkloads;
import io.pmig.executor.workload.ProcessTable;
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
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.OptionalInt;
import java.util.stream.Stream;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * The source's half of one migration: wait for the destination's PREPARED, checkpoint, send the images and the
 * workload's directory, ask the destination to RESTORE and then to COMMIT. Until the destination has published
 * COMPLETED, the source's checkpoint is the workload: every failure restores it here (ROLLED_BACK).
 *
 * <p>Page-server mode sends memory straight to the destination's criu page server, so the source keeps no pages.
 * A rollback then first asks the destination to send the pages back over the still-open authenticated connection
 * (RETURN_PAGES). If that connection is gone - destination dead or the network cut - the pages are gone with it and
 * the workload is lost (FAILED). That is the price of moving memory only once; PLAIN keeps a full local checkpoint
 * and can always roll back.
 *
 * <p>LAZY mode (post-copy) gives the lowest downtime but the weakest guarantee: once the destination's restore has
 * started, this node's {@code criu dump --lazy-pages} holds the only copy of the memory until every page has moved,
 * and a crash of this node in that window loses the workload. Before the restore starts, stopping the dump resumes
 * the workload here. See {@code runLazy} and CRIU-NOTES.md.
 */
public final class SourceMigration {

    private static final Logger log = LoggerFactory.getLogger(SourceMigration.class);
    private static final Duration CONNECT_TIMEOUT = Duration.ofSeconds(30);
    private static final Duration RESTORE_TIMEOUT = Duration.ofMinutes(5);
    private static final Duration COMMIT_TIMEOUT = Duration.ofSeconds(60);
    private static final Duration LAZY_READY_TIMEOUT = Duration.ofMinutes(5);

    private final NodeServices node;
    private final MigrationCommand command;
    private final String migrationId;
    private final String workloadId;
    private final MigrationMode mode;
    private final MigrationJournal journal;
    private final PhaseTimings.Builder timings = PhaseTimings.newBuilder();
    private long startNanos;
    private long freezeStartNanos;
    private long bytesMoved;

    private SourceMigration(NodeServices node, MigrationCommand command, MigrationJournal journal) {
        this.node = node;
        this.command = command;
        this.migrationId = command.getCommandId();
        this.workloadId = command.getWorkloadId();
        this.mode = command.getMode();
        this.journal = journal;
    }

    public static SourceMigration create(NodeServices node, MigrationCommand command) throws IOException {
        MigrationJournal journal = MigrationJournal.create(node.config().workdir(), command.getCommandId(), Role.SOURCE);
        journal.put("workloadId", command.getWorkloadId()).put("commandId", command.getCommandId())
                .put("destination", command.getDestinationNode()).put("mode", command.getMode().name());
        return new SourceMigration(node, command, journal);
    }

    public void run() throws IOException, InterruptedException {
        startNanos = System.nanoTime();
        int initPid = node.workloads().pid(workloadId).orElse(0);
        journal.put("initPid", initPid).step(Step.ACCEPTED);
        node.events().publish(event(Phase.ACCEPTED));
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
        if (mode == MigrationMode.PAGE_SERVER && endpoint.pages() == null) {
            untouched("destination prepared no page server for PAGE_SERVER mode");
            return;
        }
        if (mode == MigrationMode.LAZY && node.config().criu().lazyPagesProblem().isPresent()) {
            untouched("LAZY mode is unavailable on " + node.config().node() + ": "
                    + node.config().criu().lazyPagesProblem().get());
            return;
        }

        Path images = journal.dir().resolve("images");
        Files.createDirectories(images);
        if (!node.exits().unwatch(workloadId) || !ProcessTable.isAlive(initPid)) {
            untouched("workload " + workloadId + " is no longer running here");
            return;
        }
        if (mode == MigrationMode.LAZY) {
            runLazy(endpoint, initPid, images);
            return;
        }
        journal.step(Step.DUMPING);
        freezeStartNanos = System.nanoTime();
        try {
            node.config().criu().dump(initPid, images, mode == MigrationMode.PAGE_SERVER ? endpoint.pages() : null);
        } catch (CriuException e) {
            if (ProcessTable.isAlive(initPid)) {
                // criu resumes the tree when a dump fails before killing it: nothing was lost
                node.exits().watch(workloadId, initPid);
                untouched("checkpoint failed: " + e.getMessage());
            } else {
                rollback("checkpoint failed: " + e.getMessage(), null);
            }
            return;
        }
        long dumpMs = millisSince(freezeStartNanos);
        DumpStats stats = DumpStats.read(images);
        long freezeMs = stats.freezingMicros() > 0 ? Math.max(1, (stats.freezingMicros() + 500) / 1000) : dumpMs;
        node.workloads().removePid(workloadId); // not running here any more; the agent stops reporting it
        journal.step(Step.DUMPED);
        timings.setFreezeMs(freezeMs).setDumpMs(dumpMs);
        node.events().publishProgress(event(Phase.FROZEN));
        node.events().publishProgress(event(Phase.DUMPED).setBytesMoved(directorySize(images)));
        log.info("checkpointed {} in {} ms (freeze {} ms)", workloadId, dumpMs, freezeMs);
        if (node.config().restoreFault() == RestoreFault.CRASH_SOURCE_AFTER_DUMP) {
            throw new SimulatedCrash("source executor 'crashed' after DUMPED (fault injection)");
        }

        TransferConnection connection = null;
        try {
            List<Path> files = stageFiles(images);
            long transferStart = System.nanoTime();
            connection = TransferConnection.open(endpoint.transfer(), node.config().credentials(), migrationId, CONNECT_TIMEOUT);
            TransferReceipt receipt = connection.sendFiles(journal.dir(), files);
            bytesMoved = receipt.bytes() + (mode == MigrationMode.PAGE_SERVER ? stats.pagesWritten() * 4096 : 0);
            timings.setTransferMs(millisSince(transferStart));
            node.events().publishProgress(event(Phase.TRANSFERRED).setBytesMoved(bytesMoved));
            log.info("sent {} files, {} bytes to {}", receipt.files(), receipt.bytes(), endpoint.transfer());

            journal.step(Step.RESTORING);
            Map<String, String> restored = parseReply(connection.control("RESTORE", Map.of(), RESTORE_TIMEOUT));
            timings.setRestoreMs(Long.parseLong(restored.getOrDefault("restoreMs", "0")));

            journal.step(Step.COMMITTING);
            String downtime = String.valueOf(millisSince(freezeStartNanos));
            connection.control("COMMIT", Map.of(
                    "freezeMs", String.valueOf(timings.getFreezeMs()), "dumpMs", String.valueOf(timings.getDumpMs()),
                    "transferMs", String.valueOf(timings.getTransferMs()), "bytesMoved", String.valueOf(bytesMoved),
                    "downtimeMs", downtime, "totalMs", String.valueOf(millisSince(startNanos))), COMMIT_TIMEOUT);
            try {
                connection.finish();
            } catch (TransferException e) {
                log.debug("closing the transfer session: {}", e.getMessage());
            }
            completed();
        } catch (TransferException | IOException | RuntimeException e) {
            String why = e instanceof TransferException ? e.getMessage() : "source error: " + e;
            if (journal.step() == Step.COMMITTING && node.history().completed(workloadId, migrationId)) {
                log.info("COMMIT reply lost ({}) but the destination published COMPLETED", why);
                closeQuietly(connection);
                completed();
                return;
            }
            rollback(why, connection);
        }
    }

    /**
     * LAZY (post-copy): criu dumps everything but the memory and keeps the tree frozen while it serves the pages at
     * this node's transfer host; the destination restores at once (stopped) and its lazy-pages daemon pulls the
     * pages. Lowest downtime - the freeze lasts only as long as the small images take - but until this node's
     * {@code criu dump} exits it holds the only copy of the memory: a crash of this node (or of that criu) after
     * the restore started loses the workload. Before the restore starts, stopping the dump resumes the tree here.
     */
    private void runLazy(PreparedEndpoint endpoint, int initPid, Path images) throws IOException, InterruptedException {
        PageServerAddress serveAt;
        try {
            java.net.InetAddress host = node.pageServerHost();
            serveAt = new PageServerAddress(host.getHostAddress(), NodeServices.freePort(host));
        } catch (IOException e) {
            untouched("no address for the lazy page source: " + e.getMessage());
            return;
        }
        journal.put("lazyAddress", serveAt).step(Step.DUMPING);
        freezeStartNanos = System.nanoTime();
        BackgroundCriu dump;
        try {
            dump = node.config().criu().startLazyDump(initPid, images, serveAt, LAZY_READY_TIMEOUT);
        } catch (CriuException e) {
            abandonLazyDump(null, initPid, "checkpoint failed: " + e.getMessage());
            return;
        }
        long dumpMs = millisSince(freezeStartNanos);
        node.workloads().removePid(workloadId); // frozen here and about to move; the agent stops reporting it
        journal.put("lazyDumpPid", dump.pid()).step(Step.DUMPED);
        timings.setFreezeMs(dumpMs).setDumpMs(dumpMs);
        node.events().publishProgress(event(Phase.FROZEN));
        node.events().publishProgress(event(Phase.DUMPED).setBytesMoved(directorySize(images)));
        log.info("lazy dump of {} ready in {} ms; serving its pages at {}", workloadId, dumpMs, serveAt);

        TransferConnection connection = null;
        try {
            List<Path> files = stageFiles(images);
            long transferStart = System.nanoTime();
            connection = TransferConnection.open(endpoint.transfer(), node.config().credentials(), migrationId, CONNECT_TIMEOUT);
            TransferReceipt receipt = connection.sendFiles(journal.dir(), files);
            bytesMoved = receipt.bytes();
            timings.setTransferMs(millisSince(transferStart));
            node.events().publishProgress(event(Phase.TRANSFERRED).setBytesMoved(bytesMoved));
        } catch (TransferException | IOException | RuntimeException e) {
            abortQuietly(connection);
            abandonLazyDump(dump, initPid, e instanceof TransferException ? e.getMessage() : "source error: " + e);
            return;
        }

        // point of no return for killing the dump: the destination may fetch pages from here on
        journal.step(Step.RESTORING);
        try {
            Map<String, String> restored = parseReply(connection.control("RESTORE",
                    Map.of("lazyPages", serveAt.toString()), RESTORE_TIMEOUT));
            timings.setRestoreMs(Long.parseLong(restored.getOrDefault("restoreMs", "0")));
        } catch (TransferException e) {
            closeQuietly(connection);
            if (!e.retriable()) {
                // the destination answered: its restore failed and it killed what it had restored
                abandonLazyDump(dump, initPid, e.getMessage());
            } else {
                lazyOutcomeUnknown(dump, initPid, e.getMessage());
            }
            return;
        }
        journal.step(Step.COMMITTING);
        try {
            connection.control("COMMIT", Map.of(
                    "freezeMs", String.valueOf(timings.getFreezeMs()), "dumpMs", String.valueOf(timings.getDumpMs()),
                    "transferMs", String.valueOf(timings.getTransferMs()), "bytesMoved", String.valueOf(bytesMoved),
                    "downtimeMs", String.valueOf(millisSince(freezeStartNanos)),
                    "totalMs", String.valueOf(millisSince(startNanos))), COMMIT_TIMEOUT);
            connection.finish();
        } catch (TransferException e) {
            closeQuietly(connection);
            lazyOutcomeUnknown(dump, initPid, e.getMessage());
            return;
        }
        long committedNanos = System.nanoTime();
        OptionalInt rc = dump.awaitExit(node.config().sessionTimeout());
        if (rc.isPresent() && rc.getAsInt() == 0) {
            log.info("every page of {} reached the destination {} ms after the commit", workloadId,
                    millisSince(committedNanos));
        } else {
            // the destination published COMPLETED and owns the workload; never let criu's resumed tree run too
            dump.kill();
            ProcessTable.killNamespace(initPid);
            node.events().publish(event(Phase.FAILED).setError("lazy page transfer failed after COMPLETED (criu dump "
                    + (rc.isPresent() ? "exit " + rc.getAsInt() : "still running") + ": " + dump.errors()
                    + "); the copy on " + command.getDestinationNode() + " may fault on a missing page"));
        }
        completed();
    }

    /**
     * The restore may have started and its outcome is unknown: let the dump run to its end. Exit 0 means every page
     * reached the destination and criu killed the tree here - the destination owns the workload (it commits on its
     * own once it holds every page). Otherwise the destination's lazy-pages daemon failed, it kills its copy, and
     * stopping the dump resumes the tree here.
     */
    private void lazyOutcomeUnknown(BackgroundCriu dump, int initPid, String why) throws IOException, InterruptedException {
        log.warn("LAZY migration of {} interrupted after the restore was requested ({}); waiting for criu dump to end",
                workloadId, why);
        OptionalInt rc = dump.awaitExit(node.config().sessionTimeout());
        if (rc.isPresent() && rc.getAsInt() == 0) {
            if (awaitDestinationCompleted()) {
                completed();
            } else {
                node.events().publish(event(Phase.FAILED).setError(why + "; every page went to "
                        + command.getDestinationNode() + " but it reported no COMPLETED"));
                node.workloads().remove(workloadId);
                journal.delete();
            }
            return;
        }
        abandonLazyDump(dump, initPid, why);
    }

    /** Stops a lazy dump that must not finish: criu resumes the tree here; its network lock is removed by hand. */
    private void abandonLazyDump(BackgroundCriu dump, int initPid, String why) throws IOException, InterruptedException {
        if (dump != null && dump.isRunning()) {
            dump.terminate();
            if (dump.awaitExit(Duration.ofSeconds(30)).isEmpty()) {
                dump.kill();
                dump.awaitExit(Duration.ofSeconds(10));
            }
        }
        resumeAfterLazyDump(node, journal, initPid, why, timings);
    }

    /** After a lazy dump ended without handing the workload over; shared with recovery. */
    static void resumeAfterLazyDump(NodeServices node, MigrationJournal journal, int initPid, String why,
                                    PhaseTimings.Builder timings) throws IOException {
        String workloadId = journal.get("workloadId");
        Path images = journal.dir().resolve("images");
        MigrationEvent.Builder event;
        if (ProcessTable.isAlive(initPid)) {
            // a lazy dump stopped early leaves its lock table; the tree runs again, so its connections must flow
            Criu.lockTable(images).ifPresent(node.config().criu()::deleteLockTable);
            node.workloads().writePid(workloadId, initPid);
            node.exits().watch(workloadId, initPid);
            log.info("lazy dump stopped: {} runs here again as pid {}", workloadId, initPid);
            event = node.events().event(journal.get("commandId"), journal.get("migrationId"), workloadId,
                    Phase.ROLLED_BACK).setPid(initPid).setError(why);
        } else {
            Criu.lockTable(images).ifPresent(node.config().criu()::deleteLockTable);
            log.error("workload {} lost: the lazy dump ended and the tree is gone ({})", workloadId, why);
            event = node.events().event(journal.get("commandId"), journal.get("migrationId"), workloadId, Phase.FAILED)
                    .setError("workload lost: " + why + "; the lazy dump ended without handing the workload over");
            node.workloads().remove(workloadId);
        }
        node.events().publish(event.setMode(MigrationMode.LAZY).setSourceNode(node.config().node())
                .setDestinationNode(journal.get("destination")).setTimings(timings.build()));
        journal.delete();
    }

    private boolean awaitDestinationCompleted() throws InterruptedException {
        return node.peers().await(migrationId, e -> e.getPhase() == Phase.COMPLETED, COMMIT_TIMEOUT).isPresent()
                || node.history().completed(workloadId, migrationId);
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
                            || mode != MigrationMode.PAGE_SERVER)
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

    private void completed() throws IOException {
        log.info("migration of {} completed; deleting the source copy", workloadId);
        node.workloads().remove(workloadId);
        journal.delete();
        node.peers().forget(migrationId);
    }

    /** Nothing was checkpointed: the workload never stopped running here. */
    private void untouched(String why) throws IOException {
        untouched(Phase.ROLLED_BACK, why);
    }

    private void untouched(Phase phase, String why) throws IOException {
        log.warn("migration of {} abandoned before the checkpoint: {}", workloadId, why);
        node.workloads().pid(workloadId).ifPresent(pid -> node.exits().watch(workloadId, pid));
        node.events().publish(event(phase).setError(why)
                .setPid(node.workloads().pid(workloadId).orElse(0)));
        journal.delete();
    }

    /** Restores this node's checkpoint after a failure (the workload is then running here again). */
    void rollback(String why, TransferConnection connection) throws IOException, InterruptedException {
        log.warn("rolling back {}: {}", workloadId, why);
        journal.step(Step.ROLLING_BACK);
        Path images = journal.dir().resolve("images");
        if (connection != null) {
            if (mode == MigrationMode.PAGE_SERVER && !hasPages(images)) {
                fetchPagesBack(connection, images);
            }
            try {
                connection.control("ABORT", Map.of(), Duration.ofSeconds(30));
                connection.finish();
            } catch (TransferException e) {
                log.debug("ABORT not acknowledged: {}", e.getMessage());
            }
            closeQuietly(connection);
        }
        restoreLocally(node, journal, why, timings);
    }

    /** Restores the checkpoint in the journal's directory on this node; used by rollback and by recovery. */
    static void restoreLocally(NodeServices node, MigrationJournal journal, String why, PhaseTimings.Builder timings)
            throws IOException, InterruptedException {
        String workloadId = journal.get("workloadId");
        Path images = journal.dir().resolve("images");
        Path dir = node.workloads().dir(workloadId);
        CriuException last = null;
        // a destination that is still tearing down its stopped copy may briefly hold the same TCP 4-tuples
        for (int attempt = 1; attempt <= 3; attempt++) {
            try {
                long t = System.nanoTime();
                int pid = node.config().criu().restore(images, dir, false, "rollback-" + attempt + ".log");
                timings.setRestoreMs(millisSince(t));
                node.workloads().writePid(workloadId, pid);
                node.exits().watch(workloadId, pid);
                node.events().publish(node.events().event(journal.get("commandId"), journal.get("migrationId"),
                                workloadId, Phase.ROLLED_BACK)
                        .setMode(MigrationMode.valueOf(journal.get("mode")))
                        .setSourceNode(node.config().node()).setDestinationNode(journal.get("destination"))
                        .setTimings(timings.build()).setPid(pid).setError(why));
                log.info("rolled back: {} runs here again as pid {}", workloadId, pid);
                journal.delete();
                return;
            } catch (CriuException e) {
                last = e;
                log.warn("rollback restore attempt {} failed: {}", attempt, e.getMessage());
                Thread.sleep(1000);
            }
        }
        // the workload is given up: nothing will unlock its connections any more
        Criu.lockTable(images).ifPresent(node.config().criu()::deleteLockTable);
        node.events().publish(node.events().event(journal.get("commandId"), journal.get("migrationId"), workloadId,
                        Phase.FAILED)
                .setMode(MigrationMode.valueOf(journal.get("mode")))
                .setSourceNode(node.config().node()).setDestinationNode(journal.get("destination"))
                .setError("workload lost: " + why + "; rollback failed: " + last.getMessage()));
        log.error("workload {} lost: {}; rollback failed: {} (images kept in {})", workloadId, why, last.getMessage(),
                journal.dir());
    }

    private void fetchPagesBack(TransferConnection connection, Path images) {
        Path returned = journal.dir().resolve("returned");
        String sessionId = migrationId + ".pages";
        try (TransferSession session = node.transfer().openSession(sessionId, returned, (verb, args) -> "")) {
            connection.control("RETURN_PAGES", Map.of("session", sessionId,
                    "to", node.advertised().getHostString() + ":" + node.advertised().getPort()),
                    RESTORE_TIMEOUT);
            session.awaitClosed(Duration.ofSeconds(30));
            try (Stream<Path> files = Files.list(returned.resolve("images"))) {
                for (Path p : files.toList()) {
                    Files.move(p, images.resolve(p.getFileName()));
                }
            }
            log.info("fetched the pages back from the destination ({} bytes)", session.receipt().bytes());
        } catch (TransferException | IOException e) {
            log.error("cannot fetch the pages back from the destination: {}", e.getMessage());
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
        }
    }

    static boolean hasPages(Path images) throws IOException {
        try (Stream<Path> files = Files.list(images)) {
            return files.anyMatch(p -> p.getFileName().toString().startsWith("pages-"));
        }
    }

    private MigrationEvent.Builder event(Phase phase) {
        return node.events().event(command.getCommandId(), migrationId, workloadId, phase)
                .setMode(mode).setSourceNode(node.config().node()).setDestinationNode(command.getDestinationNode())
                .setTimings(timings.setTotalMs(millisSince(startNanos))
                        .setDowntimeMs(freezeStartNanos == 0 ? 0 : millisSince(freezeStartNanos)).build());
    }

    /** Reads a control reply of the form {@code key=value;key=value}. */
    public static Map<String, String> parseReply(String reply) {
        Map<String, String> values = new java.util.HashMap<>();
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

    /** Fault injection: the migration thread stops dead, leaving its journal as a killed executor would. */
    public static final class SimulatedCrash extends RuntimeException {
        SimulatedCrash(String message) {
            super(message);
        }
    }
}
