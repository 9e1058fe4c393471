package io.pmig.executor.container;

import static org.junit.jupiter.api.Assertions.fail;

import com.github.dockerjava.api.model.HostConfig;
import io.pmig.executor.workload.NodeWorkloads;
import java.io.File;
import java.io.IOException;
import java.io.InputStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.concurrent.TimeUnit;
import org.apache.commons.compress.archivers.tar.TarArchiveEntry;
import org.apache.commons.compress.archivers.tar.TarArchiveInputStream;
import org.apache.commons.compress.archivers.tar.TarArchiveOutputStream;
import org.junit.jupiter.api.Assumptions;

/**
 * Real Docker engines on this machine for tests: each its own {@code dockerd --experimental} with its own data root,
 * exec root, pid file and unix socket, without touching the host's firewall or bridges
 * ({@code --iptables=false --ip-forward=false --bridge=none}), with criu &ge; 4.2 first on its PATH for checkpoints.
 *
 * <p>When Docker truly cannot run here (no {@code dockerd}, or not root) the calling tests are skipped with a message
 * saying so - unless {@code PMIG_REQUIRE_DOCKER=1} (set by {@code scripts/test.sh}, which installs docker.io), where a
 * skip would hide a broken CI and fails instead. A dockerd that is installed but does not start always fails.
 */
public final class DockerEngines implements AutoCloseable {

    public static final String COUNTER_IMAGE = "pmig-test/busybox:1";
    private final Path root;
    private final List<Engine> engines = new ArrayList<>();

    /** One running dockerd and a client for it. */
    public record Engine(String name, Path dir, Process process, DockerEngine client) {
        public String host() {
            return client.host();
        }
    }

    private DockerEngines(Path root) {
        this.root = root;
    }

    /** Starts one dockerd per name (short names: unix socket paths must stay under 108 bytes). */
    public static DockerEngines start(Path criu, String... names) throws Exception {
        Path dockerd = findDockerd();
        String why = dockerd == null ? "no dockerd on this machine (apt-get install docker.io; scripts/test.sh does it)"
                : !isRoot() ? "dockerd needs root" : null;
        if (why != null) {
            if ("1".equals(System.getenv("PMIG_REQUIRE_DOCKER"))) {
                fail("Docker is required here (PMIG_REQUIRE_DOCKER=1) but cannot run: " + why);
            }
            Assumptions.abort("Docker container tests skipped: " + why);
        }
        DockerEngines engines = new DockerEngines(Files.createTempDirectory(Path.of("/tmp"), "pmig-dk"));
        try {
            for (String name : names) {
                engines.engines.add(engines.startEngine(dockerd, criu, name));
            }
        } catch (Exception | AssertionError e) {
            engines.close();
            throw e;
        }
        return engines;
    }

    public Engine get(String name) {
        return engines.stream().filter(e -> e.name().equals(name)).findFirst().orElseThrow();
    }

    private Engine startEngine(Path dockerd, Path criu, String name) throws Exception {
        Path dir = Files.createDirectories(root.resolve(name));
        String host = "unix://" + dir.resolve("d.sock");
        ProcessBuilder pb = new ProcessBuilder(dockerd.toString(), "--experimental",
                "--iptables=false", "--ip-forward=false", "--bridge=none",
                "--data-root", dir.resolve("data").toString(), "--exec-root", dir.resolve("x").toString(),
                "--pidfile", dir.resolve("dockerd.pid").toString(), "-H", host)
                .redirectErrorStream(true).redirectOutput(dir.resolve("dockerd.log").toFile())
                .redirectInput(ProcessBuilder.Redirect.from(new File("/dev/null")));
        Map<String, String> env = pb.environment();
        env.put("PATH", criu.toAbsolutePath().getParent() + File.pathSeparator + env.getOrDefault("PATH", "/usr/sbin:/usr/bin:/sbin:/bin"));
        Process process = pb.start();
        DockerEngine client = DockerEngine.connect(host);
        long deadline = System.nanoTime() + Duration.ofSeconds(60).toNanos();
        while (!client.answers()) {
            if (!process.isAlive() || System.nanoTime() > deadline) {
                process.destroyForcibly();
                fail("dockerd '" + name + "' did not start (" + (process.isAlive() ? "no answer in 60 s" : "exited "
                        + process.exitValue()) + "):\n" + tail(dir.resolve("dockerd.log")));
            }
            Thread.sleep(100);
        }
        return new Engine(name, dir, process, client);
    }

