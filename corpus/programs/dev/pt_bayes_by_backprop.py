"""A Bayesian neural network trained by Bayes by Backprop (Blundell et al. 2015) on the 8x8
digits, written the way the usual PyTorch tutorials of the paper write it.

Every layer is a ``BayesLinear``: a factorised Gaussian posterior over its weights and biases,
kept as a mean (``weight_mu``, ``bias_mu``, drawn in [-0.2, 0.2]) and a ``rho`` (drawn in
[-5, -4]) with ``sigma = softplus(rho) = log(1 + exp(rho))``. Each forward pass samples the
weights with the reparameterisation trick, ``w = mu + sigma * eps`` with ``eps ~ N(0, 1)``,
and keeps the log-density of the sample under the posterior (``log_variational_posterior``)
and under the prior (``log_prior``): the paper's scale mixture of two zero-mean Gaussians
(``pi`` 0.5, ``sigma1`` = exp(0), ``sigma2`` = exp(-6)). The network (``BayesianNetwork``) is
``l1`` (64 -> ``--hidden``, ReLU), ``l2`` (``--hidden`` -> ``--hidden``, ReLU) and ``l3``
(``--hidden`` -> 10 logits).

The loss of a minibatch is the paper's minibatch ELBO: the Monte-Carlo estimate of the KL
term, ``(log q(w) - log p(w))``, divided by the number of batches in an epoch, plus the
negative log-likelihood of the batch summed over its rows (``F.cross_entropy(...,
reduction="sum")``), averaged over ``--samples`` weight samples; Adam at ``--lr``, batches of
``--batch-size`` (64), ``--epochs`` epochs. The data are scikit-learn's digits (pixels / 16);
20% (stratified) validate. At test time the predictive distribution is the mean of the
softmax over ``--test-samples`` (10) weight samples: the result line adds the validation
accuracy of that ensemble and its predictive NLL (``val_nll``, nats per digit); the recorded
``val_loss`` is that NLL too. The mistakes of the families in CASES are selected with
``--bug`` or show in a setting (``--lr``).
"""

import math
import os
import sys

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
import common  # noqa: E402

import torch  # noqa: E402
import torch.nn.functional as F  # noqa: E402
from torch import nn  # noqa: E402
from torch.utils.data import DataLoader, TensorDataset  # noqa: E402

np = common.np

PI = 0.5
SIGMA_1 = math.exp(-0)
SIGMA_2 = math.exp(-6)
CLASSES = 10
BUG = None


class Gaussian:
    def __init__(self, mu, rho):
        self.mu = mu
        self.rho = rho
        self.normal = torch.distributions.Normal(0, 1)

    @property
    def sigma(self):
        if BUG == "sigma-is-rho":
            # BUG (sigma-is-rho): the rho parameter used as the standard deviation itself
            # (the softplus left out): rho starts in [-5, -4], so sigma is negative and
            # log(sigma) in the posterior's log-density is NaN.
            return self.rho
        return torch.log1p(torch.exp(self.rho))

    def sample(self):
        epsilon = self.normal.sample(self.rho.size())
        return self.mu + self.sigma * epsilon

    def log_prob(self, value):
        return (-math.log(math.sqrt(2 * math.pi))
                - torch.log(self.sigma)
                - ((value - self.mu) ** 2) / (2 * self.sigma ** 2)).sum()


class ScaleMixtureGaussian:
    def __init__(self, pi, sigma1, sigma2):
        self.pi = pi
        self.gaussian1 = torch.distributions.Normal(0, sigma1)
        self.gaussian2 = torch.distributions.Normal(0, sigma2)

    def log_prob(self, value):
        prob1 = torch.exp(self.gaussian1.log_prob(value))
        prob2 = torch.exp(self.gaussian2.log_prob(value))
        return (torch.log(self.pi * prob1 + (1 - self.pi) * prob2)).sum()


