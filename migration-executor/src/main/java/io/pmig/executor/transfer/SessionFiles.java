package io.pmig.executor.transfer;

import io.pmig.executor.transfer.FileEntry.Kind;
import java.io.IOException;
import java.math.BigDecimal;
import java.net.StandardProtocolFamily;
import java.net.UnixDomainSocketAddress;
import java.nio.channels.ServerSocketChannel;
import java.nio.charset.StandardCharsets;
import java.nio.file.FileAlreadyExistsException;
import java.nio.file.Files;
import java.nio.file.LinkOption;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.nio.file.attribute.BasicFileAttributeView;
import java.nio.file.attribute.FileTime;
import java.nio.file.attribute.PosixFilePermissions;
import java.time.Instant;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.Comparator;
import java.util.HashSet;
import java.util.HexFormat;
import java.util.List;
import java.util.Set;
import java.util.concurrent.TimeUnit;

/**
 * Writes the entries of one transfer session into its directory, exactly as they were on the source: every kind,
 * mode (setuid/setgid/sticky included), owner and nanosecond times. Confinement is by resolved path: a name may be
 * any bytes Linux allows, but no component may be empty, "." or "..", and every directory on its way must be a real
 * directory inside the session (never a link, not even one an earlier entry of this session planted). Each
 * non-directory entry is built under a temporary name and renamed into place, which replaces a link there instead
 * of writing through it. Directories are created 0700 and get their own mode, owner and times only when the
 * entries end ({@link #seal}), deepest first, so their contents can be written and their times stick.
 *
 * <p>Java has no call for mknod, and opening a FIFO or device to set its attributes would block or act on the
 * device, so those nodes (and link texts or times Java cannot express exactly) go through coreutils.
 */
final class SessionFiles {

    private static final long TOOL_TIMEOUT_SECONDS = 30;

    private final Path root;
    /** Short: a socket is bound at its temporary name, and a socket path is limited to 107 bytes. */
    private final String tempPrefix = ".pmig-" + TransferProtocol.nonce().substring(0, 8) + "-";
    private final List<Directory> directories = new ArrayList<>();
    private final Set<String> received = new HashSet<>();
    private long temps;

    private record Directory(Path path, FileEntry entry) {
    }

    SessionFiles(Path root) {
        this.root = root;
    }

    /** The path inside the session that {@code name} denotes, or null if it is absolute, empty or climbs out. */
    static Path resolveInside(Path root, byte[] name) {
        if (name.length == 0 || name.length > FileEntry.MAX_NAME_BYTES || name[0] == '/' || FileEntry.indexOf(name, (byte) 0) >= 0) {
            return null;
        }
        int start = 0;
        for (int i = 0; i <= name.length; i++) {
            if (i == name.length || name[i] == '/') {
                int length = i - start;
                if (length == 0 || length > FileEntry.MAX_COMPONENT_BYTES
                        || length == 1 && name[start] == '.' || length == 2 && name[start] == '.' && name[start + 1] == '.') {
                    return null;
                }
                start = i + 1;
            }
        }
        Path resolved = root.resolve(PathBytes.relative(name));
        return resolved.startsWith(root) && !resolved.equals(root) ? resolved : null;
    }

    /** A fresh name in the session directory for an entry under construction. */
    Path temporary() {
        return root.resolve(tempPrefix + temps++);
    }

    /**
     * Checks where {@code entry} goes and creates the directories on its way; returns its path, or throws
     * {@link FileEntry.Malformed} with the reason it is refused.
     */
    Path place(FileEntry entry) throws IOException, FileEntry.Malformed {
        String shown = FileEntry.printable(entry.name());
        Path target = resolveInside(root, entry.name());
        if (target == null) {
            throw new FileEntry.Malformed("refused path '" + shown + "': it escapes the session directory");
        }
        if (!createDirectoriesInside(root, target.getParent()) || !target.getParent().toRealPath().startsWith(root)) {
            throw new FileEntry.Malformed("refused path '" + shown + "': a directory on its way is a link or not a directory");
        }
        boolean exists = Files.exists(target, LinkOption.NOFOLLOW_LINKS);
        boolean isDirectory = Files.isDirectory(target, LinkOption.NOFOLLOW_LINKS);
        if (entry.kind() == Kind.DIRECTORY ? exists && !isDirectory : isDirectory) {
            throw new FileEntry.Malformed("refused path '" + shown + "': it is a link or not a directory, or a directory is in its way");
        }
        return target;
    }

