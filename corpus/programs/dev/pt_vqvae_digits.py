"""A VQ-VAE (van den Oord et al. 2017) of scikit-learn's 8x8 digits in PyTorch, written the way
the common PyTorch re-implementation ``zalandoresearch/pytorch-vq-vae`` (``vq-vae.ipynb``) is:
a ``VectorQuantizer`` module holding the codebook as an ``nn.Embedding`` of ``--num-embeddings``
codes (uniform in +-1/K), the nearest code by the expanded squared distance
``|z|^2 + |e|^2 - 2 z e^T`` and ``argmin``, one-hot encodings multiplied by the codebook, the
codebook loss ``mse(quantized, sg[z])`` plus the commitment loss ``beta * mse(sg[quantized],
z)`` (``--commitment-cost`` 0.25), the straight-through estimator ``z + (quantized -
z).detach()`` and the perplexity ``exp(-sum p log p)`` of the batch's average code usage.

The data: the 1797 digits as 1x8x8 images scaled to [0, 1] and centred (``x / 16 - 0.5``, as
the notebook's ``Normalize((0.5,), (1.0,))``), 20% held out (stratified by digit); the
reconstruction error is the MSE divided by the training set's variance, as the notebook's
``data_variance``. ``Model``: the encoder ``_encoder`` (``_conv_1``: Conv2d 1-32, 4x4, stride
2, to 4x4; ReLU; ``_conv_2``: Conv2d 32-32, 3x3; ReLU), ``_pre_vq_conv`` (1x1 to
``--embedding-dim`` 16), the quantizer ``_vq_vae``, the decoder ``_decoder`` (``_conv_1``:
Conv2d 16-32, 3x3; ReLU; ``_conv_trans_1``: ConvTranspose2d 32-1, 4x4, stride 2, back to 8x8,
linear). The loss is the reconstruction error plus the quantizer's loss; Adam (``--lr``, 1e-3
as the notebook, ``amsgrad=False``), minibatches of ``--batch-size`` (64) shuffled each epoch
(23 steps an epoch), ``--epochs`` (30). After every epoch the held-out total loss is the
validation loss; the result line adds the held-out reconstruction error
(``val_recon``), the error of predicting the training set's mean image for every held-out
image (``mean_recon``, about 0.52), and the held-out codebook perplexity and number of codes
used (``val_perplexity``, ``codes_used``). The mistakes of the families in CASES
are selected with ``--bug`` or show in a setting (``--lr``).
"""

import os
import sys

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
import common  # noqa: E402

import torch  # noqa: E402
from torch import nn  # noqa: E402
import torch.nn.functional as F  # noqa: E402

np = common.np


class VectorQuantizer(nn.Module):
    def __init__(self, num_embeddings, embedding_dim, commitment_cost, bug=None):
        super().__init__()
        self._embedding_dim = embedding_dim
        self._num_embeddings = num_embeddings
        self._embedding = nn.Embedding(num_embeddings, embedding_dim)
        self._embedding.weight.data.uniform_(-1 / num_embeddings, 1 / num_embeddings)
        self._commitment_cost = commitment_cost
        self.bug = bug

    def forward(self, inputs):
        # BCHW -> BHWC
        inputs = inputs.permute(0, 2, 3, 1).contiguous()
        input_shape = inputs.shape
        flat_input = inputs.view(-1, self._embedding_dim)

        distances = (torch.sum(flat_input ** 2, dim=1, keepdim=True)
                     + torch.sum(self._embedding.weight ** 2, dim=1)
                     - 2 * torch.matmul(flat_input, self._embedding.weight.t()))

        if self.bug == "argmax-distance":
            # BUG (argmax-distance): the farthest code taken instead of the nearest.
            encoding_indices = torch.argmax(distances, dim=1).unsqueeze(1)
        else:
            encoding_indices = torch.argmin(distances, dim=1).unsqueeze(1)
        encodings = torch.zeros(encoding_indices.shape[0], self._num_embeddings)
        encodings.scatter_(1, encoding_indices, 1)

        quantized = torch.matmul(encodings, self._embedding.weight).view(input_shape)

        e_latent_loss = F.mse_loss(quantized.detach(), inputs)
        q_latent_loss = F.mse_loss(quantized, inputs.detach())
        loss = q_latent_loss + self._commitment_cost * e_latent_loss

        if self.bug != "no-straight-through":
            quantized = inputs + (quantized - inputs).detach()
        # BUG (no-straight-through): without the line above the quantized vectors go to the
        # decoder as they are, and the argmin passes no gradient back to the encoder.
        avg_probs = torch.mean(encodings, dim=0)
        perplexity = torch.exp(-torch.sum(avg_probs * torch.log(avg_probs + 1e-10)))

        # BHWC -> BCHW
        return loss, quantized.permute(0, 3, 1, 2).contiguous(), perplexity, encoding_indices


