package io.pmig.executor.checkpoint;

import io.pmig.executor.migration.NodeServices;
import io.pmig.executor.transfer.SessionIntake;
import io.pmig.executor.transfer.TransferSession;
import io.pmig.executor.workload.NodeWorkloads;
import io.pmig.schemas.Phase;
import io.pmig.schemas.PhaseTimings;
import java.io.IOException;
import java.io.Reader;
import java.io.Writer;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.time.Duration;
import java.time.Instant;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.Properties;
import java.util.regex.Pattern;
import java.util.stream.Stream;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;
import org.slf4j.MDC;

/**
 * The peer side of node-death recovery: keeps the latest complete checkpoint of each workload other nodes send
 * here, in {@code <workdir>/checkpoints/held/<source node>/<workload>/<taken at ms>/} (images/, workload/ and
 * {@code checkpoint.properties}, written last and atomically: a directory without it is incomplete and ignored).
 * A checkpoint arrives in its own session dir and is moved into place only when its CHECKPOINT request (after every
 * file) says so; the previous one is deleted after that, so a complete checkpoint is always held. Then it publishes
 * CHECKPOINTED.
 */
public final class CheckpointStore implements SessionIntake {

    private static final Logger log = LoggerFactory.getLogger(CheckpointStore.class);
    private static final Pattern SESSION_ID = Pattern.compile("checkpoint-[0-9a-f-]{36}");
    private static final Pattern NODE_ID = Pattern.compile("[A-Za-z0-9][A-Za-z0-9._-]{0,63}");
    static final String COMPLETE = "checkpoint.properties";

    /** One held checkpoint. */
    public record Held(String id, String source, String workloadId, long takenAtMs, Path dir) {
        public Path images() {
            return dir.resolve("images");
        }

        public Path workload() {
            return dir.resolve("workload");
        }
    }

    private final NodeServices node;
    private final Path incoming;
    private final Path held;

    public CheckpointStore(NodeServices node) throws IOException {
        this.node = node;
        Path root = node.config().workdir().resolve("checkpoints");
        this.incoming = root.resolve("incoming");
        this.held = root.resolve("held");
        NodeWorkloads.deleteTree(incoming); // sessions of a previous run can never complete
        Files.createDirectories(held);
    }

    @Override
    public boolean accepts(String sessionId) {
        return SESSION_ID.matcher(sessionId).matches();
    }

    @Override
    public TransferSession open(String sessionId) throws IOException {
        Path dir = incoming.resolve(sessionId);
        TransferSession session = node.transfer().openSession(sessionId, dir,
                (verb, args) -> onControl(sessionId, dir, verb, args));
        Thread cleaner = new Thread(() -> {
            try {
                while (!session.awaitClosed(Duration.ofMinutes(1))) {
                    // a connection ends by END, a cut, or the server's read timeout
                }
                NodeWorkloads.deleteTree(dir); // gone already if it was accepted
            } catch (IOException e) {
                log.warn("cannot delete {}: {}", dir, e.getMessage());
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
            }
        }, "pmig-checkpoint-" + sessionId);
        cleaner.setDaemon(true);
        cleaner.start();
        return session;
    }

    private String onControl(String sessionId, Path dir, String verb, Map<String, String> args) throws IOException {
        if (!"CHECKPOINT".equals(verb)) {
            throw new IllegalArgumentException("unknown checkpoint request " + verb);
        }
        MDC.put("node", node.config().node());
        MDC.put("migration", sessionId);
        try {
            String source = args.get("source");
            String workloadId = NodeWorkloads.checkId(args.get("workloadId"));
            if (source == null || !NODE_ID.matcher(source).matches() || source.equals(node.config().node())) {
                throw new IllegalArgumentException("bad source node '" + source + "'");
            }
            long takenAtMs = Long.parseLong(args.get("takenAtMs"));
            if (!Files.isRegularFile(dir.resolve("images").resolve("inventory.img")) || !Files.isDirectory(dir.resolve("workload"))) {
                throw new IllegalArgumentException("incomplete checkpoint: images/inventory.img or workload/ missing");
            }
            long bytes = accept(sessionId, dir, source, workloadId, takenAtMs);
            node.events().publish(node.events().event(sessionId, sessionId, workloadId, Phase.CHECKPOINTED)
                    .setSourceNode(source).setDestinationNode(node.config().node()).setBytesMoved(bytes)
                    .setTimings(PhaseTimings.newBuilder().setFreezeMs(number(args, "freezeMs"))
                            .setDumpMs(number(args, "dumpMs")).setTransferMs(number(args, "transferMs")).build())
                    // the schema has no checkpoint-time field; this text is the event's record of it
                    .setDetail("checkpoint taken at " + Instant.ofEpochMilli(takenAtMs) + " (takenAtMs=" + takenAtMs
                            + ") on " + source + ", held by " + node.config().node()));
            return "held";
        } finally {
            MDC.remove("migration");
        }
    }

