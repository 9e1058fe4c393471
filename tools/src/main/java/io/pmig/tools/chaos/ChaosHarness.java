package io.pmig.tools.chaos;

import io.pmig.cli.demo.WitnessLog;
import io.pmig.executor.criu.Criu;
import io.pmig.executor.events.WorkloadPlacement;
import io.pmig.platform.commands.CommandDeadline;
import io.pmig.schemas.CommandKind;
import io.pmig.schemas.MigrationCommand;
import io.pmig.schemas.MigrationEvent;
import io.pmig.schemas.MigrationMode;
import io.pmig.schemas.Phase;
import java.io.IOException;
import java.io.PrintStream;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Objects;
import java.util.Random;
import java.util.Set;
import java.util.UUID;
import java.util.stream.Collectors;

/**
 * Runs migrations of the witness workload between real executors, each with one real fault (see {@link FaultKind}),
 * and checks every trial from the outside: the kernel's process table says how many copies run, the nodes' pid
 * files say where, the witness's own output says whether its state survived, and pmig.events must agree.
 *
 * <p>A fault fires when the migration reaches a phase chosen at random (seeded) from those on its normal path,
 * plus a random few milliseconds, so over many trials kills and cuts land at different points of the protocol.
 */
public final class ChaosHarness {

    /**
     * Options of a run; {@code trialTimeout} bounds each trial from LAUNCH to settled. Trials rotate over the faults
     * fastest and shift the mode by one every round, so {@code faults × modes} trials run every pair once.
     */
    public record Options(int trials, long seed, List<MigrationMode> modes, List<FaultKind> faults,
                          Duration trialTimeout, boolean keepFiles, int probeEvery) {
        /** A fault-free probe migration after every this many trials (and after the last) unless told otherwise. */
        public static final int PROBE_EVERY = 10;

        public Options {
            modes = List.copyOf(modes);
            faults = List.copyOf(faults);
            if (modes.isEmpty() || faults.isEmpty()) {
                throw new IllegalArgumentException("at least one mode and one fault");
            }
        }

        public Options(int trials, long seed, List<MigrationMode> modes, Duration trialTimeout, boolean keepFiles) {
            this(trials, seed, modes, List.of(FaultKind.values()), trialTimeout, keepFiles, PROBE_EVERY);
        }

        /** Whether a probe migration follows trial {@code i} (1-based). */
        public boolean probeAfter(int i) {
            return i % probeEvery == 0 || i == trials;
        }

        /** The fault of trial {@code i} (1-based). */
        public FaultKind fault(int i) {
            return faults.get((i - 1) % faults.size());
        }

        /** The mode of trial {@code i} (1-based): every fault meets every mode within {@code modes} rounds. */
        public MigrationMode mode(int i) {
            int f = faults.size();
            return modes.get(((i - 1) % f + (i - 1) / f) % modes.size());
        }
    }

    private static final Set<Phase> OUTCOMES = Set.of(Phase.COMPLETED, Phase.ROLLED_BACK, Phase.FAILED);
    /** No new event about the trial's workload for this long (and no journal left) = the trial has settled. */
    private static final Duration QUIET = Duration.ofMillis(1500);
    private static final String SENT = "SENT";
    private static final String END = "END";
    /** A duplicate executor started and ready before the MIGRATE is sent. */
    private static final String BEFORE = "BEFORE";
    /** The CLI's wait for a migration ({@code pmig migrate --timeout-s} default) and a second more. */
    static final Duration EXPIRED_BY = Duration.ofSeconds(121);
    /** An expired command nobody acts on gets no outcome: settled after this long without an event about it. */
    private static final Duration EXPIRED_QUIET = Duration.ofSeconds(8);
    /** Time for pmig.commands' consumer group to rebalance after a member left (classic protocol, 3 s heartbeats). */
    private static final Duration REBALANCE = Duration.ofSeconds(8);
    private static final Duration PROBE_RETRY_AFTER = Duration.ofSeconds(10);

    private final ChaosCluster cluster;
    private final Options options;
    private final Random random;
    private final String runId;
    private final PrintStream progress;

    private ChaosHarness(ChaosCluster cluster, Options options, String runId, PrintStream progress) {
        this.cluster = cluster;
        this.options = options;
        this.random = new Random(options.seed());
        this.runId = runId;
        this.progress = progress;
    }