class BayesLinear(nn.Module):
    def __init__(self, in_features, out_features, rho_init=(-5.0, -4.0)):
        super().__init__()
        self.in_features = in_features
        self.out_features = out_features
        # Weight parameters
        self.weight_mu = nn.Parameter(torch.Tensor(out_features, in_features).uniform_(-0.2, 0.2))
        if BUG == "rho-init-like-mu":
            # BUG (rho-init-like-mu): rho initialised like the mean (a copy-paste of the
            # line above): sigma = softplus(rho) starts at 0.6 to 0.8, larger than the
            # means, so every forward pass runs on weights that are mostly noise.
            self.weight_rho = nn.Parameter(
                torch.Tensor(out_features, in_features).uniform_(-0.2, 0.2))
        else:
            self.weight_rho = nn.Parameter(
                torch.Tensor(out_features, in_features).uniform_(*rho_init))
        self.weight = Gaussian(self.weight_mu, self.weight_rho)
        # Bias parameters
        self.bias_mu = nn.Parameter(torch.Tensor(out_features).uniform_(-0.2, 0.2))
        if BUG == "rho-init-like-mu":
            self.bias_rho = nn.Parameter(torch.Tensor(out_features).uniform_(-0.2, 0.2))
        else:
            self.bias_rho = nn.Parameter(torch.Tensor(out_features).uniform_(*rho_init))
        self.bias = Gaussian(self.bias_mu, self.bias_rho)
        # Prior distributions
        self.weight_prior = ScaleMixtureGaussian(PI, SIGMA_1, SIGMA_2)
        self.bias_prior = ScaleMixtureGaussian(PI, SIGMA_1, SIGMA_2)
        self.log_prior = 0
        self.log_variational_posterior = 0

    def forward(self, input, sample=False, calculate_log_probs=False):
        if self.training or sample:
            weight = self.weight.sample()
            bias = self.bias.sample()
        else:
            weight = self.weight.mu
            bias = self.bias.mu
        if self.training or calculate_log_probs:
            self.log_prior = self.weight_prior.log_prob(weight) + self.bias_prior.log_prob(bias)
            self.log_variational_posterior = self.weight.log_prob(weight) + \
                self.bias.log_prob(bias)
        else:
            self.log_prior, self.log_variational_posterior = 0, 0
        return F.linear(input, weight, bias)


class BayesianNetwork(nn.Module):
    def __init__(self, hidden, rho_init=(-5.0, -4.0)):
        super().__init__()
        self.l1 = BayesLinear(64, hidden, rho_init)
        self.l2 = BayesLinear(hidden, hidden, rho_init)
        self.l3 = BayesLinear(hidden, CLASSES, rho_init)

    def forward(self, x, sample=False):
        x = F.relu(self.l1(x, sample))
        x = F.relu(self.l2(x, sample))
        return self.l3(x, sample)

    def log_prior(self):
        return self.l1.log_prior + self.l2.log_prior + self.l3.log_prior

    def log_variational_posterior(self):
        return self.l1.log_variational_posterior + self.l2.log_variational_posterior + \
            self.l3.log_variational_posterior

    def sample_elbo(self, input, target, num_batches, samples):
        outputs = []
        log_priors = torch.zeros(samples)
        log_variational_posteriors = torch.zeros(samples)
        for i in range(samples):
            outputs.append(self(input, sample=True))
            log_priors[i] = self.log_prior()
            log_variational_posteriors[i] = self.log_variational_posterior()
        log_prior = log_priors.mean()
        log_variational_posterior = log_variational_posteriors.mean()
        if BUG == "nll-mean-reduction":
            # BUG (nll-mean-reduction): the likelihood averaged over the batch (the
            # cross-entropy's default reduction) while the KL is still divided only by the
            # number of batches: the complexity cost weighs batch_size times too much and
            # pulls every weight to the prior.
            negative_log_likelihood = torch.stack(
                [F.cross_entropy(o, target) for o in outputs]).mean()
        else:
            negative_log_likelihood = torch.stack(
                [F.cross_entropy(o, target, reduction="sum") for o in outputs]).mean()
        kl = log_variational_posterior - log_prior
        if BUG == "kl-not-scaled":
            # BUG (kl-not-scaled): the full-data KL added to every minibatch's loss (the
            # division by the number of batches forgotten).
            loss = kl + negative_log_likelihood
        else:
            loss = kl / num_batches + negative_log_likelihood
        return loss, outputs[-1], negative_log_likelihood


