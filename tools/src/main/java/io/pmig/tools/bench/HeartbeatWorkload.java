package io.pmig.tools.bench;

import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.TimeUnit;

/**
 * The migration benchmark's workload: a tiny static C program that fills N MiB with incompressible bytes, then
 * every 10 ms appends the wall-clock time to {@code heartbeat.log} in its working directory and dirties one
 * more page. C rather than a JVM so that the memory dumped is the N MiB asked for and not a runtime's heap.
 * The longest gap between two heartbeats is the downtime the workload itself saw. With a port it also echoes every TCP
 * client's bytes (poll between heartbeats), for {@link TcpClient}.
 */
final class HeartbeatWorkload {

    static final String LOG = "heartbeat.log";

    private static final String SOURCE = """
            #include <fcntl.h>
            #include <netinet/in.h>
            #include <poll.h>
            #include <stdint.h>
            #include <stdio.h>
            #include <stdlib.h>
            #include <string.h>
            #include <sys/socket.h>
            #include <time.h>
            #include <unistd.h>
            static long long ms(clockid_t clock) {
                struct timespec t;
                clock_gettime(clock, &t);
                return (long long) t.tv_sec * 1000 + t.tv_nsec / 1000000;
            }
            int main(int argc, char **argv) {
                size_t bytes = (size_t) atol(argv[1]) << 20;
                int port = argc > 2 ? atoi(argv[2]) : 0; /* > 0: also echo TCP clients on this port */
                unsigned char *memory = malloc(bytes);
                if (memory == NULL) return 2;
                uint64_t x = 88172645463325252ULL;
                for (size_t i = 0; i + 8 <= bytes; i += 8) {
                    x ^= x << 13; x ^= x >> 7; x ^= x << 17;
                    memcpy(memory + i, &x, 8);
                }
                int fd = open("heartbeat.log", O_WRONLY | O_CREAT | O_APPEND, 0644);
                if (fd < 0) return 3;
                struct pollfd fds[256];
                int nfds = 0;
                if (port > 0) {
                    int l = socket(AF_INET, SOCK_STREAM, 0), one = 1;
                    struct sockaddr_in a = {0};
                    a.sin_family = AF_INET; a.sin_port = htons(port); a.sin_addr.s_addr = htonl(INADDR_ANY);
                    setsockopt(l, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
                    if (l < 0 || bind(l, (struct sockaddr *) &a, sizeof a) < 0 || listen(l, 128) < 0) return 5;
                    fds[0].fd = l; fds[0].events = POLLIN; nfds = 1;
                }
                size_t page = 0;
                char line[32];
                long long next = ms(CLOCK_MONOTONIC);
                for (;;) {
                    int n = snprintf(line, sizeof line, "%lld\\n", ms(CLOCK_REALTIME));
                    if (write(fd, line, n) != n) return 4;
                    memory[page]++;
                    page = (page + 4096) % bytes;
                    next += 10;
                    for (long long wait; (wait = next - ms(CLOCK_MONOTONIC)) > 0;) {
                        if (nfds == 0) {
                            struct timespec tick = {0, wait * 1000 * 1000};
                            nanosleep(&tick, NULL);
                            continue;
                        }
                        if (poll(fds, nfds, (int) wait) <= 0) continue;
                        if (fds[0].revents & POLLIN) {
                            int c = accept(fds[0].fd, NULL, NULL);
                            if (c >= 0 && nfds < 256) { fds[nfds].fd = c; fds[nfds].events = POLLIN; fds[nfds].revents = 0; nfds++; }
                            else if (c >= 0) close(c);
                        }
                        for (int i = 1; i < nfds; i++) {
                            if (!fds[i].revents) continue;
                            char buf[256];
                            ssize_t got = read(fds[i].fd, buf, sizeof buf);
                            if (got <= 0 || write(fds[i].fd, buf, got) != got) {
                                close(fds[i].fd);
                                fds[i--] = fds[--nfds];
                            }
                        }
                    }
                }
            }
            """;

    private HeartbeatWorkload() {
    }

    /** Compiles the workload into dir and returns the binary; static, so nothing but itself is mapped. */
    static Path build(Path dir) throws IOException, InterruptedException {
        return compile(dir, "pmig-bench-heartbeat", SOURCE);
    }

    /** Compiles a benchmark program into dir, static. */
    static Path compile(Path dir, String name, String program) throws IOException, InterruptedException {
        Files.createDirectories(dir);
        Path source = dir.resolve(name + ".c");
        Path binary = dir.resolve(name);
        Files.writeString(source, program);
        Process cc = new ProcessBuilder("cc", "-O2", "-static", "-o", binary.toString(), source.toString())
                .redirectErrorStream(true).start();
        String out = new String(cc.getInputStream().readAllBytes(), StandardCharsets.UTF_8);
        if (!cc.waitFor(60, TimeUnit.SECONDS) || cc.exitValue() != 0) {
            throw new IOException("cannot compile the benchmark workload with cc (apt-get install gcc libc6-dev): " + out.strip());
        }
        return binary;
    }

    /** The heartbeat times written so far, oldest first (a line still being written is skipped). */
    static List<Long> beats(Path workDir) throws IOException {
        Path log = workDir.resolve(LOG);
        List<Long> beats = new ArrayList<>();
        if (!Files.exists(log)) {
            return beats;
        }
        for (String line : Files.readAllLines(log)) {
            try {
                beats.add(Long.parseLong(line.strip()));
            } catch (NumberFormatException partial) {
                // the writer was mid-line
            }
        }
        return beats;
    }

    /** The longest pause between consecutive heartbeats at or after fromMs, in ms. */
    static long longestGapMs(List<Long> beats, long fromMs) {
        long gap = 0;
        for (int i = 1; i < beats.size(); i++) {
            if (beats.get(i) >= fromMs) {
                gap = Math.max(gap, beats.get(i) - beats.get(i - 1));
            }
        }
        return gap;
    }

    /** Waits until the workload has written a heartbeat at or after {@code afterMs}. */
    static void awaitBeatAfter(Path workDir, long afterMs, long timeoutMs) throws IOException, InterruptedException {
        long deadline = System.currentTimeMillis() + timeoutMs;
        while (true) {
            List<Long> beats = beats(workDir);
            if (!beats.isEmpty() && beats.get(beats.size() - 1) >= afterMs) {
                return;
            }
            if (System.currentTimeMillis() > deadline) {
                throw new IOException("no heartbeat after " + afterMs + " in " + workDir + " within " + timeoutMs + " ms");
            }
            Thread.sleep(10);
        }
    }
}
