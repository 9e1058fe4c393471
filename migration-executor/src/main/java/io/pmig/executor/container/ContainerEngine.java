package io.pmig.executor.container;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.node.ArrayNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import com.github.dockerjava.api.model.ChangeLog;
import com.github.dockerjava.api.model.Container;
import io.pmig.executor.criu.BackgroundCriu;
import io.pmig.executor.criu.CriuException;
import io.pmig.executor.criu.PageServer;
import io.pmig.executor.criu.PageServerAddress;
import io.pmig.executor.migration.CheckpointEngine;
import io.pmig.executor.migration.CheckpointStrategy;
import io.pmig.executor.migration.CriuEngine;
import io.pmig.executor.migration.FrozenSource;
import io.pmig.executor.migration.MigrationJournal;
import io.pmig.executor.migration.NodeServices;
import io.pmig.executor.migration.SourceMigration;
import io.pmig.executor.transfer.TransferConnection;
import io.pmig.executor.transfer.TransferException;
import io.pmig.executor.transfer.TransferReceipt;
import io.pmig.executor.workload.ProcessTable;
import io.pmig.executor.workload.WorkloadIdentity;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Comparator;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.Set;
import java.util.stream.Stream;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * The checkpoint engine of Docker container workloads: the migration drivers run the same phases as for a process
 * tree, and this engine does each with the node's Docker engine (docker-java and the experimental checkpoint API):
 * <ol>
 * <li>before the freeze, the image, if the destination's engine lacks it ({@code docker save}, then {@code docker load}
 *     there) - images are immutable, so this costs no downtime;</li>
 * <li>dump: {@code docker checkpoint create} (the container stops: the frozen copy is the stopped container and its
 *     checkpoint), then, into the images, the checkpoint files, the spec (inspected {@code Config} + {@code HostConfig})
 *     and one tar per path the container added or changed in its writable layer;</li>
 * <li>restore: create the container from the spec, apply the layer tars, put the checkpoint where the engine looks for
 *     it ({@code <DockerRootDir>/containers/<id>/checkpoints/<name>}: Docker 20.10 refuses {@code --checkpoint-dir} on
 *     start), start from it and pause at once - docker cannot start a container stopped, so the copy runs for the
 *     milliseconds before the pause, and then only after COMMIT ({@code docker unpause});</li>
 * <li>rollback: the source container starts again from its checkpoint (a second restore, unlike a process tree's
 *     resume); commit: it is removed.</li>
 * </ol>
 * Memory cannot travel apart from the checkpoint, so every mode moves as one local checkpoint. Not carried: volumes
 * and bind mounts (such a container is refused before the freeze), files deleted from image layers (logged), the
 * source engine's container log.
 */
public final class ContainerEngine implements CheckpointEngine {

    public static final String KIND = "container";
    static final String HAS_IMAGE = "CONTAINER_HAS_IMAGE";
    static final String LOAD_IMAGE = "CONTAINER_LOAD_IMAGE";
    /** Written into a dump's images: the source container's id (its frozen copy). */
    private static final String CONTAINER_ID = "container.id";
    private static final String SPEC = "container-spec.json";
    private static final String LAYER_PREFIX = "container-layer-";
    private static final String IMAGE_TAR = "container-image.tar";
    private static final Duration CONTROL_TIMEOUT = Duration.ofSeconds(30);
    private static final Duration IMAGE_TIMEOUT = Duration.ofMinutes(10);
    private static final Logger log = LoggerFactory.getLogger(ContainerEngine.class);

    private final NodeServices node;
    private final DockerEngine docker;

    public ContainerEngine(NodeServices node) {
        this.node = node;
        this.docker = ContainerWorkloads.engine(node);
    }

    @Override
    public String kind() {
        return KIND;
    }

    @Override
    public boolean carriesMemoryApart() {
        return false;
    }

    /** The Docker engine restores its own checkpoints; both sides must run one with the checkpoint API. */
    @Override
    public String version() {
        return "docker";
    }

