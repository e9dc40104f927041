package io.dlanalyze.trace.tensorboard;

import static java.lang.String.format;
import static java.util.Locale.ROOT;

import com.fasterxml.jackson.core.JsonProcessingException;
import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import io.dlanalyze.trace.ErrorCode;
import io.dlanalyze.trace.TraceFormatException;
import io.dlanalyze.trace.TraceMetadata;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Iterator;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import org.jspecify.annotations.Nullable;

/**
 * Which trace phase a TensorBoard tag becomes: the built-in rules ({@link DefaultTags}, the names
 * that Keras' TensorBoard callback, {@code tf.summary} users, PyTorch's {@code SummaryWriter} and
 * Lightning's {@code TensorBoardLogger} write) after the user's rules from a {@value
 * TensorBoardRun#TAGS_FILE} file.
 *
 * <p>The file is one JSON object from tag pattern to target, tried in file order before the
 * built-in rules; the first pattern that matches the whole tag wins:
 *
 * <pre>{@code
 * {"metrics/top1": "accuracy", "my_loss": "loss", "hist/*": "weight", "dhist/*": "gradient",
 *  "noise_*": "ignore"}
 * }</pre>
 *
 * A pattern matches the whole tag, case-sensitive; {@code *} is any run of characters (also {@code
 * /}), {@code ?} one character. Targets: {@code loss}, {@code accuracy}, {@code learning_rate},
 * {@code val_loss}, {@code val_accuracy}, {@code epoch} (the epoch counter) and {@code
 * episode_return} (a reinforcement-learning agent's return: one episode's, or the mean of several)
 * for scalars; {@code weight} and {@code gradient} for histograms, whose layer is the text the
 * first {@code *} or {@code ?} matched (the whole tag without one); {@code ignore}. In a validation
 * directory, {@code loss} and {@code accuracy} become {@code val_loss} and {@code val_accuracy},
 * and a tag a rule maps to {@code episode_return} is left unmapped: an evaluation's return is not
 * the training return, and the trace has no phase for it.
 */
public final class TagMapping {
  /** What a tag can become. */
  public enum Target {
    LOSS(false),
    ACCURACY(false),
    LEARNING_RATE(false),
    VAL_LOSS(false),
    VAL_ACCURACY(false),
    EPOCH(false),
    EPISODE_RETURN(false),
    WEIGHT(true),
    GRADIENT(true),
    IGNORE(false);

    private final boolean histogram;

    Target(boolean histogram) {
      this.histogram = histogram;
    }

    /** True for the targets a histogram maps to. */
    public boolean histogram() {
      return histogram;
    }

    public String wireName() {
      return name().toLowerCase(ROOT);
    }

    static Optional<Target> fromWireName(String name) {
      for (Target target : values()) {
        if (target.wireName().equals(name)) {
          return Optional.of(target);
        }
      }
      return Optional.empty();
    }
  }

  /**
   * A tag's mapping.
   *
   * @param target what the tag becomes
   * @param layer the layer of a weight or gradient histogram, else {@code null}
   * @param parameter the parameter within the layer ({@code kernel}, {@code weight}, {@code bias}),
   *     or {@code null}
   * @param main true for the parameter that makes the layer's row (kernels and weights; biases and
   *     normalization statistics are left out, as DeepLocalize and the PyTorch recorder do)
   * @param user true when a rule of the tags file matched
   * @param rank a lower rank wins when two tags of the same size map to the same phase
   * @param smoothed an episode return that is the mean over a window of episodes, whose number the
   *     tag does not give (its row's numel is null); false for one episode's return (numel 1)
   */
  public record Mapped(
      Target target,
      @Nullable String layer,
      @Nullable String parameter,
      boolean main,
      boolean user,
      int rank,
      boolean smoothed) {
    /** A mapping that is not a smoothed episode return. */
    public Mapped(
        Target target,
        @Nullable String layer,
        @Nullable String parameter,
        boolean main,
        boolean user,
        int rank) {
      this(target, layer, parameter, main, user, rank, false);
    }
  }

  private record Rule(String pattern, Pattern regex, Target target) {}

  private static final ObjectMapper JSON = new ObjectMapper();

  private final @Nullable Path source;
  private final List<Rule> rules;

  private TagMapping(@Nullable Path source, List<Rule> rules) {
    this.source = source;
    this.rules = List.copyOf(rules);
  }

  /** The built-in rules alone. */
  public static TagMapping defaults() {
    return new TagMapping(null, List.of());
  }

  /** The mapping of a run: its {@value TensorBoardRun#TAGS_FILE} if there is one, else defaults. */
  public static TagMapping forRun(Path run) {
    return TensorBoardRun.tagsFile(run).map(TagMapping::load).orElse(defaults());
  }

