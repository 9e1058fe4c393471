package io.pmig.executor.migration;

import io.pmig.executor.transfer.WorkloadFiles;
import io.pmig.executor.workload.NodeWorkloads;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.util.ArrayList;
import java.util.List;

/**
 * The destination's half of declared files: puts each received file back at its absolute path before the
 * restore (CRIU reopens it there), and records the list so the workload can move on again.
 */
final class DeclaredFiles {

    static final String DIR = "declared";
    static final String LIST = "declared.list";

    private DeclaredFiles() {
    }

    static void putBack(Path sessionDir, NodeWorkloads workloads, String workloadId) throws IOException {
        Path list = sessionDir.resolve(LIST);
        if (!Files.exists(list)) {
            workloads.declareFiles(workloadId, List.of());
            return;
        }
        List<String> paths = new ArrayList<>();
        for (String line : Files.readAllLines(list)) {
            if (line.isBlank()) {
                continue;
            }
            String path = NodeWorkloads.checkDeclaredPath(line.strip());
            Path received = sessionDir.resolve(DIR).resolve(path.substring(1)).normalize();
            if (!received.startsWith(sessionDir.resolve(DIR)) || !Files.isRegularFile(received)) {
                throw new IOException("declared file " + path + " was listed but not received");
            }
            Path target = Path.of(path);
            Files.createDirectories(target.getParent());
            // Replace atomically: a reader of the old copy never sees half a file.
            Path tmp = target.resolveSibling("." + target.getFileName() + ".pmig-" + ProcessHandle.current().pid());
            WorkloadFiles.copyFile(received, tmp, StandardCopyOption.REPLACE_EXISTING); // mode, owner, exact times
            Files.move(tmp, target, StandardCopyOption.ATOMIC_MOVE, StandardCopyOption.REPLACE_EXISTING);
            paths.add(path);
        }
        workloads.declareFiles(workloadId, paths);
    }
}