class Encoder(nn.Module):
    def __init__(self, hidden):
        super().__init__()
        self._conv_1 = nn.Conv2d(1, hidden, kernel_size=4, stride=2, padding=1)
        self._conv_2 = nn.Conv2d(hidden, hidden, kernel_size=3, stride=1, padding=1)

    def forward(self, inputs):
        x = F.relu(self._conv_1(inputs))
        return F.relu(self._conv_2(x))


class Decoder(nn.Module):
    def __init__(self, in_channels, hidden):
        super().__init__()
        self._conv_1 = nn.Conv2d(in_channels, hidden, kernel_size=3, stride=1, padding=1)
        self._conv_trans_1 = nn.ConvTranspose2d(hidden, 1, kernel_size=4, stride=2, padding=1)

    def forward(self, inputs):
        x = F.relu(self._conv_1(inputs))
        return self._conv_trans_1(x)


class Model(nn.Module):
    def __init__(self, hidden, num_embeddings, embedding_dim, commitment_cost, bug=None):
        super().__init__()
        self._encoder = Encoder(hidden)
        self._pre_vq_conv = nn.Conv2d(hidden, embedding_dim, kernel_size=1, stride=1)
        self._vq_vae = VectorQuantizer(num_embeddings, embedding_dim, commitment_cost, bug)
        self._decoder = Decoder(embedding_dim, hidden)

    def forward(self, x):
        z = self._pre_vq_conv(self._encoder(x))
        loss, quantized, perplexity, idx = self._vq_vae(z)
        x_recon = self._decoder(quantized)
        return loss, x_recon, perplexity, idx


def main():
    p = common.parser(__doc__)
    p.add_argument("--hidden", type=int, default=32)
    p.add_argument("--num-embeddings", type=int, default=32)
    p.add_argument("--embedding-dim", type=int, default=16)
    p.add_argument("--commitment-cost", type=float, default=0.25)
    p.add_argument("--lr", type=float, default=1e-3)
    p.add_argument("--batch-size", type=int, default=64)
    p.add_argument("--epochs", type=int, default=30)
    p.add_argument("--bug", default=None, choices=("argmax-distance", "no-straight-through"))
    args = p.parse_args()
    common.torch_setup(args.seed)

    x, y = common.load("digits")
    x_tr, x_te, _, _ = common.split(x, y, seed=args.seed)
    to_images = lambda a: torch.tensor(a / 16.0 - 0.5, dtype=torch.float32).view(-1, 1, 8, 8)  # noqa: E731
    x_tr, x_te = to_images(x_tr), to_images(x_te)
    data_variance = x_tr.var().item()

    model = Model(args.hidden, args.num_embeddings, args.embedding_dim, args.commitment_cost,
                  bug=args.bug)
    optimizer = torch.optim.Adam(model.parameters(), lr=args.lr, amsgrad=False)
    gen = torch.Generator().manual_seed(args.seed)
    n = len(x_tr)
    steps_per_epoch = (n + args.batch_size - 1) // args.batch_size

    rec = common.recording.torch_recorder(
        model, args.out, optimizer=optimizer, task="regression", loss_name="MSELoss",
        steps_per_epoch=steps_per_epoch, batch_size=args.batch_size)
    history = common.History()
    val_recon = val_perplexity = None

    def evaluate():
        model.eval()
        with torch.no_grad():
            vq_loss, recon, perplexity, idx = model(x_te)
            rec_err = F.mse_loss(recon, x_te).item() / data_variance
        model.train()
        return rec_err + vq_loss.item(), rec_err, perplexity.item(), len(torch.unique(idx))

    for epoch in range(args.epochs):
        model.train()
        perm = torch.randperm(n, generator=gen)
        for b in range(steps_per_epoch):
            data = x_tr[perm[b * args.batch_size:(b + 1) * args.batch_size]]
            optimizer.zero_grad()
            vq_loss, data_recon, perplexity, _ = model(data)
            recon_error = F.mse_loss(data_recon, data) / data_variance
            loss = recon_error + vq_loss
            loss.backward()
            optimizer.step()
            val_loss = None
            if b == steps_per_epoch - 1:
                val_loss, val_recon, val_perplexity, codes_used = evaluate()
            rec.step(loss, inputs=data, targets=data, val_loss=val_loss)
            history.step(loss.item())
        history.epoch(val_loss)
        if (epoch + 1) % 5 == 0:
            print("epoch %d: loss %.4f  held-out recon %.4f  perplexity %.2f  codes %d" % (
                epoch + 1, np.mean(history.epochs[-1][0]), val_recon, val_perplexity,
                codes_used))
    rec.close()

    mean_recon = (F.mse_loss(x_tr.mean(0, keepdim=True).expand_as(x_te), x_te).item()
                  / data_variance)
    print("held-out reconstruction %.4f (the mean image: %.4f), perplexity %.2f, %d codes" % (
        val_recon, mean_recon, val_perplexity, codes_used))
    common.report(history.result(val_recon=val_recon, mean_recon=mean_recon,
                                 val_perplexity=val_perplexity, codes_used=codes_used))


