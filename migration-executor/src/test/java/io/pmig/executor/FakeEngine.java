package io.pmig.executor;

import io.pmig.executor.criu.BackgroundCriu;
import io.pmig.executor.criu.CriuException;
import io.pmig.executor.criu.PageServer;
import io.pmig.executor.criu.PageServerAddress;
import io.pmig.executor.migration.CheckpointEngine;
import io.pmig.executor.migration.CheckpointStrategy;
import io.pmig.executor.migration.FrozenSource;
import io.pmig.executor.migration.MigrationJournal;
import io.pmig.executor.workload.ProcessTable;
import io.pmig.executor.workload.WorkloadIdentity;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.EnumSet;
import java.util.List;
import java.util.Optional;
import java.util.Set;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.CopyOnWriteArrayList;

/**
 * A checkpoint engine without criu, for fast tests of the migration protocol: a "dump" stops the workload's
 * processes in place and writes one small image file; a "restore" starts a stand-in process ({@code sleep}), stopped
 * if asked, so every copy is a real process whose state a test can see - running, stopped or gone - while nothing
 * of the workload's memory travels. PLAIN only: it has no page server. Each operation can be made to fail
 * ({@link #failing}), and the engine records what it was asked to do.
 */
final class FakeEngine implements CheckpointEngine {

    /** What a test can make fail. */
    enum Operation {
        /** the preflight refuses the workload */
        REFUSE,
        /** the dump fails, the tree keeps running */
        DUMP,
        /** the dump writes an image over the destination's per-file cap, so the transfer fails */
        OVERSIZED_IMAGE,
        /** the restore fails */
        RESTORE,
        /** the restored copy dies after the restore found it alive, before COMMIT */
        COPY_DIES,
        /** the frozen tree cannot be resumed */
        RESUME
    }

    static final String IMAGE = "fake-command.img";
    private final Set<Operation> failing = EnumSet.noneOf(Operation.class);
    private final List<String> calls = new CopyOnWriteArrayList<>();
    private final Set<Integer> started = ConcurrentHashMap.newKeySet();
    private final java.util.Map<Integer, Integer> aliveChecks = new ConcurrentHashMap<>();
    private volatile boolean holdsAddresses;

    /** {@code operation} fails from now on, as criu would (a CriuException, or an error reply). */
    FakeEngine failing(Operation operation) {
        failing.add(operation);
        return this;
    }

    /** The workload claims to hold network addresses (so a destination sharing this network makes it dump locally). */
    FakeEngine holdingAddresses() {
        holdsAddresses = true;
        return this;
    }

    List<String> calls() {
        return List.copyOf(calls);
    }

    @Override
    public String kind() {
        return "process";
    }

    @Override
    public boolean carriesMemoryApart() {
        return false; // no page server: every mode moves as one local dump
    }

    @Override
    public String version() {
        return "4.2";
    }

    @Override
    public boolean restoresImagesOf(String version) {
        return true;
    }

    @Override
    public Optional<String> lazyPagesProblem() {
        return Optional.of("the fake engine serves no pages");
    }

    @Override
    public boolean isPresent(WorkloadIdentity init) {
        return init.isPresent();
    }

    @Override
    public List<String> refusals(int initPid) {
        calls.add("refusals");
        return failing.contains(Operation.REFUSE) ? List.of("the fake engine refuses this workload") : List.of();
    }

    @Override
    public Set<Integer> stoppedTasks(int initPid) {
        return Set.of();
    }

    @Override
    public long residentBytes(int initPid) {
        return 0;
    }

    @Override
    public boolean holdsNetworkAddresses(int initPid) {
        return holdsAddresses;
    }

    @Override
    public CheckpointStrategy localDump() {
        return new CheckpointStrategy() {
            @Override
            public void dump(int initPid, Path images) throws CriuException {
                calls.add("dump");
                if (failing.contains(Operation.DUMP)) {
                    throw new CriuException("fake dump failed (the tree keeps running, as criu leaves it)");
                }
                try {
                    ProcessTable.signal("STOP", ProcessTable.namespaceMembers(initPid));
                    Files.writeString(images.resolve(IMAGE), "fake image of host pid " + initPid, StandardCharsets.UTF_8);
                    Files.writeString(images.resolve("inventory.img"), "fake"); // a complete local checkpoint
                    if (failing.contains(Operation.OVERSIZED_IMAGE)) {
                        try (var sparse = new java.io.RandomAccessFile(images.resolve("pages-1.img").toFile(), "rw")) {
                            sparse.setLength(17L << 30); // over TransferLimits' 16 GiB per file; sparse, no disk used
                        }
                    }
                } catch (IOException e) {
                    throw new CriuException("fake dump: " + e.getMessage());
                }
            }

            @Override
            public boolean transfersPages() {
                return true;
            }
        };
    }

