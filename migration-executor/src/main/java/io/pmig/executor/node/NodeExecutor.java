package io.pmig.executor.node;

import io.micrometer.core.instrument.FunctionCounter;
import io.micrometer.core.instrument.Gauge;
import io.micrometer.core.instrument.simple.SimpleMeterRegistry;
import io.pmig.executor.ExecutorConfig;
import io.pmig.executor.checkpoint.CheckpointShipper;
import io.pmig.executor.checkpoint.CheckpointStore;
import io.pmig.executor.checkpoint.NodeDeathRecovery;
import io.pmig.executor.container.ContainerWorkloads;
import io.pmig.executor.criu.CriuException;
import io.pmig.executor.criu.EmptyShm;
import io.pmig.executor.criu.TlsIdentity;
import io.pmig.executor.events.EventHistory;
import io.pmig.executor.events.EventPublisher;
import io.pmig.executor.events.ExecutorMeters;
import io.pmig.executor.events.PeerEvents;
import io.pmig.executor.events.ReaderOutages;
import io.pmig.executor.events.WorkloadPlacement;
import io.pmig.executor.migration.CheckpointEngine;
import io.pmig.executor.migration.CriuEngine;
import io.pmig.executor.migration.DestinationMigration;
import io.pmig.executor.migration.MigrationRecovery;
import io.pmig.executor.migration.NodeServices;
import io.pmig.executor.migration.SourceMigration;
import io.pmig.executor.network.AddressBook;
import io.pmig.executor.network.WorkloadNetwork;
import io.pmig.executor.transfer.TransferServer;
import io.pmig.executor.workload.ExecutableLookup;
import io.pmig.executor.workload.ExitWatcher;
import io.pmig.executor.workload.NodeWorkloads;
import io.pmig.platform.commands.CommandDeadline;
import io.pmig.platform.commands.CommandRouting;
import io.pmig.platform.metrics.MetricsServer;
import io.pmig.platform.metrics.RoleMetrics;
import io.pmig.platform.topics.DeadLetterPublisher;
import io.pmig.platform.topics.Topic;
import io.pmig.platform.topics.TopicCreator;
import io.pmig.schemas.CommandKind;
import io.pmig.schemas.MigrationCommand;
import io.pmig.schemas.MigrationEvent;
import io.pmig.schemas.NetworkIdentity;
import io.pmig.schemas.Phase;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.net.InetSocketAddress;
import java.time.Duration;
import java.util.HashSet;
import java.util.List;
import java.util.Objects;
import java.util.Optional;
import java.util.Properties;
import java.util.Set;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Semaphore;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicLong;
import org.apache.kafka.clients.consumer.ConsumerConfig;
import org.apache.kafka.clients.consumer.ConsumerRecord;
import org.apache.kafka.clients.consumer.ConsumerRecords;
import org.apache.kafka.clients.consumer.KafkaConsumer;
import org.apache.kafka.clients.producer.KafkaProducer;
import org.apache.kafka.clients.producer.ProducerConfig;
import org.apache.kafka.common.TopicPartition;
import org.apache.kafka.common.errors.InterruptException;
import org.apache.kafka.common.errors.RecordDeserializationException;
import org.apache.kafka.common.errors.WakeupException;
import org.apache.kafka.common.serialization.StringDeserializer;
import org.apache.kafka.common.serialization.StringSerializer;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;
import org.slf4j.MDC;

/**
 * One node's executor: reads the partition of pmig.commands its node id hashes to ({@link CommandRouting}; offsets
 * kept by group {@code pmig-executor-<node>}), acts on the commands addressed to this node - LAUNCH, KILL, and either
 * side of MIGRATE - and reports on pmig.events. LAUNCH and KILL
 * run in command order; migrations run in the background, at most {@code maxConcurrentMigrations} at once and
 * one per workload.
 */
public final class NodeExecutor implements AutoCloseable {

    private static final Logger log = LoggerFactory.getLogger(NodeExecutor.class);
    static final Duration EXPIRED_REPORT_WINDOW = Duration.ofMinutes(10);
    /** How often the partition count of pmig.commands is looked at again (the client's cached metadata). */
    private static final Duration PARTITION_CHECK = Duration.ofSeconds(30);

