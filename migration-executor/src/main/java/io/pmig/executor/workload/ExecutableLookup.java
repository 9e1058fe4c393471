package io.pmig.executor.workload;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Optional;

/**
 * Finds the program a LAUNCH names the way pmig-init's execvp will - a name with a slash as a path (relative to the
 * workload's working directory), a bare name along PATH - so that a launch that cannot exec is refused before
 * anything starts (LAUNCH_FAILED), instead of a LAUNCHED followed by EXITED 127.
 */
public final class ExecutableLookup {

    private static final String DEFAULT_PATH = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin";

    private ExecutableLookup() {
    }

    /** Why {@code program} cannot be executed, or empty if it can. */
    public static Optional<String> problem(String program, Path workingDirectory) {
        if (program == null || program.isEmpty()) {
            return Optional.of("the command line is empty");
        }
        if (program.contains("/")) {
            Path path = workingDirectory.resolve(program);
            return problemWith(program, path);
        }
        String searchPath = System.getenv("PATH") == null || System.getenv("PATH").isBlank() ? DEFAULT_PATH : System.getenv("PATH");
        for (String dir : searchPath.split(":")) {
            Path candidate = Path.of(dir.isEmpty() ? "." : dir).resolve(program);
            if (Files.isRegularFile(candidate) && Files.isExecutable(candidate)) {
                return Optional.empty();
            }
        }
        return Optional.of("cannot execute " + program + ": not found on PATH (" + searchPath + ")");
    }

    private static Optional<String> problemWith(String program, Path path) {
        if (!Files.exists(path)) {
            return Optional.of("cannot execute " + program + ": no such file");
        }
        if (Files.isDirectory(path)) {
            return Optional.of("cannot execute " + program + ": is a directory");
        }
        if (!Files.isExecutable(path)) {
            return Optional.of("cannot execute " + program + ": permission denied (not executable)");
        }
        return Optional.empty();
    }
}
