package io.pmig.platform.config;

/** A configuration value pmig cannot use; the message names the key so the operator knows what to fix. */
public final class ConfigException extends RuntimeException {

    private final String key;

    public ConfigException(String key, String problem) {
        super(key + ": " + problem);
        this.key = key;
    }

    public String key() {
        return key;
    }
}
