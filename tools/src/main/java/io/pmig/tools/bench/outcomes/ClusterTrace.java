package io.pmig.tools.bench.outcomes;

import io.pmig.schemas.NodeCapacity;
import io.pmig.schemas.NodeMetrics;
import io.pmig.schemas.ProcessSample;
import io.pmig.schemas.SamplingMode;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.TreeMap;

/**
 * A cluster's load as the outcome benchmark replays it: nodes with their capacity, and workloads whose demand
 * (cores, RSS) is known for every second and follows the workload wherever it runs.
 *
 * <p>On disk it is a trace file of {@code NodeMetrics} (the format of {@code pmig record-trace} and
 * {@code pmig train --trace}), one sample per node per second with the workloads at their original placement.
 * Read back, a process's {@code cpuPercent} is taken as the workload's demand in percent of one core; an agent
 * reports what the process got, so on a recorded trace an overloaded node's workloads understate their demand
 * (the generated trace writes the demand itself, see {@link ClusterTraceGenerator}). A workload missing from
 * a second's sample does not run that second.
 *
 * @param startMs time of second 0, epoch ms
 */
public record ClusterTrace(long startMs, int seconds, List<Node> nodes, List<Workload> workloads) {

    public record Node(String id, double cpus, long memBytes) {
    }

    /**
     * @param cpuCores demand per second, in cores; NaN while the workload does not run
     * @param rssMib   resident memory per second, in MiB
     */
    public record Workload(String id, String homeNode, String name, boolean migratable, float[] cpuCores, float[] rssMib) {

        public boolean runsAt(int second) {
            return !Float.isNaN(cpuCores[second]);
        }

        public double cpu(int second) {
            return runsAt(second) ? cpuCores[second] : 0;
        }

        public long rssBytes(int second) {
            return runsAt(second) ? (long) rssMib[second] << 20 : 0;
        }
    }

    public Node node(String id) {
        return nodes.stream().filter(node -> node.id().equals(id)).findFirst()
                .orElseThrow(() -> new IllegalArgumentException("no node " + id));
    }

    /** The seconds [from, to) of this trace as a trace of their own, second 0 at {@code from}. */
    public ClusterTrace slice(int from, int to) {
        List<Workload> sliced = new ArrayList<>();
        for (Workload w : workloads) {
            float[] cpu = java.util.Arrays.copyOfRange(w.cpuCores(), from, to);
            float[] rss = java.util.Arrays.copyOfRange(w.rssMib(), from, to);
            sliced.add(new Workload(w.id(), w.homeNode(), w.name(), w.migratable(), cpu, rss));
        }
        return new ClusterTrace(startMs + from * 1000L, to - from, nodes, sliced);
    }

    /** Reads a trace file's samples; the nodes' capacity is their first sample's. */
    public static ClusterTrace of(List<NodeMetrics> samples) {
        if (samples.isEmpty()) {
            throw new IllegalArgumentException("the trace holds no samples");
        }
        long start = samples.stream().mapToLong(NodeMetrics::getTimestampMs).min().orElseThrow();
        long end = samples.stream().mapToLong(NodeMetrics::getTimestampMs).max().orElseThrow();
        int seconds = (int) ((end - start) / 1000) + 1;
        Map<String, Node> nodes = new TreeMap<>();
        Map<String, float[][]> series = new LinkedHashMap<>();
        Map<String, Workload> first = new LinkedHashMap<>();
        for (NodeMetrics sample : samples) {
            String nodeId = sample.getNodeId().toString();
            NodeCapacity capacity = sample.getCapacity();
            nodes.computeIfAbsent(nodeId, id -> new Node(id, capacity != null && capacity.getCpus() > 0 ? capacity.getCpus() : 1,
                    capacity != null && capacity.getMemBytes() > 0 ? capacity.getMemBytes() : sample.getMemTotalBytes()));
            int second = (int) Math.round((sample.getTimestampMs() - start) / 1000.0);
            if (second >= seconds) {
                continue;
            }
            for (ProcessSample process : sample.getProcesses()) {
                if (process.getWorkloadId() == null) {
                    continue;
                }
                String id = process.getWorkloadId().toString();
                float[][] s = series.computeIfAbsent(id, k -> {
                    float[] cpu = new float[seconds];
                    java.util.Arrays.fill(cpu, Float.NaN);
                    return new float[][] {cpu, new float[seconds]};
                });
                first.putIfAbsent(id, new Workload(id, nodeId, process.getName().toString(), process.getMigratable(), null, null));
                s[0][second] = (float) (process.getCpuPercent() / 100.0);
                s[1][second] = (float) (process.getRssBytes() / (double) (1 << 20));
            }
        }
        List<Workload> workloads = new ArrayList<>();
        first.forEach((id, w) -> workloads.add(new Workload(id, w.homeNode(), w.name(), w.migratable(), series.get(id)[0],
                series.get(id)[1])));
        return new ClusterTrace(start, seconds, List.copyOf(nodes.values()), workloads);
    }

    /** The samples of every node and second with every workload at its home node, each reporting its demand. */
    public List<NodeMetrics> toSamples() {
        List<NodeMetrics> samples = new ArrayList<>(seconds * nodes.size());
        Map<String, List<Workload>> byNode = new LinkedHashMap<>();
        nodes.forEach(node -> byNode.put(node.id(), new ArrayList<>()));
        workloads.forEach(w -> byNode.get(w.homeNode()).add(w));
        for (int s = 0; s < seconds; s++) {
            for (Node node : nodes) {
                List<ProcessSample> processes = new ArrayList<>();
                double cores = 0;
                long rss = 0;
                for (Workload w : byNode.get(node.id())) {
                    if (w.runsAt(s)) {
                        processes.add(process(w, w.cpu(s), w.rssBytes(s)));
                        cores += w.cpu(s);
                        rss += w.rssBytes(s);
                    }
                }
                samples.add(sample(node, startMs + s * 1000L, s, cores, rss, processes));
            }
        }
        return samples;
    }

    static ProcessSample process(Workload w, double cores, long rssBytes) {
        return ProcessSample.newBuilder().setWorkloadId(w.id()).setPid(1000 + Math.floorMod(w.id().hashCode(), 30000))
                .setName(w.name()).setCpuPercent(Math.round(cores * 1000) / 10.0).setRssBytes(rssBytes).setThreads(4)
                .setState("S").setMigratable(w.migratable()).build();
    }

    /** A SIMULATED-mode sample as the agent writes it: CPU is the workloads' use against capacity, capped at 100 %. */
    static NodeMetrics sample(Node node, long timestampMs, long sequence, double cores, long rssBytes, List<ProcessSample> processes) {
        double load = Math.round(cores * 100) / 100.0;
        return NodeMetrics.newBuilder()
                .setNodeId(node.id())
                .setTimestampMs(timestampMs)
                .setSequence(sequence)
                .setAgentStartMs(0)
                .setMode(SamplingMode.SIMULATED)
                .setCpuPercent(Math.min(100.0, Math.round(cores / node.cpus() * 1000) / 10.0))
                .setLoadAvg1(load)
                .setLoadAvg5(load)
                .setLoadAvg15(load)
                .setMemUsedBytes(rssBytes)
                .setMemTotalBytes(node.memBytes())
                .setProcessCount(processes.size())
                .setCapacity(NodeCapacity.newBuilder().setCpus(node.cpus()).setMemBytes(node.memBytes()).build())
                .setProcesses(processes)
                .build();
    }
}
