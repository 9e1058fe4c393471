package io.pmig.executor.container;

import static io.pmig.executor.migration.SourceMigration.millisSince;
import static io.pmig.executor.migration.SourceMigration.parseReply;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.node.ArrayNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import com.github.dockerjava.api.model.ChangeLog;
import io.pmig.executor.migration.MigrationJournal;
import io.pmig.executor.migration.MigrationJournal.Role;
import io.pmig.executor.migration.MigrationJournal.Step;
import io.pmig.executor.migration.MigrationRecovery;
import io.pmig.executor.migration.NodeServices;
import io.pmig.executor.migration.PreparedEndpoint;
import io.pmig.executor.migration.RecoveryDecision;
import io.pmig.executor.migration.SourceMigration;
import io.pmig.executor.transfer.TransferConnection;
import io.pmig.executor.transfer.TransferException;
import io.pmig.executor.transfer.TransferReceipt;
import io.pmig.executor.workload.NodeWorkloads;
import io.pmig.schemas.MigrationCommand;
import io.pmig.schemas.MigrationEvent;
import io.pmig.schemas.Phase;
import io.pmig.schemas.PhaseTimings;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Comparator;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.stream.Stream;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * The source's half of a Docker container migration. Over the same authenticated transfer session as a process
 * migration (the destination runs its usual {@code DestinationMigration}, which hands the {@code CONTAINER_*}
 * requests to {@link ContainerReceiver}):
 * <ol>
 * <li>while the container still runs: the image, if the destination's engine lacks it ({@code docker save}, then
 *     {@code docker load} there) - images are immutable, so this costs no downtime;</li>
 * <li>checkpoint with the engine's experimental API, which stops the container (the freeze starts here);</li>
 * <li>the checkpoint files, the spec (inspected {@code Config} + {@code HostConfig}) and one tar per path the
 *     container added or changed in its writable layer ({@code docker diff} + the archive API);</li>
 * <li>{@code CONTAINER_RESTORE}: the destination creates the container, applies the layer tars, copies the
 *     checkpoint into its engine's checkpoint directory and starts from it; {@code CONTAINER_COMMIT}: it records
 *     the workload and publishes COMPLETED. Only then is the source container removed.</li>
 * </ol>
 * Any failure after the checkpoint restarts the source container from its own checkpoint (ROLLED_BACK); the
 * destination removes whatever it created. The destination's copy is paused from its restore until COMMIT (docker
 * cannot start a container stopped, so it runs for the milliseconds before the pause).
 *
 * <p>Journaled like a process migration ({@link MigrationJournal}, same steps and table, {@code kind=container}) and
 * decided by the same rules ({@link RecoveryDecision}): an executor restarted mid-migration restarts the checkpointed
 * container here unless the destination's events say it committed ({@link #recover}); a lost COMMIT reply is
 * settled by those events as for processes.
 *
 * <p>Not carried: volumes and bind mounts (such a container is refused, untouched), files the container deleted
 * from its image layers (logged), and the container's log on the source engine (it stays behind with the source).
 */
public final class ContainerSourceMigration {

    private static final Logger log = LoggerFactory.getLogger(ContainerSourceMigration.class);
    private static final Duration CONNECT_TIMEOUT = Duration.ofSeconds(30);
    private static final Duration IMAGE_TIMEOUT = Duration.ofMinutes(10);
    private static final Duration RESTORE_TIMEOUT = Duration.ofMinutes(5);
    /** What a journal of a container migration says about its workload (process migrations have none). */
    public static final String KIND = "container";

    private final NodeServices node;
    private final MigrationCommand command;
    private final String migrationId;
    private final String workloadId;
    private final String checkpoint;
    private final MigrationJournal journal;
    private final Path staging;
    private final PhaseTimings.Builder timings = PhaseTimings.newBuilder();
    private DockerEngine engine;
    private String containerId;
    private long startNanos;
    private long freezeStartNanos;

    private ContainerSourceMigration(NodeServices node, MigrationCommand command, MigrationJournal journal) {
        this.node = node;
        this.command = command;
        this.migrationId = command.getCommandId();
        this.workloadId = command.getWorkloadId();
        this.checkpoint = checkpointName(migrationId);
        this.journal = journal;
        this.staging = journal.dir().resolve("staged");
    }

