package io.pmig.executor.node;

import java.io.IOException;
import java.nio.channels.FileChannel;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.util.HashSet;
import java.util.Set;

/**
 * The command ids this node has acted on, persisted (one per line, fsynced) so a redelivered or republished
 * command is never executed twice, across restarts too. An id is recorded before the command runs: a crash
 * in between loses the command rather than running it twice, and migration recovery covers the MIGRATE case.
 */
final class CommandLedger {

    private final Path file;
    private final Set<String> seen = new HashSet<>();

    CommandLedger(Path file) throws IOException {
        this.file = file;
        Files.createDirectories(file.getParent());
        if (Files.exists(file)) {
            seen.addAll(Files.readAllLines(file, StandardCharsets.UTF_8));
        }
    }

    /** Records the id; false if it was already there (the command must then be skipped). */
    synchronized boolean firstTime(String commandId) throws IOException {
        if (commandId.contains("\n") || !seen.add(commandId)) {
            return false;
        }
        try (FileChannel ch = FileChannel.open(file, StandardOpenOption.CREATE, StandardOpenOption.APPEND,
                StandardOpenOption.WRITE)) {
            ch.write(StandardCharsets.UTF_8.encode(commandId + "\n"));
            ch.force(true);
        }
        return true;
    }
}
