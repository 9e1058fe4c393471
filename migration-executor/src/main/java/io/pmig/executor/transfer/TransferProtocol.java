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
 * <li>any number of {@code FILE path size mode <bytes> sha256 mac} and {@code DIR path mode mac} (each answered
 *     {@code OK} or {@code ERR why}; directories travel too, since a workload's empty cwd must exist to restore)
 *     and {@code CONTROL verb args mac} (answered {@code OK reply} or {@code ERR why}),</li>
 * <li>{@code END}, answered {@code BYE}.</li>
 * </ol>
 * Every MAC covers a per-connection sequence number, so nothing can be replayed or reordered inside a session.
 */
final class TransferProtocol {

    static final String MAGIC = "PMIG-TRANSFER/1";
    static final String CHALLENGE = "CHALLENGE";
    static final String OK = "OK";
    static final String ERR = "ERR";
    static final String FILE = "FILE";
    static final String DIR = "DIR";
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

    static String fileMessage(long seq, String path, long size, int mode, String sha256) {
        return "file|" + seq + "|" + path + "|" + size + "|" + mode + "|" + sha256;
    }

    static String dirMessage(long seq, String path, int mode) {
        return "dir|" + seq + "|" + path + "|" + mode;
    }

    static String controlMessage(long seq, String verb, Map<String, String> args) {
        StringBuilder text = new StringBuilder("control|").append(seq).append('|').append(verb);
        new TreeMap<>(args).forEach((k, v) -> text.append('|').append(k).append('=').append(v));
        return text.toString();
    }
}
