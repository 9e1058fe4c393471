package io.pmig.executor.node;

import io.pmig.executor.ExecutorConfig;
import io.pmig.executor.events.ReaderOutages;
import io.pmig.platform.config.ConfigException;
import io.pmig.platform.nodes.NodeRegistry;
import io.pmig.platform.topics.Topic;
import io.pmig.schemas.ClaimState;
import io.pmig.schemas.ExecutorClaim;
import java.io.IOException;
import java.net.ConnectException;
import java.net.InetSocketAddress;
import java.net.Socket;
import java.net.SocketTimeoutException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.Optional;
import java.util.OptionalLong;
import java.util.Properties;
import java.util.UUID;
import java.util.concurrent.TimeUnit;
import java.util.function.Consumer;
import org.apache.kafka.clients.consumer.ConsumerRecord;
import org.apache.kafka.clients.consumer.KafkaConsumer;
import org.apache.kafka.clients.producer.KafkaProducer;
import org.apache.kafka.clients.producer.ProducerConfig;
import org.apache.kafka.clients.producer.ProducerRecord;
import org.apache.kafka.common.KafkaException;
import org.apache.kafka.common.errors.InterruptException;
import org.apache.kafka.common.errors.WakeupException;
import org.apache.kafka.common.serialization.StringSerializer;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;
import org.slf4j.MDC;

/**
 * This executor's claim on its node id: its entry in the node registry (pmig.nodes) and the fence that keeps one
 * executor per node id.
 *
 * <p>Why a claim record plus a liveness check rather than the command consumer group alone: the group keeps static
 * membership so that an executor restarted after a crash gets its partitions back at once, but static membership
 * cannot tell a restart from a duplicate - any second executor with the same id fences the first, silently. A
 * dynamic group would instead make the restart wait out its dead predecessor's session. The claim tells the two
 * apart: the holder counts as alive while its process is - on the same host, its pid still runs with the same start
 * time; on another host, its heartbeat is fresh and its transfer port still accepts connections (a killed process's
 * port refuses at once) - so a duplicate is refused, naming the running executor, and a restart after kill -9 takes
 * over without waiting. Claims race safely through {@link NodeRegistry#apply}. A holder that sees another executor
 * become the holder stops acting ({@code onLost}).
 */
final class NodeClaim implements AutoCloseable {

    private static final Logger log = LoggerFactory.getLogger(NodeClaim.class);
    static final Duration HEARTBEAT = Duration.ofSeconds(1);
    /** A holder on another host that has not confirmed its claim for this long is presumed dead. */
    static final Duration STALE_AFTER = Duration.ofSeconds(10);
    private static final Duration READ_TIMEOUT = Duration.ofSeconds(10);

    private final String node;
    private final Properties kafka;
    private final Path workdir;
    private final NodeRegistry registry = new NodeRegistry();
    private final KafkaConsumer<String, ExecutorClaim> consumer;
    private final KafkaProducer<String, ExecutorClaim> producer;
    private final ExecutorClaim.Builder mine;
    private final ReaderOutages registryOutages = new ReaderOutages(log, "node registry reader");
    private Thread watcher;
    private volatile boolean holding;
    private volatile boolean closing;

    private NodeClaim(ExecutorConfig config) {
        this.node = config.node();
        this.kafka = config.kafka();
        this.workdir = config.workdir();
        this.consumer = NodeRegistry.consumerOf(kafka, node);
        Properties props = (Properties) kafka.clone();
        props.put(ProducerConfig.ACKS_CONFIG, "all");
        props.put(ProducerConfig.ENABLE_IDEMPOTENCE_CONFIG, "true");
        props.put(ProducerConfig.CLIENT_ID_CONFIG, "pmig-executor-" + node + "-claim");
        props.put(ProducerConfig.DELIVERY_TIMEOUT_MS_CONFIG, "10000");
        props.put(ProducerConfig.REQUEST_TIMEOUT_MS_CONFIG, "5000");
        this.producer = new KafkaProducer<>(props, new StringSerializer(), Topic.NODES.<ExecutorClaim>serde().serializer());
        long pid = ProcessHandle.current().pid();
        this.mine = ExecutorClaim.newBuilder().setNode(node).setIncarnation(UUID.randomUUID().toString())
                .setPreviousIncarnation(null).setState(ClaimState.ACTIVE).setHost(readProc("sys/kernel/hostname"))
                .setBootId(bootId()).setPid(pid).setProcessStartTicks(startTicks(pid).orElse(0))
                .setTransferEndpoint("").setWorkdir(workdir.toString()).setStartedAtMs(System.currentTimeMillis())
                .setHeartbeatMs(System.currentTimeMillis()).setHeartbeatIntervalMs(HEARTBEAT.toMillis());
    }

