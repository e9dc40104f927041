"""ConvMixer (Trockman & Kolter 2022, "Patches Are All You Need?") in Keras 3 on scikit-learn's
digits, written the way the keras.io example "Image classification with ConvMixer" is: an
``activation_block`` (``Activation("gelu")`` then ``BatchNormalization``, its momentum
--bn-momentum, 0.9 as PyTorch's default that the paper's code uses, not Keras' 0.99), a ``conv_stem``
(the patch embedding: a ``Conv2D`` whose kernel and stride are the patch size), ``conv_mixer_block``s
(a ``DepthwiseConv2D`` with "same" padding, its activation block added to the block's input,
then a pointwise 1x1 ``Conv2D`` and an activation block), ``GlobalAvgPool2D`` and a
``Dense(num_classes, softmax)``, compiled with ``AdamW`` and
``sparse_categorical_crossentropy`` and trained with ``fit`` on a ``tf.data`` pipeline with the
example's random-crop augmentation.

The data are scikit-learn's 1797 digits (8x8, pixels 0..16) as images (n, 8, 8, 1), upsampled
to 16x16 (``tf.image.resize``, bilinear) once before training; a stratified split keeps 1437
to train and 360 to validate. The model starts with ``Rescaling(1 / 16)`` (the example's
``Rescaling(1 / 255)`` for CIFAR-10 pixels). Training batches are padded by 2 pixels and
cropped back to 16x16 at random (the example's ``RandomCrop`` augmentation; no flip for digits).

The model (functional, Keras' default layer names): ``conv2d`` (the stem, --filters filters of
--patch-size x --patch-size, stride --patch-size: 8x8 patches of 2x2), ``batch_normalization``,
--depth blocks of ``depthwise_conv2d_<k>`` (kernel --kernel-size), ``batch_normalization_<k>``,
``conv2d_<k>`` (1x1) and ``batch_normalization_<k>``, ``global_average_pooling2d`` and
``dense``. ``AdamW(--lr, weight_decay=--weight-decay)`` (1e-3 and 1e-4, the example's), batches
of --batch-size (64), --epochs epochs (10). The mistakes of the families in CASES are selected
with ``--bug`` or show in a setting (``--lr``).
"""

import os
import sys

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
import common  # noqa: E402

np = common.np

num_classes = 10
image_size = 16


