package io.pmig.analytics.training;

import io.pmig.analytics.AnalyticsConfig;
import io.pmig.platform.config.ConfigException;
import io.pmig.platform.config.Durations;
import io.pmig.platform.config.KafkaClientOptions;
import io.pmig.platform.config.OptionTypes;
import io.pmig.platform.topics.Topic;
import io.pmig.analytics.scoring.ModelScorer;
import io.pmig.analytics.scoring.ThresholdScorer;
import io.pmig.analytics.scoring.TrendRuleScorer;
import io.pmig.schemas.MigrationCommand;
import io.pmig.schemas.MigrationEvent;
import io.pmig.schemas.ModelUpdate;
import io.pmig.schemas.NodeMetrics;
import java.io.PrintStream;
import java.io.UncheckedIOException;
import java.nio.file.Path;
import java.time.Duration;
import java.time.Instant;
import java.time.format.DateTimeParseException;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.Optional;
import java.util.concurrent.Callable;
import org.apache.kafka.clients.producer.RecordMetadata;
import org.apache.kafka.common.KafkaException;
import picocli.CommandLine.Command;
import picocli.CommandLine.Mixin;
import picocli.CommandLine.Model.CommandSpec;
import picocli.CommandLine.Option;
import picocli.CommandLine.Spec;

/**
 * {@code pmig train}: builds the overload dataset from pmig.metrics (replayed for a time range, leaving out the windows
 * that migrations on pmig.commands/pmig.events cut short) or from a recorded trace, trains a random forest, evaluates it
 * on the most recent part by its alarms against a "hot now" rule and a tuned trend rule (and per window against the
 * threshold rule), prints a report and publishes the model to pmig.models if it passes the {@link QualityGate}
 * (exit status {@value #GATE_REFUSED} otherwise, unless --force). Progress goes to stderr, the report to stdout,
 * and with --json stdout ends with one JSON line.
 * <pre>
 * pmig train --bootstrap-server 127.0.0.1:9092 --from -2h --json
 * pmig train --trace trace.avro --out model.avro --json
 * pmig console-consumer --topic pmig.models     # the published ModelUpdate
 * </pre>
 */
@Command(name = "train", mixinStandardHelpOptions = true,
        description = {"Train the overload model from pmig.metrics (or a recorded trace), evaluate its alarms against a "
                + "'hot now' rule and a tuned trend rule on a time-ordered held-out split, and publish it to pmig.models "
                + "if it beats the model in use and the tuned rule on the evaluation trace (else exit 3; --force).",
                "Label: the node is overloaded within --horizon after the window (see streams-analytics/TRAINING.md)."})
public final class TrainCommand implements Callable<Integer> {

    @Spec
    CommandSpec spec;

    @Mixin
    KafkaClientOptions kafka = new KafkaClientOptions();

    @Option(names = "--trace", paramLabel = "FILE",
            description = "Train from this recorded trace (Avro container file of NodeMetrics) instead of replaying pmig.metrics;"
                    + " repeatable: several traces (e.g. generated with other seeds) are one data set, each trace's nodes kept"
                    + " apart, split by time as one.")
    List<Path> traces;

    @Option(names = "--label", paramLabel = "KIND", defaultValue = "overload",
            description = "What a positive window is: overload (the node is overloaded within --horizon) or preventable (... and"
                    + " moving one of its workloads would prevent it: the outcome benchmark's oracle) (default: ${DEFAULT-VALUE};"
                    + " see TRAINING.md).")
    String label;

    @Option(names = "--demand-trace",
            description = "The traces' process CPU is demand, as pmig bench outcomes --write-trace writes it: features see what an"
                    + " agent would report (processes share the node's capacity), labels the demand. Without it a node whose"
                    + " processes demand more than it has trains on workload shares above 100 % that never occur live.")
    boolean demandTrace;

    @Option(names = "--from", paramLabel = "TIME",
            description = "First sample time to use: ISO instant (2025-01-31T12:00:00Z), epoch ms, or ago (-30m, -2h). Default: the beginning.")
    String from;

    @Option(names = "--to", paramLabel = "TIME", description = "Sample time to stop at (exclusive), same forms as --from. Default: now / the end.")
    String to;

    @Option(names = {"--horizon", "--horizon-s"}, paramLabel = "DURATION", defaultValue = OverloadDefinition.DEFAULT_HORIZON_S + "s",
            converter = OptionTypes.Seconds.class,
            description = "Label windows positive when the node is overloaded within this long after them, e.g. 15s; a bare"
                    + " number is seconds (default: ${DEFAULT-VALUE}).")
    Duration horizon;