    @Override
    public boolean restoresImagesOf(String version) {
        try {
            return "docker".equals(version) && docker.experimental();
        } catch (IOException e) {
            return false;
        }
    }

    @Override
    public Optional<String> lazyPagesProblem() {
        return Optional.empty(); // every mode moves as one checkpoint
    }

    @Override
    public boolean isPresent(WorkloadIdentity init) {
        return init.isPresent();
    }

    @Override
    public List<String> refusals(int initPid) {
        Optional<JsonNode> container;
        try {
            container = byPid(initPid);
        } catch (IOException e) {
            return List.of("cannot ask Docker engine " + docker.host() + " about the container: " + e.getMessage());
        }
        if (container.isEmpty()) {
            return List.of("no container of Docker engine " + docker.host() + " runs host pid " + initPid);
        }
        if (container.get().path("Mounts").size() > 0) {
            return List.of("the container has volumes or bind mounts, which pmig does not carry between engines");
        }
        return List.of();
    }

    @Override
    public Set<Integer> stoppedTasks(int initPid) {
        return Set.of();
    }

    @Override
    public long residentBytes(int initPid) {
        return CriuEngine.residentSet(initPid);
    }

    @Override
    public boolean holdsNetworkAddresses(int initPid) {
        return false; // a container has its own network namespace
    }

    /** The image, if the destination's engine lacks it: sent while the container still runs. */
    @Override
    public void beforeFreeze(TransferConnection connection, int initPid, Path staging) throws TransferException, IOException {
        JsonNode inspected = byPid(initPid).orElseThrow(() -> new IOException("the container of pid " + initPid + " is gone"));
        String imageId = inspected.path("Image").asText();
        String imageName = inspected.path("Config").path("Image").asText();
        if ("yes".equals(connection.control(HAS_IMAGE, Map.of("image", imageId), CONTROL_TIMEOUT))) {
            return;
        }
        long t = System.nanoTime();
        Path dir = Files.createDirectories(staging.resolve("image"));
        Path tar = dir.resolve(IMAGE_TAR);
        // by name when it still names this image, so the destination gets the tag too
        String ref = !imageName.isEmpty() && docker.hasImage(imageName)
                && docker.client().inspectImageCmd(imageName).exec().getId().equals(imageId) ? imageName : imageId;
        docker.saveImage(ref, tar);
        TransferReceipt receipt = connection.sendFiles(dir, List.of(Path.of(IMAGE_TAR)));
        connection.control(LOAD_IMAGE, Map.of(), IMAGE_TIMEOUT);
        Files.delete(tar);
        log.info("the destination lacked image {}: sent it ({} bytes) in {} ms, before the checkpoint", ref,
                receipt.bytes(), SourceMigration.millisSince(t));
    }

    @Override
    public String control(String verb, Map<String, String> args, Path sessionDir) throws Exception {
        return switch (verb) {
            case HAS_IMAGE -> docker.hasImage(args.getOrDefault("image", "")) ? "yes" : "no";
            case LOAD_IMAGE -> {
                Path tar = sessionDir.resolve(IMAGE_TAR);
                docker.loadImage(tar);
                Files.delete(tar);
                yield "loaded";
            }
            default -> throw new IllegalArgumentException("unknown control request " + verb);
        };
    }

    @Override
    public CheckpointStrategy localDump() {
        return new CheckpointStrategy() {
            @Override
            public void dump(int initPid, Path images) throws CriuException {
                try {
                    checkpoint(initPid, images);
                } catch (IOException | RuntimeException e) {
                    throw new CriuException("docker checkpoint failed: " + e.getMessage());
                }
            }

            @Override
            public boolean transfersPages() {
                return true;
            }
        };
    }

    @Override
    public CheckpointStrategy pageServerDump(PageServerAddress pageServer, List<String> tls) {
        return localDump();
    }

    @Override
    public CheckpointStrategy lazyDump(PageServerAddress serveAt, List<String> tls) {
        return localDump();
    }

