"""InfoGAN (Chen et al. 2016) on 8x8 digits, written as PyTorch-GAN's ``infogan.py``
(eriklindernoren) writes it, scaled down to fully connected networks.

scikit-learn's digits, scaled from 0..16 to [-1, 1] (``x / 8 - 1``); 80% train the GAN
(stratified by digit), and a ``LogisticRegression`` is fitted once on the same 80% as the judge
(about 0.97 accurate on the other 20%). The generator (``generator.model``: ``Linear`` layers
from ``--latent-dim`` noise + a one-hot 10-way categorical code + ``--code-dim`` continuous
codes uniform in [-1, 1], to 128 and 256 units with LeakyReLU(0.2) and to 64 pixels with
``Tanh``) and the discriminator (a shared ``trunk``: ``Linear`` 64-256-128 with LeakyReLU(0.2) and
``Dropout(0.25)``;
an ``adv_layer`` giving the real/fake logit, an ``aux_layer`` giving the 10 code logits and a
``latent_layer`` giving the continuous codes) are kept in one ``nn.ModuleDict`` so that both are
recorded. As in the repository: ``optimizer_G`` over the generator, ``optimizer_D`` over the
discriminator, and ``optimizer_info`` over both (``itertools.chain``), all Adam (``--lr``,
2e-4, betas 0.5, 0.999); every batch makes a generator step (the non-saturating
``BCEWithLogitsLoss`` of fresh samples labelled real), a discriminator step (real labelled 1,
the same samples detached labelled 0, the two losses averaged) and an information step: fresh
noise and codes, and ``info_loss = CrossEntropyLoss(aux, categorical code) + 0.1 *
MSELoss(latent, continuous code)`` backpropagated into the generator and the Q heads (with the
trunk). Batches of 64 (22 steps an epoch), ``--epochs`` epochs. The generator's loss is the
step's loss and the step's accuracy the Q head's accuracy on the categorical code of the
information step. After every epoch 100 samples of each categorical code (fixed noise) are
classified by the judge, and the validation accuracy is the cluster accuracy of the codes: the
share of samples whose judged digit is the one matched to their code by the best one-to-one
assignment of codes to digits (ignored codes or a collapsed generator: about 0.1 to 0.2). The
result line adds the discriminator's and information losses of the last epoch, ``purity`` (the
share of each code's samples in its most frequent digit) and ``nmi`` (the normalized mutual
information between code and judged digit). The mistakes of the families in CASES are selected
with ``--bug`` or show in a setting (``--lr``).
"""

import itertools
import os
import sys

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
import common  # noqa: E402

import torch  # noqa: E402
from torch import nn  # noqa: E402

np = common.np
N_CLASSES = 10


def to_categorical(y, num_columns=N_CLASSES):
    return nn.functional.one_hot(y, num_columns).float()


class Generator(nn.Module):
    def __init__(self, latent_dim, code_dim):
        super().__init__()
        self.model = nn.Sequential(
            nn.Linear(latent_dim + N_CLASSES + code_dim, 128), nn.LeakyReLU(0.2),
            nn.Linear(128, 256), nn.LeakyReLU(0.2),
            nn.Linear(256, 64), nn.Tanh())

    def forward(self, noise, labels, code):
        gen_input = torch.cat((noise, labels, code), -1)
        return self.model(gen_input)


class Discriminator(nn.Module):
    def __init__(self, code_dim):
        super().__init__()
        self.trunk = nn.Sequential(nn.Linear(64, 256), nn.LeakyReLU(0.2), nn.Dropout(0.25),
                                   nn.Linear(256, 128), nn.LeakyReLU(0.2), nn.Dropout(0.25))
        self.adv_layer = nn.Linear(128, 1)
        self.aux_layer = nn.Linear(128, N_CLASSES)
        self.latent_layer = nn.Linear(128, code_dim)

    def forward(self, img):
        out = self.trunk(img)
        return self.adv_layer(out), self.aux_layer(out), self.latent_layer(out)


def cluster_scores(codes, judged):
    from scipy.optimize import linear_sum_assignment
    from sklearn.metrics import normalized_mutual_info_score
    counts = np.zeros((N_CLASSES, N_CLASSES))
    np.add.at(counts, (codes, judged), 1)
    rows, cols = linear_sum_assignment(-counts)
    acc = counts[rows, cols].sum() / len(codes)
    purity = counts.max(1).sum() / len(codes)
    return float(acc), float(purity), float(normalized_mutual_info_score(codes, judged))


