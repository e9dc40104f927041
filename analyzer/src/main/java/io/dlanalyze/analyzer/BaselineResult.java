package io.dlanalyze.analyzer;

import static java.util.Objects.requireNonNull;

import org.jspecify.annotations.Nullable;

/**
 * What a Keras callback would have done on the same run, replayed on the trace: when it would have
 * stopped training, if ever.
 *
 * @param name stable snake_case id: {@code terminate_on_nan}, {@code early_stopping_loss}, {@code
 *     early_stopping_accuracy}
 * @param callback the callback as a Keras user writes it, e.g. {@code EarlyStopping(monitor='loss',
 *     patience=1)}
 * @param level {@code "batch"} or {@code "epoch"}: when the callback checks
 * @param status whether it stopped, never stopped, or had nothing to monitor
 * @param stopStep the last step trained before it stopped, or -1
 * @param epoch the epoch of {@code stopStep}, or -1
 * @param batch the in-epoch batch of {@code stopStep}, or -1
 * @param stepsAfterFirstFinding {@code stopStep} minus the first step of the top-ranked finding
 *     (negative: the callback stopped earlier), or {@code null} when either is missing
 * @param detail one sentence with the numbers behind the outcome
 */
public record BaselineResult(
    String name,
    String callback,
    String level,
    Status status,
    long stopStep,
    int epoch,
    int batch,
    @Nullable Long stepsAfterFirstFinding,
    String detail) {
  /** Outcome of a replayed callback. */
  public enum Status {
    STOPPED("stopped"),
    NEVER("never"),
    NOT_APPLICABLE("not_applicable");

    private final String wireName;

    Status(String wireName) {
      this.wireName = wireName;
    }

    public String wireName() {
      return wireName;
    }

    @Override
    public String toString() {
      return wireName;
    }
  }

  public BaselineResult {
    requireNonNull(name, "name is null");
    requireNonNull(callback, "callback is null");
    requireNonNull(level, "level is null");
    requireNonNull(status, "status is null");
    requireNonNull(detail, "detail is null");
  }

  /** A copy that knows the first step of the top finding. */
  public BaselineResult relativeTo(long firstFindingStep) {
    Long delta =
        status == Status.STOPPED && firstFindingStep >= 0 ? stopStep - firstFindingStep : null;
    return new BaselineResult(name, callback, level, status, stopStep, epoch, batch, delta, detail);
  }
}
