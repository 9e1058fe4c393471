package io.pmig.executor.workload;

import java.util.Map;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.Executors;
import java.util.concurrent.ScheduledExecutorService;
import java.util.concurrent.TimeUnit;
import java.util.function.BiConsumer;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;
import org.slf4j.MDC;

/**
 * Notices when a running workload's init is gone. Workloads being checkpointed are unwatched first, so a
 * dump (which kills the source) is never mistaken for an exit.
 */
public final class ExitWatcher implements AutoCloseable {

    private static final Logger log = LoggerFactory.getLogger(ExitWatcher.class);

    private final Map<String, Integer> watched = new ConcurrentHashMap<>();
    private final ScheduledExecutorService timer;

    /** {@code onExit} gets the workload id and its init pid, once, on a background thread. */
    public ExitWatcher(String node, BiConsumer<String, Integer> onExit) {
        this.timer = Executors.newSingleThreadScheduledExecutor(r -> {
            Thread t = new Thread(r, "pmig-executor-" + node + "-exits");
            t.setDaemon(true);
            return t;
        });
        timer.scheduleWithFixedDelay(() -> {
            MDC.put("node", node);
            for (var entry : Map.copyOf(watched).entrySet()) {
                if (!ProcessTable.isAlive(entry.getValue()) && watched.remove(entry.getKey(), entry.getValue())) {
                    try {
                        onExit.accept(entry.getKey(), entry.getValue());
                    } catch (RuntimeException e) {
                        log.warn("handling the exit of {} failed: {}", entry.getKey(), e.toString());
                    }
                }
            }
        }, 200, 200, TimeUnit.MILLISECONDS);
    }

    public void watch(String workloadId, int initPid) {
        watched.put(workloadId, initPid);
    }

    /** Stops watching; true if it was watched (i.e. it was running here and had not exited yet). */
    public boolean unwatch(String workloadId) {
        return watched.remove(workloadId) != null;
    }

    @Override
    public void close() {
        timer.shutdownNow();
    }
}
