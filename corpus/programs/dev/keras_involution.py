"""An involutional neural network in Keras 3 (TensorFlow backend) on generated colour shape
images, written the way the keras.io example "Involutional neural networks" is: a custom
``Involution`` layer (Li et al. 2021) that generates a kernel for every pixel from the input
itself (``kernel_gen``: ``Conv2D`` 1x1 reducing the channels by ``reduction_ratio``,
``BatchNormalization``, ``ReLU``, ``Conv2D`` 1x1 expanding to ``kernel_size**2 *
group_number``), unfolds the input's ``kernel_size`` x ``kernel_size`` neighbourhoods with
``tf.image.extract_patches``, multiplies them by the kernels and sums (multiply-add), and
returns the output and the kernel. The classifier stacks three of them with ``ReLU`` and
``MaxPooling2D``, then ``Flatten``, ``Dense(64, relu)`` and ``Dense(classes)`` of logits,
compiled with ``Adam(--lr)`` (the example's ``"adam"`` at 1e-3 learns too slowly here) and ``SparseCategoricalCrossentropy(from_logits=True)``.

The data are generated here: --n colour 16x16 images as uint8 (0..255) of four shapes (disc,
square, triangle, cross) of random size, position and colour on a darker noisy background of
another random colour; the example's ``(train_images / 255.0)`` scales them, and 20% are held
out (``validation_split=0.2``, the last images; the images are drawn in random class order).

The model (functional): ``inv_1`` (``inv_1/kernel_gen`` with ``conv2d``,
``batch_normalization``, ``conv2d_1``), ``ReLU``, ``MaxPooling2D``, ``inv_2``, ``ReLU``,
``MaxPooling2D``, ``inv_3``, ``ReLU``, ``Flatten``, ``dense`` (64, relu) and ``dense_1``
(the logits). Every involution keeps --channels channels; a ``Conv2D`` 1x1 stem
(``stem``) lifts the three colour channels to them first when --channels is not 3. The
mistakes of the families in CASES are selected with ``--bug``.
"""

import os
import sys

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
import common  # noqa: E402

np = common.np
SIZE = 16
SHAPES = ("disc", "square", "triangle", "cross")


def make_shapes(n, seed):
    """n uint8 colour images (n, 16, 16, 3) of the four shapes, and their labels."""
    rng = np.random.default_rng(7600 + seed)
    yy, xx = np.mgrid[0:SIZE, 0:SIZE].astype("float64")
    images = np.zeros((n, SIZE, SIZE, 3), dtype="uint8")
    labels = rng.integers(0, len(SHAPES), n)
    for i in range(n):
        r = rng.uniform(3.5, 6.5)
        cy, cx = rng.uniform(r, SIZE - r, 2)
        dy, dx = yy - cy, xx - cx
        k = labels[i]
        if k == 0:
            mask = dy ** 2 + dx ** 2 <= r * r
        elif k == 1:
            mask = (np.abs(dy) <= r * 0.8) & (np.abs(dx) <= r * 0.8)
        elif k == 2:
            mask = (dy + r >= 0) & (dy <= r) & (np.abs(dx) <= (dy + r) / 2)
        else:
            mask = ((np.abs(dy) <= r) & (np.abs(dx) <= r * 0.3)) | \
                   ((np.abs(dx) <= r) & (np.abs(dy) <= r * 0.3))
        fg = rng.uniform(120, 255, 3)
        bg = rng.uniform(0, 90, 3)
        img = np.broadcast_to(bg, (SIZE, SIZE, 3)).copy()
        img[mask] = fg
        img += rng.normal(0, 12, img.shape)
        images[i] = np.clip(img, 0, 255).astype("uint8")
    return images, labels.astype("int64")