    /**
     * Starts the cluster, runs the trials, stops and deletes everything it started; progress lines go to progress.
     * A failure of the harness itself (the cluster does not start, the broker is gone, a LAUNCH or a restart fails)
     * ends the run early: the report then holds the trials finished so far and why it stopped
     * ({@link ChaosReport#abort()}), and the work dir with every log is kept for the post-mortem.
     */
    public static ChaosReport run(Options options, Criu criu, PrintStream progress) throws Exception {
        // the run id marks every witness's command line, so /proc tells this run's copies from anything else
        String runId = "chaos" + UUID.randomUUID().toString().substring(0, 6);
        Path root = Files.createTempDirectory("pmig-chaos-");
        progress.printf("chaos %s: %d trials, seed %d, modes %s, work dir %s%n", runId, options.trials(), options.seed(),
                options.modes(), root);
        ChaosCluster cluster = null;
        Thread hook = null;
        List<TrialResult> results = new ArrayList<>();
        List<ChaosReport.Probe> probes = new ArrayList<>();
        int strays = 0;
        ChaosReport.Abort abort = null;
        try {
            try {
                cluster = ChaosCluster.start(criu, root);
            } catch (InterruptedException e) {
                throw e;
            } catch (Exception e) {
                abort = new ChaosReport.Abort(0, "the cluster did not start: " + ChaosReport.Abort.describe(e), e);
            }
            if (cluster != null) {
                // interrupted (SIGTERM, Ctrl-C): no broker, executor or witness of this run may outlive it
                ChaosCluster started = cluster;
                hook = new Thread(() -> {
                    started.kill9();
                    WorkloadProbe.killAll(WorkloadProbe.copies(runId));
                    started.unmount();
                }, "chaos-cleanup");
                Runtime.getRuntime().addShutdownHook(hook);
                progress.println("chaos " + runId + ": broker and 4 executors up (each its own JVM); logs in " + root.resolve("logs"));
                ChaosHarness harness = new ChaosHarness(cluster, options, runId, progress);
                for (int i = 1; i <= options.trials() && abort == null; i++) {
                    try {
                        // a broker that is gone fails every later trial: say so before the trial blames something else
                        String broker = cluster.brokerProblem();
                        if (broker != null) {
                            throw new IllegalStateException(broker);
                        }
                        TrialResult r = harness.trial(i, options.fault(i), options.mode(i));
                        results.add(r);
                        progress.println(line(r, options.trials()));
                        strays += harness.killStrays();
                        if (options.probeAfter(i)) {
                            ChaosReport.Probe probe = harness.probe(i);
                            probes.add(probe);
                            if (!probe.passed()) {
                                results.set(results.size() - 1, r.withProblem("after it, " + probe.problem()));
                            }
                        }
                    } catch (InterruptedException e) {
                        throw e;
                    } catch (Exception e) {
                        String broker = cluster.brokerProblem();
                        String why = ChaosReport.Abort.describe(e);
                        // the broker first: without it every later step fails, whatever the step says
                        abort = new ChaosReport.Abort(i, broker == null || why.contains(broker) ? why
                                : broker + " (" + why + ")", e);
                    }
                }
            }
            if (abort != null) {
                progress.println("chaos " + runId + ": ABORTED " + (abort.trial() == 0 ? "before the first trial"
                        : "in trial " + abort.trial()) + ": " + abort.reason());
                abort = abort.keptIn(root);
            }
            return new ChaosReport(runId, options.seed(), options.modes(), results, strays, options.trials(), abort, probes);
        } finally {
            if (hook != null) {
                try {
                    Runtime.getRuntime().removeShutdownHook(hook);
                } catch (IllegalStateException shuttingDown) {
                    return null; // the hook does the cleanup
                }
            }
            if (cluster != null) {
                cluster.close();
            }
            WorkloadProbe.killAll(WorkloadProbe.copies(runId)); // anything the executors did not stop
            if (!options.keepFiles() && abort == null) {
                if (cluster != null) {
                    cluster.deleteFiles();
                } else {
                    io.pmig.executor.workload.NodeWorkloads.deleteTree(root);
                }
            }
        }
    }

    /** What a trial does to the system, and when. */
    private final class Injection {
        final FaultKind kind;
        final String trigger;       // a Phase name, SENT (right after MIGRATE) or END (after the outcome)
        final String triggerNode;   // node whose event triggers it (null: any)
        final long delayMs;
        long cutAt = -1;
        long fireAtNanos = -1;
        boolean fired;
        boolean landed;
        ChildJvm killed;
        ChildJvm stalled;           // STALL_BROKER_AT_COMMIT: the broker, stopped until restartAtNanos
        long restartAtNanos;
        String restartProblem;      // a killed role that did not come back
        String duplicateOf;         // DUPLICATE_EXECUTOR: the node id the second executor claims
        ChaosCluster.Duplicate duplicate;

        Injection(FaultKind kind, String trigger, String triggerNode, long delayMs) {
            this.kind = kind;
            this.trigger = trigger;
            this.triggerNode = triggerNode;
            this.delayMs = delayMs;
        }

