package io.pmig.tools.bench.outcomes;

import io.pmig.analytics.AnalyticsConfig;
import io.pmig.analytics.scoring.CurrentScorer;
import io.pmig.analytics.scoring.OverloadScore;
import io.pmig.analytics.scoring.OverloadScorer;
import io.pmig.analytics.training.ModelFile;
import io.pmig.analytics.training.OverloadDefinition;
import io.pmig.analytics.features.FeatureVector;
import io.pmig.schemas.ModelUpdate;
import io.pmig.schemas.Trigger;
import java.nio.file.Path;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.function.Function;

/**
 * Sizing, not a test: how much of a strategy's overload on the shipped trace no decision could have prevented
 * (issue 16). Replays strategies as {@code bench outcomes} does and sorts each overload episode of what happened into
 * the first class that fits:
 * <ol>
 *   <li>{@code no_single_move}: no one migratable workload on the node at the onset, taken off, ends the episode;</li>
 *   <li>{@code no_destination}: one would, but no other node had room for it at the onset (CPU &lt;= 75 %, memory
 *       &lt;= 85 % after the move, on true demand: the planner's limits);</li>
 *   <li>{@code blocked}: when the move had to be issued (onset - 1 s - its outage - 1 s), the node was in its node
 *       cooldown, had a move off it in flight, the cluster had its cap of moves in flight, or the workload was in its
 *       cooldown (the cooldowns and cap of the configuration replayed, {@code set=} included);</li>
 *   <li>{@code sharp}: demand rose from below 80 % (and memory below 85 %) to the overload faster than that lead: its
 *       first (lead - run-up) seconds are counted here, the rest under {@code timing};</li>
 *   <li>{@code timing}: the rest - a scorer that warned in time, with the same planner, could have prevented it.</li>
 * </ol>
 * Run: {@code java -cp <tools test classpath> io.pmig.tools.bench.outcomes.OutcomeSizing [MODEL_FILE]}.
 */
public final class OutcomeSizing {

    private OutcomeSizing() {
    }

    /**
     * Arguments, all optional: {@code trace=FILE} (default the shipped trace), {@code only=a,b} (strategies to run of
     * none, threshold, tuned_rule, oracle, oracle_partial, oracle_30s, oracle_30s_partial; default all), {@code model=FILE} (adds
     * the model), {@code policy=T/K} (the model's score threshold and windows in a row),
     * {@code set=KEY:VALUE,...} (analytics settings for every strategy).
     */
    public static void main(String[] args) {
        Map<String, String> opts = new LinkedHashMap<>();
        for (String arg : args) {
            opts.put(arg.substring(0, arg.indexOf('=')), arg.substring(arg.indexOf('=') + 1));
        }
        ClusterTrace trace = opts.containsKey("trace") ? ClusterTrace.of(io.pmig.analytics.training.TraceFile.read(Path.of(opts.get("trace"))))
                : ClusterTrace.of(OutcomesBench.readResource(OutcomesBench.SHIPPED_TRACE));
        int cut = (int) (trace.seconds() * 0.33);
        ClusterTrace replay = trace.slice(cut, trace.seconds());
        Map<String, Object> settings = new LinkedHashMap<>(Map.of(AnalyticsConfig.APPLICATION_ID, "pmig-bench-outcomes"));
        if (opts.containsKey("policy")) {
            String[] policy = opts.get("policy").split("/");
            settings.put(AnalyticsConfig.MODEL_SCORE_THRESHOLD, policy[0]);
            settings.put(AnalyticsConfig.HYSTERESIS_WINDOWS, policy[1]);
        }
        if (opts.containsKey("set")) {
            for (String kv : opts.get("set").split(",")) {
                settings.put(kv.substring(0, kv.indexOf(':')), kv.substring(kv.indexOf(':') + 1));
            }
        }
        AnalyticsConfig config = AnalyticsConfig.of(settings);
        int horizonS = 15;
        List<String> only = opts.containsKey("only") ? List.of(opts.get("only").split(",")) : null;
        Map<String, Function<ClusterModel, OverloadScorer>> strategies = new LinkedHashMap<>();
        strategies.put("threshold", OutcomeReplay.threshold(config));
        if (only == null || only.contains("tuned_rule")) {
            TunedRule.Tuning tuned = TunedRule.tune(trace.slice(0, cut).toSamples(), config, OverloadDefinition.defaults().withHorizon(horizonS));
            strategies.put("tuned_rule", cluster -> tuned.rule());
        }
        strategies.put("oracle", OracleScorer::new);
        strategies.put("oracle_partial", cluster -> new Oracle(cluster, horizonS, true));
        strategies.put("oracle_30s", cluster -> new Oracle(cluster, 30, false));
        strategies.put("oracle_30s_partial", cluster -> new Oracle(cluster, 30, true));
        System.out.println("trace " + opts.getOrDefault("trace", "shipped") + ", settings " + settings);
        System.out.println(String.format(Locale.ROOT, "%-20s %8s %8s %6s %8s %5s | %14s %14s %8s %6s %7s", "strategy", "node-s",
                "episodes", "moves", "needless", "inef", "no_single_move", "no_destination", "blocked", "sharp", "timing"));
        if (only == null || only.contains("none")) {
            ClusterModel none = new ClusterModel(replay, horizonS, new DowntimeModel(config));
            for (int s = 0; s < replay.seconds(); s++) {
                none.advanceTo(s);
                none.samples();
            }
            report("none", none, config);
        }
        for (Map.Entry<String, Function<ClusterModel, OverloadScorer>> s : strategies.entrySet()) {
            if (only != null && !only.contains(s.getKey())) {
                continue;
            }
            report(s.getKey(), OutcomeReplay.replay(replay, config, horizonS, c -> new CurrentScorer(s.getValue().apply(c)), null), config);
        }
        if (opts.containsKey("model")) {
            ModelUpdate model = ModelFile.read(Path.of(opts.get("model")));
            report("model " + opts.getOrDefault("policy", "carried"), OutcomeReplay.replay(replay, config, horizonS,
                    c -> new CurrentScorer(OutcomeReplay.threshold(config).apply(c)), model), config);
        }
    }

