package io.pmig.executor;

import static io.pmig.executor.TestNodes.ended;
import static io.pmig.executor.TestNodes.phase;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNotEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.pmig.executor.container.ContainerWorkloads;
import io.pmig.executor.container.DockerEngine;
import io.pmig.executor.container.DockerEngines;
import io.pmig.schemas.CommandKind;
import io.pmig.schemas.MigrationEvent;
import io.pmig.schemas.MigrationMode;
import io.pmig.schemas.Phase;
import java.nio.file.Path;
import java.time.Duration;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.MethodOrderer;
import org.junit.jupiter.api.Order;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.TestMethodOrder;

/**
 * Docker container workloads moving between two real Docker engines (two dockerd on this machine), driven by MIGRATE
 * commands on the real broker: checkpoint on engine a, the image, the writable layer and the checkpoint over pmig's
 * authenticated transfer, create + start-from-checkpoint on engine b. The image exists only on engine a, so the first
 * migration also carries it (so that test runs first).
 */
@TestMethodOrder(MethodOrderer.OrderAnnotation.class)
class ContainerMigrationTest {

    /** Counts on stdout and into a file it holds open in the container's writable layer. */
    private static final String COUNTER = "mkdir -p /work; exec 3>>/work/counter.log; i=0; "
            + "while :; do i=$((i+1)); echo $i; echo $i >&3; sleep 0.05; done";
    private static final Duration WAIT = Duration.ofSeconds(120);
    private static DockerEngines engines;
    private static TestNodes nodes;
    private static DockerEngine a;
    private static DockerEngine b;

    @BeforeAll
    static void start() throws Exception {
        engines = DockerEngines.start(Path.of(TestNodes.criu().binary().toString()), "a", "b");
        a = engines.get("a").client();
        b = engines.get("b").client();
        DockerEngines.importBusyboxImage(a);
        nodes = new TestNodes();
        System.setProperty(DockerEngine.HOST_PROPERTY + "." + nodes.node("a"), a.host());
        System.setProperty(DockerEngine.HOST_PROPERTY + "." + nodes.node("b"), b.host());
        nodes.start("a");
        nodes.start("b");
    }

    @AfterAll
    static void stop() throws Exception {
        if (nodes != null) {
            nodes.close();
        }
        if (engines != null) {
            engines.close();
        }
    }

    @Test
    @Order(1)
    void counterContainerMovesToTheOtherEngineAndKeepsCountingWithNoGapOrRepeat() throws Exception {
        assertFalse(b.hasImage(DockerEngines.COUNTER_IMAGE), "engine b must start without the image");
        String w = nodes.prefix + "ctr";
        DockerEngines.runShell(a, w, COUNTER);
        MigrationEvent launched = launch(w);
        awaitCount(a, w, 20);

        String mid = nodes.send(CommandKind.MIGRATE, w, "a", "b", MigrationMode.PLAIN, List.of());
        MigrationEvent done = nodes.await(ended(mid), WAIT, "end of " + mid);

        assertEquals(Phase.COMPLETED, done.getPhase(), nodes.eventsSummary());
        assertEquals(nodes.node("b"), done.getNode());
        awaitGone(a, w); // the source removes its container right after the destination's COMMIT reply
        assertTrue(b.hasImage(DockerEngines.COUNTER_IMAGE), "the image must have been carried to engine b");
        assertTrue(b.inspect(w).orElseThrow().path("State").path("Running").asBoolean(), "runs on engine b");
        assertNotEquals(launched.getPid(), done.getPid());
        assertEquals(b.pid(w), done.getPid(), "COMPLETED names the destination container's init");
        assertTrue(nodes.runningPid("b", w).isPresent(), "node b records the workload");
        awaitTrue(() -> !nodes.workloadDir("a", w).toFile().exists(), "node a forgets the workload");

        int before = count(b, w);
        awaitCount(b, w, before + 20);
        // the held-open file went along (the checkpoint's fd 3 points into it) and the counter never restarted
        assertContiguousFromOne(DockerEngines.readFile(b, w, "/work/counter.log"));
        List<Long> stdout = logNumbers(b, w);
        assertTrue(stdout.get(0) > 1, "the destination's log starts mid-count, not at 1: " + stdout.subList(0, 3));
        assertContiguous(stdout);
        System.out.printf("container migration a -> b: downtime %d ms (freeze/dump %d, transfer %d, restore %d), "
                        + "%d bytes, total %d ms%n", done.getTimings().getDowntimeMs(), done.getTimings().getDumpMs(),
                done.getTimings().getTransferMs(), done.getTimings().getRestoreMs(), done.getBytesMoved(),
                done.getTimings().getTotalMs());

        // and back again: the image is there now, so only checkpoint and layer travel
        String back = nodes.send(CommandKind.MIGRATE, w, "b", "a", MigrationMode.PLAIN, List.of());
        MigrationEvent home = nodes.await(ended(back), WAIT, "end of " + back);
        assertEquals(Phase.COMPLETED, home.getPhase(), nodes.eventsSummary());
        awaitGone(b, w);
        int onA = count(a, w);
        awaitCount(a, w, onA + 10);
        assertContiguousFromOne(DockerEngines.readFile(a, w, "/work/counter.log"));
        System.out.printf("container migration b -> a: downtime %d ms%n", home.getTimings().getDowntimeMs());

        String kill = nodes.send(CommandKind.KILL, w, "a", null, null, List.of());
        nodes.await(phase(kill, Phase.KILLED), WAIT, "KILLED");
        awaitGone(a, w);
    }