        String describe() {
            return switch (kind) {
                case CUT_TRANSFER -> "cut after " + cutAt + " bytes" + (landed ? "" : " (connection ended first)");
                case CORRUPT_IMAGE, FAIL_RESTORE, INCOMPATIBLE_DESTINATION, RESTORE_FAILS_EVERYWHERE -> "at restore";
                case WRONG_SECRET -> "at transfer";
                case DESTINATION_DISK_FULL -> "full " + ("-".equals(trigger) ? "before MIGRATE" : "at " + trigger + "@"
                        + triggerNode) + (fired ? "" : " (never reached)");
                case EXPIRED_COMMAND -> "issued " + EXPIRED_BY.toSeconds() + " s before";
                case DUPLICATE_EXECUTOR -> "dup " + duplicateOf + " at " + trigger + (fired ? "" : " (never reached)");
                default -> "at " + trigger + (triggerNode == null ? "" : "@" + triggerNode)
                        + (delayMs > 0 ? "+" + delayMs + "ms" : "") + (fired ? "" : " (never reached)");
            };
        }
    }

    private Injection plan(FaultKind kind, String src, String dst) {
        return switch (kind) {
            case KILL_SOURCE -> pick(kind, List.of("ACCEPTED", "FROZEN", "DUMPED", "TRANSFERRED"), src, 150);
            case KILL_DESTINATION -> random.nextBoolean()
                    ? pick(kind, List.of("PREPARED", "RESTORED"), dst, 100)
                    : pick(kind, List.of("DUMPED", "TRANSFERRED"), src, 100);
            case RESTART_BROKER -> pick(kind, List.of("ACCEPTED", "PREPARED", "DUMPED", "TRANSFERRED"), null, 150);
            // before the COMMIT, which follows the transfer and the restore (a few hundred ms after DUMPED)
            case STALL_BROKER_AT_COMMIT -> pick(kind, List.of("DUMPED"), src, 50);
            case DUPLICATE_COMMAND, REPLAY_COMMANDS -> pick(kind, List.of(SENT, "ACCEPTED", "DUMPED", END), null, 0);
            case DUPLICATE_EXECUTOR -> {
                Injection i = pick(kind, List.of(BEFORE, SENT, "ACCEPTED", "DUMPED"), null, 0);
                i.duplicateOf = random.nextBoolean() ? src : dst;
                yield i;
            }
            // full before the MIGRATE (the destination's free-space check can see it) or filling up while it runs
            case DESTINATION_DISK_FULL -> random.nextInt(3) == 0 ? new Injection(kind, "-", null, 0)
                    : random.nextBoolean() ? pick(kind, List.of("PREPARED"), dst, 0) : pick(kind, List.of("DUMPED"), src, 0);
            case CUT_TRANSFER, CORRUPT_IMAGE, FAIL_RESTORE, WRONG_SECRET, INCOMPATIBLE_DESTINATION,
                 EXPIRED_COMMAND, RESTORE_FAILS_EVERYWHERE -> new Injection(kind, "-", null, 0);
        };
    }

    private Injection pick(FaultKind kind, List<String> triggers, String node, int maxDelayMs) {
        return new Injection(kind, triggers.get(random.nextInt(triggers.size())), node,
                maxDelayMs == 0 ? 0 : random.nextInt(maxDelayMs));
    }

