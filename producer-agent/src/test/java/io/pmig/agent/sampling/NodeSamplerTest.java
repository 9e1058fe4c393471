package io.pmig.agent.sampling;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.pmig.schemas.NodeCapacity;
import io.pmig.schemas.NodeMetrics;
import io.pmig.schemas.ProcessSample;
import io.pmig.schemas.SamplingMode;
import java.io.IOException;
import java.nio.file.DirectoryStream;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.stream.Collectors;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

class NodeSamplerTest {

    private final List<Process> started = new ArrayList<>();

    @TempDir
    Path workdir;

    @AfterEach
    void killStartedProcesses() throws InterruptedException {
        for (Process process : started) {
            process.descendants().forEach(ProcessHandle::destroyForcibly);
            process.destroyForcibly();
            process.waitFor();
        }
    }

    private Process start(String script) throws IOException {
        Process process = new ProcessBuilder("sh", "-c", script).redirectErrorStream(true)
                .redirectOutput(ProcessBuilder.Redirect.DISCARD).start();
        started.add(process);
        return process;
    }

    /** What the executor writes for a workload: the host pid of its init. */
    private void registerWorkload(String workloadId, long initPid) throws IOException {
        Path dir = Files.createDirectories(workdir.resolve("workloads").resolve(workloadId));
        Files.writeString(dir.resolve("pid"), initPid + "\n");
    }

    private static long meminfoBytes(String key) throws IOException {
        for (String line : Files.readAllLines(Path.of("/proc/meminfo"))) {
            if (line.startsWith(key + ":")) {
                return Long.parseLong(line.substring(key.length() + 1).replace("kB", "").strip()) * 1024;
            }
        }
        throw new AssertionError(key + " missing from /proc/meminfo");
    }

    private static int procPidCount() throws IOException {
        int count = 0;
        try (DirectoryStream<Path> entries = Files.newDirectoryStream(Path.of("/proc"),
                p -> p.getFileName().toString().chars().allMatch(Character::isDigit))) {
            for (Path ignored : entries) {
                count++;
            }
        }
        return count;
    }

    /** CPU time (utime + stime, in USER_HZ ticks of 10 ms) of a process and its descendants, as the kernel accounts it. */
    private static long treeTicks(ProcessHandle root) throws IOException {
        long ticks = 0;
        for (ProcessHandle p : java.util.stream.Stream.concat(java.util.stream.Stream.of(root), root.descendants()).toList()) {
            String stat = Files.readString(Path.of("/proc", String.valueOf(p.pid()), "stat"));
            String[] fields = stat.substring(stat.lastIndexOf(')') + 2).split(" ");
            ticks += Long.parseLong(fields[11]) + Long.parseLong(fields[12]); // utime, stime (fields 14, 15)
        }
        return ticks;
    }

    /**
     * The sampler's figure for a busy process against the kernel's own accounting over a window that contains the
     * sampler's: on a machine other processes load, a busy loop gets what the scheduler gives it, which the sampler
     * must report, whatever that is.
     */
    private static void assertCpuAsAccounted(double reportedPercent, long ticksBefore, long nanosBefore, ProcessHandle tree)
            throws IOException {
        double kernelPercent = (treeTicks(tree) - ticksBefore) / 100.0 / ((System.nanoTime() - nanosBefore) / 1e9) * 100;
        assertTrue(kernelPercent > 5, "the busy loop ran: " + kernelPercent + "% of a core");
        assertEquals(kernelPercent, reportedPercent, Math.max(10, 0.35 * kernelPercent),
                "reported " + reportedPercent + "% of a core, the kernel accounted " + kernelPercent + "%");
    }

    /** Lets CPU time accumulate between the sampler's baseline and its next sample. */
    private static void letTimePass() throws InterruptedException {
        Thread.sleep(1_500);
    }

    @Test
    void hostFiguresAgreeWithProc() throws Exception {
        NodeSampler sampler = new NodeSampler("node-h", SamplingMode.HOST, NodeSampler.hostCapacity(), workdir);
        letTimePass();
        NodeMetrics metrics = sampler.sample(7, 1234);
        int procCount = procPidCount();

        assertEquals("node-h", metrics.getNodeId());
        assertEquals(7, metrics.getSequence());
        assertEquals(1234, metrics.getAgentStartMs());
        assertEquals(SamplingMode.HOST, metrics.getMode());
        assertEquals(meminfoBytes("MemTotal"), metrics.getMemTotalBytes());
        assertEquals(meminfoBytes("SwapTotal"), metrics.getSwapTotalBytes());
        assertTrue(metrics.getMemUsedBytes() > 0 && metrics.getMemUsedBytes() < metrics.getMemTotalBytes());
        assertTrue(Math.abs(metrics.getProcessCount() - procCount) <= Math.max(10, procCount / 10),
                "sampled " + metrics.getProcessCount() + " processes, /proc lists " + procCount);
        assertTrue(metrics.getCpuPercent() >= 0 && metrics.getCpuPercent() <= 100, "cpu " + metrics.getCpuPercent());
        double procLoad1 = Double.parseDouble(Files.readString(Path.of("/proc/loadavg")).split(" ")[0]);
        assertEquals(procLoad1, metrics.getLoadAvg1(), 1.0);
        assertEquals(Files.getFileStore(workdir).getTotalSpace(), metrics.getDiskTotalBytes());
        assertTrue(metrics.getDiskUsedBytes() > 0 && metrics.getDiskUsedBytes() <= metrics.getDiskTotalBytes());
        assertTrue(metrics.getNetRxBytesPerSec() >= 0 && metrics.getDiskWriteBytesPerSec() >= 0);
        assertEquals(Runtime.getRuntime().availableProcessors(), metrics.getCapacity().getCpus());

        assertEquals(NodeSampler.TOP_OTHER_PROCESSES, metrics.getProcesses().size());
        for (ProcessSample process : metrics.getProcesses()) {
            assertNull(process.getWorkloadId());
            assertFalse(process.getMigratable());
        }
    }

