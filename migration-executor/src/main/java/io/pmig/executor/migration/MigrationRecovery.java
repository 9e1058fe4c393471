package io.pmig.executor.migration;

import io.pmig.executor.events.MigrationCommit;
import io.pmig.executor.migration.MigrationJournal.Role;
import io.pmig.executor.migration.MigrationJournal.Step;
import io.pmig.executor.workload.NodeWorkloads;
import io.pmig.schemas.MigrationMode;
import io.pmig.schemas.Phase;
import io.pmig.schemas.PhaseTimings;
import java.io.IOException;
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
 * Source: a workload that was never frozen keeps running; a frozen one is resumed unless the settled commit
 * ({@link MigrationCommit#settle}) says the destination committed, and then it is killed. Destination: a copy whose
 * COMPLETED settles as committed is resumed, anything else killed (with ROLLED_BACK published). Every kind of
 * workload the same way, through the engine of its kind (the journal's {@code kind}).
 */
public final class MigrationRecovery {

    private static final Logger log = LoggerFactory.getLogger(MigrationRecovery.class);

    private MigrationRecovery() {
    }

    public static void recover(NodeServices node) throws IOException, InterruptedException {
        for (MigrationJournal journal : MigrationJournal.all(node.config().workdir())) {
            MDC.put("migration", journal.get("migrationId"));
            try {
                CheckpointEngine engine = node.engineForKind(journal.get("kind"));
                if (journal.role() == Role.SOURCE) {
                    recoverSource(node, engine, journal);
                } else {
                    recoverDestination(node, engine, journal);
                }
            } catch (IOException | RuntimeException e) {
                // one journal must not keep the node from starting; it stays for the next start
                log.error("cannot recover migration from {}: {}", journal.dir(), e.toString(), e);
            } finally {
                MDC.remove("migration");
            }
        }
    }

    private static void recoverSource(NodeServices node, CheckpointEngine engine, MigrationJournal journal)
            throws IOException, InterruptedException {
        String workloadId = journal.get("workloadId");
        Step step = journal.step();
        Path images = journal.dir().resolve("images");
        log.info("recovering source side of the migration of {} (stopped at {})", workloadId, step);
        engine.settleSource(journal);
        String why = "executor restarted mid-migration";
        Optional<FrozenSource> frozen = frozenSource(journal);
        boolean committed = step == Step.COMMITTING && destinationCommitted(node, journal);
        boolean released = journal.getInt("releaseBeforeRestore") == 1
                && (step == Step.RELEASED || step == Step.RESTORING || step == Step.COMMITTING || step == Step.ROLLING_BACK);
        RecoveryDecision.SourceAction action = RecoveryDecision.forSource(step, committed,
                frozen.map(engine::isPresent).orElse(false), released,
                Files.exists(images.resolve("inventory.img")));
        log.info("{}: {}", why, action);
        switch (action) {
            case KEEP_RUNNING -> {
                node.events().publishEventually(node.events().event(journal.get("commandId"), journal.get("migrationId"),
                                workloadId, Phase.ROLLED_BACK)
                        .setMode(MigrationMode.valueOf(journal.get("mode"))).setSourceNode(node.config().node())
                        .setDestinationNode(journal.get("destination"))
                        .setPid(node.workloads().pid(workloadId).orElse(0))
                        .setError(why + " before the freeze; the workload kept running here"), () -> {
                            try {
                                journal.delete();
                            } catch (IOException e) {
                                log.warn("cannot delete the journal in {}: {}", journal.dir(), e.getMessage());
                            }
                        });
            }
            case RELEASE_FROZEN -> {
                frozen.ifPresent(engine::release);
                node.workloads().remove(workloadId);
                journal.delete();
            }
            case RESUME_FROZEN -> {
                int pid = engine.resume(frozen.get());
                if (pid != 0) {
                    SourceMigration.rolledBack(node, journal, pid, why, PhaseTimings.newBuilder());
                } else {
                    SourceMigration.lost(node, journal, why + " and the frozen tree vanished", PhaseTimings.newBuilder());
                }
            }
            case RESTORE_LOCAL_IMAGES -> SourceMigration.restoreLocally(node, engine, journal, why, PhaseTimings.newBuilder());
            case LOST -> SourceMigration.lost(node, journal, why + " and the frozen tree is gone", PhaseTimings.newBuilder());
        }
    }

    private static Optional<FrozenSource> frozenSource(MigrationJournal journal) {
        return WorkloadIdentity.parse(journal.get("init")).map(init -> new FrozenSource(init,
                SourceMigration.parsePids(journal.get("stoppedBefore")), journal.dir().resolve("images")));
    }

    /**
     * Whether the destination committed, settled for good ({@link MigrationCommit#settle}): its commit producer is
     * fenced, then the events are read. Waits for the broker as long as it takes.
     */
    public static boolean destinationCommitted(NodeServices node, MigrationJournal journal) throws InterruptedException {
        return MigrationCommit.settle(node.config(), node.history(), journal.get("workloadId"), journal.get("migrationId"));
    }

    private static void recoverDestination(NodeServices node, CheckpointEngine engine, MigrationJournal journal)
            throws IOException, InterruptedException {
        String workloadId = journal.get("workloadId");
        int leftByRestore = engine.settleDestination(journal);
        int pid = journal.getInt("restoredPid");
        if (pid == 0 && journal.step() == Step.RESTORING) {
            pid = leftByRestore;
        }
        log.info("recovering destination side of the migration of {} (stopped at {})", workloadId, journal.step());
        boolean published = journal.step() == Step.COMMITTED && destinationCommitted(node, journal);
        RecoveryDecision.DestinationAction action = RecoveryDecision.forDestination(journal.step(), published,
                engine.isAlive(pid));
        if (action == RecoveryDecision.DestinationAction.RESUME_COPY) {
            engine.resumeCopy(pid, SourceMigration.parsePids(journal.get("keepStopped")));
            node.workloads().writePid(workloadId, pid);
            node.exits().watch(workloadId, pid);
            log.info("COMPLETED was published before the restart: {} runs here as pid {}", workloadId, pid);
            journal.delete();
            return;
        }
        if (action == RecoveryDecision.DestinationAction.GIVE_UP_COPY) {
            DestinationMigration.abandonCommit(node, engine, journal, pid, journal.step() == Step.ABANDONED
                    ? "executor restarted while giving the copy up" : "executor restarted before COMPLETED was acknowledged");
            return;
        }
        engine.kill(pid);
        if (journal.step() == Step.RESTORING || journal.step() == Step.RESTORED) {
            NodeWorkloads.deleteTree(node.workloads().dir(workloadId));
        }
        journal.delete();
    }
}