def predictive(net, x, samples):
    """The mean of the softmax over ``samples`` weight samples."""
    with torch.no_grad():
        probs = torch.stack([F.softmax(net(x, sample=True), dim=1) for _ in range(samples)])
    return probs.mean(0)


def main():
    global BUG
    p = common.parser(__doc__)
    p.add_argument("--hidden", type=int, default=64)
    p.add_argument("--lr", type=float, default=1e-2)
    p.add_argument("--batch-size", type=int, default=64)
    p.add_argument("--epochs", type=int, default=15)
    p.add_argument("--samples", type=int, default=1, help="weight samples per training step")
    p.add_argument("--test-samples", type=int, default=10)
    p.add_argument("--rho-init", type=common.floats, default=[-5.0, -4.0])
    p.add_argument("--bug", default=None,
                   choices=("sigma-is-rho", "nll-mean-reduction", "kl-not-scaled",
                            "rho-init-like-mu"))
    args = p.parse_args()
    BUG = args.bug
    common.torch_setup(args.seed)

    x, y = common.load("digits")
    x = (x / 16.0).astype(np.float32)
    x_tr, x_val, y_tr, y_val = common.split(x, y, val=0.2, seed=args.seed)
    train_ds = TensorDataset(torch.from_numpy(x_tr), torch.from_numpy(y_tr).long())
    g = torch.Generator().manual_seed(args.seed)
    loader = DataLoader(train_ds, batch_size=args.batch_size, shuffle=True, generator=g,
                        drop_last=True)
    xv, yv = torch.from_numpy(x_val), torch.from_numpy(y_val).long()
    num_batches = len(loader)

    net = BayesianNetwork(args.hidden, tuple(args.rho_init))
    optimizer = torch.optim.Adam(net.parameters(), lr=args.lr)

    rec = common.recording.torch_recorder(
        net, args.out, optimizer=optimizer, task="classification", loss_name="elbo",
        steps_per_epoch=num_batches, batch_size=args.batch_size)
    history = common.History()
    for epoch in range(args.epochs):
        net.train()
        for b, (xb, yb) in enumerate(loader):
            net.zero_grad()
            loss, logits, nll = net.sample_elbo(xb, yb, num_batches, args.samples)
            loss.backward()
            optimizer.step()
            acc = (logits.argmax(1) == yb).float().mean()
            val_loss = val_acc = None
            if b == num_batches - 1:
                net.eval()
                probs = predictive(net, xv, args.test_samples)
                val_loss = F.nll_loss(torch.log(probs + 1e-12), yv).item()
                val_acc = (probs.argmax(1) == yv).float().mean().item()
                net.train()
            rec.step(loss, accuracy=acc, inputs=xb, targets=yb, val_loss=val_loss,
                     val_accuracy=val_acc)
            history.step(loss.item(), acc.item())
        history.epoch(val_loss, val_acc)
        print("epoch %d: loss %.2f acc %.3f, val NLL %.4f acc %.3f" % (
            epoch + 1, np.mean(history.epochs[-1][0]), np.mean(history.epochs[-1][1]),
            val_loss, val_acc), flush=True)
    rec.close()
    sigmas = torch.cat([F.softplus(m.weight_rho).flatten() for m in (net.l1, net.l2, net.l3)])
    print("posterior sigma: mean %.4f, median %.4f" % (sigmas.mean().item(),
                                                      sigmas.median().item()))
    common.report(history.result(val_nll=val_loss))


