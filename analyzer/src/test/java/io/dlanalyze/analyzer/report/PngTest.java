package io.dlanalyze.analyzer.report;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import java.awt.image.BufferedImage;
import java.io.ByteArrayInputStream;
import java.util.Base64;
import javax.imageio.ImageIO;
import org.junit.jupiter.api.Test;

class PngTest {
  @Test
  void encode_paletteImage_decodesToSamePixels() throws Exception {
    int[] palette = {0xff0000, 0x00ff00, 0x0000ff, 0x123456};
    int width = 7;
    int height = 3;
    byte[] pixels = new byte[width * height];
    for (int i = 0; i < pixels.length; i++) {
      pixels[i] = (byte) (i % palette.length);
    }

    BufferedImage image =
        ImageIO.read(new ByteArrayInputStream(Png.encode(width, height, pixels, palette)));

    assertThat(image.getWidth()).isEqualTo(width);
    assertThat(image.getHeight()).isEqualTo(height);
    for (int y = 0; y < height; y++) {
      for (int x = 0; x < width; x++) {
        assertThat(image.getRGB(x, y) & 0xffffff)
            .isEqualTo(palette[(y * width + x) % palette.length]);
      }
    }
  }

  @Test
  void dataUri_sameInput_sameBytes() {
    byte[] pixels = {0, 1, 1, 0};
    int[] palette = {0, 0xffffff};

    String uri = Png.dataUri(2, 2, pixels, palette);

    assertThat(uri)
        .startsWith("data:image/png;base64,")
        .isEqualTo(Png.dataUri(2, 2, pixels, palette));
    byte[] png = Base64.getDecoder().decode(uri.substring("data:image/png;base64,".length()));
    assertThat(png).startsWith(0x89, 'P', 'N', 'G');
  }

  @Test
  void encode_wrongPixelCount_rejected() {
    assertThatThrownBy(() -> Png.encode(2, 2, new byte[3], new int[] {0}))
        .isInstanceOf(IllegalArgumentException.class)
        .hasMessage("pixels must hold 4 values: 3");
  }
}
