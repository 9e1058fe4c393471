package io.pmig.tools.bench.outcomes;

import io.pmig.analytics.AnalyticsConfig;
import io.pmig.analytics.scoring.CurrentScorer;
import io.pmig.analytics.scoring.TrendRuleScorer;
import io.pmig.analytics.training.ModelFile;
import io.pmig.analytics.training.OverloadDefinition;
import io.pmig.analytics.training.TraceFile;
import io.pmig.tools.bench.JsonLine;
import io.pmig.platform.config.ConfigException;
import io.pmig.platform.config.OptionTypes;
import io.pmig.schemas.ModelUpdate;
import io.pmig.schemas.NodeMetrics;
import io.pmig.schemas.serde.SchemaCatalog;
import java.io.IOException;
import java.io.InputStream;
import java.io.UncheckedIOException;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.concurrent.Callable;
import org.apache.avro.file.DataFileStream;
import org.apache.avro.specific.SpecificDatumReader;
import picocli.CommandLine.Command;
import picocli.CommandLine.Model.CommandSpec;
import picocli.CommandLine.Option;
import picocli.CommandLine.Spec;

/**
 * {@code pmig bench outcomes}: what the decisions achieve, not how well windows are classified. Replays a
 * multi-node load trace through the real analytics topology and planner ({@link OutcomeReplay}) against a
 * cluster in which a workload's demand moves with it and a move costs an outage ({@link ClusterModel}), once per
 * strategy, on the same trace: {@code none}, {@code threshold} (the app's rule without a model),
 * {@code tuned_rule} (a rule tuned on the trace's first part by the forest's criterion, {@link TunedRule}),
 * {@code model} (the shipped forest), {@code oracle} (knows the future, {@link OracleScorer}) and {@code default} (what
 * the app runs with its settings - {@code analytics.scorer} - while the shipped model is published). The first part
 * of the trace ({@code --tune-fraction}) only tunes the rule; every strategy is measured on the rest.
 * {@code --choose-policy} instead chooses a model's alarm policy on the trace by outcomes ({@link PolicyChoice}).
 */
@Command(name = "outcomes", mixinStandardHelpOptions = true,
        description = {"Overload node-seconds, migrations (needless, ineffective, ping-pong) and outage of each strategy "
                + "(none, threshold, tuned_rule, model, oracle, and default: what the app runs with its settings) on one multi-node trace, replayed through the real topology and planner."})
public final class OutcomesBench implements Callable<Integer> {

    /** The shipped trace: {@code --nodes 24 --duration 3600s --seed 1} of {@link ClusterTraceGenerator}. */
    public static final String SHIPPED_TRACE = "/io/pmig/analytics/training/trace-cluster.avro";
    static final int DEFAULT_NODES = 24;
    static final int DEFAULT_SECONDS = 3600;
    static final long DEFAULT_SEED = 1;

    static final double GOAL_VS_NONE = 0.5;
    static final double GOAL_VS_TUNED = 0.8;
    static final double GOAL_NEEDLESS_SHARE = 0.10;

    @Option(names = "--trace", paramLabel = "FILE", description = "Trace file to replay (NodeMetrics, as record-trace writes;"
            + " processes' CPU is read as demand). Default: the shipped 24-node trace.")
    Path traceFile;

    @Spec
    CommandSpec spec;

    @Option(names = "--nodes", paramLabel = "N", description = "Generate a trace of N nodes instead (seeded, see --seed, --duration).")
    Integer nodes;

    @Option(names = "--seed", paramLabel = "S", description = "Seed of a generated trace (default " + DEFAULT_SEED + ").")
    Long seed;

    @Option(names = {"--duration", "--duration-s"}, paramLabel = "DURATION", converter = OptionTypes.Seconds.class,
            description = "Length of a generated trace, e.g. 3600s or 1h; a bare number is seconds (default " + DEFAULT_SECONDS + "s).")
    Duration duration;

    /** --duration in whole seconds, null when not given. */
    private Integer durationS;

    @Option(names = "--write-trace", paramLabel = "FILE", description = "Also write the trace used to FILE (how the shipped one is made).")
    Path writeTrace;