def main():
    p = common.parser(__doc__)
    p.add_argument("--latent-dim", type=int, default=8)
    p.add_argument("--code-dim", type=int, default=2)
    p.add_argument("--lr", type=float, default=2e-4)
    p.add_argument("--lambda-con", type=float, default=0.1)
    p.add_argument("--batch-size", type=int, default=64)
    p.add_argument("--epochs", type=int, default=25)
    p.add_argument("--bug", default=None, choices=("info-without-generator", "stale-code"))
    args = p.parse_args()
    common.torch_setup(args.seed)

    from sklearn.datasets import load_digits
    from sklearn.linear_model import LogisticRegression
    d = load_digits()
    x = (d.data / 8.0 - 1.0).astype(np.float32)
    x_tr, x_te, y_tr, y_te = common.split(x, d.target, val=0.2, seed=args.seed)
    judge = LogisticRegression(max_iter=2000).fit(x_tr, y_tr)
    print("judge accuracy on held-out digits: %.3f" % judge.score(x_te, y_te))
    data = torch.from_numpy(x_tr)

    generator = Generator(args.latent_dim, args.code_dim)
    discriminator = Discriminator(args.code_dim)
    gan = nn.ModuleDict({"generator": generator, "discriminator": discriminator})

    adversarial_loss = nn.BCEWithLogitsLoss()
    categorical_loss = nn.CrossEntropyLoss()
    continuous_loss = nn.MSELoss()
    betas = (0.5, 0.999)
    optimizer_G = torch.optim.Adam(generator.parameters(), lr=args.lr, betas=betas)
    optimizer_D = torch.optim.Adam(discriminator.parameters(), lr=args.lr, betas=betas)
    if args.bug == "info-without-generator":
        # BUG (info-without-generator): the information optimizer built over the
        # discriminator's parameters only: the info loss never reaches the generator.
        info_params = discriminator.parameters()
    else:
        info_params = itertools.chain(generator.parameters(), discriminator.parameters())
    optimizer_info = torch.optim.Adam(info_params, lr=args.lr, betas=betas)

    bs = args.batch_size
    steps_per_epoch = len(data) // bs
    rec = common.recording.torch_recorder(
        gan, args.out, optimizer=[optimizer_G, optimizer_D, optimizer_info],
        loss_name="BCEWithLogitsLoss", objective="adversarial",
        steps_per_epoch=steps_per_epoch, batch_size=bs)

    g = torch.Generator().manual_seed(args.seed)
    eval_gen = torch.Generator().manual_seed(1000 + args.seed)
    eval_codes = torch.arange(N_CLASSES).repeat_interleave(100)
    eval_z = torch.randn(len(eval_codes), args.latent_dim, generator=eval_gen)
    eval_c = torch.rand(len(eval_codes), args.code_dim, generator=eval_gen) * 2 - 1

    def sample_inputs(n):
        z = torch.randn(n, args.latent_dim, generator=g)
        labels = torch.randint(0, N_CLASSES, (n,), generator=g)
        code = torch.rand(n, args.code_dim, generator=g) * 2 - 1
        return z, labels, code

    history = common.History()
    scores = None
    for epoch in range(args.epochs):
        perm = torch.randperm(len(data), generator=g)
        d_losses, info_losses = [], []
        for b in range(steps_per_epoch):
            real_imgs = data[perm[b * bs:(b + 1) * bs]]
            valid, fake = torch.ones(bs, 1), torch.zeros(bs, 1)

            # generator
            optimizer_G.zero_grad()
            z, labels, code_input = sample_inputs(bs)
            label_input = to_categorical(labels)
            gen_imgs = generator(z, label_input, code_input)
            validity, _, _ = discriminator(gen_imgs)
            g_loss = adversarial_loss(validity, valid)
            g_loss.backward()
            optimizer_G.step()

            # discriminator
            optimizer_D.zero_grad()
            real_pred, _, _ = discriminator(real_imgs)
            d_real_loss = adversarial_loss(real_pred, valid)
            fake_pred, _, _ = discriminator(gen_imgs.detach())
            d_fake_loss = adversarial_loss(fake_pred, fake)
            d_loss = (d_real_loss + d_fake_loss) / 2
            d_loss.backward()
            optimizer_D.step()

            # information loss
            optimizer_info.zero_grad()
            z, gt_labels, code_input = sample_inputs(bs)
            if args.bug == "stale-code":
                # BUG (stale-code): the fresh categorical code is sampled but the generator
                # gets the generator step's one-hot label_input, left over from above.
                gen_imgs = generator(z, label_input, code_input)
            else:
                label_input = to_categorical(gt_labels)
                gen_imgs = generator(z, label_input, code_input)
            _, pred_label, pred_code = discriminator(gen_imgs)
            info_loss = (categorical_loss(pred_label, gt_labels)
                         + args.lambda_con * continuous_loss(pred_code, code_input))
            info_loss.backward()
            optimizer_info.step()

            q_acc = (pred_label.argmax(1) == gt_labels).float().mean().item()
            val_acc = None
            if b == steps_per_epoch - 1:
                generator.eval()
                with torch.no_grad():
                    imgs = generator(eval_z, to_categorical(eval_codes), eval_c)
                generator.train()
                judged = judge.predict(imgs.numpy())
                scores = cluster_scores(eval_codes.numpy(), judged)
                val_acc = scores[0]
            rec.step(g_loss, accuracy=q_acc, inputs=real_imgs, val_accuracy=val_acc)
            history.step(g_loss.item(), q_acc)
            d_losses.append(d_loss.item())
            info_losses.append(info_loss.item())
        history.epoch(None, val_acc)
        if (epoch + 1) % 5 == 0:
            print("epoch %d: D %.4f G %.4f info %.4f Q acc %.3f | cluster acc %.3f purity %.3f "
                  "nmi %.3f" % (epoch + 1, np.mean(d_losses), np.mean(history.epochs[-1][0]),
                                np.mean(info_losses), np.mean(history.epochs[-1][1]), *scores))
    rec.close()
    common.report(history.result(d_loss=float(np.mean(d_losses)),
                                 info_loss=float(np.mean(info_losses)),
                                 purity=scores[1], nmi=scores[2]))


