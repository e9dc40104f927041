package io.dlanalyze.cli;

import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.TreeMap;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import picocli.CommandLine;
import picocli.CommandLine.Help;
import picocli.CommandLine.IHelpSectionRenderer;
import picocli.CommandLine.Model.CommandSpec;
import picocli.CommandLine.Model.UsageMessageSpec;

/**
 * Help text that wraps only at spaces. picocli wraps with the JDK's line break rules, which also
 * break after a dot or a hyphen, so "findings.parquet" and "1e-6" could be split across lines. Each
 * help section is rendered by picocli without wrapping (at a width wider than any line), then
 * wrapped here at the terminal's width (80 when there is none) with picocli's indentation: table
 * rows (options, parameters, commands, exit codes) continue two columns right of their description
 * column, the synopsis under the first word after the command's name, paragraphs at their own
 * indentation. A word longer than the width stays whole on a line of its own.
 */
final class HelpWrap {
  /** Wider than any help line, so picocli wraps nothing. */
  private static final int WIDE = 1000;

  private static final Set<String> TABLES =
      Set.of(
          UsageMessageSpec.SECTION_KEY_OPTION_LIST,
          UsageMessageSpec.SECTION_KEY_PARAMETER_LIST,
          UsageMessageSpec.SECTION_KEY_COMMAND_LIST,
          UsageMessageSpec.SECTION_KEY_EXIT_CODE_LIST,
          UsageMessageSpec.SECTION_KEY_END_OF_OPTIONS);

  /** An ANSI style sequence: no width on a terminal. */
  private static final Pattern ANSI = Pattern.compile("\u001B\\[[0-9;]*m");

  /** The first run of two or more spaces after a row's first word: the description follows it. */
  private static final Pattern DESCRIPTION = Pattern.compile("^ *\\S.*? {2,}(\\S)");

  private HelpWrap() {}

  /** Makes every help section of {@code cli} and its subcommands wrap at spaces only. */
  static void install(CommandLine cli) {
    Map<String, IHelpSectionRenderer> sections = new LinkedHashMap<>();
    for (Map.Entry<String, IHelpSectionRenderer> section : cli.getHelpSectionMap().entrySet()) {
      String key = section.getKey();
      IHelpSectionRenderer original = section.getValue();
      sections.put(key, help -> render(key, original, help));
    }
    cli.setHelpSectionMap(sections);
    for (CommandLine sub : cli.getSubcommands().values()) {
      install(sub);
    }
  }

  private static String render(String key, IHelpSectionRenderer original, Help help) {
    CommandSpec spec = help.commandSpec();
    UsageMessageSpec usage = spec.usageMessage();
    int width = usage.width();
    usage.autoWidth(false).width(WIDE);
    String unwrapped;
    try {
      unwrapped = original.render(new Help(spec, help.colorScheme()));
    } finally {
      usage.width(width);
    }
    int offset = 0;
    if (key.equals(UsageMessageSpec.SECTION_KEY_SYNOPSIS)) {
      String heading = help.synopsisHeading();
      offset = visibleLength(heading.substring(heading.lastIndexOf('\n') + 1));
    }
    return wrap(key, unwrapped, width, spec.qualifiedName(), offset);
  }

