package io.pmig.executor.criu;

import java.io.IOException;
import java.nio.charset.Charset;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;

/** A process's mount table as /proc/PID/mountinfo shows it, with paths decoded as the JVM passes them to criu. */
final class MountInfo {

    /** One mountinfo line: {@code device} is major:minor (one per superblock, so one per tmpfs instance). */
    record Mount(String device, String root, String mountPoint, String fsType, String source) {
    }

    /** How the JVM encodes command-line arguments: a path this cannot represent would reach criu mangled. */
    static final Charset ARGUMENTS = argumentEncoding();

    private MountInfo() {
    }

    /** /proc/PID/mountinfo, in mount order; empty if the process is gone. */
    static List<Mount> of(int pid) {
        String text;
        try {
            // decoded as the JVM encodes command lines: a path that survives this survives the trip to criu
            text = new String(Files.readAllBytes(Path.of("/proc", String.valueOf(pid), "mountinfo")), ARGUMENTS);
        } catch (IOException e) {
            return List.of();
        }
        List<Mount> mounts = new ArrayList<>();
        for (String line : text.lines().toList()) {
            String[] f = line.split(" ");
            int separator = line.indexOf(" - ");
            if (f.length < 7 || separator < 0) {
                continue;
            }
            String[] fs = line.substring(separator + 3).split(" ");
            mounts.add(new Mount(f[2], unescape(f[3]), unescape(f[4]), fs[0], fs.length > 1 ? unescape(fs[1]) : ""));
        }
        return mounts;
    }

    /** The mount table of this process: the node's, as criu (started by this executor) sees it. */
    static List<Mount> ofThisProcess() {
        return of((int) ProcessHandle.current().pid());
    }

    /** Characters the JVM could not decode from /proc: such a path would reach criu mangled. */
    static boolean unnamed(String path) {
        return path.indexOf('\uFFFD') >= 0;
    }

    /** Undoes mountinfo's octal escapes of space, tab, newline and backslash. */
    private static String unescape(String field) {
        StringBuilder out = new StringBuilder(field.length());
        for (int i = 0; i < field.length(); i++) {
            char c = field.charAt(i);
            if (c == '\\' && isOctal(field, i + 1)) {
                out.append((char) Integer.parseInt(field.substring(i + 1, i + 4), 8));
                i += 3;
            } else {
                out.append(c);
            }
        }
        return out.toString();
    }

    private static boolean isOctal(String s, int from) {
        for (int i = from; i < from + 3; i++) {
            if (i >= s.length() || s.charAt(i) < '0' || s.charAt(i) > '7') {
                return false;
            }
        }
        return true;
    }

    private static Charset argumentEncoding() {
        try {
            return Charset.forName(System.getProperty("sun.jnu.encoding"));
        } catch (IllegalArgumentException | NullPointerException e) {
            return Charset.defaultCharset();
        }
    }
}
