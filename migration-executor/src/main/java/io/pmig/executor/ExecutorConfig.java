package io.pmig.executor;

import io.pmig.executor.criu.Criu;
import io.pmig.executor.transfer.TransferCredentials;
import io.pmig.executor.transfer.TransferLimits;
import java.net.InetSocketAddress;
import java.nio.file.Path;
import java.time.Duration;
import java.util.Properties;

/**
 * Everything one node's executor runs with, already validated (see {@link ExecutorCommand} for the keys).
 *
 * @param advertise        the transfer endpoint peers are told to use (normally the listen address)
 * @param prepareTimeout   how long a source waits for its destination's PREPARED before giving up
 * @param sessionTimeout   how long a prepared destination waits for its source to finish
 * @param restoreFault     test hook: a fault injected around the restore ({@link RestoreFault#NONE} in production)
 * @param killWorkloadsOnExit on close, stop every workload this node manages and delete its directory (demos: leave
 *                         nothing running); off in production, where workloads outlive executor restarts
 * @param checkpointInterval how often each migratable workload is checkpointed to {@code checkpointPeer} for node-death
 *                         recovery; null = off (the default)
 * @param checkpointPeer   the transfer endpoint of the node that keeps this node's checkpoints (and restores them
 *                         when this node is declared down); null = off
 */
