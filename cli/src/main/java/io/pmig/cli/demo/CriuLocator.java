package io.pmig.cli.demo;

import io.pmig.executor.criu.Criu;
import io.pmig.executor.criu.CriuException;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;

/**
 * Finds a usable criu (>= 4.2, passing {@code criu check}) for one-machine runs, provisioning it with the
 * project's own script when none is there: $PMIG_CRIU, the private install, criu on PATH, then
 * {@code $PMIG_HOME/scripts/install-criu.sh} (bin/pmig sets PMIG_HOME to the checkout).
 */
public final class CriuLocator {


    private CriuLocator() {
    }

    public static Criu locate() throws IOException, InterruptedException {
        List<String> tried = new ArrayList<>();
        List<Path> candidates = new ArrayList<>();
        String env = System.getenv("PMIG_CRIU");
        if (env != null && !env.isBlank()) {
            candidates.add(Path.of(env));
        }
        candidates.add(Criu.PROJECT_INSTALL);
        for (String dir : System.getenv().getOrDefault("PATH", "").split(":")) {
            if (!dir.isEmpty()) {
                candidates.add(Path.of(dir, "criu"));
            }
        }
        for (Path candidate : candidates) {
            if (Files.isExecutable(candidate)) {
                try {
                    return Criu.verified(candidate, true); // one-machine runs may tune it, as install-criu.sh does
                } catch (CriuException e) {
                    tried.add(candidate + ": " + e.getMessage());
                }
            }
        }
        Path script = installScript();
        if (script == null) {
            throw new IllegalStateException("no usable criu (>= 4.2) found" + (tried.isEmpty() ? "" : " (" + String.join("; ", tried) + ")")
                    + " and scripts/install-criu.sh is not reachable: run pmig through bin/pmig, or set PMIG_CRIU");
        }
        System.err.println("pmig: provisioning criu with " + script + " ...");
        Process install = new ProcessBuilder(script.toString()).redirectError(ProcessBuilder.Redirect.INHERIT).start();
        String out = new String(install.getInputStream().readAllBytes(), StandardCharsets.UTF_8).strip();
        if (install.waitFor() != 0 || out.isEmpty()) {
            throw new IllegalStateException("could not provision criu with " + script + " (see its messages above)");
        }
        try {
            return Criu.verified(Path.of(out.lines().reduce((a, b) -> b).orElseThrow()), true);
        } catch (CriuException e) {
            throw new IllegalStateException("criu installed by " + script + " is not usable on this kernel: " + e.getMessage(), e);
        }
    }

    private static Path installScript() {
        String home = System.getenv("PMIG_HOME");
        List<Path> places = new ArrayList<>();
        if (home != null) {
            places.add(Path.of(home, "scripts", "install-criu.sh"));
        }
        places.add(Path.of("scripts", "install-criu.sh").toAbsolutePath());
        places.add(Path.of("..", "scripts", "install-criu.sh").toAbsolutePath().normalize());
        return places.stream().filter(Files::isExecutable).findFirst().orElse(null);
    }
}
