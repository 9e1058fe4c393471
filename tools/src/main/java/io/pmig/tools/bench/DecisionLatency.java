package io.pmig.tools.bench;

import io.pmig.analytics.AnalyticsConfig;
import io.pmig.analytics.AnalyticsTopology;
import io.pmig.broker.EmbeddedBroker;
import io.pmig.platform.config.KafkaClientOptions;
import io.pmig.platform.topics.Topic;
import io.pmig.platform.topics.TopicCreator;
import io.pmig.schemas.CommandKind;
import io.pmig.schemas.MigrationCommand;
import io.pmig.schemas.MigrationEvent;
import io.pmig.schemas.NodeMetrics;
import io.pmig.schemas.Phase;
import io.pmig.schemas.PhaseTimings;
import io.pmig.schemas.serde.AvroSerde;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.Properties;
import java.util.UUID;
import java.util.concurrent.atomic.AtomicBoolean;
import org.apache.kafka.clients.consumer.ConsumerRecord;
import org.apache.kafka.clients.consumer.KafkaConsumer;
import org.apache.kafka.clients.producer.KafkaProducer;
import org.apache.kafka.clients.producer.ProducerConfig;
import org.apache.kafka.clients.producer.ProducerRecord;
import org.apache.kafka.common.serialization.ByteArraySerializer;
import org.apache.kafka.common.serialization.StringSerializer;
import org.apache.kafka.streams.CloseOptions;
import org.apache.kafka.streams.KafkaStreams;

/**
 * One live analytics instance (its own embedded broker, pmig's real topology and Streams settings) fed samples
 * in real time, timing each overload onset to the MIGRATE command it causes. A stand-in executor answers every
 * command with COMPLETED at once, so the cluster-wide cap never queues a decision: what is timed is detection
 * and decision, not migration. The moved workload then shows in its destination's samples ({@link StandInCluster}),
 * as a real agent would report it, so the destination's reservation ends and its room is judged as in a real cluster.
 */
final class DecisionLatency implements AutoCloseable {

    /** One timed onset: latency, split into the wait the windows impose and everything after. */
    record Sample(String node, long latencyMs, long windowWaitMs, long pipelineMs) {
    }

    private final String label;
    private final AnalyticsConfig config;
    private final EmbeddedBroker broker;
    private final Path stateDir;
    private final KafkaStreams streams;
    private final KafkaProducer<String, byte[]> metrics;
    private final KafkaProducer<String, MigrationEvent> events;
    private final AvroSerde<NodeMetrics> serde = AvroSerde.of(NodeMetrics.class);
    private final Thread reader;
    private final AtomicBoolean running = new AtomicBoolean(true);
    /** Per node, the send times of its onsets not yet answered by a command, oldest first. */
    private final Map<String, List<Long>> pendingOnsets = new HashMap<>();
    private final List<Sample> samples = new ArrayList<>();
    private final StandInCluster cluster = new StandInCluster();
    private int onsets;
    private int extraCommands;
    private int unanswered;
    private volatile Exception readerFailure;

    DecisionLatency(String label, AnalyticsConfig config) throws Exception {
        this.label = label;
        this.config = config;
        this.broker = EmbeddedBroker.start(0, null);
        Properties client = KafkaClientOptions.of(broker.bootstrapServers()).clientProperties();
        TopicCreator.ensureTopics(client);
        stateDir = Files.createTempDirectory("pmig-bench-live-");
        streams = new KafkaStreams(AnalyticsTopology.buildTopology(config),
                StreamsThroughput.streamsProperties(client, config.applicationId(), stateDir, 1));
        Properties producerProps = new Properties();
        producerProps.putAll(client);
        // The agent's producer settings: a sample leaves within a few ms of being taken.
        producerProps.put(ProducerConfig.COMPRESSION_TYPE_CONFIG, "lz4");
        producerProps.put(ProducerConfig.LINGER_MS_CONFIG, "5");
        producerProps.put(ProducerConfig.ACKS_CONFIG, "all");
        producerProps.put(ProducerConfig.ENABLE_IDEMPOTENCE_CONFIG, "true");
        metrics = new KafkaProducer<>(producerProps, new StringSerializer(), new ByteArraySerializer());
        events = new KafkaProducer<>(client, new StringSerializer(), Topic.EVENTS.<MigrationEvent>serde().serializer());
        reader = new Thread(() -> readCommands(client), "bench-commands-" + label);
    }

    String label() {
        return label;
    }

    AnalyticsConfig config() {
        return config;
    }

    void start() throws InterruptedException {
        streams.start();
        long deadline = System.nanoTime() + Duration.ofSeconds(60).toNanos();
        while (streams.state() != KafkaStreams.State.RUNNING) {
            if (System.nanoTime() > deadline || streams.state() == KafkaStreams.State.ERROR) {
                throw new IllegalStateException(label + ": analytics did not reach RUNNING (" + streams.state() + ")");
            }
            Thread.sleep(50);
        }
        reader.start();
    }

