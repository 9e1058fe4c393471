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
import java.util.List;
import java.util.Properties;
import java.util.regex.Pattern;

/**
 * A migration's persisted state on one node, {@code <workdir>/migrations/<id>/journal.properties}, rewritten
 * atomically at every step so an executor restarted mid-migration knows what it had done (see
 * {@link MigrationRecovery}). The directory also holds the images and the staged workload files.
 */
public final class MigrationJournal {

    public enum Role { SOURCE, DESTINATION }

    /** Steps in order; recovery decides by the last one reached. */
    public enum Step { ACCEPTED, DUMPING, DUMPED, RESTORING, COMMITTING, ROLLING_BACK, PREPARED, RESTORED, COMMITTED }

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
        return s == null ? Step.ACCEPTED : Step.valueOf(s);
    }

    public String get(String key) {
        return values.getProperty(key);
    }

    public int getInt(String key) {
        String v = values.getProperty(key);
        return v == null ? 0 : Integer.parseInt(v);
    }

    public MigrationJournal put(String key, Object value) {
        values.setProperty(key, String.valueOf(value));
        return this;
    }

    /** Records the step (and any values put before) durably: tmp file, then an atomic rename. */
    public synchronized void step(Step step) throws IOException {
        values.setProperty("step", step.name());
        Path tmp = dir.resolve(FILE + ".tmp");
        try (Writer w = Files.newBufferedWriter(tmp, StandardCharsets.UTF_8)) {
            values.store(w, "pmig migration journal");
        }
        Files.move(tmp, dir.resolve(FILE), StandardCopyOption.ATOMIC_MOVE, StandardCopyOption.REPLACE_EXISTING);
    }

    /** The migration is over on this node: its directory (journal, images, staged files) goes. */
    public void delete() throws IOException {
        io.pmig.executor.workload.NodeWorkloads.deleteTree(dir);
    }

    private static String sha256(String s) {
        try {
            return HexFormat.of().formatHex(MessageDigest.getInstance("SHA-256").digest(s.getBytes(StandardCharsets.UTF_8)));
        } catch (NoSuchAlgorithmException e) {
            throw new IllegalStateException(e);
        }
    }
}
