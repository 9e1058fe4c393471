package io.pmig.executor.criu;

import java.io.IOException;
import java.io.InputStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.nio.file.attribute.PosixFilePermissions;
import java.security.GeneralSecurityException;
import java.security.KeyStore;
import java.security.PrivateKey;
import java.security.cert.Certificate;
import java.util.Base64;
import java.util.List;
import java.util.Map;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.TimeUnit;

/**
 * This node's TLS key and self-signed certificate for criu's page-server and lazy-pages connections, which carry
 * a workload's memory. Peers do not trust a CA: each migration exchanges the two nodes' certificates over the
 * authenticated transfer connection (MACed with the migration's key), and each criu trusts exactly its peer's
 * certificate ({@code --tls-cacert}). criu then also refuses an unauthenticated connection to the page port.
 *
 * <p>Made once per work dir with the JDK's keytool (no extra library); RSA, because criu's GnuTLS refused the
 * EC key keytool writes ("ASN1 parser: Element was not found", measured with criu 4.2.1).
 */
public final class TlsIdentity {

    private static final String PASSWORD = "pmig-node-key"; // protects nothing: the key file itself is 0600 in the work dir

    private final Path cert;
    private final Path key;

    private TlsIdentity(Path cert, Path key) {
        this.cert = cert;
        this.key = key;
    }

    /** One lock per work dir: the nodes of one JVM (demo, tests) make their keys side by side. */
    private static final Map<Path, Object> MAKING = new ConcurrentHashMap<>();

    /** The identity kept in {@code dir}, made there on first use (the executor asks at start). */
    public static TlsIdentity in(Path dir) throws CriuException {
        synchronized (MAKING.computeIfAbsent(dir.toAbsolutePath().normalize(), d -> new Object())) {
            return inLocked(dir);
        }
    }

    private static TlsIdentity inLocked(Path dir) throws CriuException {
        Path cert = dir.resolve("cert.pem");
        Path key = dir.resolve("key.pem");
        if (Files.isRegularFile(cert) && Files.isRegularFile(key)) {
            return new TlsIdentity(cert, key);
        }
        try {
            Files.createDirectories(dir);
            Path store = dir.resolve("identity.p12");
            Files.deleteIfExists(store);
            Path keytool = Path.of(System.getProperty("java.home"), "bin", "keytool");
            Process p = new ProcessBuilder(List.of(keytool.toString(), "-genkeypair", "-alias", "pmig",
                    "-keyalg", "RSA", "-keysize", "2048", "-dname", "CN=pmig-node", "-validity", "36500",
                    "-ext", "bc:c", "-keystore", store.toString(), "-storetype", "PKCS12",
                    "-storepass", PASSWORD, "-keypass", PASSWORD))
                    .redirectErrorStream(true).start();
            String output = new String(p.getInputStream().readAllBytes(), StandardCharsets.UTF_8).strip();
            if (!p.waitFor(2, TimeUnit.MINUTES) || p.exitValue() != 0) {
                p.destroyForcibly();
                throw new CriuException("keytool could not make this node's TLS key in " + dir + ": " + output);
            }
            KeyStore ks = KeyStore.getInstance("PKCS12");
            try (InputStream in = Files.newInputStream(store)) {
                ks.load(in, PASSWORD.toCharArray());
            }
            PrivateKey privateKey = (PrivateKey) ks.getKey("pmig", PASSWORD.toCharArray());
            Certificate certificate = ks.getCertificate("pmig");
            writeAtomically(key, pem("PRIVATE KEY", privateKey.getEncoded()), true);
            writeAtomically(cert, pem("CERTIFICATE", certificate.getEncoded()), false);
            Files.delete(store);
            return new TlsIdentity(cert, key);
        } catch (IOException | GeneralSecurityException e) {
            throw new CriuException("cannot make this node's TLS key in " + dir + ": " + e.getMessage(), e);
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            throw new CriuException("interrupted while making the TLS key", e);
        }
    }

    /** The certificate in PEM, as sent to a peer. */
    public String certificatePem() throws IOException {
        return Files.readString(cert, StandardCharsets.US_ASCII);
    }

    /** criu's options for a connection to (or from) the peer whose certificate is in {@code peerCert}. */
    public List<String> criuOptions(Path peerCert) {
        // no host-name check: the peer is pinned by its exact certificate, and nodes are addressed by IP
        return List.of("--tls", "--tls-cacert", peerCert.toAbsolutePath().toString(),
                "--tls-cert", cert.toAbsolutePath().toString(), "--tls-key", key.toAbsolutePath().toString(),
                "--tls-no-cn-verify");
    }

    /** Writes a peer's certificate where criu can read it; refuses anything that is not one PEM certificate. */
    public static Path writePeerCertificate(String pem, Path file) throws IOException {
        String trimmed = pem.strip();
        if (!trimmed.startsWith("-----BEGIN CERTIFICATE-----") || !trimmed.endsWith("-----END CERTIFICATE-----")
                || trimmed.indexOf("-----BEGIN", 1) >= 0 || trimmed.length() > 16_384) {
            throw new IOException("the peer sent no usable TLS certificate");
        }
        writeAtomically(file, trimmed + "\n", false);
        return file;
    }

    private static String pem(String type, byte[] der) {
        return "-----BEGIN " + type + "-----\n" + Base64.getMimeEncoder(64, "\n".getBytes(StandardCharsets.US_ASCII))
                .encodeToString(der) + "\n-----END " + type + "-----\n";
    }

    private static void writeAtomically(Path file, String text, boolean secret) throws IOException {
        Path tmp = file.resolveSibling(file.getFileName() + ".tmp");
        Files.deleteIfExists(tmp);
        Files.createFile(tmp, PosixFilePermissions.asFileAttribute(PosixFilePermissions.fromString(secret ? "rw-------" : "rw-r--r--")));
        Files.writeString(tmp, text, StandardCharsets.US_ASCII);
        Files.move(tmp, file, StandardCopyOption.ATOMIC_MOVE, StandardCopyOption.REPLACE_EXISTING);
    }
}