    private final ExecutorConfig config;
    private final String node;
    /** pmig.addresses, opened on first use: only nodes that launch or end workloads with their own address need it. */
    private AddressBook addresses;
    private final Set<String> migrating = ConcurrentHashMap.newKeySet();
    private final Semaphore migrationSlots;
    private final CountDownLatch assigned = new CountDownLatch(1);
    private final ExecutorService migrations;
    private NodeServices services;
    private CheckpointShipper checkpoints;
    private CommandLedger ledger;
    private KafkaConsumer<String, MigrationCommand> consumer;
    private KafkaProducer<String, MigrationCommand> relay;
    private final Set<TopicPartition> ownPartitions = ConcurrentHashMap.newKeySet();
    private final AtomicLong commandRecordsRead = new AtomicLong();
    private long partitionsCheckedAt;
    private DeadLetterPublisher deadLetters;
    private Thread commandThread;
    private final CheckpointEngine engine;
    private final ReaderOutages commandReaderOutages = new ReaderOutages(log, "command reader");
    private final Object commandReaderPause = new Object();
    private volatile boolean running;
    private volatile boolean fenced;
    private NodeClaim claim;
    private RoleMetrics exported;
    private MetricsServer metricsServer;
    private ExecutorMeters meters;

    public NodeExecutor(ExecutorConfig config) {
        this(config, new CriuEngine(config.criu(), config.sessionTimeout()));
    }

    /** An executor whose process-tree migrations act through {@code engine} (tests: a fake without criu). */
    public NodeExecutor(ExecutorConfig config, CheckpointEngine engine) {
        this.config = config;
        this.engine = engine;
        this.node = config.node();
        this.migrationSlots = new Semaphore(config.maxConcurrentMigrations());
        this.migrations = Executors.newCachedThreadPool(r -> {
            Thread t = new Thread(r, "pmig-executor-" + node + "-migration");
            t.setDaemon(true);
            return t;
        });
    }

    /**
     * Starts an executor in this JVM and waits until it consumes pmig.commands - the API for in-process clusters
     * (demo, bench): {@code try (NodeExecutor n = NodeExecutor.start(ExecutorConfig.local(...).build())) { n.endpoint(); }}.
     */
    public static NodeExecutor start(ExecutorConfig config) throws IOException, InterruptedException {
        return start(config, new CriuEngine(config.criu(), config.sessionTimeout()));
    }

    /** {@link #start(ExecutorConfig)} with another checkpoint engine (tests: the fake). */
    public static NodeExecutor start(ExecutorConfig config, CheckpointEngine engine) throws IOException, InterruptedException {
        NodeExecutor executor = new NodeExecutor(config, engine).start();
        if (!executor.awaitReady(Duration.ofSeconds(60))) {
            executor.close();
            throw new IllegalStateException("executor " + config.node() + " was not assigned pmig.commands within 60 s");
        }
        return executor;
    }