    /**
     * Reads the registry and refuses (a {@link ConfigException} on --node naming the running executor) if another
     * live executor holds this node id. Call before touching the node's workloads.
     */
    static NodeClaim check(ExecutorConfig config) {
        NodeClaim claim = new NodeClaim(config);
        try {
            claim.registry.catchUp(claim.consumer, READ_TIMEOUT);
            Optional<ExecutorClaim> holder = claim.registry.holder(claim.node);
            if (holder.isPresent() && claim.alive(holder.get())) {
                throw claim.refusal(holder.get());
            }
            claim.mine.setPreviousIncarnation(holder.map(ExecutorClaim::getIncarnation).orElse(null));
            holder.ifPresent(h -> log.info("node {} taken over from the executor that {} ({})", claim.node,
                    h.getState() == ClaimState.STOPPED ? "stopped" : "no longer runs", NodeRegistry.describe(h)));
            return claim;
        } catch (RuntimeException e) {
            claim.closeClients();
            throw e;
        }
    }

    /**
     * Writes the claim with the transfer endpoint, confirms it won (else refuses like {@link #check}), and keeps it:
     * a heartbeat every {@link #HEARTBEAT}, and {@code onLost} called once if another executor takes the node over.
     */
    void take(InetSocketAddress transferEndpoint, Consumer<ExecutorClaim> onLost) {
        String host = transferEndpoint.getAddress() != null ? transferEndpoint.getAddress().getHostAddress()
                : transferEndpoint.getHostString();
        mine.setTransferEndpoint(host + ":" + transferEndpoint.getPort());
        send(mine.setHeartbeatMs(System.currentTimeMillis()).build(), true);
        registry.catchUp(consumer, READ_TIMEOUT);
        ExecutorClaim holder = registry.holder(node).orElseThrow();
        if (!holder.getIncarnation().equals(mine.getIncarnation())) {
            throw refusal(holder); // another executor's claim reached the log first
        }
        holding = true;
        watcher = new Thread(() -> keep(onLost), "pmig-executor-" + node + "-claim");
        watcher.setDaemon(true);
        watcher.start();
    }

    String incarnation() {
        return mine.getIncarnation();
    }

    private void keep(Consumer<ExecutorClaim> onLost) {
        MDC.put("node", node);
        long nextBeat = System.nanoTime() + HEARTBEAT.toNanos();
        try {
            while (!closing && holding) {
                if (System.nanoTime() >= nextBeat) { // first: a registry that cannot be read must not stop the beats
                    send(mine.setHeartbeatMs(System.currentTimeMillis()).build(), false);
                    nextBeat = System.nanoTime() + HEARTBEAT.toNanos();
                }
                try {
                    for (ConsumerRecord<String, ExecutorClaim> record : consumer.poll(Duration.ofMillis(200))) {
                        if (node.equals(record.key())) {
                            registry.accept(record.key(), record.value());
                        }
                    }
                    registryOutages.succeeded();
                } catch (WakeupException | InterruptException e) {
                    return; // closing
                } catch (KafkaException e) {
                    // the broker away, READ on the registry denied: not a lost claim - ending here would fence this
                    // executor for good, deaf to its commands while its workloads run on
                    long pause = Math.min(registryOutages.failed(e), Math.max(0, (nextBeat - System.nanoTime()) / 1_000_000));
                    Thread.sleep(pause);
                    continue;
                }
                ExecutorClaim holder = registry.holder(node).orElse(null);
                if (holder == null || !holder.getIncarnation().equals(mine.getIncarnation())) {
                    holding = false;
                    onLost.accept(holder);
                    return;
                }
            }
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
        } catch (RuntimeException e) {
            log.error("node {}: the claim on {} cannot be kept ({}); this executor acts on no more commands",
                    node, Topic.NODES.topicName(), e.toString(), e);
            holding = false;
            onLost.accept(null);
        }
    }

    /** The outages of this executor's reader of the node registry (pmig.nodes), for its meters. */
    public ReaderOutages registryOutages() {
        return registryOutages;
    }

    private void send(ExecutorClaim claim, boolean wait) {
        var sent = producer.send(new ProducerRecord<>(Topic.NODES.topicName(), node, claim), (meta, error) -> {
            if (error != null && !closing) {
                log.warn("node {}: heartbeat on {} not delivered: {}", node, Topic.NODES.topicName(), error.toString());
            }
        });
        if (wait) {
            try {
                sent.get(15, TimeUnit.SECONDS);
            } catch (Exception e) {
                throw new IllegalStateException("cannot write the claim of node " + node + " to " + Topic.NODES.topicName()
                        + ": " + e, e);
            }
        }
    }

