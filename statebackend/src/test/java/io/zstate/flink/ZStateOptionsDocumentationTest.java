package io.zstate.flink;

import static org.assertj.core.api.Assertions.assertThat;

import java.lang.reflect.Field;
import java.lang.reflect.Modifier;
import java.nio.file.Files;
import java.nio.file.Path;
import org.apache.flink.configuration.ConfigOption;
import org.junit.jupiter.api.Test;

/** The user guide's configuration table and conf/ files name every option with its default. */
class ZStateOptionsDocumentationTest {

    @Test
    void everyOptionIsDocumentedWithItsDefault() throws Exception {
        String guide = Files.readString(Path.of("..", "docs", "user-guide.md"));
        String embedded = Files.readString(Path.of("..", "conf", "flink-conf-embedded.yaml"));
        int options = 0;
        for (Field field : ZStateOptions.class.getFields()) {
            if (!Modifier.isStatic(field.getModifiers()) || field.getType() != ConfigOption.class) {
                continue;
            }
            ConfigOption<?> option = (ConfigOption<?>) field.get(null);
            options++;
            String expectedDefault = option.hasDefaultValue()
                    ? "`" + option.defaultValue().toString().replace(" ", "") + "`"
                    : "(none)";
            assertThat(guide).as("user guide row of %s", option.key())
                    .contains("| `" + option.key() + "` | " + expectedDefault + " |");
            assertThat(embedded).as("conf/flink-conf-embedded.yaml mentions %s", option.key())
                    .contains(option.key());
        }
        assertThat(options).as("options found (the test reads them all)").isEqualTo(22);
    }
}