# The ground truth of every run of this program, stated from the program (corpus/README.md).
CASES = [
    {"family": "vqvae-argmax-distance", "split": "dev", "architecture": "autoencoder",
     "origin": "Humbatova et al. 2020: wrong model formula (the code of a vector quantizer "
               "chosen by argmax of the distance instead of argmin)",
     "bug": "VectorQuantizer.forward takes torch.argmax(distances): every vector is replaced "
            "by its farthest code, the codebook and commitment losses pull the codes and the "
            "encoder apart and the loss grows from 1.36 in the first epoch to 263 in the 30th "
            "(690 steps); the held-out reconstruction error ends at 0.514 of the variance, the "
            "mean image's 0.510 (perplexity 17.9), against the twin's 0.139 (perplexity 12.1, "
            "loss 1.31 to 0.97)",
     "fix": "encoding_indices = torch.argmin(distances, dim=1).unsqueeze(1)",
     "symptom": "not_learning", "acceptable_symptoms": ["exploding_gradient", "oscillation"],
     "root_cause": {"layer_name": "_vq_vae._embedding", "layer_index": 5},
     "pairs": [
         {"id": "seed1",
          "buggy": "--bug argmax-distance --seed 1 --record-every 4",
          "fixed": "--seed 1 --record-every 4"},
     ]},
    {"family": "vqvae-no-straight-through", "split": "dev", "architecture": "autoencoder",
     "origin": "Humbatova et al. 2020: missing/wrong gradient path in a custom layer (the "
               "straight-through estimator of a VQ-VAE left out, a frequent question in the "
               "VQ-VAE repositories' issues: 'encoder does not learn', 'codebook collapse')",
     "bug": "VectorQuantizer.forward returns the quantized vectors instead of inputs + "
            "(quantized - inputs).detach(): the encoder gets no gradient from the "
            "reconstruction, only the commitment term, every image maps to one code "
            "(perplexity 1.00) and the decoder learns the mean digit: the held-out "
            "reconstruction error ends at 0.521 of the variance, the mean image's 0.520 "
            "(the loss 1.02 to 0.52), against the twin's 0.131 (perplexity 15.3, loss 1.07 to "
            "0.73)",
     "fix": "quantized = inputs + (quantized - inputs).detach() (the straight-through "
            "estimator)",
     "symptom": "not_learning", "acceptable_symptoms": ["vanishing_gradient"],
     "root_cause": {"layer_name": "_vq_vae._embedding", "layer_index": 5},
     "pairs": [
         {"id": "seed2",
          "buggy": "--bug no-straight-through --seed 2 --record-every 4",
          "fixed": "--seed 2 --record-every 4"},
     ]},
    {"family": "healthy-vqvae", "split": "dev", "architecture": "autoencoder",
     "origin": "healthy run",
     "description": "a VQ-VAE of the 8x8 digits with an nn.Embedding codebook and the "
                    "straight-through estimator, that trains well",
     "healthy": [
         {"id": "codes64-seed3",
          "args": "--num-embeddings 64 --seed 3 --record-every 4",
          "description": "a codebook of 64 codes"},
     ]},
]


if __name__ == "__main__":
    main()
