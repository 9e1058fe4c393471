package io.pmig.analytics;

import static io.pmig.analytics.Samples.MIB;
import static io.pmig.analytics.Samples.sample;
import static io.pmig.analytics.Samples.workload;
import static org.awaitility.Awaitility.await;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.pmig.analytics.training.DefaultModel;
import io.pmig.analytics.training.ModelPublisher;
import io.pmig.platform.config.ConfigException;
import io.pmig.platform.testing.Scrape;
import io.pmig.platform.testing.SharedBroker;
import io.pmig.platform.topics.Topic;
import io.pmig.schemas.ModelUpdate;
import io.pmig.schemas.NodeMetrics;
import io.pmig.schemas.serde.AvroSerde;
import java.net.InetAddress;
import java.net.ServerSocket;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.time.Duration;
import java.util.Map;
import java.util.Properties;
import java.util.UUID;
import java.util.concurrent.atomic.AtomicBoolean;
import org.apache.kafka.clients.producer.KafkaProducer;
import org.apache.kafka.clients.producer.ProducerConfig;
import org.apache.kafka.clients.producer.ProducerRecord;
import org.apache.kafka.common.serialization.ByteArraySerializer;
import org.apache.kafka.common.serialization.StringSerializer;
import org.junit.jupiter.api.Test;

/**
 * One real analytics instance on the embedded broker with its own /metrics port: a hot node next to a cool one makes it
 * decide a move, a corrupt record goes to the DLQ, a published model replaces the trend rule (analytics.scorer=model); each
 * shows in the
 * Prometheus series, scraped over HTTP from the metrics port and from the query port.
 */
class AnalyticsMetricsTest {

    @Test
    void decisionsScoresDeadLettersAndTheModelInUseAreScrapedFromBothPorts() throws Exception {
        String run = UUID.randomUUID().toString().substring(0, 8);
        String hot = "metrics-hot-" + run;
        String cool = "metrics-cool-" + run;
        String modelKey = "metrics-model-" + run; // no other test's model is in use here
        AnalyticsConfig config = AnalyticsConfig.of(Map.of(
                AnalyticsConfig.APPLICATION_ID, "analytics-metrics-" + run,
                AnalyticsConfig.MODEL_KEY, modelKey,
                AnalyticsConfig.SCORER, "model",
                AnalyticsConfig.WINDOW_SIZE_MS, "2000",
                AnalyticsConfig.WINDOW_ADVANCE_MS, "500",
                AnalyticsConfig.WINDOW_GRACE_MS, "200",
                AnalyticsConfig.PUNCTUATE_INTERVAL_MS, "200",
                AnalyticsConfig.NODE_DOWN_AFTER_MS, "30000",
                AnalyticsConfig.METRICS_HOST, "127.0.0.1",
                AnalyticsConfig.METRICS_PORT, "0"));
        Properties client = SharedBroker.clientProperties();
        client.put("commit.interval.ms", "100");
        AtomicBoolean producing = new AtomicBoolean(true);
        try (AnalyticsApp app = AnalyticsApp.start(config, client, "metrics-" + run, "127.0.0.1", 0,
                Files.createTempDirectory("analytics-metrics-"))) {
            String metricsUrl = "http://127.0.0.1:" + app.metricsAddress().getPort() + "/metrics";
            Scrape before = Scrape.of(metricsUrl);
            assertEquals(1, before.value("pmig_analytics_model_info", "scorer", "trend-rule", "role", "analytics"));
            assertEquals(0, before.value("pmig_analytics_decisions_total", "trigger", "MODEL", "dry_run", "false"));

            Thread producer = new Thread(() -> produce(hot, cool, producing), "metrics-producer");
            producer.start();
            try (KafkaProducer<String, byte[]> raw = producer()) {
                raw.send(new ProducerRecord<>(Topic.METRICS.topicName(), cool, "not avro".getBytes(StandardCharsets.UTF_8))).get();
            }
            await().atMost(Duration.ofSeconds(60)).until(() -> Scrape.of(metricsUrl)
                    .value("pmig_analytics_decisions_total", "trigger", "THRESHOLD", "dry_run", "false") >= 1);
            await().atMost(Duration.ofSeconds(30)).until(() -> Scrape.of(metricsUrl)
                    .value("pmig_dlq_records_total", "stage", "analytics", "source_topic", "pmig.metrics") >= 1);

            for (String url : new String[] {metricsUrl, app.httpAddress() + "/metrics"}) {
                Scrape scrape = Scrape.of(url);
                String instance = "metrics-" + run;
                assertTrue(scrape.value("pmig_analytics_decisions_total", "trigger", "THRESHOLD",
                        "analytics_instance", instance) >= 1, url);
                double hotScore = scrape.value("pmig_analytics_node_score", "node", hot);
                double coolScore = scrape.value("pmig_analytics_node_score", "node", cool);
                assertTrue(hotScore >= 0.5 && hotScore <= 1, url + " hot node's score " + hotScore);
                assertTrue(coolScore < hotScore, url + " cool " + coolScore + " < hot " + hotScore);
                double scored = scrape.value("pmig_analytics_score_count", "scorer", "trend-rule");
                assertTrue(scored >= 2, url + " windows scored " + scored);
                assertEquals(scored, scrape.value("pmig_analytics_score_bucket", "scorer", "trend-rule", "le", "1.0"), url);
                assertTrue(scrape.value("pmig_analytics_score_bucket", "scorer", "trend-rule", "le", "0.1") < scored,
                        url + ": the hot node's windows score above 0.1");
                assertTrue(scrape.hasPrefix("kafka_stream_"), url + ": Kafka Streams metrics");
                assertTrue(scrape.value("jvm_threads_live_threads", "role", "analytics") > 0, url);
            }

            ModelUpdate model = DefaultModel.load();
            ModelPublisher.publish(SharedBroker.clientProperties(), modelKey, model);
            String version = model.getVersion().toString();
            await().atMost(Duration.ofSeconds(30)).until(() -> Scrape.of(metricsUrl)
                    .value("pmig_analytics_model_info", "scorer", "model", "version", version) == 1);
            assertTrue(Scrape.of(metricsUrl).find("pmig_analytics_model_info", "scorer", "trend-rule").isEmpty(),
                    "the trend rule is no longer reported in use");
            producing.set(false);
            producer.join();
        } finally {
            producing.set(false);
        }
    }

