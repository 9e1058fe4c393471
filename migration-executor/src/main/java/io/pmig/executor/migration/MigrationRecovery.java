package io.pmig.executor.migration;

import io.pmig.executor.migration.MigrationJournal.Role;
import io.pmig.executor.migration.MigrationJournal.Step;
import io.pmig.executor.workload.NodeWorkloads;
import io.pmig.executor.workload.ProcessTable;
import io.pmig.schemas.MigrationMode;
import io.pmig.schemas.Phase;
import io.pmig.schemas.PhaseTimings;
import java.io.IOException;
import io.pmig.executor.criu.BackgroundCriu;
import io.pmig.executor.workload.WorkloadIdentity;
import java.util.Optional;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.OptionalInt;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;
import org.slf4j.MDC;

/**
 * Finishes or rolls back, at start-up, the migrations a previous run of this executor left in its journals.
 * Source: a workload that was never frozen keeps running; a frozen one is resumed unless the destination's
 * events say it committed, and then it is killed. Destination: a copy whose COMPLETED was published is resumed,
 * anything else killed (and a COMPLETED that may still land is overruled with ROLLED_BACK).
 */
public final class MigrationRecovery {

    private static final Logger log = LoggerFactory.getLogger(MigrationRecovery.class);
    private static final java.time.Duration RECOVERY_CRIU_WAIT = java.time.Duration.ofMinutes(2);

    private MigrationRecovery() {
    }

    public static void recover(NodeServices node) throws IOException, InterruptedException {
        for (MigrationJournal journal : MigrationJournal.all(node.config().workdir())) {
            MDC.put("migration", journal.get("migrationId"));
            try {
                if (journal.role() == Role.SOURCE) {
                    recoverSource(node, journal);
                } else {
                    recoverDestination(node, journal);
                }
            } catch (IOException | RuntimeException e) {
                // one journal must not keep the node from starting; it stays for the next start
                log.error("cannot recover migration from {}: {}", journal.dir(), e.toString(), e);
            } finally {
                MDC.remove("migration");
            }
        }
    }

    private static void recoverSource(NodeServices node, MigrationJournal journal) throws IOException, InterruptedException {
        String workloadId = journal.get("workloadId");
        Step step = journal.step();
        Path images = journal.dir().resolve("images");
        log.info("recovering source side of the migration of {} (stopped at {})", workloadId, step);
        // criu outlives a killed executor: a dump finishes (tree left stopped), a lazy dump serves pages until the
        // destination has them all - or is stopped now if the restore was never asked for
        if (MigrationMode.LAZY.name().equals(journal.get("mode"))) {
            int dumpPid = BackgroundCriu.pid(images, "lazy-dump");
            if (isCriu(dumpPid) && step != Step.RESTORING && step != Step.COMMITTING) {
                ProcessTable.signal("TERM", List.of(dumpPid));
            }
            long deadline = System.nanoTime() + node.config().sessionTimeout().toNanos();
            while (isCriu(dumpPid) && System.nanoTime() < deadline) {
                Thread.sleep(100);
            }
            if (isCriu(dumpPid)) {
                ProcessTable.signal("KILL", List.of(dumpPid));
            }
        } else {
            awaitCriu(images, "dump", RECOVERY_CRIU_WAIT);
        }
        String why = "executor restarted mid-migration";
        Optional<FrozenSource> frozen = frozenSource(journal);
        boolean committed = step == Step.COMMITTING && destinationCommitted(node, journal);
        boolean released = journal.getInt("releaseBeforeRestore") == 1
                && (step == Step.RELEASED || step == Step.RESTORING || step == Step.COMMITTING || step == Step.ROLLING_BACK);
        RecoveryDecision.SourceAction action = RecoveryDecision.forSource(step, committed,
                frozen.map(FrozenSource::isPresent).orElse(false), released, Files.exists(images.resolve("inventory.img")));
        log.info("{}: {}", why, action);
        switch (action) {
            case KEEP_RUNNING -> {
                node.events().publish(node.events().event(journal.get("commandId"), journal.get("migrationId"), workloadId,
                                Phase.ROLLED_BACK)
                        .setMode(MigrationMode.valueOf(journal.get("mode"))).setSourceNode(node.config().node())
                        .setDestinationNode(journal.get("destination"))
                        .setPid(node.workloads().pid(workloadId).orElse(0))
                        .setError(why + " before the freeze; the workload kept running here"));
                journal.delete();
            }
            case RELEASE_FROZEN -> {
                frozen.ifPresent(tree -> tree.release(node.config().criu()));
                node.workloads().remove(workloadId);
                journal.delete();
            }
            case RESUME_FROZEN -> {
                if (frozen.get().resume(node.config().criu())) {
                    SourceMigration.rolledBack(node, journal, frozen.get().init().pid(), why, PhaseTimings.newBuilder());
                } else {
                    SourceMigration.lost(node, journal, why + " and the frozen tree vanished", PhaseTimings.newBuilder());
                }
            }
            case RESTORE_LOCAL_IMAGES -> SourceMigration.restoreLocally(node, journal, why, PhaseTimings.newBuilder());
            case LOST -> SourceMigration.lost(node, journal, why + " and the frozen tree is gone", PhaseTimings.newBuilder());
        }
    }