    @Option(names = "--write-tuning-trace", paramLabel = "FILE",
            description = "Also write the tuning part (the seconds no strategy is measured on) to FILE, e.g. to train a model on it with pmig train --trace.")
    Path writeTuningTrace;

    @Option(names = "--model", paramLabel = "MODEL_FILE",
            description = "Model file (pmig train --out) for the 'model' strategy instead of the shipped model.")
    Path modelFile;

    @Option(names = "--no-replay", description = "Only write the trace (--write-trace, --write-tuning-trace): replay no strategy,"
            + " e.g. to generate training traces of other seeds for pmig train --trace.")
    boolean noReplay;

    @Option(names = "--choose-policy", paramLabel = "MODEL_FILE",
            description = "Instead of comparing strategies, choose the model's alarm policy (score threshold 0.4-0.8, 1-3 windows in a"
                    + " row) on this trace by outcomes - fewest overload node-s with no more migrations than the tuned rule - and"
                    + " write the model with it to MODEL_FILE. Use a trace the model is not measured on (another --seed).")
    Path choosePolicy;

    @Option(names = "--tune-fraction", defaultValue = "0.33", paramLabel = "F",
            description = "Leading share of the trace that tunes the rule and is not replayed (default: ${DEFAULT-VALUE}).")
    double tuneFraction;

    @Option(names = {"--horizon", "--horizon-s"}, defaultValue = "15s", paramLabel = "DURATION", converter = OptionTypes.Seconds.class,
            description = "Horizon of the oracle, of 'needless' and 'ineffective', and of the tuned rule's labels, e.g. 15s;"
                    + " a bare number is seconds (default: ${DEFAULT-VALUE}, as training).")
    Duration horizon;

    /** --horizon in whole seconds. */
    private int horizonS;

    @Option(names = "--config", paramLabel = "KEY=VALUE", description = "Analytics setting for every strategy; repeatable (default: the app's defaults).")
    Map<String, String> settings = new LinkedHashMap<>();

    @Option(names = "--json", description = "End with one JSON line: {\"strategies\":{\"none\":{...},...}, ...}.")
    boolean json;

