package io.pmig.cli.operator;

import io.pmig.executor.network.AddressBook;
import io.pmig.platform.commands.CommandDeadline;
import io.pmig.platform.config.ConfigException;
import io.pmig.platform.config.KafkaClientOptions;
import io.pmig.platform.config.OptionTypes;
import io.pmig.platform.nodes.NodeRegistry;
import io.pmig.platform.topics.Topic;
import io.pmig.schemas.ClaimState;
import io.pmig.schemas.CommandKind;
import io.pmig.schemas.DecisionReason;
import io.pmig.schemas.MigrationCommand;
import io.pmig.schemas.MigrationEvent;
import io.pmig.schemas.MigrationMode;
import io.pmig.schemas.NetworkIdentity;
import io.pmig.schemas.NodeMetrics;
import io.pmig.schemas.Phase;
import io.pmig.schemas.ProcessSample;
import io.pmig.schemas.Trigger;
import java.time.Duration;
import java.util.ArrayList;
import java.util.EnumSet;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.Set;
import java.util.UUID;
import java.util.concurrent.Callable;
import java.util.concurrent.CompletableFuture;
import org.apache.kafka.common.KafkaException;
import picocli.CommandLine.Command;
import picocli.CommandLine.Mixin;
import picocli.CommandLine.Option;
import picocli.CommandLine.Parameters;

/** The operator's commands: launch, list, migrate and kill workloads, and watch events - all over Kafka. */
public final class OperatorCommands {

    private static final Set<Phase> MIGRATION_ENDS = EnumSet.of(Phase.COMPLETED, Phase.ROLLED_BACK, Phase.FAILED);

    private OperatorCommands() {
    }

    static String newCommandId(String kind) {
        return kind.toLowerCase() + "-" + UUID.randomUUID();
    }

    /** Events sorted by the time their node stamped them; events of one partition keep their order on ties. */
    static List<MigrationEvent> inEventTimeOrder(List<MigrationEvent> events) {
        List<MigrationEvent> sorted = new ArrayList<>(events);
        sorted.sort(java.util.Comparator.comparingLong(MigrationEvent::getTimestampMs)); // stable
        return sorted;
    }

    /** How long an operator command waits for a broker to answer at all (else one line, exit 2). */
    static final Duration BROKER_WAIT = Duration.ofSeconds(5);

    /** The command's clients, opening while its checks run (quiet unless --verbose from the start). */
    static CommandChannel openChannel(KafkaClientOptions kafka) {
        kafka.quietUnlessVerbose();
        return CommandChannel.open(kafka.clientProperties());
    }

    /** Asks the brokers once before anything else; quiets the Kafka clients' warnings unless --verbose. */
    static void requireBroker(KafkaClientOptions kafka) {
        kafka.reachableClientProperties(BROKER_WAIT);
    }

    /** How a command ended for the operator: the last event shown, and whether the acting executor ever answered. */
    record Outcome(MigrationEvent last, boolean answered, boolean finished, long deadlineMs) {
    }

    /**
     * Publishes the command, prints its events as they come, and returns how it ended. The node that acts on it
     * (LAUNCH: the destination, KILL and MIGRATE: the source) must answer before the command's deadline: executors
     * refuse it afterwards, so silence until then (plus {@link CommandDeadline#SETTLE}) means nothing happened and
     * nothing will. Once answered, events are followed until one of {@code ends} or until {@code timeout}.
     */
    static Outcome sendAndFollow(CommandChannel channel, MigrationCommand command, Set<Phase> ends,
                                 Duration timeout, boolean quiet) {
        String actor = command.getKind() == CommandKind.LAUNCH ? command.getDestinationNode() : command.getSourceNode();
        long answerByMs = CommandDeadline.deadlineMs(command) + CommandDeadline.SETTLE.toMillis();
        long giveUp = System.nanoTime() + timeout.toNanos();
        EventFeed feed = channel.events();
        channel.send(command);
        boolean answered = false;
        MigrationEvent last = null;
        while (answered ? System.nanoTime() < giveUp : System.currentTimeMillis() < answerByMs) {
            for (MigrationEvent e : feed.poll(Duration.ofMillis(200))) {
                if (!e.getCommandId().equals(command.getCommandId())) {
                    continue;
                }
                if (!quiet) {
                    System.out.println(EventLines.format(e));
                }
                last = e;
                answered |= e.getNode().equals(actor);
                if (ends.contains(e.getPhase())) {
                    return new Outcome(e, true, true, CommandDeadline.deadlineMs(command));
                }
            }
        }
        return new Outcome(last, answered, false, CommandDeadline.deadlineMs(command));
    }

