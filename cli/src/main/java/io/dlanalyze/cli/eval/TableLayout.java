package io.dlanalyze.cli.eval;

import java.util.List;

/** Lays out rows of cells as an aligned text table or a Markdown pipe table. */
final class TableLayout {
  private TableLayout() {}

  /** Appends the table; the first row is the header. */
  static void append(StringBuilder out, List<String[]> rows, boolean markdown) {
    int columns = rows.get(0).length;
    int[] widths = new int[columns];
    for (String[] row : rows) {
      for (int i = 0; i < columns; i++) {
        widths[i] = Math.max(widths[i], row[i].length());
      }
    }
    for (int r = 0; r < rows.size(); r++) {
      String[] row = rows.get(r);
      StringBuilder line = new StringBuilder();
      for (int i = 0; i < columns; i++) {
        if (markdown) {
          line.append("| ").append(row[i].replace("|", "\\|")).append(' ');
        } else {
          line.append(row[i]);
          if (i < columns - 1) {
            line.append(" ".repeat(widths[i] - row[i].length() + 2));
          }
        }
      }
      if (markdown) {
        line.append('|');
      }
      out.append(stripTrailing(line)).append('\n');
      if (r == 0) {
        StringBuilder rule = new StringBuilder();
        for (int i = 0; i < columns; i++) {
          if (markdown) {
            rule.append("|---");
          } else {
            rule.append("-".repeat(widths[i]));
            if (i < columns - 1) {
              rule.append("  ");
            }
          }
        }
        out.append(markdown ? rule.append('|') : rule).append('\n');
      }
    }
  }

  private static String stripTrailing(StringBuilder line) {
    int end = line.length();
    while (end > 0 && line.charAt(end - 1) == ' ') {
      end--;
    }
    return line.substring(0, end);
  }
}