    public static ContainerSourceMigration create(NodeServices node, MigrationCommand command) throws IOException {
        MigrationJournal journal = MigrationJournal.create(node.config().workdir(), command.getCommandId(), Role.SOURCE);
        journal.put("kind", KIND).put("workloadId", command.getWorkloadId()).put("commandId", command.getCommandId())
                .put("destination", command.getDestinationNode()).put("mode", command.getMode().name())
                .put("checkpoint", checkpointName(command.getCommandId()));
        return new ContainerSourceMigration(node, command, journal);
    }

    /** Docker checkpoint names allow [A-Za-z0-9_.-]; the migration id made to fit, for the operator to recognise. */
    static String checkpointName(String migrationId) {
        String s = "pmig-" + migrationId.replaceAll("[^A-Za-z0-9_.-]", "_");
        return s.length() > 100 ? s.substring(0, 100) : s;
    }

    public void run() throws IOException, InterruptedException {
        startNanos = System.nanoTime();
        engine = ContainerWorkloads.engine(node);
        containerId = ContainerWorkloads.containerId(node, workloadId);
        journal.put("containerId", containerId).step(Step.ACCEPTED);
        node.events().publish(event(Phase.ACCEPTED));
        log.info("migrating container workload {} ({}) to {}, waiting for the destination to prepare",
                workloadId, shortId(), command.getDestinationNode());

        Optional<MigrationEvent> answer = node.peers().await(migrationId,
                e -> command.getDestinationNode().equals(e.getNode())
                        && (e.getPhase() == Phase.PREPARED || e.getPhase() == Phase.FAILED),
                node.config().prepareTimeout());
        if (answer.isEmpty()) {
            untouched(Phase.FAILED, "destination " + command.getDestinationNode() + " is unknown or down: no PREPARED within "
                    + node.config().prepareTimeout().toSeconds() + " s; the container keeps running on " + node.config().node(), null);
            return;
        }
        if (answer.get().getPhase() == Phase.FAILED) {
            untouched(Phase.ROLLED_BACK, "destination refused: " + answer.get().getError(), null);
            return;
        }
        JsonNode inspected = engine.inspect(containerId).orElse(null);
        String refusal = refusal(inspected);
        if (refusal != null) {
            untouched(Phase.ROLLED_BACK, refusal, null);
            return;
        }
        TransferConnection connection;
        try {
            connection = TransferConnection.open(PreparedEndpoint.parse(answer.get().getEndpoint()).transfer(),
                    node.config().credentials(), migrationId, CONNECT_TIMEOUT);
        } catch (TransferException | IllegalArgumentException e) {
            untouched(Phase.ROLLED_BACK, e.getMessage(), null);
            return;
        }
        try {
            NodeWorkloads.deleteTree(staging);
            Files.createDirectories(staging.resolve("container"));
            sendImageIfMissing(connection, inspected.path("Image").asText(), inspected.path("Config").path("Image").asText());
        } catch (TransferException | IOException | RuntimeException e) {
            untouched(Phase.ROLLED_BACK, "image transfer failed: " + describe(e), connection);
            return;
        }

        journal.step(Step.CONNECTED);
        if (!node.exits().unwatch(workloadId)) {
            untouched(Phase.ROLLED_BACK, "container workload " + workloadId + " is no longer running here", connection);
            return;
        }
        journal.step(Step.DUMPING);
        freezeStartNanos = System.nanoTime();
        try {
            engine.checkpoint(containerId, checkpoint);
        } catch (IOException | RuntimeException e) {
            rollback("checkpoint failed: " + describe(e), connection);
            return;
        }
        long dumpMs = millisSince(freezeStartNanos);
        journal.step(Step.DUMPED);
        node.workloads().removePid(workloadId);
        Path checkpoints = engine.checkpointDir(containerId, checkpoint).getParent();
        timings.setFreezeMs(dumpMs).setDumpMs(dumpMs);
        node.events().publishProgress(event(Phase.FROZEN));
        node.events().publishProgress(event(Phase.DUMPED).setBytesMoved(size(checkpoints.resolve(checkpoint))));
        log.info("checkpointed container {} in {} ms", shortId(), dumpMs);

        try {
            long transferStart = System.nanoTime();
            ObjectNode spec = spec(inspected);
            Files.write(staging.resolve("container").resolve("spec.json"), DockerEngine.JSON.writeValueAsBytes(spec));
            List<Path> files = new ArrayList<>(List.of(Path.of("container", "spec.json")));
            try (Stream<Path> layers = Files.list(staging.resolve("container").resolve("layer"))) {
                files.add(Path.of("container", "layer"));
                layers.sorted().forEach(p -> files.add(staging.relativize(p)));
            }
            TransferReceipt layer = connection.sendFiles(staging, files);
            // the checkpoint goes straight from the engine's directory, as <checkpoint>/...: no copy while frozen
            TransferReceipt images = connection.sendFiles(checkpoints, tree(checkpoints, checkpoint));
            long bytes = layer.bytes() + images.bytes();
            timings.setTransferMs(millisSince(transferStart));
            node.events().publishProgress(event(Phase.TRANSFERRED).setBytesMoved(bytes));
            log.info("sent the checkpoint ({} bytes) and {} writable-layer file(s)", images.bytes(), layer.files() - 1);

            journal.step(Step.RESTORING);
            Map<String, String> restored = parseReply(connection.control(ContainerReceiver.RESTORE,
                    Map.of("checkpoint", checkpoint), RESTORE_TIMEOUT));
            timings.setRestoreMs(Long.parseLong(restored.getOrDefault("restoreMs", "0")));
            journal.put("commitSentMs", System.currentTimeMillis()).step(Step.COMMITTING);
            connection.control(ContainerReceiver.COMMIT, Map.of(
                    "freezeMs", String.valueOf(timings.getFreezeMs()), "dumpMs", String.valueOf(timings.getDumpMs()),
                    "transferMs", String.valueOf(timings.getTransferMs()), "bytesMoved", String.valueOf(bytes),
                    "downtimeMs", String.valueOf(millisSince(freezeStartNanos)),
                    "totalMs", String.valueOf(millisSince(startNanos))), node.config().commitTimeout());
            try {
                connection.finish();
            } catch (TransferException e) {
                log.debug("closing the transfer session: {}", e.getMessage());
            }
            connection.close();
        } catch (TransferException | IOException | RuntimeException e) {
            if (journal.step() == Step.COMMITTING && !(e instanceof TransferException t && !t.retriable())) {
                // the COMMIT may have arrived: the destination's events decide, as for a process
                connection.close();
                if (destinationCommitted()) {
                    log.info("COMMIT reply lost ({}) but the destination published COMPLETED", describe(e));
                    committed(node, journal);
                    return;
                }
            }
            rollback(describe(e), connection);
            return;
        }
        committed(node, journal);
    }