    /**
     * Refuses, before any command is produced, a node no executor has registered on pmig.nodes: the operator learns
     * of a typo in a second, not when the command expires. A registered node whose executor is stopped is only
     * warned about: it may come back before the command's deadline. The read is also the command's broker probe: a
     * cluster that does not answer within {@link #BROKER_WAIT} is the one line naming --bootstrap-server.
     *
     * @param nodeByOption the nodes to check, by the option that named them
     */
    static void requireKnownNodes(KafkaClientOptions kafka, Map<String, String> nodeByOption) {
        NodeRegistry registry;
        try {
            registry = NodeRegistry.read(kafka.clientProperties(), BROKER_WAIT);
        } catch (KafkaException e) {
            throw kafka.unreachable(BROKER_WAIT, e);
        }
        for (Map.Entry<String, String> named : nodeByOption.entrySet()) {
            String option = named.getKey();
            String node = named.getValue();
            var holder = registry.holder(node);
            if (holder.isEmpty()) {
                throw new ConfigException(option, registry.unknownNode(node));
            }
            if (holder.get().getState() != ClaimState.ACTIVE) {
                System.err.println("warning: the executor of node " + node + " stopped at "
                        + java.time.Instant.ofEpochMilli(holder.get().getHeartbeatMs())
                        + "; the command fails unless it is back before the deadline");
            }
        }
    }

    /**
     * How long ago a node's latest sample was taken, as printed: measured when printing (the snapshot's start came
     * before samples it read, so the age printed negative), never below 0 (a node whose clock runs ahead).
     */
    static long sampleAgeMs(long nowMs, long sampleMs) {
        return Math.max(0, nowMs - sampleMs);
    }

    @Command(name = "nodes", mixinStandardHelpOptions = true, description = "List nodes with their latest metrics.")
    public static final class Nodes implements Callable<Integer> {
        @Mixin KafkaClientOptions kafka;

        @Option(names = {"--down-after", "--down-after-s"}, paramLabel = "DURATION", defaultValue = "5s",
                converter = OptionTypes.Seconds.class,
                description = "A node silent this long is shown DOWN, e.g. 5s; a bare number is seconds (default: ${DEFAULT-VALUE}).")
        Duration downAfter;

        @Override
        public Integer call() {
            requireBroker(kafka);
            ClusterSnapshot snapshot = ClusterSnapshot.read(kafka.clientProperties(), Duration.ofMinutes(5));
            System.out.printf("%-12s %-5s %-9s %7s %13s %9s %5s  %s%n", "NODE", "STATE", "MODE", "CPU%", "MEM", "CAPACITY", "WLS", "LAST SEEN");
            long now = System.currentTimeMillis();
            for (NodeMetrics m : snapshot.nodes().values()) {
                long age = sampleAgeMs(now, m.getTimestampMs());
                long managed = m.getProcesses().stream().filter(p -> p.getWorkloadId() != null).count();
                System.out.printf("%-12s %-5s %-9s %7.1f %6s/%-6s %4.1fcpu %5d  %.1fs ago%n", m.getNodeId(),
                        age > downAfter.toMillis() ? "DOWN" : "UP", m.getMode(), m.getCpuPercent(),
                        mib(m.getMemUsedBytes()), mib(m.getMemTotalBytes()), m.getCapacity().getCpus(), managed, age / 1000.0);
            }
            if (snapshot.nodes().isEmpty()) {
                System.out.println("(no node has published metrics in the last 5 minutes)");
            }
            return 0;
        }
    }

