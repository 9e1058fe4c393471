package io.pmig.analytics;

import io.micrometer.core.instrument.Counter;
import io.micrometer.core.instrument.DistributionSummary;
import io.micrometer.core.instrument.Gauge;
import io.micrometer.core.instrument.MeterRegistry;
import io.micrometer.core.instrument.MultiGauge;
import io.micrometer.core.instrument.Tags;
import io.micrometer.core.instrument.simple.SimpleMeterRegistry;
import io.pmig.analytics.scoring.ThresholdScorer;
import io.pmig.platform.metrics.RoleMetrics;
import io.pmig.schemas.Trigger;
import java.util.List;
import java.util.Map;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.TimeUnit;

/**
 * Analytics' own series (README, Metrics): decisions by trigger, the score distribution by scorer, every node's latest
 * score, the model in use and dead letters. Shared by the topology's processors on every stream thread.
 *
 * <p>Counted when a processor runs: under exactly-once a task whose transaction aborts is re-run, so after a
 * fail-over a counter may count a window or a decision twice; the topics stay exact, the counters are for watching.
 */
public final class AnalyticsMeters {

    /** A node's latest score stops being reported this long after its last window (it moved to another instance). */
    static final long NODE_SCORE_STALE_NANOS = TimeUnit.SECONDS.toNanos(60);
    private static final double[] SCORE_BUCKETS = {0.1, 0.2, 0.3, 0.4, 0.5, 0.6, 0.7, 0.8, 0.9, 1.0};

    private final MeterRegistry registry;
    private final boolean dryRun;
    private final Map<String, LatestScore> nodeScores = new ConcurrentHashMap<>();
    /** By scorer: looked up once, not built and registered again for every window. */
    private final Map<String, DistributionSummary> scoreSummaries = new ConcurrentHashMap<>();
    private final MultiGauge model;

    private static final class LatestScore {
        volatile double score;
        volatile long atNanos;

        double current() {
            return System.nanoTime() - atNanos > NODE_SCORE_STALE_NANOS ? Double.NaN : score;
        }
    }

    public AnalyticsMeters(MeterRegistry registry, boolean dryRun) {
        this.registry = registry;
        this.dryRun = dryRun;
        for (Trigger trigger : new Trigger[] {Trigger.MODEL, Trigger.THRESHOLD}) {
            decisions(trigger); // present at 0 from the start, so a dashboard's rate() has a series
        }
        this.model = MultiGauge.builder("pmig.analytics.model.info")
                .description("1 for the scorer in use: scorer=model with the model's version, or scorer=trend-rule or threshold")
                .register(registry);
        scorerInUse(ThresholdScorer.NAME, null);
    }

    /** Counting into a registry nobody exports (tests, benchmarks). */
    public static AnalyticsMeters unexported(AnalyticsConfig config) {
        return new AnalyticsMeters(new SimpleMeterRegistry(), config.dryRun());
    }

    public MeterRegistry registry() {
        return registry;
    }

    private Counter decisions(Trigger trigger) {
        return Counter.builder("pmig.analytics.decisions")
                .description("MIGRATE decisions (logged only when dry_run=true), by what triggered them")
                .tag("trigger", trigger.name()).tag("dry_run", String.valueOf(dryRun)).register(registry);
    }

    /** One MIGRATE decided. */
    public void decided(Trigger trigger) {
        decisions(trigger).increment();
    }

    /** One window of node scored by scorer ("model", "trend-rule" or "threshold"). */
    public void scored(String node, String scorer, double score) {
        scoreSummaries.computeIfAbsent(scorer, name -> DistributionSummary.builder("pmig.analytics.score")
                .description("Overload scores of closed windows (0-1), by scorer")
                .serviceLevelObjectives(SCORE_BUCKETS).tag("scorer", name).register(registry)).record(score);
        LatestScore latest = nodeScores.computeIfAbsent(node, id -> {
            LatestScore created = new LatestScore();
            Gauge.builder("pmig.analytics.node.score", created, LatestScore::current)
                    .description("Latest window score of each node this instance scores (absent 60 s after its last)")
                    .tag("node", id).register(registry);
            return created;
        });
        latest.score = score;
        latest.atNanos = System.nanoTime();
    }

    /** A record of sourceTopic went to pmig.dlq. */
    public void deadLetter(String sourceTopic) {
        RoleMetrics.deadLetters(registry, "analytics", sourceTopic).increment();
    }

    /** The scorer changed: its name ("model", "trend-rule", "threshold") and the model's version (null for a rule). */
    public void scorerInUse(String scorer, String version) {
        Tags tags = Tags.of("scorer", scorer, "version", version == null ? "" : version);
        model.register(List.of(MultiGauge.Row.of(tags, 1)), true);
    }
}