def main():
    p = common.parser(__doc__)
    p.add_argument("--channels", type=int, default=8)
    p.add_argument("--reduction-ratio", type=int, default=2)
    p.add_argument("--kernel-size", type=int, default=3)
    p.add_argument("--n", type=int, default=2000)
    p.add_argument("--batch-size", type=int, default=64)
    p.add_argument("--epochs", type=int, default=15)
    p.add_argument("--lr", type=float, default=3e-3)
    p.add_argument("--bug", default=None,
                   choices=("no-rescale", "shuffle-separately", "softmax-logits"))
    args = p.parse_args()
    keras = common.keras_setup(args.seed)
    import tensorflow as tf

    class Involution(keras.layers.Layer):
        def __init__(self, channel, group_number, kernel_size, stride, reduction_ratio, name):
            super().__init__(name=name)

            # Initialize the parameters.
            self.channel = channel
            self.group_number = group_number
            self.kernel_size = kernel_size
            self.stride = stride
            self.reduction_ratio = reduction_ratio

        def build(self, input_shape):
            # Get the shape of the input.
            (_, height, width, num_channels) = input_shape

            # Scale the height and width with respect to the strides.
            height = height // self.stride
            width = width // self.stride

            # Define a layer that average pools the input tensor
            # if stride is more than 1.
            self.stride_layer = (
                keras.layers.AveragePooling2D(
                    pool_size=self.stride, strides=self.stride, padding="same"
                )
                if self.stride > 1
                else tf.identity
            )
            # Define the kernel generation layer.
            self.kernel_gen = keras.Sequential(
                [
                    keras.layers.Conv2D(
                        filters=self.channel // self.reduction_ratio, kernel_size=1
                    ),
                    keras.layers.BatchNormalization(),
                    keras.layers.ReLU(),
                    keras.layers.Conv2D(
                        filters=self.kernel_size * self.kernel_size * self.group_number,
                        kernel_size=1,
                    ),
                ],
                name="kernel_gen",
            )

            # Define reshape layers
            self.kernel_reshape = keras.layers.Reshape(
                target_shape=(
                    height,
                    width,
                    self.kernel_size * self.kernel_size,
                    1,
                    self.group_number,
                )
            )
            self.input_patches_reshape = keras.layers.Reshape(
                target_shape=(
                    height,
                    width,
                    self.kernel_size * self.kernel_size,
                    num_channels // self.group_number,
                    self.group_number,
                )
            )
            self.output_reshape = keras.layers.Reshape(
                target_shape=(height, width, num_channels)
            )

        def call(self, x):
            # Generate the kernel with respect to the input tensor.
            # B, H, W, K*K*G
            kernel_input = self.stride_layer(x)
            kernel = self.kernel_gen(kernel_input)

            # reshape the kerenl
            # B, H, W, K*K, 1, G
            kernel = self.kernel_reshape(kernel)

            # Extract input patches.
            # B, H, W, K*K*C
            input_patches = tf.image.extract_patches(
                images=x,
                sizes=[1, self.kernel_size, self.kernel_size, 1],
                strides=[1, self.stride, self.stride, 1],
                rates=[1, 1, 1, 1],
                padding="SAME",
            )

            # Reshape the input patches to align with later operations.
            # B, H, W, K*K, C//G, G
            input_patches = self.input_patches_reshape(input_patches)

            # Compute the multiply-add operation of kernels and patches.
            # B, H, W, K*K, C//G, G
            output = tf.multiply(kernel, input_patches)
            # B, H, W, C//G, G
            output = tf.reduce_sum(output, axis=3)

            # Reshape the output kernel.
            # B, H, W, C
            output = self.output_reshape(output)

            # Return the output tensor and the kernel.
            return output, kernel

    images, labels = make_shapes(args.n, args.seed)
    # BUG (shuffle-separately): the images and the labels shuffled with two separate calls
    # (each draws its own permutation), so every image gets another image's label.
    if args.bug == "shuffle-separately":
        rng = np.random.default_rng(args.seed)
        rng.shuffle(images)
        rng.shuffle(labels)
    # Normalize pixel values to be between 0 and 1.
    # BUG (no-rescale): the images fed as 0..255 (the division by 255 left out).
    if args.bug == "no-rescale":
        train_images = images.astype("float32")
    else:
        train_images = images / 255.0
    train_labels = labels

    # Build the involution model.
    C = args.channels
    inputs = keras.Input(shape=(SIZE, SIZE, 3))
    x = inputs
    if C != 3:
        x = keras.layers.Conv2D(C, 1, name="stem")(x)
    x, _ = Involution(channel=C, group_number=1, kernel_size=args.kernel_size, stride=1,
                      reduction_ratio=args.reduction_ratio, name="inv_1")(x)
    x = keras.layers.ReLU()(x)
    x = keras.layers.MaxPooling2D((2, 2))(x)
    x, _ = Involution(channel=C, group_number=1, kernel_size=args.kernel_size, stride=1,
                      reduction_ratio=args.reduction_ratio, name="inv_2")(x)
    x = keras.layers.ReLU()(x)
    x = keras.layers.MaxPooling2D((2, 2))(x)
    x, _ = Involution(channel=C, group_number=1, kernel_size=args.kernel_size, stride=1,
                      reduction_ratio=args.reduction_ratio, name="inv_3")(x)
    x = keras.layers.ReLU()(x)
    x = keras.layers.Flatten()(x)
    x = keras.layers.Dense(64, activation="relu", name="dense")(x)
    # BUG (softmax-logits): activation="softmax" on the output layer while the loss keeps
    # from_logits=True.
    head_act = "softmax" if args.bug == "softmax-logits" else None
    outputs = keras.layers.Dense(len(SHAPES), activation=head_act, name="dense_1")(x)

    inv_model = keras.Model(inputs=[inputs], outputs=[outputs], name="inv_model")

    # Compile the mode with the necessary loss function and optimizer.
    print("compiling the involution model...")
    inv_model.compile(
        optimizer=keras.optimizers.Adam(learning_rate=args.lr),
        loss=keras.losses.SparseCategoricalCrossentropy(from_logits=True),
        metrics=["accuracy"],
    )

    # train the model
    print("inv model training...")
    inv_hist = inv_model.fit(
        train_images, train_labels, epochs=args.epochs, batch_size=args.batch_size,
        validation_split=0.2, verbose=0,
        callbacks=common.recording.keras_callbacks(args.out),
    )
    h = inv_hist.history
    for e in range(len(h["loss"])):
        print("epoch %d: loss %.4f acc %.3f val loss %.4f val acc %.3f" % (
            e + 1, h["loss"][e], h["accuracy"][e], h["val_loss"][e], h["val_accuracy"][e]))
    n_fit = len(train_images) - int(len(train_images) * 0.2)
    steps = -(-n_fit // args.batch_size) * len(h["loss"])
    common.report(common.keras_result(inv_hist, steps, layers=common.keras_layers(inv_model)))


# The ground truth of every run of this program, stated from the program (corpus/README.md).
CASES = [
    {"family": "kinvol-no-rescale", "split": "dev", "architecture": "cnn",
     "origin": "Humbatova et al. 2020: missing preprocessing (pixel values not normalized); "
               "DeepLocalize benchmark (Stack Overflow): images fed as 0..255",
     "bug": "the images fed as 0..255 (the example's train_images / 255.0 left out): the "
            "involutions multiply raw pixels by the generated kernels, the first epoch's loss "
            "is 37.5 and the validation loss 5696, and after 15 epochs the training accuracy "
            "is 0.42 and the validation accuracy 0.31 with a validation loss of 2.83 (the "
            "fixed twin: 0.93 and 0.86)",
     "fix": "train_images = images / 255.0",
     "symptom": "saturation", "acceptable_symptoms": ["not_learning", "slow_convergence"],
     "root_cause": "model",
     "pairs": [
         {"id": "seed1",
          "buggy": "--bug no-rescale --seed 1 --record-every 4",
          "fixed": "--seed 1 --record-every 4"},
     ]},
    {"family": "kinvol-shuffle-separately", "split": "dev", "architecture": "cnn",
     "origin": "Humbatova et al. 2020: training data quality / wrong labels (images and "
               "labels shuffled with two separate calls); Stack Overflow: 'validation "
               "accuracy stays at chance' after shuffling x and y separately",
     "bug": "rng.shuffle(images) and rng.shuffle(labels) as two calls: each draws its own "
            "permutation, so the labels no longer belong to the images; the training accuracy "
            "creeps to 0.42 by memorizing and the validation accuracy stays at chance (0.26, "
            "the validation loss 1.39 to 1.41; the fixed twin: 0.88)",
     "fix": "no separate shuffles (or one permutation applied to both arrays)",
     "symptom": "not_learning", "acceptable_symptoms": ["slow_convergence"],
     "root_cause": "model",
     "pairs": [
         {"id": "seed2",
          "buggy": "--bug shuffle-separately --seed 2 --record-every 4",
          "fixed": "--seed 2 --record-every 4"},
     ]},
    {"family": "healthy-kinvol", "split": "dev", "architecture": "cnn",
     "origin": "healthy run",
     "description": "an involutional network as the keras.io example writes it (a custom "
                    "Involution layer with reduce/expand Conv2D kernel generation, "
                    "extract_patches and multiply-add) on generated colour shape images, "
                    "that trains well",
     "healthy": [
         {"id": "epochs18-seed4",
          "args": "--epochs 18 --seed 4 --record-every 4",
          "description": "the default involution classifier, 18 epochs"},
     ]},
]


if __name__ == "__main__":
    main()
