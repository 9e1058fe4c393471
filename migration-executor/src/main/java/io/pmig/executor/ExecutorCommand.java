package io.pmig.executor;

import io.pmig.executor.criu.Criu;
import io.pmig.executor.criu.CriuException;
import io.pmig.executor.node.CriuSelfTest;
import io.pmig.executor.node.NodeExecutor;
import io.pmig.executor.transfer.TransferCredentials;
import io.pmig.executor.transfer.TransferLimits;
import io.pmig.executor.workload.InitBinary;
import io.pmig.platform.config.ConfigException;
import io.pmig.platform.config.KafkaClientOptions;
import java.io.IOException;
import java.net.InetSocketAddress;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.Arrays;
import java.util.concurrent.Callable;
import java.util.concurrent.CountDownLatch;
import picocli.CommandLine.Command;
import picocli.CommandLine.Mixin;
import picocli.CommandLine.Option;

/**
 * {@code pmig executor}: runs one node's migration executor until stopped.
 *
 * <pre>
 * PMIG_TRANSFER_SECRET=$(cat /etc/pmig/secret) bin/pmig executor --node n1 --bootstrap-server 127.0.0.1:9092 \
 *     --workdir /var/lib/pmig/nodes/n1 --listen 10.0.0.1:7070
 * bin/pmig console-consumer --topic pmig.events      # watch what it does
 * </pre>
 */
@Command(name = "executor", mixinStandardHelpOptions = true,
        description = "Launch, kill and live-migrate this node's workloads with CRIU, as pmig.commands asks.")
public final class ExecutorCommand implements Callable<Integer> {

    @Mixin
    KafkaClientOptions kafka;

    @Option(names = "--node", required = true, paramLabel = "ID", description = "This node's id, as commands name it.")
    String node;

    @Option(names = "--workdir", paramLabel = "DIR",
            description = "Workloads, checkpoints and persisted state of this node (default /var/lib/pmig/nodes/<node>).")
    Path workdir;

    @Option(names = "--listen", required = true, paramLabel = "HOST:PORT",
            description = "Transfer endpoint for incoming migrations (port 0 = any); the criu page server binds to HOST too.")
    String listen;

    @Option(names = "--advertise", paramLabel = "HOST:PORT",
            description = "Transfer endpoint announced to sources (default: the bound --listen address).")
    String advertise;

    @Option(names = "--criu", paramLabel = "PATH", description = "criu >= 4.2 (default: $PMIG_CRIU, else criu on PATH).")
    Path criu;

    @Option(names = "--secret-file", paramLabel = "FILE",
            description = "Shared transfer secret, >= 16 bytes, the same on every node (default: env PMIG_TRANSFER_SECRET).")
    Path secretFile;

    @Option(names = "--max-concurrent-migrations", paramLabel = "N", defaultValue = "2",
            description = "Migrations this node takes part in at once, as source or destination (default: ${DEFAULT-VALUE}).")
    int maxConcurrentMigrations;

    @Option(names = "--capacity", paramLabel = "cpus=N,mem=SIZE",
            description = "What this node may give an incoming workload, checked against its requests (e.g. cpus=4,mem=8G).")
    String capacity;

    @Option(names = "--init-path", paramLabel = "FILE", defaultValue = "/opt/pmig/bin/pmig-init",
            description = {"Base path of pmig-init; the binary goes to FILE-<content hash>, the same on every node running",
                    "this pmig version, never overwritten under running workloads (default: ${DEFAULT-VALUE})."})
    Path initPath;

    @Option(names = "--prepare-timeout", paramLabel = "SECONDS", defaultValue = "30",
            description = "How long a source waits for its destination to prepare (default: ${DEFAULT-VALUE}).")
    int prepareTimeoutSeconds;

    // chaos testing only (bin/pmig chaos): hidden, and announced with a warning when the executor starts
    @Option(names = "--inject-restore-fault", hidden = true, paramLabel = "FAULT",
            description = "FAULT INJECTION, never in production: corrupt-images | fail-restore | crash-source-after-dump.")
    String injectRestoreFault;

    @Option(names = "--kill-workloads-on-exit",
            description = "When the executor stops, kill every workload it manages and delete its directory (demos).")
    boolean killWorkloadsOnExit;

