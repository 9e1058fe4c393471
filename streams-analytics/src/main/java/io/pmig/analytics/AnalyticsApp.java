package io.pmig.analytics;

import io.pmig.analytics.query.NodeStatusServer;
import io.pmig.analytics.scoring.CurrentScorer;
import io.pmig.analytics.scoring.ThresholdScorer;
import io.pmig.platform.topics.TopicCreator;
import java.nio.file.Path;
import java.time.Duration;
import java.util.Properties;
import java.util.concurrent.CountDownLatch;
import org.apache.kafka.streams.CloseOptions;
import org.apache.kafka.streams.KafkaStreams;
import org.apache.kafka.streams.StreamsConfig;
import org.apache.kafka.streams.errors.StreamsUncaughtExceptionHandler;
import org.apache.kafka.streams.state.HostInfo;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * One running analytics instance: the Kafka Streams application of {@link AnalyticsTopology} plus its
 * interactive-query HTTP endpoint. Instances with the same application id share the work.
 */
public final class AnalyticsApp implements AutoCloseable {

    private static final Logger log = LoggerFactory.getLogger(AnalyticsApp.class);

    private final KafkaStreams streams;
    private final NodeStatusServer server;
    private final CurrentScorer scorer;

    private final CountDownLatch stopped;

    private AnalyticsApp(KafkaStreams streams, NodeStatusServer server, CurrentScorer scorer, CountDownLatch stopped) {
        this.streams = streams;
        this.server = server;
        this.scorer = scorer;
        this.stopped = stopped;
    }

    /**
     * Starts an instance.
     *
     * @param clientProperties Kafka connection settings (bootstrap servers, security); Streams settings
     *                         given here override pmig's (e.g. num.stream.threads)
     */
    public static AnalyticsApp start(AnalyticsConfig config, Properties clientProperties, String instanceId,
                                     String httpHost, int httpPort, Path stateDir) {
        TopicCreator.ensureTopics(clientProperties);
        NodeStatusServer server = new NodeStatusServer(httpHost, httpPort);
        HostInfo address = server.address();

        Properties props = new Properties();
        props.put(StreamsConfig.APPLICATION_ID_CONFIG, config.applicationId());
        props.put(StreamsConfig.CLIENT_ID_CONFIG, config.applicationId() + "-" + instanceId);
        props.put(StreamsConfig.PROCESSING_GUARANTEE_CONFIG, StreamsConfig.EXACTLY_ONCE_V2);
        props.put(StreamsConfig.APPLICATION_SERVER_CONFIG, address.host() + ":" + address.port());
        props.put(StreamsConfig.STATE_DIR_CONFIG, stateDir.toString());
        props.putAll(clientProperties);

        CurrentScorer scorer = new CurrentScorer(ThresholdScorer.from(config));
        KafkaStreams streams = new KafkaStreams(AnalyticsTopology.buildTopology(config, scorer), props);
        streams.setUncaughtExceptionHandler(e -> {
            log.error("analytics instance {} stops on an unexpected error", instanceId, e);
            return StreamsUncaughtExceptionHandler.StreamThreadExceptionResponse.SHUTDOWN_CLIENT;
        });
        // Streams accepts a state listener only before start()
        CountDownLatch stopped = new CountDownLatch(1);
        streams.setStateListener((next, previous) -> {
            if (next == KafkaStreams.State.ERROR || next == KafkaStreams.State.NOT_RUNNING) {
                stopped.countDown();
            }
        });
        server.start(streams, scorer::modelVersion);
        streams.start();
        log.info("analytics instance {} started (application {}, state in {}, dry run {})", instanceId,
                config.applicationId(), stateDir, config.dryRun());
        return new AnalyticsApp(streams, server, scorer, stopped);
    }

    public KafkaStreams streams() {
        return streams;
    }

    /** Blocks until the instance stopped, by {@link #close()} or on an error; true if it stopped on an error. */
    public boolean awaitStopped() throws InterruptedException {
        stopped.await();
        return streams.state() == KafkaStreams.State.ERROR;
    }

    /** Base URL of this instance's query endpoint. */
    public String httpAddress() {
        return "http://" + server.address().host() + ":" + server.address().port();
    }

    /** The model version this instance scores with, or null for the threshold rule. */
    public String modelVersion() {
        return scorer.modelVersion();
    }

    /** Stops, leaving the consumer group at once so that the others take over without waiting for a timeout. */
    @Override
    public void close() {
        server.close();
        streams.close(CloseOptions.groupMembershipOperation(CloseOptions.GroupMembershipOperation.LEAVE_GROUP)
                .withTimeout(Duration.ofSeconds(30)));
    }
}
