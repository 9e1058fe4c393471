package io.pmig.executor.checkpoint;

import io.pmig.executor.container.ContainerWorkloads;
import io.pmig.executor.criu.CriuException;
import io.pmig.executor.migration.NodeServices;
import io.pmig.executor.transfer.TransferConnection;
import io.pmig.executor.transfer.TransferException;
import io.pmig.executor.transfer.TransferReceipt;
import io.pmig.executor.transfer.WorkloadFiles;
import io.pmig.executor.workload.NodeWorkloads;
import io.pmig.executor.workload.ProcessTable;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.UUID;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.Executors;
import java.util.concurrent.ScheduledExecutorService;
import java.util.concurrent.TimeUnit;
import java.util.function.BiConsumer;
import java.util.stream.Stream;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;
import org.slf4j.MDC;

/**
 * The source side of node-death recovery: every {@code checkpointInterval} each migratable workload of this node is
 * checkpointed ({@code criu dump --leave-stopped}, its directory copied while the tree is stopped, then resumed -
 * so memory and files are one consistent snapshot) and sent over the authenticated transfer to
 * {@code checkpointPeer}, whose {@link CheckpointStore} keeps the latest one. The workload keeps running here;
 * its freeze lasts the dump plus the copy of its directory.
 */
public final class CheckpointShipper implements AutoCloseable {

    private static final Logger log = LoggerFactory.getLogger(CheckpointShipper.class);
    private static final Duration CONNECT_TIMEOUT = Duration.ofSeconds(30);
    private static final Duration REPLY_TIMEOUT = Duration.ofSeconds(60);

    private final NodeServices node;
    private final Set<String> busy;
    private final BiConsumer<String, Integer> exited;
    private final Set<String> checkpointing = ConcurrentHashMap.newKeySet();
    private final ScheduledExecutorService timer = Executors.newSingleThreadScheduledExecutor(r -> {
        Thread t = new Thread(r, "pmig-executor-checkpoints");
        t.setDaemon(true);
        return t;
    });

    /**
     * @param busy    workloads in a migration (shared with the executor): a checkpoint claims its workload there too,
     *                so the two never overlap
     * @param exited  how the executor reports a workload that exited while it was claimed here
     */
    public CheckpointShipper(NodeServices node, Set<String> busy, BiConsumer<String, Integer> exited) {
        this.node = node;
        this.busy = busy;
        this.exited = exited;
    }

    public CheckpointShipper start() {
        long every = node.config().checkpointInterval().toMillis();
        timer.scheduleWithFixedDelay(this::round, every, every, TimeUnit.MILLISECONDS);
        log.info("checkpointing every migratable workload every {} ms to {}", every, node.config().checkpointPeer());
        return this;
    }

    /** True while a checkpoint of this workload runs (a MIGRATE then waits for it rather than being refused). */
    public boolean isCheckpointing(String workloadId) {
        return checkpointing.contains(workloadId);
    }

    private void round() {
        MDC.put("node", node.config().node());
        for (String id : node.workloads().ids()) {
            try {
                if (node.workloads().isRunning(id) && !node.workloads().isPinned(id)
                        && !ContainerWorkloads.isContainer(node, id)) {
                    checkpoint(id);
                }
            } catch (RuntimeException e) {
                log.error("checkpoint of {} failed: {}", id, e.toString(), e);
            }
        }
    }