def main():
    p = common.parser(__doc__)
    p.add_argument("--filters", type=int, default=32)
    p.add_argument("--depth", type=int, default=3)
    p.add_argument("--kernel-size", type=int, default=5)
    p.add_argument("--patch-size", type=int, default=2)
    p.add_argument("--lr", type=float, default=1e-3)
    p.add_argument("--weight-decay", type=float, default=1e-4)
    p.add_argument("--bn-momentum", type=float, default=0.9)
    p.add_argument("--batch-size", type=int, default=64)
    p.add_argument("--epochs", type=int, default=10)
    p.add_argument("--bug", default=None,
                   choices=("labels-shuffled", "softmax-from-logits", "no-residual"))
    args = p.parse_args()
    keras = common.keras_setup(args.seed)
    import tensorflow as tf
    from keras import layers
    from sklearn.datasets import load_digits
    from sklearn.model_selection import train_test_split

    digits = load_digits()
    images = digits.images.reshape(-1, 8, 8, 1).astype("float32")
    images = tf.image.resize(images, (image_size, image_size)).numpy()
    x_train, x_val, y_train, y_val = train_test_split(
        images, digits.target, test_size=0.2, stratify=digits.target,
        random_state=args.seed)
    if args.bug == "labels-shuffled":
        # BUG (labels-shuffled): the training labels are shuffled on their own (meant to
        # shuffle images and labels together), so no label belongs to its image any more.
        y_train = np.random.default_rng(args.seed).permutation(y_train)

    auto = tf.data.AUTOTUNE

    def random_crop(image, label):
        image = tf.image.resize_with_crop_or_pad(image, image_size + 4, image_size + 4)
        image = tf.image.random_crop(image, (tf.shape(image)[0], image_size, image_size, 1),
                                     seed=args.seed)
        return image, label

    def make_datasets(images, labels, is_train=False):
        dataset = tf.data.Dataset.from_tensor_slices((images, labels))
        if is_train:
            dataset = dataset.shuffle(1024, seed=args.seed)
        dataset = dataset.batch(args.batch_size)
        if is_train:
            dataset = dataset.map(random_crop, num_parallel_calls=1, deterministic=True)
        return dataset.prefetch(auto)

    train_dataset = make_datasets(x_train, y_train, is_train=True)
    val_dataset = make_datasets(x_val, y_val)

    def activation_block(x):
        x = layers.Activation("gelu")(x)
        # momentum 0.9 (PyTorch's BatchNorm2d momentum=0.1, as the paper's code): with Keras'
        # 0.99 the moving statistics of a few hundred steps are still far from the data's
        return layers.BatchNormalization(momentum=args.bn_momentum)(x)

    def conv_stem(x, filters: int, patch_size: int):
        x = layers.Conv2D(filters, kernel_size=patch_size, strides=patch_size)(x)
        return activation_block(x)

    def conv_mixer_block(x, filters: int, kernel_size: int):
        # Depthwise convolution.
        x0 = x
        x = layers.DepthwiseConv2D(kernel_size=kernel_size, padding="same")(x)
        if args.bug == "no-residual":
            # BUG (no-residual): the residual Add left out of the depthwise step.
            x = activation_block(x)
        else:
            x = layers.Add()([activation_block(x), x0])  # Residual.

        # Pointwise convolution.
        x = layers.Conv2D(filters, kernel_size=1)(x)
        x = activation_block(x)
        return x

    def get_conv_mixer(image_size=16, filters=32, depth=3, kernel_size=5, patch_size=2,
                       num_classes=10):
        inputs = keras.Input((image_size, image_size, 1))
        x = layers.Rescaling(scale=1.0 / 16)(inputs)

        # Extract patch embeddings.
        x = conv_stem(x, filters, patch_size)

        # ConvMixer blocks.
        for _ in range(depth):
            x = conv_mixer_block(x, filters, kernel_size)

        # Classification block.
        x = layers.GlobalAvgPool2D()(x)
        outputs = layers.Dense(num_classes, activation="softmax")(x)
        return keras.Model(inputs, outputs)

    model = get_conv_mixer(image_size, args.filters, args.depth, args.kernel_size,
                           args.patch_size, num_classes)
    optimizer = keras.optimizers.AdamW(learning_rate=args.lr, weight_decay=args.weight_decay)
    if args.bug == "softmax-from-logits":
        # BUG (softmax-from-logits): the loss is told it gets logits, but the Dense layer
        # already applies softmax: the probabilities are softmaxed a second time.
        loss = keras.losses.SparseCategoricalCrossentropy(from_logits=True)
    else:
        loss = "sparse_categorical_crossentropy"
    model.compile(optimizer=optimizer, loss=loss, metrics=["accuracy"])
    history = model.fit(train_dataset, validation_data=val_dataset, epochs=args.epochs,
                        verbose=0, callbacks=common.recording.keras_callbacks(args.out))
    for e in range(len(history.history["loss"])):
        print("epoch %d: loss %.4f acc %.3f val loss %.4f val acc %.3f" % (
            e + 1, history.history["loss"][e], history.history["accuracy"][e],
            history.history["val_loss"][e], history.history["val_accuracy"][e]))
    steps = -(-len(x_train) // args.batch_size) * len(history.history["loss"])
    common.report(common.keras_result(history, steps, layers=common.keras_layers(model)))


# The ground truth of every run of this program, stated from the program (corpus/README.md).
CASES = [
    {"family": "convmixer-labels-shuffled", "split": "dev", "architecture": "cnn",
     "origin": "Humbatova et al. 2020: training data quality, wrong labels (the labels "
               "shuffled apart from their images); Stack Overflow 'model stuck at 10% "
               "accuracy' after shuffling x and y separately",
     "bug": "y_train = rng.permutation(y_train): the training labels are shuffled on their "
            "own, no label belongs to its image; the loss stays near ln 10 (2.32 in the first "
            "epoch, 2.25 in the tenth: the network memorises a little, training accuracy "
            "0.17) and the validation accuracy is 0.031 (loss 2.43) against the twin's 0.972",
     "fix": "no separate shuffle of the labels (train_test_split already shuffles images and "
            "labels together)",
     "symptom": "not_learning", "acceptable_symptoms": [],
     "root_cause": "model",
     "pairs": [
         {"id": "adamw-seed1",
          "buggy": "--bug labels-shuffled --seed 1 --record-every 4",
          "fixed": "--seed 1 --record-every 4"},
     ]},
    {"family": "convmixer-bn-momentum-too-high", "split": "dev", "architecture": "cnn",
     "origin": "Stack Overflow: Keras BatchNormalization with the default momentum=0.99 on a "
               "small data set, validation accuracy at chance while the training accuracy "
               "is high (the moving mean and variance have not caught up after a few hundred "
               "steps); Humbatova et al. 2020: model, suboptimal hyperparameter of a layer "
               "(batch normalisation)",
     "bug": "BatchNormalization(momentum=0.99), Keras' default, in every activation block of "
            "a run of 230 steps: the moving statistics still hold 0.99^230 = 10% of their "
            "initial 0 and 1, so in inference mode every BatchNormalization misscales its "
            "input; the training accuracy is 0.967 (loss 2.00 to 0.18, the same as the twin), "
            "but the validation accuracy is 0.097 in every epoch (one class) with the "
            "validation loss rising from 2.31 to 4.64, against the twin's 0.975 (0.149)",
     "fix": "BatchNormalization(momentum=0.9) (PyTorch's momentum=0.1, the paper's code)",
     "symptom": "not_learning", "acceptable_symptoms": ["saturation"],
     "root_cause": "model",
     "pairs": [
         {"id": "adamw-seed0",
          "buggy": "--bn-momentum 0.99 --seed 0 --record-every 4",
          "fixed": "--seed 0 --record-every 4"},
     ]},
    {"family": "healthy-convmixer", "split": "dev", "architecture": "cnn",
     "origin": "healthy run",
     "description": "ConvMixer written as the keras.io example on digits upsampled to 16x16, "
                    "trained with AdamW, that trains well",
     "healthy": [
         {"id": "f48-k3-lr2e-3-e12-seed4",
          "args": "--filters 48 --kernel-size 3 --lr 2e-3 --epochs 12 --seed 4 "
                  "--record-every 4",
          "description": "48 filters, depthwise kernels of 3, AdamW(2e-3), 12 epochs"},
     ]},
]


if __name__ == "__main__":
    main()
