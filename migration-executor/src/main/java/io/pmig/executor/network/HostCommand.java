package io.pmig.executor.network;

import java.io.File;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.TimeUnit;

/** Runs the host's network tools (ip, nft, nsenter) for the network package: their output, or why they failed. */
final class HostCommand {

    private HostCommand() {
    }

    static String output(String... cmd) throws IOException {
        return output(List.of(cmd), null);
    }

    /** The command's output (stderr included); {@code stdin}, when not null, is written to it. */
    static String output(List<String> cmd, String stdin) throws IOException {
        ProcessBuilder builder = new ProcessBuilder(new ArrayList<>(cmd)).redirectErrorStream(true);
        if (stdin == null) {
            builder.redirectInput(ProcessBuilder.Redirect.from(new File("/dev/null")));
        }
        Process p = builder.start();
        if (stdin != null) {
            try (var in = p.getOutputStream()) {
                in.write(stdin.getBytes(StandardCharsets.UTF_8));
            }
        }
        String out = new String(p.getInputStream().readAllBytes(), StandardCharsets.UTF_8);
        try {
            if (!p.waitFor(30, TimeUnit.SECONDS)) {
                p.destroyForcibly();
                throw new IOException(String.join(" ", cmd) + " did not finish");
            }
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            throw new IOException("interrupted: " + String.join(" ", cmd), e);
        }
        if (p.exitValue() != 0) {
            throw new IOException(String.join(" ", cmd) + " failed (exit " + p.exitValue() + "): " + out.strip());
        }
        return out;
    }
}
