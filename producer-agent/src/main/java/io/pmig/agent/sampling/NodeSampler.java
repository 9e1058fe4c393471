package io.pmig.agent.sampling;

import io.pmig.agent.sampling.ManagedWorkloads.Workload;
import io.pmig.agent.sampling.ProcessTable.ProcessStat;
import io.pmig.schemas.NodeCapacity;
import io.pmig.schemas.NodeMetrics;
import io.pmig.schemas.ProcessSample;
import io.pmig.schemas.SamplingMode;
import java.io.IOException;
import java.nio.file.FileStore;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Comparator;
import java.util.HashSet;
import java.util.List;
import java.util.Set;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;
import oshi.SystemInfo;
import oshi.hardware.CentralProcessor;
import oshi.hardware.GlobalMemory;
import oshi.hardware.VirtualMemory;
import oshi.software.common.os.linux.LinuxOperatingSystem;
import oshi.software.os.OperatingSystem;

/**
 * Takes one {@link NodeMetrics} sample of a node. Rates and CPU percentages cover the time since the previous
 * sample (the constructor takes the first baseline), so call {@link #sample} from one thread at a steady interval.
 * <p>
 * {@link SamplingMode#HOST}: every figure is the real host's. {@link SamplingMode#SIMULATED}: several nodes
 * share this host, so the node's own load is what its managed workloads use: {@code cpuPercent} is their summed
 * CPU against the configured cores, clamped to 100 to keep the field's 0-100 contract (the unclamped demand is
 * the sum of the workloads' own {@code cpuPercent}); {@code memUsedBytes} is their summed RSS (not clamped, it
 * can exceed capacity) and {@code memTotalBytes} the configured memory. Load averages, swap, disk, network and
 * process count stay host figures in both modes: a simulated node has no separate kernel to count them.
 * <p>
 * Processes: each managed workload (its init and all descendants summed, named after the init's oldest child,
 * the workload's main command), then the {@value #TOP_OTHER_PROCESSES} busiest other host processes for context.
 */
public final class NodeSampler {

    private static final Logger log = LoggerFactory.getLogger(NodeSampler.class);

    public static final int TOP_OTHER_PROCESSES = 5;

    private final String nodeId;
    private final SamplingMode mode;
    private final NodeCapacity capacity;
    private final Path workdir;
    private final ManagedWorkloads workloads;
    private final CentralProcessor processor;
    private final GlobalMemory memory;
    private final long ticksPerSecond;
    private final long pageSize;

    private long[] previousTicks;
    private ProcessTable previousProcesses;
    private IoCounters previousIo;
    private FileStore workdirStore;

    public NodeSampler(String nodeId, SamplingMode mode, NodeCapacity capacity, Path workdir) {
        this.nodeId = nodeId;
        this.mode = mode;
        this.capacity = capacity;
        this.workdir = workdir;
        this.workloads = new ManagedWorkloads(workdir);
        SystemInfo system = new SystemInfo();
        this.processor = system.getHardware().getProcessor();
        this.memory = system.getHardware().getMemory();
        OperatingSystem os = system.getOperatingSystem();
        // USER_HZ and the page size interpret /proc/<pid>/stat; 100 and 4096 are what Linux uses nearly everywhere.
        this.ticksPerSecond = os instanceof LinuxOperatingSystem linux ? linux.getHz() : 100;
        this.pageSize = os instanceof LinuxOperatingSystem linux ? linux.getPageSize() : 4096;
        this.previousTicks = processor.getSystemCpuLoadTicks();
        this.previousProcesses = ProcessTable.scan();
        this.previousIo = IoCounters.read();
    }

    /** The real host's capacity: its logical processors and physical memory. */
    public static NodeCapacity hostCapacity() {
        SystemInfo system = new SystemInfo();
        return new NodeCapacity((double) system.getHardware().getProcessor().getLogicalProcessorCount(),
                system.getHardware().getMemory().getTotal());
    }