  /**
   * Reads a tags file.
   *
   * @throws TraceFormatException BAD_METADATA when it is not a JSON object of pattern to target
   */
  public static TagMapping load(Path file) {
    JsonNode root;
    try {
      root = JSON.readTree(Files.readAllBytes(file));
    } catch (JsonProcessingException e) {
      throw new TraceFormatException(
          ErrorCode.BAD_METADATA,
          file,
          null,
          "not valid JSON: " + TraceMetadata.jsonProblem(e.getOriginalMessage()));
    } catch (IOException e) {
      throw new TraceFormatException(
          ErrorCode.BAD_METADATA, file, null, format(ROOT, "cannot read: %s", e.getMessage()));
    }
    if (root == null || !root.isObject()) {
      throw new TraceFormatException(
          ErrorCode.BAD_METADATA,
          file,
          null,
          "expected a JSON object of tag pattern to target, e.g. {\"my_loss\": \"loss\"}");
    }
    List<Rule> rules = new ArrayList<>();
    for (Iterator<Map.Entry<String, JsonNode>> it = root.fields(); it.hasNext(); ) {
      Map.Entry<String, JsonNode> entry = it.next();
      String value = entry.getValue().isTextual() ? entry.getValue().asText() : null;
      Optional<Target> target =
          value == null ? Optional.empty() : Target.fromWireName(value.strip().toLowerCase(ROOT));
      if (target.isEmpty()) {
        throw new TraceFormatException(
            ErrorCode.BAD_METADATA,
            file,
            null,
            format(
                ROOT,
                "tag pattern '%s': %s is not a target (expected one of %s)",
                entry.getKey(),
                entry.getValue(),
                targetNames()));
      }
      rules.add(new Rule(entry.getKey(), glob(entry.getKey()), target.get()));
    }
    return new TagMapping(file, rules);
  }

  /** The tags file the user rules came from, if any. */
  public Optional<Path> source() {
    return Optional.ofNullable(source);
  }

  /** The number of user rules. */
  public int userRules() {
    return rules.size();
  }

  /**
   * The mapping of a scalar tag, or {@code null} when no rule maps it.
   *
   * @param validation the tag comes from a validation directory
   */
  public @Nullable Mapped scalar(String tag, boolean validation) {
    for (Rule rule : rules) {
      if (rule.regex.matcher(tag).matches()) {
        if (rule.target.histogram || (rule.target == Target.EPISODE_RETURN && validation)) {
          return null;
        }
        return new Mapped(validated(rule.target, validation), null, null, true, true, 0);
      }
    }
    return DefaultTags.scalar(tag, validation);
  }

  /** The mapping of a histogram tag, or {@code null} when no rule maps it. */
  public @Nullable Mapped histogram(String tag, boolean validation) {
    for (Rule rule : rules) {
      Matcher matcher = rule.regex.matcher(tag);
      if (matcher.matches()) {
        if (rule.target == Target.IGNORE) {
          return new Mapped(Target.IGNORE, null, null, true, true, 0);
        }
        if (!rule.target.histogram) {
          return null;
        }
        String layer = matcher.groupCount() > 0 ? matcher.group(1) : tag;
        return new Mapped(rule.target, layer.isEmpty() ? tag : layer, null, true, true, 0);
      }
    }
    return validation ? null : DefaultTags.histogram(tag);
  }

  private static Target validated(Target target, boolean validation) {
    if (!validation) {
      return target;
    }
    return switch (target) {
      case LOSS -> Target.VAL_LOSS;
      case ACCURACY -> Target.VAL_ACCURACY;
      case LEARNING_RATE, VAL_LOSS, VAL_ACCURACY, EPOCH, EPISODE_RETURN, WEIGHT, GRADIENT, IGNORE ->
          target;
    };
  }

  private static String targetNames() {
    List<String> names = new ArrayList<>();
    for (Target target : Target.values()) {
      names.add(target.wireName());
    }
    return String.join(", ", names);
  }

  /** A whole-tag glob: {@code *} any run, {@code ?} one character; the first wildcard captured. */
  static Pattern glob(String pattern) {
    StringBuilder regex = new StringBuilder();
    boolean captured = false;
    StringBuilder literal = new StringBuilder();
    for (int i = 0; i < pattern.length(); i++) {
      char c = pattern.charAt(i);
      if (c == '*' || c == '?') {
        if (literal.length() > 0) {
          regex.append(Pattern.quote(literal.toString()));
          literal.setLength(0);
        }
        String any = c == '*' ? ".*" : ".";
        regex.append(captured ? any : "(" + any + ")");
        captured = true;
      } else {
        literal.append(c);
      }
    }
    if (literal.length() > 0) {
      regex.append(Pattern.quote(literal.toString()));
    }
    return Pattern.compile(regex.toString(), Pattern.DOTALL);
  }
}
