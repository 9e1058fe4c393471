package io.pmig.executor.transfer;

import java.io.DataInputStream;
import java.io.DataOutputStream;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.LinkOption;
import java.nio.file.Path;
import java.nio.file.attribute.FileTime;
import java.time.Instant;
import java.util.HexFormat;
import java.util.Map;

/**
 * One entry of a transferred tree as it travels: its name (bytes, as Linux stores it), its kind, and everything
 * criu or the workload may check on it - mode with the setuid/setgid/sticky bits, owner, access and modification
 * times to the nanosecond - plus what makes each kind itself: a file's size, a link's target text, a device
 * node's number, or for a further hard link the name of the entry it shares its inode with.
 */
record FileEntry(byte[] name, Kind kind, int mode, int uid, int gid, long atimeSeconds, int atimeNanos,
                 long mtimeSeconds, int mtimeNanos, long size, long rdev, byte[] link) {

    /** Longest name or link target accepted (Linux's PATH_MAX). */
    static final int MAX_NAME_BYTES = 4096;
    static final int MAX_COMPONENT_BYTES = 255;

    enum Kind {
        FILE('f'), DIRECTORY('d'), SYMLINK('l'), FIFO('p'), CHAR_DEVICE('c'), BLOCK_DEVICE('b'), SOCKET('s'),
        /** A further name of an inode sent earlier in the session under {@link #link()}. */
        HARD_LINK('h');

        final char code;

        Kind(char code) {
            this.code = code;
        }

        static Kind of(int code) {
            for (Kind kind : values()) {
                if (kind.code == code) {
                    return kind;
                }
            }
            return null;
        }
    }

    /** A frame that is not a well-formed entry; the session ends with the reason. */
    static final class Malformed extends Exception {
        Malformed(String message) {
            super(message);
        }
    }

    /**
     * Describes {@code file} (never following a link) under {@code name}. {@code inodes} remembers the first name
     * of every inode with more than one link, so later names of it travel as {@link Kind#HARD_LINK}.
     */
    static FileEntry describe(Path file, byte[] name, Map<String, byte[]> inodes) throws IOException {
        Map<String, Object> a = Files.readAttributes(file, "unix:mode,uid,gid,size,rdev,ino,dev,nlink,lastAccessTime,lastModifiedTime",
                LinkOption.NOFOLLOW_LINKS);
        int st = (Integer) a.get("mode");
        Kind kind = switch (st & 0170000) {
            case 0100000 -> Kind.FILE;
            case 0040000 -> Kind.DIRECTORY;
            case 0120000 -> Kind.SYMLINK;
            case 0010000 -> Kind.FIFO;
            case 0020000 -> Kind.CHAR_DEVICE;
            case 0060000 -> Kind.BLOCK_DEVICE;
            case 0140000 -> Kind.SOCKET;
            default -> throw new IOException(file + " is of unknown type " + Integer.toOctalString(st));
        };
        byte[] link = new byte[0];
        if (kind != Kind.DIRECTORY && (Integer) a.get("nlink") > 1) {
            byte[] first = inodes.putIfAbsent(a.get("dev") + ":" + a.get("ino"), name);
            if (first != null) {
                kind = Kind.HARD_LINK;
                link = first;
            }
        }
        if (kind == Kind.SYMLINK) {
            link = PathBytes.of(Files.readSymbolicLink(file));
        }
        Instant atime = ((FileTime) a.get("lastAccessTime")).toInstant();
        Instant mtime = ((FileTime) a.get("lastModifiedTime")).toInstant();
        return new FileEntry(name, kind, st & 07777, (Integer) a.get("uid"), (Integer) a.get("gid"),
                atime.getEpochSecond(), atime.getNano(), mtime.getEpochSecond(), mtime.getNano(),
                kind == Kind.FILE ? (Long) a.get("size") : 0,
                kind == Kind.CHAR_DEVICE || kind == Kind.BLOCK_DEVICE ? (Long) a.get("rdev") : 0, link);
    }

    /** Everything but a file's bytes, checksum and the MAC, which follow it on the wire. */
    void write(DataOutputStream out) throws IOException {
        out.writeUTF(TransferProtocol.ENTRY);
        out.writeByte(kind.code);
        writeBytes(out, name);
        out.writeInt(mode);
        out.writeInt(uid);
        out.writeInt(gid);
        out.writeLong(atimeSeconds);
        out.writeInt(atimeNanos);
        out.writeLong(mtimeSeconds);
        out.writeInt(mtimeNanos);
        switch (kind) {
            case FILE -> out.writeLong(size);
            case SYMLINK, HARD_LINK -> writeBytes(out, link);
            case CHAR_DEVICE, BLOCK_DEVICE -> out.writeLong(rdev);
            default -> {
                // nothing more defines a directory, FIFO or socket
            }
        }
    }

    /** Reads what {@link #write} wrote after {@link TransferProtocol#ENTRY}, bounding every length first. */
    static FileEntry read(DataInputStream in) throws IOException, Malformed {
        Kind kind = Kind.of(in.readUnsignedByte());
        if (kind == null) {
            throw new Malformed("unknown entry kind");
        }
        byte[] name = readBytes(in, "name");
        int mode = in.readInt();
        int uid = in.readInt();
        int gid = in.readInt();
        long atimeSeconds = in.readLong();
        int atimeNanos = in.readInt();
        long mtimeSeconds = in.readLong();
        int mtimeNanos = in.readInt();
        if ((mode & ~07777) != 0 || atimeNanos < 0 || atimeNanos > 999_999_999 || mtimeNanos < 0 || mtimeNanos > 999_999_999) {
            throw new Malformed("bad mode or time in entry " + printable(name));
        }
        long size = kind == Kind.FILE ? in.readLong() : 0;
        byte[] link = kind == Kind.SYMLINK || kind == Kind.HARD_LINK ? readBytes(in, "link") : new byte[0];
        long rdev = kind == Kind.CHAR_DEVICE || kind == Kind.BLOCK_DEVICE ? in.readLong() : 0;
        if (kind == Kind.SYMLINK && (link.length == 0 || indexOf(link, (byte) 0) >= 0)) {
            throw new Malformed("bad link target in entry " + printable(name));
        }
        return new FileEntry(name, kind, mode, uid, gid, atimeSeconds, atimeNanos, mtimeSeconds, mtimeNanos, size, rdev, link);
    }

    /** What the entry's MAC covers: every field, names in hex, so no byte of a name can forge a separator. */
    String macMessage(long seq, String sha256) {
        HexFormat hex = HexFormat.of();
        return "entry|" + seq + "|" + kind.code + "|" + hex.formatHex(name) + "|" + mode + "|" + uid + "|" + gid
                + "|" + atimeSeconds + "." + atimeNanos + "|" + mtimeSeconds + "." + mtimeNanos + "|" + size + "|" + rdev
                + "|" + hex.formatHex(link) + "|" + sha256;
    }

    /** The name for log lines and refusals: control characters shown as escapes. */
    static String printable(byte[] name) {
        StringBuilder text = new StringBuilder();
        new String(name, StandardCharsets.UTF_8).codePoints().forEach(c -> {
            if (c < 0x20 || c == 0x7f || c == '\\') {
                text.append(String.format("\\x%02x", c));
            } else {
                text.appendCodePoint(c);
            }
        });
        return text.toString();
    }

    static int indexOf(byte[] bytes, byte b) {
        for (int i = 0; i < bytes.length; i++) {
            if (bytes[i] == b) {
                return i;
            }
        }
        return -1;
    }

    private static void writeBytes(DataOutputStream out, byte[] bytes) throws IOException {
        out.writeShort(bytes.length);
        out.write(bytes);
    }

    private static byte[] readBytes(DataInputStream in, String what) throws IOException, Malformed {
        int length = in.readUnsignedShort();
        if (length == 0 || length > MAX_NAME_BYTES) {
            throw new Malformed("entry " + what + " of " + length + " bytes");
        }
        byte[] bytes = new byte[length];
        in.readFully(bytes);
        return bytes;
    }
}
