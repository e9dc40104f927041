package io.dlanalyze.cli;

import static java.lang.String.format;
import static java.util.Locale.ROOT;

import java.nio.file.Files;
import java.nio.file.InvalidPathException;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Collection;
import java.util.List;
import java.util.Optional;
import java.util.TreeSet;
import java.util.function.Predicate;
import picocli.CommandLine;
import picocli.CommandLine.Model.CommandSpec;

/**
 * "Did you mean" for a mistyped command or option. A name is close to what was typed when it is at
 * most one edit away (two for words of six letters or more, none but case for words of one or two),
 * an edit being an insertion, a deletion, a substitution or the swap of two neighbouring letters,
 * or when what was typed is a prefix of it of three letters or more.
 */
final class Suggestions {
  private Suggestions() {}

  /**
   * The error for {@code dl-analyze WORD ...} when WORD is neither a command nor an existing file
   * but close to a command, or reads as a command's name and another argument follows it (a trace
   * that does not exist and resembles no command is left to the analyze command, which says that
   * the file does not exist); empty otherwise. {@code takesValue} tells the options before the
   * command that are followed by a value (the default command's).
   */
  static Optional<String> unknownCommand(
      String[] args, Collection<String> commands, Predicate<String> takesValue) {
    List<String> positionals = positionals(args, takesValue);
    if (positionals.isEmpty()) {
      return Optional.empty();
    }
    String arg = positionals.get(0);
    if (commands.contains(arg) || exists(arg)) {
      return Optional.empty();
    }
    List<String> close = closest(arg, commands);
    if (!close.isEmpty()) {
      return Optional.of(
          format(
              ROOT,
              "'%s' is neither a command nor an existing trace; did you mean %s?",
              arg,
              either(close)));
    }
    if (commandWord(arg) && positionals.size() > 1) {
      // dl-analyze summary run.parquet names a command that does not exist, where dl-analyze
      // run alone may be a trace that does not exist (the analyze command says so)
      return Optional.of(
          format(
              ROOT,
              "'%s' is neither a command nor an existing trace (commands: %s)",
              arg,
              String.join(", ", commands)));
    }
    return Optional.empty();
  }

  /**
   * The positional arguments before any {@code --}, in order: the options are skipped, with the
   * value that follows those {@code takesValue} tells.
   */
  private static List<String> positionals(String[] args, Predicate<String> takesValue) {
    List<String> found = new ArrayList<>();
    for (int i = 0; i < args.length && !args[i].equals("--"); i++) {
      String arg = args[i];
      if (!arg.startsWith("-")) {
        found.add(arg);
      } else if (!arg.contains("=") && takesValue.test(arg)) {
        i++;
      }
    }
    return found;
  }

  /** True for a word that reads as a command's name, not a path: lower-case letters and hyphens. */
  private static boolean commandWord(String arg) {
    return arg.matches("[a-z][a-z-]*");
  }

  /**
   * The error for an unknown option of a command, with the closest options it has; empty when the
   * exception is not about an unknown option.
   */
  static Optional<String> unknownOption(CommandLine.ParameterException e) {
    if (!(e instanceof CommandLine.UnmatchedArgumentException unmatched)
        || !unmatched.isUnknownOption()) {
      return Optional.empty();
    }
    for (String arg : unmatched.getUnmatched()) {
      if (!arg.startsWith("-")) {
        continue;
      }
      String name = arg.contains("=") ? arg.substring(0, arg.indexOf('=')) : arg;
      CommandSpec spec = unmatched.getCommandLine().getCommandSpec();
      List<String> close = closest(name, optionNames(spec));
      return Optional.of(
          close.isEmpty()
              ? format(ROOT, "unknown option '%s'", name)
              : format(ROOT, "unknown option '%s'; did you mean %s?", name, either(close)));
    }
    return Optional.empty();
  }

  /** The names within reach of {@code typed}, closest first, then alphabetically. */
  static List<String> closest(String typed, Collection<String> names) {
    int letters = bare(typed).length();
    int reach = letters >= 6 ? 2 : letters >= 3 ? 1 : 0;
    TreeSet<String> sorted = new TreeSet<>(names);
    List<String> best = new ArrayList<>();
    int bestDistance = Integer.MAX_VALUE;
    for (String name : sorted) {
      int d = distance(typed.toLowerCase(ROOT), name.toLowerCase(ROOT));
      if (d > reach && !isPrefix(typed, name)) {
        continue;
      }
      if (d < bestDistance) {
        best.clear();
        bestDistance = d;
      }
      if (d == bestDistance) {
        best.add(name);
      }
    }
    return best;
  }

  /** Edits between two words: insertions, deletions, substitutions and neighbour swaps. */
  static int distance(String a, String b) {
    int[][] d = new int[a.length() + 1][b.length() + 1];
    for (int i = 0; i <= a.length(); i++) {
      d[i][0] = i;
    }
    for (int j = 0; j <= b.length(); j++) {
      d[0][j] = j;
    }
    for (int i = 1; i <= a.length(); i++) {
      for (int j = 1; j <= b.length(); j++) {
        int cost = a.charAt(i - 1) == b.charAt(j - 1) ? 0 : 1;
        int best = Math.min(Math.min(d[i - 1][j] + 1, d[i][j - 1] + 1), d[i - 1][j - 1] + cost);
        if (i > 1
            && j > 1
            && a.charAt(i - 1) == b.charAt(j - 2)
            && a.charAt(i - 2) == b.charAt(j - 1)) {
          best = Math.min(best, d[i - 2][j - 2] + 1);
        }
        d[i][j] = best;
      }
    }
    return d[a.length()][b.length()];
  }

  private static boolean isPrefix(String typed, String name) {
    return bare(typed).length() >= 3 && name.startsWith(typed) && !name.equals(typed);
  }

  private static String bare(String name) {
    int start = 0;
    while (start < name.length() && name.charAt(start) == '-') {
      start++;
    }
    return name.substring(start);
  }

  private static List<String> optionNames(CommandSpec spec) {
    List<String> names = new ArrayList<>();
    for (CommandLine.Model.OptionSpec option : spec.options()) {
      if (!option.hidden()) {
        names.addAll(List.of(option.names()));
      }
    }
    return names;
  }

  private static String either(List<String> names) {
    List<String> quoted = new ArrayList<>();
    for (String name : names.subList(0, Math.min(3, names.size()))) {
      quoted.add("'" + name + "'");
    }
    return String.join(" or ", quoted);
  }

  private static boolean exists(String arg) {
    try {
      return Files.exists(Path.of(arg));
    } catch (InvalidPathException e) {
      return false;
    }
  }
}