    private TrialResult trial(int index, FaultKind kind, MigrationMode mode) throws Exception {
        long start = System.nanoTime();
        String src = index % 2 == 1 ? ChaosCluster.A : ChaosCluster.B;
        String dst = index % 2 == 1 ? ChaosCluster.B : ChaosCluster.A;
        String broken = switch (kind) {
            case CORRUPT_IMAGE -> ChaosCluster.CORRUPT;
            case FAIL_RESTORE -> ChaosCluster.FAILING;
            case INCOMPATIBLE_DESTINATION -> ChaosCluster.INCOMPATIBLE;
            case DESTINATION_DISK_FULL -> ChaosCluster.DISK_FULL;
            case WRONG_SECRET -> ChaosCluster.BAD_SECRET;
            default -> null;
        };
        if (broken != null) {
            cluster.ensureStarted(broken);
            src = random.nextBoolean() ? ChaosCluster.A : ChaosCluster.B;
            dst = broken;
            if (kind == FaultKind.WRONG_SECRET && random.nextBoolean()) { // either side may be the odd one
                dst = src;
                src = broken;
            }
        }
        String workload = runId + "-" + index;
        MigrationCommand launch = command(CommandKind.LAUNCH, workload, null, src, "launch", mode,
                kind == FaultKind.RESTORE_FAILS_EVERYWHERE ? NESTED_NETNS_WITNESS : WitnessLog.ARGV);
        cluster.send(launch);
        MigrationEvent launched = await(e -> e.getCommandId().equals(launch.getCommandId()), Duration.ofSeconds(30));
        String deafBefore = null;
        if (launched == null && cluster.brokerProblem() != null) {
            // no executor can answer without a broker, and a restarted one would wait for it in vain
            throw new IllegalStateException("LAUNCH of " + workload + " on " + src + " got no answer within 30 s: "
                    + cluster.brokerProblem());
        }
        if (launched == null) {
            // an executor gone deaf (after an earlier trial's duplicate): say so, restart it, keep the run going
            deafBefore = "executor " + src + " did not answer a LAUNCH within 30 s (before this trial's migration);"
                    + " restarted it";
            progress.printf("  [%s] %s%n", workload, deafBefore);
            cluster.node(src).jvm().kill9();
            cluster.node(src).jvm().start(ChaosCluster.startTimeout());
            launched = await(e -> e.getCommandId().equals(launch.getCommandId()), Duration.ofSeconds(30));
        }
        if (launched == null || launched.getPhase() != Phase.LAUNCHED) {
            throw new IllegalStateException("trial " + index + ": LAUNCH of " + workload + " on " + src + " failed: "
                    + (launched == null ? "no event" : launched.getError()));
        }
        Path srcStdout = WorkloadProbe.stdout(cluster.node(src).workdir(), workload);
        awaitWitness(srcStdout, 10, Duration.ofSeconds(20));

        MigrationCommand migrate = command(CommandKind.MIGRATE, workload, src, dst, "migrate", mode, null);
        if (kind == FaultKind.EXPIRED_COMMAND) {
            // produced after its CLI gave up: issued EXPIRED_BY ago, its deadline (the CLI's wait) long past
            long issued = System.currentTimeMillis() - EXPIRED_BY.toMillis();
            migrate.setIssuedAtMs(issued);
            migrate.setDeadlineMs(issued + CommandDeadline.OPERATOR_TTL.toMillis());
        }
        String mid = migrate.getCommandId();
        Injection fault = plan(kind, src, dst);
        TransferProxy proxy = cluster.node(dst).proxy();
        int cutsBefore = proxy.cuts();
        if (kind == FaultKind.CUT_TRANSFER) {
            long typical = Math.max(64 * 1024, proxy.largestConnectionBytes());
            fault.cutAt = 1 + (long) (random.nextDouble() * typical);
            proxy.cutAfter(fault.cutAt);
            fault.fired = true;
        } else if ("-".equals(fault.trigger)) {
            fault.fired = true;
            fault.landed = true;
        }
        if (kind == FaultKind.DESTINATION_DISK_FULL && "-".equals(fault.trigger)) {
            cluster.fillDisk(cluster.node(dst).workdir(), ChaosCluster.DISK_FULL_FREE);
        }
        if (BEFORE.equals(fault.trigger)) {
            fire(fault, migrate, true);
            String refused = fault.duplicate.started().get(ChaosCluster.startTimeout().toSeconds() + 10,
                    java.util.concurrent.TimeUnit.SECONDS);
            if (refused != null) {
                progress.printf("  [%s] the duplicate executor did not start: %s%n", mid, refused);
            }
        }
        // journals an earlier trial left (a lost workload's images are kept on purpose) must not hold this one
        Set<Path> keptBefore = newJournals(Set.of());
        int scanned = cluster.events().size();
        long sentNanos = System.nanoTime();
        cluster.send(migrate);
        if (SENT.equals(fault.trigger)) {
            fire(fault, migrate, true);
        }

        long deadline = start + options.trialTimeout().toNanos();
        long lastEventNanos = System.nanoTime();
        MigrationEvent outcome = null;
        while (System.nanoTime() < deadline) {
            List<MigrationEvent> events = cluster.events();
            for (MigrationEvent e : events.subList(scanned, events.size())) {
                if (!workload.equals(e.getWorkloadId())) {
                    continue;
                }
                lastEventNanos = System.nanoTime();
                if (e.getMigrationId().equals(mid) && OUTCOMES.contains(e.getPhase())) {
                    outcome = e;
                }
                if (!fault.fired && fault.fireAtNanos < 0 && e.getMigrationId().equals(mid)
                        && e.getPhase().name().equals(fault.trigger)
                        && (fault.triggerNode == null || fault.triggerNode.equals(e.getNode()))) {
                    fault.fireAtNanos = System.nanoTime() + fault.delayMs * 1_000_000;
                }
            }
            scanned = events.size();
            if (!fault.fired && fault.fireAtNanos >= 0 && System.nanoTime() >= fault.fireAtNanos) {
                fire(fault, migrate, outcome == null);
            }
            if (!fault.fired && END.equals(fault.trigger) && outcome != null) {
                fire(fault, migrate, false);
                lastEventNanos = System.nanoTime();
            }
            if (fault.stalled != null && System.nanoTime() >= fault.restartAtNanos) {
                fault.stalled.signal("CONT");
                fault.stalled = null;
                progress.printf("  [%s] broker resumed (SIGCONT)%n", mid);
                lastEventNanos = System.nanoTime();
            }
            if (fault.killed != null && System.nanoTime() >= fault.restartAtNanos) {
                restart(fault); // same work dir and ports: its recovery runs now
                fault.killed = null;
                lastEventNanos = System.nanoTime();
            }
            boolean quiet = System.nanoTime() - lastEventNanos > QUIET.toNanos();
            boolean duplicateSettled = fault.duplicate == null || fault.duplicate.started().isDone();
            if (kind == FaultKind.EXPIRED_COMMAND && outcome == null
                    && System.nanoTime() - Math.max(lastEventNanos, sentNanos) > EXPIRED_QUIET.toNanos()
                    && newJournals(keptBefore).isEmpty()) {
                break; // nobody acted on it, as it should be
            }
            if (outcome != null && fault.killed == null && fault.stalled == null && quiet && duplicateSettled
                    && (fault.fired || !END.equals(fault.trigger))
                    && newJournals(keptBefore).isEmpty()) {
                break;
            }
            if (outcome != null && fault.killed == null && quiet
                    && System.nanoTime() - lastEventNanos > Duration.ofSeconds(20).toNanos()) {
                break; // a journal kept on purpose (images of a lost workload) must not hold the trial forever
            }
            cluster.awaitEvents(events.size(), Duration.ofMillis(100));
        }
        proxy.disarm();
        if (fault.killed != null) {
            restart(fault);
        }
        if (fault.stalled != null) {
            fault.stalled.signal("CONT");
        }
        if (kind == FaultKind.CUT_TRANSFER) {
            fault.landed = proxy.cuts() > cutsBefore;
        }
        if (fault.duplicate != null) {
            fault.duplicate.started().get(ChaosCluster.startTimeout().toSeconds() + 10, java.util.concurrent.TimeUnit.SECONDS);
        }
        TrialResult result;
        try {
            result = verify(index, kind, mode, fault, mid, workload, src, dst, start);
            if (deafBefore != null) {
                result = result.withProblem(deafBefore);
            }
            if (fault.restartProblem != null) {
                result = result.withProblem(fault.restartProblem);
            }
        } finally {
            if (kind == FaultKind.DESTINATION_DISK_FULL) {
                cluster.unfillDisk(cluster.node(dst).workdir());
            }
        }
        if (fault.duplicate != null) {
            fault.duplicate.jvm().stop(Duration.ofSeconds(60));
            String deaf = deafness(fault.duplicate.of());
            if (deaf != null) {
                result = result.withProblem(deaf);
                progress.printf("  [%s] %s%n", mid, deaf);
            }
        }
        return result;
    }

