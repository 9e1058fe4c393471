package io.pmig.executor;

import io.pmig.platform.config.ConfigException;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.nio.file.attribute.PosixFilePermissions;
import java.security.SecureRandom;
import java.util.HexFormat;
import java.util.concurrent.Callable;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;
import picocli.CommandLine.Parameters;

/**
 * {@code pmig secret FILE}: makes the cluster's transfer secret, so that nobody has to invent one. Executors prove
 * to each other with it that a checkpoint - which the destination runs as root - comes from the cluster.
 *
 * <pre>
 * bin/pmig secret /etc/pmig/transfer.secret        # once; copy the file to every node
 * bin/pmig executor --node n1 --listen 10.0.0.1:7070 --secret-file /etc/pmig/transfer.secret ...
 * </pre>
 */
@Command(name = "secret", mixinStandardHelpOptions = true,
        description = "Write a new transfer secret (32 random bytes as hex, mode 0600) for the executors' --secret-file;"
                + " copy the same file to every node.")
public final class SecretCommand implements Callable<Integer> {

    @Parameters(paramLabel = "FILE", description = "Where to write the secret (an existing file is kept unless --force).")
    Path file;

    @Option(names = "--force", description = "Replace an existing secret (every executor then needs the new file).")
    boolean force;

    @Override
    public Integer call() throws IOException {
        if (Files.exists(file) && !force) {
            throw new ConfigException(file.toString(), "exists; keep it (every node must share one secret) or replace"
                    + " it with --force");
        }
        byte[] secret = new byte[32];
        new SecureRandom().nextBytes(secret);
        Path dir = file.toAbsolutePath().getParent();
        Files.createDirectories(dir);
        // written private from the first byte, then moved into place: never readable by others, never half written
        Path tmp = Files.createTempFile(dir, ".pmig-secret", ".tmp",
                PosixFilePermissions.asFileAttribute(PosixFilePermissions.fromString("rw-------")));
        try {
            Files.writeString(tmp, HexFormat.of().formatHex(secret) + "\n", StandardCharsets.US_ASCII);
            Files.move(tmp, file, StandardCopyOption.REPLACE_EXISTING, StandardCopyOption.ATOMIC_MOVE);
        } finally {
            Files.deleteIfExists(tmp);
        }
        System.out.println("wrote a transfer secret to " + file + "; copy it to every node and start each executor"
                + " with --secret-file " + file);
        return 0;
    }
}