    private boolean destinationCommitted() throws InterruptedException {
        try {
            return MigrationRecovery.destinationCommitted(node, journal);
        } catch (RuntimeException e) {
            log.error("cannot read the events ({}); restarting container workload {} here", e.getMessage(), workloadId);
            return false;
        }
    }

    /** The destination runs the container now: the checkpointed source container goes. Shared with recovery. */
    private static void committed(NodeServices node, MigrationJournal journal) throws IOException {
        String containerId = journal.get("containerId");
        log.info("container {} now runs on {}; removing the source container", shortId(containerId),
                journal.get("destination"));
        ContainerWorkloads.engine(node).remove(containerId);
        node.workloads().remove(journal.get("workloadId"));
        journal.delete();
        node.peers().forget(journal.get("migrationId"));
    }

    /**
     * At start-up, for a container migration this executor left unfinished: the rules of process migrations
     * ({@link RecoveryDecision}) with the container as the frozen copy - it is present while the engine still has it
     * (checkpointed, or running if the checkpoint never happened).
     */
    public static void recover(NodeServices node, MigrationJournal journal) throws IOException, InterruptedException {
        String workloadId = journal.get("workloadId");
        String containerId = journal.get("containerId");
        Step step = journal.step();
        DockerEngine engine = ContainerWorkloads.engine(node);
        boolean committed = step == Step.COMMITTING && MigrationRecovery.destinationCommitted(node, journal);
        boolean present = containerId != null && engine.inspect(containerId).isPresent();
        RecoveryDecision.SourceAction action = RecoveryDecision.forSource(step, committed, present, false, false);
        String why = "executor restarted mid-migration";
        log.info("recovering source side of the container migration of {} (stopped at {}): {}", workloadId, step, action);
        PhaseTimings.Builder timings = PhaseTimings.newBuilder();
        switch (action) {
            case KEEP_RUNNING -> publishEnd(node, journal, Phase.ROLLED_BACK, timings, engine.pid(containerId),
                    why + " before the checkpoint; the container kept running here", () -> deleteQuietly(journal));
            case RELEASE_FROZEN -> committed(node, journal);
            case RESUME_FROZEN -> resume(node, journal, engine, why, timings);
            case RESTORE_LOCAL_IMAGES, LOST -> publishEnd(node, journal, Phase.FAILED, timings, 0,
                    "workload lost: " + why + " and container " + shortId(containerId) + " is gone from the engine", null);
        }
    }