    @Override
    public CheckpointStrategy pageServerDump(PageServerAddress pageServer, List<String> tls) {
        throw new UnsupportedOperationException("the fake engine has no page server");
    }

    @Override
    public CheckpointStrategy lazyDump(PageServerAddress serveAt, List<String> tls) {
        throw new UnsupportedOperationException("the fake engine serves no pages");
    }

    @Override
    public boolean isPresent(FrozenSource frozen) {
        return frozen.init().isPresent();
    }

    @Override
    public int resume(FrozenSource frozen) {
        calls.add("resume");
        if (failing.contains(Operation.RESUME) || !frozen.init().isPresent()) {
            return 0;
        }
        ProcessTable.signal("CONT", ProcessTable.namespaceMembers(frozen.init().pid()));
        return frozen.init().pid();
    }

    @Override
    public void release(FrozenSource frozen) {
        calls.add("release");
        if (frozen.init().isPresent()) {
            kill(frozen.init().pid());
        }
    }

    @Override
    public PageServer startPageServer(Path images, PageServerAddress at, List<String> tls, Duration readyTimeout)
            throws CriuException {
        throw new CriuException("the fake engine has no page server");
    }

    @Override
    public BackgroundCriu startLazyPages(Path images, PageServerAddress source, List<String> tls, Duration readyTimeout)
            throws CriuException {
        throw new CriuException("the fake engine serves no pages");
    }

    @Override
    public int restore(Path images, Path workloadDir, boolean leaveStopped, boolean lazy, String logName)
            throws CriuException {
        calls.add("restore");
        if (failing.contains(Operation.RESTORE)) {
            throw new CriuException("fake restore failed");
        }
        try {
            if (!Files.isRegularFile(images.resolve(IMAGE))) {
                throw new CriuException("fake restore: no image in " + images);
            }
            List<String> command = new ArrayList<>(List.of("sleep", "1000000"));
            if (leaveStopped) {
                // stopped before it execs the workload's command, like a copy criu restores stopped
                command.addAll(0, List.of("sh", "-c", "kill -STOP $$; exec \"$@\"", "sh"));
            }
            Process process = new ProcessBuilder(command).directory(workloadDir.toFile())
                    .redirectOutput(ProcessBuilder.Redirect.DISCARD).redirectErrorStream(true).start();
            int pid = (int) process.pid();
            started.add(pid);
            if (leaveStopped) {
                long deadline = System.nanoTime() + Duration.ofSeconds(10).toNanos();
                while (ProcessTable.state(pid) != 'T' && System.nanoTime() < deadline) {
                    Thread.onSpinWait();
                }
            }
            return pid;
        } catch (IOException e) {
            throw new CriuException("fake restore: " + e.getMessage());
        }
    }

    @Override
    public boolean isAlive(int pid) {
        if (failing.contains(Operation.COPY_DIES) && started.contains(pid) && aliveChecks.merge(pid, 1, Integer::sum) > 1) {
            kill(pid); // the restore's own check passed; the next one (COMMIT's) finds it dead
        }
        return ProcessTable.isAlive(pid);
    }

    @Override
    public void resumeCopy(int initPid, Set<Integer> keepStopped) {
        calls.add("resumeCopy");
        ProcessTable.signal("CONT", List.of(initPid));
    }

    @Override
    public void kill(int initPid) {
        if (initPid != 0) {
            ProcessTable.killNamespace(initPid);
            ProcessTable.awaitGone(initPid, Duration.ofSeconds(10));
        }
    }

    @Override
    public Optional<String> networkLock(Path images) {
        return Optional.empty();
    }

    @Override
    public void unlockNetwork(String lock) {
    }

    @Override
    public void settleSource(MigrationJournal journal) {
    }

    @Override
    public int settleDestination(MigrationJournal journal) {
        return 0;
    }

    /** Kills every process this engine started (a test's clean-up). */
    void killStarted() {
        started.forEach(pid -> ProcessTable.signal("KILL", List.of(pid)));
    }
}
