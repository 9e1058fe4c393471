package io.pmig.executor.container;

import com.fasterxml.jackson.databind.JsonNode;
import io.pmig.executor.migration.DestinationMigration;
import io.pmig.executor.migration.MigrationJournal;
import io.pmig.executor.migration.MigrationJournal.Step;
import io.pmig.executor.migration.MigrationRecovery;
import io.pmig.executor.migration.NodeServices;
import io.pmig.executor.migration.RecoveryDecision;
import io.pmig.executor.migration.SourceMigration;
import io.pmig.executor.workload.NodeWorkloads;
import io.pmig.schemas.MigrationCommand;
import io.pmig.schemas.MigrationEvent;
import io.pmig.schemas.Phase;
import io.pmig.schemas.PhaseTimings;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Map;
import java.util.regex.Pattern;
import java.util.stream.Stream;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * The destination's half of a Docker container migration: the {@code CONTAINER_*} control requests a
 * {@link ContainerSourceMigration} sends over the destination's ordinary transfer session, whose files land in
 * {@code sessionDir}. Restoring creates the container from the source's spec, applies the writable-layer tars,
 * puts the checkpoint where this engine looks for it ({@code <DockerRootDir>/containers/<id>/checkpoints/<name>}:
 * Docker 20.10 refuses {@code --checkpoint-dir} on start), starts from it and pauses it at once: the copy runs only
 * after COMMIT (docker cannot start a container stopped; it runs for the few milliseconds before the pause).
 *
 * <p>Journaled in the destination's {@link MigrationJournal} with the process steps (RESTORING once the container may
 * exist, RESTORED, COMMITTED before COMPLETED is published), so an executor restarted mid-migration removes a copy
 * that was never committed - the source restarts its own - and keeps one whose COMPLETED is in the log ({@link #recover}).
 */
public final class ContainerReceiver {

    public static final String HAS_IMAGE = "CONTAINER_HAS_IMAGE";
    public static final String LOAD_IMAGE = "CONTAINER_LOAD_IMAGE";
    public static final String RESTORE = "CONTAINER_RESTORE";
    public static final String COMMIT = "CONTAINER_COMMIT";
    private static final Logger log = LoggerFactory.getLogger(ContainerReceiver.class);
    private static final Pattern CHECKPOINT = Pattern.compile("[A-Za-z0-9][A-Za-z0-9_.-]{0,127}");

    private final NodeServices node;
    private final MigrationCommand command;
    private final Path sessionDir;
    private final MigrationJournal journal;
    private final DockerEngine engine;
    private volatile String createdId;
    private volatile String createdName;
    private volatile int pid;
    private volatile long restoreMs;
    private volatile boolean committed;

    public ContainerReceiver(NodeServices node, MigrationCommand command, Path sessionDir, MigrationJournal journal) {
        this.node = node;
        this.command = command;
        this.sessionDir = sessionDir;
        this.journal = journal;
        this.engine = ContainerWorkloads.engine(node);
    }

    /** True for the requests this class answers. */
    public static boolean handles(String verb) {
        return verb.startsWith("CONTAINER_");
    }

    public synchronized String onControl(String verb, Map<String, String> args) throws Exception {
        return switch (verb) {
            case HAS_IMAGE -> engine.hasImage(args.getOrDefault("image", "")) ? "yes" : "no";
            case LOAD_IMAGE -> loadImage();
            case RESTORE -> restore(args.getOrDefault("checkpoint", ""));
            case COMMIT -> commit(args);
            default -> throw new IllegalArgumentException("unknown control request " + verb);
        };
    }

    private String loadImage() throws IOException {
        Path tar = sessionDir.resolve("container").resolve("image.tar");
        long t = System.nanoTime();
        engine.loadImage(tar);
        Files.delete(tar);
        log.info("loaded the image of {} into {} in {} ms", command.getWorkloadId(), engine.host(),
                SourceMigration.millisSince(t));
        return "loaded";
    }

    private String restore(String checkpoint) throws Exception {
        if (createdId != null) {
            throw new IllegalStateException("already restored");
        }
        if (!CHECKPOINT.matcher(checkpoint).matches() || !Files.isDirectory(sessionDir.resolve(checkpoint))) {
            throw new IllegalArgumentException("no checkpoint '" + checkpoint + "' was received");
        }
        if (!engine.experimental()) {
            throw new IllegalStateException("Docker engine " + engine.host() + " is not experimental: it cannot restore checkpoints");
        }
        JsonNode spec = DockerEngine.JSON.readTree(sessionDir.resolve("container").resolve("spec.json").toFile());
        String name = spec.path("name").asText();
        if (engine.inspect(name).isPresent()) {
            throw new IllegalStateException("a container named '" + name + "' already exists on " + engine.host());
        }
        long t = System.nanoTime();
        journal.put("kind", ContainerSourceMigration.KIND).put("containerName", name).step(Step.RESTORING);
        String id = engine.create(name, spec.path("config"), spec.path("hostConfig"));
        createdId = id;
        createdName = name;
        try {
            journal.put("containerId", id).step(Step.RESTORING);
            for (JsonNode layer : spec.path("layers")) {
                Path tar = inside(sessionDir.resolve("container"), layer.path("file").asText());
                engine.archiveTo(id, layer.path("dir").asText(), tar);
            }
            Path target = engine.checkpointDir(id, checkpoint);
            copyTree(sessionDir.resolve(checkpoint), target);
            engine.startFromCheckpoint(id, checkpoint);
            // docker cannot start a container stopped: paused at once, it runs only after COMMIT, like a process copy
            engine.pause(id);
            pid = engine.pid(id);
            if (pid == 0) {
                throw new IllegalStateException("container started from its checkpoint but does not run");
            }
        } catch (Exception e) {
            log.warn("restore of container {} failed: {}", name, e.getMessage());
            engine.remove(id);
            createdId = null;
            journal.step(Step.PREPARED);
            throw e;
        }
        restoreMs = SourceMigration.millisSince(t);
        journal.put("restoredPid", pid).step(Step.RESTORED);
        node.events().publishProgress(event(Phase.RESTORED).setPid(pid)
                .setTimings(PhaseTimings.newBuilder().setRestoreMs(restoreMs).build()));
        log.info("restored container {} ({}) as pid {} in {} ms", name, id.substring(0, 12), pid, restoreMs);
        return "pid=" + pid + ";restoreMs=" + restoreMs;
    }

    /** Records the workload here and publishes COMPLETED; the source removes its container after this reply. */
    private String commit(Map<String, String> args) throws IOException {
        if (createdId == null || engine.pid(createdId) == 0) {
            throw new IllegalStateException("no restored container to commit");
        }
        long commitStart = System.nanoTime();
        // COMMITTED first: recovery keeps this copy only if COMPLETED really was published
        journal.put("commitStartMs", System.currentTimeMillis()).step(Step.COMMITTED);
        ContainerWorkloads.record(node, command.getWorkloadId(), createdId, createdName, pid);
        PhaseTimings timings = PhaseTimings.newBuilder()
                .setFreezeMs(number(args, "freezeMs")).setDumpMs(number(args, "dumpMs"))
                .setTransferMs(number(args, "transferMs")).setRestoreMs(restoreMs)
                .setDowntimeMs(number(args, "downtimeMs") + SourceMigration.millisSince(commitStart))
                .setTotalMs(number(args, "totalMs") + SourceMigration.millisSince(commitStart)).build();
        try {
            node.events().publish(event(Phase.COMPLETED).setPid(pid).setTimings(timings)
                    .setBytesMoved(number(args, "bytesMoved")));
        } catch (RuntimeException e) {
            // not acknowledged in time - it may still reach the log: remove the copy and overrule it
            String id = createdId;
            createdId = null;
            DestinationMigration.abandonCommit(node, journal, () -> engine.remove(id),
                    "COMPLETED not acknowledged: " + e.getMessage());
            throw e;
        }
        committed = true;
        engine.unpause(createdId);
        node.exits().watch(command.getWorkloadId(), pid);
        log.info("container workload {} runs here as pid {} (downtime {} ms)", command.getWorkloadId(), pid,
                timings.getDowntimeMs());
        return "pid=" + pid;
    }

    public boolean committed() {
        return committed;
    }

    /** Removes a container restored but never committed (the source restarts its own). */
    public synchronized void abort() {
        if (committed || createdId == null) {
            return;
        }
        log.info("removing the uncommitted container {} ({})", createdName, createdId.substring(0, 12));
        engine.remove(createdId);
        createdId = null;
    }

    /**
     * At start-up, for a container migration this executor received but did not finish: the rules of process
     * migrations ({@link RecoveryDecision}) - a copy is kept only if its COMPLETED was published, else removed (and a
     * COMPLETED that may still land is overruled with ROLLED_BACK).
     */
    public static void recover(NodeServices node, MigrationJournal journal) throws IOException, InterruptedException {
        String workloadId = journal.get("workloadId");
        DockerEngine engine = ContainerWorkloads.engine(node);
        String id = journal.get("containerId");
        if (id == null && journal.step() == Step.RESTORING) {
            // killed between create and journaling the id: the name was free when RESTORING was written
            id = engine.inspect(journal.get("containerName")).map(c -> c.path("Id").asText()).orElse(null);
        }
        boolean published = journal.step() == Step.COMMITTED && MigrationRecovery.destinationCommitted(node, journal);
        int pid = id == null ? 0 : engine.pid(id);
        RecoveryDecision.DestinationAction action = RecoveryDecision.forDestination(journal.step(), published, pid != 0);
        log.info("recovering destination side of the container migration of {} (stopped at {}): {}", workloadId,
                journal.step(), action);
        String container = id;
        switch (action) {
            case RESUME_COPY -> {
                ContainerWorkloads.record(node, workloadId, container, journal.get("containerName"), pid);
                engine.unpause(container);
                node.exits().watch(workloadId, pid);
                log.info("COMPLETED was published before the restart: container workload {} runs here as pid {}",
                        workloadId, pid);
                journal.delete();
            }
            case GIVE_UP_COPY -> DestinationMigration.abandonCommit(node, journal, () -> {
                if (container != null) {
                    engine.remove(container);
                }
            }, journal.step() == Step.ABANDONED ? "executor restarted while giving the copy up"
                    : "executor restarted before COMPLETED was acknowledged");
            case DISCARD -> {
                if (container != null) {
                    log.info("removing the uncommitted container {} of {}", container, workloadId);
                    engine.remove(container);
                }
                journal.delete();
            }
        }
    }

    static void copyTree(Path from, Path to) throws IOException {
        try (Stream<Path> walk = Files.walk(from)) {
            for (Path p : walk.toList()) {
                Path target = to.resolve(from.relativize(p).toString());
                if (Files.isDirectory(p)) {
                    Files.createDirectories(target);
                } else {
                    Files.copy(p, target);
                }
            }
        }
    }

    private MigrationEvent.Builder event(Phase phase) {
        return node.events().event(command.getCommandId(), command.getCommandId(), command.getWorkloadId(), phase)
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

    /** Names from the source's spec stay inside the session directory. */
    private static Path inside(Path root, String name) {
        Path p = root.resolve(name).normalize();
        if (!p.startsWith(root) || p.equals(root)) {
            throw new IllegalArgumentException("layer file '" + name + "' escapes the session directory");
        }
        return p;
    }
}