    @Override
    public Integer call() {
        durationS = duration == null ? null : (int) Math.min(Integer.MAX_VALUE, duration.toSeconds());
        horizonS = (int) Math.min(Integer.MAX_VALUE, horizon.toSeconds());
        if (horizonS < 1 || horizon.toMillis() % 1000 != 0) {
            throw new ConfigException(OptionTypes.givenName(spec, "--horizon"), "must be whole seconds, at least 1s");
        }
        if (!(tuneFraction > 0 && tuneFraction < 1)) {
            throw new ConfigException("--tune-fraction", tuneFraction + " is outside (0, 1)");
        }
        ClusterTrace trace = trace();
        if (writeTrace != null) {
            TraceFile.write(writeTrace, trace.toSamples());
            System.out.println("wrote the trace to " + writeTrace);
        }
        Map<String, String> withId = new LinkedHashMap<>(Map.of(AnalyticsConfig.APPLICATION_ID, "pmig-bench-outcomes"));
        withId.putAll(settings);
        AnalyticsConfig config = AnalyticsConfig.of(withId);
        OverloadDefinition overload = OverloadDefinition.defaults().withHorizon(horizonS);
        int cut = (int) (trace.seconds() * tuneFraction);
        ClusterTrace tuning = trace.slice(0, cut);
        ClusterTrace replay = trace.slice(cut, trace.seconds());
        if (writeTuningTrace != null) {
            TraceFile.write(writeTuningTrace, tuning.toSamples());
            System.out.println("wrote the tuning part to " + writeTuningTrace);
        }
        if (noReplay) {
            if (writeTrace == null && writeTuningTrace == null) {
                throw new ConfigException("--no-replay", "writes only the trace: give --write-trace FILE or --write-tuning-trace FILE");
            }
            return 0;
        }
        ModelUpdate model = modelFile == null ? OutcomeReplay.shippedModel() : ModelFile.read(modelFile);
        System.out.printf(Locale.ROOT, "trace: %s, %d nodes, %d workloads (%d migratable), %d s; rule tuned on the first %d s,"
                        + " strategies measured on the last %d s%n", source(), trace.nodes().size(), trace.workloads().size(),
                trace.workloads().stream().filter(ClusterTrace.Workload::migratable).count(), trace.seconds(), cut, replay.seconds());
        System.out.printf(Locale.ROOT, "outage per move: %.0f ms + %.1f ms per MiB of RSS (%s, %s); overload: CPU demand >= 90 %%"
                        + " or memory >= 90 %% of capacity for >= 3 s; horizon %d s%n",
                config.estimatedDowntimeMs(0), config.estimatedDowntimeMs(1L << 30) / 1024 - config.estimatedDowntimeMs(0) / 1024,
                AnalyticsConfig.DOWNTIME_FIXED_MS, AnalyticsConfig.DOWNTIME_MS_PER_MIB, horizonS);
        TunedRule.Tuning tuned = TunedRule.tune(tuning.toSamples(), config, overload);
        System.out.println("tuned rule: " + tuned.describe());

        Map<String, Outcome> outcomes = new LinkedHashMap<>();
        if (choosePolicy != null) {
            return choosePolicy(replay, config, tuned, model);
        }
        timed("none", outcomes, () -> OutcomeReplay.none(replay, config, horizonS));

        timed("threshold", outcomes, () -> OutcomeReplay.run(replay, config, horizonS, OutcomeReplay.threshold(config), null));
        timed("tuned_rule", outcomes, () -> OutcomeReplay.run(replay, config, horizonS, cluster -> tuned.rule(), null));
        System.out.println("model: " + model.getVersion() + (modelFile == null ? " (shipped)" : " from " + modelFile)
                + (model.getAlarmPolicy() == null ? "" : ", carrying its alarm policy: threshold " + model.getAlarmPolicy().getScoreThreshold()
                + ", " + model.getAlarmPolicy().getConsecutiveWindows() + " in a row (" + model.getAlarmPolicy().getChosenBy() + ")"));
        timed("model", outcomes, () -> OutcomeReplay.run(replay, config, horizonS, OutcomeReplay.threshold(config), model));
        timed("oracle", outcomes, () -> OutcomeReplay.run(replay, config, horizonS, OracleScorer::new, null));
        String defaultScorer = config.scorer().equals(AnalyticsConfig.SCORER_THRESHOLD) ? "threshold rule"
                : config.scorer().equals(AnalyticsConfig.SCORER_MODEL) ? "model" : "trend rule " + TrendRuleScorer.from(config);
        System.out.println("default: " + AnalyticsConfig.SCORER + "=" + config.scorer() + " (" + defaultScorer
                + "), model " + model.getVersion() + " published");
        timed("default", outcomes, () -> OutcomeReplay.runWith(replay, config, horizonS, cluster -> CurrentScorer.of(config), model));

        System.out.println();
        System.out.printf(Locale.ROOT, "%-11s %15s %9s %10s %8s %11s %9s %9s%n", "strategy", "overload node-s", "episodes",
                "migrations", "needless", "ineffective", "ping-pong", "outage s");
        outcomes.forEach((name, o) -> System.out.printf(Locale.ROOT, "%-11s %15d %9d %10d %8d %11d %9d %9.1f%n", name,
                o.overloadNodeS(), o.overloadEpisodes(), o.migrations(), o.needlessMigrations(), o.ineffectiveMigrations(),
                o.pingPong(), o.outageS()));
        Map<String, Object> goals = goals(outcomes);
        System.out.println();
        printGoals(goals);

        if (json) {
            Map<String, Object> strategies = new LinkedHashMap<>();
            outcomes.forEach((name, o) -> strategies.put(name, o.toJson()));
            Map<String, Object> result = new LinkedHashMap<>();
            result.put("strategies", strategies);
            result.put("goals", goals);
            result.put("tuned_rule", tuned.rule().toString());
            result.put("model", model.getVersion().toString());
            result.put("default_scorer", config.scorer());
            result.put("default_rule", defaultScorer);
            result.put("trace", Map.of("source", source(), "nodes", trace.nodes().size(), "seconds", trace.seconds(),
                    "replayed_seconds", replay.seconds()));
            System.out.println(JsonLine.of(result));
        }
        return 0;
    }

