package io.pmig.executor.workload;

import java.io.IOException;
import java.io.InputStream;
import java.nio.file.AtomicMoveNotSupportedException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.nio.file.attribute.PosixFilePermissions;
import java.security.MessageDigest;
import java.security.NoSuchAlgorithmException;
import java.util.Arrays;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Puts the pmig-init built into this jar at a path named after its content ({@code <base>-<sha256 prefix>}).
 * CRIU checks the size and build-id of every mapped file on restore, so a workload's init must be byte-identical
 * at the same path wherever it is restored. Naming the file after its content gives every node running the same
 * pmig the same path, and means an upgrade never overwrites the binary that running workloads (and their
 * checkpoints) map: replacing it in place made their restores fail with "pmig-init has bad build-ID" (measured).
 * Written through a temporary file and an atomic rename, so no one sees half a binary.
 */
public final class InitBinary {

    public static final Path DEFAULT_PATH = Path.of("/opt/pmig/bin/pmig-init");
    private static final String RESOURCE = "/native/pmig-init";
    private static final Logger log = LoggerFactory.getLogger(InitBinary.class);

    private InitBinary() {
    }

    /** Installs the init next to {@code base} and returns the content-addressed path workloads must be started with. */
    public static synchronized Path install(Path base) throws IOException {
        byte[] wanted;
        try (InputStream in = InitBinary.class.getResourceAsStream(RESOURCE)) {
            if (in == null) {
                throw new IOException("pmig-init is missing from the executor jar (resource " + RESOURCE
                        + "); the build compiles it with cc -O2 -static");
            }
            wanted = in.readAllBytes();
        }
        byte[] digest = sha256(wanted);
        Path target = base.resolveSibling(base.getFileName() + "-" + java.util.HexFormat.of().formatHex(digest, 0, 6));
        if (Files.isRegularFile(target) && Arrays.equals(sha256(Files.readAllBytes(target)), digest)
                && Files.isExecutable(target)) {
            return target;
        }
        Files.createDirectories(target.getParent());
        Path tmp = Files.createTempFile(target.getParent(), ".pmig-init", ".tmp",
                PosixFilePermissions.asFileAttribute(PosixFilePermissions.fromString("rwxr-xr-x")));
        try {
            Files.write(tmp, wanted);
            try {
                Files.move(tmp, target, StandardCopyOption.ATOMIC_MOVE, StandardCopyOption.REPLACE_EXISTING);
            } catch (AtomicMoveNotSupportedException e) {
                throw new IOException("cannot atomically replace " + target + ": " + e.getMessage(), e);
            }
        } finally {
            Files.deleteIfExists(tmp);
        }
        log.info("installed pmig-init at {}", target);
        return target;
    }

    private static byte[] sha256(byte[] data) {
        try {
            return MessageDigest.getInstance("SHA-256").digest(data);
        } catch (NoSuchAlgorithmException e) {
            throw new IllegalStateException(e);
        }
    }
}