    @Test
    void aMetricsPortInUseStopsTheStartNamingTheKeyAndTheAddress() throws Exception {
        try (ServerSocket taken = new ServerSocket(0, 1, InetAddress.getLoopbackAddress())) {
            AnalyticsConfig config = AnalyticsConfig.of(Map.of(AnalyticsConfig.METRICS_HOST, "127.0.0.1",
                    AnalyticsConfig.METRICS_PORT, String.valueOf(taken.getLocalPort())));
            ConfigException e = assertThrows(ConfigException.class, () -> AnalyticsApp.start(config,
                    SharedBroker.clientProperties(), "port-taken", "127.0.0.1", 0, Files.createTempDirectory("analytics-port-")));
            assertEquals(AnalyticsConfig.METRICS_PORT, e.key());
            assertTrue(e.getMessage().contains("127.0.0.1:" + taken.getLocalPort()), e.getMessage());
        }
    }

    private static KafkaProducer<String, byte[]> producer() {
        Properties props = SharedBroker.clientProperties();
        props.put(ProducerConfig.LINGER_MS_CONFIG, "0");
        return new KafkaProducer<>(props, new StringSerializer(), new ByteArraySerializer());
    }

    /** Every 250 ms: the hot node at 95% CPU with a migratable workload, the cool one at 10%. */
    private static void produce(String hot, String cool, AtomicBoolean producing) {
        AvroSerde<NodeMetrics> serde = AvroSerde.of(NodeMetrics.class);
        try (KafkaProducer<String, byte[]> producer = producer()) {
            while (producing.get()) {
                long now = System.currentTimeMillis();
                producer.send(new ProducerRecord<>(Topic.METRICS.topicName(), hot,
                        serde.encode(sample(hot, now, 95, 0.3, workload("wl-" + hot, 150, 64 * MIB, true)))));
                producer.send(new ProducerRecord<>(Topic.METRICS.topicName(), cool, serde.encode(sample(cool, now, 10, 0.2))));
                producer.flush();
                Thread.sleep(250);
            }
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
        }
    }
}
