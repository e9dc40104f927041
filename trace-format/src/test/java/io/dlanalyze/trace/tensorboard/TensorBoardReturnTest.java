package io.dlanalyze.trace.tensorboard;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.groups.Tuple.tuple;

import io.dlanalyze.trace.ReadOptions;
import io.dlanalyze.trace.TraceReader;
import io.dlanalyze.trace.TraceReaders;
import io.dlanalyze.trace.tensorboard.TbRows.Row;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.CsvSource;
import org.junit.jupiter.params.provider.ValueSource;

/**
 * Reinforcement-learning runs: the episode returns the libraries and hand-written loops log become
 * model-level episode_return rows; evaluation returns and a bare {@code reward} do not.
 */
class TensorBoardReturnTest {
  @TempDir Path dir;

  private Path run(String name, String tag) throws IOException {
    Path run = Files.createDirectories(dir.resolve(name));
    TestEventFiles.write(
        run.resolve("events.out.tfevents.1.host"),
        TestEventFiles.scalar(0, "train/loss", 0.5),
        TestEventFiles.scalar(0, tag, 9.5),
        TestEventFiles.scalar(2048, "train/loss", 0.25),
        TestEventFiles.scalar(2048, tag, 21.0));
    return run;
  }

  private static List<Row> returns(List<Row> rows) {
    return TbRows.of(rows, "episode_return", null);
  }

  /** Each tag, and whether its value is one episode's return (numel 1) or a window's mean. */
  @ParameterizedTest(name = "{0}")
  @CsvSource({
    "rollout/ep_rew_mean, false", // Stable-Baselines3: the mean of its last 100 episodes
    "charts/episodic_return, true", // CleanRL: one finished episode
    "episode_reward_mean, false", // RLlib's old result key
    "ray/tune/episode_reward_mean, false", // the same through Ray Tune's TensorBoard logger
    "ray/tune/env_runners/episode_return_mean, false", // RLlib's new API stack
    "env_runners/episode_return_mean, false",
    "ray/tune/env_runners/episode_reward_mean, false",
    "AverageReturn, false", // TF-Agents' AverageReturnMetric
    "Metrics/AverageReturn, false", // the same under tf_summaries' name scope
    "Train/AverageReturns, false", // Dopamine: the mean over an iteration's episodes
    "episode_return, true", // hand-written loops
    "episode_reward, true",
    "return, true",
    "Episode/Return, true",
    "ep_return, true",
    "train/episode_return, true",
  })
  void defaultTag_isTheTrainingReturnAtTheEventsStep(String tag, boolean oneEpisode)
      throws IOException {
    Path run = run("run", tag);

    try (TraceReader reader = TraceReaders.open(run, ReadOptions.all())) {
      List<Row> rows = TbRows.read(reader);
      assertThat(returns(rows))
          .extracting(Row::step, Row::layerIndex, Row::layerName, Row::mean, Row::numel)
          .containsExactly(
              tuple(0L, -1, "model", 9.5, oneEpisode ? 1L : -1L),
              tuple(2048L, -1, "model", 21.0, oneEpisode ? 1L : -1L));
      assertThat(returns(rows)).allSatisfy(r -> assertThat(r.std()).isNaN());
      assertThat(TbRows.of(rows, "loss", null)).hasSize(2);
      assertThat(String.join("\n", reader.warnings())).doesNotContain("no phase");
    }
  }

  @ParameterizedTest(name = "{0}")
  @ValueSource(
      strings = {
        "eval/return", // a hand-written loop's evaluation
        "Eval/AverageReturns", // Dopamine writes it beside Train/AverageReturns
        "eval/episode_return",
        "ray/tune/evaluation/env_runners/episode_return_mean", // RLlib's evaluation workers
        "reward", // a step's reward as often as an episode's return
        "rollout/ep_rew_min",
      })
  void evaluationReturnOrBareReward_isNotTheTrainingReturn(String tag) throws IOException {
    Path run = run("run", tag);

    try (TraceReader reader = TraceReaders.open(run, ReadOptions.all())) {
      List<Row> rows = TbRows.read(reader);
      assertThat(returns(rows)).isEmpty();
      assertThat(String.join("\n", reader.warnings()))
          .contains("1 tag maps to no phase")
          .contains(tag + " (scalar) x2");
    }
  }

