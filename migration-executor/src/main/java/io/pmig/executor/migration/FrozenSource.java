package io.pmig.executor.migration;

import io.pmig.executor.workload.WorkloadIdentity;
import java.nio.file.Path;
import java.util.Set;

/**
 * The source's copy of a workload after a {@code --leave-stopped} dump: every task stopped in place, its
 * connections held by criu's network lock. Until the destination commits this copy is the workload, so a rollback
 * is {@link CheckpointEngine#resume} - no second restore that could fail the way the destination's did - and a
 * commit is {@link CheckpointEngine#release}. Both check first that the init is still the process that was dumped
 * (a pid can be reused).
 *
 * @param stoppedBefore namespace-local pids of tasks that were stopped before the migration (job control, SIGSTOP):
 *                      a rollback leaves them stopped
 * @param images        the dump's directory (criu names its network lock after it)
 */
public record FrozenSource(WorkloadIdentity init, Set<Integer> stoppedBefore, Path images) {
}