    /**
     * Can the two healthy nodes still migrate? A witness launched on one moves to the other with no fault injected and
     * must complete (in the modes of the run, in turn). One failure may be the tail of the trial's fault (a broker
     * still settling): the probe tries once more, the other way, {@link #PROBE_RETRY_AFTER} later. If that fails too,
     * both executors are restarted so that later trials test something again, and the problem says so.
     */
    ChaosReport.Probe probe(int afterTrial) throws Exception {
        int round = (afterTrial - 1) / options.probeEvery(); // the first probe n1 -> n2, the next back
        MigrationMode mode = options.modes().get(round % options.modes().size());
        String first = probeMigration(afterTrial, "", round % 2 == 0, mode);
        if (first == null) {
            return new ChaosReport.Probe(afterTrial, null);
        }
        progress.printf("  probe after trial %d failed once (%s); trying again the other way%n", afterTrial, first);
        Thread.sleep(PROBE_RETRY_AFTER.toMillis());
        String second = probeMigration(afterTrial, "-again", round % 2 != 0, mode);
        if (second == null) {
            return new ChaosReport.Probe(afterTrial, null);
        }
        for (String id : List.of(ChaosCluster.A, ChaosCluster.B)) {
            cluster.node(id).jvm().kill9();
            cluster.node(id).jvm().start(ChaosCluster.startTimeout());
        }
        String problem = first + "; again: " + second + "; restarted " + ChaosCluster.A + " and " + ChaosCluster.B;
        progress.printf("  PROBE FAILED after trial %d: %s%n", afterTrial, problem);
        return new ChaosReport.Probe(afterTrial, problem);
    }

    /** One probe migration, n1 -> n2 if {@code forward}, else back; null if it completed, else what went wrong. */
    private String probeMigration(int afterTrial, String suffix, boolean forward, MigrationMode mode) throws Exception {
        String src = forward ? ChaosCluster.A : ChaosCluster.B;
        String dst = forward ? ChaosCluster.B : ChaosCluster.A;
        String workload = runId + "-probe-" + afterTrial + suffix;
        String problem = null;
        MigrationCommand launch = command(CommandKind.LAUNCH, workload, null, src, "launch", mode, WitnessLog.ARGV);
        cluster.send(launch);
        MigrationEvent launched = await(e -> e.getCommandId().equals(launch.getCommandId()), Duration.ofSeconds(30));
        if (launched == null || launched.getPhase() != Phase.LAUNCHED) {
            problem = "a probe LAUNCH on " + src + " " + (launched == null ? "got no answer within 30 s"
                    : "failed: " + launched.getError());
        } else {
            awaitWitness(WorkloadProbe.stdout(cluster.node(src).workdir(), workload), 5, Duration.ofSeconds(20));
            MigrationCommand migrate = command(CommandKind.MIGRATE, workload, src, dst, "migrate", mode, null);
            cluster.send(migrate);
            MigrationEvent outcome = await(e -> e.getMigrationId().equals(migrate.getCommandId())
                    && OUTCOMES.contains(e.getPhase()), options.trialTimeout());
            if (outcome == null || outcome.getPhase() != Phase.COMPLETED) {
                problem = "a fault-free " + mode + " migration " + src + " -> " + dst + " did not complete ("
                        + (outcome == null ? "no outcome within " + options.trialTimeout().toSeconds() + " s"
                        : outcome.getPhase() + ": " + outcome.getError()) + ")";
            }
        }
        List<String> runningOn = cluster.nodes().stream().filter(n -> WorkloadProbe.pidFileLive(n.workdir(), workload))
                .map(ChaosCluster.Node::id).toList();
        cleanUp(workload, runningOn);
        if (problem == null) {
            progress.printf("  probe after trial %d: %s %s -> %s completed%n", afterTrial, mode, src, dst);
        }
        return problem;
    }

