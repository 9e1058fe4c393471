package io.pmig.analytics;

import io.micrometer.core.instrument.binder.kafka.KafkaStreamsMetrics;
import io.pmig.analytics.query.NodeStatusServer;
import io.pmig.analytics.scoring.CurrentScorer;
import io.pmig.analytics.windows.InputLag;
import io.pmig.platform.metrics.MetricsServer;
import io.pmig.platform.metrics.RoleMetrics;
import io.pmig.platform.topics.TopicCreator;
import java.net.InetSocketAddress;
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
    private final RoleMetrics metrics;
    private final MetricsServer metricsServer;

    private final CountDownLatch stopped;

    private AnalyticsApp(KafkaStreams streams, NodeStatusServer server, CurrentScorer scorer, RoleMetrics metrics,
                         MetricsServer metricsServer, CountDownLatch stopped) {
        this.streams = streams;
        this.server = server;
        this.scorer = scorer;
        this.metrics = metrics;
        this.metricsServer = metricsServer;
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
        RoleMetrics metrics = RoleMetrics.of("analytics", "analytics_instance", instanceId);
        MetricsServer metricsServer = null;
        NodeStatusServer server;
        try {
            // the separate endpoint first: a port in use stops the start before anything joins the group
            if (config.metricsPort() >= 0) {
                metricsServer = MetricsServer.start(metrics, config.metricsHost(), config.metricsPort(),
                        AnalyticsConfig.METRICS_PORT);
            }
            server = new NodeStatusServer(httpHost, httpPort);
        } catch (RuntimeException e) {
            if (metricsServer != null) {
                metricsServer.close();
            }
            metrics.close();
            throw e;
        }
        HostInfo address = server.address();

        Properties props = new Properties();
        props.put(StreamsConfig.APPLICATION_ID_CONFIG, config.applicationId());
        props.put(StreamsConfig.CLIENT_ID_CONFIG, config.applicationId() + "-" + instanceId);
        props.put(StreamsConfig.PROCESSING_GUARANTEE_CONFIG, StreamsConfig.EXACTLY_ONCE_V2);
        props.put(StreamsConfig.APPLICATION_SERVER_CONFIG, address.host() + ":" + address.port());
        props.put(StreamsConfig.STATE_DIR_CONFIG, stateDir.toString());
        props.put(StreamsConfig.NUM_STANDBY_REPLICAS_CONFIG, config.standbyReplicas());
        props.putAll(clientProperties);

        CurrentScorer scorer = CurrentScorer.of(config);
        AnalyticsMeters meters = new AnalyticsMeters(metrics.registry(), config.dryRun());
        scorer.onChange(meters::scorerInUse);
        InputLag.ConsumerLag inputLag = InputLag.ofConsumer();
        KafkaStreams streams = new KafkaStreams(AnalyticsTopology.buildTopology(config, scorer, meters, inputLag), props);
        inputLag.attach(streams);
        metrics.track(new KafkaStreamsMetrics(streams));
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
        server.start(streams, scorer, metrics, io.pmig.analytics.decisions.Cells.of(config));
        streams.start();
        log.info("analytics instance {} started (application {}, state in {}, dry run {})", instanceId,
                config.applicationId(), stateDir, config.dryRun());
        return new AnalyticsApp(streams, server, scorer, metrics, metricsServer, stopped);
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

    /** Where the separate /metrics endpoint listens ({@value AnalyticsConfig#METRICS_PORT}), or null without one. */
    public InetSocketAddress metricsAddress() {
        return metricsServer == null ? null : metricsServer.address();
    }

    /** The model version this instance scores with, or null while a rule does (analytics.scorer). */
    public String modelVersion() {
        return scorer.modelVersion();
    }

    /** Stops, leaving the consumer group at once so that the others take over without waiting for a timeout. */
    @Override
    public void close() {
        server.close();
        if (metricsServer != null) {
            metricsServer.close();
        }
        streams.close(CloseOptions.groupMembershipOperation(CloseOptions.GroupMembershipOperation.LEAVE_GROUP)
                .withTimeout(Duration.ofSeconds(30)));
        metrics.close();
    }
}