    /** Recovers unfinished migrations, then starts consuming commands. */
    public NodeExecutor start() throws IOException, InterruptedException {
        MDC.put("node", node);
        TopicCreator.ensureTopics(config.kafka());
        claim = NodeClaim.check(config); // a second executor for this node id stops here, before touching anything
        TransferServer transfer;
        try {
            startMetrics();
            try {
                transfer = new TransferServer(config.listen(), config.credentials(), config.transferLimits()).start();
            } catch (java.net.BindException e) {
                throw new io.pmig.platform.config.ConfigException(ExecutorConfig.LISTEN, "cannot listen on "
                        + config.listen().getHostString() + ":" + config.listen().getPort() + " (" + e.getMessage()
                        + "): another process holds it, or the address is not this host's; choose another --listen");
            }
            try {
                claim.take(config.advertise() != null ? config.advertise() : transfer.address(), this::claimLost);
            } catch (RuntimeException e) {
                transfer.close();
                throw e;
            }
        } catch (IOException | RuntimeException e) {
            closeMetrics();
            claim.close();
            throw e;
        }
        if (engine.carriesMemoryApart()) {
            // made now, not by the first PAGE_SERVER or LAZY migration, which waited for keytool on both nodes in turn
            // between PREPARED and FROZEN (10 s here under load); a migration that comes sooner waits for the rest
            migrations.execute(this::makeTlsIdentity);
        }
        NodeWorkloads workloads = new NodeWorkloads(config.workdir(), config.initBinary());
        ledger = new CommandLedger(config.workdir().resolve("state").resolve("commands-seen"));
        EventPublisher events = new EventPublisher(config, meters, exported);
        ExitWatcher exits = new ExitWatcher(node, this::exited);
        PeerEvents peers = new PeerEvents(config.kafka(), node);
        meters.reader("events", peers.readerOutages());
        meters.reader("commands", commandReaderOutages);
        meters.reader("nodes", claim.registryOutages());
        services = new NodeServices(config, engine, workloads, exits, events, peers, new EventHistory(config.kafka()), transfer);

        var leftShm = EmptyShm.detachLeftovers();
        if (!leftShm.isEmpty()) {
            log.info("detached {} fresh /dev/shm mount(s) that restores cut short by their executor's end left: {}",
                    leftShm.size(), leftShm);
        }
        MigrationRecovery.recover(services);
        CheckpointShipper.recoverInterrupted(services);
        // every node may hold its peers' checkpoints; only a node configured with --checkpoint-peer sends its own
        CheckpointStore held = new CheckpointStore(services);
        transfer.acceptUnannounced(held);
        NodeDeathRecovery deathRecovery = new NodeDeathRecovery(services, held, migrating, migrations, claim::aliveNow, meters);
        deathRecovery.retireSuperseded();
        peers.listen(deathRecovery::onEvent);
        // always read: a RECOVERED of a workload of this node (a peer restored it), a NODE_DOWN of a node whose
        // checkpoints are held here; a migration's workload is watched while it runs (migrate)
        peers.standing(() -> {
            try {
                Set<String> keys = new HashSet<>(workloads.ids());
                keys.addAll(held.sources());
                return keys;
            } catch (IOException e) {
                throw new UncheckedIOException(e);
            }
        });
        for (String id : workloads.ids()) {
            workloads.pid(id).ifPresent(pid -> exits.watch(id, pid)); // a dead one is reported EXITED at once
        }

        Properties props = new Properties();
        props.putAll(config.kafka());
        // the group only keeps this node's committed offset: the partition is assigned, not subscribed, so an
        // executor restarted after a crash reads on at once (no rebalance, no dead member's session to wait out)
        props.put(ConsumerConfig.GROUP_ID_CONFIG, "pmig-executor-" + node);
        props.remove(ConsumerConfig.GROUP_INSTANCE_ID_CONFIG);
        props.put(ConsumerConfig.AUTO_OFFSET_RESET_CONFIG, "earliest");
        props.put(ConsumerConfig.CLIENT_ID_CONFIG, "pmig-executor-" + node + "-commands");
        consumer = new KafkaConsumer<>(props, new StringDeserializer(), Topic.COMMANDS.<MigrationCommand>serde().deserializer());
        relay = new KafkaProducer<>(relayProperties(), new StringSerializer(), Topic.COMMANDS.<MigrationCommand>serde().serializer());
        if (exported != null) {
            exported.bind(consumer);
        }
        Gauge.builder("pmig.executor.workloads", workloads, w -> w.ids().size())
                .description("Workloads this node manages").register(meters.registry());
        FunctionCounter.builder("pmig.executor.command.records.read", commandRecordsRead, AtomicLong::get)
                .description("Records of pmig.commands this executor read: its node's partition only, not the whole topic")
                .register(meters.registry());
        Gauge.builder("pmig.executor.migrations.in.progress", migrating, Set::size)
                .description("Migrations this node takes part in right now, as source or destination")
                .register(meters.registry());
        deadLetters = new DeadLetterPublisher(config.kafka(), "executor " + node, meters.registry(), "executor");
        running = true;
        commandThread = new Thread(this::consumeCommands, "pmig-executor-" + node + "-commands");
        commandThread.start();
        if (config.checkpointInterval() != null) {
            checkpoints = new CheckpointShipper(services, migrating, this::exited).start();
        }
        log.info("executor {} ready: workdir {}, transfer endpoint {}, criu {}, at most {} concurrent migrations",
                node, config.workdir(), transfer.address(), config.criu().binary(), config.maxConcurrentMigrations());
        config.criu().lazyPagesProblem().ifPresent(problem ->
                log.warn("LAZY migrations to or from {} will be refused: {}", node, problem));
        return this;
    }

    private void makeTlsIdentity() {
        MDC.put("node", node);
        try {
            TlsIdentity.in(config.workdir().resolve("tls"));
        } catch (CriuException e) {
            log.warn("no TLS key for page-server and lazy migrations yet ({}); the first one tries again", e.getMessage());
        }
    }

