package io.pmig.executor.transfer;

import java.io.IOException;

/**
 * Sessions a peer may open without this node announcing them first - a periodic checkpoint arrives whenever its
 * source takes one. The id is checked before authentication (it must cost nothing), the session opened after it.
 */
public interface SessionIntake {

    /** True if an unannounced session with this id may be opened once its peer authenticates. */
    boolean accepts(String sessionId);

    /** Opens the session (through {@link TransferServer#openSession}); the peer has proved it holds the key. */
    TransferSession open(String sessionId) throws IOException;
}
