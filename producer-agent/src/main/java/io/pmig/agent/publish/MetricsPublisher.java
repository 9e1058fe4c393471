package io.pmig.agent.publish;

import io.micrometer.core.instrument.simple.SimpleMeterRegistry;
import io.pmig.platform.config.ConfigException;
import io.pmig.platform.metrics.RoleMetrics;
import io.pmig.platform.topics.Topic;
import io.pmig.platform.topics.TopicCreator;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Properties;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.Future;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.TimeoutException;
import java.util.concurrent.atomic.AtomicLong;
import org.apache.kafka.clients.CommonClientConfigs;
import org.apache.kafka.clients.admin.AdminClientConfig;
import org.apache.kafka.clients.producer.KafkaProducer;
import org.apache.kafka.clients.producer.ProducerConfig;
import org.apache.kafka.clients.producer.ProducerRecord;
import org.apache.kafka.clients.producer.RecordMetadata;
import org.apache.kafka.common.KafkaException;
import org.apache.kafka.common.errors.RetriableException;
import org.apache.kafka.common.serialization.ByteArraySerializer;
import org.apache.kafka.common.serialization.StringSerializer;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;
import org.slf4j.MDC;

/**
 * Delivers buffered samples to {@code pmig.metrics} from its own thread, so the sampler never waits on Kafka.
 * <p>
 * Ordering and no loss within the buffer bound: the producer is idempotent with {@code acks=all} and an
 * unlimited delivery timeout, so a sample handed to it is retried in order until the broker takes it, across
 * any outage. This thread takes a chunk of at most {@value #MAX_CHUNK} samples from the head of the buffer,
 * sends it and waits for every acknowledgement before taking the next. At 1 Hz the chunk is the one sample just
 * taken; only a backlog after an outage makes chunks larger. So while the broker is away the producer holds
 * about one sample and everything newer waits in the {@link SampleBuffer}, which drops its oldest when full.
 * A sample the producer does give up on (metadata not available within {@code max.block.ms}, or a fatal
 * producer error) goes back to the head of the buffer, together with every later sample of its chunk that was
 * not acknowledged; after a fatal error the producer is replaced by a fresh one.
 */
public final class MetricsPublisher implements AutoCloseable {

    private static final Logger log = LoggerFactory.getLogger(MetricsPublisher.class);

    static final int MAX_CHUNK = 64;
    private static final long RETRY_PAUSE_MS = 1_000;
    private static final long MAX_RETRY_PAUSE_MS = 60_000;
    private static final long OUTAGE_WARN_AFTER_NANOS = TimeUnit.SECONDS.toNanos(10);
    private static final long OUTAGE_REPEAT_WARN_NANOS = TimeUnit.MINUTES.toNanos(5);

    private final String nodeId;
    private final Properties clientProperties;
    private final String bootstrapServers;
    private final SampleBuffer buffer;
    private final Thread thread;
    private final AtomicLong delivered = new AtomicLong();
    private final AgentMeters meters;
    private final RoleMetrics exported;
    private AutoCloseable producerMetrics;

    private volatile KafkaProducer<String, byte[]> producer;
    private volatile boolean stopping;
    private volatile long drainDeadlineNanos;
    private boolean topicsReady;
    private long outageSinceNanos;
    private long lastOutageWarnNanos;
    private long retryPauseMs = RETRY_PAUSE_MS;

    public MetricsPublisher(String nodeId, Properties clientProperties, SampleBuffer buffer) {
        this(nodeId, clientProperties, buffer, new AgentMeters(new SimpleMeterRegistry(), buffer), null);
    }

    /** @param exported where the producer's client metrics go as well; null: nowhere */
    public MetricsPublisher(String nodeId, Properties clientProperties, SampleBuffer buffer, AgentMeters meters,
                            RoleMetrics exported) {
        this.meters = meters;
        this.exported = exported;
        this.nodeId = nodeId;
        this.clientProperties = clientProperties;
        this.bootstrapServers = clientProperties.getProperty(CommonClientConfigs.BOOTSTRAP_SERVERS_CONFIG);
        this.buffer = buffer;
        this.thread = new Thread(this::run, "pmig-agent-sender");
        this.thread.setDaemon(true);
    }

