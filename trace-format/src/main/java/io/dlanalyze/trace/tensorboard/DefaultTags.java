package io.dlanalyze.trace.tensorboard;

import static java.util.Locale.ROOT;

import io.dlanalyze.trace.tensorboard.TagMapping.Mapped;
import io.dlanalyze.trace.tensorboard.TagMapping.Target;
import java.util.List;
import java.util.Set;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import org.jspecify.annotations.Nullable;

/**
 * The built-in tag rules (docs/trace-format.md, section TensorBoard, has the table).
 *
 * <p>Scalars: the tag is lower-cased and its markers are stripped, repeatedly, in any order: the
 * granularity markers {@code epoch_}, {@code batch_} (Keras) and {@code _step}, {@code _epoch}
 * (Lightning); the training markers {@code train_}, {@code train/}, {@code training/}, {@code
 * /train}, {@code _train}; the validation markers {@code val_}, {@code val/}, {@code valid_},
 * {@code validation_}, {@code validation/}, {@code eval_}, {@code eval/}, {@code evaluation/},
 * {@code /val}, {@code /validation}, {@code /eval}, {@code _val}. Keras' {@code
 * evaluation_<name>_vs_iterations} is validation {@code <name>}. What is left names the metric:
 * {@code loss}, {@code total_loss}, {@code cross_entropy} are the loss; {@code accuracy}, {@code
 * acc}, {@code categorical_accuracy}, {@code sparse_categorical_accuracy}, {@code binary_accuracy}
 * the accuracy; {@code learning_rate}, {@code lr}, {@code lr-*} and {@code lr/*} (Lightning's
 * LearningRateMonitor) the learning rate. A validation marker turns loss and accuracy into {@code
 * val_loss} and {@code val_accuracy}. The tag {@code epoch} (Lightning) is the epoch counter.
 *
 * <p>Episode returns (reinforcement learning), training only: one episode's return in CleanRL's
 * {@code charts/episodic_return} and the hand-written {@code episode_return}, {@code
 * episode_reward}, {@code ep_return}, {@code episode/return} and {@code return}; the mean over a
 * window of recent episodes, whose number the tag does not give ({@link Mapped#smoothed()}), in
 * Stable-Baselines3's {@code rollout/ep_rew_mean}, RLlib's {@code episode_reward_mean}, {@code
 * env_runners/episode_return_mean} and {@code env_runners/episode_reward_mean} (Ray Tune's {@code
 * ray/tune/} prefix is dropped first), TF-Agents' {@code AverageReturn} and {@code
 * Metrics/AverageReturn}, and Dopamine's {@code Train/AverageReturns}. With a validation marker or
 * in a validation directory (Dopamine's {@code Eval/AverageReturns}, TF-Agents' {@code eval/}
 * directory, RLlib's {@code evaluation/}) they are not mapped: an evaluation's return is not the
 * training return, and the trace has no phase for it. {@code reward} alone is not mapped: it is as
 * often the reward of one step as the return of an episode.
 *
 * <p>Histograms: gradient markers ({@code grad/}, {@code grads/}, {@code gradient/}, {@code
 * gradients/} before; {@code .grad}, {@code /grad}, {@code _grad}, {@code /gradient}, {@code
 * _gradient} and their plurals after) make a gradient, anything else a weight; {@code weights/},
 * {@code params/}, {@code parameters/} before and Keras 3's {@code /histogram} after are dropped.
 * The rest splits at its last {@code /} or {@code .} into the layer and the parameter (Keras 2's
 * {@code kernel_0} is {@code kernel}). A parameter named {@code weight*}, {@code *kernel}, {@code
 * w}, {@code embeddings}, {@code gamma} or {@code scale} is the layer's weight; {@code bias*},
 * {@code b}, {@code beta} and the running/moving statistics are known but left out; any other name
 * (an activation histogram, say) is not mapped.
 */
final class DefaultTags {
  private static final Pattern KERAS_EVALUATION = Pattern.compile("evaluation_(.+)_vs_iterations");

  /** Ray Tune's TensorBoard logger writes every result key under this prefix. */
  private static final String RAY_TUNE = "ray/tune/";

