package io.pmig.tools.chaos;

import com.fasterxml.jackson.core.JsonProcessingException;
import com.fasterxml.jackson.databind.ObjectMapper;
import io.pmig.schemas.MigrationMode;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.function.Predicate;

/**
 * The figures of a chaos run: overall, by mode, by fault kind, and per mode the rollback gap (the witness's longest
 * pause in a trial that rolled back: what a failed migration cost the workload it left in place). {@code planned} is
 * the trials asked for; {@code abort}, when not null, why the harness stopped before them all ({@code trials} then
 * holds those finished).
 */
public record ChaosReport(String runId, long seed, List<MigrationMode> modes, List<TrialResult> trials, int strays,
                          int planned, Abort abort, List<Probe> probes) {

    /** A finished run. */
    public ChaosReport(String runId, long seed, List<MigrationMode> modes, List<TrialResult> trials, int strays) {
        this(runId, seed, modes, trials, strays, trials.size(), null, List.of());
    }

    public ChaosReport(String runId, long seed, List<MigrationMode> modes, List<TrialResult> trials, int strays,
                       int planned, Abort abort) {
        this(runId, seed, modes, trials, strays, planned, abort, List.of());
    }

    /**
     * A fault-free migration between the two healthy nodes after trial {@code afterTrial}; {@code problem} null if it
     * completed. A trial refused or rolled back counts as kept by its source, so without these a fault that left the
     * nodes unable to migrate at all would make every later trial look green while it tested nothing.
     */
    public record Probe(int afterTrial, String problem) {
        public boolean passed() {
            return problem == null;
        }
    }

    public List<Probe> failedProbes() {
        return probes.stream().filter(p -> !p.passed()).toList();
    }

    /**
     * The harness itself broke in trial {@code trial} (0: before the first), not a migration: the one-line
     * {@code reason} says what failed; {@code cause} is for --verbose only.
     */
    public record Abort(int trial, String reason, Throwable cause) {

        /** The same, saying where the run's work dir and logs were kept. */
        Abort keptIn(java.nio.file.Path root) {
            return new Abort(trial, reason + "; work dir and logs kept in " + root, cause);
        }

        /** One line for a failure: its message (the cause's for a wrapper), never a stack trace. */
        static String describe(Throwable e) {
            Throwable t = e;
            while ((t instanceof java.util.concurrent.ExecutionException
                    || t instanceof java.lang.reflect.UndeclaredThrowableException) && t.getCause() != null) {
                t = t.getCause();
            }
            String message = t.getMessage() == null || t.getMessage().isBlank() ? t.toString() : t.getMessage();
            return message.strip().lines().findFirst().orElse(message).strip();
        }
    }

    public boolean complete() {
        return abort == null;
    }

    public int count(Predicate<TrialResult> p) {
        return (int) trials.stream().filter(p).count();
    }

    public int completed() {
        return count(TrialResult::completed);
    }

    public int rolledBack() {
        return count(TrialResult::rolledBack);
    }

    public int lost() {
        return count(TrialResult::lost);
    }

    public int duplicated() {
        return count(TrialResult::duplicated) + strays;
    }

    public int untruthful() {
        return count(t -> !t.truthful());
    }

    public int witnessBroken() {
        return count(t -> !t.lost() && !t.witnessContinuous());
    }

    /** Stopped copies left behind (never resumed, but holding memory), commands executed twice, other problems. */
    public int otherProblems() {
        return count(t -> t.stoppedCopies() > 0 || t.acceptedCount() > 1 || t.problem() != null);
    }

    public boolean allOk() {
        return strays == 0 && trials.stream().allMatch(TrialResult::ok) && failedProbes().isEmpty();
    }

    /**
     * {@code pmig chaos}'s exit status: 3 for a run the harness could not finish, 1 if any trial or probe went wrong
     * (a gap in the witness is lost work, a stopped copy holds a node's memory), else 0.
     */
    public int exitStatus() {
        return abort != null ? 3 : allOk() ? 0 : 1;
    }

    /** Max and median of the witness's longest pause over the trials of {@code mode} that rolled back. */
    public Map<String, Object> rollbackGap(MigrationMode mode) {
        long[] gaps = trials.stream().filter(t -> t.mode() == mode && t.rolledBack() && t.witnessLines() > 0)
                .mapToLong(TrialResult::witnessMaxGapMs).sorted().toArray();
        Map<String, Object> gap = new LinkedHashMap<>();
        gap.put("trials", gaps.length);
        gap.put("max_ms", gaps.length == 0 ? null : gaps[gaps.length - 1]);
        gap.put("median_ms", gaps.length == 0 ? null : gaps.length % 2 == 1 ? gaps[gaps.length / 2]
                : (gaps[gaps.length / 2 - 1] + gaps[gaps.length / 2]) / 2);
        return gap;
    }

    private static Map<String, Object> figures(List<TrialResult> of) {
        Map<String, Object> figures = new LinkedHashMap<>();
        figures.put("trials", of.size());
        figures.put("completed", (int) of.stream().filter(TrialResult::completed).count());
        figures.put("rolled_back", (int) of.stream().filter(TrialResult::rolledBack).count());
        figures.put("lost", (int) of.stream().filter(TrialResult::lost).count());
        figures.put("duplicated", (int) of.stream().filter(TrialResult::duplicated).count());
        figures.put("untruthful_events", (int) of.stream().filter(t -> !t.truthful()).count());
        figures.put("other_problems", (int) of.stream()
                .filter(t -> t.stoppedCopies() > 0 || t.acceptedCount() > 1 || t.problem() != null).count());
        return figures;
    }

    public Map<String, Object> summary() {
        Map<String, Object> json = new LinkedHashMap<>();
        json.put("trials", trials.size());
        json.put("completed", completed());
        json.put("rolled_back", rolledBack());
        json.put("lost", lost());
        json.put("duplicated", duplicated());
        Map<String, Object> byMode = new LinkedHashMap<>();
        for (MigrationMode mode : modes) {
            Map<String, Object> figures = figures(trials.stream().filter(t -> t.mode() == mode).toList());
            figures.put("rollback_gap", rollbackGap(mode));
            byMode.put(mode.name(), figures);
        }
        json.put("by_mode", byMode);
        Map<String, Object> byFault = new LinkedHashMap<>();
        Map<String, Integer> faults = new LinkedHashMap<>();
        for (FaultKind kind : FaultKind.values()) {
            List<TrialResult> of = trials.stream().filter(t -> t.fault() == kind).toList();
            faults.put(kind.key(), of.size());
            Map<String, Object> figures = figures(of);
            figures.put("landed_mid_migration", (int) of.stream().filter(TrialResult::landedMidMigration).count());
            figures.put("lost_in", modes.stream().filter(m -> of.stream().anyMatch(t -> t.mode() == m && t.lost()))
                    .map(MigrationMode::name).toList());
            byFault.put(kind.key(), figures);
        }
        json.put("by_fault", byFault);
        json.put("untruthful_events", untruthful());
        json.put("witness_broken", witnessBroken());
        json.put("other_problems", otherProblems());
        Map<String, Object> probing = new LinkedHashMap<>();
        probing.put("run", probes.size());
        probing.put("failed", failedProbes().size());
        probing.put("failed_after_trials", failedProbes().stream().map(Probe::afterTrial).toList());
        json.put("probes", probing);
        json.put("seed", seed);
        json.put("faults", faults);
        json.put("planned_trials", planned);
        json.put("complete", complete());
        if (abort != null) {
            json.put("aborted_in_trial", abort.trial());
            json.put("abort_reason", abort.reason());
        }
        return json;
    }

    public String json() {
        try {
            return new ObjectMapper().writeValueAsString(summary());
        } catch (JsonProcessingException e) {
            throw new IllegalStateException(e);
        }
    }

    /** Per fault and mode: completed/rolled back/lost/duplicated of its trials ("-": none ran). */
    private String cell(FaultKind kind, MigrationMode mode) {
        List<TrialResult> of = trials.stream().filter(t -> t.fault() == kind && t.mode() == mode).toList();
        if (of.isEmpty()) {
            return "-";
        }
        return of.stream().filter(TrialResult::completed).count() + "/" + of.stream().filter(TrialResult::rolledBack).count()
                + "/" + of.stream().filter(TrialResult::lost).count() + "/" + of.stream().filter(TrialResult::duplicated).count();
    }

    public String table() {
        StringBuilder sb = new StringBuilder();
        String row = "%-24s %6s %7s %9s %11s %4s %10s %10s%n";
        sb.append(String.format(row, "fault", "trials", "landed", "completed", "rolled_back", "lost", "duplicated",
                "untruthful"));
        for (FaultKind kind : FaultKind.values()) {
            List<TrialResult> of = trials.stream().filter(t -> t.fault() == kind).toList();
            sb.append(String.format(row, kind.key(), of.size(), of.stream().filter(TrialResult::landedMidMigration).count(),
                    of.stream().filter(TrialResult::completed).count(), of.stream().filter(TrialResult::rolledBack).count(),
                    of.stream().filter(TrialResult::lost).count(), of.stream().filter(TrialResult::duplicated).count(),
                    of.stream().filter(t -> !t.truthful()).count()));
        }
        sb.append(String.format(row, "total", trials.size(), "", completed(), rolledBack(), lost(), duplicated(),
                untruthful()));
        if (modes.size() > 1) {
            sb.append(String.format("%nby fault and mode (completed/rolled back/lost/duplicated):%n%-24s", "fault"));
            modes.forEach(m -> sb.append(String.format(" %12s", m)));
            sb.append(String.format("%n"));
            for (FaultKind kind : FaultKind.values()) {
                sb.append(String.format("%-24s", kind.key()));
                modes.forEach(m -> sb.append(String.format(" %12s", cell(kind, m))));
                sb.append(String.format("%n"));
            }
        }
        for (MigrationMode mode : modes) {
            Map<String, Object> gap = rollbackGap(mode);
            sb.append(String.format("rollback gap %-11s max %s ms, median %s ms over %s rolled-back trials%n", mode,
                    gap.get("max_ms"), gap.get("median_ms"), gap.get("trials")));
        }
        sb.append("witness gaps/repeats: ").append(witnessBroken()).append(", other problems: ").append(otherProblems())
                .append(", stray copies of earlier trials: ").append(strays);
        sb.append(String.format("%nfault-free probe migrations: %d, failed: %d", probes.size(), failedProbes().size()));
        for (Probe failed : failedProbes()) {
            sb.append(String.format("%n  after trial %d: %s", failed.afterTrial(), failed.problem()));
        }
        if (abort != null) {
            sb.append(String.format("%nINCOMPLETE: %d of %d trials finished; the harness stopped %s: %s", trials.size(),
                    planned, abort.trial() == 0 ? "before the first trial" : "in trial " + abort.trial(), abort.reason()));
        }
        return sb.toString();
    }
}