    private synchronized long accept(String sessionId, Path dir, String source, String workloadId, long takenAtMs)
            throws IOException {
        Optional<Held> previous = latest(source, workloadId);
        if (previous.isPresent() && previous.get().takenAtMs() >= takenAtMs) {
            throw new IllegalArgumentException("a checkpoint taken at " + previous.get().takenAtMs()
                    + " is already held; refusing the older (or replayed) one taken at " + takenAtMs);
        }
        Path target = held.resolve(source).resolve(workloadId).resolve(String.valueOf(takenAtMs));
        Files.createDirectories(target.getParent());
        NodeWorkloads.deleteTree(target);
        Files.move(dir, target, StandardCopyOption.ATOMIC_MOVE);
        Properties meta = new Properties();
        meta.setProperty("id", sessionId);
        meta.setProperty("source", source);
        meta.setProperty("workloadId", workloadId);
        meta.setProperty("takenAtMs", String.valueOf(takenAtMs));
        Path tmp = target.resolve(COMPLETE + ".tmp");
        try (Writer w = Files.newBufferedWriter(tmp, StandardCharsets.UTF_8)) {
            meta.store(w, "pmig checkpoint: complete");
        }
        Files.move(tmp, target.resolve(COMPLETE), StandardCopyOption.ATOMIC_MOVE);
        try (Stream<Path> older = Files.list(target.getParent())) {
            for (Path p : older.filter(p -> !p.equals(target)).toList()) {
                NodeWorkloads.deleteTree(p);
            }
        }
        long bytes;
        try (Stream<Path> files = Files.walk(target)) {
            bytes = files.filter(Files::isRegularFile).mapToLong(p -> p.toFile().length()).sum();
        }
        log.info("holding the checkpoint of {} from {} taken at {} ({} bytes)", workloadId, source, takenAtMs, bytes);
        return bytes;
    }

    /** The nodes some of whose checkpoints are held here (their NODE_DOWN matters to this node). */
    public synchronized List<String> sources() throws IOException {
        try (Stream<Path> sources = Files.list(held)) {
            return sources.map(p -> p.getFileName().toString()).filter(n -> NODE_ID.matcher(n).matches()).toList();
        }
    }

    /** The newest complete checkpoint of each workload of {@code source} held here. */
    public synchronized List<Held> heldFrom(String source) throws IOException {
        List<Held> result = new ArrayList<>();
        Path dir = held.resolve(source);
        if (!NODE_ID.matcher(source).matches() || !Files.isDirectory(dir)) {
            return result;
        }
        try (Stream<Path> workloads = Files.list(dir)) {
            for (Path w : workloads.toList()) {
                latest(source, w.getFileName().toString()).ifPresent(result::add);
            }
        }
        return result;
    }

    private Optional<Held> latest(String source, String workloadId) throws IOException {
        Path dir = held.resolve(source).resolve(workloadId);
        if (!Files.isDirectory(dir)) {
            return Optional.empty();
        }
        Held best = null;
        try (Stream<Path> checkpoints = Files.list(dir)) {
            for (Path c : checkpoints.toList()) {
                if (!Files.isRegularFile(c.resolve(COMPLETE))) {
                    continue;
                }
                Properties meta = new Properties();
                try (Reader r = Files.newBufferedReader(c.resolve(COMPLETE), StandardCharsets.UTF_8)) {
                    meta.load(r);
                }
                long taken = Long.parseLong(meta.getProperty("takenAtMs"));
                if (best == null || taken > best.takenAtMs()) {
                    best = new Held(meta.getProperty("id"), source, workloadId, taken, c);
                }
            }
        }
        return Optional.ofNullable(best);
    }

    /** Forgets every checkpoint of that workload from that source (restored, or the workload left the node). */
    public synchronized void discard(String source, String workloadId) throws IOException {
        NodeWorkloads.deleteTree(held.resolve(source).resolve(workloadId));
    }

    private static long number(Map<String, String> args, String key) {
        try {
            return Long.parseLong(args.getOrDefault(key, "0"));
        } catch (NumberFormatException e) {
            return 0;
        }
    }
}
