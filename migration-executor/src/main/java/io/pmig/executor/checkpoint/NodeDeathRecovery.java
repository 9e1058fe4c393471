package io.pmig.executor.checkpoint;

import io.pmig.executor.checkpoint.CheckpointStore.Held;
import io.pmig.executor.criu.Criu;
import io.pmig.executor.criu.CriuException;
import io.pmig.executor.events.ExecutorMeters;
import io.pmig.executor.migration.NodeServices;
import io.pmig.executor.transfer.WorkloadFiles;
import io.pmig.executor.workload.NodeWorkloads;
import io.pmig.executor.workload.ProcessTable;
import io.pmig.schemas.MigrationEvent;
import io.pmig.schemas.Phase;
import io.pmig.schemas.PhaseTimings;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.Optional;
import java.util.Set;
import java.util.concurrent.Executor;
import java.util.function.Predicate;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;
import org.slf4j.MDC;

/**
 * Restores a dead node's workloads from the checkpoints held here, and retires a copy that such a recovery
 * superseded. On NODE_DOWN for node X every workload of X held in the {@link CheckpointStore} is restored here -
 * but only if pmig.events still places it on X (its last LAUNCHED / COMPLETED / ROLLED_BACK / RECOVERED was X's,
 * and no KILLED / EXITED since), so a workload that left X, or was already recovered elsewhere, is not started
 * again. RECOVERED carries the progress lost: {@code timings.downtimeMs} is how old the restored state is, the text
 * how long before the node was declared down the checkpoint was taken.
 *
 * <p>The recovered copy always wins: when X's executor starts again, or hears RECOVERED while it still runs (a
 * healed partition), it kills its own copy of every workload recovered after that copy started here. Between the
 * recovery and that moment a partitioned X may still run its copy - there is no fencing (see CRIU-NOTES.md).
 */
public final class NodeDeathRecovery {

    private static final Logger log = LoggerFactory.getLogger(NodeDeathRecovery.class);

    private final NodeServices node;
    private final CheckpointStore store;
    private final Set<String> busy;
    private final Executor background;
    private final Predicate<String> executorAlive;
    private final ExecutorMeters meters;

    /**
     * @param busy          workloads in a migration or checkpoint (shared with the executor); a recovery claims its workload too
     * @param executorAlive whether a node's executor is still alive by the node registry (pmig.nodes), asked before its
     *                      workloads are restored: NODE_DOWN only says its metrics stopped
     */
    public NodeDeathRecovery(NodeServices node, CheckpointStore store, Set<String> busy, Executor background,
                             Predicate<String> executorAlive, ExecutorMeters meters) {
        this.node = node;
        this.store = store;
        this.busy = busy;
        this.background = background;
        this.executorAlive = executorAlive;
        this.meters = meters;
    }

    /** For {@link io.pmig.executor.events.PeerEvents#listen}: runs on the events thread, so work goes to the background. */
    public void onEvent(MigrationEvent event) {
        String me = node.config().node();
        if (event.getPhase() == Phase.NODE_DOWN && !me.equals(event.getNode())) {
            background.execute(() -> recoverNode(event));
        } else if (event.getPhase() == Phase.RECOVERED && me.equals(event.getSourceNode())) {
            background.execute(() -> {
                MDC.put("node", me);
                MDC.put("migration", event.getMigrationId());
                try {
                    retireIfSuperseded(event.getWorkloadId(), event);
                } finally {
                    MDC.remove("migration");
                }
            });
        }
    }

    private void recoverNode(MigrationEvent down) {
        MDC.put("node", node.config().node());
        try {
            List<Held> held = store.heldFrom(down.getNode());
            if (held.isEmpty()) {
                return;
            }
            // analytics says DOWN when a node's metrics stop: a dead agent or an analytics behind its input says the
            // same. A live executor's workloads are not restored here - that would run a stale copy and kill the live one.
            if (executorAlive.test(down.getNode())) {
                log.warn("{} was reported DOWN ({}) but its executor is alive by the node registry: not restoring its {}"
                        + " workload(s) held here", down.getNode(), down.getCommandId(), held.size());
                meters.recoveryDeclined();
                return;
            }
            for (Held checkpoint : held) {
                recover(checkpoint, down);
            }
        } catch (IOException | RuntimeException e) {
            log.error("recovery of the workloads of {} failed: {}", down.getNode(), e.toString(), e);
        }
    }

