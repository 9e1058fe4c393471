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
 * Puts the pmig-init built into this jar at a fixed path. CRIU checks the size of every mapped file on restore,
 * so the init must be byte-identical at the same path on every node: it is rewritten only when its content
 * differs (a rewrite breaks the restore of checkpoints taken with the old binary, hence the warning), and always
 * through a temporary file and an atomic rename, so a running or restoring workload never sees a half-written one.
 */
public final class InitBinary {

    public static final Path DEFAULT_PATH = Path.of("/opt/pmig/bin/pmig-init");
    private static final String RESOURCE = "/native/pmig-init";
    private static final Logger log = LoggerFactory.getLogger(InitBinary.class);

    private InitBinary() {
    }

    public static synchronized Path install(Path target) throws IOException {
        byte[] wanted;
        try (InputStream in = InitBinary.class.getResourceAsStream(RESOURCE)) {
            if (in == null) {
                throw new IOException("pmig-init is missing from the executor jar (resource " + RESOURCE
                        + "); the build compiles it with cc -O2 -static");
            }
            wanted = in.readAllBytes();
        }
        if (Files.isRegularFile(target) && Arrays.equals(sha256(Files.readAllBytes(target)), sha256(wanted))
                && Files.isExecutable(target)) {
            return target;
        }
        if (Files.exists(target)) {
            log.warn("replacing {} with this executor's pmig-init: checkpoints taken under the old binary "
                    + "cannot be restored on this node any more", target);
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
