package io.pmig.executor.transfer;

import java.nio.charset.StandardCharsets;
import java.security.GeneralSecurityException;
import java.security.MessageDigest;
import java.util.HexFormat;
import javax.crypto.Mac;
import javax.crypto.spec.SecretKeySpec;

/**
 * Per-migration keys derived from the cluster's shared secret. Restoring a CRIU image runs its code as root,
 * so only a peer that holds the secret may upload images, and only for the migration the destination opened:
 * the key for migration M is HMAC(secret, "pmig-migration|" + M); each connection proves it holds that key
 * by answering a fresh challenge, and every file's name, size and SHA-256 are MACed with it.
 */
public final class TransferCredentials {

    private final byte[] sharedSecret;

    public TransferCredentials(byte[] sharedSecret) {
        if (sharedSecret == null || sharedSecret.length < 16) {
            throw new IllegalArgumentException("the transfer secret must be at least 16 bytes");
        }
        this.sharedSecret = sharedSecret.clone();
    }

    public byte[] migrationKey(String migrationId) {
        return hmac(sharedSecret, "pmig-migration|" + migrationId);
    }

    static byte[] hmac(byte[] key, String message) {
        try {
            Mac mac = Mac.getInstance("HmacSHA256");
            mac.init(new SecretKeySpec(key, "HmacSHA256"));
            return mac.doFinal(message.getBytes(StandardCharsets.UTF_8));
        } catch (GeneralSecurityException e) {
            throw new IllegalStateException("HmacSHA256 unavailable", e);
        }
    }

    static String hmacHex(byte[] key, String message) {
        return HexFormat.of().formatHex(hmac(key, message));
    }

    /** Constant-time comparison, so a wrong answer reveals nothing about the right one. */
    static boolean matches(String expectedHex, String actualHex) {
        return MessageDigest.isEqual(expectedHex.getBytes(StandardCharsets.US_ASCII),
                actualHex.getBytes(StandardCharsets.US_ASCII));
    }

    /** A MAC of {@code value} under migration M's key: proves a reply came from a holder of the cluster secret. */
    public String sign(String migrationId, String value) {
        return hmacHex(migrationKey(migrationId), "pmig-reply|" + value);
    }

    public boolean verify(String migrationId, String value, String mac) {
        return mac != null && matches(sign(migrationId, value), mac);
    }
}