    /** Checkpoints the container (it stops), then writes what the destination needs into {@code images}. */
    private void checkpoint(int initPid, Path images) throws IOException {
        JsonNode inspected = byPid(initPid).orElseThrow(() -> new IOException("no container runs host pid " + initPid));
        String id = inspected.path("Id").asText();
        String checkpoint = checkpointName(images);
        Files.writeString(images.resolve(CONTAINER_ID), id + "\n" + checkpoint + "\n");
        docker.checkpoint(id, checkpoint);
        // the checkpoint's files join the images by hard link where they can: no copy while the container is stopped
        Path from = docker.checkpointDir(id, checkpoint);
        try (Stream<Path> files = Files.list(from)) {
            for (Path file : files.filter(Files::isRegularFile).toList()) {
                Path to = images.resolve(file.getFileName().toString());
                try {
                    Files.createLink(to, file);
                } catch (IOException | UnsupportedOperationException e) {
                    Files.copy(file, to);
                }
            }
        }
        Files.write(images.resolve(SPEC), DockerEngine.JSON.writeValueAsBytes(spec(inspected, id, images)));
    }

    /**
     * The container's spec and its writable layer: one tar per path it added (a new directory travels whole) or
     * modified (a changed directory is only a parent of other changes, so it is skipped).
     */
    private ObjectNode spec(JsonNode inspected, String id, Path images) throws IOException {
        ObjectNode spec = DockerEngine.JSON.createObjectNode();
        spec.put("name", inspected.path("Name").asText().replaceFirst("^/", ""));
        ObjectNode config = inspected.path("Config").deepCopy();
        config.put("Image", inspected.path("Image").asText()); // the id: the destination may know it under no tag
        spec.set("config", config);
        spec.set("hostConfig", inspected.path("HostConfig"));
        ArrayNode layers = spec.putArray("layers");
        ArrayNode deleted = spec.putArray("deleted");
        List<ChangeLog> changes = new ArrayList<>(docker.diff(id));
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
            boolean directory = docker.isDirectory(id, path);
            if (directory && (change.getKind() == null || change.getKind() == 0)) {
                continue;
            }
            String file = LAYER_PREFIX + layers.size() + ".tar";
            docker.archiveFrom(id, path, images.resolve(file));
            String parent = path.substring(0, Math.max(1, path.lastIndexOf('/')));
            layers.addObject().put("file", file).put("dir", parent).put("path", path);
            if (directory) {
                copiedTree = path;
            }
        }
        if (!deleted.isEmpty()) {
            log.warn("container {} deleted {} path(s) of its image ({}); the destination still has them", shortId(id),
                    deleted.size(), deleted);
        }
        return spec;
    }

    @Override
    public boolean isPresent(FrozenSource frozen) {
        try {
            return frozenContainer(frozen.images()).isPresent()
                    && docker.inspect(frozenContainer(frozen.images()).get()[0]).isPresent();
        } catch (IOException e) {
            return false;
        }
    }

    /**
     * Runs the source container again: as it is if the checkpoint never stopped it, else restarted from its
     * checkpoint - from a copy under a new name with one file added: containerd may still hold the checkpoint it took
     * as content, and Docker 20.10 then refuses to upload the very same bytes again on start ("commit failed: content
     * sha256:...: already exists" - seen whenever its GC had not run yet).
     */
    @Override
    public int resume(FrozenSource frozen) {
        try {
            Optional<String[]> container = frozenContainer(frozen.images());
            if (container.isEmpty() || docker.inspect(container.get()[0]).isEmpty()) {
                return 0;
            }
            String id = container.get()[0];
            if (docker.pid(id) == 0) {
                String copy = container.get()[1] + "-rollback";
                Path copyDir = docker.checkpointDir(id, copy);
                io.pmig.executor.workload.NodeWorkloads.deleteTree(copyDir); // an interrupted earlier attempt's
                copyTree(docker.checkpointDir(id, container.get()[1]), copyDir);
                Files.writeString(copyDir.resolve("pmig-rollback"), frozen.images().getParent().getFileName() + "\n");
                docker.startFromCheckpoint(id, copy);
            }
            return docker.pid(id);
        } catch (IOException | RuntimeException e) {
            log.error("restarting the checkpointed container failed: {} (its checkpoint is kept)", e.toString());
            return 0;
        }
    }

    @Override
    public void release(FrozenSource frozen) {
        try {
            frozenContainer(frozen.images()).ifPresent(container -> docker.remove(container[0]));
        } catch (IOException e) {
            log.warn("cannot read which container was checkpointed in {}: {}", frozen.images(), e.getMessage());
        }
    }

    @Override
    public PageServer startPageServer(Path images, PageServerAddress at, List<String> tls, Duration readyTimeout)
            throws CriuException {
        throw new CriuException("a container moves as one checkpoint: no page server");
    }

    @Override
    public BackgroundCriu startLazyPages(Path images, PageServerAddress source, List<String> tls, Duration readyTimeout)
            throws CriuException {
        throw new CriuException("a container moves as one checkpoint: no lazy pages");
    }

    /** Creates the container from the received spec, layer and checkpoint, starts it from the checkpoint, paused. */
    @Override
    public int restore(Path images, Path workloadDir, boolean leaveStopped, boolean lazy, String logName)
            throws CriuException {
        try {
            if (!docker.experimental()) {
                throw new CriuException("Docker engine " + docker.host() + " is not experimental: it cannot restore checkpoints");
            }
            JsonNode spec = DockerEngine.JSON.readTree(images.resolve(SPEC).toFile());
            String name = spec.path("name").asText();
            if (docker.inspect(name).isPresent()) {
                throw new CriuException("a container named '" + name + "' already exists on " + docker.host());
            }
            String checkpoint = checkpointName(images);
            String id = docker.create(name, spec.path("config"), spec.path("hostConfig"));
            try {
                for (JsonNode layer : spec.path("layers")) {
                    docker.archiveTo(id, layer.path("dir").asText(), inside(images, layer.path("file").asText()));
                }
                Path target = Files.createDirectories(docker.checkpointDir(id, checkpoint));
                try (Stream<Path> files = Files.list(images)) {
                    for (Path file : files.filter(ContainerEngine::isCheckpointFile).toList()) {
                        Files.copy(file, target.resolve(file.getFileName().toString()));
                    }
                }
                docker.startFromCheckpoint(id, checkpoint);
                if (leaveStopped) {
                    docker.pause(id);
                }
                int pid = docker.pid(id);
                if (pid == 0) {
                    throw new CriuException("container started from its checkpoint but does not run");
                }
                Files.createDirectories(workloadDir);
                Files.writeString(workloadDir.resolve(ContainerWorkloads.CONTAINER_FILE), id + "\n" + name + "\n");
                log.info("restored container {} ({}) as pid {}{}", name, shortId(id), pid, leaveStopped ? ", paused" : "");
                return pid;
            } catch (IOException | RuntimeException | CriuException e) {
                docker.remove(id);
                throw e;
            }
        } catch (IOException | RuntimeException e) {
            throw new CriuException("container restore failed: " + e.getMessage());
        }
    }

    @Override
    public boolean isAlive(int pid) {
        return ProcessTable.isAlive(pid);
    }

    @Override
    public void resumeCopy(int initPid, Set<Integer> keepStopped) {
        try {
            Optional<JsonNode> container = byPid(initPid);
            if (container.isPresent()) {
                docker.unpause(container.get().path("Id").asText());
            }
        } catch (IOException | RuntimeException e) {
            log.warn("cannot unpause the container of pid {}: {}", initPid, e.toString());
        }
    }

    @Override
    public void kill(int initPid) {
        if (initPid == 0) {
            return;
        }
        try {
            Optional<JsonNode> container = byPid(initPid);
            if (container.isPresent()) {
                docker.remove(container.get().path("Id").asText());
                return;
            }
        } catch (IOException | RuntimeException e) {
            log.warn("cannot find the container of pid {}: {}", initPid, e.toString());
        }
        ProcessTable.killNamespace(initPid);
    }

    @Override
    public Optional<String> networkLock(Path images) {
        return Optional.empty();
    }

    @Override
    public void unlockNetwork(String lock) {
    }

    @Override
    public void settleSource(MigrationJournal journal) {
        // the engine finishes a checkpoint on its own; nothing of pmig's outlives the executor
    }

    /**
     * A container created for the restore but never started (the executor died between create and start) is removed
     * here; a started one is returned, for the rules to decide.
     */
    @Override
    public int settleDestination(MigrationJournal journal) {
        Path spec = journal.dir().resolve("incoming").resolve("images").resolve(SPEC);
        try {
            if (!Files.isRegularFile(spec)) {
                return 0;
            }
            String name = DockerEngine.JSON.readTree(spec.toFile()).path("name").asText();
            Optional<JsonNode> container = docker.inspect(name);
            if (container.isEmpty() || !created(container.get(), journal)) {
                return 0;
            }
            int pid = container.get().path("State").path("Pid").asInt(0);
            if (pid == 0) {
                docker.remove(container.get().path("Id").asText());
            }
            return pid;
        } catch (IOException | RuntimeException e) {
            log.warn("cannot settle the container restore of {}: {}", journal.dir(), e.toString());
            return 0;
        }
    }

    /** Whether this migration made the container: it holds this migration's checkpoint. */
    private boolean created(JsonNode container, MigrationJournal journal) throws IOException {
        return Files.isDirectory(docker.checkpointDir(container.path("Id").asText(),
                checkpointName(journal.dir().resolve("incoming").resolve("images"))));
    }

    /** The running container whose init is host pid {@code pid}. */
    private Optional<JsonNode> byPid(int pid) throws IOException {
        if (pid <= 0) {
            return Optional.empty();
        }
        for (Container c : docker.client().listContainersCmd().exec()) {
            Optional<JsonNode> inspected = docker.inspect(c.getId());
            if (inspected.isPresent() && inspected.get().path("State").path("Pid").asInt(0) == pid) {
                return inspected;
            }
        }
        return Optional.empty();
    }

    /** The id and checkpoint name of the container a dump checkpointed, from its images. */
    private static Optional<String[]> frozenContainer(Path images) throws IOException {
        Path file = images.resolve(CONTAINER_ID);
        if (!Files.isRegularFile(file)) {
            return Optional.empty();
        }
        List<String> lines = Files.readAllLines(file);
        return lines.size() >= 2 ? Optional.of(new String[] {lines.get(0).strip(), lines.get(1).strip()}) : Optional.empty();
    }

    /**
     * The checkpoint's name on both engines: the migration's directory name (the parent of the source's images, the
     * grandparent of the destination's {@code incoming/images}), made to fit Docker's [A-Za-z0-9_.-].
     */
    static String checkpointName(Path images) {
        Path migration = images.toAbsolutePath().getParent();
        if (migration.getFileName().toString().equals("incoming")) {
            migration = migration.getParent();
        }
        String name = "pmig-" + migration.getFileName().toString().replaceAll("[^A-Za-z0-9_.-]", "_");
        return name.length() > 100 ? name.substring(0, 100) : name;
    }

    /** The files of a Docker checkpoint among a dump's images (not pmig's own). */
    private static boolean isCheckpointFile(Path file) {
        String name = file.getFileName().toString();
        return Files.isRegularFile(file) && !name.equals(SPEC) && !name.equals(CONTAINER_ID)
                && !name.startsWith(LAYER_PREFIX);
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

    /** Names from the source's spec stay inside the images directory. */
    private static Path inside(Path root, String name) {
        Path p = root.resolve(name).normalize();
        if (!p.startsWith(root) || p.equals(root) || !p.getFileName().toString().startsWith(LAYER_PREFIX)) {
            throw new IllegalArgumentException("layer file '" + name + "' is not a layer of this checkpoint");
        }
        return p;
    }

    private static String shortId(String id) {
        return id.length() > 12 ? id.substring(0, 12) : id;
    }
}
