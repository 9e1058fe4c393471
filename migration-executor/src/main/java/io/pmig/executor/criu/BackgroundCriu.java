package io.pmig.executor.criu;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.OptionalInt;
import java.util.concurrent.TimeUnit;

/**
 * A criu that keeps running after it is ready: a lazy dump serving pages, or the lazy-pages daemon fetching them.
 * It runs under a small shell that records criu's pid in {@code <name>.pid} and its exit code in {@code <name>.rc},
 * so an executor restarted while criu kept running (it is not killed with the JVM) can still learn how it ended.
 */
public final class BackgroundCriu {

    private final Process shell;
    private final Path dir;
    private final String name;
    private final Path logFile;

    BackgroundCriu(Process shell, Path dir, String name, Path logFile) {
        this.shell = shell;
        this.dir = dir;
        this.name = name;
        this.logFile = logFile;
    }

    /** criu's own pid (the one to signal), 0 if it has not been recorded yet. */
    public int pid() {
        return pid(dir, name);
    }

    public boolean isRunning() {
        return shell.isAlive();
    }

    /** Waits for criu to exit; its exit code, or empty if it still runs after the timeout. */
    public OptionalInt awaitExit(Duration timeout) throws InterruptedException {
        if (!shell.waitFor(timeout.toMillis(), TimeUnit.MILLISECONDS)) {
            return OptionalInt.empty();
        }
        return exitCode(dir, name);
    }

    /**
     * Asks criu to stop (SIGTERM). A lazy dump that is told to stop before it finished resumes the dumped tree, so
     * this is how a LAZY migration is abandoned before the restore started.
     */
    public void terminate() {
        int pid = pid();
        if (pid > 0 && shell.isAlive()) {
            io.pmig.executor.workload.ProcessTable.signal("TERM", java.util.List.of(pid));
        }
    }

    /**
     * Stops a criu that must not finish and waits for it: SIGTERM (a lazy dump then lets go of its tree, which stays
     * stopped: see Criu#startLazyDump), SIGKILL if it is still there after 30 s.
     */
    public void stop() throws InterruptedException {
        if (isRunning()) {
            terminate();
            if (awaitExit(Duration.ofSeconds(30)).isEmpty()) {
                kill();
                awaitExit(Duration.ofSeconds(10));
            }
        }
    }

    /** SIGKILL to criu, for a lazy-pages daemon whose restored copy was given up. */
    public void kill() {
        int pid = pid();
        if (pid > 0 && shell.isAlive()) {
            io.pmig.executor.workload.ProcessTable.signal("KILL", java.util.List.of(pid));
        }
    }

    public String errors() {
        return Criu.errorLines(logFile);
    }

    /** The recorded pid of a background criu started in {@code dir} as {@code name}, 0 if none. */
    public static int pid(Path dir, String name) {
        try {
            return Integer.parseInt(Files.readString(dir.resolve(name + ".pid")).strip());
        } catch (IOException | NumberFormatException e) {
            return 0;
        }
    }

    /** The recorded exit code, if criu has exited (also after an executor restart). */
    public static OptionalInt exitCode(Path dir, String name) {
        try {
            return OptionalInt.of(Integer.parseInt(Files.readString(dir.resolve(name + ".rc")).strip()));
        } catch (IOException | NumberFormatException e) {
            return OptionalInt.empty();
        }
    }
}