    /** The agent's producer settings: the operator's client properties, with what ordering and no-loss need forced. */
    static Properties producerProperties(Properties clientProperties, String nodeId) {
        Properties props = new Properties();
        props.put(ProducerConfig.CLIENT_ID_CONFIG, "pmig-agent-" + nodeId);
        props.put(ProducerConfig.COMPRESSION_TYPE_CONFIG, "lz4"); // cheapest CPU of the codecs; metrics compress well
        props.put(ProducerConfig.LINGER_MS_CONFIG, "5");
        props.put(ProducerConfig.MAX_BLOCK_MS_CONFIG, "5000");
        props.put(ProducerConfig.BUFFER_MEMORY_CONFIG, String.valueOf(4 << 20)); // at most a chunk is ever inside
        props.put(ProducerConfig.RECONNECT_BACKOFF_MAX_MS_CONFIG, "5000");
        props.putAll(clientProperties);
        props.put(ProducerConfig.ENABLE_IDEMPOTENCE_CONFIG, "true");
        props.put(ProducerConfig.ACKS_CONFIG, "all");
        props.put(ProducerConfig.RETRIES_CONFIG, String.valueOf(Integer.MAX_VALUE));
        props.put(ProducerConfig.MAX_IN_FLIGHT_REQUESTS_PER_CONNECTION, "5");
        props.put(ProducerConfig.DELIVERY_TIMEOUT_MS_CONFIG, String.valueOf(Integer.MAX_VALUE));
        props.put(ProducerConfig.KEY_SERIALIZER_CLASS_CONFIG, StringSerializer.class.getName());
        props.put(ProducerConfig.VALUE_SERIALIZER_CLASS_CONFIG, ByteArraySerializer.class.getName());
        return props;
    }

    /**
     * Creates the producer here, on the caller's thread, so client properties Kafka rejects fail start-up
     * (creating it contacts no broker), then starts sending.
     */
    public void start() {
        try {
            producer = newProducer();
        } catch (KafkaException e) {
            Throwable cause = e.getCause() != null ? e.getCause() : e;
            throw new ConfigException("--client-config/--property", "Kafka rejected the producer settings: "
                    + cause.getMessage());
        }
        thread.start();
    }

    /** Samples acknowledged by Kafka since start. */
    public long delivered() {
        return delivered.get();
    }

    private void run() {
        MDC.put("node", nodeId);
        try {
            while (!stopping || (!buffer.isEmpty() && System.nanoTime() < drainDeadlineNanos)) {
                if (!topicsReady) {
                    topicsReady = tryEnsureTopics();
                    if (!topicsReady) {
                        Thread.sleep(RETRY_PAUSE_MS);
                        continue;
                    }
                }
                List<BufferedSample> chunk = buffer.take(MAX_CHUNK, 200);
                if (chunk.isEmpty()) {
                    continue;
                }
                List<BufferedSample> unsent = deliver(chunk);
                if (!unsent.isEmpty()) {
                    buffer.returnToHead(unsent);
                    Thread.sleep(retryPauseMs);
                }
            }
        } catch (InterruptedException e) {
            // close() gave up waiting for the drain
        } catch (RuntimeException e) {
            log.error("metrics sender stopped unexpectedly; samples stay buffered but are no longer sent", e);
        } finally {
            closeProducer(Duration.ofSeconds(1));
        }
    }

    /** Sends a chunk in order and waits for every acknowledgement; returns the samples not delivered, in order. */
    private List<BufferedSample> deliver(List<BufferedSample> chunk) throws InterruptedException {
        KafkaProducer<String, byte[]> current = producer();
        List<Future<RecordMetadata>> pending = new ArrayList<>(chunk.size());
        Throwable failure = null;
        for (BufferedSample sample : chunk) {
            Future<RecordMetadata> future;
            try {
                future = current.send(new ProducerRecord<>(Topic.METRICS.topicName(), nodeId, sample.value()));
            } catch (RuntimeException e) {
                failure = e;
                break;
            }
            if (future.isDone() && failureOf(future) != null) {
                // Failed before leaving this thread (no metadata within max.block.ms): nothing later may overtake it.
                failure = failureOf(future);
                break;
            }
            pending.add(future);
        }
        List<BufferedSample> unsent = new ArrayList<>();
        for (int i = 0; i < pending.size(); i++) {
            Throwable error = awaitAcknowledgement(pending.get(i));
            if (error == null) {
                delivered.incrementAndGet();
                meters.published(chunk.get(i).takenAtNanos());
                noteDelivered();
                retryPauseMs = RETRY_PAUSE_MS;
            } else {
                failure = failure == null ? error : failure;
                unsent.add(chunk.get(i));
            }
        }
        unsent.addAll(chunk.subList(pending.size(), chunk.size()));
        if (failure != null) {
            handleFailure(failure, unsent.size());
        }
        return unsent;
    }

    private Throwable awaitAcknowledgement(Future<RecordMetadata> future) throws InterruptedException {
        while (true) {
            try {
                future.get(1, TimeUnit.SECONDS);
                return null;
            } catch (ExecutionException e) {
                return e.getCause();
            } catch (TimeoutException stillWaiting) {
                noteWaiting();
            }
        }
    }

