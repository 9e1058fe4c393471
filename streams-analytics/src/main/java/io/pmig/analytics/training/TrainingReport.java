package io.pmig.analytics.training;

import com.fasterxml.jackson.core.JsonProcessingException;
import com.fasterxml.jackson.databind.ObjectMapper;
import io.pmig.analytics.training.Evaluation.Counts;
import java.time.Instant;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;

/** The human-readable report of a training run and its one-line JSON summary. */
public final class TrainingReport {

    private static final ObjectMapper JSON = new ObjectMapper();

    private TrainingReport() {
    }

    public static String text(OverloadModelTrainer.Result result, String source) {
        Dataset data = result.dataset();
        Dataset.Split split = result.split();
        StringBuilder out = new StringBuilder();
        line(out, "model %s (random forest, %d features, %,d bytes, trained in %.1f s)", result.update().getVersion(),
                result.update().getFeatures().size(), result.update().getModelBytes().remaining(), result.trainMillis() / 1000.0);
        line(out, "data: %s, %,d samples of %d nodes, %s .. %s (%.1f min)", source, data.samples(), data.episodes().size(),
                Instant.ofEpochMilli(data.firstSampleMs()), Instant.ofEpochMilli(data.lastSampleMs()),
                (data.lastSampleMs() - data.firstSampleMs()) / 60_000.0);
        line(out, "windows: %,d labelled (%d s hopping by %d ms), %,d positive; %d overload onsets",
                data.windows().size(), data.windowConfig().windowSizeMs() / 1000, data.windowConfig().windowAdvanceMs(),
                data.positives(), data.onsets());
        line(out, "label: %s%s", data.overload(), data.label() == Dataset.Label.PREVENTABLE
                ? ", and one move of one of its workloads would prevent or end it (--label preventable)" : "");
        if (data.censoring().migrations() > 0 || data.censoredWindows() > 0) {
            line(out, "censored: %,d windows around %d migrations (from H before each MIGRATE until the move ended)",
                    data.censoredWindows(), data.censoring().migrations());
        }
        line(out, "split at %s: train %,d windows (%,d positive), held out %,d windows (%,d positive)",
                Instant.ofEpochMilli(split.cutMs()), split.train().size(),
                split.train().stream().filter(LabelledWindow::positive).count(), split.heldOut().size(),
                split.heldOut().stream().filter(LabelledWindow::positive).count());
        line(out, "features: %s", result.features());
        OverloadModelTrainer.Selection selection = result.selection();
        if (selection.candidates().isEmpty()) {
            line(out, "settings: %s (%s)", selection.chosen(), selection.why());
        } else {
            line(out, "settings chosen on validation (the newest part of the training windows: fit %,d, validate %,d):",
                    selection.fitWindows(), selection.validationWindows());
            boolean manyPolicies = selection.candidates().size() > OverloadModelTrainer.CANDIDATES.size();
            for (OverloadModelTrainer.Candidate candidate : shown(selection)) {
                Evaluation v = candidate.validation();
                line(out, "  %s %-18s %sF1 %.3f  precision %.3f  recall %.3f  lead %.1f s  (%d of %d onsets warned)  "
                                + "alarm F1 %.3f (precision %.3f)  lead p50 %.1f s",
                        candidate.settings().equals(selection.chosen()) && candidate.policy().equals(selection.policy()) ? "*" : " ",
                        candidate.settings(), manyPolicies ? String.format(Locale.ROOT, "threshold %.1f, %d in a row: ",
                                candidate.policy().scoreThreshold(), candidate.policy().consecutiveWindows()) : "",
                        v.all().f1(), v.all().precision(), v.all().recall(), v.meanLeadS(), v.onsetsWarned(), v.onsets(),
                        v.alarms().f1(), v.alarms().precision(), v.lead().p50S());
            }
            if (manyPolicies) {
                line(out, "  (each setting's best of %d alarm policies; %d of %d candidates met the goal on validation)",
                        selection.candidates().size() / OverloadModelTrainer.CANDIDATES.size(),
                        selection.candidates().stream().filter(c -> OverloadModelTrainer.Criterion.PRECISION.early(c.validation())).count(),
                        selection.candidates().size());
            }
            line(out, "  * kept: %s", selection.why());
        }
        line(out, "alarm policy: %s", selection.policy());
        OverloadModelTrainer.RuleSelection rule = result.ruleSelection();
        line(out, "tuned rule: %s, %d window(s) in a row (%s of %d rules on validation%s)", rule.chosen(),
                rule.consecutiveWindows(), rule.why(), rule.rulesTried(),
                rule.validation() == null ? "" : String.format(Locale.ROOT, ": F1 %.3f, lead %.1f s, alarm F1 %.3f, lead p50 %.1f s",
                        rule.validation().all().f1(), rule.validation().meanLeadS(), rule.validation().alarms().f1(),
                        rule.validation().lead().p50S()));
        line(out, "");
        alarmTable(out, "held-out", new String[] {"model", "hot now", "tuned rule", "app's rule"},
                result.model(), result.hotNow(), result.tunedRule(), result.appRule());
        line(out, "app's rule: %s (analytics.trend.*, what analytics.scorer=trend-rule, the default, runs)",
                result.appRuleScorer());
        line(out, "");
        line(out, "held-out                     %-12s %-16s %s", "model", "threshold rule", "rule without load avg");
        Evaluation m = result.model();
        Evaluation b = result.baseline();
        Evaluation c = result.cpuMemBaseline();
        row(out, "precision", m.all().precision(), b.all().precision(), c.all().precision());
        row(out, "recall", m.all().recall(), b.all().recall(), c.all().recall());
        row(out, "F1", m.all().f1(), b.all().f1(), c.all().f1());
        row(out, "F1 before onset only", m.preOnset().f1(), b.preOnset().f1(), c.preOnset().f1());
        line(out, "%-28s %-12s %-16s %s", "onsets warned before onset", m.onsetsWarned() + " of " + m.onsets(),
                b.onsetsWarned() + " of " + b.onsets(), c.onsetsWarned() + " of " + c.onsets());
        line(out, "%-28s %-12s %-16s %s", "mean lead time (missed = 0)", seconds(m.meanLeadS()), seconds(b.meanLeadS()),
                seconds(c.meanLeadS()));
        line(out, "%-28s %-12s %-16s %s", "confusion (tp/fp/fn/tn)", confusion(m.all()), confusion(b.all()), confusion(c.all()));
        return out.toString();
    }

