package io.dlanalyze.trace.fuzz;

import io.dlanalyze.trace.HostileTraces;
import io.dlanalyze.trace.TestTraces;
import io.dlanalyze.trace.TraceBatch;
import io.dlanalyze.trace.TraceDictionary;
import io.dlanalyze.trace.TraceMetadata;
import io.dlanalyze.trace.WriteOptions;
import io.dlanalyze.trace.synthetic.Fault;
import io.dlanalyze.trace.synthetic.SyntheticTrace;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;

/**
 * Writes the valid seeds of the fuzz tests' inputs directories with dl-analyze's own writers: a
 * small synthetic trace with a NaN fault, and a trace of hostile names and values (nulls in every
 * nullable column, an unknown phase), each in a few row groups or record batches. The pyarrow
 * fixtures of {@code fixtures/pyarrow} are copied in as the foreign seeds.
 *
 * <pre>{@code
 * java -cp <test class path> io.dlanalyze.trace.fuzz.WriteSeeds src/test/resources/io/dlanalyze/trace/fuzz
 * }</pre>
 */
final class WriteSeeds {
  private WriteSeeds() {}

  public static void main(String[] args) throws IOException {
    Path root = Path.of(args[0]);
    Path tmp = Files.createTempDirectory("seeds");
    SyntheticTrace small =
        SyntheticTrace.builder().layers(2).steps(4).stepsPerEpoch(2).fault(Fault.nan(1, 2)).build();
    for (String ext : new String[] {"parquet", "arrow", "arrows", "csv"}) {
      Path synthetic = tmp.resolve("synthetic." + ext);
      TestTraces.write(synthetic, small, WriteOptions.defaults().withRowGroupRows(20));
      Path hostile = tmp.resolve("hostile." + ext);
      TraceDictionary dictionary = new TraceDictionary();
      TraceBatch batch = HostileTraces.batch(dictionary, 1);
      TestTraces.write(
          hostile, TraceMetadata.empty(), WriteOptions.defaults().withRowGroupRows(11), batch);
      String dir =
          switch (ext) {
            case "parquet" -> "ParquetFuzzTestInputs";
            case "arrow" -> "ArrowFileFuzzTestInputs";
            case "arrows" -> "ArrowStreamFuzzTestInputs";
            default -> "CsvFuzzTestInputs";
          };
      Path out = root.resolve(dir).resolve("fuzz");
      Files.createDirectories(out);
      for (Path file : new Path[] {synthetic, hostile}) {
        String name = file.getFileName().toString().replace("." + ext, "");
        byte[] bytes = Files.readAllBytes(file);
        if (ext.equals("csv")) {
          Path sidecar = file.resolveSibling(file.getFileName() + ".meta.json");
          bytes = CsvFormat.join(Files.readAllBytes(sidecar), bytes);
        }
        Files.write(out.resolve("seed-" + name), bytes);
      }
    }
  }
}
