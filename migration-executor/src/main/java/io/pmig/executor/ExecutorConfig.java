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
 * @param restoreFault     test hook: what the destination does to the received images before restoring
 *                         ({@link RestoreFault#NONE} in production) - a real corruption, not a simulated failure
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
        RestoreFault restoreFault) {

    /** A deliberate corruption of received images, so rollback is tested against CRIU's real failure. */
    public enum RestoreFault { NONE, CORRUPT_IMAGES }
}
