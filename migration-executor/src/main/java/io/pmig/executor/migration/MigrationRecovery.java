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
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.OptionalInt;
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
        if (MigrationMode.LAZY.name().equals(journal.get("mode")) && journal.step() != Step.ACCEPTED
                && journal.step() != Step.ROLLING_BACK) {
            recoverLazySource(node, journal);
            return;
        }
        // a dump started by the killed executor runs on without it: the tree is frozen, not running, until it ends
        awaitCriu(journal.dir().resolve("images"), "dump", RECOVERY_CRIU_WAIT);
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

    /**
     * LAZY source: its criu dump outlives the executor. Before the restore was requested, stopping it resumes the
     * tree here. After, it must run to its end: exit 0 means the destination holds every page (and owns the
     * workload); anything else resumed the tree here.
     */
    private static void recoverLazySource(NodeServices node, MigrationJournal journal)
            throws IOException, InterruptedException {
        Path images = journal.dir().resolve("images");
        int initPid = journal.getInt("initPid");
        int dumpPid = BackgroundCriu.pid(images, "lazy-dump");
        boolean restoreRequested = journal.step() == Step.RESTORING || journal.step() == Step.COMMITTING;
        if (isCriu(dumpPid) && !restoreRequested) {
            ProcessTable.signal("TERM", List.of(dumpPid));
        }
        long deadline = System.nanoTime() + node.config().sessionTimeout().toNanos();
        while (isCriu(dumpPid) && System.nanoTime() < deadline) {
            Thread.sleep(100);
        }
        if (isCriu(dumpPid)) {
            ProcessTable.signal("KILL", List.of(dumpPid));
        }
        OptionalInt rc = BackgroundCriu.exitCode(images, "lazy-dump");
        String workloadId = journal.get("workloadId");
        if (rc.isPresent() && rc.getAsInt() == 0 && !ProcessTable.isAlive(initPid)) {
            boolean completed = node.history().completed(workloadId, journal.get("migrationId"));
            log.info("every page of {} went to {} while this executor was down ({})", workloadId,
                    journal.get("destination"), completed ? "it reported COMPLETED" : "no COMPLETED seen");
            if (!completed) {
                node.events().publish(node.events().event(journal.get("commandId"), journal.get("migrationId"),
                                workloadId, Phase.FAILED).setMode(MigrationMode.LAZY).setSourceNode(node.config().node())
                        .setDestinationNode(journal.get("destination"))
                        .setError("executor restarted mid-migration; every page went to the destination, which has not"
                                + " reported COMPLETED"));
            }
            node.workloads().remove(workloadId);
            journal.delete();
            return;
        }
        SourceMigration.resumeAfterLazyDump(node, journal, initPid, "executor restarted mid-migration",
                PhaseTimings.newBuilder());
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
        }
        awaitCriu(incoming, "restore", RECOVERY_CRIU_WAIT);
        int pid = journal.getInt("restoredPid");
        if (pid == 0 && journal.step() == Step.RESTORING) {
            pid = restoredPidFile(incoming);
        }
        log.info("recovering destination side of the migration of {} (stopped at {})", workloadId, journal.step());
        if (MigrationMode.LAZY.name().equals(journal.get("mode")) && pid != 0 && ProcessTable.isAlive(pid)) {
            // every page here means the source's dump has ended and killed its copy: this one must run
            Path images = journal.dir().resolve("incoming").resolve("images");
            int daemon = BackgroundCriu.pid(images, "lazy-pages");
            long deadline = System.nanoTime() + node.config().sessionTimeout().toNanos();
            while (isCriu(daemon) && System.nanoTime() < deadline) {
                Thread.sleep(100);
            }
            if (BackgroundCriu.exitCode(images, "lazy-pages").orElse(-1) == 0) {
                node.workloads().writePid(workloadId, pid);
                if (!node.history().completed(workloadId, journal.get("migrationId"))) {
                    node.events().publish(node.events().event(journal.get("commandId"), journal.get("migrationId"),
                                    workloadId, Phase.COMPLETED).setMode(MigrationMode.LAZY).setPid(pid)
                            .setSourceNode(journal.get("source")).setDestinationNode(node.config().node()));
                }
                DestinationMigration.resume(pid);
                node.exits().watch(workloadId, pid);
                log.info("every page of {} had arrived: it runs here as pid {}", workloadId, pid);
                journal.delete();
                return;
            }
            ProcessTable.signal("KILL", List.of(daemon).stream().filter(MigrationRecovery::isCriu).toList());
        }
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