    /** --choose-policy: the tuned rule's migrations on this trace are the budget; the model under each policy of the grid. */
    private int choosePolicy(ClusterTrace replay, AnalyticsConfig config, TunedRule.Tuning tuned, ModelUpdate model) {
        Map<String, Outcome> budgetRun = new LinkedHashMap<>();
        timed("tuned_rule", budgetRun, () -> OutcomeReplay.run(replay, config, horizonS, cluster -> tuned.rule(), null));
        Outcome rule = budgetRun.get("tuned_rule");
        System.out.printf(Locale.ROOT, "model %s under each alarm policy (budget: %d migrations, the tuned rule's; it had %d overload node-s)%n",
                model.getVersion(), rule.migrations(), rule.overloadNodeS());
        System.out.printf(Locale.ROOT, "%-9s %9s %15s %10s %8s %11s %9s %9s%n", "threshold", "in a row", "overload node-s",
                "migrations", "needless", "ineffective", "ping-pong", "outage s");
        PolicyChoice.Result result = PolicyChoice.choose(replay, config, horizonS, model, rule.migrations(),
                t -> System.out.printf(Locale.ROOT, "%-9.2f %9d %15d %10d %8d %11d %9d %9.1f%n", t.threshold(), t.consecutiveWindows(),
                        t.outcome().overloadNodeS(), t.outcome().migrations(), t.outcome().needlessMigrations(),
                        t.outcome().ineffectiveMigrations(), t.outcome().pingPong(), t.outcome().outageS()));
        System.out.println("kept: " + result.why());
        ModelUpdate chosen = result.applyTo(model, source());
        ModelFile.write(choosePolicy, chosen);
        System.out.println("wrote model " + chosen.getVersion() + " with that alarm policy to " + choosePolicy);
        if (json) {
            List<Object> tried = new ArrayList<>();
            for (PolicyChoice.Tried t : result.tried()) {
                Map<String, Object> row = new LinkedHashMap<>();
                row.put("score_threshold", t.threshold());
                row.put("consecutive_windows", t.consecutiveWindows());
                row.putAll(t.outcome().toJson());
                tried.add(row);
            }
            Map<String, Object> out = new LinkedHashMap<>();
            out.put("policies", tried);
            out.put("budget_migrations", result.budget());
            out.put("tuned_rule", rule.toJson());
            out.put("chosen", Map.of("score_threshold", result.chosen().threshold(),
                    "consecutive_windows", result.chosen().consecutiveWindows()));
            out.put("why", result.why());
            out.put("model", chosen.getVersion().toString());
            out.put("trace", source());
            System.out.println(JsonLine.of(out));
        }
        return 0;
    }

    private static void timed(String name, Map<String, Outcome> outcomes, java.util.function.Supplier<Outcome> run) {
        long start = System.nanoTime();
        Outcome outcome = run.get();
        outcomes.put(name, outcome);
        System.out.printf(Locale.ROOT, "  %-11s replayed in %.1f s: %d overload node-s, %d migrations%n", name,
                (System.nanoTime() - start) / 1e9, outcome.overloadNodeS(), outcome.migrations());
    }

    static Map<String, Object> goals(Map<String, Outcome> outcomes) {
        Outcome none = outcomes.get("none");
        Outcome tuned = outcomes.get("tuned_rule");
        Outcome model = outcomes.get("model");
        Map<String, Object> goals = new LinkedHashMap<>();
        double vsNone = ratio(model.overloadNodeS(), none.overloadNodeS());
        double vsTuned = ratio(model.overloadNodeS(), tuned.overloadNodeS());
        double needless = model.migrations() == 0 ? 0 : model.needlessMigrations() / (double) model.migrations();
        goals.put("model_vs_none", round(vsNone));
        goals.put("model_vs_none_met", vsNone <= GOAL_VS_NONE);
        goals.put("model_vs_tuned_rule", round(vsTuned));
        goals.put("model_migrations_vs_tuned_rule", model.migrations() + "/" + tuned.migrations());
        goals.put("model_vs_tuned_rule_met", vsTuned <= GOAL_VS_TUNED && model.migrations() <= tuned.migrations());
        goals.put("model_needless_share", round(needless));
        goals.put("model_needless_met", needless <= GOAL_NEEDLESS_SHARE);
        goals.put("model_ping_pong_met", model.pingPong() == 0);
        return goals;
    }

