package io.pmig.analytics.windows;

/**
 * What one managed workload costs its node, as the decision stage needs it.
 *
 * @param cpuCores mean CPU over the window, in cores (ProcessSample.cpuPercent is percent of one core)
 * @param rssBytes resident memory in the window's latest sample
 */
public record WorkloadLoad(String workloadId, double cpuCores, long rssBytes, boolean migratable) {
}