    @Test
    @Order(2)
    void failedRestoreOnTheDestinationRestartsTheContainerFromItsCheckpointOnTheSource() throws Exception {
        String w = nodes.prefix + "rb";
        DockerEngines.importBusyboxImage(b);
        // a container of the same name on engine b makes the destination's create, hence the restore, fail
        b.client().createContainerCmd(DockerEngines.COUNTER_IMAGE).withName(w).withCmd("/bin/true").exec();
        DockerEngines.runShell(a, w, COUNTER);
        MigrationEvent launched = launch(w);
        awaitCount(a, w, 20);

        String mid = nodes.send(CommandKind.MIGRATE, w, "a", "b", MigrationMode.PLAIN, List.of());
        MigrationEvent end = nodes.await(ended(mid), WAIT, "end of " + mid);

        assertEquals(Phase.ROLLED_BACK, end.getPhase(), nodes.eventsSummary());
        assertTrue(end.getError().contains("already exists"), end.getError());
        assertTrue(nodes.find(phase(mid, Phase.DUMPED)).isPresent(), "the container was really checkpointed");
        int pid = nodes.runningPid("a", w).orElseThrow();
        assertEquals(a.pid(w), pid);
        assertNotEquals(launched.getPid(), pid, "restarted from the checkpoint: a new init");
        int before = count(a, w);
        awaitCount(a, w, before + 20);
        assertContiguousFromOne(DockerEngines.readFile(a, w, "/work/counter.log"));
        assertFalse(b.inspect(w).orElseThrow().path("State").path("Running").asBoolean(),
                "nothing of the migration runs on b");
    }