    /**
     * After its duplicate stopped, does node {@code n}'s own executor still answer commands on every partition of
     * pmig.commands? A KILL of a workload it does not have gets a FAILED from it. If not, the problem, and the
     * executor is restarted so that later trials test something.
     */
    private String deafness(ChaosCluster.Node n) throws Exception {
        // the consumer group rebalances once the duplicate has left; the original must answer after that
        Thread.sleep(REBALANCE.toMillis());
        List<String> deafOn = new ArrayList<>();
        for (String probe : ChaosCluster.onePerPartition(runId + "-probe-" + n.id())) {
            MigrationCommand kill = command(CommandKind.KILL, probe, n.id(), null, "probe-" + UUID.randomUUID().toString()
                    .substring(0, 6), options.modes().get(0), null);
            cluster.send(kill);
            if (await(e -> e.getCommandId().equals(kill.getCommandId()), Duration.ofSeconds(5)) == null) {
                deafOn.add(probe);
            }
        }
        if (deafOn.isEmpty()) {
            return null;
        }
        n.jvm().kill9();
        n.jvm().start(ChaosCluster.startTimeout());
        return "executor " + n.id() + " no longer answered commands (keys " + deafOn + ") after its duplicate stopped;"
                + " restarted it";
    }

    /**
     * Restarts what the fault killed. One that exits before it is ready (its recovery crashed) is a finding of the
     * trial, not the end of the run: noted, and started once more.
     */
    private void restart(Injection fault) throws Exception {
        try {
            fault.killed.start(ChaosCluster.startTimeout());
        } catch (IllegalStateException crashed) {
            fault.restartProblem = "after kill -9, " + crashed.getMessage();
            progress.printf("  %s; starting it again%n", fault.restartProblem);
            fault.killed.start(ChaosCluster.startTimeout());
        }
    }

    private void fire(Injection fault, MigrationCommand migrate, boolean midMigration) throws Exception {
        fault.fired = true;
        fault.landed = midMigration;
        String mid = migrate.getCommandId();
        switch (fault.kind) {
            case KILL_SOURCE, KILL_DESTINATION -> {
                String node = fault.kind == FaultKind.KILL_SOURCE ? migrate.getSourceNode() : migrate.getDestinationNode();
                ChildJvm jvm = cluster.node(node).jvm();
                jvm.kill9();
                fault.killed = jvm;
                fault.restartAtNanos = System.nanoTime() + (300 + random.nextInt(1700)) * 1_000_000L;
                progress.printf("  [%s] kill -9 executor %s%n", mid, node);
            }
            case RESTART_BROKER -> {
                cluster.broker().kill9();
                fault.killed = cluster.broker();
                fault.restartAtNanos = System.nanoTime() + (200 + random.nextInt(1300)) * 1_000_000L;
                progress.printf("  [%s] kill -9 broker%n", mid);
            }
            case STALL_BROKER_AT_COMMIT -> {
                cluster.broker().signal("STOP");
                fault.stalled = cluster.broker();
                fault.restartAtNanos = System.nanoTime() + Duration.ofSeconds(40).toNanos();
                progress.printf("  [%s] broker stopped (SIGSTOP) for 40 s%n", mid);
            }
            case DUPLICATE_COMMAND -> {
                cluster.send(migrate);
                progress.printf("  [%s] MIGRATE delivered again%n", mid);
            }
            case REPLAY_COMMANDS -> {
                int n = cluster.replayCommands();
                progress.printf("  [%s] replayed %d commands%n", mid, n);
            }
            case DESTINATION_DISK_FULL -> {
                cluster.fillDisk(cluster.node(migrate.getDestinationNode()).workdir(), ChaosCluster.DISK_FULL_FREE);
                progress.printf("  [%s] disk of %s filled%n", mid, migrate.getDestinationNode());
            }
            case DUPLICATE_EXECUTOR -> {
                fault.duplicate = cluster.duplicate(fault.duplicateOf);
                progress.printf("  [%s] second executor for node %s starting (%s)%n", mid, fault.duplicateOf,
                        fault.duplicate.name());
            }
            default -> { }
        }
    }