# The ground truth of every run of this program, stated from the program (corpus/README.md).
CASES = [
    {"family": "bbb-nll-mean-reduction", "split": "dev", "architecture": "mlp",
     "origin": "Humbatova et al. 2020 (training, wrong loss function / loss weighting): the "
               "likelihood of a Bayes-by-Backprop ELBO averaged over the batch while the KL is "
               "divided only by the number of batches, a common slip of BNN tutorials' readers "
               "(Stack Overflow and forum questions on BNNs that underfit)",
     "bug": "F.cross_entropy with its default mean reduction in the ELBO while the KL is "
            "divided by the number of batches: the complexity cost weighs 64 times too much, "
            "the posterior is pulled to the prior and the training accuracy falls from 0.41 "
            "to 0.44 with a peak near 0.64; validation accuracy 0.647 and predictive NLL 1.31 "
            "against the twin's 0.950 and 0.18",
     "fix": "F.cross_entropy(..., reduction=\"sum\") (the minibatch ELBO of Blundell et al.)",
     "symptom": "not_learning", "acceptable_symptoms": ["slow_convergence"],
     "root_cause": "model",
     "pairs": [
         {"id": "adam-lr1e-2-seed0",
          "buggy": "--bug nll-mean-reduction --record-every 4",
          "fixed": "--record-every 4"},
     ]},
    {"family": "bbb-kl-not-scaled", "split": "dev", "architecture": "mlp",
     "origin": "Humbatova et al. 2020 (training, wrong loss function / loss weighting): the "
               "full-data KL added to every minibatch's loss (the 1/M weighting of Blundell et "
               "al.'s minibatch ELBO forgotten)",
     "bug": "loss = kl + nll on every minibatch: the KL weighs 22 times too much; the training "
            "accuracy stays at 0.65 to 0.66 from the first epoch to the last, the loss at "
            "2.8e4, validation accuracy 0.878 and predictive NLL 0.646 against the twin's "
            "0.961 and 0.143",
     "fix": "loss = kl / num_batches + nll",
     "symptom": "not_learning", "acceptable_symptoms": ["slow_convergence"],
     "root_cause": "model",
     "pairs": [
         {"id": "adam-lr1e-2-seed1",
          "buggy": "--bug kl-not-scaled --seed 1 --record-every 4",
          "fixed": "--seed 1 --record-every 4"},
     ]},
    {"family": "bbb-rho-init-like-mu", "split": "dev", "architecture": "mlp",
     "origin": "Humbatova et al. 2020 (model, wrong weight initialisation): the posterior's "
               "rho initialised like the mean (a copy-paste slip), so the initial standard "
               "deviation softplus(rho) is about 0.7 instead of 0.01",
     "bug": "weight_rho and bias_rho drawn in [-0.2, 0.2] like the means: every sampled "
            "weight is mostly noise (sigma 0.6 to 0.8 against means in [-0.2, 0.2]); the "
            "accuracy stays at chance, 0.109 in training and 0.100 in validation "
            "(predictive NLL 2.41, about ln 10) against the twin's 0.953 and 0.143",
     "fix": "rho drawn in [-5, -4] (sigma about 0.01)",
     "symptom": "not_learning", "acceptable_symptoms": [],
     "root_cause": "model",
     "pairs": [
         {"id": "adam-lr1e-2-seed2",
          "buggy": "--bug rho-init-like-mu --seed 2 --record-every 4",
          "fixed": "--seed 2 --record-every 4"},
     ]},
    {"family": "healthy-bbb", "split": "dev", "architecture": "mlp",
     "origin": "healthy run",
     "description": "a Bayes-by-Backprop MLP on the digits that trains well",
     "healthy": [
         {"id": "hidden100-lr5e-3-seed1",
          "args": "--hidden 100 --lr 5e-3 --seed 1 --record-every 4",
          "description": "100 hidden units, Adam at 5e-3"},
         {"id": "samples2-bs32-e10-seed2",
          "args": "--samples 2 --batch-size 32 --epochs 10 --seed 2 --record-every 4",
          "description": "two weight samples a step, batches of 32, 10 epochs"},
     ]},
]


if __name__ == "__main__":
    main()
