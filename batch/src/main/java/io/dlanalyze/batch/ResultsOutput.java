package io.dlanalyze.batch;

import io.dlanalyze.trace.AtomicOutput;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/**
 * The files of the output directory: {@code findings.parquet}, {@code runs.parquet} and one summary
 * per {@link SummaryFormat}, in that order. The runs table is the state the next run compares
 * against, so it is written after the findings it refers to.
 */
public final class ResultsOutput {
  private ResultsOutput() {}

  /** The names of the output files, in the order they are written. */
  public static List<String> fileNames() {
    List<String> names = new ArrayList<>();
    names.add(ResultsTables.FINDINGS_FILE);
    names.add(ResultsTables.RUNS_FILE);
    for (SummaryFormat format : SummaryFormat.values()) {
      names.add(format.fileName());
    }
    return names;
  }

  /** Each output file's name and bytes, in the order they are written. */
  public static Map<String, byte[]> files(BatchResults results, String out) {
    Map<String, byte[]> files = new LinkedHashMap<>();
    files.put(ResultsTables.FINDINGS_FILE, ResultsTables.writeFindings(results.findings()));
    files.put(ResultsTables.RUNS_FILE, ResultsTables.writeRuns(results.runs()));
    for (SummaryFormat format : SummaryFormat.values()) {
      files.put(format.fileName(), format.render(results, out).getBytes(StandardCharsets.UTF_8));
    }
    return files;
  }

  /**
   * Writes every file into a local directory (created if missing), each atomically: a temporary
   * file beside the target, then a rename.
   */
  public static void writeLocal(Path directory, BatchResults results) throws IOException {
    writeLocal(directory, files(results, directory.toString()));
  }

  /** Writes {@code files} (name to bytes) into a local directory, in order, each atomically. */
  public static void writeLocal(Path directory, Map<String, byte[]> files) throws IOException {
    Files.createDirectories(directory);
    for (Map.Entry<String, byte[]> file : files.entrySet()) {
      AtomicOutput output = AtomicOutput.create(directory.resolve(file.getKey()));
      try {
        Files.write(output.temporary(), file.getValue());
        output.commit();
      } finally {
        output.abort();
      }
    }
  }
}