    /**
     * Alarm-level figures side by side: what each alarm costs (a migration) and how early it comes. First in the report
     * because they are what the gate compares.
     */
    static void alarmTable(StringBuilder out, String title, String[] names, Evaluation... evaluations) {
        StringBuilder head = new StringBuilder(String.format(Locale.ROOT, "%-28s", title));
        for (String name : names) {
            head.append(String.format(Locale.ROOT, " %-14s", name));
        }
        line(out, "%s", head.toString().stripTrailing());
        alarmRow(out, "alarm precision", evaluations, e -> String.format(Locale.ROOT, "%.3f", e.alarms().precision()));
        alarmRow(out, "alarm recall (onsets warned)", evaluations, e -> String.format(Locale.ROOT, "%.3f", e.alarms().recall()));
        alarmRow(out, "alarms (false)", evaluations, e -> e.alarms().raised() + " (" + e.alarms().falseAlarms() + ")");
        alarmRow(out, "false alarms per node-hour", evaluations,
                e -> String.format(Locale.ROOT, "%.1f", e.alarms().falsePerNodeHour()));
        alarmRow(out, "lead p10/p50/p90 (s)", evaluations, e -> String.format(Locale.ROOT, "%.0f/%.0f/%.0f",
                e.lead().p10S(), e.lead().p50S(), e.lead().p90S()));
        alarmRow(out, "F1 before onset only", evaluations, e -> String.format(Locale.ROOT, "%.3f", e.preOnset().f1()));
        alarmRow(out, "F1 (all windows)", evaluations, e -> String.format(Locale.ROOT, "%.3f", e.all().f1()));
    }

    private static void alarmRow(StringBuilder out, String name, Evaluation[] evaluations,
                                 java.util.function.Function<Evaluation, String> cell) {
        StringBuilder text = new StringBuilder(String.format(Locale.ROOT, "%-28s", name));
        for (Evaluation evaluation : evaluations) {
            text.append(String.format(Locale.ROOT, " %-14s", cell.apply(evaluation)));
        }
        line(out, "%s", text.toString().stripTrailing());
    }

