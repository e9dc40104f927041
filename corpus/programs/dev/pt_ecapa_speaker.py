"""A small ECAPA-TDNN speaker classifier (Desplanques, Thienpondt and Demuynck, "ECAPA-TDNN:
Emphasized Channel Attention, Propagation and Aggregation in TDNN Based Speaker Verification",
Interspeech 2020) trained with the additive angular margin softmax (AAM-softmax, ArcFace: Deng
et al. 2019), written as the public PyTorch implementations write it (TaoRuijie's
``ECAPA-TDNN`` ``model.py``/``loss.py``, the same blocks as speechbrain's ``ECAPA_TDNN``):
``conv1`` (a 1-D convolution of kernel 5 over the features, ReLU, ``bn1``), three
``Bottle2neck`` SE-Res2Blocks (``conv1`` 1x1, ReLU, ``bn1``; the channels split into ``scale``
4 groups, each group after the first added to the previous group's output and passed through
a dilated convolution of kernel 3, ReLU and BatchNorm, the last group passed on untouched;
``conv3`` 1x1, ReLU, ``bn3``; ``se``, squeeze-excitation: the time average, a 1x1
convolution to a bottleneck, ReLU, a 1x1 convolution back, a sigmoid gate on every channel;
the block's input added back), dilations 2, 3 and 4, each block fed the sum of the earlier
blocks' outputs; ``layer4``, a 1x1 convolution over the three blocks' outputs concatenated
(multi-layer feature aggregation), ReLU; attentive statistics pooling: the frames, their mean
and their standard deviation over time (the global context) go through ``attention``
(1x1 convolution, ReLU, BatchNorm, tanh, 1x1 convolution, a softmax over time), whose weights
give every channel a weighted mean and a weighted standard deviation, ``sqrt((sum(x^2 w) -
mu^2).clamp(min=1e-4))``; ``bn5``, ``fc6`` (the embedding), ``bn6``. The head (``AAMsoftmax``)
holds one weight vector per speaker; the logits are the cosines of the normalized embedding
with the normalized weights, the target's cosine replaced by cos(theta + m) (``--margin`` 0.2)
and all multiplied by the scale ``--scale`` s = 30, under cross-entropy.

The features are generated here, 24 MFCC-like coefficients per 10 ms frame (the cepstra of a
spectral envelope, the lower coefficients larger), for ``--speakers`` 40 speakers drawn anew
for each seed: each speaker has an envelope of its own (its mean cepstrum, spread 0.3), a way
of its own of pronouncing each of 12 phones shared by all (a speaker-specific scaling of the
phone cepstra, spread 0.15) and a variability of its own per coefficient (about 1.0). A
recording is 180 frames (1.8 s): 0 to 20 frames of silence, 50 to 150 frames of speech (phones
of 4 to 12 frames, smoothed transitions, each frame the speaker's envelope plus the phone plus
noise, plus a channel offset drawn for the recording, spread 0.6) and, after it, digital
silence (a constant floor cepstrum) to pad it to 180 frames. 40 recordings per speaker
train, 10 others per speaker are held out. As the implementations' loader does, every
training example is a random crop of 100 frames (1 s) of its recording, drawn anew at each
step, and the front end subtracts the crop's mean over time (cepstral mean normalization);
the held-out recordings are embedded whole. Adam at ``--lr`` 1e-3 with weight decay 2e-5
and ``StepLR`` decaying the rate by 0.97 after every epoch, batches of ``--batch-size`` 32
(50 steps an epoch), ``--epochs`` 8 (400 steps); 64 channels (``--channels``; 512 or 1024 in
the paper), a 192-channel aggregation (1536) and a 96-dimensional embedding (``--emb``, 192).
The step's accuracy is the batch's top-1 from the margin logits (TaoRuijie's ``prec1``); once
per epoch the validation accuracy is the top-1 of the held-out recordings by the cosine of
their embedding with each speaker's weight vector, the validation loss their AAM loss, and the
result line adds the equal error rate of cosine scoring between all pairs of held-out
embeddings (same speaker or not, ``eer``; chance 0.5). The mistakes of the families in CASES
are selected with ``--bug`` or show in a setting (``--scale``, ``--margin``, ``--lr``).
"""

import math
import os
import sys

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
import common  # noqa: E402

import torch  # noqa: E402
import torch.nn.functional as F  # noqa: E402
from torch import nn  # noqa: E402

np = common.np

