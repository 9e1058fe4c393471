package io.pmig.executor.criu;

/** Where a criu page server (or a lazy dump's page source) listens. */
public record PageServerAddress(String host, int port) {

    @Override
    public String toString() {
        return host + ":" + port;
    }
}
