package io.pmig.executor.transfer;

import java.util.Map;

/** The destination's side of a migration: answers the control requests the source sends after the files. */
@FunctionalInterface
public interface SessionHandler {

    /** @return the reply sent back to the source; an exception becomes an error reply with its message */
    String onControl(String verb, Map<String, String> args) throws Exception;
}
