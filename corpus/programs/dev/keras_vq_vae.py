"""A VQ-VAE (van den Oord et al. 2017) of scikit-learn's 8x8 digits in Keras 3, written the way
the keras.io example "Vector-Quantized Variational Autoencoders" is: a ``VectorQuantizer``
layer of its own holding the codebook (``embedding_dim x num_embeddings``, uniform in
+-0.05), the nearest code by the expanded squared distance and ``argmin``, the commitment loss
``beta * mean((sg[quantized] - x)^2)`` and the codebook loss ``mean((quantized - sg[x])^2)``
added with ``self.add_loss``, the straight-through estimator ``x + sg(quantized - x)``; a
convolutional encoder and decoder; and a ``VQVAETrainer(keras.Model)`` whose ``train_step``
computes the reconstruction loss (the mean squared error over the training variance) plus
``sum(self.vqvae.losses)`` under a ``GradientTape``, with ``Mean`` trackers ``total_loss``,
``reconstruction_loss`` and ``vq_loss``; trained with ``fit``.

The example creates the codebook with ``tf.Variable``: Keras 3 does not track a raw
``tf.Variable`` set on a layer (it is not among the layer's weights, nor the model's
``trainable_variables``), so the codebook is created with ``self.add_weight`` and the same
initializer, as the Keras 3 ports of the example do.

The data: the 1797 digits as 8x8x1 images scaled to [0, 1] and centred (``x / 16 - 0.5``, as
the example's ``x / 255 - 0.5``), 20% held out (stratified by digit). The encoder
(``Sequential``): ``Conv2D(32, 3, relu)`` (``enc_conv1``), ``Conv2D(32, 3, strides=2, relu)``
(``enc_conv2``, 4x4) and ``Conv2D(--latent-dim, 1)`` (``enc_out``); the quantizer
(``vector_quantizer``, --num-embeddings codes); the decoder: ``Conv2DTranspose(32, 3,
strides=2, relu)`` (``dec_deconv1``, 8x8), ``Conv2DTranspose(32, 3, relu)`` (``dec_deconv2``)
and ``Conv2DTranspose(1, 3)`` (``dec_out``, linear). ``Adam(--lr)``.

The trainer also has a ``test_step`` (the same losses, no update), so ``fit(validation_data=)``
logs ``val_loss`` (the validation total loss) and ``val_reconstruction_loss``. After training
the program reports the validation reconstruction error (the MSE over the training variance,
``val_rel_mse``) and the codebook usage of the validation images' 4x4 codes: the perplexity
``exp(-sum p log p)`` of the code frequencies and the number of codes used.

Recorded (``--out``): the ``fit``. The trainer overrides ``train_step``, so the recorder runs in
callback mode (weights of the seven layers, their applied gradients, forward and activation
rows, the logged ``loss``, the learning rate, the validation loss; recorders/README.md). The mistakes of the families in CASES are selected with
``--bug`` or show in a setting (``--lr``).
"""

import os
import sys

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
import common  # noqa: E402

np = common.np


