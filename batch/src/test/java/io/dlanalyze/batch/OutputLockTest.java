package io.dlanalyze.batch;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import java.io.BufferedReader;
import java.io.InputStreamReader;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

class OutputLockTest {
  @TempDir Path dir;

  @Test
  void acquire_heldInThisProcess_busy_thenFreeAfterClose() throws Exception {
    Path out = dir.resolve("results");
    OutputLock first = OutputLock.acquire(out);

    assertThatThrownBy(() -> OutputLock.acquire(out))
        .isInstanceOf(OutputLock.BusyException.class)
        .hasMessageStartingWith(
            "another dl-analyze batch is writing to this directory (pid "
                + ProcessHandle.current().pid()
                + ", started ")
        .hasMessageEndingWith(
            "; run again when it has finished (the lock is "
                + out.resolve(".dl-analyze.lock")
                + ")");

    first.close();
    OutputLock.acquire(out).close();
  }

  @Test
  void acquire_heldByAnotherProcess_busy() throws Exception {
    Path out = dir.resolve("results");
    OutputLock.acquire(out).close();
    // another process takes the same kind of lock (POSIX record lock, as FileChannel.tryLock)
    Process holder =
        new ProcessBuilder(
                "python3",
                "-c",
                "import fcntl, sys, time\n"
                    + "f = open(sys.argv[1], 'r+')\n"
                    + "fcntl.lockf(f, fcntl.LOCK_EX)\n"
                    + "print('locked', flush=True)\n"
                    + "time.sleep(120)\n",
                out.resolve(OutputLock.FILE_NAME).toString())
            .redirectErrorStream(true)
            .start();
    try {
      BufferedReader lines =
          new BufferedReader(
              new InputStreamReader(holder.getInputStream(), StandardCharsets.UTF_8));
      assertThat(lines.readLine()).isEqualTo("locked");

      assertThatThrownBy(() -> OutputLock.acquire(out))
          .isInstanceOf(OutputLock.BusyException.class)
          .hasMessageContaining("another dl-analyze batch is writing to this directory");
    } finally {
      holder.destroyForcibly();
      holder.waitFor(30, TimeUnit.SECONDS);
    }
    // the lock goes with the process that held it
    OutputLock.acquire(out).close();
  }
}
