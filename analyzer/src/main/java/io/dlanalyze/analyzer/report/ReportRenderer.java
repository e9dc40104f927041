package io.dlanalyze.analyzer.report;

import io.dlanalyze.analyzer.Report;
import java.io.IOException;
import java.io.StringWriter;
import java.io.UncheckedIOException;
import java.io.Writer;

/** Lays a {@link Report} out in one format. Renderers only lay out; detectors write the words. */
public interface ReportRenderer {
  /** Writes the report; line ends are always {@code \n}. */
  void render(Report report, Writer out) throws IOException;

  /** The report as a string. */
  default String render(Report report) {
    StringWriter out = new StringWriter();
    try {
      render(report, out);
    } catch (IOException e) {
      throw new UncheckedIOException(e);
    }
    return out.toString();
  }
}
