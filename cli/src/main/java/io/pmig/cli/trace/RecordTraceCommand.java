package io.pmig.cli.trace;

import io.pmig.agent.AgentConfig;
import io.pmig.agent.MetricsAgent;
import io.pmig.analytics.training.MetricsReplay;
import io.pmig.analytics.training.TraceFile;
import io.pmig.cli.fault.FaultCommand;
import io.pmig.cli.operator.CommandPublisher;
import io.pmig.cli.operator.OperatorCommands;
import io.pmig.executor.ExecutorConfig;
import io.pmig.executor.criu.Criu;
import io.pmig.executor.criu.CriuException;
import io.pmig.executor.node.NodeExecutor;
import io.pmig.executor.workload.InitBinary;
import io.pmig.executor.workload.NodeWorkloads;
import io.pmig.broker.EmbeddedBroker;
import io.pmig.platform.commands.CommandDeadline;
import io.pmig.platform.config.ConfigException;
import io.pmig.platform.config.KafkaClientOptions;
import io.pmig.platform.config.OptionTypes;
import io.pmig.platform.topics.TopicCreator;
import io.pmig.schemas.CommandKind;
import io.pmig.schemas.MigrationCommand;
import io.pmig.schemas.NodeCapacity;
import io.pmig.schemas.NodeMetrics;
import io.pmig.schemas.SamplingMode;
import java.io.IOException;
import java.io.PrintStream;
import java.nio.file.Files;
import java.nio.file.Path;
import java.security.SecureRandom;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Locale;
import java.util.Properties;
import java.util.concurrent.Callable;
import java.util.concurrent.atomic.AtomicInteger;
import picocli.CommandLine;
import picocli.CommandLine.Command;
import picocli.CommandLine.Model.CommandSpec;
import picocli.CommandLine.Option;
import picocli.CommandLine.Spec;

/**
 * {@code pmig record-trace}: records real training data. Starts an embedded broker, and per node an executor
 * and a simulated-mode agent (small capacities, so that one busy process overloads a node on a 2-core host),
 * then runs a seeded {@link LoadSchedule} of real processes on the nodes as pinned LAUNCH commands (the
 * spikes and leaks through {@code pmig fault}, ramps as throttled busy loops) while the agents publish.
 * At the end it reads pmig.metrics from the beginning into an Avro container file for {@code pmig train --trace}.
 * Every workload, executor, agent and the broker stop on exit or Ctrl-C. Needs root and criu (as the executor).
 */
@Command(name = "record-trace", mixinStandardHelpOptions = true,
        description = {"Drive a seeded schedule of real CPU ramps, spikes, memory leaks and idle periods on simulated nodes "
                + "and record their pmig.metrics into an Avro trace file (training data for pmig train --trace)."})
public final class RecordTraceCommand implements Callable<Integer> {

    @Spec
    CommandSpec spec;

    @Option(names = "--out", required = true, paramLabel = "FILE", description = "Trace file to write (Avro container of NodeMetrics).")
    Path out;

    @Option(names = {"--duration", "--duration-s"}, required = true, paramLabel = "DURATION",
            converter = OptionTypes.Seconds.class,
            description = "How long to drive load, e.g. 600s or 10m; a bare number is seconds.")
    Duration duration;

    private int durationS;

    @Option(names = "--nodes", defaultValue = "3", paramLabel = "N", description = "Simulated nodes (default: ${DEFAULT-VALUE}).")
    int nodes;

    @Option(names = "--seed", defaultValue = "1", paramLabel = "S", description = "Seed of the load schedule (default: ${DEFAULT-VALUE}).")
    long seed;

    @Option(names = "--cpus", defaultValue = "0.3", paramLabel = "N",
            description = "CPU capacity of each node; keep it below one core so that one busy loop overloads it (default: ${DEFAULT-VALUE}).")
    double cpus;

    @Option(names = "--mem-mib", defaultValue = "512", paramLabel = "MIB", description = "Memory capacity of each node (default: ${DEFAULT-VALUE}).")
    long memMib;

    @Option(names = "--criu", paramLabel = "PATH",
            description = "criu >= 4.2 for the executors (default: $PMIG_CRIU, else /opt/pmig/criu/bin/criu, else criu on PATH).")
    Path criuPath;

    @Option(names = "--dry-run", description = "Print the load schedule and exit.")
    boolean dryRun;

    private final PrintStream err = System.err;
    private final List<MetricsAgent> agents = new ArrayList<>();
    private final List<NodeExecutor> executors = new ArrayList<>();
    private final List<Path> nodeDirs = new ArrayList<>();
    private EmbeddedBroker broker;
    private Path runDir;
    private boolean cleanedUp;

