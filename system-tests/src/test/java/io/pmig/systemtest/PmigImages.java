package io.pmig.systemtest;

import static org.junit.jupiter.api.Assertions.fail;

import java.io.File;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Assumptions;
import org.testcontainers.DockerClientFactory;

/**
 * The images the suite runs, built from this build's {@code cli/target/pmig.jar} by the project's own
 * {@code scripts/build-images.sh} (docker.io, a dockerd on /var/run/docker.sock, criu, the offline base image): no
 * registry is needed. Tagged {@code :it} so a user's {@code :latest} stays as they built it.
 *
 * <p>When Docker truly cannot run here (no dockerd, or not root to start one) the suite is skipped with a message -
 * unless {@code PMIG_REQUIRE_DOCKER=1} (set by {@code scripts/test.sh}), where a skip would hide a broken CI.
 */
final class PmigImages {

    static final String PMIG = "pmig/pmig:it";
    static final String KAFKA = "pmig/kafka:it";
    static final String PROMETHEUS = "pmig/prometheus:it";

    private static boolean built;
    private static Path root;

    private PmigImages() {
    }

    /** Builds both images once per JVM; skips (or fails under PMIG_REQUIRE_DOCKER=1) without Docker. */
    static synchronized void build() throws IOException, InterruptedException {
        if (built) {
            return;
        }
        root = Path.of(System.getProperty("pmig.root", "..")).toAbsolutePath().normalize();
        Path jar = Path.of(System.getProperty("pmig.jar", root.resolve("cli/target/pmig.jar").toString()));
        String why = !isRoot() ? "building and running the node images needs root (criu, dockerd)"
                : !onPath("dockerd") ? "no dockerd on this machine (apt-get install docker.io; scripts/test.sh does it)"
                : !Files.isRegularFile(jar) ? "no " + jar + " (build the cli module first)" : null;
        if (why != null) {
            if ("1".equals(System.getenv("PMIG_REQUIRE_DOCKER"))) {
                fail("Docker is required here (PMIG_REQUIRE_DOCKER=1) but cannot run: " + why);
            }
            Assumptions.abort("container suite skipped: " + why);
        }
        Path log = Path.of("target", "build-images.log").toAbsolutePath();
        Files.createDirectories(log.getParent());
        ProcessBuilder pb = new ProcessBuilder(root.resolve("scripts/build-images.sh").toString())
                .redirectErrorStream(true).redirectOutput(log.toFile())
                .redirectInput(ProcessBuilder.Redirect.from(new File("/dev/null")));
        pb.environment().put("PMIG_JAR", jar.toString());
        pb.environment().put("PMIG_IMAGE", PMIG);
        pb.environment().put("PMIG_KAFKA_IMAGE", KAFKA);
        pb.environment().put("PMIG_PROMETHEUS_IMAGE", PROMETHEUS);
        Process build = pb.start();
        if (!build.waitFor(20, TimeUnit.MINUTES) || build.exitValue() != 0) {
            build.destroyForcibly();
            fail("scripts/build-images.sh failed; its log " + log + " ends:\n" + tail(log));
        }
        if (!DockerClientFactory.instance().isDockerAvailable()) {
            fail("the images were built but Testcontainers finds no Docker engine (DOCKER_HOST="
                    + System.getenv("DOCKER_HOST") + ")");
        }
        built = true;
    }

    /** The repository's root (after {@link #build()}). */
    static Path repository() {
        return root;
    }

    private static boolean isRoot() {
        return new com.sun.security.auth.module.UnixSystem().getUid() == 0;
    }

    private static boolean onPath(String command) throws IOException, InterruptedException {
        Process p = new ProcessBuilder("sh", "-c", "command -v \"$0\"", command).redirectErrorStream(true)
                .redirectOutput(ProcessBuilder.Redirect.DISCARD).start();
        return p.waitFor() == 0;
    }

    private static String tail(Path log) {
        try {
            List<String> lines = Files.readAllLines(log);
            return String.join("\n", lines.subList(Math.max(0, lines.size() - 30), lines.size()));
        } catch (IOException e) {
            return "(no log: " + e.getMessage() + ")";
        }
    }
}