    /** Imports a {@code FROM scratch} image holding only the static busybox, as {@link #COUNTER_IMAGE}. */
    public static void importBusyboxImage(DockerEngine engine) throws IOException {
        Path busybox = Path.of("/bin/busybox");
        if (!Files.isExecutable(busybox) || !isStatic(busybox)) {
            fail("the test image needs a static /bin/busybox (apt-get install busybox-static; scripts/test.sh does it)");
        }
        Path tar = Files.createTempFile("pmig-busybox", ".tar");
        try (TarArchiveOutputStream out = new TarArchiveOutputStream(Files.newOutputStream(tar))) {
            out.setLongFileMode(TarArchiveOutputStream.LONGFILE_POSIX);
            for (String d : List.of("bin/", "tmp/")) {
                TarArchiveEntry e = new TarArchiveEntry(d);
                e.setMode(d.equals("tmp/") ? 01777 : 0755);
                out.putArchiveEntry(e);
                out.closeArchiveEntry();
            }
            TarArchiveEntry bin = new TarArchiveEntry(busybox.toFile(), "bin/busybox");
            bin.setMode(0755);
            out.putArchiveEntry(bin);
            Files.copy(busybox, out);
            out.closeArchiveEntry();
            TarArchiveEntry sh = new TarArchiveEntry("bin/sh", TarArchiveEntry.LF_SYMLINK);
            sh.setLinkName("busybox");
            out.putArchiveEntry(sh);
            out.closeArchiveEntry();
        }
        String[] ref = COUNTER_IMAGE.split(":");
        try {
            engine.importImage(tar, ref[0], ref[1]);
        } finally {
            Files.delete(tar);
        }
    }

    /** Starts a container of {@link #COUNTER_IMAGE} running {@code sh -c script}, with no network. */
    public static String runShell(DockerEngine engine, String name, String script) {
        String id = engine.client().createContainerCmd(COUNTER_IMAGE).withName(name)
                .withCmd("/bin/sh", "-c", script)
                .withHostConfig(HostConfig.newHostConfig().withNetworkMode("none")).exec().getId();
        engine.client().startContainerCmd(id).exec();
        return id;
    }

    /** The content of a regular file in a container (through the archive API). */
    public static String readFile(DockerEngine engine, String container, String path) throws IOException {
        try (InputStream in = engine.client().copyArchiveFromContainerCmd(container, path).exec();
             TarArchiveInputStream tar = new TarArchiveInputStream(in)) {
            TarArchiveEntry entry = tar.getNextEntry();
            if (entry == null) {
                throw new IOException(path + " not found in " + container);
            }
            return new String(tar.readAllBytes(), StandardCharsets.UTF_8);
        }
    }

    private static boolean isStatic(Path binary) throws IOException {
        byte[] head = new byte[4096];
        try (InputStream in = Files.newInputStream(binary)) {
            int n = in.readNBytes(head, 0, head.length);
            // a dynamic ELF names its interpreter (PT_INTERP) near the start: "/lib64/ld-linux..." or "/lib/ld-"
            String s = new String(head, 0, n, StandardCharsets.ISO_8859_1);
            return !s.contains("/ld-linux") && !s.contains("/lib/ld-");
        }
    }

    private static Path findDockerd() {
        String path = System.getenv().getOrDefault("PATH", "") + ":/usr/sbin:/usr/bin:/sbin:/bin";
        for (String dir : path.split(":")) {
            if (!dir.isEmpty() && Files.isExecutable(Path.of(dir, "dockerd"))) {
                return Path.of(dir, "dockerd");
            }
        }
        return null;
    }

    private static boolean isRoot() {
        try {
            return Files.readAllLines(Path.of("/proc/self/status")).stream()
                    .anyMatch(l -> l.startsWith("Uid:") && l.split("\\s+")[1].equals("0"));
        } catch (IOException e) {
            return false;
        }
    }

    private static String tail(Path log) {
        try {
            List<String> lines = Files.readAllLines(log);
            return String.join("\n", lines.subList(Math.max(0, lines.size() - 20), lines.size()));
        } catch (IOException e) {
            return "(no log: " + e.getMessage() + ")";
        }
    }

    /** Removes every container, stops each dockerd (TERM, then KILL), unmounts leftovers and deletes the dirs. */
    @Override
    public void close() throws Exception {
        for (Engine e : engines) {
            try {
                e.client().client().listContainersCmd().withShowAll(true).exec()
                        .forEach(c -> e.client().remove(c.getId()));
            } catch (RuntimeException ignored) {
                // the engine is already gone
            }
            e.client().close();
            e.process().destroy();
            if (!e.process().waitFor(30, TimeUnit.SECONDS)) {
                e.process().destroyForcibly().waitFor(10, TimeUnit.SECONDS);
            }
        }
        for (String mount : Files.readAllLines(Path.of("/proc/self/mounts"))) {
            String target = mount.split(" ")[1];
            if (target.startsWith(root + "/")) {
                new ProcessBuilder("umount", "-l", target).redirectErrorStream(true)
                        .redirectOutput(ProcessBuilder.Redirect.DISCARD).start().waitFor(10, TimeUnit.SECONDS);
            }
        }
        NodeWorkloads.deleteTree(root);
    }
}
