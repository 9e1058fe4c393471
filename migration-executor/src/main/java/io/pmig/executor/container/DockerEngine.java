package io.pmig.executor.container;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ObjectNode;
import com.github.dockerjava.api.DockerClient;
import com.github.dockerjava.api.exception.NotFoundException;
import com.github.dockerjava.api.model.ChangeLog;
import com.github.dockerjava.core.DefaultDockerClientConfig;
import com.github.dockerjava.core.DockerClientImpl;
import com.github.dockerjava.httpclient5.ApacheDockerHttpClient;
import com.github.dockerjava.transport.DockerHttpClient;
import com.github.dockerjava.transport.DockerHttpClient.Request;
import com.github.dockerjava.transport.DockerHttpClient.Response;
import java.io.ByteArrayInputStream;
import java.io.IOException;
import java.io.InputStream;
import java.net.URI;
import java.net.URLEncoder;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.time.Duration;
import java.util.Base64;
import java.util.List;
import java.util.Map;
import java.util.Optional;

/**
 * One Docker engine, through docker-java. Checkpoint and restore are experimental API calls docker-java does not
 * wrap, so they go through its HTTP transport as raw requests ({@code POST /containers/{id}/checkpoints},
 * {@code POST /containers/{id}/start?checkpoint=NAME}); so does container creation, which takes the source's
 * inspected {@code Config}/{@code HostConfig} verbatim so nothing is lost in a mapping.
 *
 * <p>The engine must run on this host: a checkpoint lives in {@code <DockerRootDir>/containers/<id>/checkpoints}
 * and Docker 20.10 refuses to restore from any other directory, so the executor reads and writes it there.
 */
public final class DockerEngine implements AutoCloseable {

    /** Per node, for several executors in one JVM: {@code -Dpmig.docker.host.<node>=unix:///path}. */
    public static final String HOST_PROPERTY = "pmig.docker.host";
    static final ObjectMapper JSON = new ObjectMapper();

    private final String host;
    private final DockerHttpClient http;
    private final DockerClient client;

    private DockerEngine(String host) {
        this.host = host;
        this.http = new ApacheDockerHttpClient.Builder().dockerHost(URI.create(host))
                .connectionTimeout(Duration.ofSeconds(10)).responseTimeout(Duration.ofMinutes(5)).build();
        this.client = DockerClientImpl.getInstance(
                DefaultDockerClientConfig.createDefaultConfigBuilder().withDockerHost(host).build(), http);
    }

    public static DockerEngine connect(String host) {
        return new DockerEngine(host);
    }

    /**
     * The engine of {@code node}: {@code -Dpmig.docker.host.<node>}, else {@code -Dpmig.docker.host}, else
     * {@code $DOCKER_HOST} (Docker's own convention), else {@code unix:///var/run/docker.sock}.
     */
    public static String hostFor(String node) {
        String perNode = System.getProperty(HOST_PROPERTY + "." + node);
        if (perNode != null) {
            return perNode;
        }
        String any = System.getProperty(HOST_PROPERTY, System.getenv("DOCKER_HOST"));
        return any != null && !any.isBlank() ? any : "unix:///var/run/docker.sock";
    }

    public String host() {
        return host;
    }

    public DockerClient client() {
        return client;
    }

    /** True if the engine answers {@code /_ping}. */
    public boolean answers() {
        try {
            client.pingCmd().exec();
            return true;
        } catch (RuntimeException e) {
            return false;
        }
    }

    /** {@code DockerRootDir}: where this engine keeps containers and their checkpoints. */
    public Path dataRoot() throws IOException {
        return Path.of(call("GET", "/info", null).path("DockerRootDir").asText());
    }

    public boolean experimental() throws IOException {
        return call("GET", "/info", null).path("ExperimentalBuild").asBoolean(false);
    }

    /** The container's inspect document, or empty if no such container. */
    public Optional<JsonNode> inspect(String nameOrId) throws IOException {
        try (Response r = send("GET", "/containers/" + enc(nameOrId) + "/json", null)) {
            if (r.getStatusCode() == 404) {
                return Optional.empty();
            }
            return Optional.of(parse(r, "inspect " + nameOrId));
        }
    }

    /** Checkpoints a running container and stops it ({@code docker checkpoint create NAME CP}). */
    public void checkpoint(String id, String checkpoint) throws IOException {
        ObjectNode body = JSON.createObjectNode().put("CheckpointID", checkpoint).put("Exit", true);
        call("POST", "/containers/" + enc(id) + "/checkpoints", body);
    }

    /** Starts a created or stopped container from one of its checkpoints ({@code docker start --checkpoint CP}). */
    public void startFromCheckpoint(String id, String checkpoint) throws IOException {
        call("POST", "/containers/" + enc(id) + "/start?checkpoint=" + enc(checkpoint), null);
    }

    /** Freezes every task of the container in its cgroup ({@code docker pause}). */
    public void pause(String id) throws IOException {
        call("POST", "/containers/" + enc(id) + "/pause", null);
    }

    /** Lets a paused container's tasks run again ({@code docker unpause}); a container not paused is left alone. */
    public void unpause(String id) throws IOException {
        if (inspect(id).map(c -> c.path("State").path("Paused").asBoolean(false)).orElse(false)) {
            call("POST", "/containers/" + enc(id) + "/unpause", null);
        }
    }

    /** Where the engine keeps checkpoint {@code checkpoint} of container {@code fullId}. */
    public Path checkpointDir(String fullId, String checkpoint) throws IOException {
        return dataRoot().resolve("containers").resolve(fullId).resolve("checkpoints").resolve(checkpoint);
    }

