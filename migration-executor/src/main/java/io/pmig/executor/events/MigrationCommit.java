package io.pmig.executor.events;

import io.pmig.executor.ExecutorConfig;
import io.pmig.platform.topics.Topic;
import io.pmig.schemas.MigrationEvent;
import java.time.Duration;
import java.util.Properties;
import org.apache.kafka.clients.producer.KafkaProducer;
import org.apache.kafka.clients.producer.ProducerConfig;
import org.apache.kafka.clients.producer.ProducerRecord;
import org.apache.kafka.common.KafkaException;
import org.apache.kafka.common.serialization.StringSerializer;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * A migration's COMPLETED, written in a Kafka transaction of its own ({@code transactional.id} {@value #ID_PREFIX}
 * + migration id), so that "did the destination commit?" has one answer that both sides can get.
 *
 * <p>Why: a plain send that timed out may still reach the log - the broker can append a request it took before it
 * stalled, after the destination gave its copy up - and a source that read that COMPLETED would kill the only
 * running copy. A transaction that was not committed stays invisible to read_committed readers, and
 * {@link #settle} ends the question for good: a new producer with the migration's transactional id fences the old
 * one (its commit fails from then on) and returns only once the broker has committed or aborted what the old one
 * began. After that, COMPLETED is either in the log or never will be. Either side settles: the destination when its
 * commit was not acknowledged (it keeps its copy stopped until then), the source when the COMMIT's answer was lost.
 * Both wait for the broker to answer: during a broker outage at the commit the workload stays frozen, it is never
 * lost or run twice.
 */
public final class MigrationCommit implements AutoCloseable {

    private static final Logger log = LoggerFactory.getLogger(MigrationCommit.class);
    private static final String ID_PREFIX = "pmig-commit-";
    private static final Duration SETTLE_RETRY = Duration.ofSeconds(1);

    private final KafkaProducer<String, MigrationEvent> producer;
    private final ExecutorMeters meters;

    private MigrationCommit(KafkaProducer<String, MigrationEvent> producer, ExecutorMeters meters) {
        this.producer = producer;
        this.meters = meters;
    }

    /**
     * The destination's commit producer, opened while preparing (before the freeze, so registering the transactional
     * id costs the workload no downtime).
     */
    public static MigrationCommit open(ExecutorConfig config, String migrationId, ExecutorMeters meters) {
        KafkaProducer<String, MigrationEvent> producer = producer(config, migrationId);
        try {
            producer.initTransactions();
        } catch (RuntimeException e) {
            producer.close(Duration.ZERO);
            throw e;
        }
        return new MigrationCommit(producer, meters);
    }

    /**
     * Publishes COMPLETED and commits it. True once the broker committed it; false if that is not known (timed out,
     * fenced, broker error): then only {@link #settle} can tell, and the caller must not resume or kill its copy
     * before it has.
     */
    public boolean publishCompleted(MigrationEvent completed) {
        try {
            producer.beginTransaction();
            producer.send(new ProducerRecord<>(Topic.EVENTS.topicName(), completed.getWorkloadId(), completed));
            producer.commitTransaction();
            meters.published(completed);
            log.info("event {} workload={} pid={} timings={} (committed)", completed.getPhase(), completed.getWorkloadId(),
                    completed.getPid(), completed.getTimings());
            return true;
        } catch (KafkaException | IllegalStateException e) {
            log.warn("COMPLETED of {} not acknowledged: {}; settling the commit", completed.getWorkloadId(), e.getMessage());
            return false;
        }
    }

    @Override
    public void close() {
        producer.close(Duration.ZERO);
    }

    /**
     * The final answer to "did this migration's destination commit?": fences the migration's commit producer, then
     * reads the workload's events. Blocks, retrying every second, until the broker answers; interrupted, it throws.
     */
    public static boolean settle(ExecutorConfig config, EventHistory history, String workloadId, String migrationId)
            throws InterruptedException {
        long attempts = 0;
        while (true) {
            KafkaProducer<String, MigrationEvent> fencing = producer(config, migrationId);
            try {
                fencing.initTransactions(); // fences the destination's producer; what it began is now committed or aborted
                boolean committed = history.completed(workloadId, migrationId);
                log.info("commit of {} settled: {}", workloadId, committed ? "COMPLETED is in the log" : "never committed");
                return committed;
            } catch (KafkaException | IllegalStateException e) {
                if (++attempts == 1 || attempts % 30 == 0) {
                    log.warn("cannot settle the commit of {} yet ({}); it stays frozen until the broker answers",
                            workloadId, e.getMessage());
                }
            } finally {
                fencing.close(Duration.ZERO); // an unanswered request must not hold the retry up
            }
            if (Thread.interrupted()) {
                throw new InterruptedException("settling the commit of " + workloadId);
            }
            Thread.sleep(SETTLE_RETRY.toMillis());
        }
    }

    /** The transactional id of a migration's commit: both sides derive it from the migration id alone. */
    public static String transactionalId(String migrationId) {
        return ID_PREFIX + migrationId;
    }

    private static KafkaProducer<String, MigrationEvent> producer(ExecutorConfig config, String migrationId) {
        Properties props = new Properties();
        props.putAll(config.kafka());
        props.put(ProducerConfig.TRANSACTIONAL_ID_CONFIG, transactionalId(migrationId));
        props.put(ProducerConfig.CLIENT_ID_CONFIG, "pmig-executor-" + config.node() + "-commit");
        props.put(ProducerConfig.ACKS_CONFIG, "all");
        props.put(ProducerConfig.ENABLE_IDEMPOTENCE_CONFIG, "true");
        props.put(ProducerConfig.LINGER_MS_CONFIG, "0");
        props.put(ProducerConfig.MAX_BLOCK_MS_CONFIG, String.valueOf(config.eventsMaxBlock().toMillis()));
        props.put(ProducerConfig.REQUEST_TIMEOUT_MS_CONFIG, String.valueOf(ExecutorConfig.EVENTS_REQUEST_TIMEOUT_MS));
        props.put(ProducerConfig.DELIVERY_TIMEOUT_MS_CONFIG, String.valueOf(config.eventsDeliveryTimeout().toMillis()));
        // a transaction nobody ends (both sides dead) is aborted by the coordinator after this
        props.put(ProducerConfig.TRANSACTION_TIMEOUT_CONFIG, String.valueOf(config.eventsPublishWait().toMillis()));
        return new KafkaProducer<>(props, new StringSerializer(), Topic.EVENTS.<MigrationEvent>serde().serializer());
    }
}