    @Command(name = "ps", mixinStandardHelpOptions = true, description = "List managed workloads and where they run.")
    public static final class Ps implements Callable<Integer> {
        @Mixin KafkaClientOptions kafka;

        @Override
        public Integer call() {
            requireBroker(kafka);
            ClusterSnapshot snapshot = ClusterSnapshot.read(kafka.clientProperties(), Duration.ofSeconds(30));
            System.out.printf("%-24s %-12s %8s %7s %9s %-18s  %s%n", "WORKLOAD", "NODE", "PID", "CPU%", "RSS", "ADDRESS",
                    "NAME / LAST EVENT");
            Set<String> shown = new java.util.HashSet<>();
            for (NodeMetrics m : snapshot.nodes().values()) {
                for (ProcessSample p : m.getProcesses()) {
                    if (p.getWorkloadId() != null && shown.add(p.getWorkloadId())) {
                        System.out.printf("%-24s %-12s %8d %7.1f %9s %-18s  %s%s%n", p.getWorkloadId(), m.getNodeId(),
                                p.getPid(), p.getCpuPercent(), mib(p.getRssBytes()),
                                p.getAddress() == null ? "node's" : p.getAddress(), p.getName(),
                                p.getMigratable() ? "" : " (pinned)");
                    }
                }
            }
            for (ClusterSnapshot.Location l : snapshot.workloads().values()) {
                if (l.lost() && shown.add(l.workloadId())) {
                    System.out.printf("%-24s %-12s %8s %7s %9s %-18s  LOST: %s (clear with pmig forget %s)%n",
                            l.workloadId(), l.node(), "-", "-", "-", "-", l.reason(), l.workloadId());
                } else if (shown.add(l.workloadId())) {
                    System.out.printf("%-24s %-12s %8d %7s %9s %-18s  %s (not in recent metrics)%n",
                            l.workloadId(), l.node(), l.pid(), "-", "-", "-", l.lastPhase());
                }
            }
            return 0;
        }
    }

    @Command(name = "launch", mixinStandardHelpOptions = true,
            description = {"Start a command as a managed, migratable workload on a node.", "Example: pmig launch --node node-1 -- sh -c 'while :; do date; sleep 1; done'"})
    public static final class Launch implements Callable<Integer> {
        @Mixin KafkaClientOptions kafka;

        @Option(names = "--node", required = true, description = "Node to start it on.")
        String node;

        @Option(names = "--id", description = "Workload id (default: generated).")
        String workloadId;

        @Option(names = "--pinned", description = "Never migrate it (load generators, node-local daemons).")
        boolean pinned;

        @Option(names = "--file", paramLabel = "PATH", description = "A file outside the workload's directory that"
                + " moves with it (absolute path; repeatable): see 'declared files' in the README.")
        List<String> files = new ArrayList<>();

        @Option(names = {"--timeout", "--timeout-s"}, paramLabel = "DURATION", defaultValue = "30s",
                converter = OptionTypes.Seconds.class,
                description = "How long to wait for LAUNCHED, e.g. 30s or 2m; a bare number is seconds (default: ${DEFAULT-VALUE}).")
        Duration timeout;

        @Option(names = "--net", paramLabel = "NODE|OWN|AUTO", defaultValue = "AUTO", description = {
                "OWN: its own network namespace and an address from the cluster's workload range that moves with it;",
                "NODE: the node's network; AUTO: OWN where the node has a workload bridge (default: ${DEFAULT-VALUE})."})
        NetworkIdentity network;

        @Option(names = "--address", paramLabel = "A.B.C.D", description = "With --net own: this address of the workload"
                + " range instead of a free one.")
        String address;

