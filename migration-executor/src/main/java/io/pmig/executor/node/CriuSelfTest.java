package io.pmig.executor.node;

import io.pmig.executor.criu.Criu;
import io.pmig.executor.criu.CriuException;
import io.pmig.executor.workload.NodeWorkloads;
import io.pmig.executor.workload.ProcessTable;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.List;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Proves at start-up that this node can do what every migration and rollback needs: checkpoint a workload under
 * pmig-init and restore it. {@code criu check} passes in places where a restore still fails - a container without
 * CAP_SYS_TIME ("Unable to set a monotonic clock offset: Operation not permitted"), a read-only /proc/sys, a mount tree
 * criu cannot rebuild - and a node that finds out only mid-migration cannot even roll back: the workload is lost.
 * Takes about 0.3 s.
 */
public final class CriuSelfTest {

    private static final Logger log = LoggerFactory.getLogger(CriuSelfTest.class);
    private static final String WORKLOAD = "criu-self-test";

    private CriuSelfTest() {
    }

    /**
     * Launches a shell loop under {@code init} in a scratch directory of {@code workdir} (not under its workloads/, so
     * the agent never reports it), dumps it, restores it, checks it runs, then kills it and removes everything.
     *
     * @throws CriuException naming the step that failed and criu's error lines
     */
    public static void run(Criu criu, Path init, Path workdir) throws CriuException {
        long start = System.nanoTime();
        Path scratch = workdir.resolve("criu-self-test");
        NodeWorkloads workloads = new NodeWorkloads(scratch, init);
        Path images = scratch.resolve("images");
        int restored = 0;
        try {
            NodeWorkloads.deleteTree(scratch);
            int pid = workloads.launch(WORKLOAD, List.of("sh", "-c", "while :; do sleep 1; done"));
            Files.createDirectories(images);
            try {
                criu.dump(pid, images, null);
            } catch (CriuException e) {
                ProcessTable.killNamespace(pid);
                throw new CriuException("criu cannot checkpoint a workload on this node: " + e.getMessage(), e);
            }
            try {
                restored = criu.restore(images, workloads.dir(WORKLOAD), false, "restore.log");
            } catch (CriuException e) {
                throw new CriuException("criu cannot restore a workload on this node, so no migration (and no rollback)"
                        + " could finish here: " + e.getMessage(), e);
            }
            if (!ProcessTable.isAlive(restored)) {
                throw new CriuException("criu restored the self-test workload but it is not running (state "
                        + ProcessTable.state(restored) + ")");
            }
        } catch (IOException e) {
            throw new CriuException("cannot run the criu self-test in " + scratch + ": " + e.getMessage(), e);
        } finally {
            if (restored > 0) {
                ProcessTable.killNamespace(restored);
                ProcessTable.awaitGone(restored, Duration.ofSeconds(5)); // no self-test process outlives it
            }
            Criu.lockTable(images).ifPresent(criu::deleteLockTable);
            try {
                NodeWorkloads.deleteTree(scratch);
            } catch (IOException e) {
                log.warn("cannot remove {}: {}", scratch, e.getMessage());
            }
        }
        log.info("criu self-test passed: checkpoint and restore of a workload in {} ms", (System.nanoTime() - start) / 1_000_000);
    }
}