    public NodeMetrics sample(long sequence, long agentStartMs) {
        long timestampMs = System.currentTimeMillis();
        double hostCpuPercent = 100.0 * processor.getSystemCpuLoadBetweenTicks(previousTicks);
        previousTicks = processor.getSystemCpuLoadTicks();
        double[] load = processor.getSystemLoadAverage(3);
        ProcessTable processes = ProcessTable.scan();
        IoCounters io = IoCounters.read();
        IoCounters.Rates rates = io.ratesSince(previousIo);

        List<ProcessSample> samples = new ArrayList<>();
        Set<Integer> managedPids = new HashSet<>();
        double managedCpuPercent = 0;
        long managedRssBytes = 0;
        for (Workload workload : workloads.list()) {
            List<ProcessStat> tree = processes.treeOf(workload.initPid());
            if (tree.isEmpty()) {
                continue; // exited after the pid file was read
            }
            double cpu = 0;
            long rss = 0;
            int threads = 0;
            for (ProcessStat stat : tree) {
                managedPids.add(stat.pid());
                cpu += processes.cpuPercentSince(previousProcesses, stat, ticksPerSecond);
                rss += stat.rssPages() * pageSize;
                threads += stat.threads();
            }
            ProcessStat main = processes.childrenOf(workload.initPid()).stream()
                    .min(Comparator.comparingLong(ProcessStat::startTicks).thenComparingInt(ProcessStat::pid))
                    .orElse(tree.get(0));
            managedCpuPercent += cpu;
            managedRssBytes += rss;
            samples.add(new ProcessSample(workload.workloadId(), workload.initPid(), main.name(), cpu, rss, threads,
                    main.stateName(), workload.migratable(), workload.address()));
        }
        samples.addAll(busiestOthers(processes, managedPids));
        previousProcesses = processes;
        previousIo = io;

        VirtualMemory swap = memory.getVirtualMemory();
        long[] disk = diskUsage();
        boolean simulated = mode == SamplingMode.SIMULATED;
        return NodeMetrics.newBuilder()
                .setNodeId(nodeId)
                .setTimestampMs(timestampMs)
                .setSequence(sequence)
                .setAgentStartMs(agentStartMs)
                .setMode(mode)
                .setCpuPercent(simulated ? Math.min(100.0, managedCpuPercent / capacity.getCpus()) : hostCpuPercent)
                .setLoadAvg1(Math.max(0, load[0]))
                .setLoadAvg5(Math.max(0, load[1]))
                .setLoadAvg15(Math.max(0, load[2]))
                .setMemUsedBytes(simulated ? managedRssBytes : memory.getTotal() - memory.getAvailable())
                .setMemTotalBytes(simulated ? capacity.getMemBytes() : memory.getTotal())
                .setSwapUsedBytes(swap.getSwapUsed())
                .setSwapTotalBytes(swap.getSwapTotal())
                .setDiskUsedBytes(disk[0])
                .setDiskTotalBytes(disk[1])
                .setDiskReadBytesPerSec(rates.diskReadPerSec())
                .setDiskWriteBytesPerSec(rates.diskWritePerSec())
                .setNetRxBytesPerSec(rates.netRxPerSec())
                .setNetTxBytesPerSec(rates.netTxPerSec())
                .setProcessCount(processes.size())
                .setCapacity(NodeCapacity.newBuilder(capacity).build())
                .setProcesses(samples)
                .build();
    }

    private List<ProcessSample> busiestOthers(ProcessTable processes, Set<Integer> managedPids) {
        record Usage(ProcessStat stat, double cpuPercent) {
        }
        List<Usage> others = new ArrayList<>(processes.size());
        for (ProcessStat stat : processes.all()) {
            if (!managedPids.contains(stat.pid())) {
                others.add(new Usage(stat, processes.cpuPercentSince(previousProcesses, stat, ticksPerSecond)));
            }
        }
        return others.stream()
                .sorted(Comparator.comparingDouble(Usage::cpuPercent).reversed()
                        .thenComparing(Comparator.comparingLong((Usage u) -> u.stat().rssPages()).reversed()))
                .limit(TOP_OTHER_PROCESSES)
                .map(u -> new ProcessSample(null, u.stat().pid(), u.stat().name(), u.cpuPercent(),
                        u.stat().rssPages() * pageSize, u.stat().threads(), u.stat().stateName(), false, null))
                .toList();
    }

    /** Used and total bytes of the work dir's filesystem (the root's when there is no work dir yet). */
    private long[] diskUsage() {
        try {
            if (workdirStore == null) {
                Path existing = workdir == null ? Path.of("/") : workdir.toAbsolutePath();
                while (!Files.exists(existing) && existing.getParent() != null) {
                    existing = existing.getParent();
                }
                FileStore store = Files.getFileStore(existing);
                if (workdir == null || existing.equals(workdir.toAbsolutePath())) {
                    workdirStore = store; // cache only once the work dir itself exists
                }
                return usage(store);
            }
            return usage(workdirStore);
        } catch (IOException e) {
            log.debug("disk usage unavailable: {}", e.getMessage());
            return new long[2];
        }
    }

    private static long[] usage(FileStore store) throws IOException {
        long total = store.getTotalSpace();
        return new long[] {total - store.getUnallocatedSpace(), total};
    }
}
