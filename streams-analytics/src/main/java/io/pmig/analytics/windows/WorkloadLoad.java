package io.pmig.analytics.windows;

/**
 * What one managed workload costs its node, as the decision stage needs it.
 *
 * @param cpuCores      mean CPU over the window, in cores (ProcessSample.cpuPercent is percent of one core)
 * @param rssBytes      resident memory in the window's latest sample
 * @param cpuLastCores  CPU in the window's latest sample the workload appears in, in cores: the planner sizes a move's
 *                      relief on it, as it sizes the source's excess on the node's latest CPU (null in records from
 *                      before it was carried: the mean stands in)
 * @param cpuSlopeCores least-squares slope of the workload's CPU over the window, in cores per second (null: 0)
 */
public record WorkloadLoad(String workloadId, double cpuCores, long rssBytes, boolean migratable,
                           Double cpuLastCores, Double cpuSlopeCores) {

    public WorkloadLoad(String workloadId, double cpuCores, long rssBytes, boolean migratable) {
        this(workloadId, cpuCores, rssBytes, migratable, null, null);
    }

    /** The CPU a move takes off its node {@code lookaheadS} from the window's end, by the workload's rising trend. */
    public double cpuAheadCores(double lookaheadS) {
        double last = cpuLastCores != null ? cpuLastCores : cpuCores;
        return last + Math.max(0, cpuSlopeCores != null ? cpuSlopeCores : 0) * lookaheadS;
    }
}
