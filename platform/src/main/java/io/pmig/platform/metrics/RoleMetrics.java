package io.pmig.platform.metrics;

import io.micrometer.core.instrument.Counter;
import io.micrometer.core.instrument.MeterRegistry;
import io.micrometer.core.instrument.Tags;
import io.micrometer.core.instrument.binder.MeterBinder;
import io.micrometer.core.instrument.binder.jvm.ClassLoaderMetrics;
import io.micrometer.core.instrument.binder.jvm.JvmGcMetrics;
import io.micrometer.core.instrument.binder.jvm.JvmMemoryMetrics;
import io.micrometer.core.instrument.binder.jvm.JvmThreadMetrics;
import io.micrometer.core.instrument.binder.kafka.KafkaClientMetrics;
import io.micrometer.core.instrument.binder.system.FileDescriptorMetrics;
import io.micrometer.core.instrument.binder.system.ProcessorMetrics;
import io.micrometer.core.instrument.binder.system.UptimeMetrics;
import io.micrometer.prometheusmetrics.PrometheusConfig;
import io.micrometer.prometheusmetrics.PrometheusMeterRegistry;
import java.util.List;
import java.util.concurrent.CopyOnWriteArrayList;
import org.apache.kafka.clients.consumer.Consumer;
import org.apache.kafka.clients.producer.Producer;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * One role's meters in one Prometheus registry: every series carries {@code role} (agent, analytics, executor,
 * dashboard) and the role's identity tag ({@code node} for an agent or executor, {@code analytics_instance} for
 * analytics), so several roles in one JVM (the demo) and several nodes behind one Prometheus stay apart. JVM basics
 * are bound at creation; the role binds its Kafka clients with {@link #bind(Producer)}, {@link #bind(Consumer)} and
 * {@link #track} (Kafka Streams). Exposed over HTTP by {@link MetricsServer}.
 */
public final class RoleMetrics implements AutoCloseable {

    private static final Logger log = LoggerFactory.getLogger(RoleMetrics.class);

    /** Records put on pmig.dlq, by the role that met them ({@code stage}) and the topic they came from. */
    public static final String DEAD_LETTERS = "pmig.dlq.records";

    private final PrometheusMeterRegistry registry = new PrometheusMeterRegistry(PrometheusConfig.DEFAULT);
    private final List<AutoCloseable> binders = new CopyOnWriteArrayList<>();

    private RoleMetrics(Tags common) {
        registry.config().commonTags(common);
        for (MeterBinder binder : new MeterBinder[] {new JvmMemoryMetrics(), new JvmGcMetrics(), new JvmThreadMetrics(),
                new ClassLoaderMetrics(), new ProcessorMetrics(), new UptimeMetrics(), new FileDescriptorMetrics()}) {
            binder.bindTo(registry);
            if (binder instanceof AutoCloseable closeable) {
                binders.add(closeable);
            }
        }
    }

    /** A registry whose series carry {@code role=<role>} and {@code <identityTag>=<identity>}. */
    public static RoleMetrics of(String role, String identityTag, String identity) {
        return new RoleMetrics(Tags.of("role", role, identityTag, identity));
    }

    /** The {@value #DEAD_LETTERS} counter of one stage and source topic; every role that dead-letters uses it. */
    public static Counter deadLetters(MeterRegistry registry, String stage, String sourceTopic) {
        return Counter.builder(DEAD_LETTERS).description("Records put on pmig.dlq because they could not be decoded")
                .tag("stage", stage).tag("source_topic", sourceTopic).register(registry);
    }

    public MeterRegistry registry() {
        return registry;
    }

    /** Every series in Prometheus' text exposition format (version 0.0.4). */
    public String scrape() {
        return registry.scrape();
    }

    /** Exports a producer's client metrics ({@code kafka_producer_*}) until the returned handle or this is closed. */
    public AutoCloseable bind(Producer<?, ?> producer) {
        return track(new KafkaClientMetrics(producer));
    }

    /** Exports a consumer's client metrics ({@code kafka_consumer_*}). */
    public AutoCloseable bind(Consumer<?, ?> consumer) {
        return track(new KafkaClientMetrics(consumer));
    }

    /**
     * Binds a binder that holds resources (Kafka's binders refresh on a thread of their own) until the returned handle
     * or this is closed; analytics binds its {@code KafkaStreamsMetrics} so.
     */
    public <B extends MeterBinder & AutoCloseable> AutoCloseable track(B binder) {
        binder.bindTo(registry);
        binders.add(binder);
        return () -> {
            if (binders.remove(binder)) {
                closeQuietly(binder);
            }
        };
    }

    private static void closeQuietly(AutoCloseable closeable) {
        try {
            closeable.close();
        } catch (Exception e) {
            log.debug("closing a metrics binder: {}", e.toString());
        }
    }

    @Override
    public void close() {
        binders.forEach(RoleMetrics::closeQuietly);
        binders.clear();
        registry.close();
    }
}