    /**
     * Counts into an exported registry when {@value ExecutorConfig#METRICS_PORT} is set, else into one nobody reads
     * (in-process nodes of the demo and benchmarks get no JVM binders each).
     */
    private void startMetrics() {
        if (config.metricsPort() != null) {
            exported = RoleMetrics.of("executor", "node", node);
            metricsServer = MetricsServer.start(exported, config.metricsHost(), config.metricsPort(), ExecutorConfig.METRICS_PORT);
        }
        meters = new ExecutorMeters(exported != null ? exported.registry() : new SimpleMeterRegistry());
    }

    private void closeMetrics() {
        if (metricsServer != null) {
            metricsServer.close();
            metricsServer = null;
        }
        if (exported != null) {
            exported.close();
            exported = null;
        }
    }

    /** Where /metrics listens, or null without {@value ExecutorConfig#METRICS_PORT}. */
    public InetSocketAddress metricsAddress() {
        return metricsServer == null ? null : metricsServer.address();
    }

    /** What this executor counts (exported or not). */
    public ExecutorMeters meters() {
        return meters;
    }

    public String nodeId() {
        return node;
    }

    public java.nio.file.Path workdir() {
        return config.workdir();
    }

    /** The transfer endpoint announced to sources (--advertise, else the address bound). */
    public InetSocketAddress endpoint() {
        return services.advertised();
    }

    /** The transfer endpoint actually bound (useful with port 0). */
    public InetSocketAddress transferAddress() {
        return services.transfer().address();
    }

    /** Waits until this executor has been assigned its share of pmig.commands. */
    public boolean awaitReady(Duration timeout) throws InterruptedException {
        return assigned.await(timeout.toMillis(), TimeUnit.MILLISECONDS);
    }

    private Properties relayProperties() {
        Properties props = new Properties();
        props.putAll(config.kafka());
        props.put(ProducerConfig.ACKS_CONFIG, "all");
        props.put(ProducerConfig.ENABLE_IDEMPOTENCE_CONFIG, "true");
        props.put(ProducerConfig.CLIENT_ID_CONFIG, "pmig-executor-" + node + "-relay");
        return props;
    }

    /**
     * The partitions of pmig.commands this node reads: the one its id hashes to now, and any it hashed to before in
     * this run (after partitions are added, producers with older metadata may still write to the old one for a while).
     */
    private void assignOwnPartition() {
        int partitions = consumer.partitionsFor(Topic.COMMANDS.topicName()).size();
        TopicPartition own = new TopicPartition(Topic.COMMANDS.topicName(), CommandRouting.partition(node, partitions));
        if (ownPartitions.add(own)) {
            if (ownPartitions.size() > 1) {
                log.warn("{} now has {} partitions: {} reads partition {} too", Topic.COMMANDS.topicName(), partitions,
                        node, own.partition());
            }
            consumer.assign(List.copyOf(ownPartitions));
        }
        partitionsCheckedAt = System.nanoTime();
    }

    /** Records of pmig.commands this executor has read (all of them addressed to its partition's nodes). */
    public long commandRecordsRead() {
        return commandRecordsRead.get();
    }

    /** Records of pmig.events this executor's peer-event reader has read (the partitions of its watched keys only). */
    public long eventRecordsRead() {
        return services.peers().recordsRead();
    }

    /** The partitions of pmig.events this executor reads right now. */
    public Set<TopicPartition> eventPartitions() {
        return services.peers().partitions();
    }

    /** The partitions of pmig.commands this executor reads. */
    public Set<TopicPartition> commandPartitions() {
        return Set.copyOf(ownPartitions);
    }