  @Test
  void evalDirectoryOfTfAgents_isNotTheTrainingReturnWhileTrainsIs() throws IOException {
    Path run = Files.createDirectories(dir.resolve("tf-agents"));
    TestEventFiles.write(
        run.resolve("train/events.out.tfevents.1.host.v2"),
        TestEventFiles.scalar(1000, "Metrics/AverageReturn", 12.0),
        TestEventFiles.scalar(2000, "Metrics/AverageReturn", 15.0));
    TestEventFiles.write(
        run.resolve("eval/events.out.tfevents.1.host.v2"),
        TestEventFiles.scalar(1000, "Metrics/AverageReturn", 500.0),
        TestEventFiles.scalar(2000, "Metrics/AverageReturn", 500.0));

    try (TraceReader reader = TraceReaders.open(run, ReadOptions.all())) {
      List<Row> rows = TbRows.read(reader);
      assertThat(returns(rows))
          .extracting(Row::step, Row::mean)
          .containsExactly(tuple(1000L, 12.0), tuple(2000L, 15.0));
      assertThat(String.join("\n", reader.warnings()))
          .contains("validation: Metrics/AverageReturn (scalar) x2");
    }
  }

  @Test
  void userRule_mapsATagToEpisodeReturnButNotInAnEvaluationDirectory() throws IOException {
    Path run = Files.createDirectories(dir.resolve("custom"));
    TestEventFiles.write(
        run.resolve("train/events.out.tfevents.1.host"),
        TestEventFiles.scalar(0, "perf/score", 3.0),
        TestEventFiles.scalar(1, "perf/score", 4.0),
        TestEventFiles.scalar(1, "reward", 0.5));
    TestEventFiles.write(
        run.resolve("eval/events.out.tfevents.1.host"),
        TestEventFiles.scalar(1, "perf/score", 8.0));
    Files.writeString(run.resolve(TensorBoardRun.TAGS_FILE), "{\"perf/*\": \"episode_return\"}");

    try (TraceReader reader = TraceReaders.open(run, ReadOptions.all())) {
      List<Row> rows = TbRows.read(reader);
      assertThat(rows)
          .extracting(Row::step, Row::phase, Row::mean, Row::numel)
          .containsExactly(
              tuple(0L, "episode_return", 3.0, 1L), tuple(1L, "episode_return", 4.0, 1L));
      assertThat(String.join("\n", reader.warnings()))
          .contains("reward (scalar) x1")
          .contains("validation: perf/score (scalar) x1");
    }
  }

  @Test
  void userRuleWins_overADefaultTagOfTheSameRun() throws IOException {
    Path run = Files.createDirectories(dir.resolve("both"));
    TestEventFiles.write(
        run.resolve("events.out.tfevents.1.host"),
        TestEventFiles.scalar(0, "rollout/ep_rew_mean", 1.0),
        TestEventFiles.scalar(1, "rollout/ep_rew_mean", 2.0),
        TestEventFiles.scalar(1, "my_return", 7.0));
    Files.writeString(run.resolve(TensorBoardRun.TAGS_FILE), "{\"my_return\": \"episode_return\"}");

    try (TraceReader reader = TraceReaders.open(run, ReadOptions.all())) {
      assertThat(returns(TbRows.read(reader)))
          .extracting(Row::step, Row::mean)
          .containsExactly(tuple(1L, 7.0));
      assertThat(String.join("\n", reader.warnings()))
          .contains(
              "episode_return: read from my_return (1 values); also mapped there but not used:"
                  + " rollout/ep_rew_mean (2 values)");
    }
  }
}