def build(keras, args, train_variance):
    import tensorflow as tf
    from keras import layers

    class VectorQuantizer(layers.Layer):
        def __init__(self, num_embeddings, embedding_dim, beta=0.25, **kwargs):
            super().__init__(**kwargs)
            self.embedding_dim = embedding_dim
            self.num_embeddings = num_embeddings
            # The `beta` parameter is best kept between [0.25, 2] as per the paper.
            self.beta = beta
            # Initialize the embeddings which we will quantize.
            self.embeddings = self.add_weight(
                shape=(self.embedding_dim, self.num_embeddings),
                initializer=keras.initializers.RandomUniform(-0.05, 0.05),
                trainable=True, name="embeddings_vqvae")

        def call(self, x):
            # Calculate the input shape of the inputs and
            # then flatten the inputs keeping `embedding_dim` intact.
            input_shape = tf.shape(x)
            flattened = tf.reshape(x, [-1, self.embedding_dim])

            # Quantization.
            encoding_indices = self.get_code_indices(flattened)
            encodings = tf.one_hot(encoding_indices, self.num_embeddings)
            quantized = tf.matmul(encodings, self.embeddings, transpose_b=True)

            # Reshape the quantized values back to the original input shape
            quantized = tf.reshape(quantized, input_shape)

            # Calculate vector quantization loss and add that to the layer.
            commitment_loss = tf.reduce_mean((tf.stop_gradient(quantized) - x) ** 2)
            if args.bug == "codebook-loss-stopped":
                # BUG (codebook-loss-stopped): the codebook term copied from the commitment
                # term, stop_gradient on the quantized vectors again: no gradient reaches the
                # codebook
                codebook_loss = tf.reduce_mean((tf.stop_gradient(quantized) - x) ** 2)
            else:
                codebook_loss = tf.reduce_mean((quantized - tf.stop_gradient(x)) ** 2)
            self.add_loss(self.beta * commitment_loss + codebook_loss)

            if args.bug == "no-straight-through":
                # BUG (no-straight-through): the quantized vectors returned as they are; the
                # argmin has no gradient, so the reconstruction loss never reaches the encoder
                return quantized
            # Straight-through estimator.
            quantized = x + tf.stop_gradient(quantized - x)
            return quantized

        def get_code_indices(self, flattened_inputs):
            # Calculate L2-normalized distance between the inputs and the codes.
            similarity = tf.matmul(flattened_inputs, self.embeddings)
            distances = (
                tf.reduce_sum(flattened_inputs ** 2, axis=1, keepdims=True)
                + tf.reduce_sum(self.embeddings ** 2, axis=0)
                - 2 * similarity
            )
            # Derive the indices for minimum distances.
            encoding_indices = tf.argmin(distances, axis=1)
            return encoding_indices

    def get_encoder(latent_dim):
        encoder_inputs = keras.Input(shape=(8, 8, 1))
        x = layers.Conv2D(32, 3, activation="relu", padding="same",
                          name="enc_conv1")(encoder_inputs)
        x = layers.Conv2D(32, 3, activation="relu", strides=2, padding="same",
                          name="enc_conv2")(x)
        encoder_outputs = layers.Conv2D(latent_dim, 1, padding="same", name="enc_out")(x)
        return keras.Model(encoder_inputs, encoder_outputs, name="encoder")

    def get_decoder(latent_dim):
        latent_inputs = keras.Input(shape=(4, 4, latent_dim))
        x = layers.Conv2DTranspose(32, 3, activation="relu", strides=2, padding="same",
                                   name="dec_deconv1")(latent_inputs)
        x = layers.Conv2DTranspose(32, 3, activation="relu", padding="same",
                                   name="dec_deconv2")(x)
        # BUG (sigmoid-output): a sigmoid on the last layer, as for pixels in [0, 1], while
        # the pixels are centred to [-0.5, 0.5]
        out_act = "sigmoid" if args.bug == "sigmoid-output" else None
        decoder_outputs = layers.Conv2DTranspose(1, 3, padding="same", activation=out_act,
                                                 name="dec_out")(x)
        return keras.Model(latent_inputs, decoder_outputs, name="decoder")

    def get_vqvae(latent_dim, num_embeddings):
        vq_layer = VectorQuantizer(num_embeddings, latent_dim, name="vector_quantizer")
        encoder = get_encoder(latent_dim)
        decoder = get_decoder(latent_dim)
        inputs = keras.Input(shape=(8, 8, 1))
        encoder_outputs = encoder(inputs)
        quantized_latents = vq_layer(encoder_outputs)
        reconstructions = decoder(quantized_latents)
        return keras.Model(inputs, reconstructions, name="vq_vae")

    class VQVAETrainer(keras.models.Model):
        def __init__(self, train_variance, latent_dim=16, num_embeddings=32, **kwargs):
            super().__init__(**kwargs)
            self.train_variance = train_variance
            self.latent_dim = latent_dim
            self.num_embeddings = num_embeddings

            self.vqvae = get_vqvae(self.latent_dim, self.num_embeddings)

            self.total_loss_tracker = keras.metrics.Mean(name="total_loss")
            self.reconstruction_loss_tracker = keras.metrics.Mean(name="reconstruction_loss")
            self.vq_loss_tracker = keras.metrics.Mean(name="vq_loss")

        @property
        def metrics(self):
            return [
                self.total_loss_tracker,
                self.reconstruction_loss_tracker,
                self.vq_loss_tracker,
            ]

        def train_step(self, x):
            if isinstance(x, tuple):
                x = x[0]
            with tf.GradientTape() as tape:
                # Outputs from the VQ-VAE.
                reconstructions = self.vqvae(x, training=True)

                # Calculate the losses.
                reconstruction_loss = (
                    tf.reduce_mean((x - reconstructions) ** 2) / self.train_variance
                )
                total_loss = reconstruction_loss + sum(self.vqvae.losses)

            # Backpropagation.
            grads = tape.gradient(total_loss, self.vqvae.trainable_variables)
            self.optimizer.apply_gradients(zip(grads, self.vqvae.trainable_variables))

            # Loss tracking.
            self.total_loss_tracker.update_state(total_loss)
            self.reconstruction_loss_tracker.update_state(reconstruction_loss)
            self.vq_loss_tracker.update_state(sum(self.vqvae.losses))

            # Log results.
            return {
                "loss": self.total_loss_tracker.result(),
                "reconstruction_loss": self.reconstruction_loss_tracker.result(),
                "vqvae_loss": self.vq_loss_tracker.result(),
            }

        def test_step(self, x):
            if isinstance(x, tuple):
                x = x[0]
            reconstructions = self.vqvae(x, training=False)
            reconstruction_loss = (
                tf.reduce_mean((x - reconstructions) ** 2) / self.train_variance
            )
            total_loss = reconstruction_loss + sum(self.vqvae.losses)
            self.total_loss_tracker.update_state(total_loss)
            self.reconstruction_loss_tracker.update_state(reconstruction_loss)
            self.vq_loss_tracker.update_state(sum(self.vqvae.losses))
            return {
                "loss": self.total_loss_tracker.result(),
                "reconstruction_loss": self.reconstruction_loss_tracker.result(),
                "vqvae_loss": self.vq_loss_tracker.result(),
            }

    return VQVAETrainer(train_variance, latent_dim=args.latent_dim,
                        num_embeddings=args.num_embeddings, name="vqvae_trainer")