    private void consumeCommands() {
        MDC.put("node", node);
        try {
            while (running) {
                ConsumerRecords<String, MigrationCommand> records;
                try {
                    if (ownPartitions.isEmpty() || System.nanoTime() - partitionsCheckedAt > PARTITION_CHECK.toNanos()) {
                        assignOwnPartition();
                        assigned.countDown();
                    }
                    records = consumer.poll(Duration.ofMillis(200));
                    commandReaderOutages.succeeded();
                } catch (RecordDeserializationException e) {
                    deadLetters.skip(consumer, e); // else every later poll fails on the same record
                    continue;
                } catch (WakeupException | InterruptException e) {
                    return; // closing
                } catch (org.apache.kafka.common.KafkaException e) {
                    // any client error (the brokers away, an ACL being fixed) is waited out: a reader that ended here
                    // would leave the node heartbeating, taking migrations, and deaf to their commands
                    partitionsCheckedAt = System.nanoTime();
                    pauseCommandReader(commandReaderOutages.failed(e));
                    continue;
                }
                commandRecordsRead.addAndGet(records.count());
                for (ConsumerRecord<String, MigrationCommand> record : records) {
                    // a record not addressed to this node (another node sharing the partition, or written before
                    // commands were keyed by node) is not this node's to act on
                    if (record.value() == null || fenced || !node.equals(record.key())) {
                        continue;
                    }
                    try {
                        handle(record.value());
                    } catch (IOException | RuntimeException e) {
                        log.error("command {} failed: {}", record.value().getCommandId(), e.toString(), e);
                    } catch (InterruptedException e) {
                        Thread.currentThread().interrupt();
                        return;
                    }
                }
            }
        } catch (RuntimeException | Error e) {
            commandReaderOutages.died(e); // logged there, with the stack: the thread ends
        } finally {
            consumer.close();
            deadLetters.close();
        }
    }

    private void pauseCommandReader(long millis) {
        synchronized (commandReaderPause) {
            try {
                if (running) {
                    commandReaderPause.wait(millis); // close() ends the wait
                }
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
                running = false;
            }
        }
    }

    /** Outages of this node's reader of the node registry so far (the claim keeper's). */
    public long registryReaderOutages() {
        return claim.registryOutages().outages();
    }

    /** Outages of this node's command reader so far (each a run of failed reads it waited out). */
    public long commandReaderOutages() {
        return commandReaderOutages.outages();
    }

    /** Acts on a command addressed to this node: as its source, or as the destination of a MIGRATE its source forwarded. */
    void handle(MigrationCommand command) throws IOException, InterruptedException {
        boolean source = node.equals(Objects.toString(command.getSourceNode(), null));
        boolean destination = node.equals(Objects.toString(command.getDestinationNode(), null));
        boolean mine = switch (command.getKind()) {
            case LAUNCH -> destination;
            case KILL -> source;
            case MIGRATE -> source || destination;
            default -> false;
        };
        if (!mine) {
            return;
        }
        long now = System.currentTimeMillis();
        if (CommandDeadline.expired(command, now)) {
            refuseExpired(command, now);
            return;
        }
        if (!ledger.firstTime(command.getCommandId())) {
            log.info("command {} ({} {}) was already acted on; ignoring the redelivery",
                    command.getCommandId(), command.getKind(), command.getWorkloadId());
            return;
        }
        try {
            NodeWorkloads.checkId(command.getWorkloadId());
        } catch (IllegalArgumentException e) {
            refuse(command, Phase.FAILED, e.getMessage());
            return;
        }
        switch (command.getKind()) {
            case LAUNCH -> launch(command);
            case KILL -> kill(command);
            case MIGRATE -> migrate(command, source);
            default -> { }
        }
    }

