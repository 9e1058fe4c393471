package io.pmig.executor.migration;

import io.pmig.executor.migration.MigrationJournal.Role;
import io.pmig.executor.migration.MigrationJournal.Step;
import io.pmig.executor.workload.NodeWorkloads;
import io.pmig.executor.workload.ProcessTable;
import io.pmig.schemas.MigrationMode;
import io.pmig.schemas.Phase;
import io.pmig.schemas.PhaseTimings;
import java.io.IOException;
import java.nio.file.Files;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;
import org.slf4j.MDC;

/**
 * Finishes or rolls back, at start-up, the migrations a previous run of this executor left in its journals.
 * Source: a workload still running here stays; otherwise a COMPLETED event means the destination owns it, and
 * without one the local checkpoint is restored. Destination: a committed copy is resumed, anything else killed.
 */
public final class MigrationRecovery {

    private static final Logger log = LoggerFactory.getLogger(MigrationRecovery.class);

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
            } catch (RuntimeException e) {
                log.error("cannot recover migration from {}: {}", journal.dir(), e.toString(), e);
            } finally {
                MDC.remove("migration");
            }
        }
    }

    private static void recoverSource(NodeServices node, MigrationJournal journal) throws IOException, InterruptedException {
        String workloadId = journal.get("workloadId");
        String migrationId = journal.get("migrationId");
        log.info("recovering source side of the migration of {} (stopped at {})", workloadId, journal.step());
        if (journal.step() == Step.ACCEPTED || node.workloads().isRunning(workloadId)) {
            node.events().publish(node.events().event(journal.get("commandId"), migrationId, workloadId, Phase.ROLLED_BACK)
                    .setMode(MigrationMode.valueOf(journal.get("mode"))).setSourceNode(node.config().node())
                    .setDestinationNode(journal.get("destination"))
                    .setPid(node.workloads().pid(workloadId).orElse(0))
                    .setError("executor restarted mid-migration; the workload kept running here"));
            journal.delete();
            return;
        }
        if (node.history().completed(workloadId, migrationId)) {
            log.info("the destination completed the migration of {}; deleting the source copy", workloadId);
            node.workloads().remove(workloadId);
            journal.delete();
            return;
        }
        if (Files.exists(journal.dir().resolve("images/inventory.img"))) {
            SourceMigration.restoreLocally(node, journal, "executor restarted mid-migration", PhaseTimings.newBuilder());
            return;
        }
        node.events().publish(node.events().event(journal.get("commandId"), migrationId, workloadId, Phase.FAILED)
                .setMode(MigrationMode.valueOf(journal.get("mode"))).setSourceNode(node.config().node())
                .setDestinationNode(journal.get("destination"))
                .setError("workload lost: executor restarted mid-migration and no checkpoint is left in " + journal.dir()));
    }

    private static void recoverDestination(NodeServices node, MigrationJournal journal) throws IOException {
        String workloadId = journal.get("workloadId");
        int pid = journal.getInt("restoredPid");
        log.info("recovering destination side of the migration of {} (stopped at {})", workloadId, journal.step());
        if (journal.step() == Step.COMMITTED && ProcessTable.isAlive(pid)
                && node.history().completed(workloadId, journal.get("migrationId"))) {
            DestinationMigration.resume(pid);
            node.workloads().writePid(workloadId, pid);
            node.exits().watch(workloadId, pid);
        } else {
            if (pid != 0) {
                ProcessTable.killNamespace(pid);
            }
            if (journal.step() == Step.RESTORING || journal.step() == Step.RESTORED || journal.step() == Step.COMMITTED) {
                NodeWorkloads.deleteTree(node.workloads().dir(workloadId));
            }
        }
        journal.delete();
    }
}