    @Option(names = "--overload-cpu", paramLabel = "PERCENT", defaultValue = "" + OverloadDefinition.DEFAULT_CPU_PERCENT,
            description = "A sample is hot at this node CPU, percent of capacity (default: ${DEFAULT-VALUE}).")
    double overloadCpu;

    @Option(names = "--overload-mem", paramLabel = "FRACTION", defaultValue = "" + OverloadDefinition.DEFAULT_MEM_FRACTION,
            description = "... or at this memory use, fraction of capacity (default: ${DEFAULT-VALUE}).")
    double overloadMem;

    @Option(names = {"--sustain", "--sustain-s"}, paramLabel = "DURATION", defaultValue = (long) OverloadDefinition.DEFAULT_SUSTAIN_S + "s",
            converter = OptionTypes.Seconds.class,
            description = "Hot samples count as an overload once they last this long, e.g. 3s or 2500ms; a bare number is"
                    + " seconds (default: ${DEFAULT-VALUE}).")
    Duration sustain;

    @Option(names = "--held-out", paramLabel = "FRACTION", defaultValue = "0.3",
            description = "Most recent fraction of the time range kept for evaluation only (default: ${DEFAULT-VALUE}).")
    double heldOut;

    @Option(names = "--features", paramLabel = "SET", defaultValue = "node-local",
            description = "Features to train on: node-local (the node's own CPU, memory, workloads and sampling; right when "
                    + "nodes share a host), all, or comma-separated names (default: ${DEFAULT-VALUE}; see TRAINING.md).")
    String features;

    @Option(names = "--validation", paramLabel = "FRACTION", defaultValue = "" + OverloadModelTrainer.DEFAULT_VALIDATION_FRACTION,
            description = "Most recent fraction of the training part that chooses the forest's settings; 0 to skip "
                    + "(default: ${DEFAULT-VALUE}). The held-out part is never used for choosing.")
    double validation;

    @Option(names = "--select-by", paramLabel = "CRITERION", defaultValue = "alarms",
            description = "How validation chooses the forest's settings and tunes the trend rule: windows (mean lead time >= 5 s, "
                    + "then F1 over windows), alarms (lead-time p50 >= 5 s, then alarm F1, as the quality gate compares) or "
                    + "precision (alarm precision >= 0.8 with lead-time p50 >= 5 s, then alarm F1, choosing the alarm policy too: "
                    + "analytics.model.score.threshold and analytics.decision.hysteresis.windows) (default: ${DEFAULT-VALUE}).")
    String selectBy;

    @Option(names = "--trees", paramLabel = "N", defaultValue = "200", description = "Trees in the forest (default: ${DEFAULT-VALUE}).")
    int trees;

    @Option(names = "--seed", paramLabel = "N", defaultValue = "20240601", description = "Seed of the forest (default: ${DEFAULT-VALUE}).")
    long seed;

    @Option(names = "--config", paramLabel = "KEY=VALUE",
            description = "Analytics setting the model will run under (window size/advance, thresholds of the rules it is compared with,"
                    + " analytics.scorer: what the quality gate takes as in use); repeatable.")
    Map<String, String> settings = new LinkedHashMap<>();

    @Option(names = "--model-key", paramLabel = "NAME", defaultValue = DefaultModel.KEY,
            description = "Key on pmig.models to publish under (default: ${DEFAULT-VALUE}).")
    String modelKey;

    @Option(names = "--publish", negatable = true,
            description = "Publish the model to pmig.models (default: yes when replaying the topic, no with --trace).")
    Boolean publish;

    @Option(names = "--force",
            description = "Publish even when the model does not pass the quality gate (it must beat the model in use and the tuned rule on the evaluation trace).")
    boolean force;

    @Option(names = "--eval-trace", paramLabel = "FILE",
            description = "Fixed evaluation trace of the quality gate, used whole (default: the held-out part of the trace pmig ships).")
    Path evalTrace;

    @Option(names = "--censor-migrations", negatable = true, defaultValue = "true", fallbackValue = "true",
            description = "When replaying, leave out each node's windows from H before a MIGRATE off it until the move ended, "
                    + "read from pmig.commands and pmig.events (default: ${DEFAULT-VALUE}; see TRAINING.md).")
    boolean censorMigrations;