N_MFCC = 24
FRAMES = 100           # the training crop (1 s)
LENGTH = 180           # a recording, padded with digital silence (1.8 s)
SILENCE = -3.0
PHONES = 12
ENVELOPE = 0.3         # the spread of the speakers' mean cepstra
PHONE_SCALE = 0.15     # how differently the speakers pronounce a phone
NOISE = 1.0            # the frame-to-frame variability
CHANNEL = 0.6          # the recording's channel offset


# ---------------------------------------------------------------- the features

def make_speakers(n, rng):
    decay = 1.0 / (1.0 + 0.15 * np.arange(N_MFCC))           # cepstra fall with the order
    phones = rng.standard_normal((PHONES, N_MFCC)) * 1.2 * decay
    spk = []
    for _ in range(n):
        spk.append({
            "envelope": rng.standard_normal(N_MFCC) * ENVELOPE * decay,
            "phone_scale": 1.0 + PHONE_SCALE * rng.standard_normal((PHONES, N_MFCC)),
            "spread": np.exp(0.3 * rng.standard_normal(N_MFCC)) * NOISE * decay,
        })
    return phones, spk, decay


def utterance(s, phones, decay, rng):
    """A recording of LENGTH frames: 0 to 20 frames of silence, 50 to 150 frames of speech,
    digital silence (the padding to LENGTH) after it."""
    speech = int(rng.integers(50, 151))
    start = min(int(rng.integers(0, 21)), LENGTH - speech)
    seq = []
    while len(seq) < speech:
        seq += [int(rng.integers(0, PHONES))] * int(rng.integers(4, 13))
    seq = np.array(seq[:speech])
    content = phones[seq] * s["phone_scale"][seq]
    # smoothed transitions between phones (a 3-frame moving average)
    content = np.stack([np.convolve(content[:, c], np.ones(3) / 3, mode="same")
                        for c in range(N_MFCC)], 1)
    x = np.tile(SILENCE * decay, (LENGTH, 1))                   # the silence floor
    x[start:start + speech] = (s["envelope"] + content
                               + s["spread"] * rng.standard_normal((speech, N_MFCC))
                               + CHANNEL * decay * rng.standard_normal(N_MFCC))   # the channel
    return x.T.astype(np.float32)                             # (coefficients, frames)


def make_data(n_speakers, per_train, per_val, seed):
    rng = np.random.default_rng(seed)
    phones, spk, decay = make_speakers(n_speakers, rng)
    xt, yt, xv, yv = [], [], [], []
    for k, s in enumerate(spk):
        for i in range(per_train + per_val):
            (xt if i < per_train else xv).append(utterance(s, phones, decay, rng))
            (yt if i < per_train else yv).append(k)
    return (torch.tensor(np.stack(xt)), torch.tensor(yt), torch.tensor(np.stack(xv)),
            torch.tensor(yv))


# ---------------------------------------------------------------- ECAPA-TDNN (model.py)

class SEModule(nn.Module):
    def __init__(self, channels, bottleneck=32, bug=None):
        super().__init__()
        # BUG (se-relu-gate): nn.ReLU() as the gate where nn.Sigmoid() belongs: the gates are
        # unbounded and multiply the channels by up to anything instead of 0 to 1.
        gate = nn.ReLU() if bug == "se-relu-gate" else nn.Sigmoid()
        self.se = nn.Sequential(
            nn.AdaptiveAvgPool1d(1),
            nn.Conv1d(channels, bottleneck, kernel_size=1, padding=0),
            nn.ReLU(),
            nn.Conv1d(bottleneck, channels, kernel_size=1, padding=0),
            gate,
        )

    def forward(self, input):
        x = self.se(input)
        return input * x


class Bottle2neck(nn.Module):
    def __init__(self, inplanes, planes, kernel_size=None, dilation=None, scale=4, bug=None):
        super().__init__()
        width = int(math.floor(planes / scale))
        self.conv1 = nn.Conv1d(inplanes, width * scale, kernel_size=1)
        self.bn1 = nn.BatchNorm1d(width * scale)
        self.nums = scale - 1
        convs, bns = [], []
        num_pad = math.floor(kernel_size / 2) * dilation
        for i in range(self.nums):
            convs.append(nn.Conv1d(width, width, kernel_size=kernel_size, dilation=dilation,
                                   padding=num_pad))
            bns.append(nn.BatchNorm1d(width))
        self.convs = nn.ModuleList(convs)
        self.bns = nn.ModuleList(bns)
        self.conv3 = nn.Conv1d(width * scale, planes, kernel_size=1)
        self.bn3 = nn.BatchNorm1d(planes)
        self.relu = nn.ReLU()
        self.width = width
        self.se = SEModule(planes, bug=bug)

    def forward(self, x):
        residual = x
        out = self.conv1(x)
        out = self.relu(out)
        out = self.bn1(out)

        spx = torch.split(out, self.width, 1)
        for i in range(self.nums):
            if i == 0:
                sp = spx[i]
            else:
                sp = sp + spx[i]
            sp = self.convs[i](sp)
            sp = self.relu(sp)
            sp = self.bns[i](sp)
            if i == 0:
                out = sp
            else:
                out = torch.cat((out, sp), 1)
        out = torch.cat((out, spx[self.nums]), 1)

        out = self.conv3(out)
        out = self.relu(out)
        out = self.bn3(out)

        out = self.se(out)
        out += residual
        return out