    private static void printGoals(Map<String, Object> goals) {
        System.out.printf(Locale.ROOT, "goal: model overload node-s <= %.1fx none's: %s x -> %s%n", GOAL_VS_NONE,
                goals.get("model_vs_none"), met(goals.get("model_vs_none_met")));
        System.out.printf(Locale.ROOT, "goal: model overload node-s <= %.1fx the tuned rule's at no more migrations: %s x, migrations %s -> %s%n",
                GOAL_VS_TUNED, goals.get("model_vs_tuned_rule"), goals.get("model_migrations_vs_tuned_rule"),
                met(goals.get("model_vs_tuned_rule_met")));
        System.out.printf(Locale.ROOT, "goal: needless <= %.0f %% of the model's migrations: %s -> %s%n", GOAL_NEEDLESS_SHARE * 100,
                goals.get("model_needless_share"), met(goals.get("model_needless_met")));
        System.out.printf(Locale.ROOT, "goal: no ping-pong with the model -> %s%n", met(goals.get("model_ping_pong_met")));
    }

    private static String met(Object met) {
        return Boolean.TRUE.equals(met) ? "met" : "MISSED";
    }

    private static double ratio(double value, double baseline) {
        return baseline > 0 ? value / baseline : value == 0 ? 0 : Double.POSITIVE_INFINITY;
    }

    private static double round(double value) {
        return Double.isFinite(value) ? Math.round(value * 1000) / 1000.0 : value;
    }

    private String source() {
        if (traceFile != null) {
            return traceFile.toString();
        }
        if (generated()) {
            return String.format(Locale.ROOT, "generated (--nodes %d --duration %ds --seed %d)", nodesOrDefault(),
                    durationS == null ? DEFAULT_SECONDS : durationS, seed == null ? DEFAULT_SEED : seed);
        }
        return "shipped " + SHIPPED_TRACE;
    }

    private boolean generated() {
        return traceFile == null && (nodes != null || seed != null || durationS != null);
    }

    private int nodesOrDefault() {
        return nodes == null ? DEFAULT_NODES : nodes;
    }

    private ClusterTrace trace() {
        if (traceFile != null) {
            if (nodes != null || seed != null || durationS != null) {
                throw new ConfigException("--trace", "replays a file; --nodes, --seed and --duration generate one instead");
            }
            return ClusterTrace.of(TraceFile.read(traceFile));
        }
        if (generated()) {
            int seconds = durationS == null ? DEFAULT_SECONDS : durationS;
            if (seconds < 120) {
                throw new ConfigException(OptionTypes.givenName(spec, "--duration"), "must be at least 120s");
            }
            if (nodesOrDefault() < 2) {
                throw new ConfigException("--nodes", "must be at least 2");
            }
            return ClusterTraceGenerator.generate(nodesOrDefault(), seconds, seed == null ? DEFAULT_SEED : seed);
        }
        return ClusterTrace.of(readResource(SHIPPED_TRACE));
    }

    static List<NodeMetrics> readResource(String resource) {
        SchemaCatalog.store(); // makes Avro trust pmig's generated classes
        try (InputStream in = OutcomesBench.class.getResourceAsStream(resource)) {
            if (in == null) {
                throw new IllegalStateException(resource + " is missing from the jar");
            }
            List<NodeMetrics> samples = new ArrayList<>();
            try (DataFileStream<NodeMetrics> reader = new DataFileStream<>(in, new SpecificDatumReader<>(NodeMetrics.class))) {
                reader.forEach(samples::add);
            }
            return samples;
        } catch (IOException e) {
            throw new UncheckedIOException("cannot read " + resource + ": " + e.getMessage(), e);
        }
    }
}
