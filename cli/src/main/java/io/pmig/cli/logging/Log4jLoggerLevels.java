package io.pmig.cli.logging;

import io.pmig.platform.logging.LoggerLevels;
import org.apache.logging.log4j.Level;
import org.apache.logging.log4j.core.config.Configurator;

/** {@link LoggerLevels} for the backend pmig.jar ships: log4j 2, configured by {@code log4j2.xml}. */
public final class Log4jLoggerLevels implements LoggerLevels {

    @Override
    public void errorsOnly(String name) {
        Configurator.setLevel(name, Level.ERROR);
    }
}