    /** Alarm-level figures of one scorer under a prefix of the JSON summary. */
    static void alarmFields(Map<String, Object> json, String prefix, Evaluation evaluation) {
        json.put(prefix + "alarm_precision", round(evaluation.alarms().precision()));
        json.put(prefix + "alarm_recall", round(evaluation.alarms().recall()));
        json.put(prefix + "alarms", evaluation.alarms().raised());
        json.put(prefix + "false_alarms", evaluation.alarms().falseAlarms());
        json.put(prefix + "false_alarms_per_node_hour", round(evaluation.alarms().falsePerNodeHour()));
        json.put(prefix + "lead_p10_s", round(evaluation.lead().p10S()));
        json.put(prefix + "lead_p50_s", round(evaluation.lead().p50S()));
        json.put(prefix + "lead_p90_s", round(evaluation.lead().p90S()));
        json.put(prefix + "pre_onset_f1", round(evaluation.preOnset().f1()));
    }

    /** The summary: at least f1, baseline_f1, precision, recall, lead_time_s, model_version. */
    public static Map<String, Object> summary(OverloadModelTrainer.Result result, boolean published, String modelFile) {
        Map<String, Object> json = new LinkedHashMap<>();
        json.put("model_version", result.update().getVersion().toString());
        alarmFields(json, "", result.model());
        alarmFields(json, "hot_now_", result.hotNow());
        json.put("hot_now_f1", round(result.hotNow().all().f1()));
        alarmFields(json, "tuned_rule_", result.tunedRule());
        json.put("tuned_rule_f1", round(result.tunedRule().all().f1()));
        json.put("tuned_rule", result.ruleSelection().chosen().toString());
        alarmFields(json, "app_rule_", result.appRule());
        json.put("app_rule_f1", round(result.appRule().all().f1()));
        json.put("app_rule", result.appRuleScorer().toString());
        json.put("tuned_rule_consecutive_windows", result.ruleSelection().consecutiveWindows());
        var metrics = result.update().getMetrics();
        json.put("select_by", metrics.getOrDefault("selected_by_precision", 0.0) == 1.0 ? "precision"
                : metrics.getOrDefault("selected_by_alarms", 0.0) == 1.0 ? "alarms" : "windows");
        json.put("score_threshold", result.selection().policy().scoreThreshold());
        json.put("consecutive_windows", result.selection().policy().consecutiveWindows());
        json.put("censored_windows", result.dataset().censoredWindows());
        json.put("censoring_migrations", result.dataset().censoring().migrations());
        json.put("f1", round(result.model().all().f1()));
        json.put("precision", round(result.model().all().precision()));
        json.put("recall", round(result.model().all().recall()));
        json.put("lead_time_s", round(result.model().meanLeadS()));
        json.put("baseline_f1", round(result.baseline().all().f1()));
        json.put("baseline_precision", round(result.baseline().all().precision()));
        json.put("baseline_recall", round(result.baseline().all().recall()));
        json.put("baseline_lead_time_s", round(result.baseline().meanLeadS()));
        json.put("baseline_cpu_mem_f1", round(result.cpuMemBaseline().all().f1()));
        json.put("baseline_cpu_mem_lead_time_s", round(result.cpuMemBaseline().meanLeadS()));
        json.put("pre_onset_f1", round(result.model().preOnset().f1()));
        json.put("baseline_pre_onset_f1", round(result.baseline().preOnset().f1()));
        json.put("heldout_onsets", result.model().onsets());
        json.put("onsets_warned", result.model().onsetsWarned());
        json.put("baseline_onsets_warned", result.baseline().onsetsWarned());
        json.put("heldout_windows", result.split().heldOut().size());
        json.put("train_windows", result.split().train().size());
        json.put("samples", result.dataset().samples());
        json.put("horizon_s", result.dataset().overload().horizonS());
        json.put("features", result.features().name());
        json.put("feature_count", result.features().features().size());
        json.put("quiet_downsampling", result.selection().chosen().quietDownsampling());
        json.put("node_size", result.selection().chosen().nodeSize());
        result.selection().candidates().stream()
                .filter(c -> c.settings().equals(result.selection().chosen()) && c.policy().equals(result.selection().policy())).findFirst()
                .ifPresent(c -> {
                    json.put("validation_f1", round(c.validation().all().f1()));
                    json.put("validation_lead_time_s", round(c.validation().meanLeadS()));
                });
        json.put("trained_from_ms", result.update().getTrainedFromMs());
        json.put("trained_to_ms", result.update().getTrainedToMs());
        json.put("published", published);
        if (modelFile != null) {
            json.put("model_file", modelFile);
        }
        return json;
    }

