"""A sparse autoencoder for dictionary learning, as interpretability repositories write it
(Bricken et al. 2023, "Towards Monosemanticity"), on the toy data of "Toy models of
superposition" (Elhage et al. 2022).

The data are generated here: ``--true-features`` ground-truth feature directions (random unit
vectors) in a smaller space of ``--dim`` dimensions; each activation vector is a sparse
combination of them (each feature on with probability ``--feature-prob``, with a magnitude
uniform in [0, 1]), plus a fixed offset and a little Gaussian noise. 16384 vectors train, 4096
are held out.

The model (``SparseAutoencoder``) has the decoder bias ``b_dec`` (initialized to the training
mean) subtracted before the encoder (the "pre-encoder bias"), an ``encoder`` ``Linear`` of
``--dict-size`` units with a ReLU, and a ``decoder`` ``Linear`` without bias whose columns (the
dictionary's atoms) are kept at unit norm: before each optimizer step the component of their
gradient parallel to them is removed, after each step they are renormalized. The encoder
starts as the decoder's transpose. The loss is the MSE reconstruction (summed over dimensions,
averaged over the batch) plus ``--l1-coeff`` times the L1 norm of the hidden activations;
Adam. Dead neurons are not resampled. The result line adds the held-out fraction of variance
explained (``val_fve``), the mean max cosine similarity of the true features to the learned
decoder columns (``mmcs``), the mean L0 of the hidden code (``val_l0``) and the share of the
dictionary that never fired on the held-out set (``dead_fraction``). The mistakes of the
families in CASES are selected with ``--bug`` or show in a setting (``--l1-coeff``, ``--lr``).
"""

import os
import sys

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
import common  # noqa: E402

import torch  # noqa: E402
from torch import nn  # noqa: E402
from torch.nn import functional as F  # noqa: E402

np = common.np


def toy_activations(n, dim, n_features, prob, seed):
    """Sparse combinations of ``n_features`` unit directions in ``dim`` dimensions."""
    rng = np.random.default_rng(seed)
    features = rng.normal(size=(n_features, dim))
    features /= np.linalg.norm(features, axis=1, keepdims=True)
    on = rng.random((n, n_features)) < prob
    coeffs = on * rng.random((n, n_features))
    offset = rng.normal(scale=0.5, size=dim)
    x = coeffs @ features + offset + rng.normal(scale=0.01, size=(n, dim))
    return x.astype(np.float32), features.astype(np.float32)


class SparseAutoencoder(nn.Module):
    def __init__(self, d_in, d_hidden, encoder_relu=True):
        super().__init__()
        self.b_dec = nn.Parameter(torch.zeros(d_in))
        self.encoder = nn.Linear(d_in, d_hidden)
        self.decoder = nn.Linear(d_hidden, d_in, bias=False)
        nn.init.kaiming_uniform_(self.decoder.weight)
        with torch.no_grad():
            self.decoder.weight /= self.decoder.weight.norm(dim=0, keepdim=True)
            self.encoder.weight.copy_(self.decoder.weight.T)
            self.encoder.bias.zero_()
        self.encoder_relu = encoder_relu

    def encode(self, x):
        pre = self.encoder(x - self.b_dec)
        # BUG (encoder-no-relu): the ReLU left out of the encoder ("the L1 penalty makes the
        # code sparse anyway"): the hidden code is linear and signed.
        return F.relu(pre) if self.encoder_relu else pre

    def forward(self, x):
        f = self.encode(x)
        return self.decoder(f) + self.b_dec, f

    @torch.no_grad()
    def make_decoder_weights_unit_norm(self, dim=0):
        w = self.decoder.weight
        w /= w.norm(dim=dim, keepdim=True)

    @torch.no_grad()
    def remove_parallel_grad(self, dim=0):
        w = self.decoder.weight
        if w.grad is None:
            return
        parallel = (w.grad * w).sum(dim=dim, keepdim=True) * w
        w.grad -= parallel


