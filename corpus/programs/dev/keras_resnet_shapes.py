"""A small residual CNN (Keras 3 functional API) on generated images of four shapes, trained with
``model.fit``, ``class_weight`` and a ``ReduceLROnPlateau`` callback.

Data, generated here: 16x16 grey images (8-bit levels 0..255, divided by 255) of a disc, a
square outline, a cross and a triangle, each at a random position and size on a noisy
background, in an imbalanced mix (55% discs, 25% squares, 12% crosses, 8% triangles), as a
defect-inspection camera would deliver them. A stratified fifth is held out for validation.
The class weights are scikit-learn's ``compute_class_weight("balanced")`` (``n / (k * n_c)``).

The model, written as ResNet blocks usually are: a stem ``Conv2D`` / ``BatchNormalization`` /
``ReLU``; ``--blocks`` residual blocks of two 3x3 convolutions with BatchNorm whose output is
``Add()``-ed to the block's input (the second and later blocks halve the resolution and widen,
with a 1x1 projection of the shortcut) and a ReLU after the addition; then
``GlobalAveragePooling2D`` and a softmax ``Dense(4)`` (``head``). Compiled with
``sparse_categorical_crossentropy``; ``ReduceLROnPlateau(monitor="val_loss", factor=0.5,
patience=2)``. The mistakes of the families in CASES are selected with ``--bug`` or show in a
setting (``--optimizer``, ``--lr``, ``--l2``).
"""

import os
import sys

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
import common  # noqa: E402

np = common.np

SHARES = (0.55, 0.25, 0.12, 0.08)


def shapes(n, seed, size=16):
    rng = np.random.default_rng(seed)
    y = rng.choice(len(SHARES), size=n, p=SHARES)
    yy, xx = np.mgrid[0:size, 0:size]
    images = np.empty((n, size, size), dtype=np.uint8)
    for i in range(n):
        r = rng.uniform(3.0, 5.5)
        cy, cx = rng.uniform(r + 0.5, size - r - 1.5, 2)
        if y[i] == 0:      # disc
            mask = (yy - cy) ** 2 + (xx - cx) ** 2 <= r * r
        elif y[i] == 1:    # square outline
            d = np.maximum(np.abs(yy - cy), np.abs(xx - cx))
            mask = (d <= r) & (d >= r - 1.2)
        elif y[i] == 2:    # cross
            mask = ((np.abs(yy - cy) <= 0.8) & (np.abs(xx - cx) <= r)) | \
                   ((np.abs(xx - cx) <= 0.8) & (np.abs(yy - cy) <= r))
        else:              # triangle, apex up
            mask = (yy >= cy - r) & (yy <= cy + r) & \
                   (np.abs(xx - cx) <= (yy - (cy - r)) / 2.0)
        level = rng.uniform(150, 230)
        img = rng.normal(40, 18, (size, size)) + mask * level
        images[i] = np.clip(img, 0, 255).astype(np.uint8)
    return images, y


