package io.dlanalyze.batch;

import java.io.IOException;
import java.io.InputStream;
import java.io.UncheckedIOException;
import java.util.Properties;

/**
 * The dl-analyze version this code was built as (from a resource Maven fills in, so it is the same
 * in the CLI's jar and in the Spark job's shaded jar).
 */
public final class BatchVersion {
  private static final String VERSION = load();

  private BatchVersion() {}

  public static String get() {
    return VERSION;
  }

  private static String load() {
    try (InputStream in = BatchVersion.class.getResourceAsStream("version.properties")) {
      if (in == null) {
        return "dev";
      }
      Properties properties = new Properties();
      properties.load(in);
      return properties.getProperty("version", "dev");
    } catch (IOException e) {
      throw new UncheckedIOException(e);
    }
  }
}
