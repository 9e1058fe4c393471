package io.pmig.cli;

import java.util.List;

/**
 * pmig subcommands shipped in a jar of their own, so that what the nodes run carries none of them: the tools jar
 * (benchmarks, chaos) registers one in {@code META-INF/services/io.pmig.cli.CommandPlugin}, and {@code pmig} lists its
 * commands when that jar is on the class path (bin/pmig puts it there when it was built).
 */
public interface CommandPlugin {

    /** picocli {@code @Command} classes, added after the built-in commands in this order. */
    List<Class<?>> commands();
}