def main():
    p = common.parser(__doc__)
    p.add_argument("--dim", type=int, default=24, help="dimension of the activations")
    p.add_argument("--true-features", type=int, default=64)
    p.add_argument("--feature-prob", type=float, default=0.04)
    p.add_argument("--dict-size", type=int, default=128)
    p.add_argument("--l1-coeff", type=float, default=0.3)
    p.add_argument("--lr", type=float, default=1e-2)
    p.add_argument("--batch-size", type=int, default=256)
    p.add_argument("--epochs", type=int, default=8)
    p.add_argument("--bug", default=None,
                   choices=("encoder-no-relu", "norm-rows", "no-zero-grad"))
    args = p.parse_args()
    common.torch_setup(args.seed)

    x_all, true_features = toy_activations(16384 + 4096, args.dim, args.true_features,
                                           args.feature_prob, args.seed)
    x_tr, x_val = torch.from_numpy(x_all[:16384]), torch.from_numpy(x_all[16384:])
    loader = torch.utils.data.DataLoader(
        torch.utils.data.TensorDataset(x_tr), batch_size=args.batch_size, shuffle=True,
        generator=torch.Generator().manual_seed(args.seed))

    sae = SparseAutoencoder(args.dim, args.dict_size, encoder_relu=args.bug != "encoder-no-relu")
    with torch.no_grad():
        sae.b_dec.copy_(x_tr.mean(0))
    optimizer = torch.optim.Adam(sae.parameters(), lr=args.lr)
    # BUG (norm-rows): the atoms are the decoder's columns (weight is d_in x d_hidden), but the
    # norm is taken over dim=1, the rows, so the atoms' norms are never constrained.
    norm_dim = 1 if args.bug == "norm-rows" else 0

    steps_per_epoch = len(loader)
    rec = common.recording.torch_recorder(
        sae, args.out, optimizer=optimizer, task="regression", loss_name="mse_plus_l1",
        steps_per_epoch=steps_per_epoch, batch_size=args.batch_size)
    history = common.History()
    val_var = ((x_val - x_val.mean(0)) ** 2).sum(1).mean()
    fve = mmcs = l0 = dead = None
    for epoch in range(args.epochs):
        sae.train()
        for b, (xb,) in enumerate(loader):
            if args.bug != "no-zero-grad":
                optimizer.zero_grad()
            # BUG (no-zero-grad): optimizer.zero_grad() forgotten: every batch's gradient is
            # added to all the earlier ones.
            x_hat, f = sae(xb)
            mse = (x_hat - xb).pow(2).sum(-1).mean()
            l1 = f.abs().sum(-1).mean()
            loss = mse + args.l1_coeff * l1
            loss.backward()
            sae.remove_parallel_grad(norm_dim)
            optimizer.step()
            sae.make_decoder_weights_unit_norm(norm_dim)
            val_loss = None
            if b == steps_per_epoch - 1:
                sae.eval()
                with torch.no_grad():
                    vh, vf = sae(x_val)
                    v_mse = (vh - x_val).pow(2).sum(-1).mean()
                    val_loss = (v_mse + args.l1_coeff * vf.abs().sum(-1).mean()).item()
                    fve = 1.0 - (v_mse / val_var).item()
                    l0 = (vf != 0).float().sum(-1).mean().item()
                    dead = ((vf != 0).sum(0) == 0).float().mean().item()
                    atoms = F.normalize(sae.decoder.weight, dim=0)
                    cos = torch.from_numpy(true_features) @ atoms
                    mmcs = cos.max(dim=1).values.mean().item()
                sae.train()
            rec.step(loss, inputs=xb, targets=xb, val_loss=val_loss)
            history.step(loss.item())
        history.epoch(val_loss)
        print("epoch %d: loss %.4f val %.4f fve %.3f mmcs %.3f L0 %.2f dead %.2f" % (
            epoch + 1, np.mean(history.epochs[-1][0]), val_loss, fve, mmcs, l0, dead))
    rec.close()
    common.report(history.result(val_fve=fve, mmcs=mmcs, val_l0=l0, dead_fraction=dead))


