package io.pmig.executor.container;

import static io.pmig.executor.migration.SourceMigration.millisSince;
import static io.pmig.executor.migration.SourceMigration.parseReply;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.node.ArrayNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import com.github.dockerjava.api.model.ChangeLog;
import io.pmig.executor.migration.NodeServices;
import io.pmig.executor.migration.PreparedEndpoint;
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
 * destination removes whatever it created. Unlike a process restore, {@code docker start --checkpoint} cannot
 * leave the tasks stopped, so between RESTORE and COMMIT the destination copy already runs while the source is
 * stopped; a rollback in that window replays what the destination did in it (at most the commit round trip).
 *
 * <p>Not carried: volumes and bind mounts (such a container is refused, untouched), files the container deleted
 * from its image layers (logged), and the container's log on the source engine (it stays behind with the source).
 * Not journaled: if the source executor dies after the checkpoint, the stopped container keeps its checkpoint
 * and {@code docker start --checkpoint pmig-...} resumes it.
 */
public final class ContainerSourceMigration {

    private static final Logger log = LoggerFactory.getLogger(ContainerSourceMigration.class);
    private static final Duration CONNECT_TIMEOUT = Duration.ofSeconds(30);
    private static final Duration IMAGE_TIMEOUT = Duration.ofMinutes(10);
    private static final Duration RESTORE_TIMEOUT = Duration.ofMinutes(5);
    private static final Duration COMMIT_TIMEOUT = Duration.ofSeconds(60);

    private final NodeServices node;
    private final MigrationCommand command;
    private final String migrationId;
    private final String workloadId;
    private final String checkpoint;
    private final Path staging;
    private final PhaseTimings.Builder timings = PhaseTimings.newBuilder();
    private DockerEngine engine;
    private String containerId;
    private long startNanos;
    private long freezeStartNanos;

    private ContainerSourceMigration(NodeServices node, MigrationCommand command) {
        this.node = node;
        this.command = command;
        this.migrationId = command.getCommandId();
        this.workloadId = command.getWorkloadId();
        this.checkpoint = checkpointName(migrationId);
        this.staging = node.config().workdir().resolve("container-migrations").resolve(checkpoint);
    }

    public static ContainerSourceMigration create(NodeServices node, MigrationCommand command) {
        return new ContainerSourceMigration(node, command);
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

        if (!node.exits().unwatch(workloadId)) {
            untouched(Phase.ROLLED_BACK, "container workload " + workloadId + " is no longer running here", connection);
            return;
        }
        freezeStartNanos = System.nanoTime();
        try {
            engine.checkpoint(containerId, checkpoint);
        } catch (IOException | RuntimeException e) {
            if (engine.pid(containerId) != 0) {
                node.exits().watch(workloadId, engine.pid(containerId));
                untouched(Phase.ROLLED_BACK, "checkpoint failed: " + describe(e), connection);
            } else {
                rollback("checkpoint failed: " + describe(e), connection);
            }
            return;
        }
        long dumpMs = millisSince(freezeStartNanos);
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

            Map<String, String> restored = parseReply(connection.control(ContainerReceiver.RESTORE,
                    Map.of("checkpoint", checkpoint), RESTORE_TIMEOUT));
            timings.setRestoreMs(Long.parseLong(restored.getOrDefault("restoreMs", "0")));
            connection.control(ContainerReceiver.COMMIT, Map.of(
                    "freezeMs", String.valueOf(timings.getFreezeMs()), "dumpMs", String.valueOf(timings.getDumpMs()),
                    "transferMs", String.valueOf(timings.getTransferMs()), "bytesMoved", String.valueOf(bytes),
                    "downtimeMs", String.valueOf(millisSince(freezeStartNanos)),
                    "totalMs", String.valueOf(millisSince(startNanos))), COMMIT_TIMEOUT);
            try {
                connection.finish();
            } catch (TransferException e) {
                log.debug("closing the transfer session: {}", e.getMessage());
            }
            connection.close();
        } catch (TransferException | IOException | RuntimeException e) {
            if (e instanceof TransferException t && t.retriable() && node.history().completed(workloadId, migrationId)) {
                log.info("COMMIT reply lost ({}) but the destination published COMPLETED", e.getMessage());
                connection.close();
            } else {
                rollback(describe(e), connection);
                return;
            }
        }
        log.info("container {} now runs on {}; removing the source container", shortId(), command.getDestinationNode());
        engine.remove(containerId);
        node.workloads().remove(workloadId);
        NodeWorkloads.deleteTree(staging);
        node.peers().forget(migrationId);
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
        if ("yes".equals(connection.control(ContainerReceiver.HAS_IMAGE, Map.of("image", imageId), COMMIT_TIMEOUT))) {
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

    /** Restarts the source container from its checkpoint (the destination removes what it created). */
    private void rollback(String why, TransferConnection connection) throws IOException {
        log.warn("rolling back container workload {}: {}", workloadId, why);
        abortQuietly(connection);
        long t = System.nanoTime();
        try {
            // Restart from a copy under a new name with one file added: containerd may still hold the checkpoint it
            // took as content, and Docker 20.10 then refuses to upload the very same bytes again on start
            // ("commit failed: content sha256:...: already exists" - seen whenever its GC had not run yet).
            String copy = checkpoint + "-rollback";
            Path copyDir = engine.checkpointDir(containerId, copy);
            ContainerReceiver.copyTree(engine.checkpointDir(containerId, checkpoint), copyDir);
            Files.writeString(copyDir.resolve("pmig-rollback"), migrationId + "\n");
            engine.startFromCheckpoint(containerId, copy);
            int pid = engine.pid(containerId);
            timings.setRestoreMs(millisSince(t));
            node.workloads().writePid(workloadId, pid);
            node.exits().watch(workloadId, pid);
            node.events().publish(event(Phase.ROLLED_BACK).setPid(pid).setError(why));
            log.info("rolled back: container {} runs here again as pid {}", shortId(), pid);
        } catch (IOException | RuntimeException e) {
            node.events().publish(event(Phase.FAILED).setError("workload lost: " + why + "; restarting the container "
                    + "from checkpoint " + checkpoint + " failed: " + describe(e)));
            log.error("container workload {} lost: {}; rollback failed: {} (checkpoint {} kept)", workloadId, why,
                    describe(e), checkpoint);
        }
        NodeWorkloads.deleteTree(staging);
        node.peers().forget(migrationId);
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
        NodeWorkloads.deleteTree(staging);
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
        return containerId.length() > 12 ? containerId.substring(0, 12) : containerId;
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
