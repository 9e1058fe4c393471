package io.pmig.executor.events;

import io.micrometer.core.instrument.simple.SimpleMeterRegistry;
import io.pmig.executor.ExecutorConfig;
import io.pmig.platform.metrics.RoleMetrics;
import io.pmig.platform.topics.Topic;
import io.pmig.schemas.MigrationEvent;
import io.pmig.schemas.Phase;
import io.pmig.schemas.PhaseTimings;
import java.util.Properties;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.TimeoutException;
import org.apache.kafka.clients.producer.KafkaProducer;
import org.apache.kafka.clients.producer.ProducerConfig;
import org.apache.kafka.clients.producer.ProducerRecord;
import org.apache.kafka.clients.producer.RecordMetadata;
import org.apache.kafka.common.serialization.StringSerializer;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Writes this node's events to pmig.events, keyed by workload id so every event of a workload is in one
 * partition, in order. Sends are synchronous: an event is the record other nodes (and a restarted executor)
 * decide on - except the progress events of a frozen workload ({@link #publishProgress}). A destination's COMPLETED
 * is committed in a transaction of its own ({@link #openCommit}).
 */
public final class EventPublisher implements AutoCloseable {

    private static final Logger log = LoggerFactory.getLogger(EventPublisher.class);

    private final KafkaProducer<String, MigrationEvent> producer;
    private final String node;
    private final java.time.Duration publishWait;
    private final ExecutorMeters meters;
    private final ExecutorConfig config;

    /**
     * A send may take the config's max block plus delivery timeout before the producer gives up on it, which is less
     * than {@link #publish}'s wait (checked by {@link ExecutorConfig}). Even so a send that failed can reach the log
     * later, which is why COMPLETED goes through a {@link MigrationCommit} instead.
     */
    public EventPublisher(ExecutorConfig config) {
        this(config, new ExecutorMeters(new SimpleMeterRegistry()), null);
    }

    /** Counts what it publishes in meters; exports its producer's client metrics to exported unless null. */
    public EventPublisher(ExecutorConfig config, ExecutorMeters meters, RoleMetrics exported) {
        this.meters = meters;
        this.config = config;
        Properties props = new Properties();
        props.putAll(config.kafka());
        props.put(ProducerConfig.ACKS_CONFIG, "all");
        props.put(ProducerConfig.ENABLE_IDEMPOTENCE_CONFIG, "true");
        props.put(ProducerConfig.LINGER_MS_CONFIG, "0");
        props.put(ProducerConfig.CLIENT_ID_CONFIG, "pmig-executor-" + config.node());
        props.put(ProducerConfig.MAX_BLOCK_MS_CONFIG, String.valueOf(config.eventsMaxBlock().toMillis()));
        props.put(ProducerConfig.REQUEST_TIMEOUT_MS_CONFIG, String.valueOf(ExecutorConfig.EVENTS_REQUEST_TIMEOUT_MS));
        props.put(ProducerConfig.DELIVERY_TIMEOUT_MS_CONFIG, String.valueOf(config.eventsDeliveryTimeout().toMillis()));
        this.producer = new KafkaProducer<>(props, new StringSerializer(), Topic.EVENTS.<MigrationEvent>serde().serializer());
        this.node = config.node();
        this.publishWait = config.eventsPublishWait();
        if (exported != null) {
            exported.bind(producer); // unbound when the registry closes, after this producer
        }
    }

    /** A new event from this node with zero timings; the caller fills what it knows. */
    public MigrationEvent.Builder event(String commandId, String migrationId, String workloadId, Phase phase) {
        return MigrationEvent.newBuilder()
                .setCommandId(commandId)
                .setMigrationId(migrationId)
                .setWorkloadId(workloadId)
                .setNode(node)
                .setPhase(phase)
                .setTimings(PhaseTimings.newBuilder().build())
                .setTimestampMs(System.currentTimeMillis());
    }

    /** A migration's COMPLETED transaction, opened by its destination while preparing ({@link MigrationCommit}). */
    public MigrationCommit openCommit(String migrationId) {
        return MigrationCommit.open(config, migrationId, meters);
    }

    /** Waits until every event sent so far was acknowledged or failed (at most the delivery timeout). */
    public void flushProgress() {
        producer.flush();
    }

    /** Publishes and waits for the broker's acknowledgement; returns the record's offset. */
    public long publish(MigrationEvent.Builder builder) {
        MigrationEvent event = builder.setTimestampMs(System.currentTimeMillis()).build();
        try {
            RecordMetadata meta = producer.send(new ProducerRecord<>(Topic.EVENTS.topicName(), event.getWorkloadId(), event))
                    .get(publishWait.toMillis(), TimeUnit.MILLISECONDS);
            log.info("event {} workload={} pid={}{}{}", event.getPhase(), event.getWorkloadId(), event.getPid(),
                    event.getError() == null ? "" : " error=" + event.getError(),
                    event.getTimings().getTotalMs() == 0 ? "" : " timings=" + event.getTimings());
            meters.published(event);
            return meta.offset();
        } catch (ExecutionException | TimeoutException e) {
            throw new IllegalStateException("cannot publish " + event.getPhase() + " to " + Topic.EVENTS.topicName()
                    + ": " + e.getMessage(), e);
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            throw new IllegalStateException("interrupted while publishing " + event.getPhase(), e);
        }
    }

    /**
     * Publishes an outcome that must reach the log even if the broker is away now (a rollback, a given-up copy):
     * tries once and returns true if the broker took it; otherwise keeps trying in the background with bounded
     * exponential back-off (200 ms doubling, at most 30 s apart) and runs {@code onPublished} once it went out.
     * Until then the caller keeps its journal, so an executor restarted meanwhile publishes it again.
     */
    public boolean publishEventually(MigrationEvent.Builder builder, Runnable onPublished) {
        try {
            publish(builder);
            onPublished.run();
            return true;
        } catch (IllegalStateException e) {
            log.warn("{}; retrying in the background", e.getMessage());
        }
        String mdcNode = org.slf4j.MDC.get("node");
        String mdcMigration = org.slf4j.MDC.get("migration");
        Thread retry = new Thread(() -> {
            org.slf4j.MDC.put("node", mdcNode == null ? node : mdcNode);
            if (mdcMigration != null) {
                org.slf4j.MDC.put("migration", mdcMigration);
            }
            for (int attempt = 1; ; attempt++) {
                try {
                    Thread.sleep(Math.min(30_000, 200L << Math.min(attempt, 8)));
                    publish(builder);
                    onPublished.run();
                    return;
                } catch (IllegalStateException e) {
                    log.warn("{} (attempt {})", e.getMessage(), attempt);
                } catch (InterruptedException e) {
                    return; // closing: the journal stays for the next start
                }
            }
        }, "pmig-publish-" + builder.getWorkloadId());
        retry.setDaemon(true);
        retry.start();
        return false;
    }

    /**
     * Publishes without waiting for the broker: for the progress events nobody decides on (FROZEN, DUMPED, TRANSFERRED,
     * RESTORED), which are sent while the workload is frozen, where each acknowledgement would add a round trip to its
     * downtime (and a broker outage all of its length). Order is kept - one idempotent producer, one partition per
     * workload - so the next synchronous {@link #publish} (COMPLETED, ROLLED_BACK) is acknowledged only after them.
     */
    public void publishProgress(MigrationEvent.Builder builder) {
        MigrationEvent event = builder.setTimestampMs(System.currentTimeMillis()).build();
        producer.send(new ProducerRecord<>(Topic.EVENTS.topicName(), event.getWorkloadId(), event), (meta, e) -> {
            if (e != null) { // on the producer's thread: no MDC, so the migration id goes into the message
                log.warn("[mig={}] cannot publish {} of {}: {}", event.getMigrationId(), event.getPhase(),
                        event.getWorkloadId(), e.getMessage());
            }
        });
        meters.published(event);
        log.info("event {} workload={} pid={}{} (sent)", event.getPhase(), event.getWorkloadId(), event.getPid(),
                event.getTimings().getTotalMs() == 0 ? "" : " timings=" + event.getTimings());
    }

    @Override
    public void close() {
        producer.close();
    }
}
