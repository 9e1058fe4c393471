package io.pmig.executor.transfer;

import java.security.SecureRandom;
import java.util.HexFormat;
import java.util.Map;
import java.util.TreeMap;

/**
 * The wire protocol of a transfer session, in the order things happen (all strings are DataOutput UTF):
 * <ol>
 * <li>source: {@code MAGIC, migrationId, sourceNonce}; destination: {@code CHALLENGE, destNonce} or {@code ERR, why}.</li>
 * <li>source: {@code mac("auth")}; destination: {@code OK, mac("server")} (so the source also knows it talks to a
 *     holder of the secret) or {@code ERR, why}. The session is now spent: no other connection is accepted for it.</li>
 * <li>any number of {@code ENTRY} frames, one per file, directory, symlink, FIFO, device node, socket or further
 *     hard link, each answered {@code OK} or {@code ERR why} ({@link FileEntry#write} has the layout: name bytes,
 *     kind, mode, uid, gid, times, then the kind's own size, link text or device number; a file's bytes and SHA-256
 *     follow; a MAC over all of it closes the frame). Directories get their own mode, owner and times when the
 *     first {@code CONTROL} or {@code END} follows, after everything inside them was written;</li>
 * <li>any number of {@code CONTROL verb args mac} (answered {@code OK reply} or {@code ERR why}),</li>
 * <li>{@code END}, answered {@code BYE}.</li>
 * </ol>
 * Every MAC covers a per-connection sequence number, so nothing can be replayed or reordered inside a session.
 */
final class TransferProtocol {

    /** The version is part of the magic: a peer speaking another version is refused with both named. */
    static final String MAGIC = "PMIG-TRANSFER/2";
    static final String MAGIC_PREFIX = "PMIG-TRANSFER/";
    static final String CHALLENGE = "CHALLENGE";
    static final String OK = "OK";
    static final String ERR = "ERR";
    static final String ENTRY = "ENTRY";
    static final String CONTROL = "CONTROL";
    static final String END = "END";
    static final String BYE = "BYE";
    static final int BUFFER_BYTES = 1 << 20;

    private static final SecureRandom RANDOM = new SecureRandom();

    private TransferProtocol() {
    }

    static String nonce() {
        byte[] bytes = new byte[16];
        RANDOM.nextBytes(bytes);
        return HexFormat.of().formatHex(bytes);
    }

    static String authMessage(String migrationId, String sourceNonce, String destNonce) {
        return "auth|" + migrationId + "|" + sourceNonce + "|" + destNonce;
    }

    static String serverMessage(String migrationId, String sourceNonce, String destNonce) {
        return "server|" + migrationId + "|" + sourceNonce + "|" + destNonce;
    }

    static String controlMessage(long seq, String verb, Map<String, String> args) {
        StringBuilder text = new StringBuilder("control|").append(seq).append('|').append(verb);
        new TreeMap<>(args).forEach((k, v) -> text.append('|').append(k).append('=').append(v));
        return text.toString();
    }
}