    @Test
    void busyLoopChildShowsHighCpuAmongTheBusiestProcesses() throws Exception {
        Process busy = start("while :; do :; done");
        long ticksBefore = treeTicks(busy.toHandle());
        long nanosBefore = System.nanoTime();
        NodeSampler sampler = new NodeSampler("node-h", SamplingMode.HOST, NodeSampler.hostCapacity(), null);
        letTimePass();
        NodeMetrics metrics = sampler.sample(0, 0);

        ProcessSample sample = metrics.getProcesses().stream().filter(p -> p.getPid() == busy.pid()).findFirst()
                .orElseThrow(() -> new AssertionError("busy loop " + busy.pid() + " not among " + metrics.getProcesses()));
        assertCpuAsAccounted(sample.getCpuPercent(), ticksBefore, nanosBefore, busy.toHandle());
        assertEquals("sh", sample.getName());
        assertTrue(sample.getRssBytes() > 0);
        assertEquals(1, sample.getThreads());
    }

    @Test
    void simulatedNodeLoadIsItsWorkloadsAgainstItsCapacity() throws Exception {
        // An init-like parent whose busy child does the work: the workload's usage is the whole tree's.
        Process busyInit = start("while :; do :; done & wait");
        Process idleInit = start("sleep 600 & wait");
        registerWorkload("busy-1", busyInit.pid());
        registerWorkload("idle-1", idleInit.pid());
        NodeCapacity capacity = new NodeCapacity(1.0, 2L << 30);
        while (busyInit.children().findAny().isEmpty() || idleInit.children().findAny().isEmpty()) {
            Thread.sleep(10); // both inits have started their workload
        }
        long ticksBefore = treeTicks(busyInit.toHandle());
        long nanosBefore = System.nanoTime();
        NodeSampler sampler = new NodeSampler("node-s", SamplingMode.SIMULATED, capacity, workdir);
        letTimePass();
        NodeMetrics metrics = sampler.sample(0, 0);

        Map<String, ProcessSample> workloads = metrics.getProcesses().stream()
                .filter(p -> p.getWorkloadId() != null)
                .collect(Collectors.toMap(ProcessSample::getWorkloadId, p -> p));
        assertEquals(2, workloads.size(), metrics.getProcesses().toString());
        ProcessSample busy = workloads.get("busy-1");
        ProcessSample idle = workloads.get("idle-1");
        assertEquals((int) busyInit.pid(), busy.getPid());
        assertTrue(busy.getMigratable());
        assertEquals("sh", busy.getName());
        assertEquals("sleep", idle.getName());
        assertCpuAsAccounted(busy.getCpuPercent(), ticksBefore, nanosBefore, busyInit.toHandle());
        assertTrue(idle.getCpuPercent() < 5, "idle workload at " + idle.getCpuPercent() + "%");
        assertTrue(busy.getThreads() >= 2, "init and its child: " + busy.getThreads() + " threads");

        assertEquals(SamplingMode.SIMULATED, metrics.getMode());
        // the node's load is its workloads' usage against its capacity of one core
        assertEquals(busy.getCpuPercent() + idle.getCpuPercent(), metrics.getCpuPercent(), 1.0, "node cpu");
        assertEquals(capacity.getMemBytes(), metrics.getMemTotalBytes());
        assertEquals(busy.getRssBytes() + idle.getRssBytes(), metrics.getMemUsedBytes());
        assertEquals(capacity, metrics.getCapacity());
        assertEquals(NodeSampler.TOP_OTHER_PROCESSES,
                metrics.getProcesses().stream().filter(p -> p.getWorkloadId() == null).count());
    }

    @Test
    void overloadedSimulatedNodeReportsAtMostFullCpu() throws Exception {
        Process busyInit = start("while :; do :; done & wait");
        registerWorkload("busy-1", busyInit.pid());
        NodeSampler sampler = new NodeSampler("node-s", SamplingMode.SIMULATED, new NodeCapacity(0.1, 1L << 30), workdir);
        letTimePass();
        NodeMetrics metrics = sampler.sample(0, 0);
        assertEquals(100.0, metrics.getCpuPercent());
    }

    @Test
    void missingHalfWrittenAndStalePidFilesAreIgnored() throws Exception {
        Process exited = new ProcessBuilder("true").start();
        exited.waitFor();
        registerWorkload("gone", exited.pid());
        Files.createDirectories(workdir.resolve("workloads/not-started-yet"));
        Files.writeString(Files.createDirectories(workdir.resolve("workloads/half-written")).resolve("pid"), "12a");
        Process live = start("sleep 600");
        registerWorkload("live", live.pid());

        List<ManagedWorkloads.Workload> listed = new ManagedWorkloads(workdir).list();
        assertEquals(List.of(new ManagedWorkloads.Workload("live", (int) live.pid())), listed);
        assertTrue(new ManagedWorkloads(workdir.resolve("no-such-dir")).list().isEmpty());
    }
}