  /**
   * Wraps one rendered section at {@code width} columns; its first line follows {@code offset}
   * columns of heading (the synopsis follows "Usage: ").
   */
  static String wrap(String key, String section, int width, String commandName, int offset) {
    String newline = System.lineSeparator();
    String[] lines = section.split(Pattern.quote(newline), -1);
    boolean table = TABLES.contains(key);
    int column = table ? descriptionColumn(lines) : 0;
    StringBuilder out = new StringBuilder(section.length() + 64);
    for (int i = 0; i < lines.length; i++) {
      if (i > 0) {
        out.append(newline);
      }
      int shift = i == 0 ? offset : 0;
      String line = " ".repeat(shift) + lines[i];
      if (visibleLength(line) <= width) {
        out.append(lines[i]);
        continue;
      }
      int leading = leadingSpaces(plain(line));
      int first;
      int next;
      if (key.equals(UsageMessageSpec.SECTION_KEY_SYNOPSIS)) {
        int name = plain(line).indexOf(commandName);
        first = name < 0 ? leading : name + commandName.length();
        next = name < 0 ? leading + 4 : first + 1;
      } else if (table) {
        first = Math.max(leading, column);
        next = first + 2;
      } else {
        first = leading;
        next = leading;
      }
      List<String> wrapped = wrapLine(line, width, first, next);
      wrapped.set(0, wrapped.get(0).substring(shift));
      out.append(String.join(newline, wrapped));
    }
    return out.toString();
  }

  /**
   * Breaks one line at spaces: never before visible column {@code first} on the first line (the
   * left column of a table row, or the command's name), continuation lines indented by {@code
   * next}.
   */
  private static List<String> wrapLine(String line, int width, int first, int next) {
    List<String> out = new ArrayList<>();
    String rest = line;
    int min = first;
    while (visibleLength(rest) > width) {
      int cut = breakAt(rest, width, min);
      if (cut < 0) {
        break;
      }
      out.add(stripTrailing(rest.substring(0, cut)));
      int start = cut;
      while (start < rest.length() && rest.charAt(start) == ' ') {
        start++;
      }
      if (start == rest.length()) {
        rest = "";
        break;
      }
      rest = " ".repeat(next) + rest.substring(start);
      min = next;
    }
    if (!rest.isEmpty() || out.isEmpty()) {
      out.add(rest);
    }
    return out;
  }

  /**
   * The raw index of the space to break at: the last one at a visible column of at most {@code
   * width} with text before it past column {@code min}; if there is none, the first one after such
   * text (an overlong word); -1 when the line has no such space.
   */
  private static int breakAt(String line, int width, int min) {
    int lastFit = -1;
    int firstAfter = -1;
    int col = 0;
    boolean text = false;
    int i = 0;
    while (i < line.length()) {
      char c = line.charAt(i);
      if (c == '\u001B') {
        Matcher ansi = ANSI.matcher(line).region(i, line.length());
        if (ansi.lookingAt()) {
          i = ansi.end();
          continue;
        }
      }
      if (c == ' ') {
        if (text && col > min && line.charAt(i - 1) != ' ') {
          if (col <= width) {
            lastFit = i;
          } else if (firstAfter < 0) {
            firstAfter = i;
          }
        }
      } else if (col >= min) {
        text = true;
      }
      col++;
      i++;
    }
    return lastFit >= 0 ? lastFit : firstAfter;
  }

  /** The column where most rows' descriptions start (the smallest when tied). */
  private static int descriptionColumn(String[] lines) {
    Map<Integer, Integer> counts = new TreeMap<>();
    for (String line : lines) {
      Matcher m = DESCRIPTION.matcher(plain(line));
      if (m.find()) {
        counts.merge(m.start(1), 1, Integer::sum);
      }
    }
    int best = 0;
    int bestCount = 0;
    for (Map.Entry<Integer, Integer> e : counts.entrySet()) {
      if (e.getValue() > bestCount) {
        best = e.getKey();
        bestCount = e.getValue();
      }
    }
    return best;
  }

  static int visibleLength(String line) {
    return plain(line).length();
  }

  private static String plain(String line) {
    return line.indexOf('\u001B') < 0 ? line : ANSI.matcher(line).replaceAll("");
  }

  private static int leadingSpaces(String line) {
    int n = 0;
    while (n < line.length() && line.charAt(n) == ' ') {
      n++;
    }
    return n;
  }

  private static String stripTrailing(String text) {
    int end = text.length();
    while (end > 0 && text.charAt(end - 1) == ' ') {
      end--;
    }
    return text.substring(0, end);
  }
}