    private static Optional<FrozenSource> frozenSource(MigrationJournal journal) {
        return WorkloadIdentity.parse(journal.get("init")).map(init -> new FrozenSource(init,
                SourceMigration.parsePids(journal.get("stoppedBefore")), journal.dir().resolve("images")));
    }

    /**
     * Whether the destination committed: at once if COMPLETED is in the log, else read again once the answer is
     * settled - the longest a COMPLETED can take to be acknowledged after COMMIT. Retries while the events cannot be
     * read.
     */
    static boolean destinationCommitted(NodeServices node, MigrationJournal journal) throws InterruptedException {
        // a COMPLETED already in the log is final (only the destination could overrule it, and it has not)
        try {
            if (node.history().completed(journal.get("workloadId"), journal.get("migrationId"))) {
                return true;
            }
        } catch (RuntimeException e) {
            log.warn("cannot read the events yet ({}); waiting until the commit is settled", e.getMessage());
        }
        long sentMs = Math.max(journal.getLong("commitSentMs"), journal.getLong("commitStartMs"));
        long settled = sentMs + node.config().eventsPublishWait().toMillis() + 2_000;
        while (System.currentTimeMillis() < settled) {
            Thread.sleep(Math.min(500, Math.max(1, settled - System.currentTimeMillis())));
        }
        long giveUp = System.currentTimeMillis() + node.config().sessionTimeout().toMillis();
        while (true) {
            try {
                return node.history().completed(journal.get("workloadId"), journal.get("migrationId"));
            } catch (RuntimeException e) {
                if (System.currentTimeMillis() > giveUp) {
                    throw e;
                }
                log.warn("cannot read the events yet ({}); retrying", e.getMessage());
                Thread.sleep(1000);
            }
        }
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

    private static void awaitCriu(Path images, String verb, java.time.Duration timeout) throws InterruptedException {
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

    private static void recoverDestination(NodeServices node, MigrationJournal journal)
            throws IOException, InterruptedException {
        String workloadId = journal.get("workloadId");
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
        int pid = journal.getInt("restoredPid");
        if (pid == 0 && journal.step() == Step.RESTORING) {
            pid = restoredPidFile(incoming);
        }
        log.info("recovering destination side of the migration of {} (stopped at {})", workloadId, journal.step());
        boolean published = journal.step() == Step.COMMITTED && destinationCommitted(node, journal);
        RecoveryDecision.DestinationAction action = RecoveryDecision.forDestination(journal.step(), published,
                ProcessTable.isAlive(pid));
        if (action == RecoveryDecision.DestinationAction.RESUME_COPY) {
            DestinationMigration.resume(pid, SourceMigration.parsePids(journal.get("keepStopped")));
            node.workloads().writePid(workloadId, pid);
            node.exits().watch(workloadId, pid);
            log.info("COMPLETED was published before the restart: {} runs here as pid {}", workloadId, pid);
            journal.delete();
            return;
        }
        if (action == RecoveryDecision.DestinationAction.GIVE_UP_COPY) {
            DestinationMigration.abandonCommit(node, journal, pid, journal.step() == Step.ABANDONED
                    ? "executor restarted while giving the copy up" : "executor restarted before COMPLETED was acknowledged");
            return;
        }
        if (pid != 0) {
            ProcessTable.killNamespace(pid);
        }
        if (journal.step() == Step.RESTORING || journal.step() == Step.RESTORED) {
            NodeWorkloads.deleteTree(node.workloads().dir(workloadId));
        }
        journal.delete();
    }
}