class ECAPA_TDNN(nn.Module):
    def __init__(self, C, emb=96, bug=None):
        super().__init__()
        self.bug = bug
        self.conv1 = nn.Conv1d(N_MFCC, C, kernel_size=5, stride=1, padding=2)
        self.relu = nn.ReLU()
        self.bn1 = nn.BatchNorm1d(C)
        self.layer1 = Bottle2neck(C, C, kernel_size=3, dilation=2, scale=4, bug=bug)
        self.layer2 = Bottle2neck(C, C, kernel_size=3, dilation=3, scale=4, bug=bug)
        self.layer3 = Bottle2neck(C, C, kernel_size=3, dilation=4, scale=4, bug=bug)
        D = 3 * C                                   # 1536 in the paper's C = 512 model
        self.layer4 = nn.Conv1d(3 * C, D, kernel_size=1)
        # BUG (attention-softmax-channels): nn.Softmax(dim=1): the attention weights are
        # normalized over the channels instead of over time (dim=2).
        self.attention = nn.Sequential(
            nn.Conv1d(3 * D, 64, kernel_size=1),
            nn.ReLU(),
            nn.BatchNorm1d(64),
            nn.Tanh(),
            nn.Conv1d(64, D, kernel_size=1),
            nn.Softmax(dim=1 if bug == "attention-softmax-channels" else 2),
        )
        self.bn5 = nn.BatchNorm1d(2 * D)
        self.fc6 = nn.Linear(2 * D, emb)
        self.bn6 = nn.BatchNorm1d(emb)

    def forward(self, x):
        with torch.no_grad():
            x = x - torch.mean(x, dim=-1, keepdim=True)       # cepstral mean normalization
        x = self.conv1(x)
        x = self.relu(x)
        x = self.bn1(x)

        x1 = self.layer1(x)
        x2 = self.layer2(x + x1)
        x3 = self.layer3(x + x1 + x2)

        x = self.layer4(torch.cat((x1, x2, x3), dim=1))
        x = self.relu(x)

        t = x.size()[-1]
        global_x = torch.cat((x, torch.mean(x, dim=2, keepdim=True).repeat(1, 1, t),
                              torch.sqrt(torch.var(x, dim=2, keepdim=True).clamp(min=1e-4))
                              .repeat(1, 1, t)), dim=1)
        w = self.attention(global_x)
        mu = torch.sum(x * w, dim=2)
        if self.bug == "std-no-clamp":
            # BUG (std-no-clamp): the weighted variance E[x^2] - mu^2 without .clamp(min=1e-4):
            # a channel that is zero (ReLU) over a whole utterance, or whose difference rounds
            # below zero, gives sqrt of 0 or of a negative number.
            sg = torch.sqrt(torch.sum((x ** 2) * w, dim=2) - mu ** 2)
        else:
            sg = torch.sqrt((torch.sum((x ** 2) * w, dim=2) - mu ** 2).clamp(min=1e-4))
        x = torch.cat((mu, sg), 1)
        x = self.bn5(x)
        x = self.fc6(x)
        x = self.bn6(x)
        return x


# ---------------------------------------------------------------- AAM-softmax (loss.py)

