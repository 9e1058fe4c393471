package io.pmig.executor.migration;

import io.pmig.executor.criu.Criu;
import io.pmig.executor.workload.ProcessTable;
import io.pmig.executor.workload.WorkloadIdentity;
import java.nio.file.Path;
import java.time.Duration;
import java.util.List;
import java.util.Set;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * The source's copy of a workload after a {@code --leave-stopped} dump: every task stopped in place, its
 * connections held by criu's network lock. Until the destination commits this copy is the workload, so a rollback
 * is {@link #resume} - no second restore that could fail the way the destination's did - and a commit is
 * {@link #release}. Both check first that the init is still the process that was dumped (a pid can be reused).
 *
 * @param stoppedBefore namespace-local pids of tasks that were stopped before the migration (job control, SIGSTOP):
 *                      a rollback leaves them stopped
 */
public record FrozenSource(WorkloadIdentity init, Set<Integer> stoppedBefore, Path images) {

    private static final Logger log = LoggerFactory.getLogger(FrozenSource.class);

    /** Whether the dumped tree is still there (stopped or, if criu resumed it after a failed dump, running). */
    public boolean isPresent() {
        return init.isPresent();
    }

    /** Lets the tree run again where it was and unlocks its connections. False if the tree is gone. */
    public boolean resume(Criu criu) {
        if (!isPresent()) {
            return false;
        }
        List<Integer> members = ProcessTable.namespaceMembers(init.pid()).stream()
                .filter(pid -> !stoppedBefore.contains(ProcessTable.namespacePid(pid)))
                .toList();
        // unlock before the tasks run, so their first packets are not dropped
        Criu.lockTable(images).ifPresent(criu::deleteLockTable);
        if (!ProcessTable.signal("CONT", members)) {
            log.warn("SIGCONT to {} did not reach every process", members);
        }
        return true;
    }

    /** Ends the source's copy after the destination committed: the copy there runs, this one must never resume. */
    public void release(Criu criu) {
        if (isPresent()) {
            ProcessTable.killNamespace(init.pid());
            ProcessTable.awaitGone(init.pid(), Duration.ofSeconds(10));
        }
        // the killed tree's sockets close silently (they were in repair mode); the lock has nothing left to guard
        Criu.lockTable(images).ifPresent(criu::deleteLockTable);
    }
}