    @Override
    public Integer call() throws Exception {
        if (duration.toSeconds() < 60) {
            throw new ConfigException(OptionTypes.givenName(spec, "--duration"), "must be at least 60s to hold any overload with its run-up");
        }
        durationS = (int) Math.min(Integer.MAX_VALUE, duration.toSeconds());
        if (nodes < 1 || nodes > 9) {
            throw new ConfigException("--nodes", "must be 1..9");
        }
        if (!(cpus > 0)) {
            throw new ConfigException("--cpus", "must be positive");
        }
        if (memMib < 128) {
            throw new ConfigException("--mem-mib", "must be at least 128 (a leaking JVM starts near 40 MiB)");
        }
        List<String> nodeIds = new ArrayList<>();
        for (int i = 1; i <= nodes; i++) {
            nodeIds.add("node-" + i);
        }
        List<LoadSchedule.Segment> schedule = LoadSchedule.plan(nodeIds, durationS, memMib, seed);
        if (dryRun) {
            schedule.forEach(s -> System.out.println(s.describe()));
            return 0;
        }
        Thread hook = new Thread(this::cleanUp, "pmig-record-trace-cleanup");
        Runtime.getRuntime().addShutdownHook(hook);
        try {
            start(nodeIds);
            drive(schedule);
            stopLoads();
            Thread.sleep(3_000); // let the agents report the nodes quiet again
            agents.forEach(a -> a.close(Duration.ofSeconds(10)));
            agents.clear();
            List<NodeMetrics> samples = MetricsReplay.read(KafkaClientOptions.of(broker.bootstrapServers()).clientProperties(),
                    null, null, err).samples();
            TraceFile.write(out, samples);
            err.printf("wrote %,d samples of %d nodes to %s (%,d bytes)%n", samples.size(), nodes, out, Files.size(out));
            return 0;
        } finally {
            cleanUp();
            try {
                Runtime.getRuntime().removeShutdownHook(hook);
            } catch (IllegalStateException shuttingDown) {
                // the hook runs cleanUp itself
            }
        }
    }

    private void start(List<String> nodeIds) throws IOException, InterruptedException {
        Criu criu = criu();
        Path init = InitBinary.install(InitBinary.DEFAULT_PATH);
        runDir = Files.createTempDirectory("pmig-record-trace-");
        broker = EmbeddedBroker.start(0, runDir.resolve("broker"));
        Properties kafka = KafkaClientOptions.of(broker.bootstrapServers()).clientProperties();
        TopicCreator.ensureTopics(kafka);
        byte[] secret = new byte[32];
        new SecureRandom().nextBytes(secret);
        NodeCapacity capacity = new NodeCapacity(cpus, memMib << 20);
        for (String node : nodeIds) {
            Path dir = runDir.resolve("nodes").resolve(node);
            Files.createDirectories(dir);
            nodeDirs.add(dir);
            NodeExecutor executor = new NodeExecutor(ExecutorConfig.local(node, kafka, dir, criu, init, secret)
                    .set(ExecutorConfig.MAX_CONCURRENT_MIGRATIONS, 1).set(ExecutorConfig.CAPACITY_CPUS, cpus)
                    .set(ExecutorConfig.CAPACITY_MEM_BYTES, memMib << 20).set(ExecutorConfig.KILL_WORKLOADS_ON_EXIT, false)
                    .build()).start();
            executors.add(executor);
            if (!executor.awaitReady(Duration.ofSeconds(60))) {
                throw new IllegalStateException("executor " + node + " was not assigned pmig.commands within 60 s");
            }
            agents.add(new MetricsAgent(new AgentConfig(node, Duration.ofSeconds(1), SamplingMode.SIMULATED, capacity, dir,
                    3600, kafka)).start());
        }
        err.printf("broker %s, %d nodes of %.2f cpus and %d MiB ready (work dirs under %s)%n",
                broker.bootstrapServers(), nodeIds.size(), cpus, memMib, runDir);
    }

    private void drive(List<LoadSchedule.Segment> schedule) throws InterruptedException {
        long t0 = System.currentTimeMillis();
        AtomicInteger launched = new AtomicInteger();
        long nextProgress = t0 + 30_000;
        for (LoadSchedule.Segment segment : schedule) {
            long at = t0 + segment.startS() * 1000L;
            while (System.currentTimeMillis() < at) {
                Thread.sleep(Math.min(500, Math.max(1, at - System.currentTimeMillis())));
                if (System.currentTimeMillis() >= nextProgress) {
                    err.printf("%4d of %d s, %d of %d loads started%n", (System.currentTimeMillis() - t0) / 1000,
                            durationS, launched.get(), schedule.size());
                    nextProgress += 30_000;
                }
            }
            err.println(segment.describe());
            launch(segment);
            launched.incrementAndGet();
        }
        long end = t0 + durationS * 1000L;
        while (System.currentTimeMillis() < end) {
            Thread.sleep(Math.min(1000, end - System.currentTimeMillis()));
        }
    }