class AAMsoftmax(nn.Module):
    def __init__(self, n_class, emb, m, s, bug=None):
        super().__init__()
        self.m = m
        self.s = s
        self.bug = bug
        self.weight = torch.nn.Parameter(torch.FloatTensor(n_class, emb), requires_grad=True)
        self.ce = nn.CrossEntropyLoss()
        nn.init.xavier_normal_(self.weight, gain=1)
        self.cos_m = math.cos(self.m)
        self.sin_m = math.sin(self.m)
        self.th = math.cos(math.pi - self.m)
        self.mm = math.sin(math.pi - self.m) * self.m

    def cosine(self, x):
        if self.bug == "unnormalized":
            # BUG (unnormalized): F.linear(x, self.weight) without F.normalize on either side:
            # the "cosine" is a dot product of any size.
            return F.linear(x, self.weight)
        if self.bug == "embedding-unnormalized":
            # BUG (embedding-unnormalized): the embedding x is not L2-normalized (only the
            # weights are): the "cosine" is |x| cos(theta), of any size.
            return F.linear(x, F.normalize(self.weight))
        return F.linear(F.normalize(x), F.normalize(self.weight))

    def forward(self, x, label):
        cosine = self.cosine(x)
        sine = torch.sqrt((1.0 - torch.mul(cosine, cosine)).clamp(0, 1))
        phi = cosine * self.cos_m - sine * self.sin_m
        phi = torch.where((cosine - self.th) > 0, phi, cosine - self.mm)
        one_hot = torch.zeros_like(cosine)
        one_hot.scatter_(1, label.view(-1, 1), 1)
        if self.bug == "margin-all-classes":
            # BUG (margin-all-classes): phi for every class, the target's and the others'.
            output = phi
        else:
            output = (one_hot * phi) + ((1.0 - one_hot) * cosine)
        output = output * self.s
        loss = self.ce(output, label)
        prec1 = (output.detach().argmax(1) == label).float().mean().item()
        return loss, prec1


class ECAPAModel(nn.Module):
    """The speaker encoder and the loss's weights (ECAPAModel in trainECAPAModel.py)."""

    def __init__(self, n_class, C, emb, m, s, bug=None):
        super().__init__()
        self.speaker_encoder = ECAPA_TDNN(C, emb, bug)
        self.speaker_loss = AAMsoftmax(n_class, emb, m, s, bug)

    def forward(self, x, label):
        return self.speaker_loss(self.speaker_encoder(x), label)


def eer(scores, same):
    order = np.argsort(-scores)
    same = same[order]
    tpr = np.cumsum(same) / same.sum()
    fpr = np.cumsum(~same) / (~same).sum()
    i = int(np.argmin(np.abs((1 - tpr) - fpr)))
    return float(((1 - tpr[i]) + fpr[i]) / 2)


def main():
    p = common.parser(__doc__)
    p.add_argument("--speakers", type=int, default=40)
    p.add_argument("--channels", type=int, default=64)
    p.add_argument("--emb", type=int, default=96)
    p.add_argument("--margin", type=float, default=0.2)
    p.add_argument("--scale", type=float, default=30.0)
    p.add_argument("--lr", type=float, default=1e-3)
    p.add_argument("--lr-decay", type=float, default=0.97)
    p.add_argument("--batch-size", type=int, default=32)
    p.add_argument("--epochs", type=int, default=8)
    p.add_argument("--bug", default=None,
                   choices=("std-no-clamp", "se-relu-gate", "attention-softmax-channels",
                            "unnormalized", "embedding-unnormalized", "margin-all-classes"))
    args = p.parse_args()
    common.torch_setup(args.seed)

    xt, yt, xv, yv = make_data(args.speakers, 40, 10, seed=1000 + args.seed)
    model = ECAPAModel(args.speakers, args.channels, args.emb, args.margin, args.scale,
                       args.bug)
    optim = torch.optim.Adam(model.parameters(), lr=args.lr, weight_decay=2e-5)
    scheduler = torch.optim.lr_scheduler.StepLR(optim, step_size=1, gamma=args.lr_decay)
    bs = args.batch_size
    steps_per_epoch = len(xt) // bs
    rec = common.recording.torch_recorder(
        model, args.out, optimizer=optim, task="classification",
        loss_name="CrossEntropyLoss", steps_per_epoch=steps_per_epoch, batch_size=bs,
        num_classes=args.speakers)
    history = common.History()
    g = torch.Generator().manual_seed(args.seed)
    val_acc = val_loss = v_eer = None
    for epoch in range(args.epochs):
        model.train()
        perm = torch.randperm(len(xt), generator=g)
        for b in range(steps_per_epoch):
            idx = perm[b * bs:(b + 1) * bs]
            # a random crop of FRAMES frames of every recording (the loader's random start)
            starts = torch.randint(0, LENGTH - FRAMES + 1, (len(idx),), generator=g)
            data = torch.stack([xt[i, :, s0:s0 + FRAMES] for i, s0 in zip(idx.tolist(),
                                                                          starts.tolist())])
            labels = yt[idx]
            model.zero_grad()
            nloss, prec = model(data, labels)
            nloss.backward()
            optim.step()
            vl = va = None
            if b == steps_per_epoch - 1:
                model.eval()
                with torch.no_grad():
                    emb = model.speaker_encoder(xv)
                    val_loss = model.speaker_loss(emb, yv)[0].item()
                    cos = F.linear(F.normalize(emb), F.normalize(model.speaker_loss.weight))
                    val_acc = (cos.argmax(1) == yv).float().mean().item()
                    e = F.normalize(emb)
                    sc = (e @ e.t()).numpy()
                    iu = np.triu_indices(len(yv), 1)
                    same = (yv[:, None] == yv[None, :]).numpy()[iu]
                    v_eer = eer(sc[iu], same) if np.isfinite(sc).all() else float("nan")
                model.train()
                vl, va = val_loss, val_acc
            rec.step(nloss, accuracy=prec, inputs=data, val_loss=vl, val_accuracy=va)
            history.step(nloss.item(), prec)
        scheduler.step()
        history.epoch(val_loss, val_acc)
        print("epoch %d: lr %.2e loss %.4f acc %.3f | val loss %.4f acc %.3f eer %.3f" % (
            epoch + 1, optim.param_groups[0]["lr"], np.mean(history.epochs[-1][0]),
            np.mean(history.epochs[-1][1]), val_loss, val_acc, v_eer))
    rec.close()
    common.report(history.result(eer=v_eer))