    private void checkpoint(String workloadId) {
        if (!busy.add(workloadId)) {
            return; // migrating: the next round checkpoints it wherever it runs then
        }
        checkpointing.add(workloadId);
        String id = "checkpoint-" + UUID.randomUUID();
        MDC.put("migration", id);
        Path dir = outgoing(node, workloadId);
        int pid = node.workloads().pid(workloadId).orElse(0);
        try {
            NodeWorkloads.deleteTree(dir);
            Path images = Files.createDirectories(dir.resolve("images"));
            long takenAtMs = System.currentTimeMillis();
            long start = System.nanoTime();
            try {
                node.config().criu().checkpoint(pid, images);
            } catch (CriuException e) {
                log.warn("checkpoint of {} failed (criu resumed it): {}", workloadId, e.getMessage());
                return;
            }
            long dumpMs = millisSince(start);
            List<Path> files;
            try {
                files = copyWorkload(workloadId, dir);
            } finally {
                resume(pid, images);
            }
            long freezeMs = millisSince(start);
            files.addAll(imageFiles(dir));
            long transferStart = System.nanoTime();
            TransferReceipt receipt;
            try (TransferConnection connection = TransferConnection.open(node.config().checkpointPeer(),
                    node.config().credentials(), id, CONNECT_TIMEOUT)) {
                receipt = connection.sendFiles(dir, files);
                connection.control("CHECKPOINT", Map.of("source", node.config().node(), "workloadId", workloadId,
                        "takenAtMs", String.valueOf(takenAtMs), "freezeMs", String.valueOf(freezeMs),
                        "dumpMs", String.valueOf(dumpMs), "transferMs", String.valueOf(millisSince(transferStart)),
                        "bytes", String.valueOf(receipt.bytes())), REPLY_TIMEOUT);
                connection.finish();
            }
            log.info("checkpoint of {} ({} files, {} bytes, frozen {} ms) is held by {}", workloadId, receipt.files(),
                    receipt.bytes(), freezeMs, node.config().checkpointPeer());
        } catch (TransferException | IOException e) {
            // retried next round; the peer keeps the previous complete checkpoint meanwhile
            log.warn("checkpoint of {} not delivered to {}: {}", workloadId, node.config().checkpointPeer(), e.getMessage());
        } finally {
            try {
                NodeWorkloads.deleteTree(dir);
            } catch (IOException e) {
                log.warn("cannot delete {}: {}", dir, e.getMessage());
            }
            busy.remove(workloadId);
            checkpointing.remove(workloadId);
            MDC.remove("migration");
            if (pid != 0 && !ProcessTable.isAlive(pid) && node.workloads().pid(workloadId).orElse(0) == pid) {
                exited.accept(workloadId, pid); // the exit watcher's report was ignored while the workload was claimed
            }
        }
    }

    /** criu keeps a stopped tree's connections locked: once it runs again they must flow. */
    private void resume(int pid, Path images) {
        node.config().criu().resumeDumped(images, pid, ProcessTable.namespaceMembers(pid));
    }

    /** Copies the workload's directory (not its pid file) to {@code dir/workload}; returns what to send. */
    private List<Path> copyWorkload(String workloadId, Path dir) throws IOException {
        // a copy, not links: the files change again as soon as the tree resumes
        List<Path> files = new ArrayList<>();
        for (Path copied : WorkloadFiles.stage(node.workloads().dir(workloadId), dir.resolve("workload"),
                WorkloadFiles.Staging.COPY, NodeWorkloads::isPidFile)) {
            files.add(dir.relativize(copied));
        }
        return files;
    }

    private static List<Path> imageFiles(Path dir) throws IOException {
        try (Stream<Path> files = Files.list(dir.resolve("images"))) {
            return files.filter(Files::isRegularFile)
                    .filter(p -> !p.getFileName().toString().endsWith(".log") && !p.getFileName().toString().endsWith(".out"))
                    .map(dir::relativize).collect(java.util.stream.Collectors.toCollection(ArrayList::new));
        }
    }

    static Path outgoing(NodeServices node, String workloadId) {
        return node.config().workdir().resolve("checkpoints").resolve("outgoing").resolve(workloadId);
    }

    /**
     * At start-up: a checkpoint the previous executor was taking when it died may have left its workload stopped.
     * Resume it (SIGCONT is harmless to a running tree) and drop the partial checkpoint.
     */
    public static void recoverInterrupted(NodeServices node) throws IOException {
        Path root = node.config().workdir().resolve("checkpoints").resolve("outgoing");
        if (!Files.isDirectory(root)) {
            return;
        }
        try (Stream<Path> dirs = Files.list(root)) {
            for (Path dir : dirs.toList()) {
                String workloadId = dir.getFileName().toString();
                int pid = node.workloads().pid(workloadId).filter(ProcessTable::isAlive).orElse(0);
                if (pid != 0) {
                    log.warn("resuming {} (pid {}): the previous executor stopped during its checkpoint", workloadId, pid);
                    node.config().criu().resumeDumped(dir.resolve("images"), pid, ProcessTable.namespaceMembers(pid));
                } else {
                    node.config().criu().unlock(dir.resolve("images"), 0);
                }
                NodeWorkloads.deleteTree(dir);
            }
        }
    }

    static long millisSince(long nanos) {
        return (System.nanoTime() - nanos) / 1_000_000;
    }

    /** Stops the timer and waits for a checkpoint in progress, so no workload is left stopped. */
    @Override
    public void close() {
        timer.shutdown();
        try {
            timer.awaitTermination(2, TimeUnit.MINUTES);
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
        }
    }
}