    @Option(names = "--out", paramLabel = "MODEL_FILE", description = "Also write the ModelUpdate to this Avro file.")
    Path out;

    @Option(names = "--json", description = "End stdout with one JSON line of the figures.")
    boolean json;

    /** Exit status when the quality gate refuses the model. */
    static final int GATE_REFUSED = 3;
    /** The shipped trace's part the gate scores on: its held-out part, which the shipped model never saw. */
    static final double DEFAULT_EVAL_FRACTION = 0.3;
    static final long MIGRATION_LOOKBACK_MS = 10 * 60_000L;

    PrintStream stdout = System.out;
    PrintStream stderr = System.err;

    @Override
    public Integer call() {
        AnalyticsConfig analytics = AnalyticsConfig.of(settings);
        if (horizon.toMillis() % 1000 != 0) {
            throw new ConfigException(OptionTypes.givenName(spec, "--horizon"), "must be whole seconds, got " + Durations.format(horizon));
        }
        OverloadDefinition overload = new OverloadDefinition(overloadCpu, overloadMem, sustain.toMillis() / 1000.0,
                (int) Math.min(Integer.MAX_VALUE, horizon.toSeconds()));
        if (trees < 1) {
            throw new ConfigException("--trees", "must be at least 1");
        }
        if (!(heldOut > 0 && heldOut < 1)) {
            throw new ConfigException("--held-out", heldOut + " is outside (0, 1)");
        }
        if (!(validation >= 0 && validation < 1)) {
            throw new ConfigException("--validation", validation + " is outside [0, 1)");
        }
        FeatureSet featureSet = FeatureSet.parse(features);
        OverloadModelTrainer.Criterion criterion = switch (selectBy.strip().toLowerCase(Locale.ROOT)) {
            case "windows" -> OverloadModelTrainer.Criterion.WINDOWS;
            case "alarms" -> OverloadModelTrainer.Criterion.ALARMS;
            case "precision" -> OverloadModelTrainer.Criterion.PRECISION;
            default -> throw new ConfigException("--select-by", "'" + selectBy + "' is not windows, alarms or precision");
        };
        long now = System.currentTimeMillis();
        Long fromMs = from == null ? null : parseTime("--from", from, now);
        Long toMs = to == null ? null : parseTime("--to", to, now);
        if (fromMs != null && toMs != null && fromMs >= toMs) {
            throw new ConfigException("--to", "must be after --from");
        }
        Dataset.Label labelKind = switch (label.strip().toLowerCase(Locale.ROOT)) {
            case "overload" -> Dataset.Label.OVERLOAD;
            case "preventable" -> Dataset.Label.PREVENTABLE;
            default -> throw new ConfigException("--label", "'" + label + "' is not overload or preventable");
        };
        boolean fromTraces = traces != null && !traces.isEmpty();
        boolean doPublish = publish != null ? publish : !fromTraces;
        try {
            String source = fromTraces ? (traces.size() == 1 ? "trace " + traces.get(0) : "traces " + traces)
                    : Topic.METRICS.topicName() + " at " + kafka.bootstrapServers();
            Dataset dataset = dataset(analytics, overload, fromMs, toMs, source, labelKind);
            stderr.printf("training %d-tree random forests on %,d windows, features %s ...%n", trees,
                    dataset.split(heldOut).train().size(), featureSet);
            OverloadModelTrainer.Result result = OverloadModelTrainer.train(dataset, analytics,
                    new OverloadModelTrainer.Options(trees, seed, heldOut, featureSet, validation, criterion), stderr::println);
            if (out != null) {
                ModelFile.write(out, result.update());
                stderr.println("wrote " + out);
            }
            QualityGate.Verdict gate = null;
            boolean published = false;
            if (doPublish) {
                stderr.println("quality gate: scoring the candidate, what analytics scores with now and the tuned rule on the evaluation trace ...");
                gate = gate(result, analytics, overload);
                if (gate.passed() || force) {
                    RecordMetadata at = ModelPublisher.publish(kafka.clientProperties(), modelKey, result.update());
                    published = true;
                    stderr.printf("published model %s to %s under key '%s' (offset %d)%n", result.update().getVersion(),
                            Topic.MODELS.topicName(), modelKey, at.offset());
                    if (!analytics.scorer().equals(AnalyticsConfig.SCORER_MODEL)) {
                        stderr.println("analytics scores with it only when run with " + AnalyticsConfig.SCORER + "="
                                + AnalyticsConfig.SCORER_MODEL + " (it runs " + analytics.scorer() + " now)");
                    }
                }
            }
            stdout.print(TrainingReport.text(result, source));
            if (gate != null) {
                stdout.print(TrainingReport.gateText(gate));
            }
            if (json) {
                Map<String, Object> summary = TrainingReport.summary(result, published, out == null ? null : out.toString());
                summary.put("label", labelKind.name().toLowerCase(Locale.ROOT));
                summary.put("demand_trace", demandTrace);
                if (result.update().getAlarmPolicy() != null) {
                    summary.put("carried_score_threshold", result.update().getAlarmPolicy().getScoreThreshold());
                    summary.put("carried_consecutive_windows", result.update().getAlarmPolicy().getConsecutiveWindows());
                }
                if (gate != null) {
                    TrainingReport.gateFields(summary, gate, force);
                }
                stdout.println(TrainingReport.jsonLine(summary));
            }
            stdout.flush();
            if (gate != null && !gate.passed()) {
                stderr.println("pmig train: " + (force ? "published despite the quality gate (--force): " : "not published: ")
                        + gate.reason() + (force ? "" : "; --force publishes anyway"));
                return force ? 0 : GATE_REFUSED;
            }
            return 0;
        } catch (IllegalStateException | UncheckedIOException | KafkaException e) {
            stderr.println("pmig train: " + e.getMessage());
            return 1;
        }
    }