    private void launch(LoadSchedule.Segment segment) {
        String bootstrap = broker.bootstrapServers();
        try {
            switch (segment.kind()) {
                case IDLE -> { }
                case BACKGROUND -> launchPinned(segment, lightCounter(segment.holdS()));
                case SPIKE, BLIP -> fault("cpu", segment.node(), segment.holdS(), 1, bootstrap);
                case LEAK, NEAR_MISS_LEAK -> fault("memory", segment.node(), segment.holdS(), segment.riseS(), bootstrap);
                case STEADY -> launchPinned(segment, FaultCommand.cpuRamp(permille(segment.fromShare()), permille(segment.fromShare()),
                        1, segment.holdS()));
                case RAMP, NEAR_MISS_RAMP -> launchPinned(segment, FaultCommand.cpuRamp(permille(segment.fromShare()),
                        permille(segment.toShare()), segment.riseS(), segment.holdS()));
            }
        } catch (RuntimeException e) {
            err.println("could not start " + segment.kind() + " on " + segment.node() + ": " + e.getMessage());
        }
    }

    /** A share of the node's capacity in thousandths of one core, the unit of {@link FaultCommand#cpuRamp}. */
    private int permille(double share) {
        return (int) Math.round(share * cpus * 1000);
    }

    /** Spikes and leaks are exactly what {@code pmig fault} runs. */
    private void fault(String kind, String node, int durationS, int intensity, String bootstrap) {
        int exit = new CommandLine(new FaultCommand()).execute(kind, "--node", node, "--duration-s", String.valueOf(durationS),
                "--intensity", String.valueOf(intensity), "--bootstrap-server", bootstrap);
        if (exit != 0) {
            throw new IllegalStateException("pmig fault " + kind + " exited " + exit);
        }
    }



    /** Counts every 50 ms like the demo's witness (a few percent of a core, a few MiB), for durationS seconds. */
    static List<String> lightCounter(int durationS) {
        return List.of("sh", "-c", "end=$(($(date +%s) + $1)); i=0; while [ \"$(date +%s)\" -lt \"$end\" ]; do "
                + "i=$((i+1)); echo \"$i $(date +%s%3N)\" >/dev/null; sleep 0.05; done", "pmig-counter", String.valueOf(durationS));
    }

    private void launchPinned(LoadSchedule.Segment segment, List<String> argv) {
        String id = "trace-" + segment.kind().name().toLowerCase(Locale.ROOT).replace('_', '-') + "-" + segment.node()
                + "-" + segment.startS();
        MigrationCommand command = CommandDeadline.stamp(MigrationCommand.newBuilder()
                .setCommandId("launch-" + id).setKind(CommandKind.LAUNCH).setWorkloadId(id)
                .setDestinationNode(segment.node()).setArgv(argv).setMigratable(false)
                .setReason(OperatorCommands.operatorReason("record-trace " + segment.kind()))
                .setIssuedBy("pmig record-trace"), System.currentTimeMillis(), CommandDeadline.OPERATOR_TTL).build();
        CommandPublisher.send(KafkaClientOptions.of(broker.bootstrapServers()).clientProperties(), command);
    }

    private Criu criu() {
        Path binary = criuPath != null ? criuPath
                : System.getenv("PMIG_CRIU") != null ? Path.of(System.getenv("PMIG_CRIU"))
                : Files.isExecutable(Path.of("/opt/pmig/criu/bin/criu")) ? Path.of("/opt/pmig/criu/bin/criu") : Path.of("criu");
        try {
            return Criu.verified(binary, true); // a one-machine tool, as the demo
        } catch (CriuException e) {
            throw new ConfigException("--criu", e.getMessage() + " (scripts/install-criu.sh installs a working criu)");
        }
    }

    /** Stops every workload still running on any node (each load is bounded too; this is for early exits). */
    private void stopLoads() {
        for (Path dir : nodeDirs) {
            NodeWorkloads workloads = new NodeWorkloads(dir, InitBinary.DEFAULT_PATH);
            for (String id : workloads.ids()) {
                try {
                    workloads.stop(id, Duration.ofSeconds(2));
                } catch (InterruptedException e) {
                    Thread.currentThread().interrupt();
                    return;
                } catch (RuntimeException e) {
                    err.println("could not stop workload " + id + ": " + e.getMessage());
                }
            }
        }
    }

    private synchronized void cleanUp() {
        if (cleanedUp) {
            return;
        }
        cleanedUp = true;
        stopLoads();
        agents.forEach(a -> a.close(Duration.ofSeconds(2)));
        executors.forEach(NodeExecutor::close);
        if (broker != null) {
            broker.close();
        }
        if (runDir != null) {
            try {
                NodeWorkloads.deleteTree(runDir);
            } catch (IOException e) {
                err.println("could not delete " + runDir + ": " + e.getMessage());
            }
        }
    }
}
