"""End-to-end fixture: the bug of Stack Overflow 48385830 in Keras 3, recorded with the one-line
callback. An MLP with no activation functions (two Dense layers, auto-named dense and dense_1)
trained with MSE and SGD at lr=3 on generated 3-class data: the outputs of the last layer
overflow within a few steps and the loss becomes NaN. --fixed: sigmoid hidden layer, softmax
output, lr=0.5.

    python3 train_keras_buggy.py REPO_ROOT OUT.arrows [--fixed]
"""

import argparse
import os
import sys

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
parser = argparse.ArgumentParser()
parser.add_argument("repo")
parser.add_argument("out")
parser.add_argument("--fixed", action="store_true")
args = parser.parse_args()
sys.path.insert(0, os.path.join(args.repo, "recorders"))

import keras  # noqa: E402
import numpy as np  # noqa: E402

from dltrace.keras import Recorder  # noqa: E402

keras.utils.set_random_seed(1)
rng = np.random.default_rng(1)
centers = rng.normal(size=(3, 8)) * 2
labels = np.arange(300) % 3
x = (centers[labels] + rng.normal(size=(300, 8))).astype("float32")
y = keras.utils.to_categorical(labels, 3)
if args.fixed:
    model = keras.Sequential([keras.Input((8,)), keras.layers.Dense(16, activation="sigmoid"),
                              keras.layers.Dense(3, activation="softmax")])
    lr = 0.5
else:
    model = keras.Sequential([keras.Input((8,)), keras.layers.Dense(16), keras.layers.Dense(3)])
    lr = 3.0
    x = x * 1000.0  # raw, unscaled inputs
model.compile(optimizer=keras.optimizers.SGD(lr),
              loss=keras.losses.CategoricalCrossentropy(from_logits=not args.fixed),
              metrics=["accuracy"])
model.fit(x, y, batch_size=30, epochs=6, shuffle=False, verbose=0,
          callbacks=[Recorder(args.out, task="classification")])