    /**
     * A real crash of the source executor (SIGKILL, its own JVM) once the container is checkpointed: the restarted
     * executor finishes the migration from its journal, and the container runs exactly once - restarted here from its
     * checkpoint, or on b if the COMMIT had gone out - with its count unbroken.
     */
    @Test
    @Order(3)
    void sourceExecutorKilledAfterTheCheckpointLeavesTheContainerRunningExactlyOnce() throws Exception {
        String source = "ksrc";
        String w = nodes.prefix + "ks";
        Map<String, String> onEngineA = Map.of(DockerEngine.HOST_PROPERTY + "." + nodes.node(source), a.host());
        DockerEngines.runShell(a, w, COUNTER);
        String mid;
        try (ExecutorProcess executor = nodes.startProcess(source, onEngineA)) {
            launch(w, source);
            awaitCount(a, w, 20);
            mid = nodes.send(CommandKind.MIGRATE, w, source, "b", MigrationMode.PLAIN, List.of());
            nodes.await(phase(mid, Phase.DUMPED), WAIT, "DUMPED");
            executor.kill9();
        }
        try (ExecutorProcess restarted = nodes.startProcess(source, onEngineA)) {
            MigrationEvent end = nodes.await(ended(mid).and(e -> e.getPhase() == Phase.COMPLETED
                    || e.getNode().equals(nodes.node(source))), WAIT, "end of " + mid);
            DockerEngine runsOn = end.getPhase() == Phase.COMPLETED ? b : a;
            DockerEngine other = runsOn == a ? b : a;
            assertTrue(end.getPhase() == Phase.COMPLETED || end.getPhase() == Phase.ROLLED_BACK, nodes.eventsSummary());
            awaitTrue(() -> !running(other, w), "a copy still runs on the other engine after " + end.getPhase());
            assertEquals(runsOn.pid(w), end.getPid(), end.getPhase() + " names the running container's init");
            int before = count(runsOn, w);
            awaitCount(runsOn, w, before + 20);
            assertContiguousFromOne(DockerEngines.readFile(runsOn, w, "/work/counter.log"));
            String where = runsOn == a ? source : "b";
            String kill = nodes.send(CommandKind.KILL, w, where, null, null, List.of());
            nodes.await(phase(kill, Phase.KILLED), WAIT, "KILLED");
        }
    }

    /**
     * A real crash of the destination while its restored copy waits for COMMIT (the source is held with SIGSTOP
     * so the COMMIT cannot go out first): the copy never runs, the source rolls back when the COMMIT finds no one,
     * and the restarted destination removes the copy it had restored.
     */
    @Test
    @Order(4)
    void destinationExecutorKilledBeforeTheCommitNeverRunsItsCopyAndRemovesItOnRestart() throws Exception {
        String source = "hsrc";
        String destination = "kdst";
        String w = nodes.prefix + "kd";
        Map<String, String> onEngineA = Map.of(DockerEngine.HOST_PROPERTY + "." + nodes.node(source), a.host());
        Map<String, String> onEngineB = Map.of(DockerEngine.HOST_PROPERTY + "." + nodes.node(destination), b.host());
        DockerEngines.importBusyboxImage(b);
        DockerEngines.runShell(a, w, COUNTER);
        try (ExecutorProcess src = nodes.startProcess(source, onEngineA)) {
            String mid;
            try (ExecutorProcess dst = nodes.startProcess(destination, onEngineB)) {
                launch(w, source);
                awaitCount(a, w, 20);
                mid = nodes.send(CommandKind.MIGRATE, w, source, destination, MigrationMode.PLAIN, List.of());
                nodes.await(phase(mid, Phase.TRANSFERRED), WAIT, "TRANSFERRED");
                src.signal("STOP");
                nodes.await(phase(mid, Phase.RESTORED), WAIT, "RESTORED");
                assertTrue(b.inspect(w).orElseThrow().path("State").path("Paused").asBoolean(),
                        "the destination's copy must not run before COMMIT");
                dst.kill9();
                src.signal("CONT");
            }
            MigrationEvent end = nodes.await(ended(mid).and(e -> e.getNode().equals(nodes.node(source))), WAIT,
                    "end of " + mid);
            assertEquals(Phase.ROLLED_BACK, end.getPhase(), nodes.eventsSummary());
            assertTrue(nodes.find(phase(mid, Phase.COMPLETED)).isEmpty(), "COMPLETED for a rolled-back migration");
            assertEquals(a.pid(w), end.getPid());
            int before = count(a, w);
            awaitCount(a, w, before + 20);
            assertContiguousFromOne(DockerEngines.readFile(a, w, "/work/counter.log"));

            try (ExecutorProcess restarted = nodes.startProcess(destination, onEngineB)) {
                awaitGone(b, w); // recovery: the copy was never committed
            }
            String kill = nodes.send(CommandKind.KILL, w, source, null, null, List.of());
            nodes.await(phase(kill, Phase.KILLED), WAIT, "KILLED");
        }
    }