    /** Why this container cannot move, or null. */
    private static String refusal(JsonNode inspected) {
        if (inspected == null || !inspected.path("State").path("Running").asBoolean(false)) {
            return "the container is not running";
        }
        if (inspected.path("Mounts").size() > 0) {
            return "the container has volumes or bind mounts, which pmig does not carry between engines";
        }
        return null;
    }

    private void sendImageIfMissing(TransferConnection connection, String imageId, String imageName)
            throws TransferException, IOException {
        if ("yes".equals(connection.control(ContainerReceiver.HAS_IMAGE, Map.of("image", imageId), CONNECT_TIMEOUT))) {
            return;
        }
        long t = System.nanoTime();
        Path tar = staging.resolve("container").resolve("image.tar");
        // by name when it still names this image, so the destination gets the tag too
        String ref = !imageName.isEmpty() && engine.hasImage(imageName)
                && engine.client().inspectImageCmd(imageName).exec().getId().equals(imageId) ? imageName : imageId;
        engine.saveImage(ref, tar);
        TransferReceipt receipt = connection.sendFiles(staging, List.of(Path.of("container"), staging.relativize(tar)));
        connection.control(ContainerReceiver.LOAD_IMAGE, Map.of(), IMAGE_TIMEOUT);
        Files.delete(tar);
        log.info("the destination lacked image {}: sent it ({} bytes) in {} ms, before the checkpoint", ref,
                receipt.bytes(), millisSince(t));
    }

    /**
     * The container's spec and its writable layer: one tar per path it added (a new directory travels whole) or
     * modified (a changed directory is only a parent of other changes, so it is skipped).
     */
    private ObjectNode spec(JsonNode inspected) throws IOException {
        ObjectNode spec = DockerEngine.JSON.createObjectNode();
        spec.put("name", inspected.path("Name").asText().replaceFirst("^/", ""));
        ObjectNode config = inspected.path("Config").deepCopy();
        config.put("Image", inspected.path("Image").asText()); // the id: the destination may know it under no tag
        spec.set("config", config);
        spec.set("hostConfig", inspected.path("HostConfig"));
        ArrayNode layers = spec.putArray("layers");
        ArrayNode deleted = spec.putArray("deleted");
        Path dir = Files.createDirectories(staging.resolve("container").resolve("layer"));
        List<ChangeLog> changes = new ArrayList<>(engine.diff(containerId));
        changes.sort(Comparator.comparing(ChangeLog::getPath));
        String copiedTree = null;
        for (ChangeLog change : changes) {
            String path = change.getPath();
            if (copiedTree != null && path.startsWith(copiedTree + "/")) {
                continue;
            }
            if (change.getKind() != null && change.getKind() == 2) {
                deleted.add(path);
                continue;
            }
            boolean directory = engine.isDirectory(containerId, path);
            if (directory && (change.getKind() == null || change.getKind() == 0)) {
                continue;
            }
            String file = "layer/" + layers.size() + ".tar";
            engine.archiveFrom(containerId, path, dir.resolve(layers.size() + ".tar"));
            String parent = path.substring(0, Math.max(1, path.lastIndexOf('/')));
            layers.addObject().put("file", file).put("dir", parent).put("path", path);
            if (directory) {
                copiedTree = path;
            }
        }
        if (!deleted.isEmpty()) {
            log.warn("container {} deleted {} path(s) of its image ({}); the destination still has them", shortId(),
                    deleted.size(), deleted);
        }
        return spec;
    }

    /** Gives the container back to this node (the destination removes what it created). */
    private void rollback(String why, TransferConnection connection) throws IOException {
        log.warn("rolling back container workload {}: {}", workloadId, why);
        journal.step(Step.ROLLING_BACK);
        abortQuietly(connection);
        resume(node, journal, engine, why, timings);
    }