    private void recover(Held checkpoint, MigrationEvent down) {
        String workloadId = checkpoint.workloadId();
        String recoveryId = "recover-" + checkpoint.id();
        MDC.put("migration", recoveryId);
        if (!busy.add(workloadId)) {
            log.warn("not recovering {}: a migration of it is in progress here", workloadId);
            MDC.remove("migration");
            return;
        }
        Path dir = node.workloads().dir(workloadId);
        try {
            Optional<MigrationEvent> placement = node.history().last(workloadId, NodeDeathRecovery::isPlacement);
            if (placement.isEmpty() || placement.get().getPhase() == Phase.KILLED
                    || placement.get().getPhase() == Phase.EXITED || !down.getNode().equals(placement.get().getNode())) {
                log.info("not recovering {}: it no longer runs on {} (last placement: {})", workloadId, down.getNode(),
                        placement.map(e -> e.getPhase() + " by " + e.getNode()).orElse("none"));
                store.discard(checkpoint.source(), workloadId);
                return;
            }
            long lostMs = Math.max(0, down.getTimestampMs() - checkpoint.takenAtMs());
            log.info("{} is down: restoring {} from its checkpoint taken {} ms before", down.getNode(), workloadId, lostMs);
            NodeWorkloads.deleteTree(dir);
            copyTree(checkpoint.workload(), dir);
            long start = System.nanoTime();
            int pid = node.config().criu().restore(checkpoint.images(), dir, false, "recover.log");
            long restoreMs = CheckpointShipper.millisSince(start);
            node.workloads().writePid(workloadId, pid);
            node.exits().watch(workloadId, pid);
            store.discard(checkpoint.source(), workloadId); // restored once: a later NODE_DOWN of X must not do it again
            node.events().publish(node.events().event(down.getCommandId(), recoveryId, workloadId, Phase.RECOVERED)
                    .setSourceNode(down.getNode()).setDestinationNode(node.config().node()).setPid(pid)
                    .setTimings(PhaseTimings.newBuilder().setRestoreMs(restoreMs)
                            .setDowntimeMs(System.currentTimeMillis() - checkpoint.takenAtMs()).build())
                    .setDetail("restored from checkpoint taken " + lostMs + " ms before the node went down (takenAtMs="
                            + checkpoint.takenAtMs() + "); progress " + down.getNode() + " made after it is lost"));
        } catch (CriuException | IOException | RuntimeException e) {
            log.error("recovery of {} from {} failed: {}", workloadId, down.getNode(), e.getMessage());
            Criu.lockTable(checkpoint.images()).ifPresent(node.config().criu()::deleteLockTable);
            try {
                NodeWorkloads.deleteTree(dir);
            } catch (IOException ignored) {
                // reported below
            }
            node.events().publish(node.events().event(down.getCommandId(), recoveryId, workloadId, Phase.FAILED)
                    .setSourceNode(down.getNode()).setDestinationNode(node.config().node())
                    .setError("recovery from the checkpoint failed (kept in " + checkpoint.dir() + "): " + e.getMessage()));
        } finally {
            busy.remove(workloadId);
            MDC.remove("migration");
        }
    }

    /** The events that say where a workload runs (or that it stopped). */
    static boolean isPlacement(MigrationEvent e) {
        return switch (e.getPhase()) {
            case LAUNCHED, COMPLETED, ROLLED_BACK, RECOVERED, KILLED, EXITED -> true;
            default -> false;
        };
    }

    /**
     * At start-up, before any workload is watched: a workload recovered elsewhere after its copy started here is
     * not this node's any more - its copy here is killed (if it survived) and removed, never reported or resumed.
     */
    public void retireSuperseded() {
        for (String workloadId : node.workloads().ids()) {
            node.history().last(workloadId, e -> e.getPhase() == Phase.RECOVERED
                            && node.config().node().equals(e.getSourceNode()))
                    .ifPresent(recovered -> {
                        MDC.put("migration", recovered.getMigrationId());
                        retireIfSuperseded(workloadId, recovered);
                        MDC.remove("migration");
                    });
        }
    }

    private void retireIfSuperseded(String workloadId, MigrationEvent recovered) {
        Path dir = node.workloads().dir(workloadId);
        long startedHere = startedAt(dir);
        if (startedHere == 0 || recovered.getTimestampMs() <= startedHere) {
            return; // this copy came here after that recovery (or is gone)
        }
        try {
            Optional<Integer> pid = node.workloads().pid(workloadId).filter(ProcessTable::isAlive);
            node.exits().unwatch(workloadId);
            node.workloads().stop(workloadId, java.time.Duration.ZERO); // SIGKILL, waits until it is gone
            node.workloads().remove(workloadId);
            log.warn("{} was recovered on {} while this node was down or cut off: {} its copy here", workloadId,
                    recovered.getNode(), pid.isPresent() ? "killed" : "removed");
        } catch (IOException e) {
            log.error("cannot remove the superseded copy of {}: {}", workloadId, e.getMessage());
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
        }
    }

    /** When the workload started running here: its pid file is written at launch, restore and rollback. */
    private static long startedAt(Path dir) {
        try {
            Path pid = dir.resolve(NodeWorkloads.PID_FILE);
            return Files.getLastModifiedTime(Files.exists(pid) ? pid : dir).toMillis();
        } catch (IOException e) {
            return 0;
        }
    }

    private static void copyTree(Path from, Path to) throws IOException {
        // every kind of entry with its mode, owner and exact times: criu checks them at restore
        WorkloadFiles.stage(from, to, WorkloadFiles.Staging.COPY, relative -> false);
    }
}
