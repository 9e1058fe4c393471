package io.pmig.executor.container;

import com.fasterxml.jackson.databind.JsonNode;
import io.pmig.executor.migration.NodeServices;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.concurrent.ConcurrentHashMap;

/**
 * Docker containers as pmig workloads. A LAUNCH whose argv is the single word {@code docker-container:NAME} adopts
 * the running container NAME of this node's engine: the workload directory gets a {@code container} file (the
 * container's id and name) and the usual pid file holds the container init's host pid, so the exit watcher, KILL,
 * the agent's process sampling and MIGRATE's checks treat it like any other workload. MIGRATE then moves it through
 * the same migration drivers with {@link ContainerEngine} instead of criu.
 */
public final class ContainerWorkloads {

    public static final String ARGV_PREFIX = "docker-container:";
    /** Marker in the workload directory: line 1 the container id, line 2 its name. */
    public static final String CONTAINER_FILE = "container";
    private static final Map<String, DockerEngine> ENGINES = new ConcurrentHashMap<>();

    private ContainerWorkloads() {
    }

    /** The container a LAUNCH argv names, if it is {@code [docker-container:NAME]}. */
    public static Optional<String> launchedContainer(List<String> argv) {
        if (argv.size() == 1 && argv.get(0).startsWith(ARGV_PREFIX) && argv.get(0).length() > ARGV_PREFIX.length()) {
            return Optional.of(argv.get(0).substring(ARGV_PREFIX.length()));
        }
        return Optional.empty();
    }

    /** The engine this node's containers run on (see {@link DockerEngine#hostFor}); one client per engine. */
    public static DockerEngine engine(NodeServices node) {
        return ENGINES.computeIfAbsent(DockerEngine.hostFor(node.config().node()), DockerEngine::connect);
    }

    /** True if the workload is a container adopted (or received) by this node. */
    public static boolean isContainer(NodeServices node, String workloadId) {
        return Files.isRegularFile(node.workloads().dir(workloadId).resolve(CONTAINER_FILE));
    }

    /** The id of the workload's container (line 1 of its marker). */
    public static String containerId(NodeServices node, String workloadId) throws IOException {
        return Files.readAllLines(node.workloads().dir(workloadId).resolve(CONTAINER_FILE)).get(0).strip();
    }

    /** LAUNCH {@code docker-container:NAME}: records the running container as this workload; returns its init pid. */
    public static int adopt(NodeServices node, String workloadId, String container) throws IOException {
        if (node.workloads().isRunning(workloadId)) {
            throw new IllegalStateException("workload " + workloadId + " already exists on this node");
        }
        DockerEngine engine = engine(node);
        JsonNode inspected = engine.inspect(container)
                .orElseThrow(() -> new IOException("no container '" + container + "' on Docker engine " + engine.host()));
        int pid = inspected.path("State").path("Pid").asInt(0);
        if (!inspected.path("State").path("Running").asBoolean(false) || pid == 0) {
            throw new IOException("container '" + container + "' is not running");
        }
        record(node, workloadId, inspected.path("Id").asText(), inspected.path("Name").asText().replaceFirst("^/", ""), pid);
        return pid;
    }

    /** Writes the workload directory of a container running here as {@code pid}. */
    static void record(NodeServices node, String workloadId, String id, String name, int pid) throws IOException {
        Path dir = node.workloads().dir(workloadId);
        Files.createDirectories(dir);
        Files.writeString(dir.resolve(CONTAINER_FILE), id + "\n" + name + "\n");
        node.workloads().writePid(workloadId, pid);
    }

    /** KILL of a container workload: its init is already dead; the container goes from the engine too. */
    public static void removeContainer(NodeServices node, String workloadId) throws IOException {
        if (isContainer(node, workloadId)) {
            engine(node).remove(containerId(node, workloadId));
        }
    }
}
