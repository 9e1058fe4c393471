package io.pmig.cli.inspect;

import static org.junit.jupiter.api.Assertions.assertEquals;

import io.pmig.platform.inspect.PmigMessageFormatter;
import java.util.Collections;
import java.util.List;
import org.junit.jupiter.api.Test;

class ConsoleConsumerArgumentsTest {

    /** {@code --bootstrap-server=HOST:PORT} got a second, default bootstrap server added and the stock tool died. */
    @Test
    void flagsWithAnEqualsSignAreSeenAndPassedAsTheStockToolTakesThem() {
        List<String> args = ConsoleConsumerCommand.stockArguments(
                List.of("--bootstrap-server=10.0.0.1:9092", "--topic", "pmig.events", "--formatter-property", "print.offset=true"));
        assertEquals(1, Collections.frequency(args, "--bootstrap-server"), args.toString());
        assertEquals("10.0.0.1:9092", args.get(args.indexOf("--bootstrap-server") + 1));
        assertEquals("print.offset=true", args.get(args.indexOf("--formatter-property") + 1), "values keep their '='");
        assertEquals(PmigMessageFormatter.class.getName(), args.get(args.indexOf("--formatter") + 1));

        List<String> defaults = ConsoleConsumerCommand.stockArguments(List.of("--topic", "pmig.events"));
        assertEquals("127.0.0.1:9092", defaults.get(defaults.indexOf("--bootstrap-server") + 1));
    }

    /** An aborted COMPLETED (a commit that was fenced) must not print as if it happened: read_committed unless asked. */
    @Test
    void readsCommittedRecordsUnlessTheUserChoosesOtherwise() {
        List<String> defaults = ConsoleConsumerCommand.stockArguments(List.of("--topic", "pmig.events"));
        assertEquals("read_committed", defaults.get(defaults.indexOf("--isolation-level") + 1));

        List<String> chosen = ConsoleConsumerCommand.stockArguments(List.of("--topic", "pmig.events", "--isolation-level=read_uncommitted"));
        assertEquals(1, Collections.frequency(chosen, "--isolation-level"), chosen.toString());
        assertEquals("read_uncommitted", chosen.get(chosen.indexOf("--isolation-level") + 1));

        List<String> property = ConsoleConsumerCommand.stockArguments(
                List.of("--topic", "pmig.events", "--consumer-property", "isolation.level=read_uncommitted"));
        assertEquals(0, Collections.frequency(property, "--isolation-level"), property.toString());
    }
}