    /** Sends one sample now; {@code onset} marks the first overloaded sample of an episode. */
    void send(NodeMetrics sample, boolean onset) {
        String node = sample.getNodeId().toString();
        if (onset) {
            synchronized (this) {
                pendingOnsets.computeIfAbsent(node, n -> new ArrayList<>()).add(sample.getTimestampMs());
                onsets++;
            }
        }
        metrics.send(new ProducerRecord<>(Topic.METRICS.topicName(), node, serde.encode(cluster.report(sample))));
    }

    private void readCommands(Properties client) {
        try (KafkaConsumer<String, MigrationCommand> consumer = TopicReader.fromBeginning(client, Topic.COMMANDS,
                Topic.COMMANDS.<MigrationCommand>serde().deserializer())) {
            while (running.get()) {
                for (ConsumerRecord<String, MigrationCommand> record : consumer.poll(Duration.ofMillis(20))) {
                    long seenMs = System.currentTimeMillis();
                    MigrationCommand command = record.value();
                    if (command != null && command.getKind() == CommandKind.MIGRATE) {
                        matched(command, seenMs);
                        complete(command);
                    }
                }
            }
        } catch (Exception e) {
            readerFailure = e;
        }
    }

    /**
     * A command answers the node's latest onset at or before its deciding window's end; older onsets of that node still
     * pending got no command of their own and are counted as unanswered (matching the oldest instead would time an
     * unanswered onset by the next episode's command, a whole cycle later).
     */
    private synchronized void matched(MigrationCommand command, long seenMs) {
        List<Long> pending = pendingOnsets.get(command.getSourceNode().toString());
        int answered = -1;
        if (pending != null) {
            for (int i = 0; i < pending.size() && pending.get(i) <= command.getIssuedAtMs(); i++) {
                answered = i;
            }
        }
        if (answered < 0) {
            extraCommands++; // a second decision within one episode (the cooldowns should prevent it), or a spare's
            return;
        }
        unanswered += answered;
        long onsetMs = pending.get(answered);
        pending.subList(0, answered + 1).clear();
        // The deciding window ends at issuedAtMs and may close grace ms later: the window rules alone wait
        // that long after the onset; the rest is punctuation, Streams commits and the topic hops.
        long windowWait = command.getIssuedAtMs() + config.windowGraceMs() - onsetMs;
        samples.add(new Sample(command.getSourceNode().toString(), seenMs - onsetMs, windowWait, seenMs - onsetMs - windowWait));
    }

    /** The stand-in executor: the migration "completes" at once, freeing its slot under the cap; the workload runs on. */
    private void complete(MigrationCommand command) {
        String id = command.getCommandId().toString();
        cluster.moved(command, System.currentTimeMillis());
        MigrationEvent done = MigrationEvent.newBuilder()
                .setCommandId(id).setMigrationId(id).setWorkloadId(command.getWorkloadId())
                .setNode(command.getDestinationNode()).setPhase(Phase.COMPLETED).setMode(command.getMode())
                .setSourceNode(command.getSourceNode()).setDestinationNode(command.getDestinationNode())
                .setTimings(PhaseTimings.newBuilder().build()).setTimestampMs(System.currentTimeMillis())
                .build();
        events.send(new ProducerRecord<>(Topic.EVENTS.topicName(), command.getWorkloadId().toString(), done));
    }

    synchronized List<Sample> samples() {
        return List.copyOf(samples);
    }

    synchronized int onsets() {
        return onsets;
    }

    int moves() {
        return cluster.moves();
    }

    /** Moves whose destination was an overloading node rather than a spare (it then sits out its node cooldown). */
    int movesToLiveNodes() {
        return cluster.movesTo("live-");
    }

    /** Onsets that got no command, known so far (a later command of their node passed them over). */
    synchronized int unanswered() {
        return unanswered;
    }

    synchronized int extraCommands() {
        return extraCommands;
    }

    void checkHealthy() {
        if (readerFailure != null) {
            throw new IllegalStateException(label + ": command reader failed: " + readerFailure, readerFailure);
        }
        if (streams.state() == KafkaStreams.State.ERROR) {
            throw new IllegalStateException(label + ": analytics failed");
        }
    }

    static String applicationId(String label) {
        return "pmig-bench-" + label + "-" + UUID.randomUUID().toString().substring(0, 8);
    }

    @Override
    public void close() throws Exception {
        running.set(false);
        if (reader.isAlive()) {
            reader.join(5_000);
        }
        metrics.close(Duration.ofSeconds(5));
        events.close(Duration.ofSeconds(5));
        streams.close(CloseOptions.groupMembershipOperation(CloseOptions.GroupMembershipOperation.LEAVE_GROUP)
                .withTimeout(Duration.ofSeconds(30)));
        streams.cleanUp();
        StreamsThroughput.deleteTree(stateDir);
        broker.close();
    }
}
