package io.pmig.cli.fault;

import io.pmig.cli.operator.ClusterSnapshot;
import io.pmig.cli.operator.CommandPublisher;
import io.pmig.cli.operator.OperatorCommands;
import io.pmig.platform.commands.CommandDeadline;
import io.pmig.platform.config.ConfigException;
import io.pmig.platform.config.KafkaClientOptions;
import io.pmig.platform.config.OptionTypes;
import io.pmig.schemas.CommandKind;
import io.pmig.schemas.MigrationCommand;
import io.pmig.schemas.MigrationMode;
import io.pmig.schemas.NodeMetrics;
import io.pmig.schemas.ProcessSample;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.Comparator;
import java.util.List;
import java.util.UUID;
import java.util.concurrent.Callable;
import picocli.CommandLine.Command;
import picocli.CommandLine.Mixin;
import picocli.CommandLine.Model.CommandSpec;
import picocli.CommandLine.Option;
import picocli.CommandLine.Parameters;
import picocli.CommandLine.Spec;

/**
 * {@code pmig fault}: bounded, self-cleaning faults for demos and tests. Load faults run as pinned workloads
 * on the node (so a simulated node's agent counts them and analytics never moves them) and stop by themselves.
 */
@Command(name = "fault", mixinStandardHelpOptions = true,
        description = {"Inject a bounded fault on a node: cpu, memory, disk, kill, migrate.",
                "Each stops by itself after --duration and removes what it wrote."})
public final class FaultCommand implements Callable<Integer> {

    @Spec
    CommandSpec spec;

    enum Kind { cpu, memory, disk, kill, migrate }

    @Mixin KafkaClientOptions kafka;

    @Parameters(index = "0", paramLabel = "KIND", description = "cpu | memory | disk | kill | migrate")
    Kind kind;

    @Option(names = "--node", required = true, description = "Node to hit.")
    String node;

    @Option(names = {"--duration", "--duration-s"}, paramLabel = "DURATION", defaultValue = "30s",
            converter = OptionTypes.Seconds.class,
            description = "How long the fault lasts, in whole seconds, e.g. 30s or 10m; a bare number is seconds (default: ${DEFAULT-VALUE}).")
    Duration duration;

    private int durationS;

    @Option(names = "--intensity", description = {"cpu: busy cores (default 1); memory: MiB leaked per second (default 16);",
            "disk: MiB written (default 256)."})
    Integer intensity;

    @Option(names = "--workload", description = "kill / migrate: the workload (default: the node's busiest migratable one).")
    String workloadId;

    @Option(names = "--to", description = "migrate: destination (default: the least-loaded other node).")
    String destination;

    @Option(names = "--mode", defaultValue = "PAGE_SERVER", description = "migrate: PAGE_SERVER, PLAIN or LAZY.")
    MigrationMode mode;

    @Override
    public Integer call() throws Exception {
        if (duration.toSeconds() <= 0) {
            throw new ConfigException(OptionTypes.givenName(spec, "--duration"), "must be at least 1s");
        }
        durationS = (int) Math.min(Integer.MAX_VALUE, duration.toSeconds());
        if (intensity != null && intensity <= 0) {
            throw new ConfigException("--intensity", "must be positive");
        }
        return switch (kind) {
            case cpu -> launchPinned("fault-cpu", cpuBurner(intensity == null ? 1 : intensity, durationS));
            case memory -> launchPinned("fault-memory", memoryLeak(intensity == null ? 16 : intensity, durationS));
            case disk -> launchPinned("fault-disk", diskFill(intensity == null ? 256 : intensity, durationS));
            case kill -> killProcess();
            case migrate -> forceMigration();
        };
    }

    public static List<String> cpuBurner(int cores, int durationS) {
        // Each busy loop is bounded by its own timeout, so no loop outlives the fault.
        return List.of("sh", "-c", "for i in $(seq " + cores + "); do timeout " + durationS
                + " sh -c 'while :; do :; done' & done; wait");
    }

    /**
     * One long-lived busy loop throttled (SIGSTOP/SIGCONT, like cpulimit) to a duty cycle that moves linearly from
     * fromPermille to toPermille of one core over riseS seconds, then stays for holdS seconds and exits. Long-lived
     * because the agent counts the CPU of live processes only; periods of 200 ms, far below the agent's 1 s
     * sample, so samples see a steady share rather than on/off.
     */
    public static List<String> cpuRamp(int fromPermille, int toPermille, int riseS, int holdS) {
        String script = """
                from=$1; to=$2; rise=$3; hold=$4
                sh -c 'while :; do :; done' & burner=$!
                trap 'kill -CONT $burner; kill $burner' EXIT
                trap 'exit 0' INT TERM
                start=$(date +%s); end=$((start + rise + hold))
                while :; do
                  now=$(date +%s); [ "$now" -ge "$end" ] && break
                  el=$((now - start))
                  if [ "$el" -lt "$rise" ]; then d=$((from + (to - from) * el / rise)); else d=$to; fi
                  [ "$d" -gt 1000 ] && d=1000
                  busy=$((d / 5)); idle=$((200 - busy))
                  if [ "$busy" -gt 0 ]; then kill -CONT $burner; sleep "0.$(printf %03d "$busy")"; fi
                  if [ "$idle" -gt 0 ]; then kill -STOP $burner; sleep "0.$(printf %03d "$idle")"; fi
                done
                """;
        return List.of("sh", "-c", script, "pmig-ramp", String.valueOf(fromPermille), String.valueOf(toPermille),
                String.valueOf(Math.max(1, riseS)), String.valueOf(holdS));
    }

