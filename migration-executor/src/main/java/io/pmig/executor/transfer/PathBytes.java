package io.pmig.executor.transfer;

import java.io.ByteArrayOutputStream;
import java.net.URI;
import java.nio.file.Path;

/**
 * File names as the bytes Linux stores, which may be any byte but '/' and NUL - not only valid UTF-8. A
 * {@link Path} keeps those bytes, but its {@code toString} does not, so names cross the wire as bytes and are
 * turned back into paths through {@code file:} URIs, the one public API that is exact both ways.
 */
final class PathBytes {

    /** A base that must not exist: {@code toUri} appends '/' to the names of existing directories. */
    private static final String BASE = "/.pmig-no-such-directory-4f1c0e";
    private static final byte[] HEX = "0123456789ABCDEF".getBytes(java.nio.charset.StandardCharsets.US_ASCII);

    private PathBytes() {
    }

    /** The exact bytes of a relative or absolute path, as written (redundant slashes and all). */
    static byte[] of(Path path) {
        String text = path.toString();
        if (text.isEmpty()) {
            return new byte[0];
        }
        int slashes = 0;
        while (slashes < text.length() && text.charAt(slashes) == '/') {
            slashes++;
        }
        if (path.getNameCount() == 0) {
            return "/".repeat(slashes).getBytes(java.nio.charset.StandardCharsets.US_ASCII);
        }
        Path relative = slashes > 0 ? path.subpath(0, path.getNameCount()) : path;
        byte[] rest = decode(Path.of(BASE).resolve(relative).toUri().getRawPath().substring(BASE.length() + 1));
        if (slashes == 0) {
            return rest;
        }
        byte[] all = new byte[slashes + rest.length];
        java.util.Arrays.fill(all, 0, slashes, (byte) '/');
        System.arraycopy(rest, 0, all, slashes, rest.length);
        return all;
    }

    /** The relative path a checked name (no empty, '.' or '..' component, no NUL) denotes. */
    static Path relative(byte[] name) {
        Path absolute = Path.of(URI.create("file://" + BASE + "/" + encode(name)));
        return absolute.subpath(1, absolute.getNameCount());
    }

    private static String encode(byte[] bytes) {
        StringBuilder text = new StringBuilder(bytes.length * 3);
        for (byte b : bytes) {
            if (b >= 'a' && b <= 'z' || b >= 'A' && b <= 'Z' || b >= '0' && b <= '9' || b == '/' || b == '-' || b == '_' || b == '.') {
                text.append((char) b);
            } else {
                text.append('%').append((char) HEX[(b >> 4) & 0xf]).append((char) HEX[b & 0xf]);
            }
        }
        return text.toString();
    }

    private static byte[] decode(String raw) {
        ByteArrayOutputStream bytes = new ByteArrayOutputStream(raw.length());
        for (int i = 0; i < raw.length(); i++) {
            char c = raw.charAt(i);
            if (c == '%') {
                bytes.write(Integer.parseInt(raw, i + 1, i + 3, 16));
                i += 2;
            } else {
                bytes.write(c);
            }
        }
        return bytes.toByteArray();
    }
}