    @Option(names = "--checkpoint-interval-s", paramLabel = "SECONDS", defaultValue = "0",
            description = "Checkpoint every migratable workload this often (criu dump, then resumed) and send it to "
                    + "--checkpoint-peer, which restores it if this node is declared down; 0 = off (default: ${DEFAULT-VALUE}).")
    int checkpointIntervalSeconds;

    @Option(names = "--checkpoint-peer", paramLabel = "HOST:PORT",
            description = "Transfer endpoint (--advertise / --listen) of the executor that keeps this node's checkpoints.")
    String checkpointPeer;

    @Option(names = "--ghost-limit-ceiling", paramLabel = "SIZE", defaultValue = "1G",
            description = {"Largest open-but-unlinked file a workload may hold and still migrate: it is copied into the",
                    "checkpoint (criu --ghost-limit, sized per dump up to this; default: ${DEFAULT-VALUE})."})
    String ghostLimitCeiling;

    @Override
    public Integer call() throws Exception {
        ExecutorConfig config = config();
        try {
            CriuSelfTest.run(config.criu(), config.initBinary(), config.workdir());
        } catch (CriuException e) {
            // before taking any command: a node that cannot restore would lose the workloads it is sent
            throw new ConfigException(criuKey(), e.getMessage());
        }
        CountDownLatch stopped = new CountDownLatch(1);
        try (NodeExecutor executor = new NodeExecutor(config).start()) {
            Runtime.getRuntime().addShutdownHook(new Thread(() -> {
                executor.close();
                stopped.countDown();
            }, "pmig-executor-shutdown"));
            System.out.println("executor " + node + " ready, transfer endpoint " + executor.transferAddress());
            System.out.flush();
            stopped.await();
        }
        return 0;
    }

    /** The validated configuration these options describe; public so in-process setups can start from a command line. */
    public ExecutorConfig config() throws IOException {
        if (node == null || !node.matches("[A-Za-z0-9][A-Za-z0-9._-]{0,63}")) {
            throw new ConfigException("--node", "'" + node + "' must be letters, digits, '.', '_' or '-'");
        }
        if (!isRoot()) {
            throw new ConfigException("--criu", "the executor must run as root: criu dump/restore and new PID namespaces need it");
        }
        Path dir = workdir != null ? workdir : Path.of("/var/lib/pmig/nodes", node);
        if (maxConcurrentMigrations < 1) {
            throw new ConfigException("--max-concurrent-migrations", "must be at least 1, got " + maxConcurrentMigrations);
        }
        if (prepareTimeoutSeconds < 1) {
            throw new ConfigException("--prepare-timeout", "must be at least 1 second");
        }
        InetSocketAddress listenAddress = address("--listen", listen);
        if (checkpointIntervalSeconds < 0) {
            throw new ConfigException("--checkpoint-interval-s", "must be 0 (off) or a number of seconds");
        }
        if (checkpointIntervalSeconds > 0 && checkpointPeer == null) {
            throw new ConfigException("--checkpoint-peer", "--checkpoint-interval-s needs a peer to keep the checkpoints");
        }
        InetSocketAddress peer = checkpointIntervalSeconds > 0 ? address("--checkpoint-peer", checkpointPeer) : null;
        InetSocketAddress advertised = advertise == null ? null : address("--advertise", advertise);
        Criu verified;
        try {
            verified = criu().withGhostLimitCeiling(bytes(ghostLimitCeiling));
        } catch (IllegalArgumentException e) { // NumberFormatException too
            throw new ConfigException("--ghost-limit-ceiling", "'" + ghostLimitCeiling + "': " + e.getMessage());
        }
        Path init;
        try {
            init = InitBinary.install(initPath);
        } catch (IOException e) {
            throw new ConfigException("--init-path", "cannot install pmig-init at " + initPath + ": " + e.getMessage());
        }
        double cpus = 0;
        long mem = 0;
        if (capacity != null) {
            for (String part : capacity.split(",")) {
                String[] kv = part.strip().split("=", 2);
                try {
                    switch (kv.length == 2 ? kv[0] : "") {
                        case "cpus" -> cpus = Double.parseDouble(kv[1]);
                        case "mem" -> mem = bytes(kv[1]);
                        default -> throw new ConfigException("--capacity", "'" + part + "' is not cpus=N or mem=SIZE");
                    }
                } catch (NumberFormatException e) {
                    throw new ConfigException("--capacity", "'" + part + "' has no valid number");
                }
            }
        }
        return new ExecutorConfig(node, kafka.clientProperties(), dir.toAbsolutePath(), listenAddress,
                advertised, verified, init, new TransferCredentials(secret()), TransferLimits.defaults(),
                maxConcurrentMigrations, cpus, mem, Duration.ofSeconds(prepareTimeoutSeconds), Duration.ofMinutes(10),
                restoreFault(), killWorkloadsOnExit,
                checkpointIntervalSeconds > 0 ? Duration.ofSeconds(checkpointIntervalSeconds) : null, peer);
    }

