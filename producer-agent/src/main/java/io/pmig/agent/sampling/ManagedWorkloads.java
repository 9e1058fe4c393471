package io.pmig.agent.sampling;

import java.io.IOException;
import java.nio.file.DirectoryStream;
import java.nio.file.Files;
import java.nio.file.NoSuchFileException;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Comparator;
import java.util.List;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * The workloads this node's executor runs, read from its work dir: {@code <workdir>/workloads/<workloadId>/pid}
 * holds the host pid of the workload's PID-namespace init; the real workload processes are its descendants.
 * Entries whose pid file is missing, half-written or names a process that no longer exists are skipped: the
 * executor creates and removes them while we read.
 */
public final class ManagedWorkloads {

    private static final Logger log = LoggerFactory.getLogger(ManagedWorkloads.class);

    /**
     * One managed workload: its id, the host pid of its init process, whether it may be migrated (the executor
     * writes a {@code pinned} marker beside the pid file for a workload launched with migratable=false), and its own
     * address (the executor's {@code address} file, address/prefix) or null when it uses the node's network.
     */
    public record Workload(String workloadId, int initPid, boolean migratable, String address) {
        public Workload(String workloadId, int initPid) {
            this(workloadId, initPid, true, null);
        }
    }

    private final Path workloadsDir;

    public ManagedWorkloads(Path workdir) {
        this.workloadsDir = workdir == null ? null : workdir.resolve("workloads");
    }

    public Path workloadsDir() {
        return workloadsDir;
    }

    /** The live workloads, ordered by id. */
    public List<Workload> list() {
        List<Workload> workloads = new ArrayList<>();
        if (workloadsDir == null || !Files.isDirectory(workloadsDir)) {
            return workloads;
        }
        try (DirectoryStream<Path> dirs = Files.newDirectoryStream(workloadsDir, Files::isDirectory)) {
            for (Path dir : dirs) {
                Integer pid = readPid(dir.resolve("pid"));
                if (pid != null && Files.isDirectory(Path.of("/proc", pid.toString()))) {
                    workloads.add(new Workload(dir.getFileName().toString(), pid, !Files.exists(dir.resolve("pinned")),
                            address(dir.resolve("address"))));
                }
            }
        } catch (IOException e) {
            log.warn("cannot list managed workloads in {}: {}", workloadsDir, e.getMessage());
        }
        workloads.sort(Comparator.comparing(Workload::workloadId));
        return workloads;
    }

    private static String address(Path file) {
        try {
            String text = Files.readString(file).strip();
            return text.isEmpty() || text.length() > 18 ? null : text; // A.B.C.D/PP at most
        } catch (IOException e) {
            return null;
        }
    }

    private static Integer readPid(Path pidFile) {
        try {
            String text = Files.readString(pidFile).strip();
            int pid = Integer.parseInt(text);
            return pid > 0 ? pid : null;
        } catch (NoSuchFileException e) {
            return null;
        } catch (IOException | NumberFormatException e) {
            log.debug("skipping {}: {}", pidFile, e.getMessage());
            return null;
        }
    }
}
