package io.dlanalyze.trace;

import static org.assertj.core.api.Assertions.assertThat;

import java.io.IOException;
import org.junit.jupiter.api.Test;

/**
 * The decoder messages the fuzzing of issue 17 (item 11) found in one-line errors, in words: no
 * Thrift class, no Java exception, no null-pointer text.
 */
class ReadErrorsTest {
  @Test
  void thriftRequiredField_namesTheFieldAndWhatHeldIt() {
    Exception error =
        new IOException(
            "can not read class org.apache.parquet.format.FileMetaData: Required field 'version'"
                + " was not found in serialized data! Struct:"
                + " org.apache.parquet.format.FileMetaData$FileMetaDataStandardScheme@1b2c3d");
    assertThat(ReadErrors.describe(error))
        .isEqualTo("cannot decode the footer: field 'version' is missing");
  }

  @Test
  void parquetFormatUnknownFieldType_inWords() {
    Exception error = new IOException("can not read FileMetaData: don't know what type: 15");
    assertThat(ReadErrors.describe(error))
        .isEqualTo("cannot decode the footer: a field of unknown type 15");
  }

  @Test
  void thriftSizeLimit_inWords() {
    Exception error =
        new IOException(
            "can not read FileMetaData: Message size exceeds limit: 104857600",
            new RuntimeException("Message size exceeds limit: 104857600"));
    assertThat(ReadErrors.describe(error))
        .isEqualTo(
            "cannot decode the footer: it holds more than the decoder's limit of 104857600 bytes"
                + " (a damaged length?)");
  }

  @Test
  void thriftEndOfInput_socketWordingDropped() {
    Exception error =
        new IOException(
            "can not read class org.apache.parquet.format.PageHeader: Socket is closed by peer.",
            new RuntimeException("Socket is closed by peer."));
    assertThat(ReadErrors.describe(error, "its bytes are damaged"))
        .isEqualTo("its bytes are damaged");
  }

  @Test
  void nullPointerAndIndexErrors_leftOut() {
    Exception npe =
        new RuntimeException(
            new NullPointerException(
                "Cannot invoke \"org.apache.arrow.flatbuf.RecordBatch.length()\" because"
                    + " \"batch\" is null"));
    assertThat(ReadErrors.describe(npe)).isEqualTo("the data cannot be decoded");
    Exception index =
        new IllegalArgumentException(
            "bad", new IndexOutOfBoundsException("Index 14 out of bounds for length 3"));
    assertThat(ReadErrors.describe(index)).isEqualTo("bad");
    assertThat(
            ReadErrors.describe(
                new IllegalArgumentException("java.lang.IndexOutOfBoundsException: 3")))
        .isEqualTo("the data cannot be decoded");
  }
}
