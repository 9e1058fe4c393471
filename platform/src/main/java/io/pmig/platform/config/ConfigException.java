package io.pmig.platform.config;

/** A configuration value pmig cannot use; the message names the key so the operator knows what to fix. */
public final class ConfigException extends RuntimeException {

    private final String key;
    private final String problem;

    public ConfigException(String key, String problem) {
        super(key + ": " + problem);
        this.key = key;
        this.problem = problem;
    }

    public String key() {
        return key;
    }

    /** What is wrong, without the key: for a caller that names the value another way (a flag for a key). */
    public String problem() {
        return problem;
    }
}
