package io.dlanalyze.spark;

import java.io.Serializable;
import java.util.LinkedHashMap;
import java.util.Map;
import org.apache.hadoop.conf.Configuration;

/**
 * The driver's Hadoop configuration as plain strings, so tasks open file systems with the same
 * settings ({@code spark.hadoop.*}, S3A credentials providers, HDFS name nodes). Broadcast once per
 * job.
 */
final class SerializableConfiguration implements Serializable {
  private static final long serialVersionUID = 1L;

  private final LinkedHashMap<String, String> values = new LinkedHashMap<>();

  SerializableConfiguration(Configuration conf) {
    for (Map.Entry<String, String> entry : conf) {
      values.put(entry.getKey(), entry.getValue());
    }
  }

  Configuration toConfiguration() {
    Configuration conf = new Configuration(false);
    for (Map.Entry<String, String> entry : values.entrySet()) {
      conf.set(entry.getKey(), entry.getValue());
    }
    return conf;
  }
}