    private static void report(String name, ClusterModel cluster, AnalyticsConfig config) {
        Outcome outcome = Outcome.of(cluster);
        Map<String, Integer> classes = classify(cluster, config);
        StringBuilder blocked = new StringBuilder();
        classes.forEach((k, v) -> {
            if (k.startsWith("blocked:")) {
                blocked.append(' ').append(k.substring(8)).append('=').append(v);
            }
        });
        System.out.println(String.format(Locale.ROOT, "%-20s %8d %8d %6d %8d %5d | %14d %14d %8d %6d %7d", name, outcome.overloadNodeS(),
                outcome.overloadEpisodes(), outcome.migrations(), outcome.needlessMigrations(), outcome.ineffectiveMigrations(), classes.get("no_single_move"), classes.get("no_destination"),
                classes.get("blocked"), classes.get("sharp"), classes.get("timing")) + " |" + blocked);
    }

    /** Overload node-seconds of what happened, by class (see the class comment). */
    static Map<String, Integer> classify(ClusterModel cluster, AnalyticsConfig config) {
        ClusterTrace trace = cluster.trace();
        boolean[][] overloaded = cluster.overloadSeconds();
        Map<String, Integer> classes = new LinkedHashMap<>();
        for (String c : List.of("no_single_move", "no_destination", "blocked", "sharp", "timing")) {
            classes.put(c, 0);
        }
        List<ClusterTrace.Node> nodes = cluster.nodes();
        int seconds = trace.seconds();
        for (int n = 0; n < nodes.size(); n++) {
            ClusterTrace.Node node = nodes.get(n);
            double cpuHot = ClusterModel.HOT_CPU * node.cpus();
            double memHot = ClusterModel.HOT_MEM * node.memBytes();
            for (int a = 0; a < seconds; a++) {
                if (!overloaded[n][a] || a > 0 && overloaded[n][a - 1]) {
                    continue;
                }
                int b = a;
                while (b + 1 < seconds && overloaded[n][b + 1]) {
                    b++;
                }
                int length = b - a + 1;
                // the cheapest workload on the node whose move alone would end the episode
                int ender = -1;
                double enderOutage = Double.MAX_VALUE;
                for (int w = 0; w < trace.workloads().size(); w++) {
                    ClusterTrace.Workload workload = trace.workloads().get(w);
                    if (cluster.placementLog[w][a] != n || !workload.migratable() || !workload.runsAt(a)) {
                        continue;
                    }
                    boolean ends = true;
                    for (int s = a; s <= b && ends; s++) {
                        boolean here = cluster.placementLog[w][s] == n;
                        double cpu = cluster.demandLog[n][s] - (here ? workload.cpu(s) : 0);
                        double mem = cluster.rssLog[n][s] - (here ? workload.rssBytes(s) : 0);
                        ends = cpu < cpuHot && mem < memHot;
                    }
                    double outage = cluster.downtime().seconds(workload.rssBytes(a));
                    if (ends && outage < enderOutage) {
                        ender = w;
                        enderOutage = outage;
                    }
                }
                if (ender < 0) {
                    classes.merge("no_single_move", length, Integer::sum);
                    continue;
                }
                ClusterTrace.Workload w = trace.workloads().get(ender);
                boolean room = false;
                for (int m = 0; m < nodes.size() && !room; m++) {
                    if (m == n) {
                        continue;
                    }
                    room = cluster.demandLog[m][a] + w.cpu(a) <= 0.75 * nodes.get(m).cpus()
                            && cluster.rssLog[m][a] + w.rssBytes(a) <= 0.85 * nodes.get(m).memBytes();
                }
                if (!room) {
                    classes.merge("no_destination", length, Integer::sum);
                    continue;
                }
                int lead = 1 + (int) Math.ceil(enderOutage) + 1;
                int decide = Math.max(0, a - lead);
                String why = blocked(cluster, config, n, ender, decide);
                if (why != null) {
                    classes.merge("blocked", length, Integer::sum);
                    classes.merge("blocked:" + why, length, Integer::sum);
                    continue;
                }
                int rise = a;
                while (rise > 0 && (cluster.demandLog[n][rise - 1] >= 0.8 * node.cpus() || cluster.rssLog[n][rise - 1] >= 0.85 * node.memBytes())) {
                    rise--;
                }
                int runUp = a - rise;
                int sharp = Math.min(length, Math.max(0, lead - runUp));
                classes.merge("sharp", sharp, Integer::sum);
                classes.merge("timing", length - sharp, Integer::sum);
            }
        }
        return classes;
    }

