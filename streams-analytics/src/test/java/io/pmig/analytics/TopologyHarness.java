package io.pmig.analytics;

import io.pmig.analytics.scoring.CurrentScorer;
import io.pmig.analytics.windows.InputLag;
import io.pmig.platform.topics.Topic;
import io.pmig.schemas.DeadLetter;
import io.pmig.schemas.MigrationCommand;
import io.pmig.schemas.MigrationEvent;
import io.pmig.schemas.ModelUpdate;
import io.pmig.schemas.NodeMetrics;
import io.pmig.schemas.NodeScore;
import io.pmig.schemas.serde.AvroSerde;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.file.Files;
import java.time.Duration;
import java.time.Instant;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.Properties;
import java.util.function.LongFunction;
import org.apache.kafka.common.serialization.ByteArraySerializer;
import org.apache.kafka.common.serialization.StringDeserializer;
import org.apache.kafka.common.serialization.StringSerializer;
import org.apache.kafka.streams.KeyValue;
import org.apache.kafka.streams.StreamsConfig;
import org.apache.kafka.streams.TestInputTopic;
import org.apache.kafka.streams.TestOutputTopic;
import org.apache.kafka.streams.TopologyTestDriver;

/**
 * The real {@link AnalyticsTopology} in a TopologyTestDriver, with the wall clock starting at {@link #T0}
 * and moved by the tests only: sample time and wall clock advance together, one second per step.
 */
final class TopologyHarness implements AutoCloseable {

    static final long T0 = 1_700_000_000_000L;

    final TopologyTestDriver driver;
    final TestInputTopic<String, byte[]> metrics;
    final TestInputTopic<String, byte[]> events;
    final TestInputTopic<String, byte[]> models;
    final TestOutputTopic<String, NodeScore> scores;
    final TestOutputTopic<String, MigrationCommand> commands;
    final TestOutputTopic<String, MigrationEvent> eventsOut;
    final TestOutputTopic<String, DeadLetter> deadLetters;
    private final AvroSerde<NodeMetrics> metricsSerde = AvroSerde.of(NodeMetrics.class);
    private final AvroSerde<MigrationEvent> eventSerde = AvroSerde.of(MigrationEvent.class);
    /** Seconds since T0 of the next step. */
    long second;
    final List<MigrationCommand> issued = new ArrayList<>();

    TopologyHarness(Map<String, ?> overrides) {
        this(overrides, InputLag.UNKNOWN);
    }

    /** With the given answer to whether the consumer is behind on pmig.metrics (a running instance reads its metric). */
    TopologyHarness(Map<String, ?> overrides, InputLag inputLag) {
        Properties props = new Properties();
        props.put(StreamsConfig.APPLICATION_ID_CONFIG, "analytics-test");
        props.put(StreamsConfig.BOOTSTRAP_SERVERS_CONFIG, "127.0.0.1:1");
        props.put(StreamsConfig.PROCESSING_GUARANTEE_CONFIG, StreamsConfig.EXACTLY_ONCE_V2);
        try {
            props.put(StreamsConfig.STATE_DIR_CONFIG, Files.createTempDirectory("analytics-ttd-").toString());
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
        AnalyticsConfig config = AnalyticsConfig.of(overrides);
        driver = new TopologyTestDriver(AnalyticsTopology.buildTopology(config, CurrentScorer.of(config),
                AnalyticsMeters.unexported(config), inputLag), props,
                Instant.ofEpochMilli(T0));
        metrics = driver.createInputTopic(Topic.METRICS.topicName(), new StringSerializer(), new ByteArraySerializer());
        events = driver.createInputTopic(Topic.EVENTS.topicName(), new StringSerializer(), new ByteArraySerializer());
        models = driver.createInputTopic(Topic.MODELS.topicName(), new StringSerializer(), new ByteArraySerializer());
        scores = driver.createOutputTopic(Topic.SCORES.topicName(), new StringDeserializer(), AvroSerde.of(NodeScore.class));
        commands = driver.createOutputTopic(Topic.COMMANDS.topicName(), new StringDeserializer(), AvroSerde.of(MigrationCommand.class));
        eventsOut = driver.createOutputTopic(Topic.EVENTS.topicName(), new StringDeserializer(), AvroSerde.of(MigrationEvent.class));
        deadLetters = driver.createOutputTopic(Topic.DLQ.topicName(), new StringDeserializer(), AvroSerde.of(DeadLetter.class));
    }

    long now() {
        return T0 + second * 1000;
    }

    /** One step: the wall clock moves to this second, then every given sample of this second is published. */
    void step(NodeMetrics... samples) {
        if (second > 0) {
            driver.advanceWallClockTime(Duration.ofSeconds(1));
        }
        for (NodeMetrics sample : samples) {
            publish(sample);
        }
        second++;
    }

    /** Steps for n seconds, the samples of each built from its sample time. */
    void run(int seconds, LongFunction<NodeMetrics[]> samplesAt) {
        for (int i = 0; i < seconds; i++) {
            step(samplesAt.apply(now()));
        }
    }

    void publish(NodeMetrics sample) {
        metrics.pipeInput(sample.getNodeId().toString(), metricsSerde.encode(sample), sample.getTimestampMs());
    }

    void publishEvent(MigrationEvent event) {
        events.pipeInput(event.getWorkloadId().toString(), eventSerde.encode(event), event.getTimestampMs());
    }

    void publishModel(String key, ModelUpdate update) {
        models.pipeInput(key, AvroSerde.of(ModelUpdate.class).encode(update));
    }

    /** Commands issued so far (drains the output topic into {@link #issued}). */
    List<MigrationCommand> commands() {
        for (KeyValue<String, MigrationCommand> record : commands.readKeyValuesToList()) {
            if (!record.key.equals(record.value.getSourceNode().toString())) {
                throw new AssertionError("command keyed " + record.key + " for source " + record.value.getSourceNode());
            }
            issued.add(record.value);
        }
        return issued;
    }

    @Override
    public void close() {
        driver.close();
    }
}