  private static final List<String> GRANULARITY_PREFIXES = List.of("epoch_", "batch_");
  private static final List<String> GRANULARITY_SUFFIXES = List.of("_step", "_epoch");
  private static final List<String> TRAIN_PREFIXES =
      List.of("train_", "train/", "training_", "training/");
  private static final List<String> TRAIN_SUFFIXES = List.of("/train", "/training", "_train");
  private static final List<String> VALIDATION_PREFIXES =
      List.of(
          "val_",
          "val/",
          "valid_",
          "valid/",
          "validation_",
          "validation/",
          "eval_",
          "eval/",
          "evaluation_",
          "evaluation/");
  private static final List<String> VALIDATION_SUFFIXES =
      List.of("/val", "/valid", "/validation", "/eval", "/evaluation", "_val");

  private static final Set<String> LOSS = Set.of("loss", "total_loss", "cross_entropy");
  private static final Set<String> ACCURACY =
      Set.of(
          "accuracy",
          "acc",
          "categorical_accuracy",
          "sparse_categorical_accuracy",
          "binary_accuracy");
  private static final Set<String> LEARNING_RATE =
      Set.of("learning_rate", "lr", "learning-rate", "learningrate");

  /** One episode's return per value. */
  private static final Set<String> EPISODE_RETURN =
      Set.of(
          "charts/episodic_return",
          "episode_return",
          "episode_reward",
          "ep_return",
          "episode/return",
          "return");

  /** The mean return over a window of recent episodes, of a number the tag does not give. */
  private static final Set<String> MEAN_EPISODE_RETURN =
      Set.of(
          "rollout/ep_rew_mean",
          "episode_reward_mean",
          "env_runners/episode_return_mean",
          "env_runners/episode_reward_mean",
          "averagereturn",
          "metrics/averagereturn",
          "averagereturns");

  private static final List<String> GRADIENT_PREFIXES =
      List.of("grad/", "grads/", "gradient/", "gradients/");
  private static final List<String> GRADIENT_SUFFIXES =
      List.of(
          ".grad",
          "/grad",
          "_grad",
          ".grads",
          "/grads",
          "_grads",
          "/gradient",
          "_gradient",
          ".gradient",
          "/gradients",
          "_gradients");
  private static final List<String> WEIGHT_PREFIXES =
      List.of("weights/", "weight/", "params/", "parameters/");
  private static final Set<String> OTHER_PARAMETERS =
      Set.of(
          "b",
          "beta",
          "moving_mean",
          "moving_variance",
          "running_mean",
          "running_var",
          "num_batches_tracked");
  private static final Set<String> MAIN_PARAMETERS =
      Set.of("w", "embeddings", "embedding", "gamma", "scale");

  private DefaultTags() {}

  static @Nullable Mapped scalar(String tag, boolean validationDirectory) {
    String name = tag.strip().toLowerCase(ROOT);
    if (name.equals("epoch")) {
      return mapped(Target.EPOCH, 0);
    }
    if (name.startsWith(RAY_TUNE) && name.length() > RAY_TUNE.length()) {
      name = name.substring(RAY_TUNE.length());
    }
    boolean validation = validationDirectory;
    int rank = 0;
    Matcher keras = KERAS_EVALUATION.matcher(name);
    if (keras.matches()) {
      // Keras' per-iteration copy of the validation metrics: the epoch_* of validation/ first
      name = keras.group(1);
      validation = true;
      rank = 1;
    }
    for (int round = 0; round < 8; round++) {
      String before = name;
      name = stripPrefix(name, GRANULARITY_PREFIXES);
      name = stripSuffix(name, GRANULARITY_SUFFIXES);
      name = stripPrefix(name, TRAIN_PREFIXES);
      name = stripSuffix(name, TRAIN_SUFFIXES);
      String stripped = stripSuffix(stripPrefix(name, VALIDATION_PREFIXES), VALIDATION_SUFFIXES);
      if (!stripped.equals(name)) {
        validation = true;
        name = stripped;
      }
      if (name.equals(before)) {
        break;
      }
    }
    if (LOSS.contains(name)) {
      return mapped(validation ? Target.VAL_LOSS : Target.LOSS, rank);
    }
    if (ACCURACY.contains(name)) {
      return mapped(validation ? Target.VAL_ACCURACY : Target.ACCURACY, rank);
    }
    if (!validation && isLearningRate(name)) {
      return mapped(Target.LEARNING_RATE, rank);
    }
    if (!validation && EPISODE_RETURN.contains(name)) {
      return mapped(Target.EPISODE_RETURN, rank);
    }
    if (!validation && MEAN_EPISODE_RETURN.contains(name)) {
      return new Mapped(Target.EPISODE_RETURN, null, null, true, false, rank, true);
    }
    return null;
  }