def main():
    p = common.parser(__doc__)
    p.add_argument("--optimizer", default="sgd", choices=("sgd", "adam", "rmsprop"))
    p.add_argument("--lr", type=float, default=0.05)
    p.add_argument("--momentum", type=float, default=0.9, help="SGD momentum")
    p.add_argument("--batch-size", type=int, default=32)
    p.add_argument("--epochs", type=int, default=8)
    p.add_argument("--filters", type=int, default=8)
    p.add_argument("--blocks", type=int, default=2)
    p.add_argument("--l2", type=float, default=0.0, help="L2 factor on every kernel")
    p.add_argument("--samples", type=int, default=1500)
    p.add_argument("--no-class-weight", action="store_true")
    p.add_argument("--bug", default=None, choices=("no-relu", "inverse-counts"))
    args = p.parse_args()
    keras = common.keras_setup(args.seed)
    from keras import layers, regularizers
    from sklearn.model_selection import train_test_split
    from sklearn.utils.class_weight import compute_class_weight

    images, labels = shapes(args.samples, args.seed)
    x = (images.astype("float32") / 255.0)[..., None]
    x_train, x_val, y_train, y_val = train_test_split(x, labels, test_size=0.2, stratify=labels,
                                                      random_state=args.seed)
    classes = np.arange(len(SHARES))
    if args.bug == "inverse-counts":
        # BUG (inverse-counts): "weight = 1 / frequency" written with the raw counts: every
        # weight is about 1/100 to 1/700, and so is every gradient of the loss.
        counts = np.bincount(y_train, minlength=len(SHARES))
        class_weight = {int(c): 1.0 / counts[c] for c in classes}
    else:
        weights = compute_class_weight("balanced", classes=classes, y=y_train)
        class_weight = {int(c): float(w) for c, w in zip(classes, weights)}
    if args.no_class_weight:
        class_weight = None

    reg = regularizers.l2(args.l2) if args.l2 > 0 else None

    def relu(h, name):
        # BUG (no-relu): the ReLUs were dropped "because BatchNorm already normalizes": every
        # layer is linear.
        return h if args.bug == "no-relu" else layers.ReLU(name=name)(h)

    def conv(h, filters, name, strides=1, kernel=3):
        return layers.Conv2D(filters, kernel, strides=strides, padding="same", use_bias=False,
                             kernel_initializer="he_normal", kernel_regularizer=reg,
                             name=name)(h)

    def block(h, filters, index, downsample):
        shortcut = h
        stride = 2 if downsample else 1
        out = conv(h, filters, "block%d_conv1" % index, strides=stride)
        out = layers.BatchNormalization(name="block%d_bn1" % index)(out)
        out = relu(out, "block%d_relu1" % index)
        out = conv(out, filters, "block%d_conv2" % index)
        out = layers.BatchNormalization(name="block%d_bn2" % index)(out)
        if downsample:
            shortcut = conv(shortcut, filters, "block%d_proj" % index, strides=2, kernel=1)
        out = layers.Add(name="block%d_add" % index)([out, shortcut])
        return relu(out, "block%d_out" % index)

    inputs = keras.Input(shape=(16, 16, 1), name="image")
    h = conv(inputs, args.filters, "stem_conv")
    h = layers.BatchNormalization(name="stem_bn")(h)
    h = relu(h, "stem_relu")
    filters = args.filters
    for index in range(1, args.blocks + 1):
        downsample = index > 1
        if downsample:
            filters *= 2
        h = block(h, filters, index, downsample)
    h = layers.GlobalAveragePooling2D(name="gap")(h)
    outputs = layers.Dense(len(SHARES), activation="softmax", kernel_regularizer=reg,
                           name="head")(h)
    model = keras.Model(inputs, outputs, name="shape_resnet")

    if args.optimizer == "sgd":
        optimizer = keras.optimizers.SGD(learning_rate=args.lr, momentum=args.momentum)
    elif args.optimizer == "rmsprop":
        optimizer = keras.optimizers.RMSprop(learning_rate=args.lr)
    else:
        optimizer = keras.optimizers.Adam(learning_rate=args.lr)
    model.compile(optimizer=optimizer, loss="sparse_categorical_crossentropy",
                  metrics=["accuracy"])
    plateau = keras.callbacks.ReduceLROnPlateau(monitor="val_loss", factor=0.5, patience=2,
                                                min_lr=1e-5)
    history = model.fit(x_train, y_train, validation_data=(x_val, y_val),
                        batch_size=args.batch_size, epochs=args.epochs,
                        class_weight=class_weight, verbose=0,
                        callbacks=[plateau] + common.recording.keras_callbacks(args.out))
    h = history.history
    for e in range(len(h["loss"])):
        print("epoch %d: loss %.4g acc %.3f val loss %.4g val acc %.3f" % (
            e + 1, h["loss"][e], h["accuracy"][e], h["val_loss"][e], h["val_accuracy"][e]))
    pred = np.argmax(model.predict(x_val, verbose=0), axis=1)
    recalls = [float(np.mean(pred[y_val == c] == c)) for c in classes]
    steps = -(-len(x_train) // args.batch_size) * len(h["loss"])
    common.report(common.keras_result(history, steps, layers=common.keras_layers(model),
                                      val_balanced_accuracy=float(np.mean(recalls))))


# The ground truth of every run of this program, stated from the program (corpus/README.md).
CASES = [
    {"family": "kresblk-relus-dropped", "split": "dev", "architecture": "cnn",
     "origin": "Humbatova et al. 2020 taxonomy: missing activation function; DeepFD fault "
               "type: activation (no non-linearity between the convolutions)",
     "bug": "every ReLU of the stem and of the residual blocks left out: convolutions, "
            "BatchNorm, additions and the global average make a linear model of the pixels; "
            "the training loss ends at 0.95 against 0.010 and the validation accuracy at 0.72 "
            "(balanced 0.65) against 0.967 (balanced 0.98)",
     "fix": "a ReLU after each BatchNorm and after each addition",
     "symptom": "missing_activation", "acceptable_symptoms": ["not_learning",
                                                             "slow_convergence"],
     "root_cause": "model",
     "pairs": [
         {"id": "sgd",
          "buggy": "--bug no-relu --record-every 4",
          "fixed": "--record-every 4"},
     ]},
    {"family": "kresblk-class-weight-raw-inverse", "split": "dev", "architecture": "cnn",
     "origin": "Humbatova et al. 2020 taxonomy: wrong class weights / loss scaling; DeepFD "
               "fault type: loss function (weighted far below its scale)",
     "bug": "class_weight = {c: 1 / count_c} with the raw counts (1/660 to 1/96): every "
            "sample's loss and gradient is scaled down about 100 to 700 times under SGD "
            "momentum; the weighted loss falls only from 0.0053 to 0.0042, the validation "
            "accuracy is 0.52 (the majority class is 0.55; balanced 0.46) and the validation "
            "loss 1.25",
     "fix": "compute_class_weight('balanced') (n / (k * n_c), about 0.45 to 3.1)",
     "symptom": "slow_convergence", "acceptable_symptoms": ["not_learning"],
     "root_cause": "model",
     "pairs": [
         {"id": "sgd-seed0",
          "buggy": "--bug inverse-counts --seed 0 --record-every 4",
          "fixed": "--seed 0 --record-every 4"},
     ]},
    {"family": "kresblk-l2-dominates", "split": "dev", "architecture": "cnn",
     "origin": "DeepFD / DeepDiagnosis fault type: regularization (kernel_regularizer "
               "l2(1.0) on every kernel)",
     "bug": "kernel_regularizer=l2(1.0) on every convolution and the head: the penalty "
            "(22 in the first epoch) dominates the loss and keeps the kernels near zero; the "
            "model predicts the majority class, validation accuracy 0.55 (balanced 0.25) and "
            "validation loss 4.4",
     "fix": "no L2 penalty",
     "symptom": "not_learning", "acceptable_symptoms": ["slow_convergence",
                                                       "vanishing_gradient"],
     "root_cause": "model",
     "pairs": [
         {"id": "sgd-seed1",
          "buggy": "--l2 1.0 --seed 1 --record-every 4",
          "fixed": "--seed 1 --record-every 4"},
     ]},
    {"family": "kresblk-sgd-lr-too-high", "split": "dev", "architecture": "cnn",
     "origin": "AUTOTRAINER: oscillating loss / DeepFD fault type: learning rate too high "
               "(SGD momentum 0.9 at 3.0)",
     "bug": "SGD(learning_rate=3.0, momentum=0.9): the validation loss is 2.6e4 after the "
            "first epoch, the training loss swings between 1.5 and 3.6 and ReduceLROnPlateau "
            "does not rescue it; validation accuracy 0.38 against 0.93",
     "fix": "SGD(learning_rate=0.05, momentum=0.9)",
     "symptom": "oscillation", "acceptable_symptoms": ["not_learning", "exploding_gradient"],
     "root_cause": "model",
     "pairs": [
         {"id": "sgd-seed2",
          "buggy": "--lr 3.0 --seed 2 --record-every 4",
          "fixed": "--seed 2 --record-every 4"},
     ]},
    {"family": "healthy-kresblk", "split": "dev", "architecture": "cnn",
     "origin": "healthy run",
     "description": "a small residual CNN with class weights and ReduceLROnPlateau on "
                    "imbalanced generated shapes that trains well",
     "healthy": [
         {"id": "rmsprop-filters12-seed4",
          "args": "--optimizer rmsprop --lr 1e-3 --filters 12 --seed 4 --record-every 4",
          "description": "RMSprop 1e-3, 12 to 24 filters"},
         {"id": "no-class-weight-seed5",
          "args": "--no-class-weight --seed 5 --record-every 4",
          "description": "SGD momentum 0.9 at 0.05 without class weights"},
         {"id": "blocks3-seed6",
          "args": "--blocks 3 --seed 6 --record-every 4",
          "description": "three residual blocks"},
     ]},
]


if __name__ == "__main__":
    main()