# The ground truth of every run of this program, stated from the program (corpus/README.md).
CASES = [
    {"family": "ecapa-std-no-clamp", "split": "dev", "architecture": "cnn",
     "origin": "GitHub issue kind: NaN loss from the statistics pooling (the square root of a "
               "variance that is zero or rounds below zero, the .clamp(min=1e-4) of the public "
               "ECAPA-TDNN implementations left out); Humbatova et al. 2020: missing "
               "numerical safeguard",
     "bug": "sg = sqrt(sum(x^2 w) - mu^2) without the clamp: the first batch holds crops of "
            "digital silence, over which every channel of layer4 is constant (weighted "
            "variance 0), the square root's gradient there is infinite, the first backward "
            "pass gives NaN gradients and after the first update every weight is NaN: the "
            "loss is NaN from the second step on, training and validation accuracy 0.025 "
            "(chance for 40 speakers), against the twin's loss from 10.13 in the first epoch "
            "to 2.17 in the eighth, validation accuracy 0.845 and EER 0.131",
     "fix": "sg = sqrt((sum(x^2 w) - mu^2).clamp(min=1e-4))",
     "symptom": "numerical_error", "acceptable_symptoms": [],
     "root_cause": "model",
     "pairs": [
         {"id": "seed0",
          "buggy": "--bug std-no-clamp --record-every 16",
          "fixed": "--record-every 16"},
     ]},
    {"family": "ecapa-embedding-unnormalized", "split": "dev", "architecture": "cnn",
     "origin": "GitHub issue kind: an ArcFace / AAM-softmax head without F.normalize of the "
               "features (the 'cosine' is a dot product of any size under the margin formula "
               "and the scale 30); Humbatova et al. 2020: wrong loss function input",
     "bug": "F.linear(x, F.normalize(self.weight)): the embedding (after bn6, of norm about "
            "10) is not L2-normalized, the logits are s |x| cos(theta) of hundreds and the "
            "margin formula's sine is clamped to 0; the loss starts at 27.2 (the twin's "
            "10.1) and ends at 3.08 (2.18), training accuracy 0.47 (0.56), validation "
            "accuracy 0.625 against 0.882, and the embeddings' cosines do not tell speakers "
            "apart: EER 0.471 (chance 0.5) against 0.095",
     "fix": "F.linear(F.normalize(x), F.normalize(self.weight))",
     "symptom": "loss_mismatch", "acceptable_symptoms": ["saturation", "slow_convergence"],
     "root_cause": "model",
     "pairs": [
         {"id": "seed1",
          "buggy": "--bug embedding-unnormalized --seed 1 --record-every 16",
          "fixed": "--seed 1 --record-every 16"},
     ]},
    {"family": "healthy-ecapa", "split": "dev", "architecture": "cnn",
     "origin": "healthy run",
     "description": "a small ECAPA-TDNN with an AAM-softmax head on generated MFCC-like "
                    "features whose embeddings come to separate the speakers",
     "healthy": [
         {"id": "margin0.3-seed3",
          "args": "--margin 0.3 --seed 3 --record-every 16",
          "description": "margin 0.3: loss from 13.0 to 2.61, validation accuracy 0.897, "
                         "EER 0.094"},
     ]},
]


if __name__ == "__main__":
    main()