    /** Why no move could be issued off node n at second s (null: none of these held), by the replayed configuration. */
    private static String blocked(ClusterModel cluster, AnalyticsConfig config, int n, int workload, int s) {
        double nodeCooldownS = config.nodeCooldownMs() / 1000.0;
        double workloadCooldownS = config.workloadCooldownMs() / 1000.0;
        // the planner's budget for one cell of every node (MigrationPlanner.cellBudget)
        double budget = Math.max(config.maxConcurrentMigrations(), Math.ceil(config.cellBudgetFraction() * cluster.nodes().size()));
        int inFlight = 0;
        String why = null;
        for (ClusterModel.Move move : cluster.moves()) {
            boolean flying = move.second <= s && s < move.landAt;
            if (flying) {
                inFlight++;
            }
            if (why == null && move.source == n && flying) {
                why = "move_off_in_flight";
            } else if (why == null && move.source == n && move.second <= s && s - move.second < nodeCooldownS) {
                why = "cooldown_as_source";
            } else if (why == null && move.destination == n && move.second <= s && s - move.second < nodeCooldownS) {
                why = "cooldown_as_destination";
            } else if (why == null && move.workload == workload && move.second <= s && s - move.second < workloadCooldownS) {
                why = "workload_cooldown";
            }
        }
        return why != null ? why : inFlight >= budget ? "cluster_cap" : null;
    }

    /** The oracle looking further, or moving when a move only shortens the coming overload. */
    private record Oracle(ClusterModel cluster, int lookaheadS, boolean partial) implements OverloadScorer {

        @Override
        public OverloadScore score(FeatureVector features) {
            throw new UnsupportedOperationException();
        }

        @Override
        public OverloadScore score(String nodeId, long windowEndMs, FeatureVector features, boolean sharedHost) {
            boolean move = cluster.oracleWouldMove(nodeId, lookaheadS, partial);
            return new OverloadScore(move ? 1.0 : 0.0, move, "oracle", null, Trigger.OTHER);
        }
    }
}