        @Parameters(arity = "1..*", paramLabel = "CMD", description = "The command line, after --.")
        List<String> argv = new ArrayList<>();

        @Override
        public Integer call() {
            try (CommandChannel channel = openChannel(kafka)) {
                return launch(channel);
            }
        }

        private int launch(CommandChannel channel) {
            String id = workloadId != null ? workloadId : "w-" + UUID.randomUUID().toString().substring(0, 8);
            for (String file : files) {
                if (!file.startsWith("/") || java.nio.file.Path.of(file).normalize().toString().length() != file.length()
                        || file.contains("/../") || file.endsWith("/..")) {
                    throw new ConfigException("--file", "'" + file + "' must be an absolute path without '..' (the"
                            + " same path on every node)");
                }
            }
            if (address != null && network != NetworkIdentity.OWN) {
                throw new ConfigException("--address", "an address is for a workload with its own network identity:"
                        + " add --net own");
            }
            requireKnownNodes(kafka, Map.of("--node", node));
            MigrationCommand command = CommandDeadline.stamp(MigrationCommand.newBuilder()
                    .setCommandId(newCommandId("launch")).setKind(CommandKind.LAUNCH).setWorkloadId(id)
                    .setNetwork(network).setAddress(address)
                    .setDestinationNode(node).setArgv(argv).setMigratable(!pinned).setDeclaredFiles(new ArrayList<>(files))
                    .setReason(operatorReason("launched by operator"))
                    .setIssuedBy("pmig launch"), System.currentTimeMillis(), timeout).build();
            Outcome outcome = sendAndFollow(channel, command, EnumSet.of(Phase.LAUNCHED, Phase.LAUNCH_FAILED, Phase.FAILED),
                    timeout, false);
            return exitStatus(outcome, Phase.LAUNCHED, node);
        }
    }

    @Command(name = "migrate", mixinStandardHelpOptions = true,
            description = "Move a workload to another node now; shows each phase until COMPLETED or ROLLED_BACK.")
    public static final class Migrate implements Callable<Integer> {
        @Mixin KafkaClientOptions kafka;

        @Parameters(index = "0", paramLabel = "WORKLOAD", description = "Workload id.")
        String workloadId;

        @Option(names = "--to", required = true, description = "Destination node.")
        String destination;

        @Option(names = "--from", description = "Source node (default: where metrics and events say it runs).")
        String source;

        @Option(names = "--mode", defaultValue = "PAGE_SERVER", description = "PAGE_SERVER, PLAIN or LAZY (default: ${DEFAULT-VALUE}).")
        MigrationMode mode;

        @Option(names = {"--timeout", "--timeout-s"}, paramLabel = "DURATION", defaultValue = "2m",
                converter = OptionTypes.Seconds.class,
                description = "Give up waiting after this long, e.g. 120s or 2m; a bare number is seconds (default: ${DEFAULT-VALUE}).")
        Duration timeout;

        @Override
        public Integer call() {
            try (CommandChannel channel = openChannel(kafka)) {
                return migrate(channel);
            }
        }

        private int migrate(CommandChannel channel) {
            // where the workload runs is read beside the registry: each is a client's start-up and a read to an end
            CompletableFuture<Optional<String>> located = source != null ? CompletableFuture.completedFuture(Optional.of(source))
                    : CommandChannel.inBackground(() -> ClusterSnapshot.nodeOf(kafka.clientProperties(), workloadId, Duration.ofSeconds(30)));
            Map<String, String> nodes = new LinkedHashMap<>();
            nodes.put("--to", destination);
            if (source != null) {
                nodes.put("--from", source);
            }
            requireKnownNodes(kafka, nodes);
            String from = CommandChannel.join(located)
                    .orElseThrow(() -> new ConfigException("WORKLOAD", "no node reports workload " + workloadId + " (see pmig ps)"));
            Duration ttl = timeout.compareTo(CommandDeadline.OPERATOR_TTL) < 0
                    ? timeout : CommandDeadline.OPERATOR_TTL;
            MigrationCommand command = migrateCommand(workloadId, from, destination, mode,
                    operatorReason("requested by operator"), "pmig migrate", ttl);
            System.out.println("migrating " + workloadId + " from " + from + " to " + destination + " (" + mode + ")");
            Outcome outcome = sendAndFollow(channel, command, MIGRATION_ENDS, timeout, false);
            return exitStatus(outcome, Phase.COMPLETED, from);
        }
    }

