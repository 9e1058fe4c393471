package io.pmig.cli.demo;

import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ObjectNode;
import io.pmig.analytics.AnalyticsConfig;
import io.pmig.analytics.training.DefaultModel;
import io.pmig.analytics.training.ModelPublisher;
import io.pmig.cli.fault.FaultCommand;
import io.pmig.cli.operator.CommandPublisher;
import io.pmig.cli.operator.OperatorCommands;
import io.pmig.executor.criu.Criu;
import io.pmig.platform.commands.CommandDeadline;
import io.pmig.platform.config.ConfigException;
import io.pmig.platform.config.OptionTypes;
import io.pmig.schemas.CommandKind;
import io.pmig.schemas.MigrationCommand;
import io.pmig.schemas.MigrationEvent;
import io.pmig.schemas.ModelUpdate;
import io.pmig.schemas.Phase;
import java.io.IOException;
import java.io.PrintStream;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.List;
import java.util.Map;
import java.util.concurrent.Callable;
import picocli.CommandLine.Command;
import picocli.CommandLine.Model.CommandSpec;
import picocli.CommandLine.Option;
import picocli.CommandLine.Spec;

/**
 * {@code pmig demo}: the whole system on this machine. Three simulated nodes, a witness process on node-2
 * that counts every 50 ms and carries a CPU ramp of its own, which together with a pinned load drives node-2
 * into overload, and the shipped model deciding to move the witness - which really moves, with CRIU, relieves
 * node-2 and keeps counting. The app's default scorer is the trend rule (it did better than the shipped model in
 * {@code pmig bench outcomes}); the demo runs analytics with {@code analytics.scorer=model} on purpose, to show the
 * ML path end to end, and succeeds only when the model made the move.
 */
@Command(name = "demo", mixinStandardHelpOptions = true,
        description = {"Run the whole system on this machine (as root): embedded Kafka, three nodes, analytics with the",
                "shipped model, the dashboard; overload node-2 and watch the model move a live process off it."})
public final class DemoCommand implements Callable<Integer> {

    @Spec
    CommandSpec spec;

    static final String WITNESS = "witness";
    static final String HOT_NODE = "node-2";
    /** Node capacities match the recorded training trace's, so the shipped model sees familiar figures. */
    static final List<LocalCluster.NodeSpec> NODES = List.of(
            new LocalCluster.NodeSpec("node-1", 0.3, 512L << 20),
            new LocalCluster.NodeSpec(HOT_NODE, 0.3, 512L << 20),
            new LocalCluster.NodeSpec("node-3", 0.3, 512L << 20));

    @Option(names = {"--duration", "--duration-s"}, paramLabel = "DURATION", defaultValue = "180s",
            converter = OptionTypes.Seconds.class,
            description = "Stop after this long, e.g. 180s or 5m; a bare number is seconds (default: ${DEFAULT-VALUE}).")
    Duration duration;

    private int durationS;

    @Option(names = "--exit-after-migration", description = "Stop 10 s after the first model-triggered migration completes.")
    boolean exitAfterMigration;

    @Option(names = "--no-dashboard", description = "Do not serve the dashboard.")
    boolean noDashboard;

    @Option(names = "--dashboard-port", defaultValue = "8080", description = "Dashboard port on 127.0.0.1; 0 picks a free one (default: ${DEFAULT-VALUE}).")
    int dashboardPort;

    @Option(names = "--json", description = "End stdout with one JSON line summarising the run.")
    boolean json;

    @Override
    public Integer call() throws Exception {
        if (duration.toSeconds() < 60) {
            throw new ConfigException(OptionTypes.givenName(spec, "--duration"), "must be at least 60s (windows need filling before the model can judge)");
        }
        durationS = (int) Math.min(Integer.MAX_VALUE, duration.toSeconds());
        if (!"0".equals(procStatusUid())) {
            throw new ConfigException("user", "the demo checkpoints processes with CRIU and must run as root (try: sudo bin/pmig demo)");
        }
        long deadline = System.currentTimeMillis() + durationS * 1000L;
        PrintStream out = System.out;
        Criu criu = CriuLocator.locate();
        out.println("pmig demo: criu " + criu.binary() + "; starting Kafka, 3 nodes, analytics" + (noDashboard ? "" : ", dashboard") + " ...");

        // The model explicitly: the default scorer is the trend rule, and the demo is there to show the ML path.
        AnalyticsConfig analytics = AnalyticsConfig.of(Map.of(AnalyticsConfig.SCORER, AnalyticsConfig.SCORER_MODEL,
                AnalyticsConfig.NODE_COOLDOWN_MS, 30_000, AnalyticsConfig.WORKLOAD_COOLDOWN_MS, 60_000));
        try (LocalCluster cluster = LocalCluster.start(criu, NODES, analytics, noDashboard ? -1 : dashboardPortOrFree());
             DemoNarrator narrator = new DemoNarrator(cluster.clientProperties(), out)) {
            Thread stopOnSignal = new Thread(cluster::close, "pmig-demo-stop");
            Runtime.getRuntime().addShutdownHook(stopOnSignal);

            ModelUpdate model = DefaultModel.load();
            ModelPublisher.publish(cluster.clientProperties(), DefaultModel.KEY, model);
            out.println("pmig demo: Kafka at " + cluster.bootstrapServers() + "; model " + model.getVersion()
                    + " published (held-out f1 " + model.getMetrics().getOrDefault("f1", Double.NaN) + "); analytics runs with "
                    + AnalyticsConfig.SCORER + "=" + AnalyticsConfig.SCORER_MODEL + " to show the ML path (the default is the trend rule)");
            if (cluster.dashboardUrl() != null) {
                out.println("pmig demo: dashboard at " + cluster.dashboardUrl());
            }

            // The planner moves only what relieves the node (issue 16): so the witness carries load of its own. node-2
            // holds a pinned half of its capacity; 20 s in, the witness's own load climbs from 5 % to 60 % of the
            // node's capacity over 30 s (a run-up the model can see coming), holds 40 s, and stops.
            launch(cluster, "base-load", HOT_NODE, FaultCommand.cpuRamp(150, 150, 1, durationS), false);
            launch(cluster, WITNESS, HOT_NODE, WitnessLog.withLoad(20, FaultCommand.cpuRamp(15, 180, 30, 40)), true);
            out.println("pmig demo: witness launched on " + HOT_NODE + " beside a pinned load of half the node; letting the"
                    + " windows fill for 20 s");
            sleepUntil(Math.min(deadline, System.currentTimeMillis() + 20_000));
            out.println("pmig demo: the witness's own load now climbs to 60 % of " + HOT_NODE + "'s capacity: together with"
                    + " the pinned half, an overload that moving the witness relieves");

            MigrationEvent completed = narrator.awaitModelMigrationOutcome(deadline);
            if (completed != null && exitAfterMigration) {
                sleepUntil(Math.min(deadline, System.currentTimeMillis() + 10_000));
            } else {
                sleepUntil(deadline);
            }

            Summary summary = summarize(cluster, narrator);
            out.println("pmig demo: " + summary.describe());
            Runtime.getRuntime().removeShutdownHook(stopOnSignal);
            if (json) {
                out.println(summary.toJson());
            }
            return summary.success() ? 0 : 1;
        }
    }