    private static boolean running(DockerEngine engine, String container) {
        try {
            return engine.inspect(container).map(c -> c.path("State").path("Running").asBoolean(false)
                    && !c.path("State").path("Paused").asBoolean(false)).orElse(false);
        } catch (java.io.IOException e) {
            throw new java.io.UncheckedIOException(e);
        }
    }

    private static MigrationEvent launch(String w) throws Exception {
        return launch(w, "a");
    }

    private static MigrationEvent launch(String w, String node) throws Exception {
        String cid = nodes.send(CommandKind.LAUNCH, w, null, node, null, List.of(ContainerWorkloads.ARGV_PREFIX + w));
        MigrationEvent launched = nodes.await(e -> e.getMigrationId().equals(cid)
                && (e.getPhase() == Phase.LAUNCHED || e.getPhase() == Phase.FAILED || e.getPhase() == Phase.LAUNCH_FAILED), WAIT, "LAUNCHED " + w);
        assertEquals(Phase.LAUNCHED, launched.getPhase(), nodes.eventsSummary());
        assertEquals(a.pid(w), launched.getPid());
        return launched;
    }

    private static int count(DockerEngine engine, String container) throws Exception {
        String text = DockerEngines.readFile(engine, container, "/work/counter.log").strip();
        return text.isEmpty() ? 0 : text.split("\n").length;
    }

    private static void awaitCount(DockerEngine engine, String container, int n) throws Exception {
        long deadline = System.nanoTime() + WAIT.toNanos();
        while (count(engine, container) < n) {
            assertTrue(System.nanoTime() < deadline, container + " did not reach " + n + " lines");
            Thread.sleep(100);
        }
    }

    private static void awaitGone(DockerEngine engine, String container) throws Exception {
        long deadline = System.nanoTime() + WAIT.toNanos();
        while (engine.inspect(container).isPresent()) {
            assertTrue(System.nanoTime() < deadline, container + " was not removed");
            Thread.sleep(100);
        }
    }

    private static void awaitTrue(java.util.function.BooleanSupplier condition, String what) throws Exception {
        long deadline = System.nanoTime() + WAIT.toNanos();
        while (!condition.getAsBoolean()) {
            assertTrue(System.nanoTime() < deadline, what);
            Thread.sleep(50);
        }
    }

    private static List<Long> logNumbers(DockerEngine engine, String container) throws Exception {
        StringBuilder out = new StringBuilder();
        engine.client().logContainerCmd(container).withStdOut(true).withStdErr(true)
                .exec(new com.github.dockerjava.api.async.ResultCallback.Adapter<com.github.dockerjava.api.model.Frame>() {
                    @Override
                    public void onNext(com.github.dockerjava.api.model.Frame frame) {
                        out.append(new String(frame.getPayload(), java.nio.charset.StandardCharsets.UTF_8));
                    }
                }).awaitCompletion();
        return out.toString().lines().filter(l -> !l.isBlank()).map(Long::parseLong).toList();
    }

    private static void assertContiguousFromOne(String text) {
        List<Long> numbers = text.lines().filter(l -> !l.isBlank()).map(Long::parseLong).toList();
        assertEquals(1L, numbers.get(0), "the count starts at 1");
        assertContiguous(numbers);
    }

    private static void assertContiguous(List<Long> numbers) {
        for (int i = 1; i < numbers.size(); i++) {
            assertEquals(numbers.get(i - 1) + 1, numbers.get(i), "gap or repeat at line " + i + ": "
                    + numbers.subList(Math.max(0, i - 3), Math.min(numbers.size(), i + 3)));
        }
    }
}