def main():
    p = common.parser(__doc__)
    p.add_argument("--latent-dim", type=int, default=16)
    p.add_argument("--num-embeddings", type=int, default=32)
    p.add_argument("--lr", type=float, default=2e-3)
    p.add_argument("--batch-size", type=int, default=64)
    p.add_argument("--epochs", type=int, default=20)
    p.add_argument("--bug", default=None,
                   choices=("no-straight-through", "codebook-loss-stopped", "sigmoid-output"))
    args = p.parse_args()
    keras = common.keras_setup(args.seed)
    from sklearn.datasets import load_digits
    from sklearn.model_selection import train_test_split

    digits = load_digits()
    x = (digits.images / 16.0 - 0.5).astype("float32")[..., None]
    x_train, x_val = train_test_split(x, test_size=0.2, stratify=digits.target,
                                      random_state=args.seed)
    data_variance = float(np.var(x_train))

    vqvae_trainer = build(keras, args, data_variance)
    vqvae_trainer.compile(optimizer=keras.optimizers.Adam(learning_rate=args.lr))
    history = vqvae_trainer.fit(x_train, epochs=args.epochs, batch_size=args.batch_size,
                                validation_data=(x_val,), verbose=0,
                                callbacks=common.recording.keras_callbacks(args.out))
    h = history.history
    for e in range(len(h["loss"])):
        print("epoch %d: loss %.4f recon %.4f vq %.4f val loss %.4f val recon %.4f" % (
            e + 1, h["loss"][e], h["reconstruction_loss"][e], h["vqvae_loss"][e],
            h["val_loss"][e], h["val_reconstruction_loss"][e]))

    # reconstruction error and codebook usage on the held-out digits
    vqvae = vqvae_trainer.vqvae
    encoder = vqvae.get_layer("encoder")
    quantizer = vqvae.get_layer("vector_quantizer")
    reconstructions = np.asarray(vqvae.predict(x_val, verbose=0))
    val_mse = float(np.mean((x_val - reconstructions) ** 2))
    encoded = np.asarray(encoder.predict(x_val, verbose=0))
    flat = encoded.reshape(-1, args.latent_dim)
    codes = np.asarray(quantizer.get_code_indices(flat))
    counts = np.bincount(codes, minlength=args.num_embeddings)
    prob = counts / counts.sum()
    nz = prob[prob > 0]
    perplexity = float(np.exp(-np.sum(nz * np.log(nz))))
    print("validation: mse %.5f rel mse %.4f perplexity %.2f codes used %d of %d" % (
        val_mse, val_mse / data_variance, perplexity, int((counts > 0).sum()),
        args.num_embeddings))

    steps = -(-len(x_train) // args.batch_size) * len(h["loss"])
    result = {"steps": steps, "epochs": len(h["loss"]), "first_loss": h["loss"][0],
              "loss": h["loss"][-1], "val_loss": float(h["val_loss"][-1]),
              "reconstruction_loss": float(h["reconstruction_loss"][-1]),
              "val_mse": val_mse, "val_rel_mse": val_mse / data_variance,
              "perplexity": perplexity, "codes_used": int((counts > 0).sum()),
              "nan": any(not np.isfinite(v) for v in h["loss"]),
              "layers": ["enc_conv1", "enc_conv2", "enc_out", "vector_quantizer",
                         "dec_deconv1", "dec_deconv2", "dec_out"]}
    common.report(result)


# The ground truth of every run of this program, stated from the program (corpus/README.md).
CASES = [
    {"family": "kvqvae-no-straight-through", "split": "dev", "architecture": "autoencoder",
     "origin": "Humbatova et al. 2020: missing/wrong gradient path in a custom layer (the "
               "straight-through estimator of a VQ-VAE left out, a frequent question on Stack "
               "Overflow and the VQ-VAE repositories' issues: 'encoder does not learn', "
               "'codebook collapse')",
     "bug": "VectorQuantizer.call returns the quantized vectors instead of x + "
            "stop_gradient(quantized - x): the argmin passes no gradient, the encoder learns "
            "from the commitment term only, every image maps to one code (perplexity 1.00) and "
            "the decoder learns the mean digit: a validation reconstruction error of "
            "0.533 of the variance (the fixed twin: 0.099, perplexity 16.2)",
     "fix": "return x + tf.stop_gradient(quantized - x) (the straight-through estimator)",
     "symptom": "not_learning", "acceptable_symptoms": ["vanishing_gradient"],
     "root_cause": {"layer_name": "vq_vae/vector_quantizer", "layer_index": 3},
     "pairs": [
         {"id": "seed1",
          "buggy": "--bug no-straight-through --seed 1 --record-every 4",
          "fixed": "--seed 1 --record-every 4"},
     ]},
    {"family": "kvqvae-sigmoid-output", "split": "dev", "architecture": "autoencoder",
     "origin": "Humbatova et al. 2020: wrong activation function of the last layer (a sigmoid "
               "output for pixels centred to [-0.5, 0.5]); DeepFD fault type: wrong activation",
     "bug": "the decoder's last Conv2DTranspose has activation='sigmoid' while the pixels are "
            "x / 16 - 0.5: it cannot output the background's -0.5, the reconstruction error "
            "stays above the error of predicting the mean (1.265 of the variance, perplexity "
            "1.93; the fixed twin: 0.085, perplexity 13.5)",
     "fix": "a linear last layer (activation=None), as the example has",
     "symptom": "saturation", "acceptable_symptoms": ["not_learning", "loss_mismatch"],
     "root_cause": {"layer_name": "vq_vae/decoder/dec_out", "layer_index": 6},
     "pairs": [
         {"id": "seed2",
          "buggy": "--bug sigmoid-output --seed 2 --record-every 4",
          "fixed": "--seed 2 --record-every 4"},
     ]},
    {"family": "healthy-kvqvae", "split": "dev", "architecture": "autoencoder",
     "origin": "healthy run",
     "description": "a VQ-VAE of the 8x8 digits with a VectorQuantizer layer and a trainer "
                    "with its own train_step (recorded in callback mode), that trains well",
     "healthy": [
         {"id": "codes64-seed3",
          "args": "--num-embeddings 64 --seed 3 --record-every 4",
          "description": "a codebook of 64 codes"},
         {"id": "latent8-lr1e-3-seed4",
          "args": "--latent-dim 8 --lr 1e-3 --seed 4 --record-every 4",
          "description": "codes of 8 dimensions, Adam(1e-3)"},
     ]},
]


if __name__ == "__main__":
    main()