    private int dashboardPortOrFree() {
        try (var probe = new java.net.ServerSocket(dashboardPort, 1, java.net.InetAddress.getLoopbackAddress())) {
            return dashboardPort;
        } catch (IOException busy) {
            return 0; // someone else has 8080: any free port, printed at start
        }
    }

    private static void launch(LocalCluster cluster, String workloadId, String node, List<String> argv, boolean migratable) {
        MigrationCommand command = CommandDeadline.stamp(MigrationCommand.newBuilder()
                .setCommandId("demo-launch-" + workloadId).setKind(CommandKind.LAUNCH).setWorkloadId(workloadId)
                .setDestinationNode(node).setArgv(argv).setMigratable(migratable)
                .setReason(OperatorCommands.operatorReason("pmig demo"))
                .setIssuedBy("pmig demo"), System.currentTimeMillis(), CommandDeadline.OPERATOR_TTL).build();
        CommandPublisher.send(cluster.clientProperties(), command);
    }

    private static Summary summarize(LocalCluster cluster, DemoNarrator narrator) throws IOException {
        List<String> running = cluster.nodesRunning(WITNESS);
        WitnessLog witness = null;
        if (running.size() == 1) {
            Path stdout = cluster.stdoutOf(running.get(0), WITNESS);
            if (Files.exists(stdout)) {
                witness = WitnessLog.read(stdout);
            }
        }
        return new Summary(narrator.count(Phase.COMPLETED), narrator.count(Phase.ROLLED_BACK),
                running.isEmpty() ? 1 : 0, running.size() > 1 ? running.size() - 1 : 0,
                narrator.firstMigrationByModel(), running.isEmpty() ? null : running.get(0), witness, narrator.downtimesMs());
    }

    /** The run in figures; the demo succeeds when the model moved something and nothing was lost or duplicated. */
    record Summary(long completed, long rolledBack, int lost, int duplicated, boolean byModel, String witnessNode,
                   WitnessLog witness, List<Long> downtimesMs) {

        boolean success() {
            return completed > 0 && byModel && lost == 0 && duplicated == 0 && witness != null && witness.continuous();
        }

        String describe() {
            return completed + " migration(s) completed, " + rolledBack + " rolled back, " + lost + " workload(s) lost; "
                    + "first migration by " + (byModel ? "the model" : "something else") + "; witness on " + witnessNode
                    + (witness == null ? " unreadable" : " at " + witness.lastNumber() + ", " + (witness.continuous()
                    ? "no number missing or repeated" : "NOT continuous") + ", longest pause " + witness.maxGapMs() + " ms");
        }

        String toJson() {
            ObjectNode node = new ObjectMapper().createObjectNode()
                    .put("migrations_completed", completed).put("migrations_rolled_back", rolledBack)
                    .put("workloads_lost", lost).put("workloads_duplicated", duplicated).put("triggered_by_model", byModel)
                    .put("witness_node", witnessNode)
                    .put("witness_max_gap_ms", witness == null ? -1 : witness.maxGapMs())
                    .put("witness_continuous", witness != null && witness.continuous())
                    .put("witness_last_number", witness == null ? -1 : witness.lastNumber());
            var downtimes = node.putArray("downtime_ms");
            downtimesMs.forEach(downtimes::add);
            return node.toString();
        }
    }

    private static void sleepUntil(long deadlineMs) throws InterruptedException {
        long left = deadlineMs - System.currentTimeMillis();
        if (left > 0) {
            Thread.sleep(left); // the demo's own pacing: the story is told by the narrator meanwhile
        }
    }

    private static String procStatusUid() throws IOException {
        return Files.readAllLines(Path.of("/proc/self/status")).stream().filter(l -> l.startsWith("Uid:"))
                .map(l -> l.split("\\s+")[1]).findFirst().orElse("?");
    }
}