    /**
     * The labelled windows of the trace or the replay; a replay leaves out the windows its migrations censor (unless
     * --no-censor-migrations).
     */
    Dataset dataset(AnalyticsConfig analytics, OverloadDefinition overload, Long fromMs, Long toMs, String source,
                    Dataset.Label labelKind) {
        List<NodeMetrics> samples;
        Censoring censoring = Censoring.NONE;
        if (traces != null && !traces.isEmpty()) {
            samples = new ArrayList<>();
            for (int t = 0; t < traces.size(); t++) {
                stderr.println("reading trace " + traces.get(t) + " ...");
                // Several traces (generated ones share node names and times): each trace's nodes are its own.
                String prefix = traces.size() == 1 ? null : "t" + (t + 1) + ":";
                for (NodeMetrics sample : TraceFile.read(traces.get(t))) {
                    if ((fromMs == null || sample.getTimestampMs() >= fromMs) && (toMs == null || sample.getTimestampMs() < toMs)) {
                        samples.add(prefix == null ? sample
                                : NodeMetrics.newBuilder(sample).setNodeId(prefix + sample.getNodeId()).build());
                    }
                }
            }
        } else {
            stderr.println("replaying " + Topic.METRICS.topicName() + " from " + kafka.bootstrapServers() + " ...");
            samples = MetricsReplay.read(kafka.clientProperties(), fromMs, toMs, stderr).samples();
            if (censorMigrations) {
                censoring = readMigrations(fromMs, overload);
            }
        }
        if (samples.isEmpty()) {
            throw new IllegalStateException("no samples in " + source + (fromMs != null || toMs != null ? " in the given time range" : ""));
        }
        stderr.printf("building windows and labels from %,d samples ...%n", samples.size());
        Dataset dataset = Dataset.build(samples, analytics, overload, censoring, labelKind, demandTrace);
        if (labelKind == Dataset.Label.PREVENTABLE) {
            stderr.printf("label: preventable overload, %,d of %,d windows positive%n", dataset.positives(), dataset.windows().size());
        }
        if (dataset.censoredWindows() > 0) {
            stderr.printf("left out %,d windows whose run-up a migration cut short%n", dataset.censoredWindows());
        }
        return dataset;
    }

    /**
     * MIGRATE commands and their outcomes from pmig.commands and pmig.events. Read from 10 minutes before {@code --from}
     * (a command issued then may still censor windows in range) to the end; censoring is by node and time, so commands
     * outside the range censor nothing.
     */
    private Censoring readMigrations(Long fromMs, OverloadDefinition overload) {
        Long since = fromMs == null ? null : fromMs - MIGRATION_LOOKBACK_MS;
        List<MigrationCommand> commands = MetricsReplay.<MigrationCommand>records(kafka.clientProperties(), Topic.COMMANDS, since, null).values();
        List<MigrationEvent> events = MetricsReplay.<MigrationEvent>records(kafka.clientProperties(), Topic.EVENTS, since, null).values();
        Censoring censoring = Censoring.of(commands, events, overload.horizonMs());
        stderr.printf("read %s and %s: %,d commands, %,d events, %d migrations to censor around%n", Topic.COMMANDS.topicName(),
                Topic.EVENTS.topicName(), commands.size(), events.size(), censoring.migrations());
        return censoring;
    }

