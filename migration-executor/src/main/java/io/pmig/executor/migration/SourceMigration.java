package io.pmig.executor.migration;

import io.pmig.executor.criu.Criu;
import io.pmig.executor.criu.CriuException;
import io.pmig.executor.criu.DumpStats;
import io.pmig.executor.migration.MigrationJournal.Role;
import io.pmig.executor.migration.MigrationJournal.Step;
import io.pmig.executor.transfer.TransferConnection;
import io.pmig.executor.transfer.TransferException;
import io.pmig.executor.transfer.TransferReceipt;
import io.pmig.executor.transfer.TransferSession;
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
 */
public final class SourceMigration {

    private static final Logger log = LoggerFactory.getLogger(SourceMigration.class);
    private static final Duration CONNECT_TIMEOUT = Duration.ofSeconds(30);
    private static final Duration RESTORE_TIMEOUT = Duration.ofMinutes(5);
    private static final Duration COMMIT_TIMEOUT = Duration.ofSeconds(60);

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
            untouched("destination " + command.getDestinationNode() + " did not prepare within "
                    + node.config().prepareTimeout().toSeconds() + " s");
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
        if (mode == MigrationMode.LAZY) {
            untouched("LAZY mode is not implemented by this executor (use PAGE_SERVER or PLAIN)");
            return;
        }

        Path images = journal.dir().resolve("images");
        Files.createDirectories(images);
        if (!node.exits().unwatch(workloadId) || !ProcessTable.isAlive(initPid)) {
            untouched("workload " + workloadId + " is no longer running here");
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
        node.events().publish(event(Phase.FROZEN));
        node.events().publish(event(Phase.DUMPED).setBytesMoved(directorySize(images)));
        log.info("checkpointed {} in {} ms (freeze {} ms)", workloadId, dumpMs, freezeMs);

        TransferConnection connection = null;
        try {
            List<Path> files = stageFiles(images);
            long transferStart = System.nanoTime();
            connection = TransferConnection.open(endpoint.transfer(), node.config().credentials(), migrationId, CONNECT_TIMEOUT);
            TransferReceipt receipt = connection.sendFiles(journal.dir(), files);
            bytesMoved = receipt.bytes() + (mode == MigrationMode.PAGE_SERVER ? stats.pagesWritten() * 4096 : 0);
            timings.setTransferMs(millisSince(transferStart));
            node.events().publish(event(Phase.TRANSFERRED).setBytesMoved(bytesMoved));
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

    /** The workload directory travels as {@code workload/}, hard-linked (the source is dead, so it is consistent). */
    private List<Path> stageFiles(Path images) throws IOException {
        Path staged = journal.dir().resolve("workload");
        NodeWorkloads.deleteTree(staged);
        Path source = node.workloads().dir(workloadId);
        List<Path> files = new ArrayList<>();
        try (Stream<Path> walk = Files.walk(source)) {
            for (Path p : walk.toList()) {
                Path rel = source.relativize(p);
                Path target = staged.resolve(rel.toString());
                if (Files.isDirectory(p, java.nio.file.LinkOption.NOFOLLOW_LINKS)) {
                    Files.createDirectories(target);
                } else if (Files.isRegularFile(p, java.nio.file.LinkOption.NOFOLLOW_LINKS)
                        && !rel.toString().startsWith(NodeWorkloads.PID_FILE)) {
                    try {
                        Files.createLink(target, p);
                    } catch (IOException | UnsupportedOperationException e) {
                        Files.copy(p, target);
                    }
                    files.add(journal.dir().relativize(target));
                }
            }
        }
        try (Stream<Path> walk = Files.list(images)) {
            walk.filter(Files::isRegularFile)
                    .filter(p -> !p.getFileName().toString().endsWith(".log") && !p.getFileName().toString().endsWith(".out"))
                    // page-server mode: the pages are on the destination already
                    .filter(p -> !p.getFileName().toString().startsWith("pages-") && !p.getFileName().toString().startsWith("pagemap-")
                            || mode != MigrationMode.PAGE_SERVER)
                    .forEach(p -> files.add(journal.dir().relativize(p)));
        }
        return files;
    }

    private void completed() throws IOException {
        log.info("migration of {} completed; deleting the source copy", workloadId);
        node.workloads().remove(workloadId);
        journal.delete();
        node.peers().forget(migrationId);
    }

    /** Nothing was checkpointed: the workload never stopped running here. */
    private void untouched(String why) throws IOException {
        log.warn("migration of {} abandoned before the checkpoint: {}", workloadId, why);
        node.workloads().pid(workloadId).ifPresent(pid -> node.exits().watch(workloadId, pid));
        node.events().publish(event(Phase.ROLLED_BACK).setError(why)
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

    static Map<String, String> parseReply(String reply) {
        Map<String, String> values = new java.util.HashMap<>();
        for (String part : reply.split(";")) {
            String[] kv = part.split("=", 2);
            if (kv.length == 2) {
                values.put(kv[0].strip(), kv[1].strip());
            }
        }
        return values;
    }

    static long millisSince(long nanos) {
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
