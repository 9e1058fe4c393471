package io.pmig.executor.migration;

import java.io.IOException;
import java.io.Reader;
import java.io.Writer;
import java.nio.file.DirectoryStream;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.security.MessageDigest;
import java.security.NoSuchAlgorithmException;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.HexFormat;
import java.util.EnumSet;
import java.util.List;
import java.util.Map;
import java.util.Properties;
import java.util.Set;
import java.util.regex.Pattern;

/**
 * A migration's persisted state on one node, {@code <workdir>/migrations/<id>/journal.properties}, rewritten
 * atomically at every step so an executor restarted mid-migration knows what it had done (see
 * {@link MigrationRecovery}). The directory also holds the images and the staged workload files.
 */
public final class MigrationJournal {

    public enum Role { SOURCE, DESTINATION }

    /** Steps of either role; recovery decides by the last one reached. */
    public enum Step {
        // source
        ACCEPTED, CONNECTED, DUMPING, DUMPED, RELEASED, RESTORING, COMMITTING, ROLLING_BACK,
        // destination
        PREPARED, RESTORED, COMMITTED, ABANDONED
    }

    /**
     * The only moves each role's journal may make (a step may also be rewritten to persist new values). The source
     * holds its frozen copy from DUMPING until its migration ends; RELEASED is the one path on which it lets go of
     * it before the commit (see {@link SourceMigration}); ROLLING_BACK is reachable from every step that froze.
     */
    static final Map<Role, Map<Step, Set<Step>>> TRANSITIONS = Map.of(
            Role.SOURCE, Map.of(
                    Step.ACCEPTED, EnumSet.of(Step.CONNECTED),
                    Step.CONNECTED, EnumSet.of(Step.DUMPING),
                    Step.DUMPING, EnumSet.of(Step.DUMPED, Step.ROLLING_BACK),
                    Step.DUMPED, EnumSet.of(Step.RELEASED, Step.RESTORING, Step.ROLLING_BACK),
                    Step.RELEASED, EnumSet.of(Step.RESTORING, Step.ROLLING_BACK),
                    Step.RESTORING, EnumSet.of(Step.COMMITTING, Step.ROLLING_BACK),
                    Step.COMMITTING, EnumSet.of(Step.ROLLING_BACK),
                    Step.ROLLING_BACK, EnumSet.noneOf(Step.class)),
            Role.DESTINATION, Map.of(
                    Step.PREPARED, EnumSet.of(Step.RESTORING),
                    Step.RESTORING, EnumSet.of(Step.RESTORED),
                    Step.RESTORED, EnumSet.of(Step.COMMITTED),
                    Step.COMMITTED, EnumSet.of(Step.ABANDONED),
                    Step.ABANDONED, EnumSet.noneOf(Step.class)));

    /** The step a journal starts in, before its first {@link #step}. */
    static Step initial(Role role) {
        return role == Role.SOURCE ? Step.ACCEPTED : Step.PREPARED;
    }

    /** Whether a journal of {@code role} may go from {@code from} to {@code to}. */
    static boolean allowed(Role role, Step from, Step to) {
        return from == to || TRANSITIONS.get(role).getOrDefault(from, Set.of()).contains(to);
    }

    private static final Pattern SAFE = Pattern.compile("[A-Za-z0-9][A-Za-z0-9._-]{0,127}");
    private static final String FILE = "journal.properties";

    private final Path dir;
    private final Properties values = new Properties();

    private MigrationJournal(Path dir) {
        this.dir = dir;
    }

    public static MigrationJournal create(Path workdir, String migrationId, Role role) throws IOException {
        MigrationJournal journal = new MigrationJournal(dirFor(workdir, migrationId));
        Files.createDirectories(journal.dir);
        journal.values.setProperty("migrationId", migrationId);
        journal.values.setProperty("role", role.name());
        return journal;
    }

    /** Every journal left in the work dir (migrations that had not finished when the executor stopped). */
    public static List<MigrationJournal> all(Path workdir) throws IOException {
        List<MigrationJournal> journals = new ArrayList<>();
        Path root = workdir.resolve("migrations");
        if (!Files.isDirectory(root)) {
            return journals;
        }
        try (DirectoryStream<Path> dirs = Files.newDirectoryStream(root, Files::isDirectory)) {
            for (Path d : dirs) {
                if (Files.isRegularFile(d.resolve(FILE))) {
                    MigrationJournal j = new MigrationJournal(d);
                    try (Reader r = Files.newBufferedReader(d.resolve(FILE), StandardCharsets.UTF_8)) {
                        j.values.load(r);
                    }
                    journals.add(j);
                }
            }
        }
        return journals;
    }

    /** Migration ids come from commands; a directory name must not be able to escape the work dir. */
    static Path dirFor(Path workdir, String migrationId) {
        String name = SAFE.matcher(migrationId).matches() ? migrationId : "m-" + sha256(migrationId).substring(0, 32);
        return workdir.resolve("migrations").resolve(name);
    }

    public Path dir() {
        return dir;
    }

    public Role role() {
        return Role.valueOf(values.getProperty("role"));
    }

    public Step step() {
        String s = values.getProperty("step");
        return s == null ? initial(role()) : Step.valueOf(s);
    }

    public String get(String key) {
        return values.getProperty(key);
    }

    public int getInt(String key) {
        String v = values.getProperty(key);
        return v == null ? 0 : Integer.parseInt(v);
    }

    public long getLong(String key) {
        String v = values.getProperty(key);
        return v == null ? 0 : Long.parseLong(v);
    }

    public MigrationJournal put(String key, Object value) {
        values.setProperty(key, String.valueOf(value));
        return this;
    }

    /** Records the step (and any values put before) durably: tmp file, then an atomic rename. */
    public synchronized void step(Step step) throws IOException {
        if (!allowed(role(), step(), step)) {
            throw new IllegalStateException("a " + role() + " journal cannot go from " + step() + " to " + step);
        }
        values.setProperty("step", step.name());
        Path tmp = dir.resolve(FILE + ".tmp");
        try (Writer w = Files.newBufferedWriter(tmp, StandardCharsets.UTF_8)) {
            values.store(w, "pmig migration journal");
        }
        Files.move(tmp, dir.resolve(FILE), StandardCopyOption.ATOMIC_MOVE, StandardCopyOption.REPLACE_EXISTING);
    }

    /** The migration is over on this node: its directory (journal, images, staged files) goes. */
    public void delete() throws IOException {
        // a criu that outlived its executor (lazy-pages, its wrapper writing the exit code) may still add a file
        for (int attempt = 1; ; attempt++) {
            try {
                io.pmig.executor.workload.NodeWorkloads.deleteTree(dir);
                return;
            } catch (java.nio.file.DirectoryNotEmptyException e) {
                if (attempt == 20) {
                    throw e;
                }
                try {
                    Thread.sleep(100);
                } catch (InterruptedException interrupted) {
                    Thread.currentThread().interrupt();
                    throw e;
                }
            }
        }
    }

    private static String sha256(String s) {
        try {
            return HexFormat.of().formatHex(MessageDigest.getInstance("SHA-256").digest(s.getBytes(StandardCharsets.UTF_8)));
        } catch (NoSuchAlgorithmException e) {
            throw new IllegalStateException(e);
        }
    }
}