    /** Starts the workload, or says LAUNCH_FAILED with the reason and leaves nothing behind. */
    private void launch(MigrationCommand command) throws IOException {
        String id = command.getWorkloadId();
        if (migrating.contains(id) || services.workloads().isRunning(id)) {
            refuse(command, Phase.LAUNCH_FAILED, "workload " + id + " already exists on " + node);
            return;
        }
        List<String> argv = List.copyOf(command.getArgv());
        Optional<String> container = ContainerWorkloads.launchedContainer(argv);
        Optional<String> elsewhere = runsElsewhere(id);
        if (elsewhere.isPresent()) {
            refuse(command, Phase.LAUNCH_FAILED, elsewhere.get());
            return;
        }
        Optional<WorkloadNetwork> network = config.criu().workloadNetwork();
        boolean ownNetwork = command.getNetwork() == NetworkIdentity.OWN
                || (command.getNetwork() == NetworkIdentity.AUTO && network.isPresent() && container.isEmpty());
        if (ownNetwork) {
            Optional<String> cannotHost = container.isPresent()
                    ? Optional.of("a Docker container keeps the network Docker gives it; --net own is for process workloads")
                    : network.isEmpty() ? Optional.of(node + " cannot host workload addresses: it has no workload bridge"
                    + " (executor.workload.bridge, --workload-bridge); launch with --net node, or see 'Network identity'"
                    + " in the README") : network.get().problem();
            if (cannotHost.isPresent()) {
                refuse(command, Phase.LAUNCH_FAILED, cannotHost.get());
                return;
            }
        }
        if (container.isEmpty() && !argv.isEmpty()) {
            Optional<String> cannotExec = ExecutableLookup.problem(argv.get(0), services.workloads().dir(id).resolve("work"));
            if (cannotExec.isPresent()) {
                refuse(command, Phase.LAUNCH_FAILED, cannotExec.get());
                return;
            }
        }
        boolean existed = java.nio.file.Files.exists(services.workloads().dir(id));
        String address = null;
        try {
            command.getDeclaredFiles().forEach(NodeWorkloads::checkDeclaredPath); // refuse before starting anything
            if (ownNetwork) {
                address = addresses().claim(id, command.getCommandId(), command.getAddress());
            }
            int pid = container.isPresent() ? ContainerWorkloads.adopt(services, id, container.get())
                    : services.workloads().launch(id, argv, ownNetwork ? network.get() : null, address);
            if (address != null) {
                services.workloads().recordAddress(id, address);
            }
            if (!command.getMigratable()) {
                services.workloads().pin(id);
            }
            services.workloads().declareFiles(id, List.copyOf(command.getDeclaredFiles()));
            services.exits().watch(id, pid);
            services.events().publish(services.events().event(command.getCommandId(), command.getCommandId(), id, Phase.LAUNCHED)
                    .setDestinationNode(node).setPid(pid).setAddress(address));
        } catch (IOException | RuntimeException e) {
            if (!existed && services.workloads().pid(id).isEmpty()) {
                services.workloads().remove(id); // no half-made workload for a restart to find and report
                if (address != null) {
                    releaseAddress(id);
                }
            }
            refuse(command, Phase.LAUNCH_FAILED, "launch failed: " + e.getMessage());
        }
    }

    /**
     * Workload ids are unique in the cluster: if the last event that placed this id puts it on another node, it
     * still runs there (or is lost there until an operator forgets it) and a second LAUNCH is refused.
     */
    private Optional<String> runsElsewhere(String id) {
        Optional<MigrationEvent> last;
        try {
            last = services.history().lastPlacing(id);
        } catch (RuntimeException e) {
            log.warn("cannot read pmig.events to check that {} runs nowhere else ({}); launching", id, e.toString());
            return Optional.empty();
        }
        if (last.isEmpty()) {
            return Optional.empty();
        }
        MigrationEvent e = last.get();
        Optional<String> where = WorkloadPlacement.node(e);
        if (where.isPresent() && !where.get().equals(node)) {
            return Optional.of("workload " + id + " already runs on " + where.get() + " (" + e.getPhase() + " at "
                    + java.time.Instant.ofEpochMilli(e.getTimestampMs()) + "); kill it there first, or choose another id");
        }
        if (WorkloadPlacement.isLost(e)) {
            return Optional.of("workload " + id + " was lost on " + e.getNode() + " (" + e.getError()
                    + "); clear it with pmig forget " + id + " first, or choose another id");
        }
        return Optional.empty();
    }

    private void kill(MigrationCommand command) throws IOException, InterruptedException {
        String id = command.getWorkloadId();
        // a migration that just completed may still be cleaning up: wait for it rather than refuse
        long deadline = System.nanoTime() + Duration.ofSeconds(15).toNanos();
        while (migrating.contains(id) && System.nanoTime() < deadline) {
            Thread.sleep(50);
        }
        if (migrating.contains(id)) {
            refuse(command, Phase.FAILED, "workload " + id + " is migrating; KILL refused");
            return;
        }
        int pid = services.workloads().pid(id).orElse(0);
        if (pid == 0) {
            refuse(command, Phase.FAILED, "workload " + id + " is not on " + node);
            return;
        }
        services.exits().unwatch(id);
        boolean ownAddress = services.workloads().address(id).isPresent();
        services.workloads().stop(id, Duration.ofSeconds(10));
        ContainerWorkloads.removeContainer(services, id);
        services.workloads().remove(id);
        if (ownAddress) {
            releaseAddress(id);
        }
        services.events().publish(services.events().event(command.getCommandId(), command.getCommandId(), id, Phase.KILLED)
                .setSourceNode(node).setPid(pid));
    }

