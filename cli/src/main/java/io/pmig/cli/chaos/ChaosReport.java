package io.pmig.cli.chaos;

import com.fasterxml.jackson.core.JsonProcessingException;
import com.fasterxml.jackson.databind.ObjectMapper;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.function.Predicate;

/** The figures of a chaos run, overall and by fault kind. */
public record ChaosReport(String runId, long seed, List<TrialResult> trials, int strays) {

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
        return strays == 0 && trials.stream().allMatch(TrialResult::ok);
    }

    public Map<String, Object> summary() {
        Map<String, Object> json = new LinkedHashMap<>();
        json.put("trials", trials.size());
        json.put("completed", completed());
        json.put("rolled_back", rolledBack());
        json.put("lost", lost());
        json.put("duplicated", duplicated());
        json.put("untruthful_events", untruthful());
        json.put("witness_broken", witnessBroken());
        json.put("other_problems", otherProblems());
        json.put("seed", seed);
        Map<String, Integer> faults = new LinkedHashMap<>();
        Map<String, Object> byFault = new LinkedHashMap<>();
        for (FaultKind kind : FaultKind.values()) {
            List<TrialResult> of = trials.stream().filter(t -> t.fault() == kind).toList();
            faults.put(kind.key(), of.size());
            Map<String, Integer> figures = new LinkedHashMap<>();
            figures.put("trials", of.size());
            figures.put("landed_mid_migration", (int) of.stream().filter(TrialResult::landedMidMigration).count());
            figures.put("completed", (int) of.stream().filter(TrialResult::completed).count());
            figures.put("rolled_back", (int) of.stream().filter(TrialResult::rolledBack).count());
            figures.put("lost", (int) of.stream().filter(TrialResult::lost).count());
            figures.put("duplicated", (int) of.stream().filter(TrialResult::duplicated).count());
            figures.put("untruthful_events", (int) of.stream().filter(t -> !t.truthful()).count());
            byFault.put(kind.key(), figures);
        }
        json.put("faults", faults);
        json.put("by_fault", byFault);
        return json;
    }

    public String json() {
        try {
            return new ObjectMapper().writeValueAsString(summary());
        } catch (JsonProcessingException e) {
            throw new IllegalStateException(e);
        }
    }

    public String table() {
        StringBuilder sb = new StringBuilder();
        sb.append(String.format("%-18s %6s %7s %9s %11s %4s %10s %10s%n", "fault", "trials", "landed", "completed",
                "rolled_back", "lost", "duplicated", "untruthful"));
        @SuppressWarnings("unchecked")
        Map<String, Map<String, Integer>> byFault = (Map<String, Map<String, Integer>>) summary().get("by_fault");
        byFault.forEach((kind, f) -> sb.append(String.format("%-18s %6d %7d %9d %11d %4d %10d %10d%n", kind,
                f.get("trials"), f.get("landed_mid_migration"), f.get("completed"), f.get("rolled_back"), f.get("lost"),
                f.get("duplicated"), f.get("untruthful_events"))));
        sb.append(String.format("%-18s %6d %7s %9d %11d %4d %10d %10d%n", "total", trials.size(), "",
                completed(), rolledBack(), lost(), duplicated(), untruthful()));
        sb.append("witness gaps/repeats: ").append(witnessBroken()).append(", other problems: ").append(otherProblems())
                .append(", stray copies of earlier trials: ").append(strays);
        return sb.toString();
    }
}
