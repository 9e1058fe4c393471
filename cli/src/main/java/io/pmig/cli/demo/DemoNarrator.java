package io.pmig.cli.demo;

import io.pmig.cli.operator.EventLines;
import io.pmig.platform.topics.Topic;
import io.pmig.schemas.CommandKind;
import io.pmig.schemas.DecisionReason;
import io.pmig.schemas.MigrationCommand;
import io.pmig.schemas.MigrationEvent;
import io.pmig.schemas.NodeScore;
import io.pmig.schemas.features.FeatureLayout;
import io.pmig.schemas.Phase;
import io.pmig.schemas.Trigger;
import java.io.PrintStream;
import java.time.Duration;
import java.time.Instant;
import java.time.ZoneId;
import java.time.format.DateTimeFormatter;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Properties;
import org.apache.kafka.clients.consumer.ConsumerConfig;
import org.apache.kafka.clients.consumer.ConsumerRecord;
import org.apache.kafka.clients.consumer.KafkaConsumer;
import org.apache.kafka.common.TopicPartition;
import org.apache.kafka.common.errors.WakeupException;
import org.apache.kafka.common.serialization.ByteArrayDeserializer;
import org.apache.kafka.common.serialization.StringDeserializer;

/**
 * Tells the demo's story as it happens - predictions from pmig.scores, decisions from pmig.commands, phases
 * from pmig.events - and keeps the figures the summary needs.
 */
final class DemoNarrator implements AutoCloseable {

    private static final DateTimeFormatter TIME = DateTimeFormatter.ofPattern("HH:mm:ss.SSS").withZone(ZoneId.systemDefault());

    private final KafkaConsumer<String, byte[]> consumer;
    private final PrintStream out;
    private final Thread thread;
    private volatile boolean running = true;

    private final Map<String, Boolean> overloaded = new HashMap<>();
    private final Map<String, MigrationCommand> migrateCommands = new LinkedHashMap<>();
    private final Map<String, MigrationEvent> outcomes = new LinkedHashMap<>();
    private MigrationCommand firstMigrate;

    DemoNarrator(Properties clientProperties, PrintStream out) {
        this.out = out;
        Properties props = (Properties) clientProperties.clone();
        props.put(ConsumerConfig.ENABLE_AUTO_COMMIT_CONFIG, "false");
        props.put(ConsumerConfig.ISOLATION_LEVEL_CONFIG, "read_committed");
        consumer = new KafkaConsumer<>(props, new StringDeserializer(), new ByteArrayDeserializer());
        List<TopicPartition> partitions = new ArrayList<>();
        for (Topic topic : List.of(Topic.SCORES, Topic.COMMANDS, Topic.EVENTS)) {
            consumer.partitionsFor(topic.topicName(), Duration.ofSeconds(30))
                    .forEach(p -> partitions.add(new TopicPartition(p.topic(), p.partition())));
        }
        consumer.assign(partitions);
        consumer.seekToEnd(partitions);
        partitions.forEach(consumer::position);
        thread = new Thread(this::run, "pmig-demo-narrator");
        thread.setDaemon(true);
        thread.start();
    }

    private void run() {
        try {
            while (running) {
                for (ConsumerRecord<String, byte[]> record : consumer.poll(Duration.ofMillis(100))) {
                    if (record.value() != null) {
                        tell(record);
                    }
                }
            }
        } catch (WakeupException stopping) {
            // closed
        } finally {
            consumer.close(Duration.ofSeconds(1));
        }
    }

    private synchronized void tell(ConsumerRecord<String, byte[]> record) {
        switch (Topic.byName(record.topic())) {
            case SCORES -> {
                NodeScore score = Topic.SCORES.<NodeScore>serde().decode(record.value());
                Boolean before = overloaded.put(score.getNodeId(), score.getOverloaded());
                Double cpuMean = FeatureLayout.feature(score, "cpu_mean");
                if (score.getOverloaded() && !Boolean.TRUE.equals(before)) {
                    line("prediction", score.getNodeId() + " will be overloaded: score " + format(score.getScore()) + " by "
                            + (score.getModelVersion() == null ? "the threshold rule" : "model " + score.getModelVersion())
                            + " (cpu mean " + format(cpuMean == null ? Double.NaN : cpuMean) + "%)");
                } else if (!score.getOverloaded() && Boolean.TRUE.equals(before)) {
                    line("prediction", score.getNodeId() + " back to normal: score " + format(score.getScore()));
                }
            }
            case COMMANDS -> {
                MigrationCommand command = Topic.COMMANDS.<MigrationCommand>serde().decode(record.value());
                // a MIGRATE appears twice: as issued, and its source's copy for the destination
                if (command.getKind() == CommandKind.MIGRATE && migrateCommands.putIfAbsent(command.getCommandId(), command) == null) {
                    if (firstMigrate == null) {
                        firstMigrate = command;
                    }
                    DecisionReason reason = command.getReason();
                    line("command", "MIGRATE " + command.getWorkloadId() + " " + command.getSourceNode() + " -> "
                            + command.getDestinationNode() + " (" + command.getMode().toString().toLowerCase()
                            + (reason == null ? "" : ", trigger " + reason.getTrigger() + ", score " + format(reason.getScore())
                            + (reason.getModelVersion() == null ? "" : ", model " + reason.getModelVersion())) + ")");
                }
            }
            case EVENTS -> {
                MigrationEvent event = Topic.EVENTS.<MigrationEvent>serde().decode(record.value());
                line("event", EventLines.format(event));
                Phase phase = event.getPhase();
                if (phase == Phase.COMPLETED || phase == Phase.ROLLED_BACK
                        || (phase == Phase.FAILED && migrateCommands.containsKey(event.getMigrationId()))) {
                    outcomes.putIfAbsent(event.getMigrationId(), event);
                }
                notifyAll();
            }
            default -> {
            }
        }
    }

    private void line(String kind, String text) {
        out.printf("%s  %-10s %s%n", TIME.format(Instant.now()), kind, text);
        out.flush();
    }

    private static String format(double value) {
        return String.format("%.2f", value);
    }

    /** Waits until a migration triggered by the model has an outcome; returns it, or null at the deadline. */
    synchronized MigrationEvent awaitModelMigrationOutcome(long deadlineMs) throws InterruptedException {
        while (System.currentTimeMillis() < deadlineMs) {
            for (MigrationEvent outcome : outcomes.values()) {
                MigrationCommand command = migrateCommands.get(outcome.getMigrationId());
                if (command != null && triggeredByModel(command) && outcome.getPhase() == Phase.COMPLETED) {
                    return outcome;
                }
            }
            wait(Math.max(1, Math.min(500, deadlineMs - System.currentTimeMillis())));
        }
        return null;
    }

    synchronized boolean firstMigrationByModel() {
        return firstMigrate != null && triggeredByModel(firstMigrate);
    }

    synchronized long count(Phase phase) {
        return outcomes.values().stream().filter(e -> e.getPhase() == phase).count();
    }

    synchronized List<Long> downtimesMs() {
        return outcomes.values().stream().filter(e -> e.getPhase() == Phase.COMPLETED)
                .map(e -> e.getTimings() == null ? 0L : e.getTimings().getDowntimeMs()).toList();
    }

    private static boolean triggeredByModel(MigrationCommand command) {
        return command.getReason() != null && command.getReason().getTrigger() == Trigger.MODEL;
    }

    @Override
    public void close() {
        running = false;
        consumer.wakeup();
        try {
            thread.join(3000);
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
        }
    }
}