    private static Throwable failureOf(Future<RecordMetadata> done) {
        try {
            done.get();
            return null;
        } catch (ExecutionException e) {
            return e.getCause();
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            return e;
        }
    }

    private void handleFailure(Throwable failure, int unsent) {
        if (failure instanceof RetriableException) {
            noteWaiting();
            log.debug("{} samples not sent yet: {}", unsent, failure.toString());
            return;
        }
        if (stopping) {
            return; // the producer was closed under us to end the drain
        }
        // Not retriable (authorization, fenced producer, ...): back off so a lasting cause does not flood the log.
        retryPauseMs = Math.min(MAX_RETRY_PAUSE_MS, retryPauseMs * 2);
        log.warn("Kafka producer failed ({}); {} samples go back to the buffer and a fresh producer retries in {} s",
                failure.toString(), unsent, retryPauseMs / 1000);
        closeProducer(Duration.ZERO);
    }

    private void noteWaiting() {
        long now = System.nanoTime();
        if (outageSinceNanos == 0) {
            outageSinceNanos = now;
            return;
        }
        boolean due = lastOutageWarnNanos == 0
                ? now - outageSinceNanos >= OUTAGE_WARN_AFTER_NANOS
                : now - lastOutageWarnNanos >= OUTAGE_REPEAT_WARN_NANOS;
        if (due) {
            lastOutageWarnNanos = now;
            log.warn("no acknowledgement from Kafka (bootstrap.servers={}) for {} s; sampling continues into the "
                            + "buffer ({} of {} held, {} dropped so far)", bootstrapServers,
                    TimeUnit.NANOSECONDS.toSeconds(now - outageSinceNanos), buffer.size(), buffer.capacity(),
                    buffer.dropped());
        }
    }

    private void noteDelivered() {
        if (outageSinceNanos != 0 && lastOutageWarnNanos != 0) {
            log.info("Kafka reachable again after {} s; delivering {} buffered samples in order",
                    TimeUnit.NANOSECONDS.toSeconds(System.nanoTime() - outageSinceNanos), buffer.size());
        }
        outageSinceNanos = 0;
        lastOutageWarnNanos = 0;
    }

    private boolean tryEnsureTopics() {
        Properties admin = new Properties();
        admin.putAll(clientProperties);
        // Fail fast while the broker is away; this thread retries.
        admin.put(AdminClientConfig.DEFAULT_API_TIMEOUT_MS_CONFIG, "5000");
        admin.put(AdminClientConfig.REQUEST_TIMEOUT_MS_CONFIG, "5000");
        try {
            TopicCreator.ensureTopics(admin);
            return true;
        } catch (RuntimeException e) {
            noteWaiting();
            log.debug("pmig topics not ensured yet at bootstrap.servers={}: {}", bootstrapServers, e.getMessage());
            return false;
        }
    }

    private KafkaProducer<String, byte[]> producer() {
        KafkaProducer<String, byte[]> current = producer;
        if (current == null) {
            current = newProducer();
            producer = current;
        }
        return current;
    }

    private KafkaProducer<String, byte[]> newProducer() {
        KafkaProducer<String, byte[]> created = new KafkaProducer<>(producerProperties(clientProperties, nodeId));
        if (exported != null) {
            producerMetrics = exported.bind(created);
        }
        return created;
    }

    private void closeProducer(Duration timeout) {
        KafkaProducer<String, byte[]> current = producer;
        producer = null;
        if (current != null) {
            closeProducerMetrics();
            current.close(timeout);
        }
    }

    private void closeProducerMetrics() {
        AutoCloseable binding = producerMetrics;
        producerMetrics = null;
        if (binding != null) {
            try {
                binding.close();
            } catch (Exception e) {
                log.debug("unbinding the producer's metrics: {}", e.toString());
            }
        }
    }

    /** Stops sending after trying to deliver what is buffered for up to drainTimeout. */
    public void close(Duration drainTimeout) {
        drainDeadlineNanos = System.nanoTime() + drainTimeout.toNanos();
        stopping = true;
        try {
            thread.join(drainTimeout.toMillis() + 1_000);
            if (thread.isAlive()) {
                KafkaProducer<String, byte[]> current = producer;
                if (current != null) {
                    current.close(Duration.ZERO); // fails what is in flight, which wakes the sender
                }
                thread.interrupt();
                thread.join(5_000);
            }
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
        }
        if (!buffer.isEmpty()) {
            log.warn("stopping with {} samples undelivered (Kafka at bootstrap.servers={} did not take them)",
                    buffer.size(), bootstrapServers);
        }
    }

    @Override
    public void close() {
        close(Duration.ofSeconds(5));
    }
}