    /**
     * Scores the candidate, what the app scores with now ({@link #inUse}) and the tuned rule on the fixed evaluation
     * trace.
     */
    private QualityGate.Verdict gate(OverloadModelTrainer.Result result, AnalyticsConfig analytics, OverloadDefinition overload) {
        List<NodeMetrics> evalSamples = evalTrace != null ? TraceFile.read(evalTrace) : TraceFile.readDefault();
        Dataset evalData = Dataset.build(evalSamples, analytics, overload);
        List<LabelledWindow> windows;
        String evalName;
        if (evalTrace != null) {
            windows = evalData.windows();
            evalName = "evaluation trace " + evalTrace + " (" + windows.size() + " windows)";
        } else {
            windows = evalData.split(DEFAULT_EVAL_FRACTION).heldOut();
            evalName = "the held-out part of the shipped trace (" + windows.size() + " windows)";
        }
        if (windows.isEmpty()) {
            throw new IllegalStateException("the evaluation trace holds no labelled windows");
        }
        double threshold = analytics.modelScoreThreshold();
        // The candidate and the tuned rule under the alarm policy validation chose for them; what is in use, as configured.
        OverloadModelTrainer.Policy policy = result.selection().policy();
        QualityGate.Contender candidate = QualityGate.contender("model " + result.update().getVersion(),
                ModelScorer.load(result.update(), policy.scoreThreshold()), windows, evalData, policy.consecutiveWindows());
        QualityGate.Contender inUse = inUse(analytics, threshold, windows, evalData);
        QualityGate.Contender rule = QualityGate.contender("the tuned rule " + result.ruleSelection().chosen(),
                result.ruleSelection().chosen(), windows, evalData, result.ruleSelection().consecutiveWindows());
        return QualityGate.check(candidate, List.of(inUse, rule), evalName);
    }

    /**
     * What the analytics app scores with now, under the same configuration: with {@value AnalyticsConfig#SCORER} =
     * model, the latest model on pmig.models (the trend rule while none is published); otherwise the rule it names,
     * whatever pmig.models holds.
     */
    private QualityGate.Contender inUse(AnalyticsConfig analytics, double threshold, List<LabelledWindow> windows, Dataset evalData) {
        if (analytics.scorer().equals(AnalyticsConfig.SCORER_THRESHOLD)) {
            return QualityGate.contender("the threshold rule in use", ThresholdScorer.from(analytics), windows, evalData);
        }
        Optional<ModelUpdate> current = analytics.scorer().equals(AnalyticsConfig.SCORER_MODEL)
                ? ModelPublisher.current(kafka.clientProperties(), modelKey) : Optional.empty();
        if (current.isEmpty()) {
            TrendRuleScorer rule = TrendRuleScorer.from(analytics);
            return QualityGate.contender("the trend rule in use (" + rule + ")", rule, windows, evalData);
        }
        try {
            return QualityGate.contender("model in use " + current.get().getVersion(), ModelScorer.load(current.get(), threshold),
                    windows, evalData);
        } catch (IllegalArgumentException e) {
            throw new IllegalStateException("the model in use cannot be scored (" + e.getMessage() + "); --no-publish or --model-key");
        }
    }

    /** An ISO-8601 instant, epoch milliseconds, or a time ago such as -90s, -30m, -2h, -1d. */
    static long parseTime(String option, String text, long nowMs) {
        String value = text.strip();
        if (value.matches("\\d+")) {
            return Long.parseLong(value);
        }
        var ago = java.util.regex.Pattern.compile("-(\\d+)([smhd])").matcher(value.toLowerCase(Locale.ROOT));
        if (ago.matches()) {
            long amount = Long.parseLong(ago.group(1));
            Duration duration = switch (ago.group(2)) {
                case "s" -> Duration.ofSeconds(amount);
                case "m" -> Duration.ofMinutes(amount);
                case "h" -> Duration.ofHours(amount);
                default -> Duration.ofDays(amount);
            };
            return nowMs - duration.toMillis();
        }
        try {
            return Instant.parse(value).toEpochMilli();
        } catch (DateTimeParseException e) {
            throw new ConfigException(option, "'" + text + "' is not an ISO instant (2025-01-31T12:00:00Z), epoch ms or -30m/-2h");
        }
    }
}