    @Command(name = "kill", mixinStandardHelpOptions = true, description = "Stop a managed workload.")
    public static final class Kill implements Callable<Integer> {
        @Mixin KafkaClientOptions kafka;

        @Parameters(index = "0", paramLabel = "WORKLOAD", description = "Workload id.")
        String workloadId;

        @Option(names = "--node", description = "Node it runs on (default: where metrics and events say it runs).")
        String node;

        @Option(names = {"--timeout", "--timeout-s"}, paramLabel = "DURATION", defaultValue = "30s",
                converter = OptionTypes.Seconds.class,
                description = "How long to wait for KILLED, e.g. 30s; a bare number is seconds (default: ${DEFAULT-VALUE}).")
        Duration timeout;

        @Override
        public Integer call() {
            try (CommandChannel channel = openChannel(kafka)) {
                return kill(channel);
            }
        }

        private int kill(CommandChannel channel) {
            if (node != null) {
                requireKnownNodes(kafka, Map.of("--node", node));
            } else {
                requireBroker(kafka);
            }
            String where = node != null ? node
                    : ClusterSnapshot.nodeOf(kafka.clientProperties(), workloadId, Duration.ofSeconds(30))
                    .orElseThrow(() -> new ConfigException("WORKLOAD", "no node reports workload " + workloadId + " (see pmig ps)"));
            MigrationCommand command = CommandDeadline.stamp(MigrationCommand.newBuilder()
                    .setCommandId(newCommandId("kill")).setKind(CommandKind.KILL).setWorkloadId(workloadId)
                    .setSourceNode(where).setReason(operatorReason("killed by operator"))
                    .setIssuedBy("pmig kill"), System.currentTimeMillis(), timeout).build();
            Outcome outcome = sendAndFollow(channel, command, EnumSet.of(Phase.KILLED, Phase.FAILED), timeout, false);
            return exitStatus(outcome, Phase.KILLED, where);
        }
    }

    @Command(name = "forget", mixinStandardHelpOptions = true,
            description = {"Clear a LOST workload (one that runs nowhere) from ps, the dashboard and the cluster's records,",
                    "so its id can be launched again, and give back its address (pmig.addresses) if it had one.",
                    "Publishes FORGOTTEN on pmig.events."})
    public static final class Forget implements Callable<Integer> {
        @Mixin KafkaClientOptions kafka;

        @Parameters(index = "0", paramLabel = "WORKLOAD", description = "Workload id, as pmig ps shows it LOST.")
        String workloadId;