    private TrialResult verify(int index, FaultKind kind, MigrationMode mode, Injection fault, String mid,
                               String workload, String src, String dst, long start) throws Exception {
        List<MigrationEvent> about = cluster.events().stream().filter(e -> workload.equals(e.getWorkloadId())).toList();
        // as every reader does: a COMPLETED of a migration its destination gave up is a late one, wherever it stands
        boolean givenUp = about.stream().anyMatch(e -> e.getMigrationId().equals(mid) && WorkloadPlacement.givenUpByDestination(e));
        MigrationEvent outcome = about.stream().filter(e -> e.getMigrationId().equals(mid) && OUTCOMES.contains(e.getPhase())
                        && !(givenUp && e.getPhase() == Phase.COMPLETED))
                .reduce((a, b) -> b).orElse(null);
        int accepted = (int) about.stream().filter(e -> e.getMigrationId().equals(mid) && e.getPhase() == Phase.ACCEPTED
                && src.equals(e.getNode())).count();
        boolean actedOn = about.stream().anyMatch(e -> e.getMigrationId().equals(mid)
                && (e.getPhase() == Phase.ACCEPTED || e.getPhase() == Phase.PREPARED));
        // where the workload runs, by work dir: a duplicate executor's copy is named after it, not after the node
        Map<String, Path> workdirs = new LinkedHashMap<>();
        cluster.nodes().forEach(n -> workdirs.put(n.id(), n.workdir()));
        if (fault.duplicate != null) {
            workdirs.put(fault.duplicate.name(), fault.duplicate.workdir());
        }
        List<String> runningOn = workdirs.entrySet().stream()
                .filter(e -> WorkloadProbe.pidFileLive(e.getValue(), workload)).map(Map.Entry::getKey).toList();
        // a copy that runs must keep counting: give it time for a few more lines before judging its output
        WitnessLog witness = null;
        String problem = null;
        if (runningOn.size() == 1) {
            Path stdout = WorkloadProbe.stdout(workdirs.get(runningOn.get(0)), workload);
            long before = lines(stdout);
            if (!awaitWitness(stdout, before + 5, Duration.ofSeconds(10))) {
                problem = "the copy on " + runningOn.get(0) + " is not counting";
            }
            witness = WitnessLog.read(stdout);
        }
        List<WorkloadProbe.Copy> copies = WorkloadProbe.copies(workload);
        int running = (int) copies.stream().filter(c -> !c.stopped()).count();
        int stopped = copies.size() - running;
        if (problem != null) {
            running = 0; // executors say it runs, but it is frozen: as good as lost
        }
        Phase phase = outcome == null ? null : outcome.getPhase();
        String expected = phase == Phase.COMPLETED ? dst : phase == null ? null : src;
        boolean truthful = expected != null && running == 1 && runningOn.equals(List.of(expected))
                || running == 0 && phase == Phase.FAILED && outcome.getError() != null && outcome.getError().contains("lost")
                // an expired command nobody acted on: no event is due, the workload must simply stay
                || kind == FaultKind.EXPIRED_COMMAND && !actedOn && running == 1 && runningOn.equals(List.of(src))
                && (phase == null || phase == Phase.FAILED && outcome.getError() != null && outcome.getError().contains("expired"));
        long prepared = about.stream().filter(e -> e.getMigrationId().equals(mid) && e.getPhase() == Phase.PREPARED).count();
        if (kind == FaultKind.DUPLICATE_EXECUTOR && prepared > 1) { // both executors of the node took the MIGRATE
            problem = and(problem, "the destination prepared " + prepared + " times for one MIGRATE");
        }
        if (kind == FaultKind.EXPIRED_COMMAND && actedOn) {
            String p = "a MIGRATE issued " + EXPIRED_BY.toSeconds() + " s ago (its CLI had given up) was acted on";
            problem = and(problem, p);
        } else if (outcome == null && kind != FaultKind.EXPIRED_COMMAND) {
            problem = and(problem, "no outcome on pmig.events within " + options.trialTimeout().toSeconds() + " s");
        }
        TrialResult result = new TrialResult(index, kind, mode, mid, src, dst, fault.describe(), fault.landed, phase,
                outcome == null ? null : outcome.getError(), runningOn, running, stopped,
                witness != null && witness.continuous(), witness == null ? 0 : witness.lines(),
                witness == null ? 0 : witness.maxGapMs(), truthful, accepted,
                (System.nanoTime() - start) / 1_000_000, problem);
        cleanUp(workload, runningOn.stream().filter(workdirs::containsKey)
                .filter(id -> cluster.node(id) != null).toList());
        return result;
    }

    private Set<Path> newJournals(Set<Path> before) {
        Set<Path> now = new java.util.HashSet<>();
        cluster.nodes().forEach(n -> now.addAll(WorkloadProbe.journals(n.workdir())));
        now.removeAll(before);
        return now;
    }

    private static String and(String problems, String more) {
        return problems == null ? more : problems + "; " + more;
    }