    private void migrate(MigrationCommand command, boolean source) throws IOException {
        String id = command.getWorkloadId();
        MDC.put("migration", command.getCommandId());
        try {
            if (Objects.equals(command.getSourceNode(), command.getDestinationNode())) {
                refuse(command, Phase.FAILED, "source and destination are the same node");
                return;
            }
            if (source && !services.workloads().isRunning(id)) {
                refuse(command, Phase.FAILED, "workload " + id + " is not running on " + node);
                return;
            }
            if (source && services.workloads().isPinned(id)) {
                refuse(command, Phase.FAILED, "workload " + id + " is pinned to " + node
                        + " (launched with migratable=false)");
                return;
            }
            if (!claimAfterCheckpoint(id)) {
                refuse(command, Phase.FAILED, "workload " + id + " is already migrating");
                return;
            }
        } finally {
            MDC.remove("migration");
        }
        // this migration's events are in its workload's partition of pmig.events: read it while the migration runs
        PeerEvents.Watch events = services.peers().watch(id, command.getIssuedAtMs());
        if (source) {
            forwardToDestination(command);
        }
        migrations.execute(() -> {
            MDC.put("node", node);
            MDC.put("migration", command.getCommandId());
            boolean slot = false;
            try {
                // over the cap a migration waits its turn, until its command's deadline
                long queuedAt = System.nanoTime();
                slot = migrationSlots.tryAcquire();
                if (!slot) {
                    log.info("{} waits for one of the {} migration slots of {}", id, config.maxConcurrentMigrations(), node);
                    long wait = Math.max(0, CommandDeadline.deadlineMs(command) - System.currentTimeMillis());
                    slot = migrationSlots.tryAcquire(wait, TimeUnit.MILLISECONDS);
                }
                if (!slot) {
                    refuse(command, Phase.FAILED, node + " ran " + config.maxConcurrentMigrations()
                            + " other migrations until this command's deadline (--max-concurrent-migrations); nothing was moved");
                    return;
                }
                long queuedMs = (System.nanoTime() - queuedAt) / 1_000_000;
                if (source) {
                    SourceMigration.create(services, command).queuedFor(queuedMs).run();
                } else {
                    DestinationMigration.create(services, command).run();
                }
            } catch (Exception e) {
                log.error("migration of {} failed on {}: {}", id, node, e.toString(), e);
            } finally {
                migrating.remove(id);
                events.close();
                if (slot) {
                    migrationSlots.release();
                }
                MDC.remove("migration");
            }
        });
    }

    /**
     * The destination reads only its own partition: the source hands it the command once it has taken it on. The
     * destination waits for this source's ACCEPTED before anything, as it always did; if the copy is lost the source
     * sees no PREPARED and gives up before anything is frozen.
     */
    private void forwardToDestination(MigrationCommand command) {
        relay.send(CommandRouting.toDestination(command), (metadata, e) -> {
            if (e != null) {
                log.error("cannot forward {} to its destination {}: {}; it will not prepare", command.getCommandId(),
                        command.getDestinationNode(), e.toString());
            }
        });
    }

    /**
     * Claims the workload for a migration; a periodic checkpoint of it is short, so it is waited for, not refused, and so
     * is a migration of it that is finishing here (up to 15 s, on the command thread, as KILL waits).
     */
    private boolean claimAfterCheckpoint(String id) {
        long deadline = System.nanoTime() + Duration.ofSeconds(30).toNanos();
        // a migration that just completed here may still be finishing (its session, its journal): a MIGRATE sent
        // right after COMPLETED waits for it rather than being refused
        long finishing = System.nanoTime() + Duration.ofSeconds(15).toNanos();
        while (!migrating.add(id)) {
            boolean checkpointing = checkpoints != null && checkpoints.isCheckpointing(id);
            if ((!checkpointing && System.nanoTime() > finishing) || System.nanoTime() > deadline) {
                return false;
            }
            try {
                Thread.sleep(20);
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
                return false;
            }
        }
        return true;
    }

    /**
     * An expired command is never acted on. It is refused once, with a FAILED event naming the deadline, so that
     * whoever waits for it learns why; one that expired more than {@link #EXPIRED_REPORT_WINDOW} ago (a replayed
     * topic, an executor back after days) is skipped with a log line only, since nobody still waits for it.
     */
    private void refuseExpired(MigrationCommand command, long now) throws IOException {
        String why = CommandDeadline.describeExpiry(command, now);
        MDC.put("migration", command.getCommandId());
        try {
            if (now - CommandDeadline.deadlineMs(command) > EXPIRED_REPORT_WINDOW.toMillis()) {
                log.info("{} {}: {} (long expired, not reported)", command.getKind(), command.getWorkloadId(), why);
            } else if (ledger.firstTime(command.getCommandId())) {
                refuse(command, Phase.FAILED, why);
            }
        } finally {
            MDC.remove("migration");
        }
    }

