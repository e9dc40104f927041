package io.dlanalyze.trace.tensorboard;

import com.google.protobuf.ByteString;
import io.dlanalyze.trace.tensorboard.proto.DataType;
import io.dlanalyze.trace.tensorboard.proto.HistogramProto;
import io.dlanalyze.trace.tensorboard.proto.TensorProto;
import io.dlanalyze.trace.tensorboard.proto.TensorShapeProto;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import org.jspecify.annotations.Nullable;

/**
 * The numbers in a summary value: a scalar from a rank-0 tensor (TF 2's {@code tf.summary.scalar}),
 * the five moments of a histogram from a {@code HistogramProto} (TF 1, PyTorch) or estimated from a
 * {@code [k, 3]} bucket tensor (TF 2's {@code tf.summary.histogram}). Nothing is allocated in
 * proportion to the tensor: values are read in place from the message's bytes.
 */
final class TensorValues {
  /** Indices into a moments array. */
  static final int MIN = 0;

  static final int MAX = 1;
  static final int COUNT = 2;
  static final int SUM = 3;
  static final int SUM_SQUARES = 4;
  static final int MOMENTS = 5;

  private TensorValues() {}

  /**
   * The value of a one-element numeric tensor.
   *
   * @return false when the tensor is not a single number of a numeric type
   */
  static boolean scalar(TensorProto tensor, double[] out) {
    if (elementCount(tensor.getTensorShape()) != 1) {
      return false;
    }
    DataType type = tensor.getDtype();
    ByteString content = tensor.getTensorContent();
    ByteBuffer raw =
        content.isEmpty() ? null : content.asReadOnlyByteBuffer().order(ByteOrder.LITTLE_ENDIAN);
    switch (type) {
      case DT_FLOAT -> {
        if (raw != null) {
          return raw.remaining() == 4 && set(out, raw.getFloat(0));
        }
        return tensor.getFloatValCount() == 1 && set(out, tensor.getFloatVal(0));
      }
      case DT_DOUBLE -> {
        if (raw != null) {
          return raw.remaining() == 8 && set(out, raw.getDouble(0));
        }
        return tensor.getDoubleValCount() == 1 && set(out, tensor.getDoubleVal(0));
      }
      case DT_HALF, DT_BFLOAT16 -> {
        int bits;
        if (raw != null) {
          if (raw.remaining() != 2) {
            return false;
          }
          bits = raw.getShort(0) & 0xFFFF;
        } else if (tensor.getHalfValCount() == 1) {
          bits = tensor.getHalfVal(0) & 0xFFFF;
        } else {
          return false;
        }
        return set(out, type == DataType.DT_HALF ? halfToFloat(bits) : bfloat16ToFloat(bits));
      }
      case DT_INT32, DT_INT16, DT_INT8, DT_UINT8, DT_UINT16 -> {
        if (raw != null) {
          return false;
        }
        return tensor.getIntValCount() == 1 && set(out, tensor.getIntVal(0));
      }
      case DT_INT64 -> {
        if (raw != null) {
          return raw.remaining() == 8 && set(out, raw.getLong(0));
        }
        return tensor.getInt64ValCount() == 1 && set(out, tensor.getInt64Val(0));
      }
      default -> {
        return false;
      }
    }
  }