  private static boolean isLearningRate(String name) {
    if (name.contains("momentum")) {
      return false;
    }
    return LEARNING_RATE.contains(name)
        || name.startsWith("lr-")
        || name.startsWith("lr/")
        || name.endsWith("/lr")
        || name.endsWith("/learning_rate");
  }

  static @Nullable Mapped histogram(String tag) {
    String rest = tag.strip();
    boolean gradient = false;
    for (int round = 0; round < 4; round++) {
      String before = rest;
      String lower = rest.toLowerCase(ROOT);
      for (String prefix : GRADIENT_PREFIXES) {
        if (lower.startsWith(prefix) && rest.length() > prefix.length()) {
          rest = rest.substring(prefix.length());
          gradient = true;
          break;
        }
      }
      lower = rest.toLowerCase(ROOT);
      for (String suffix : GRADIENT_SUFFIXES) {
        if (lower.endsWith(suffix) && rest.length() > suffix.length()) {
          rest = rest.substring(0, rest.length() - suffix.length());
          gradient = true;
          break;
        }
      }
      lower = rest.toLowerCase(ROOT);
      for (String prefix : WEIGHT_PREFIXES) {
        if (lower.startsWith(prefix) && rest.length() > prefix.length()) {
          rest = rest.substring(prefix.length());
          break;
        }
      }
      if (rest.toLowerCase(ROOT).endsWith("/histogram") && rest.length() > "/histogram".length()) {
        rest = rest.substring(0, rest.length() - "/histogram".length());
      }
      if (rest.equals(before)) {
        break;
      }
    }
    int cut = Math.max(rest.lastIndexOf('/'), rest.lastIndexOf('.'));
    if (cut <= 0 || cut == rest.length() - 1) {
      return null;
    }
    String layer = rest.substring(0, cut);
    String parameter = parameterName(rest.substring(cut + 1).toLowerCase(ROOT));
    Boolean main = isMain(parameter);
    if (main == null) {
      return null;
    }
    return new Mapped(gradient ? Target.GRADIENT : Target.WEIGHT, layer, parameter, main, false, 0);
  }

  /** Keras 2 writes variable names: {@code kernel:0} or, in tags, {@code kernel_0}. */
  private static String parameterName(String raw) {
    String name = raw;
    if (name.endsWith(":0")) {
      name = name.substring(0, name.length() - 2);
    }
    if (name.endsWith("_0")) {
      String base = name.substring(0, name.length() - 2);
      if (isMain(base) != null) {
        name = base;
      }
    }
    return name;
  }

  /** True for a layer's weight, false for a known other parameter, null for an unknown name. */
  private static @Nullable Boolean isMain(String parameter) {
    if (parameter.startsWith("weight")
        || parameter.endsWith("kernel")
        || MAIN_PARAMETERS.contains(parameter)) {
      return Boolean.TRUE;
    }
    if (parameter.startsWith("bias") || OTHER_PARAMETERS.contains(parameter)) {
      return Boolean.FALSE;
    }
    return null;
  }

  private static Mapped mapped(Target target, int rank) {
    return new Mapped(target, null, null, true, false, rank);
  }

  private static String stripPrefix(String name, List<String> prefixes) {
    for (String prefix : prefixes) {
      if (name.startsWith(prefix) && name.length() > prefix.length()) {
        return name.substring(prefix.length());
      }
    }
    return name;
  }

  private static String stripSuffix(String name, List<String> suffixes) {
    for (String suffix : suffixes) {
      if (name.endsWith(suffix) && name.length() > suffix.length()) {
        return name.substring(0, name.length() - suffix.length());
      }
    }
    return name;
  }
}