    /** Another executor holds this node id now: act on nothing more (migrations under way finish their protocol). */
    private void claimLost(io.pmig.schemas.ExecutorClaim holder) {
        MDC.put("node", node);
        log.error("executor for node {} lost its claim{}; this one acts on no more commands (one executor per node id:"
                        + " stop this one)", node,
                holder == null ? "" : " to another executor (" + io.pmig.platform.nodes.NodeRegistry.describe(holder) + ")");
        fenced = true;
        running = false;
        if (consumer != null) {
            consumer.wakeup();
        }
        if (checkpoints != null) {
            checkpoints.close();
        }
    }

    /** True once another executor took this node id over. */
    public boolean fenced() {
        return fenced;
    }

    private void refuse(MigrationCommand command, Phase phase, String why) {
        log.warn("{} {} refused: {}", command.getKind(), command.getWorkloadId(), why);
        MigrationEvent.Builder event = services.events().event(command.getCommandId(), command.getCommandId(),
                        command.getWorkloadId(), phase)
                .setSourceNode(command.getSourceNode()).setDestinationNode(command.getDestinationNode()).setError(why);
        if (command.getKind() == CommandKind.MIGRATE) {
            event.setMode(command.getMode());
        }
        services.events().publish(event);
    }

    private void exited(String workloadId, int pid) {
        if (migrating.contains(workloadId)) {
            return;
        }
        Integer code = services.workloads().exitStatus(workloadId).orElse(null);
        try {
            services.workloads().removePid(workloadId);
        } catch (IOException e) {
            log.warn("cannot remove the pid file of {}: {}", workloadId, e.getMessage());
        }
        if (services.workloads().address(workloadId).isPresent()) {
            releaseAddress(workloadId);
        }
        String id = "exit-" + workloadId + "-" + pid;
        services.events().publish(services.events().event(id, id, workloadId, Phase.EXITED).setSourceNode(node).setPid(pid)
                .setError(code == null ? "killed (no exit status)" : code == 0 ? null : "exit status " + code));
    }

    private synchronized AddressBook addresses() {
        if (addresses == null) {
            addresses = new AddressBook(config.kafka(), config.workloadRange(), node);
        }
        return addresses;
    }

    /** The workload ended for good: its address goes back to the range (it stays held if that cannot be written). */
    private void releaseAddress(String workloadId) {
        try {
            addresses().release(workloadId);
        } catch (RuntimeException e) {
            log.warn("cannot give back the address of {} on {}: {}", workloadId,
                    Topic.ADDRESSES.topicName(), e.getMessage());
        }
    }

    /** True if the workload runs on this node now. */
    public boolean runs(String workloadId) {
        return services.workloads().isRunning(workloadId);
    }

    /** --kill-workloads-on-exit: nothing this node manages outlives it. */
    private void stopAllWorkloads() {
        for (String id : services.workloads().ids()) {
            try {
                services.exits().unwatch(id);
                services.workloads().stop(id, Duration.ofSeconds(5));
                services.workloads().remove(id);
                log.info("stopped workload {} (--kill-workloads-on-exit)", id);
            } catch (IOException e) {
                log.warn("cannot remove workload {}: {}", id, e.getMessage());
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
                return;
            }
        }
    }

    @Override
    public void close() {
        running = false;
        if (consumer != null) {
            consumer.wakeup();
        }
        synchronized (commandReaderPause) {
            commandReaderPause.notifyAll();
        }
        if (checkpoints != null) {
            checkpoints.close(); // waits for a checkpoint in progress: its workload must not stay stopped
        }
        try {
            if (commandThread != null) {
                commandThread.join(10_000);
            }
            migrations.shutdown();
            migrations.awaitTermination(2, TimeUnit.MINUTES);
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
        }
        if (services != null && config.killWorkloadsOnExit()) {
            stopAllWorkloads();
        }
        if (relay != null) {
            relay.close(Duration.ofSeconds(10));
        }
        if (services != null) {
            services.exits().close();
            services.transfer().close();
            services.peers().close();
            services.events().close();
        }
        synchronized (this) {
            if (addresses != null) {
                addresses.close();
            }
        }
        if (claim != null) {
            claim.close();
        }
        closeMetrics();
        log.info("executor {} stopped", node);
    }
}