  /**
   * Estimates the moments of a TF 2 histogram: a {@code [k, 3]} float64 or float32 tensor of (left
   * edge, right edge, count) rows. min and max are the outer edges of the non-empty buckets (exact:
   * TF puts the edges at the data's min and max); the sum and sum of squares assume each bucket's
   * values spread evenly over it (midpoint, plus width^2 / 12 for the square). An edge that is NaN
   * (TF's buckets of data holding a NaN) gives NaN moments.
   *
   * @return false when the tensor is not a [k, 3] float tensor
   */
  static boolean buckets(TensorProto tensor, double[] moments) {
    TensorShapeProto shape = tensor.getTensorShape();
    if (shape.getDimCount() != 2 || shape.getDim(1).getSize() != 3) {
      return false;
    }
    long rows = shape.getDim(0).getSize();
    if (rows < 0 || rows > Integer.MAX_VALUE / 3) {
      return false;
    }
    DataType type = tensor.getDtype();
    ByteString content = tensor.getTensorContent();
    ByteBuffer raw =
        content.isEmpty() ? null : content.asReadOnlyByteBuffer().order(ByteOrder.LITTLE_ENDIAN);
    int width;
    long available;
    if (type == DataType.DT_DOUBLE) {
      width = 8;
      available = raw != null ? raw.remaining() / 8 : tensor.getDoubleValCount();
    } else if (type == DataType.DT_FLOAT) {
      width = 4;
      available = raw != null ? raw.remaining() / 4 : tensor.getFloatValCount();
    } else {
      return false;
    }
    if (raw != null && raw.remaining() % width != 0) {
      return false;
    }
    if (available != rows * 3) {
      return false;
    }
    double min = Double.NaN;
    double max = Double.NaN;
    double count = 0;
    double sum = 0;
    double squares = 0;
    boolean nanEdge = false;
    for (int row = 0; row < rows; row++) {
      double left = element(tensor, raw, width, row * 3);
      double right = element(tensor, raw, width, row * 3 + 1);
      double n = element(tensor, raw, width, row * 3 + 2);
      if (Double.isNaN(left) || Double.isNaN(right)) {
        nanEdge = true;
      }
      if (!(n > 0)) {
        continue;
      }
      if (Double.isNaN(min)) {
        min = left;
      }
      max = right;
      double middle = left / 2 + right / 2;
      double spread = right - left;
      count += n;
      sum += n * middle;
      squares += n * (middle * middle + spread * spread / 12);
    }
    if (nanEdge) {
      moments[MIN] = Double.NaN;
      moments[MAX] = Double.NaN;
      moments[COUNT] = count;
      moments[SUM] = Double.NaN;
      moments[SUM_SQUARES] = Double.NaN;
      return true;
    }
    moments[MIN] = min;
    moments[MAX] = max;
    moments[COUNT] = count;
    moments[SUM] = sum;
    moments[SUM_SQUARES] = squares;
    return true;
  }

  /** The exact moments a {@code HistogramProto} carries. */
  static void histogram(HistogramProto histogram, double[] moments) {
    moments[MIN] = histogram.getMin();
    moments[MAX] = histogram.getMax();
    moments[COUNT] = histogram.getNum();
    moments[SUM] = histogram.getSum();
    moments[SUM_SQUARES] = histogram.getSumSquares();
  }

  /** The string of a one-element string tensor (the Keras model config), or null. */
  static @Nullable String string(TensorProto tensor) {
    if (tensor.getDtype() != DataType.DT_STRING || tensor.getStringValCount() != 1) {
      return null;
    }
    return tensor.getStringVal(0).toStringUtf8();
  }

  private static double element(
      TensorProto tensor, @Nullable ByteBuffer raw, int width, int index) {
    if (raw != null) {
      return width == 8 ? raw.getDouble(index * 8) : raw.getFloat(index * 4);
    }
    return width == 8 ? tensor.getDoubleVal(index) : tensor.getFloatVal(index);
  }

  /** Elements of a shape: 1 for a scalar, -1 for an unknown or negative dimension. */
  private static long elementCount(TensorShapeProto shape) {
    long count = 1;
    for (TensorShapeProto.Dim dim : shape.getDimList()) {
      if (dim.getSize() < 0) {
        return -1;
      }
      count = dim.getSize() == 0 ? 0 : count * Math.min(dim.getSize(), 1L << 32);
      if (count > 1L << 32) {
        return -1;
      }
    }
    return count;
  }

  private static boolean set(double[] out, double value) {
    out[0] = value;
    return true;
  }

  /** IEEE 754 half precision to float (Float.float16ToFloat is Java 20+). */
  static float halfToFloat(int bits) {
    int sign = (bits >>> 15) & 1;
    int exponent = (bits >>> 10) & 0x1F;
    int mantissa = bits & 0x3FF;
    float value;
    if (exponent == 0) {
      value = mantissa * 0x1p-24f;
    } else if (exponent == 31) {
      value = mantissa == 0 ? Float.POSITIVE_INFINITY : Float.NaN;
    } else {
      value = Float.intBitsToFloat(((exponent - 15 + 127) << 23) | (mantissa << 13));
    }
    return sign == 1 ? -value : value;
  }

  static float bfloat16ToFloat(int bits) {
    return Float.intBitsToFloat(bits << 16);
  }
}
