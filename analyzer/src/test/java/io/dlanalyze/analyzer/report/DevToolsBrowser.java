package io.dlanalyze.analyzer.report;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ObjectNode;
import java.io.IOException;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.net.http.WebSocket;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.Base64;
import java.util.Map;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CompletionStage;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;

/**
 * A headless Chromium driven over the Chrome DevTools Protocol (a WebSocket, JDK only): set the
 * viewport, open a page, evaluate script, press and drag the mouse as a user does, take a
 * screenshot. For the report tests that need real input, not just the dumped DOM.
 */
final class DevToolsBrowser implements AutoCloseable {
  private static final ObjectMapper MAPPER = new ObjectMapper();
  private static final long TIMEOUT_SECONDS = 60;

  private final Process process;
  private final WebSocket socket;
  private final AtomicInteger ids = new AtomicInteger();
  private final Map<Integer, CompletableFuture<JsonNode>> pending = new ConcurrentHashMap<>();

  private DevToolsBrowser(Process process, WebSocket socket) {
    this.process = process;
    this.socket = socket;
  }

  /** Starts Chromium with a fresh profile under {@code workDir} and attaches to its page. */
  static DevToolsBrowser launch(Path chromium, Path workDir) throws Exception {
    Path profile = Files.createDirectories(workDir.resolve("profile"));
    ProcessBuilder builder =
        new ProcessBuilder(
            chromium.toString(),
            "--headless",
            "--no-sandbox",
            "--disable-gpu",
            "--hide-scrollbars",
            "--no-first-run",
            "--disable-background-networking",
            "--disable-component-update",
            "--disable-sync",
            "--disable-default-apps",
            "--host-resolver-rules=MAP * ~NOTFOUND",
            "--remote-debugging-address=127.0.0.1",
            "--remote-debugging-port=0",
            "--user-data-dir=" + profile,
            "about:blank");
    builder.redirectOutput(workDir.resolve("chromium.out").toFile());
    builder.redirectError(workDir.resolve("chromium.log").toFile());
    Process process = builder.start();
    try {
      Path portFile = profile.resolve("DevToolsActivePort");
      long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(TIMEOUT_SECONDS);
      while (!Files.exists(portFile) || Files.readAllLines(portFile).isEmpty()) {
        if (System.nanoTime() > deadline || !process.isAlive()) {
          throw new AssertionError(
              "chromium did not open its DevTools port; log: " + workDir.resolve("chromium.log"));
        }
        Thread.sleep(50);
      }
      String port = Files.readAllLines(portFile).get(0).strip();
      HttpClient http = HttpClient.newBuilder().connectTimeout(Duration.ofSeconds(10)).build();
      String pageSocket = null;
      while (pageSocket == null) {
        String list =
            http.send(
                    HttpRequest.newBuilder(URI.create("http://127.0.0.1:" + port + "/json/list"))
                        .build(),
                    HttpResponse.BodyHandlers.ofString())
                .body();
        for (JsonNode target : MAPPER.readTree(list)) {
          if ("page".equals(target.path("type").asText())) {
            pageSocket = target.path("webSocketDebuggerUrl").asText();
          }
        }
        if (pageSocket == null) {
          if (System.nanoTime() > deadline) {
            throw new AssertionError("chromium has no page target: " + list);
          }
          Thread.sleep(50);
        }
      }
      DevToolsBrowser[] self = new DevToolsBrowser[1];
      WebSocket socket =
          http.newWebSocketBuilder()
              .buildAsync(URI.create(pageSocket), new Listener(self))
              .get(TIMEOUT_SECONDS, TimeUnit.SECONDS);
      self[0] = new DevToolsBrowser(process, socket);
      return self[0];
    } catch (Exception | AssertionError e) {
      process.destroyForcibly();
      throw e;
    }
  }

  /** Collects the text frames of one message and hands complete messages to the browser. */
  private static final class Listener implements WebSocket.Listener {
    private final DevToolsBrowser[] browser;
    private final StringBuilder message = new StringBuilder();

    Listener(DevToolsBrowser[] browser) {
      this.browser = browser;
    }