    /** Creates a directory, link or special node (a file's bytes are written by the caller into a {@link #temporary}). */
    void create(FileEntry entry, Path target) throws IOException, FileEntry.Malformed {
        if (entry.kind() == Kind.DIRECTORY) {
            if (!Files.exists(target, LinkOption.NOFOLLOW_LINKS)) {
                try {
                    Files.createDirectory(target, PosixFilePermissions.asFileAttribute(PosixFilePermissions.fromString("rwx------")));
                } catch (FileAlreadyExistsException raced) {
                    // place() checked it is a directory
                }
            }
            directories.add(new Directory(target, entry));
            received.add(HexFormat.of().formatHex(entry.name()));
            return;
        }
        Path temp = temporary();
        try {
            switch (entry.kind()) {
                case HARD_LINK -> {
                    Path existing = resolveInside(root, entry.link());
                    if (existing == null || !received.contains(HexFormat.of().formatHex(entry.link()))
                            || Files.isDirectory(existing, LinkOption.NOFOLLOW_LINKS) || existing.equals(target)) {
                        throw new FileEntry.Malformed("refused hard link '" + FileEntry.printable(entry.name())
                                + "': it does not name another entry of this session");
                    }
                    Files.createLink(temp, existing);
                }
                case SYMLINK -> symlink(entry, temp);
                case FIFO -> run(null, "mknod", "-m", "600", temp.toString(), "p");
                case CHAR_DEVICE, BLOCK_DEVICE -> run(null, "mknod", "-m", "600", temp.toString(),
                        entry.kind() == Kind.CHAR_DEVICE ? "c" : "b", String.valueOf(major(entry.rdev())), String.valueOf(minor(entry.rdev())));
                case SOCKET -> {
                    try (ServerSocketChannel socket = ServerSocketChannel.open(StandardProtocolFamily.UNIX)) {
                        socket.bind(UnixDomainSocketAddress.of(temp));
                    }
                }
                default -> throw new IllegalArgumentException(entry.kind().toString());
            }
            if (entry.kind() != Kind.HARD_LINK) {
                applyToNode(entry, temp);
            }
            moveIntoPlace(temp, target, entry);
        } finally {
            Files.deleteIfExists(temp);
        }
    }

    /** Gives a file written to {@code temp} its owner, mode and times and renames it to {@code target}. */
    void finishFile(FileEntry entry, Path temp, Path target) throws IOException {
        setOwner(temp, entry);
        Files.setAttribute(temp, "unix:mode", entry.mode(), LinkOption.NOFOLLOW_LINKS); // after chown, which clears setuid
        setTimes(temp, entry);
        moveIntoPlace(temp, target, entry);
    }

    /** Applies the directories' own mode, owner and times, deepest first, once nothing more is written into them. */
    void seal() throws IOException {
        directories.sort(Comparator.comparingInt((Directory d) -> d.path().getNameCount()).reversed());
        for (Directory directory : directories) {
            setOwner(directory.path(), directory.entry());
            Files.setAttribute(directory.path(), "unix:mode", directory.entry().mode(), LinkOption.NOFOLLOW_LINKS);
            setTimes(directory.path(), directory.entry());
        }
        directories.clear();
    }

    private void moveIntoPlace(Path temp, Path target, FileEntry entry) throws IOException {
        Files.move(temp, target, StandardCopyOption.ATOMIC_MOVE, StandardCopyOption.REPLACE_EXISTING);
        received.add(HexFormat.of().formatHex(entry.name()));
    }

    private static void symlink(FileEntry entry, Path temp) throws IOException {
        String text = new String(entry.link(), StandardCharsets.UTF_8);
        Path target;
        try {
            target = Path.of(text);
        } catch (java.nio.file.InvalidPathException e) {
            target = null;
        }
        if (target != null && Arrays.equals(PathBytes.of(target), entry.link())) {
            Files.createSymbolicLink(temp, target);
        } else {
            // a text Path would not keep (invalid UTF-8, doubled or trailing slashes): NUL-separated bytes on stdin
            byte[] input = new byte[entry.link().length + 1 + temp.toString().length() + 1];
            System.arraycopy(entry.link(), 0, input, 0, entry.link().length);
            byte[] name = temp.toString().getBytes(StandardCharsets.UTF_8);
            System.arraycopy(name, 0, input, entry.link().length + 1, name.length);
            run(input, "xargs", "-0", "ln", "-s", "-T", "--");
        }
    }