    /** KILL through the executor that owns it (as an operator would), then whatever is left, by hand. */
    private void cleanUp(String workload, List<String> runningOn) throws Exception {
        for (String node : runningOn) {
            MigrationCommand kill = command(CommandKind.KILL, workload, node, null, "kill-" + node, options.modes().get(0), null);
            cluster.send(kill);
            await(e -> e.getCommandId().equals(kill.getCommandId()), Duration.ofSeconds(30));
        }
        List<WorkloadProbe.Copy> left = WorkloadProbe.copies(workload);
        if (!left.isEmpty()) {
            WorkloadProbe.killAll(left);
        }
        // a killed namespace takes a moment to die; the stray check after the trial must not see it
        long deadline = System.nanoTime() + Duration.ofSeconds(10).toNanos();
        while (!WorkloadProbe.copies(workload).isEmpty() && System.nanoTime() < deadline) {
            Thread.sleep(50);
        }
    }

    /** Copies of earlier trials still alive (a replayed LAUNCH run again, a copy nobody stopped); killed. */
    private int killStrays() {
        List<WorkloadProbe.Copy> strays = WorkloadProbe.copies(runId);
        if (!strays.isEmpty()) {
            progress.println("  STRAY copies of earlier trials found and killed: " + strays);
            WorkloadProbe.killAll(strays);
        }
        return strays.size();
    }

    private MigrationCommand command(CommandKind kind, String workload, String src, String dst, String what,
                                     MigrationMode mode, List<String> witness) {
        MigrationCommand.Builder b = MigrationCommand.newBuilder()
                .setCommandId(workload + "-" + what).setKind(kind).setWorkloadId(workload)
                .setSourceNode(src).setDestinationNode(dst).setMode(mode)
                .setIssuedBy("pmig chaos");
        CommandDeadline.stamp(b, System.currentTimeMillis(), CommandDeadline.OPERATOR_TTL);
        if (kind == CommandKind.LAUNCH) {
            List<String> argv = new ArrayList<>(witness);
            argv.add(workload); // the witness's $0: its processes carry the trial's name in /proc
            b.setArgv(argv);
        }
        return b.build();
    }

    /**
     * The witness plus a child in a network namespace of its own ({@code unshare -n}): criu dumps that, but its
     * restore fails on every node ({@code Can't restore sub-task in NS}). The child carries the witness's $0 in its
     * command line, so /proc finds it too.
     */
    static final List<String> NESTED_NETNS_WITNESS = List.of("sh", "-c",
            "unshare -n sh -c 'while :; do sleep 1; done' \"$0-netns\" & " + WitnessLog.ARGV.get(2));

    private MigrationEvent await(java.util.function.Predicate<MigrationEvent> match, Duration timeout)
            throws InterruptedException {
        long deadline = System.nanoTime() + timeout.toNanos();
        while (System.nanoTime() < deadline) {
            List<MigrationEvent> events = cluster.events();
            for (MigrationEvent e : events) {
                if (match.test(e)) {
                    return e;
                }
            }
            cluster.awaitEvents(events.size(), Duration.ofMillis(200));
        }
        return null;
    }

    private static boolean awaitWitness(Path stdout, long lines, Duration timeout) throws InterruptedException {
        long deadline = System.nanoTime() + timeout.toNanos();
        while (System.nanoTime() < deadline) {
            if (lines(stdout) >= lines) {
                return true;
            }
            Thread.sleep(50);
        }
        return false;
    }

    private static long lines(Path stdout) {
        try {
            return Files.readString(stdout).lines().count();
        } catch (IOException e) {
            return 0;
        }
    }

    static String line(TrialResult r, int total) {
        String where = r.lost() ? "LOST" : r.duplicated() ? "DUPLICATED on " + r.runningOn() + " (" + r.copies() + " copies)"
                : "runs on " + String.join(",", r.runningOn());
        return String.format("trial %2d/%d %-24s %-11s %s->%s %-30s %-11s %s; witness %s (%d lines, max gap %d ms); events %s; %.1f s%s",
                r.index(), total, r.fault().key(), r.mode(), r.source(), r.destination(), r.injectedAt(),
                Objects.toString(r.outcome(), "NO-OUTCOME"), where,
                r.witnessContinuous() ? "continuous" : "BROKEN", r.witnessLines(), r.witnessMaxGapMs(),
                r.truthful() ? "truthful" : "UNTRUTHFUL", r.durationMs() / 1000.0,
                (r.stoppedCopies() > 0 ? "; " + r.stoppedCopies() + " STOPPED COPIES LEFT" : "")
                        + (r.acceptedCount() > 1 ? "; MIGRATE RAN " + r.acceptedCount() + " TIMES" : "")
                        + (r.problem() == null ? "" : "; PROBLEM: " + r.problem())
                        + "  [" + r.migrationId() + "]");
    }

    static String describeKinds() {
        return java.util.Arrays.stream(FaultKind.values()).map(k -> k.key() + ": " + k.description())
                .collect(Collectors.joining("\n"));
    }
}
