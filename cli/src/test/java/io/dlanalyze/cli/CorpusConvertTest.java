package io.dlanalyze.cli;

import static org.assertj.core.api.Assertions.assertThat;

import io.dlanalyze.trace.ReadOptions;
import io.dlanalyze.trace.TraceMetadata;
import io.dlanalyze.trace.TraceReader;
import io.dlanalyze.trace.TraceReaders;
import java.nio.file.Path;
import java.util.List;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * {@code corpus/regenerate.py}'s conversion of a recorded Arrow stream to the corpus' Parquet keeps
 * the keys the recorder writes only at the end, on the stream's last record batch: a run without
 * {@code zero_grad()} recorded with the PyTorch recorder, converted, and read back here.
 */
class CorpusConvertTest {
  @TempDir Path dir;

  @BeforeAll
  static void needsTorch() {
    Python.requireFrameworks();
  }

  @Test
  void convertedTrace_keepsTheCountsWrittenAtTheEnd() throws Exception {
    Path stream = dir.resolve("run.arrows");
    Path parquet = dir.resolve("run.parquet");
    String script =
        String.join(
            "\n",
            "import sys, torch",
            "sys.path[:0] = ['recorders', 'corpus']",
            "import dltrace.pytorch as dltrace",
            "import regenerate",
            "torch.manual_seed(0)",
            "model = torch.nn.Sequential(torch.nn.Linear(4, 8), torch.nn.ReLU(),"
                + " torch.nn.Linear(8, 2))",
            "opt = torch.optim.SGD(model.parameters(), lr=0.01)",
            "x, y = torch.randn(16, 4), torch.randint(0, 2, (16,))",
            "rec = dltrace.attach(model, sys.argv[1], optimizer=opt)",
            "for _ in range(6):",
            "    loss = torch.nn.functional.cross_entropy(model(x), y)",
            "    loss.backward()  # never zeroed",
            "    opt.step()",
            "    rec.step(loss)",
            "rec.close()",
            "regenerate.convert(sys.argv[1], sys.argv[2], 'pyarrow')");
    Python.Result result =
        Python.run(
            List.of(Python.interpreter(), "-c", script, stream.toString(), parquet.toString()),
            Python.repoRoot(),
            300);
    assertThat(result.exitCode()).as(result.output()).isZero();

    try (TraceReader reader = TraceReaders.open(parquet, ReadOptions.all())) {
      TraceMetadata metadata = reader.metadata();
      assertThat(metadata.updates()).hasValue(5);
      assertThat(metadata.carriedUpdates()).hasValue(5);
      assertThat(metadata.get(TraceMetadata.FRAMEWORK)).contains("pytorch");
    }
  }
}