    /**
     * The candidates the report lists: all of them, or with many alarm policies each setting's best by the selection's
     * own criterion.
     */
    private static List<OverloadModelTrainer.Candidate> shown(OverloadModelTrainer.Selection selection) {
        if (selection.candidates().size() <= OverloadModelTrainer.CANDIDATES.size()) {
            return selection.candidates();
        }
        Map<OverloadModelTrainer.Settings, List<OverloadModelTrainer.Candidate>> bySettings = new LinkedHashMap<>();
        selection.candidates().forEach(c -> bySettings.computeIfAbsent(c.settings(), s -> new java.util.ArrayList<>()).add(c));
        OverloadModelTrainer.Criterion criterion = OverloadModelTrainer.Criterion.PRECISION;
        return bySettings.values().stream()
                .map(group -> group.get(OverloadModelTrainer.choose(criterion,
                        group.stream().map(OverloadModelTrainer.Candidate::validation).toList())))
                .toList();
    }

    /** The gate's verdict and every contender's alarm figures on the evaluation trace. */
    public static String gateText(QualityGate.Verdict gate) {
        StringBuilder out = new StringBuilder();
        line(out, "");
        List<QualityGate.Contender> all = new java.util.ArrayList<>();
        all.add(gate.candidate());
        all.addAll(gate.others());
        alarmTable(out, "quality gate (evaluation)", all.stream().map(c -> shortName(c.name())).toArray(String[]::new),
                all.stream().map(QualityGate.Contender::evaluation).toArray(Evaluation[]::new));
        line(out, "gate: %s: %s", gate.passed() ? "passed" : "refused", gate.reason());
        return out.toString();
    }

    private static String shortName(String name) {
        if (name.startsWith("the tuned rule")) {
            return "tuned rule";
        }
        if (name.contains("in use")) {
            return "in use";
        }
        return "candidate";
    }

    public static void gateFields(Map<String, Object> json, QualityGate.Verdict gate, boolean forced) {
        json.put("gate", gate.passed() ? "passed" : forced ? "forced" : "refused");
        json.put("gate_reason", gate.reason());
        json.put("gate_alarm_f1", round(gate.candidate().evaluation().alarms().f1()));
        for (QualityGate.Contender other : gate.others()) {
            String prefix = "gate_" + shortName(other.name()).replace(' ', '_') + "_";
            json.put(prefix + "name", other.name());
            json.put(prefix + "alarm_f1", round(other.evaluation().alarms().f1()));
        }
    }

    public static String jsonLine(Map<String, Object> summary) {
        try {
            return JSON.writeValueAsString(summary);
        } catch (JsonProcessingException e) {
            throw new IllegalStateException(e);
        }
    }

    static double round(double value) {
        return Math.round(value * 10_000) / 10_000.0;
    }

    private static String seconds(double value) {
        return String.format(Locale.ROOT, "%.1f s", value);
    }

    private static String confusion(Counts c) {
        return c.truePositives() + "/" + c.falsePositives() + "/" + c.falseNegatives() + "/" + c.trueNegatives();
    }

    private static void row(StringBuilder out, String name, double... figures) {
        StringBuilder text = new StringBuilder(String.format(Locale.ROOT, "%-28s", name));
        for (int i = 0; i < figures.length; i++) {
            text.append(String.format(Locale.ROOT, i == 0 ? " %-12.3f" : " %-16.3f", figures[i]));
        }
        line(out, "%s", text.toString().stripTrailing());
    }

    private static void line(StringBuilder out, String format, Object... args) {
        out.append(String.format(Locale.ROOT, format, args)).append('\n');
    }
}
