package io.pmig.tools.bench;

import io.pmig.executor.network.LocalSegment;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.TimeUnit;

/**
 * What a client of a migrating workload sees (`bench migrate --client tcp`): a small C program in the segment's client
 * namespace that keeps one TCP connection to the workload's echo port and sends a byte every 10 ms (the time of each
 * answer goes to {@code replies.log}), while a second process opens a new connection every 50 ms and writes each
 * outcome to {@code probes.log}: {@code ok}, {@code refused} (the port answered with a reset to the SYN), {@code reset}
 * (an accepted connection reset), {@code timeout} (no answer in 10 s). Both stop when {@code stop} exists.
 */
final class TcpClient implements AutoCloseable {

    private static final String SOURCE = """
            #include <errno.h>
            #include <fcntl.h>
            #include <arpa/inet.h>
            #include <netinet/in.h>
            #include <poll.h>
            #include <stdio.h>
            #include <stdlib.h>
            #include <string.h>
            #include <sys/socket.h>
            #include <sys/wait.h>
            #include <time.h>
            #include <unistd.h>
            static const char *dir;
            static struct sockaddr_in to;
            static long long now(void) {
                struct timespec t; clock_gettime(CLOCK_REALTIME, &t);
                return (long long) t.tv_sec * 1000 + t.tv_nsec / 1000000;
            }
            static int stopped(void) {
                char p[4096]; snprintf(p, sizeof p, "%s/stop", dir); return access(p, F_OK) == 0;
            }
            static FILE *log_file(const char *name) {
                char p[4096]; snprintf(p, sizeof p, "%s/%s", dir, name);
                FILE *f = fopen(p, "a"); setvbuf(f, NULL, _IOLBF, 0); return f;
            }
            static void pause_ms(int ms) { struct timespec t = {0, ms * 1000000L}; nanosleep(&t, NULL); }
            /* connect, send a byte, read it back: 0 ok, else an errno (ETIMEDOUT for no answer in 10 s; with patient,
               the answer is waited for until stop exists: the one connection's gap must be measured however long the
               freeze, not cut at 10 s; -1 if stop came first, which is the end of the run, not a failure) */
            static int exchange(int s, int connecting, int patient) {
                struct pollfd p = {s, POLLOUT, 0};
                if (connecting) {
                    if (poll(&p, 1, 10000) <= 0) return ETIMEDOUT;
                    int err = 0; socklen_t len = sizeof err;
                    getsockopt(s, SOL_SOCKET, SO_ERROR, &err, &len);
                    if (err) return err;
                }
                char b = 'x';
                if (send(s, &b, 1, MSG_NOSIGNAL) != 1) return errno;
                p.events = POLLIN;
                int ready;
                while ((ready = poll(&p, 1, patient ? 1000 : 10000)) == 0 && patient && !stopped()) {
                }
                if (ready == 0 && patient) return -1;
                if (ready <= 0) return ETIMEDOUT;
                ssize_t got = recv(s, &b, 1, 0);
                return got == 1 ? 0 : got == 0 ? EPIPE : errno;
            }
            int main(int argc, char **argv) {
                if (argc != 4) return 2;
                dir = argv[3];
                to.sin_family = AF_INET; to.sin_port = htons(atoi(argv[2]));
                if (inet_pton(AF_INET, argv[1], &to.sin_addr) != 1) return 2;
                pid_t prober = fork();
                if (prober == 0) {
                    FILE *probes = log_file("probes.log");
                    while (!stopped()) {
                        long long start = now();
                        int s = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK, 0);
                        int r = connect(s, (struct sockaddr *) &to, sizeof to) == 0 ? 0 : errno == EINPROGRESS ? -1 : errno;
                        if (r <= 0) r = exchange(s, r < 0, 0);
                        close(s);
                        fprintf(probes, "%s %lld %lld\\n", r == 0 ? "ok" : r == ECONNREFUSED ? "refused"
                                : r == ECONNRESET || r == EPIPE ? "reset" : r == ETIMEDOUT ? "timeout" : "error",
                                start, now() - start);
                        pause_ms(50);
                    }
                    return 0;
                }
                FILE *replies = log_file("replies.log"), *end = log_file("persistent.log");
                int s = -1;
                for (int tries = 0; tries < 300; tries++, pause_ms(100)) { /* the server may still be starting */
                    s = socket(AF_INET, SOCK_STREAM, 0);
                    if (connect(s, (struct sockaddr *) &to, sizeof to) == 0) break;
                    close(s); s = -1;
                }
                if (s < 0) { fprintf(end, "connect %s\\n", strerror(errno)); return 3; }
                while (!stopped()) {
                    int r = exchange(s, 0, 1);
                    if (r < 0) break;
                    if (r != 0) { fprintf(end, "%s %s %lld\\n", r == ECONNRESET || r == EPIPE ? "reset" : "error", strerror(r), now()); break; }
                    fprintf(replies, "%lld\\n", now());
                    pause_ms(10);
                }
                waitpid(prober, NULL, 0);
                return 0;
            }
            """;