# The ground truth of every run of this program, stated from the program (corpus/README.md).
CASES = [
    {"family": "sae-l1-too-high", "split": "dev", "architecture": "autoencoder",
     "origin": "AUTOTRAINER / DeepFD fault type (hyperparameter: regularization too strong); "
               "the sparsity coefficient of a sparse autoencoder set ten times too high, "
               "which kills the dictionary",
     "bug": "l1_coeff 3.0 (meant 0.3): the L1 penalty outweighs the reconstruction and the "
            "encoder's ReLU units go silent: held-out L0 0.04, fraction of variance explained "
            "0.000 and mean max cosine similarity 0.487 (random atoms) against the twin's "
            "L0 5.0, 0.832 and 0.991",
     "fix": "l1_coeff 0.3",
     "symptom": "dead_or_zero", "acceptable_symptoms": ["not_learning"],
     "root_cause": "model",
     "pairs": [
         {"id": "adam-dict128",
          "buggy": "--l1-coeff 3 --record-every 4",
          "fixed": "--l1-coeff 0.3 --record-every 4"},
     ]},
    {"family": "sae-encoder-no-relu", "split": "dev", "architecture": "autoencoder",
     "origin": "Humbatova et al. 2020 (model: missing activation function); the encoder of a "
               "sparse autoencoder written without its ReLU",
     "bug": "the encoder's ReLU left out: the code is linear and signed, every one of the 128 "
            "units is active on every input (L0 128) and the dictionary does not find the "
            "true features: held-out fraction of variance explained 0.748 and mean max cosine "
            "similarity 0.652 against the twin's 0.832 and 0.991 (L0 5.0); loss 0.614 against "
            "0.371",
     "fix": "ReLU after the encoder",
     "symptom": "missing_activation", "acceptable_symptoms": ["not_learning"],
     "root_cause": {"layer_name": "encoder", "layer_index": 0},
     "pairs": [
         {"id": "adam-dict128",
          "buggy": "--bug encoder-no-relu --record-every 4",
          "fixed": "--record-every 4"},
     ]},
    {"family": "sae-norm-rows", "split": "dev", "architecture": "autoencoder",
     "origin": "Humbatova et al. 2020 (model: wrong tensor dimension in a layer's constraint); "
               "the decoder's unit-norm constraint applied over dim=1 instead of dim=0",
     "bug": "the decoder weight (d_in x d_hidden) renormalized and its gradient projected over "
            "dim=1, the rows, instead of the columns (the atoms): the atoms' norms are not "
            "held at 1, a fifth of the units die (dead fraction 0.20 against 0.00) and the "
            "held-out fraction of variance explained is 0.677 and the mean max cosine "
            "similarity 0.794 against the twin's 0.827 and 0.988 (seed 2)",
     "fix": "norm and parallel-gradient projection over dim=0, the decoder's columns",
     "symptom": "dead_or_zero", "acceptable_symptoms": ["not_learning", "slow_convergence"],
     "root_cause": {"layer_name": "decoder", "layer_index": 1},
     "pairs": [
         {"id": "adam-dict128-seed2",
          "buggy": "--bug norm-rows --seed 2 --record-every 4",
          "fixed": "--seed 2 --record-every 4"},
     ]},
    {"family": "healthy-sae", "split": "dev", "architecture": "autoencoder",
     "origin": "healthy run",
     "description": "a sparse autoencoder with unit-norm decoder columns that recovers the "
                    "toy model's true features",
     "healthy": [
         {"id": "dict96-seed1",
          "args": "--dict-size 96 --seed 1 --record-every 4",
          "description": "a dictionary of 96, l1_coeff 0.3, Adam 0.01"},
     ]},
]


if __name__ == "__main__":
    main()