    /**
     * Runs the container here again: as it is if the checkpoint never stopped it, else restarted from its checkpoint
     * (ROLLED_BACK); FAILED "workload lost" only if that restart fails (the checkpoint is kept for an operator).
     */
    private static void resume(NodeServices node, MigrationJournal journal, DockerEngine engine, String why,
                               PhaseTimings.Builder timings) throws IOException {
        String workloadId = journal.get("workloadId");
        String containerId = journal.get("containerId");
        String checkpoint = journal.get("checkpoint");
        long t = System.nanoTime();
        try {
            if (engine.pid(containerId) == 0) {
                // Restart from a copy under a new name with one file added: containerd may still hold the checkpoint it
                // took as content, and Docker 20.10 then refuses to upload the very same bytes again on start
                // ("commit failed: content sha256:...: already exists" - seen whenever its GC had not run yet).
                String copy = checkpoint + "-rollback";
                Path copyDir = engine.checkpointDir(containerId, copy);
                NodeWorkloads.deleteTree(copyDir); // an earlier attempt's, if a restart interrupted it
                ContainerReceiver.copyTree(engine.checkpointDir(containerId, checkpoint), copyDir);
                Files.writeString(copyDir.resolve("pmig-rollback"), journal.get("migrationId") + "\n");
                engine.startFromCheckpoint(containerId, copy);
                timings.setRestoreMs(millisSince(t));
            }
            int pid = engine.pid(containerId);
            if (pid == 0) {
                throw new IllegalStateException("container " + shortId(containerId) + " does not run after its restart");
            }
            node.workloads().writePid(workloadId, pid);
            node.exits().watch(workloadId, pid);
            log.info("rolled back: container {} runs here again as pid {}", shortId(containerId), pid);
            publishEnd(node, journal, Phase.ROLLED_BACK, timings, pid, why, () -> deleteQuietly(journal));
        } catch (IOException | RuntimeException e) {
            log.error("container workload {} lost: {}; restarting it failed: {} (checkpoint {} and journal {} kept)",
                    workloadId, why, describe(e), checkpoint, journal.dir());
            publishEnd(node, journal, Phase.FAILED, timings, 0, "workload lost: " + why + "; restarting the container "
                    + "from checkpoint " + checkpoint + " failed: " + describe(e), null);
        }
        node.peers().forget(journal.get("migrationId"));
    }

    /** ROLLED_BACK is retried until the broker takes it (then the journal goes); FAILED is published once. */
    private static void publishEnd(NodeServices node, MigrationJournal journal, Phase phase, PhaseTimings.Builder timings,
                                   int pid, String why, Runnable afterwards) {
        MigrationEvent.Builder event = node.events().event(journal.get("commandId"), journal.get("migrationId"),
                        journal.get("workloadId"), phase)
                .setMode(io.pmig.schemas.MigrationMode.valueOf(journal.get("mode"))).setSourceNode(node.config().node())
                .setDestinationNode(journal.get("destination")).setTimings(timings.build()).setPid(pid).setError(why);
        if (afterwards != null) {
            node.events().publishEventually(event, afterwards);
        } else {
            node.events().publish(event);
        }
    }

    private static void deleteQuietly(MigrationJournal journal) {
        try {
            journal.delete();
        } catch (IOException e) {
            log.warn("cannot delete the journal in {}: {}", journal.dir(), e.getMessage());
        }
    }

    /** Nothing was checkpointed: the container never stopped. */
    private void untouched(Phase phase, String why, TransferConnection connection) throws IOException {
        log.warn("migration of container workload {} abandoned before the checkpoint: {}", workloadId, why);
        abortQuietly(connection);
        int pid = engine.pid(containerId);
        if (pid != 0) {
            node.exits().watch(workloadId, pid);
        }
        node.events().publish(event(phase).setError(why).setPid(pid));
        journal.delete();
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

    private MigrationEvent.Builder event(Phase phase) {
        return node.events().event(command.getCommandId(), migrationId, workloadId, phase)
                .setMode(command.getMode()).setSourceNode(node.config().node())
                .setDestinationNode(command.getDestinationNode())
                .setTimings(timings.setTotalMs(millisSince(startNanos))
                        .setDowntimeMs(freezeStartNanos == 0 ? 0 : millisSince(freezeStartNanos)).build());
    }

    private String shortId() {
        return shortId(containerId);
    }

    private static String shortId(String containerId) {
        return containerId == null ? "?" : containerId.length() > 12 ? containerId.substring(0, 12) : containerId;
    }

    /** {@code name} and everything under it, relative to {@code base}, directories before their contents. */
    static List<Path> tree(Path base, String name) throws IOException {
        try (Stream<Path> walk = Files.walk(base.resolve(name))) {
            return walk.filter(p -> Files.isDirectory(p) || Files.isRegularFile(p)).map(base::relativize).toList();
        }
    }

    static long size(Path dir) {
        try (Stream<Path> files = Files.walk(dir)) {
            return files.filter(Files::isRegularFile).mapToLong(p -> p.toFile().length()).sum();
        } catch (IOException e) {
            return 0;
        }
    }

    private static String describe(Exception e) {
        return e instanceof TransferException || e instanceof IOException ? e.getMessage() : e.toString();
    }
}
