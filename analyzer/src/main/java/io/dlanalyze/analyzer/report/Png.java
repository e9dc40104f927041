package io.dlanalyze.analyzer.report;

import static java.lang.String.format;
import static java.util.Locale.ROOT;

import java.io.ByteArrayOutputStream;
import java.nio.charset.StandardCharsets;
import java.util.Base64;
import java.util.zip.CRC32;
import java.util.zip.Deflater;

/**
 * A minimal encoder for 8-bit palette PNG images, so the heatmap can be one small raster inside the
 * report's SVG without java.desktop (ImageIO) or a dependency. Deterministic: the same pixels
 * always give the same bytes.
 */
final class Png {
  private Png() {}

  /**
   * Encodes an image of {@code width x height} palette indexes (row-major) with a palette of
   * 0xRRGGBB colours.
   */
  static byte[] encode(int width, int height, byte[] pixels, int[] palette) {
    if (width <= 0 || height <= 0) {
      throw new IllegalArgumentException(
          format(ROOT, "image size must be positive: %dx%d", width, height));
    }
    if (pixels.length != width * height) {
      throw new IllegalArgumentException(
          format(ROOT, "pixels must hold %d values: %d", width * height, pixels.length));
    }
    if (palette.length == 0 || palette.length > 256) {
      throw new IllegalArgumentException(
          format(ROOT, "palette must hold 1 to 256 colours: %d", palette.length));
    }
    ByteArrayOutputStream png = new ByteArrayOutputStream();
    png.writeBytes(new byte[] {(byte) 0x89, 'P', 'N', 'G', '\r', '\n', 0x1A, '\n'});
    byte[] header = new byte[13];
    putInt(header, 0, width);
    putInt(header, 4, height);
    header[8] = 8; // bit depth
    header[9] = 3; // colour type: palette
    chunk(png, "IHDR", header);
    byte[] plte = new byte[palette.length * 3];
    for (int i = 0; i < palette.length; i++) {
      plte[3 * i] = (byte) (palette[i] >>> 16);
      plte[3 * i + 1] = (byte) (palette[i] >>> 8);
      plte[3 * i + 2] = (byte) palette[i];
    }
    chunk(png, "PLTE", plte);
    byte[] raw = new byte[height * (width + 1)];
    for (int y = 0; y < height; y++) {
      raw[y * (width + 1)] = 0; // filter: none
      System.arraycopy(pixels, y * width, raw, y * (width + 1) + 1, width);
    }
    Deflater deflater = new Deflater(Deflater.BEST_COMPRESSION);
    try {
      deflater.setInput(raw);
      deflater.finish();
      ByteArrayOutputStream compressed = new ByteArrayOutputStream();
      byte[] buffer = new byte[8192];
      while (!deflater.finished()) {
        int n = deflater.deflate(buffer);
        compressed.write(buffer, 0, n);
      }
      chunk(png, "IDAT", compressed.toByteArray());
    } finally {
      deflater.end();
    }
    chunk(png, "IEND", new byte[0]);
    return png.toByteArray();
  }

  /** The image as a {@code data:} URI. */
  static String dataUri(int width, int height, byte[] pixels, int[] palette) {
    return "data:image/png;base64,"
        + Base64.getEncoder().encodeToString(encode(width, height, pixels, palette));
  }

  private static void chunk(ByteArrayOutputStream png, String type, byte[] data) {
    byte[] length = new byte[4];
    putInt(length, 0, data.length);
    png.writeBytes(length);
    byte[] typeBytes = type.getBytes(StandardCharsets.US_ASCII);
    png.writeBytes(typeBytes);
    png.writeBytes(data);
    CRC32 crc = new CRC32();
    crc.update(typeBytes);
    crc.update(data);
    byte[] sum = new byte[4];
    putInt(sum, 0, (int) crc.getValue());
    png.writeBytes(sum);
  }

  private static void putInt(byte[] target, int offset, int value) {
    target[offset] = (byte) (value >>> 24);
    target[offset + 1] = (byte) (value >>> 16);
    target[offset + 2] = (byte) (value >>> 8);
    target[offset + 3] = (byte) value;
  }
}