public record ExecutorConfig(
        String node,
        Properties kafka,
        Path workdir,
        InetSocketAddress listen,
        InetSocketAddress advertise,
        Criu criu,
        Path initBinary,
        TransferCredentials credentials,
        TransferLimits transferLimits,
        int maxConcurrentMigrations,
        double capacityCpus,
        long capacityMemBytes,
        Duration prepareTimeout,
        Duration sessionTimeout,
        RestoreFault restoreFault,
        boolean killWorkloadsOnExit,
        Duration checkpointInterval,
        InetSocketAddress checkpointPeer) {

    public ExecutorConfig {
        if ((checkpointInterval == null) != (checkpointPeer == null)) {
            throw new IllegalArgumentException("periodic checkpoints need both an interval and a peer");
        }
        checkTimeoutOrder(sessionTimeout);
    }

    /**
     * The commit protocol is safe only if each side gives up after the one it waits for: the producer's delivery
     * timeout inside the destination's wait for COMPLETED, that wait inside the source's COMMIT timeout, and that
     * inside the destination's session timeout (else it kills a copy whose COMMIT is still on its way).
     */
    static void checkTimeoutOrder(Duration sessionTimeout) {
        Duration delivery = io.pmig.executor.events.EventPublisher.MAX_BLOCK
                .plus(io.pmig.executor.events.EventPublisher.DELIVERY_TIMEOUT);
        Duration publishWait = io.pmig.executor.events.EventPublisher.PUBLISH_WAIT;
        Duration commit = io.pmig.executor.migration.SourceMigration.COMMIT_TIMEOUT;
        if (delivery.compareTo(publishWait) >= 0 || publishWait.compareTo(commit) >= 0) {
            throw new IllegalStateException("timeouts out of order: delivery " + delivery + ", publish wait " + publishWait
                    + ", commit " + commit);
        }
        if (sessionTimeout != null && sessionTimeout.compareTo(commit.multipliedBy(2)) < 0) {
            throw new IllegalArgumentException("--session-timeout must be at least " + commit.multipliedBy(2).toSeconds()
                    + " s (twice the source's COMMIT timeout), got " + sessionTimeout.toSeconds() + " s");
        }
    }

    /** Without periodic checkpoints: the constructor callers used before node-death recovery existed. */
    public ExecutorConfig(String node, Properties kafka, Path workdir, InetSocketAddress listen, InetSocketAddress advertise,
                          Criu criu, Path initBinary, TransferCredentials credentials, TransferLimits transferLimits,
                          int maxConcurrentMigrations, double capacityCpus, long capacityMemBytes,
                          Duration prepareTimeout, Duration sessionTimeout, RestoreFault restoreFault,
                          boolean killWorkloadsOnExit) {
        this(node, kafka, workdir, listen, advertise, criu, initBinary, credentials, transferLimits, maxConcurrentMigrations,
                capacityCpus, capacityMemBytes, prepareTimeout, sessionTimeout, restoreFault, killWorkloadsOnExit, null, null);
    }

    /** Without {@code killWorkloadsOnExit} (false): the constructor callers used before it existed. */
    public ExecutorConfig(String node, Properties kafka, Path workdir, InetSocketAddress listen, InetSocketAddress advertise,
                          Criu criu, Path initBinary, TransferCredentials credentials, TransferLimits transferLimits,
                          int maxConcurrentMigrations, double capacityCpus, long capacityMemBytes,
                          Duration prepareTimeout, Duration sessionTimeout, RestoreFault restoreFault) {
        this(node, kafka, workdir, listen, advertise, criu, initBinary, credentials, transferLimits, maxConcurrentMigrations,
                capacityCpus, capacityMemBytes, prepareTimeout, sessionTimeout, restoreFault, false);
    }

    /**
     * A node on this machine for an in-process cluster (demo, bench): transfer endpoint on loopback, any port, two
     * concurrent migrations, no capacity limits, 30 s prepare and 10 min session timeouts, no faults, and every
     * workload stopped when the executor closes. Start it with {@link io.pmig.executor.node.NodeExecutor#start(ExecutorConfig)}.
     */
    public static ExecutorConfig local(String node, Properties kafka, Path workdir, Criu criu, Path initBinary,
                                       byte[] sharedSecret) {
        return new ExecutorConfig(node, kafka, workdir,
                new InetSocketAddress(java.net.InetAddress.getLoopbackAddress(), 0), null, criu, initBinary,
                new TransferCredentials(sharedSecret), TransferLimits.defaults(), 2, 0, 0, Duration.ofSeconds(30),
                Duration.ofMinutes(10), RestoreFault.NONE, true);
    }

    public ExecutorConfig withKillWorkloadsOnExit(boolean kill) {
        return new ExecutorConfig(node, kafka, workdir, listen, advertise, criu, initBinary, credentials, transferLimits,
                maxConcurrentMigrations, capacityCpus, capacityMemBytes, prepareTimeout, sessionTimeout, restoreFault, kill,
                checkpointInterval, checkpointPeer);
    }

    public ExecutorConfig withRestoreFault(RestoreFault fault) {
        return new ExecutorConfig(node, kafka, workdir, listen, advertise, criu, initBinary, credentials, transferLimits,
                maxConcurrentMigrations, capacityCpus, capacityMemBytes, prepareTimeout, sessionTimeout, fault,
                killWorkloadsOnExit, checkpointInterval, checkpointPeer);
    }

    public ExecutorConfig withMaxConcurrentMigrations(int max) {
        return new ExecutorConfig(node, kafka, workdir, listen, advertise, criu, initBinary, credentials, transferLimits,
                max, capacityCpus, capacityMemBytes, prepareTimeout, sessionTimeout, restoreFault,
                killWorkloadsOnExit, checkpointInterval, checkpointPeer);
    }

    /** The same node with another transfer secret (tests: a node that does not belong to the cluster). */
    public ExecutorConfig withCredentials(TransferCredentials other) {
        return new ExecutorConfig(node, kafka, workdir, listen, advertise, criu, initBinary, other, transferLimits,
                maxConcurrentMigrations, capacityCpus, capacityMemBytes, prepareTimeout, sessionTimeout, restoreFault,
                killWorkloadsOnExit, checkpointInterval, checkpointPeer);
    }

    public ExecutorConfig withPrepareTimeout(Duration timeout) {
        return new ExecutorConfig(node, kafka, workdir, listen, advertise, criu, initBinary, credentials, transferLimits,
                maxConcurrentMigrations, capacityCpus, capacityMemBytes, timeout, sessionTimeout, restoreFault,
                killWorkloadsOnExit, checkpointInterval, checkpointPeer);
    }

    /** Checkpoints every migratable workload each {@code interval} to the node at {@code peer} (null, null: off). */
    public ExecutorConfig withCheckpoints(Duration interval, InetSocketAddress peer) {
        return new ExecutorConfig(node, kafka, workdir, listen, advertise, criu, initBinary, credentials, transferLimits,
                maxConcurrentMigrations, capacityCpus, capacityMemBytes, prepareTimeout, sessionTimeout, restoreFault,
                killWorkloadsOnExit, interval, peer);
    }

    /** Faults injected for tests; each is real (a corrupted image, a migration thread stopping dead), not simulated output. */
    public enum RestoreFault {
        NONE,
        /** the destination truncates the received core images, so criu's restore really fails */
        CORRUPT_IMAGES,
        /** the destination deletes the received workload directory before restoring: criu really fails (mount source missing) */
        FAIL_RESTORE,
        /** the source's migration thread dies right after DUMPED, leaving its journal as a killed executor would */
        CRASH_SOURCE_AFTER_DUMP
    }
}