        @Override
        public Integer call() {
            requireBroker(kafka);
            ClusterSnapshot snapshot = ClusterSnapshot.read(kafka.clientProperties(), Duration.ofSeconds(30));
            ClusterSnapshot.Location where = snapshot.workloads().get(workloadId);
            if (where == null || !where.lost()) {
                String runs = snapshot.nodeOf(workloadId).map(n -> "it runs on " + n + "; stop it with pmig kill " + workloadId)
                        .orElse("no event places it anywhere");
                throw new ConfigException("WORKLOAD", "workload " + workloadId + " is not LOST (" + runs + ")");
            }
            // its claim on pmig.addresses first: once FORGOTTEN is out, nothing would ever give the address back
            List<String> released;
            try {
                released = AddressBook.releaseLost(kafka.clientProperties(), workloadId, "operator");
            } catch (RuntimeException e) {
                System.err.println("pmig forget: cannot give back the address of " + workloadId + " on "
                        + Topic.ADDRESSES.topicName() + ": " + e.getMessage() + "; nothing was forgotten, try again");
                return 1;
            }
            EventPublishing.publish(kafka.clientProperties(), MigrationEvent.newBuilder()
                    .setCommandId(newCommandId("forget")).setMigrationId("forget-" + workloadId + "-" + System.currentTimeMillis())
                    .setWorkloadId(workloadId).setNode("operator").setPhase(Phase.FORGOTTEN).setSourceNode(where.node())
                    .setDetail("forgotten by operator; was lost on " + where.node() + ": " + where.reason())
                    .setTimestampMs(System.currentTimeMillis()).build());
            System.out.println("forgot " + workloadId + " (lost on " + where.node() + ": " + where.reason() + ")"
                    + (released.isEmpty() ? "" : "; address " + String.join(", ", released) + " given back"));
            return 0;
        }
    }

    @Command(name = "events", mixinStandardHelpOptions = true, description = "Print migration and workload events.")
    public static final class Events implements Callable<Integer> {
        @Mixin KafkaClientOptions kafka;

        @Option(names = {"-f", "--follow"}, description = "Keep printing new events until interrupted.")
        boolean follow;

        @Option(names = "--workload", description = "Only this workload's events.")
        String workloadId;

        @Override
        public Integer call() {
            requireBroker(kafka);
            try (EventFeed feed = EventFeed.fromBeginning(kafka.clientProperties())) {
                // the history in event time, not partition by partition; then, with --follow, events as they come
                List<MigrationEvent> history = new ArrayList<>();
                while (!feed.caughtUp()) {
                    history.addAll(feed.poll(Duration.ofMillis(500)));
                }
                inEventTimeOrder(history).stream().filter(this::shown).map(EventLines::format).forEach(System.out::println);
                while (follow) {
                    feed.poll(Duration.ofMillis(500)).stream().filter(this::shown).map(EventLines::format)
                            .forEach(System.out::println);
                }
                return 0;
            }
        }

        private boolean shown(MigrationEvent event) {
            return workloadId == null || workloadId.equals(event.getWorkloadId());
        }
    }

    /** A MIGRATE that the source must start within {@code ttl} (the migration itself may then take longer). */
    public static MigrationCommand migrateCommand(String workloadId, String from, String to, MigrationMode mode,
                                                  DecisionReason reason, String issuedBy, Duration ttl) {
        return CommandDeadline.stamp(MigrationCommand.newBuilder()
                .setCommandId(newCommandId("migrate")).setKind(CommandKind.MIGRATE).setWorkloadId(workloadId)
                .setSourceNode(from).setDestinationNode(to).setMode(mode).setReason(reason)
                .setIssuedBy(issuedBy), System.currentTimeMillis(), ttl).build();
    }

    public static DecisionReason operatorReason(String text) {
        return DecisionReason.newBuilder().setTrigger(Trigger.OPERATOR).setScore(0).setFeatures(Map.of())
                .setModelVersion(null).setText(text).build();
    }

    private static int exitStatus(Outcome outcome, Phase success, String actor) {
        if (!outcome.answered()) {
            System.err.println("failed, nothing was done: " + actor + " did not take the command before its deadline "
                    + java.time.Instant.ofEpochMilli(outcome.deadlineMs()) + ", and no executor acts on it after that;"
                    + " check that " + actor + "'s executor runs (pmig nodes) and try again");
            return 3;
        }
        if (!outcome.finished()) {
            System.err.println("no final event within --timeout: it may still be running; follow it with pmig events --follow");
            return 3;
        }
        return outcome.last().getPhase() == success ? 0 : 1;
    }

    static String mib(long bytes) {
        return bytes >= (1L << 30) ? String.format("%.1fG", bytes / (double) (1L << 30)) : String.format("%dM", bytes >> 20);
    }
}
