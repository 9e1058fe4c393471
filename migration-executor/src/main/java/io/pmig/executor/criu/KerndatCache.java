package io.pmig.executor.criu;

import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.util.List;
import java.util.concurrent.TimeUnit;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * criu's cache of what it found out about the kernel ({@code /run/criu.kdat}). Without it every criu command probes the
 * kernel first - measured here 150-290 ms per command (a test network namespace and veth, vDSO, CPU, breakpoints),
 * and a LAZY migration runs three criu commands, two of them (lazy-pages, restore) inside the downtime. criu loads the
 * cache from wherever /run is, but saves it only on a tmpfs ("the file should be gone after reboot"); on a node whose
 * /run is a plain directory it never has one. So pmig makes it, when asked to tune the host: {@code criu check} in a
 * private mount namespace with a tmpfs on /run, the file copied to the node's /run, stamped with the boot id. The
 * staleness criu avoids by the tmpfs, pmig avoids by the stamp: a cache pmig made in another boot is deleted whenever
 * pmig verifies criu, tuned or not.
 */
final class KerndatCache {

    static final Path FILE = Path.of("/run/criu.kdat");
    /** The boot id of the boot in which pmig made {@link #FILE}. */
    static final Path STAMP = Path.of("/run/criu.kdat.pmig-boot");
    private static final Path BOOT_ID = Path.of("/proc/sys/kernel/random/boot_id");
    private static final Logger log = LoggerFactory.getLogger(KerndatCache.class);

    private KerndatCache() {
    }

    /** Deletes a cache pmig made in another boot; with {@code tuneHost}, makes one where criu cannot. */
    static void settle(Path criu, boolean tuneHost) {
        try {
            String boot = Files.readString(BOOT_ID).strip();
            if (Files.exists(STAMP) && !Files.readString(STAMP).strip().equals(boot)) {
                Files.deleteIfExists(FILE); // made in another boot, maybe for another kernel
                Files.deleteIfExists(STAMP);
                log.info("deleted criu's kernel cache {} made by pmig in another boot", FILE);
            }
            if (!tuneHost || Files.exists(FILE) || runIsTmpfs()) {
                return; // nothing to do, or criu keeps a cache itself
            }
            make(criu, boot);
        } catch (IOException e) {
            log.warn("criu's kernel cache {}: {}; every criu command probes the kernel first", FILE, e.getMessage());
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
        }
    }

    private static boolean runIsTmpfs() throws IOException {
        return Files.getFileStore(FILE.getParent()).type().equals("tmpfs");
    }

    private static void make(Path criu, String boot) throws IOException, InterruptedException {
        Path work = Files.createTempDirectory("pmig-kdat");
        try {
            Path made = work.resolve("criu.kdat");
            // criu sees a tmpfs on /run only in this mount namespace; the work directory is the node's in both
            String script = "mount -t tmpfs -o size=1m pmig-kdat /run && { \"$1\" check >/dev/null 2>&1;"
                    + " cp /run/criu.kdat \"$0/criu.kdat\"; }";
            Process p = new ProcessBuilder(List.of("unshare", "--mount", "--propagation", "private", "sh", "-c", script,
                    work.toString(), criu.toString())).redirectErrorStream(true).redirectOutput(ProcessBuilder.Redirect.DISCARD)
                    .start();
            if (!p.waitFor(60, TimeUnit.SECONDS)) {
                p.destroyForcibly();
                throw new IOException("criu check in a private mount namespace did not finish within 60 s");
            }
            if (!Files.isRegularFile(made) || Files.size(made) == 0) {
                throw new IOException("criu check in a private mount namespace with a tmpfs /run wrote no cache");
            }
            Files.writeString(STAMP, boot + "\n", StandardCharsets.US_ASCII);
            Path tmp = FILE.resolveSibling("criu.kdat.pmig-tmp");
            Files.copy(made, tmp, StandardCopyOption.REPLACE_EXISTING);
            Files.move(tmp, FILE, StandardCopyOption.ATOMIC_MOVE, StandardCopyOption.REPLACE_EXISTING);
            log.info("made criu's kernel cache {} (/run is not a tmpfs, so criu keeps none itself)", FILE);
        } finally {
            try (var files = Files.walk(work)) {
                files.sorted(java.util.Comparator.reverseOrder()).forEach(f -> f.toFile().delete());
            }
        }
    }
}