    @Override
    public CompletionStage<?> onText(WebSocket webSocket, CharSequence data, boolean last) {
      message.append(data);
      if (last) {
        String text = message.toString();
        message.setLength(0);
        try {
          JsonNode node = MAPPER.readTree(text);
          if (node.has("id") && browser[0] != null) {
            CompletableFuture<JsonNode> future = browser[0].pending.remove(node.get("id").asInt());
            if (future != null) {
              future.complete(node);
            }
          }
        } catch (IOException e) {
          throw new IllegalStateException("unreadable DevTools message: " + text, e);
        }
      }
      webSocket.request(1);
      return null;
    }
  }

  /** Sends a command and returns its result; a protocol error fails. */
  JsonNode send(String method, ObjectNode params) throws Exception {
    int id = ids.incrementAndGet();
    CompletableFuture<JsonNode> future = new CompletableFuture<>();
    pending.put(id, future);
    ObjectNode command = MAPPER.createObjectNode();
    command.put("id", id);
    command.put("method", method);
    command.set("params", params == null ? MAPPER.createObjectNode() : params);
    socket
        .sendText(MAPPER.writeValueAsString(command), true)
        .get(TIMEOUT_SECONDS, TimeUnit.SECONDS);
    JsonNode reply = future.get(TIMEOUT_SECONDS, TimeUnit.SECONDS);
    if (reply.has("error")) {
      throw new AssertionError(method + " failed: " + reply.get("error"));
    }
    return reply.path("result");
  }

  static ObjectNode params() {
    return MAPPER.createObjectNode();
  }

  /** Sets the viewport in CSS pixels (device scale 1). */
  void viewport(int width, int height) throws Exception {
    send(
        "Emulation.setDeviceMetricsOverride",
        params()
            .put("width", width)
            .put("height", height)
            .put("deviceScaleFactor", 1)
            .put("mobile", false));
  }

  /** Opens a page and waits until its script marked it rendered ({@code data-render-ok}). */
  void open(Path page) throws Exception {
    send("Page.navigate", params().put("url", page.toUri().toString()));
    long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(TIMEOUT_SECONDS);
    while (!"1"
        .equals(
            evaluate(
                    "document.readyState === 'complete' &&"
                        + " document.documentElement.getAttribute('data-render-ok')")
                .asText())) {
      if (System.nanoTime() > deadline) {
        throw new AssertionError("the page never set data-render-ok: " + page);
      }
      Thread.sleep(50);
    }
  }

  /** The value of a script expression (JSON-serializable), thrown exceptions failing. */
  JsonNode evaluate(String expression) throws Exception {
    JsonNode result =
        send("Runtime.evaluate", params().put("expression", expression).put("returnByValue", true));
    if (result.has("exceptionDetails")) {
      throw new AssertionError(
          "script failed: " + expression + ": " + result.get("exceptionDetails"));
    }
    return result.path("result").path("value");
  }

  /** Presses the left button at (x0, y), moves to (x1, y) in steps and releases it. */
  void drag(double x0, double x1, double y) throws Exception {
    mouse("mouseMoved", x0, y, 0);
    mouse("mousePressed", x0, y, 1);
    for (int i = 1; i <= 10; i++) {
      mouse("mouseMoved", x0 + (x1 - x0) * i / 10, y, 1);
    }
    mouse("mouseReleased", x1, y, 1);
  }

  private void mouse(String type, double x, double y, int buttons) throws Exception {
    ObjectNode event = params().put("type", type).put("x", x).put("y", y);
    if (!type.equals("mouseMoved")) {
      event.put("button", "left").put("clickCount", 1);
    }
    event.put("buttons", buttons);
    send("Input.dispatchMouseEvent", event);
  }

  /** A PNG of the viewport. */
  byte[] screenshot() throws Exception {
    return Base64.getDecoder()
        .decode(
            send("Page.captureScreenshot", params().put("format", "png")).path("data").asText());
  }

  @Override
  public void close() throws Exception {
    try {
      send("Browser.close", null);
    } catch (Exception | AssertionError e) {
      // the browser may close before it answers
    }
    socket.abort();
    if (!process.waitFor(10, TimeUnit.SECONDS)) {
      process.descendants().forEach(ProcessHandle::destroyForcibly);
      process.destroyForcibly();
    }
  }
}