    /** Owner, mode and times of a node that must not be opened (FIFO, device, socket) or cannot be chmod'ed (link). */
    private static void applyToNode(FileEntry entry, Path temp) throws IOException {
        setOwner(temp, entry);
        if (entry.kind() != Kind.SYMLINK) {
            Files.setAttribute(temp, "unix:mode", entry.mode()); // chmod(2) by path: temp is the node just made
        }
        if (entry.kind() == Kind.SYMLINK && entry.atimeNanos() % 1000 == 0 && entry.mtimeNanos() % 1000 == 0) {
            setTimes(temp, entry); // Java sets a link's times with lutimes(3): exact when they are whole microseconds
        } else {
            run(null, "touch", "-h", "-a", "-d", "@" + seconds(entry.atimeSeconds(), entry.atimeNanos()), temp.toString());
            run(null, "touch", "-h", "-m", "-d", "@" + seconds(entry.mtimeSeconds(), entry.mtimeNanos()), temp.toString());
        }
    }

    private static void setOwner(Path path, FileEntry entry) throws IOException {
        Files.setAttribute(path, "unix:uid", entry.uid(), LinkOption.NOFOLLOW_LINKS); // lchown(2)
        Files.setAttribute(path, "unix:gid", entry.gid(), LinkOption.NOFOLLOW_LINKS);
    }

    private static void setTimes(Path path, FileEntry entry) throws IOException {
        Files.getFileAttributeView(path, BasicFileAttributeView.class, LinkOption.NOFOLLOW_LINKS).setTimes(
                FileTime.from(Instant.ofEpochSecond(entry.mtimeSeconds(), entry.mtimeNanos())),
                FileTime.from(Instant.ofEpochSecond(entry.atimeSeconds(), entry.atimeNanos())), null);
    }

    private static String seconds(long seconds, int nanos) {
        return BigDecimal.valueOf(seconds).add(BigDecimal.valueOf(nanos, 9)).toPlainString();
    }

    static long major(long rdev) {
        return ((rdev >>> 8) & 0xfff) | ((rdev >>> 32) & ~0xfffL);
    }

    static long minor(long rdev) {
        return (rdev & 0xff) | ((rdev >>> 12) & ~0xffL);
    }

    private static void run(byte[] stdin, String... command) throws IOException {
        Process process = new ProcessBuilder(command).redirectErrorStream(true).start();
        try (var in = process.getOutputStream()) {
            if (stdin != null) {
                in.write(stdin);
            }
        }
        try {
            if (!process.waitFor(TOOL_TIMEOUT_SECONDS, TimeUnit.SECONDS)) {
                process.destroyForcibly();
                throw new IOException(String.join(" ", command) + " did not finish");
            }
        } catch (InterruptedException e) {
            process.destroyForcibly();
            Thread.currentThread().interrupt();
            throw new IOException("interrupted while running " + command[0], e);
        }
        String output = new String(process.getInputStream().readAllBytes(), StandardCharsets.UTF_8).strip();
        if (process.exitValue() != 0) {
            throw new IOException(command[0] + " failed (exit " + process.exitValue() + "): " + output);
        }
    }

    /**
     * Creates {@code dir} and its missing parents below {@code root} one at a time, refusing (false) at the first
     * that exists as a link or as something other than a directory. {@link Files#createDirectories} would follow
     * a link planted in the session directory and create the rest of the path outside it.
     */
    static boolean createDirectoriesInside(Path root, Path dir) throws IOException {
        Path current = root;
        for (Path part : root.relativize(dir)) {
            current = current.resolve(part);
            if (!Files.exists(current, LinkOption.NOFOLLOW_LINKS)) {
                try {
                    Files.createDirectory(current);
                } catch (FileAlreadyExistsException raced) {
                    // checked below like any existing entry
                }
            }
            if (!Files.isDirectory(current, LinkOption.NOFOLLOW_LINKS)) {
                return false;
            }
        }
        return true;
    }
}