# The ground truth of every run of this program, stated from the program (corpus/README.md).
CASES = [
    {"family": "infogan-info-without-generator", "split": "dev", "architecture": "mlp",
     "origin": "Humbatova et al. 2020: wrong optimizer parameters (the information "
               "optimizer built over the discriminator only, so the mutual-information term "
               "never trains the generator)",
     "bug": "optimizer_info holds only the discriminator's parameters: the generator has no "
            "reason to use its codes, the Q head's accuracy on the categorical code stays at "
            "chance (0.105 in the first epoch, 0.128 in the 25th) and the info loss at 2.33 "
            "(log 10 = 2.30); the judged samples' cluster accuracy ends at 0.112 and NMI at "
            "0.010, against the twin's Q accuracy 0.989, info loss 0.160, cluster accuracy "
            "0.290 and NMI 0.411 (generator loss 1.534 against 1.414)",
     "fix": "optimizer_info over itertools.chain(generator.parameters(), "
            "discriminator.parameters())",
     "symptom": "not_learning", "acceptable_symptoms": [],
     "root_cause": "model",
     "pairs": [
         {"id": "adam",
          "buggy": "--bug info-without-generator --record-every 6",
          "fixed": "--record-every 6"},
     ]},
    {"family": "infogan-stale-code", "split": "dev", "architecture": "mlp",
     "origin": "Humbatova et al. 2020: wrong labels (the code the Q head is asked for is not "
               "the one fed to the generator: a stale variable reused)",
     "bug": "the information step samples a fresh categorical code as the target but feeds "
            "the generator the generator step's one-hot label_input: the Q head cannot "
            "recover a code the image does not carry, its accuracy stays at 0.102 and the "
            "info loss at 2.32; cluster accuracy 0.122 and NMI 0.022, against the twin's Q "
            "accuracy 0.992, info loss 0.132, cluster accuracy 0.383 and NMI 0.436",
     "fix": "label_input = to_categorical(gt_labels) before the information step's generator "
            "call",
     "symptom": "not_learning", "acceptable_symptoms": [],
     "root_cause": "model",
     "pairs": [
         {"id": "adam-seed1",
          "buggy": "--bug stale-code --seed 1 --record-every 6",
          "fixed": "--seed 1 --record-every 6"},
     ]},
    {"family": "healthy-infogan", "split": "dev", "architecture": "mlp",
     "origin": "healthy run",
     "description": "an InfoGAN on 8x8 digits whose Q head recovers the codes",
     "healthy": [
         {"id": "code1-seed3",
          "args": "--code-dim 1 --seed 3 --record-every 6",
          "description": "one continuous code instead of two"},
     ]},
]


if __name__ == "__main__":
    main()