    /**
     * Whether the executor of {@code other} is still alive, asked when analytics reports that node DOWN (its metrics
     * stopped, which a dead agent or a lagging analytics also causes). Alive: its claim holder is alive by
     * {@link #alive} and proves it - its process runs on this host, or a heartbeat newer than the first one read here
     * arrives from another host. Dead: no holder, stopped, its process gone, its port refusing, or its heartbeat
     * stale. Waits at most until a heartbeat read now would be stale, for one or the other.
     */
    boolean aliveNow(String other) {
        try (KafkaConsumer<String, ExecutorClaim> reader = NodeRegistry.consumerOf(kafka, other)) {
            NodeRegistry view = new NodeRegistry();
            view.catchUp(reader, READ_TIMEOUT);
            Long firstHeartbeat = null;
            long giveUp = System.currentTimeMillis() + STALE_AFTER.toMillis() + 2 * HEARTBEAT.toMillis();
            while (true) {
                Optional<ExecutorClaim> holder = view.holder(other);
                if (holder.isEmpty() || !alive(holder.get())) {
                    return false;
                }
                if (sameHost(holder.get())) {
                    return true; // its process runs here: no heartbeat needed to know
                }
                if (firstHeartbeat == null) {
                    firstHeartbeat = holder.get().getHeartbeatMs();
                } else if (holder.get().getHeartbeatMs() > firstHeartbeat) {
                    return true; // it wrote after the report reached us: no clock comparison needed
                }
                if (System.currentTimeMillis() > giveUp) {
                    return false;
                }
                for (var record : reader.poll(HEARTBEAT)) {
                    view.accept(record.key(), record.value());
                }
            }
        } catch (RuntimeException e) {
            log.warn("node {}: could not read the claim of {} ({}); judging it dead as reported", node, other, e.toString());
            return false;
        }
    }

    private boolean sameHost(ExecutorClaim holder) {
        return !holder.getBootId().isEmpty() && holder.getBootId().equals(mine.getBootId());
    }

    /** Alive = may still act for the node: see the class comment. */
    boolean alive(ExecutorClaim holder) {
        if (holder.getState() != ClaimState.ACTIVE) {
            return false;
        }
        if (sameHost(holder)) {
            return startTicks(holder.getPid()).equals(OptionalLong.of(holder.getProcessStartTicks()));
        }
        if (System.currentTimeMillis() - holder.getHeartbeatMs() > STALE_AFTER.toMillis()) {
            return false;
        }
        return !refusesConnections(holder.getTransferEndpoint());
    }

    /** True only when the port definitely has no listener; a timeout or an unreachable host proves nothing. */
    private static boolean refusesConnections(String endpoint) {
        int colon = endpoint.lastIndexOf(':');
        if (colon <= 0) {
            return false;
        }
        try (Socket socket = new Socket()) {
            socket.connect(new InetSocketAddress(endpoint.substring(0, colon), Integer.parseInt(endpoint.substring(colon + 1))), 1000);
            return false;
        } catch (ConnectException e) {
            return true;
        } catch (SocketTimeoutException | NumberFormatException e) {
            return false;
        } catch (IOException e) {
            return false;
        }
    }

    private ConfigException refusal(ExecutorClaim holder) {
        double ago = (System.currentTimeMillis() - holder.getHeartbeatMs()) / 1000.0;
        return new ConfigException("--node", String.format(java.util.Locale.ROOT,
                "node %s already has a running executor (host %s, pid %d, transfer %s, workdir %s, started %s, last heartbeat %.1f s ago);"
                        + " stop it first, or start this one with another --node",
                node, holder.getHost(), holder.getPid(), holder.getTransferEndpoint(), holder.getWorkdir(),
                java.time.Instant.ofEpochMilli(holder.getStartedAtMs()), ago));
    }

    /** Releases the claim (state STOPPED: the node stays known, and a new executor takes over at once). */
    @Override
    public void close() {
        closing = true;
        if (watcher != null) {
            consumer.wakeup();
            try {
                watcher.join(5_000);
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
            }
        }
        if (holding) {
            try {
                send(mine.setState(ClaimState.STOPPED).setHeartbeatMs(System.currentTimeMillis()).build(), true);
            } catch (RuntimeException e) {
                log.warn("node {}: could not mark its claim stopped ({}); the next executor checks that this one is gone",
                        node, e.getMessage());
            }
            holding = false;
        }
        closeClients();
    }

    private void closeClients() {
        try {
            consumer.close(Duration.ofSeconds(2));
        } catch (RuntimeException e) {
            log.debug("closing the registry consumer: {}", e.toString());
        }
        producer.close(Duration.ofSeconds(5));
    }

    static OptionalLong startTicks(long pid) {
        try {
            String stat = Files.readString(Path.of("/proc", String.valueOf(pid), "stat"));
            String[] after = stat.substring(stat.lastIndexOf(')') + 2).trim().split(" ");
            return OptionalLong.of(Long.parseLong(after[19])); // field 22 of stat; field 3 is after[0]
        } catch (IOException | RuntimeException e) {
            return OptionalLong.empty();
        }
    }

    /**
     * The kernel's boot id plus this process's pid namespace: two claims with equal values see the same pids, so the
     * holder's pid can be checked here. (Containers on one host share the boot id but not the pid namespace.)
     */
    private static String bootId() {
        String boot = readProc("sys/kernel/random/boot_id");
        try {
            return boot.isEmpty() ? "" : boot + " " + Files.readSymbolicLink(Path.of("/proc/self/ns/pid"));
        } catch (IOException | UnsupportedOperationException e) {
            return "";
        }
    }

    private static String readProc(String path) {
        try {
            return Files.readString(Path.of("/proc", path)).strip();
        } catch (IOException e) {
            return "";
        }
    }
}