    /** What the client saw from {@code fromMs} on. */
    record Seen(long longestGapMs, int resets, int refused, int timeouts, int errors, int probes) {
    }

    private final Path dir;
    private final Process process;

    private TcpClient(Path dir, Process process) {
        this.dir = dir;
        this.process = process;
    }

    static Path build(Path binDir) throws IOException, InterruptedException {
        return HeartbeatWorkload.compile(binDir, "pmig-bench-tcp-client", SOURCE);
    }

    /** Starts the client in the segment's client namespace; returns once its connection carried one answer. */
    static TcpClient start(Path binary, LocalSegment segment, String address, int port, Path dir)
            throws IOException, InterruptedException {
        Files.createDirectories(dir);
        Process process = new ProcessBuilder(segment.inClient(List.of(binary.toString(), address, String.valueOf(port),
                dir.toString()))).redirectErrorStream(true).redirectOutput(dir.resolve("client.out").toFile()).start();
        TcpClient client = new TcpClient(dir, process);
        long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(30);
        while (client.replies().isEmpty()) {
            if (!process.isAlive() || System.nanoTime() > deadline) {
                client.close();
                throw new IOException("the TCP client never got an answer from " + address + ":" + port + ": "
                        + read(dir.resolve("persistent.log")) + read(dir.resolve("client.out")));
            }
            Thread.sleep(10);
        }
        return client;
    }

    /** Waits until the connection has carried an answer at or after {@code afterMs}. */
    void awaitReplyAfter(long afterMs, long timeoutMs) throws IOException, InterruptedException {
        long deadline = System.currentTimeMillis() + timeoutMs;
        while (true) {
            List<Long> replies = replies();
            if (!replies.isEmpty() && replies.get(replies.size() - 1) >= afterMs) {
                return;
            }
            if (!process.isAlive() || System.currentTimeMillis() > deadline) {
                return; // the connection broke: seen() counts it
            }
            Thread.sleep(10);
        }
    }

    Seen seen(long fromMs) throws IOException {
        long gap = HeartbeatWorkload.longestGapMs(replies(), fromMs);
        // the one connection ended before stop: a reset, or an error that ended the measurement of its gap
        int resets = read(dir.resolve("persistent.log")).isBlank() ? 0 : 1;
        int refused = 0;
        int timeouts = 0;
        int errors = 0;
        int probes = 0;
        Path log = dir.resolve("probes.log");
        for (String line : Files.exists(log) ? Files.readAllLines(log) : List.<String>of()) {
            String[] f = line.split(" ");
            if (f.length != 3 || Long.parseLong(f[1]) < fromMs) {
                continue;
            }
            probes++;
            switch (f[0]) {
                case "refused" -> refused++;
                case "reset" -> resets++;
                case "timeout" -> timeouts++;
                case "error" -> errors++; // any other failure, e.g. EHOSTUNREACH from an ICMP error
                default -> { }
            }
        }
        return new Seen(gap, resets, refused, timeouts, errors, probes);
    }

    private List<Long> replies() throws IOException {
        Path log = dir.resolve("replies.log");
        List<Long> replies = new ArrayList<>();
        if (Files.exists(log)) {
            for (String line : Files.readAllLines(log)) {
                try {
                    replies.add(Long.parseLong(line.strip()));
                } catch (NumberFormatException partial) {
                    // mid-line
                }
            }
        }
        return replies;
    }

    @Override
    public void close() throws IOException {
        Files.writeString(dir.resolve("stop"), "");
        try {
            if (!process.waitFor(15, TimeUnit.SECONDS)) {
                process.destroyForcibly();
            }
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            process.destroyForcibly();
        }
    }

    private static String read(Path file) {
        try {
            return Files.exists(file) ? Files.readString(file).strip() : "";
        } catch (IOException e) {
            return e.toString();
        }
    }
}
