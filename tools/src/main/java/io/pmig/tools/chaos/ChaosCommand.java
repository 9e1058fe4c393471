package io.pmig.tools.chaos;

import io.pmig.cli.demo.CriuLocator;
import io.pmig.platform.config.ConfigException;
import io.pmig.platform.config.OptionTypes;
import io.pmig.schemas.MigrationMode;
import java.time.Duration;
import java.util.List;
import java.util.concurrent.Callable;
import picocli.CommandLine.Command;
import picocli.CommandLine.Model.CommandSpec;
import picocli.CommandLine.Option;
import picocli.CommandLine.Spec;

/**
 * {@code pmig chaos}: counted fault injection. Starts its own broker and four executors as separate processes on
 * this machine (loopback only), migrates a witness workload N times with one real fault each, checks every trial
 * from the outside and reports the figures. Needs root and criu, like the executor; leaves nothing behind.
 *
 * <pre>
 * bin/pmig chaos --trials 50 --json | tail -1 | jq .
 * </pre>
 */
@Command(name = "chaos", mixinStandardHelpOptions = true,
        description = {"Run N migrations, each with one injected fault, and count what survived.",
                "Faults, in rotation: kill -9 source / destination executor, transfer cut mid-stream, corrupt image,",
                "failing restore, broker kill -9 + restart, MIGRATE delivered twice, whole pmig.commands replayed,",
                "wrong transfer secret on one side, destination whose criu refuses the restore, destination disk full,",
                "duplicate executor for a node, MIGRATE produced after its CLI gave up, restore failing on every node.",
                "Every --probe-every trials and after the last, a fault-free migration between the healthy nodes must complete.",
                "Exit code 0 only if no workload was lost or duplicated, the events always told the truth, no witness",
                "missed or repeated a number, no stopped copy or second execution was left, and every probe completed;",
                "3 if the harness itself broke (cluster did not start, broker gone, LAUNCH failed): one line on stderr,",
                "the figures of the trials finished so far on stdout."})
public final class ChaosCommand implements Callable<Integer> {

    @Spec
    CommandSpec spec;

    @Option(names = "--trials", defaultValue = "50", description = "Migrations to run (default: ${DEFAULT-VALUE}).")
    int trials;

    @Option(names = "--seed", description = "Seed of the fault timing choices (default: random; printed).")
    Long seed;

    @Option(names = "--json", description = "End with one JSON line of the figures.")
    boolean json;

    @Option(names = {"--modes", "--mode"}, split = ",", defaultValue = "PLAIN,PAGE_SERVER,LAZY", paramLabel = "MODE[,MODE...]",
            description = {"Migration modes, e.g. PLAIN,PAGE_SERVER,LAZY (default: ${DEFAULT-VALUE}); faults rotate fastest,",
                    "the mode shifts every round, so faults x modes trials run every pair once."})
    List<MigrationMode> modes;

    @Option(names = "--faults", split = ",", paramLabel = "FAULT[,FAULT...]",
            description = "Only these faults, by their keys (e.g. wrong_secret,expired_command; default: all).")
    List<String> faults;

    @Option(names = {"--trial-timeout", "--trial-timeout-s"}, paramLabel = "DURATION", defaultValue = "150s",
            converter = OptionTypes.Seconds.class,
            description = "Bound of one trial, e.g. 150s; a bare number is seconds (default: ${DEFAULT-VALUE}).")
    Duration trialTimeout;

    @Option(names = "--probe-every", defaultValue = "10", paramLabel = "N",
            description = "A fault-free probe migration after every N trials and after the last (default: ${DEFAULT-VALUE}).")
    int probeEvery;

    @Option(names = "--keep-files", description = "Keep the work dirs and every process's log (for a post-mortem).")
    boolean keepFiles;

    @Option(names = "--verbose", description = "If the harness itself breaks, print the stack trace after its one line.")
    boolean verbose;

    @Override
    public Integer call() throws Exception {
        if (trials < 1) {
            throw new ConfigException("--trials", "must be at least 1");
        }
        if (trialTimeout.toSeconds() < 30) {
            throw new ConfigException(OptionTypes.givenName(spec, "--trial-timeout"), "must be at least 30s (a broker restart alone takes seconds)");
        }
        if (probeEvery < 1) {
            throw new ConfigException("--probe-every", "must be at least 1");
        }
        long s = seed != null ? seed : new java.security.SecureRandom().nextLong();
        List<MigrationMode> distinct = List.copyOf(new java.util.LinkedHashSet<>(modes));
        List<FaultKind> kinds = faults == null ? List.of(FaultKind.values()) : faults.stream().distinct().map(k -> {
            try {
                return FaultKind.valueOf(k.strip().toUpperCase(java.util.Locale.ROOT));
            } catch (IllegalArgumentException e) {
                throw new ConfigException("--faults", "no fault '" + k + "'; one of " + java.util.Arrays.stream(
                        FaultKind.values()).map(FaultKind::key).toList());
            }
        }).toList();
        ChaosReport report = ChaosHarness.run(new ChaosHarness.Options(trials, s, distinct, kinds,
                trialTimeout, keepFiles, probeEvery),
                CriuLocator.locate(), System.out);
        if (report == null) {
            return 130; // interrupted: the JVM is shutting down and its hook cleaned up
        }
        System.out.println(report.table());
        if (json) {
            System.out.println(report.json());
        }
        System.out.flush();
        if (report.abort() != null) {
            ChaosReport.Abort abort = report.abort();
            java.io.PrintWriter err = spec.commandLine().getErr();
            err.println("pmig chaos: run aborted " + (abort.trial() == 0 ? "before its first trial"
                    : "in trial " + abort.trial() + " of " + report.planned() + " (the " + report.trials().size()
                    + " finished are counted above)") + ": " + abort.reason()
                    + "; check those logs, then run again (the same --seed repeats the faults)"
                    + (verbose ? "" : "; --verbose adds the stack trace"));
            if (verbose && abort.cause() != null) {
                abort.cause().printStackTrace(err);
            }
            err.flush();
        }
        return report.exitStatus();
    }
}