    public static List<String> memoryLeak(int mibPerSecond, int durationS) {
        String java = Path.of(System.getProperty("java.home"), "bin", "java").toString();
        String classpath = System.getProperty("java.class.path");
        long maxMib = (long) mibPerSecond * durationS;
        return List.of(java, "-Xmx" + (maxMib + 64) + "m", "-XX:+UseSerialGC", "-XX:-UsePerfData", "-cp", classpath,
                MemoryLeak.class.getName(), String.valueOf(mibPerSecond), String.valueOf(durationS));
    }

    public static List<String> diskFill(int mib, int durationS) {
        return List.of("sh", "-c", "trap 'rm -f pmig-fault-fill' EXIT; dd if=/dev/zero of=pmig-fault-fill bs=1M count=" + mib
                + " status=none; sleep " + durationS);
    }

    private int launchPinned(String prefix, List<String> argv) {
        String id = prefix + "-" + UUID.randomUUID().toString().substring(0, 6);
        MigrationCommand command = CommandDeadline.stamp(MigrationCommand.newBuilder()
                .setCommandId("launch-" + id).setKind(CommandKind.LAUNCH).setWorkloadId(id).setDestinationNode(node)
                .setArgv(argv).setMigratable(false)
                .setReason(OperatorCommands.operatorReason("fault " + kind + " for " + durationS + " s"))
                .setIssuedBy("pmig fault"), System.currentTimeMillis(), CommandDeadline.OPERATOR_TTL).build();
        CommandPublisher.send(kafka.clientProperties(), command);
        System.out.println("fault " + kind + " on " + node + " as pinned workload " + id + " for " + durationS + " s");
        return 0;
    }

    /** Kills the workload's process behind the executor's back, as a crash would (this host only). */
    private int killProcess() throws IOException {
        ProcessSample target = pickWorkload(ClusterSnapshot.read(kafka.clientProperties(), Duration.ofSeconds(15)));
        // The sampled pid is the workload's namespace init; the workload itself is its child.
        Path children = Path.of("/proc", String.valueOf(target.getPid()), "task", String.valueOf(target.getPid()), "children");
        if (!Files.exists(children)) {
            throw new ConfigException("--node", "workload " + target.getWorkloadId() + " (pid " + target.getPid()
                    + ") is not a process on this host; fault kill works only where the node runs");
        }
        String[] pids = Files.readString(children).trim().split("\\s+");
        String victim = pids[0].isEmpty() ? String.valueOf(target.getPid()) : pids[0];
        // ProcessHandle sends SIGKILL itself: node containers have no /bin/kill
        boolean sent = ProcessHandle.of(Long.parseLong(victim)).map(ProcessHandle::destroyForcibly).orElse(false);
        if (!sent) {
            System.err.println("pid " + victim + " of workload " + target.getWorkloadId() + " is gone already");
            return 1;
        }
        System.out.println("killed pid " + victim + " of workload " + target.getWorkloadId() + " on " + node);
        return 0;
    }

    private int forceMigration() {
        ClusterSnapshot snapshot = ClusterSnapshot.read(kafka.clientProperties(), Duration.ofSeconds(15));
        ProcessSample target = pickWorkload(snapshot);
        String to = destination != null ? destination : snapshot.nodes().values().stream()
                .filter(m -> !m.getNodeId().equals(node))
                .filter(m -> snapshot.takenAtMs() - m.getTimestampMs() < 5_000)
                .min(Comparator.comparingDouble(NodeMetrics::getCpuPercent))
                .map(NodeMetrics::getNodeId)
                .orElseThrow(() -> new ConfigException("--to", "no other live node to migrate to"));
        MigrationCommand command = OperatorCommands.migrateCommand(target.getWorkloadId(), node, to, mode,
                OperatorCommands.operatorReason("fault: forced migration"), "pmig fault", CommandDeadline.OPERATOR_TTL);
        CommandPublisher.send(kafka.clientProperties(), command);
        System.out.println("forced migration of " + target.getWorkloadId() + " from " + node + " to " + to
                + " (command " + command.getCommandId() + ")");
        return 0;
    }

    private ProcessSample pickWorkload(ClusterSnapshot snapshot) {
        NodeMetrics metrics = snapshot.nodes().get(node);
        if (metrics == null) {
            throw new ConfigException("--node", "no recent metrics from node " + node);
        }
        return metrics.getProcesses().stream()
                .filter(p -> p.getWorkloadId() != null)
                .filter(p -> workloadId == null ? p.getMigratable() : workloadId.equals(p.getWorkloadId()))
                .max(Comparator.comparingDouble(ProcessSample::getCpuPercent))
                .orElseThrow(() -> new ConfigException(workloadId == null ? "--node" : "--workload",
                        "no matching managed workload on " + node));
    }
}