    /** Creates a container from an inspected {@code Config} and {@code HostConfig}; returns its id. */
    public String create(String name, JsonNode config, JsonNode hostConfig) throws IOException {
        ObjectNode body = config.deepCopy();
        body.set("HostConfig", hostConfig);
        return call("POST", "/containers/create?name=" + enc(name), body).path("Id").asText();
    }

    public boolean hasImage(String image) {
        try {
            client.inspectImageCmd(image).exec();
            return true;
        } catch (NotFoundException e) {
            return false;
        }
    }

    /** {@code docker save IMAGE > tar}. */
    public void saveImage(String image, Path tar) throws IOException {
        try (InputStream in = client.saveImageCmd(image).exec()) {
            Files.copy(in, tar, StandardCopyOption.REPLACE_EXISTING);
        }
    }

    /** {@code docker load < tar}. */
    public void loadImage(Path tar) throws IOException {
        try (InputStream in = Files.newInputStream(tar)) {
            client.loadImageCmd(in).exec();
        }
    }

    /** {@code docker import tar REPO:TAG}: a file-system tarball as a single-layer image. */
    public void importImage(Path tar, String repository, String tag) throws IOException {
        Request request = Request.builder().method(Request.Method.POST)
                .path("/images/create?fromSrc=-&repo=" + enc(repository) + "&tag=" + enc(tag))
                .headers(Map.of("Content-Type", "application/x-tar")).body(Files.newInputStream(tar)).build();
        try (Response r = http.execute(request)) {
            String progress = new String(r.getBody().readAllBytes(), StandardCharsets.UTF_8);
            if (r.getStatusCode() / 100 != 2 || progress.contains("\"error\"")) {
                throw new IOException("Docker engine " + host + ": import " + repository + ":" + tag + ": HTTP "
                        + r.getStatusCode() + ": " + progress.strip());
            }
        }
    }

    /** {@code docker diff}: what the container changed in its writable layer. */
    public List<ChangeLog> diff(String id) {
        List<ChangeLog> changes = client.containerDiffCmd(id).exec();
        return changes == null ? List.of() : changes;
    }

    /** True if {@code path} in the container is a directory (the archive API's stat header). */
    public boolean isDirectory(String id, String path) throws IOException {
        // the stat header of GET (docker-java's transport has no HEAD); the tar body is left unread
        try (Response r = send("GET", "/containers/" + enc(id) + "/archive?path=" + enc(path), null)) {
            String stat = r.getHeader("X-Docker-Container-Path-Stat");
            if (r.getStatusCode() != 200 || stat == null) {
                throw new IOException("cannot stat " + path + " in container " + id + ": HTTP " + r.getStatusCode());
            }
            long mode = JSON.readTree(Base64.getDecoder().decode(stat)).path("mode").asLong();
            return (mode & (1L << 31)) != 0; // Go's os.ModeDir
        }
    }

    /** A tar of {@code path} (its base name first) from the container's file system. */
    public void archiveFrom(String id, String path, Path tar) throws IOException {
        try (InputStream in = client.copyArchiveFromContainerCmd(id, path).exec()) {
            Files.copy(in, tar, StandardCopyOption.REPLACE_EXISTING);
        }
    }

    /** Extracts a tar into directory {@code dir} of a (created, not yet started) container. */
    public void archiveTo(String id, String dir, Path tar) throws IOException {
        try (InputStream in = Files.newInputStream(tar)) {
            client.copyArchiveToContainerCmd(id).withRemotePath(dir).withTarInputStream(in).exec();
        }
    }

    /** {@code docker rm -f}: the container, its writable layer and its checkpoints. */
    public void remove(String id) {
        try {
            client.removeContainerCmd(id).withForce(true).exec();
        } catch (NotFoundException e) {
            // already gone
        }
    }

    /** Host pid of the container's init, 0 if it does not run. */
    public int pid(String id) throws IOException {
        return inspect(id).map(c -> c.path("State").path("Pid").asInt(0)).orElse(0);
    }

    private JsonNode call(String method, String path, JsonNode body) throws IOException {
        try (Response r = send(method, path, body)) {
            return parse(r, method + " " + path);
        }
    }

    private Response send(String method, String path, JsonNode body) throws IOException {
        Request.Builder request = Request.builder().method(Request.Method.valueOf(method)).path(path);
        if (body != null) {
            request.headers(Map.of("Content-Type", "application/json"))
                    .body(new ByteArrayInputStream(JSON.writeValueAsBytes(body)));
        }
        try {
            return http.execute(request.build());
        } catch (RuntimeException e) {
            throw new IOException("Docker engine " + host + ": " + method + " " + path + ": " + e.getMessage(), e);
        }
    }

    private JsonNode parse(Response r, String what) throws IOException {
        byte[] bytes = r.getBody() == null ? new byte[0] : r.getBody().readAllBytes();
        if (r.getStatusCode() / 100 != 2) {
            String message = new String(bytes, StandardCharsets.UTF_8).strip();
            try {
                message = JSON.readTree(bytes).path("message").asText(message);
            } catch (IOException ignored) {
                // not JSON: keep the raw text
            }
            throw new IOException("Docker engine " + host + ": " + what + ": HTTP " + r.getStatusCode() + ": " + message);
        }
        return bytes.length == 0 ? JSON.createObjectNode() : JSON.readTree(bytes);
    }

    private static String enc(String s) {
        return URLEncoder.encode(s, StandardCharsets.UTF_8);
    }

    @Override
    public void close() {
        try {
            http.close();
        } catch (IOException ignored) {
            // nothing to do
        }
    }
}
