package io.pmig.tools.bench;

import io.pmig.schemas.MigrationCommand;
import io.pmig.schemas.NodeMetrics;
import io.pmig.schemas.ProcessSample;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;

/**
 * Where the decision latency benchmark's stand-in executor has put workloads, and what the nodes' agents then report,
 * as real agents would after a move: a moved workload runs on its destination, whose samples list it and count its CPU
 * and memory, so the planner's reservation on that destination ends as in a real cluster - at the destination's first
 * report of a window that holds the moved load - and the destination then looks as loaded as it is.
 *
 * <p>Two simplifications, both so that every onset of the benchmark's schedule has something to move and somewhere to
 * move it: a source's slot is taken at once by a replacement workload under a new id (its figures stay the schedule's),
 * and a moved workload is a job that ends {@value #RECEIVED_JOB_MS} ms after it arrived. A workload that stayed for ever
 * would fill the spares after a minute of moves, and the benchmark would time a full cluster's placement, not decisions.
 */
final class StandInCluster {

    /** How long a moved workload runs on its destination: more than a window, so its reports show it in full. */
    static final long RECEIVED_JOB_MS = 15_000;

    private record Guest(String workloadId, double cores, long rssBytes, long arrivedMs) {
    }

    /** Per home slot (the workload id the schedule gives it), how many times its workload was moved away. */
    private final Map<String, Integer> replaced = new HashMap<>();
    /** Per node, the moved workloads it runs. */
    private final Map<String, List<Guest>> guests = new HashMap<>();
    private int moves;
    private final Map<String, Integer> movesByDestination = new HashMap<>();

    /** The stand-in executor carried out {@code command} at {@code atMs}: the workload now runs on its destination. */
    synchronized void moved(MigrationCommand command, long atMs) {
        String id = command.getWorkloadId().toString();
        boolean wasGuest = false;
        for (List<Guest> list : guests.values()) {
            wasGuest |= list.removeIf(guest -> guest.workloadId().equals(id));
        }
        if (!wasGuest) {
            int dot = id.lastIndexOf('.');
            String slot = dot > 0 && id.substring(dot + 1).chars().allMatch(Character::isDigit) ? id.substring(0, dot) : id;
            replaced.merge(slot, 1, Integer::sum);
        }
        guests.computeIfAbsent(command.getDestinationNode().toString(), node -> new ArrayList<>())
                .add(new Guest(id, command.getCpuRequest(), command.getMemRequestBytes(), atMs));
        moves++;
        movesByDestination.merge(command.getDestinationNode().toString(), 1, Integer::sum);
    }

    /** Moves to nodes whose id starts with {@code prefix}. */
    synchronized int movesTo(String prefix) {
        return movesByDestination.entrySet().stream().filter(e -> e.getKey().startsWith(prefix)).mapToInt(Map.Entry::getValue).sum();
    }

    synchronized int moves() {
        return moves;
    }

    /** What the node's agent reports instead of the schedule's {@code sample}: replacements renamed, guests added. */
    synchronized NodeMetrics report(NodeMetrics sample) {
        String node = sample.getNodeId().toString();
        List<Guest> here = guests.getOrDefault(node, new ArrayList<>());
        here.removeIf(guest -> sample.getTimestampMs() - guest.arrivedMs() >= RECEIVED_JOB_MS);
        List<ProcessSample> processes = new ArrayList<>();
        boolean changed = !here.isEmpty();
        for (ProcessSample process : sample.getProcesses()) {
            Integer times = process.getWorkloadId() == null ? null : replaced.get(process.getWorkloadId().toString());
            if (times != null) {
                process = ProcessSample.newBuilder(process).setWorkloadId(process.getWorkloadId() + "." + times).build();
                changed = true;
            }
            processes.add(process);
        }
        if (!changed) {
            return sample;
        }
        double cores = 0;
        long rss = 0;
        int pid = 5000;
        for (Guest guest : here) {
            processes.add(ProcessSample.newBuilder().setWorkloadId(guest.workloadId()).setPid(pid++).setName("moved")
                    .setCpuPercent(guest.cores() * 100).setRssBytes(guest.rssBytes()).setThreads(4).setState("S")
                    .setMigratable(true).build());
            cores += guest.cores();
            rss += guest.rssBytes();
        }
        double cpus = sample.getCapacity().getCpus();
        return NodeMetrics.newBuilder(sample)
                .setCpuPercent(Math.min(100, sample.getCpuPercent() + cores / cpus * 100))
                .setMemUsedBytes(sample.getMemUsedBytes() + rss)
                .setProcessCount(sample.getProcessCount() + here.size())
                .setProcesses(processes)
                .build();
    }
}