    private ExecutorConfig.RestoreFault restoreFault() {
        if (injectRestoreFault == null) {
            return ExecutorConfig.RestoreFault.NONE;
        }
        try {
            return ExecutorConfig.RestoreFault.valueOf(injectRestoreFault.strip().toUpperCase().replace('-', '_'));
        } catch (IllegalArgumentException e) {
            throw new ConfigException("--inject-restore-fault", "'" + injectRestoreFault
                    + "' is not corrupt-images, fail-restore or crash-source-after-dump");
        }
    }

    private Criu criu() {
        Path binary = criu != null ? criu
                : System.getenv("PMIG_CRIU") != null ? Path.of(System.getenv("PMIG_CRIU")) : Path.of("criu");
        try {
            return Criu.verified(binary);
        } catch (CriuException e) {
            throw new ConfigException(criuKey(), e.getMessage() + " (scripts/install-criu.sh installs a working criu and prints its path)");
        }
    }

    private String criuKey() {
        return criu == null && System.getenv("PMIG_CRIU") != null ? "PMIG_CRIU" : "--criu";
    }

    private byte[] secret() throws IOException {
        byte[] secret;
        String key;
        if (secretFile != null) {
            key = "--secret-file";
            if (!Files.isReadable(secretFile)) {
                throw new ConfigException(key, "cannot read " + secretFile);
            }
            secret = Files.readAllBytes(secretFile);
        } else if (System.getenv("PMIG_TRANSFER_SECRET") != null) {
            key = "PMIG_TRANSFER_SECRET";
            secret = System.getenv("PMIG_TRANSFER_SECRET").getBytes(StandardCharsets.UTF_8);
        } else {
            throw new ConfigException("--secret-file", "no transfer secret: give --secret-file or set PMIG_TRANSFER_SECRET "
                    + "(the executor will not accept unauthenticated checkpoints, which it would run as root)");
        }
        int end = secret.length;
        while (end > 0 && (secret[end - 1] == '\n' || secret[end - 1] == '\r')) {
            end--;
        }
        secret = Arrays.copyOf(secret, end);
        if (secret.length < 16) {
            throw new ConfigException(key, "the transfer secret must be at least 16 bytes, got " + secret.length);
        }
        return secret;
    }

    static InetSocketAddress address(String key, String value) {
        int colon = value == null ? -1 : value.lastIndexOf(':');
        if (colon <= 0) {
            throw new ConfigException(key, "'" + value + "' is not HOST:PORT");
        }
        try {
            int port = Integer.parseInt(value.substring(colon + 1));
            if (port < 0 || port > 65535) {
                throw new NumberFormatException();
            }
            return new InetSocketAddress(value.substring(0, colon), port);
        } catch (NumberFormatException e) {
            throw new ConfigException(key, "'" + value + "' has no valid port");
        }
    }

    static long bytes(String size) {
        String s = size.strip().toUpperCase();
        long unit = switch (s.isEmpty() ? ' ' : s.charAt(s.length() - 1)) {
            case 'K' -> 1L << 10;
            case 'M' -> 1L << 20;
            case 'G' -> 1L << 30;
            case 'T' -> 1L << 40;
            default -> 1;
        };
        return (long) (Double.parseDouble(unit == 1 ? s : s.substring(0, s.length() - 1)) * unit);
    }

    private static boolean isRoot() throws IOException {
        for (String line : Files.readAllLines(Path.of("/proc/self/status"))) {
            if (line.startsWith("Uid:")) {
                return line.split("\\s+")[2].equals("0"); // effective uid
            }
        }
        return false;
    }
}
