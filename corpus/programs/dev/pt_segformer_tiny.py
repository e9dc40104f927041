"""A tiny SegFormer (Xie, Wang, Yu, Anandkumar, Alvarez and Luo, "SegFormer: Simple and
Efficient Design for Semantic Segmentation with Transformers", NeurIPS 2021) in PyTorch, on
generated scenes of textured regions, written as NVlabs/SegFormer's ``mix_transformer.py``
(``OverlapPatchEmbed``, ``Attention`` with its spatial-reduction ratio, ``Mlp`` with
``DWConv``, ``Block``, ``MixVisionTransformer``) and ``segformer_head.py`` (``MLP``,
``SegFormerHead``) write it, with the loss of Hugging Face's ``SegformerForSemanticSegmentation``
(the logits upsampled bilinearly to the labels' size, ``CrossEntropyLoss(ignore_index=255)``).

The encoder (a MiT of ``--stages`` 3 stages, one ``Block`` each): overlapping patch embeddings
(``patch_embed1.proj``: a 7x7 convolution with stride 4, then 3x3 ones with stride 2, each
followed by a ``LayerNorm``), so the stages see 1/4, 1/8 and 1/16 of the image with 32, 64
and 128 channels (``--dims``); in every block a pre-norm efficient self-attention (1, 2 and 4
heads) whose keys and values come from the tokens reduced by a strided convolution (``sr``,
ratio 4, 2 and 1, followed by a ``LayerNorm``) and a pre-norm Mix-FFN (``fc1``, a depthwise
3x3 convolution on the token map, GELU, ``fc2``; expansion 4), each with a residual
connection; a ``LayerNorm`` closes every stage. The all-MLP decoder (``SegFormerHead``): every
stage's tokens through a ``Linear`` to ``--embed-dim`` (64) channels (``linear_c1`` ...),
upsampled bilinearly to the 1/4 map, concatenated and fused by a 1x1 convolution with
BatchNorm and ReLU (``linear_fuse``), dropout 0.1 and a 1x1 convolution to the classes
(``linear_pred``). The logits at 1/4 are upsampled to the image's size for the loss and the
metrics.

The data are generated here: 48x64 (height x width) scenes, each a Voronoi partition of 3 to
6 random seeds into regions of 5 classes told apart by their texture, not their colour:
class 0 a flat surface, class 1 horizontal stripes, class 2 vertical stripes, class 3 a
checkerboard, class 4 diagonal stripes (periods of 4 to 6 px, a random colour a region and a
shade of it at 45 to 80%, Gaussian noise of std 0.06 over the image); the
pixels along every region boundary (where the distances to the two nearest seeds differ by
less than 1 px) are labelled 255 and ignored, as Pascal VOC's borders are. Images and masks are kept as raw 8-bit rasters with their PIL-style size ``(width,
height)``, as a segmentation data set on disk holds them, and decoded by the data set code;
pixels are scaled to [0, 1] and normalized with the ImageNet mean and std. ``--train-size``
(1024) scenes train, 256 others (another seed) are held out. AdamW (``--lr`` 1e-3, weight
decay 0.01; the decode head at ten times the rate, as mmseg's ``decode_head lr_mult=10``)
with a linear warm-up over ``--warmup`` (50) steps and a polynomial decay (power 1.0) to 0
over all steps, batches of ``--batch-size`` (16: 64 steps an epoch), ``--epochs`` (8). The
step's accuracy is the batch's pixel accuracy (255 pixels left out); once per epoch the
held-out loss is the validation loss and the held-out pixel accuracy the validation accuracy;
the result line adds the held-out mean IoU over the five classes (``val_miou``). The mistakes
of the families in CASES are selected with ``--bug`` or show in a setting (``--lr``).
"""

import os
import sys

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
import common  # noqa: E402

import torch  # noqa: E402
import torch.nn.functional as F  # noqa: E402
from torch import nn  # noqa: E402

np = common.np
HEIGHT, WIDTH, CLASSES, IGNORE = 48, 64, 5, 255
MEAN = np.array([0.485, 0.456, 0.406], dtype=np.float32)
STD = np.array([0.229, 0.224, 0.225], dtype=np.float32)
BUG = None


# ---------------------------------------------------------------- data

def draw_scenes(n, seed):
    """Raw 8-bit rasters as a data set on disk holds them: (image bytes, mask bytes, size)."""
    rng = np.random.default_rng(seed)
    yy, xx = np.mgrid[0:HEIGHT, 0:WIDTH].astype(np.float32)
    records = []
    for _ in range(n):
        k = int(rng.integers(3, 7))
        seeds = rng.uniform([0, 0], [HEIGHT, WIDTH], size=(k, 2)).astype(np.float32)
        d = np.sqrt((yy[None] - seeds[:, 0, None, None]) ** 2
                    + (xx[None] - seeds[:, 1, None, None]) ** 2)
        order = np.sort(d, axis=0)
        region = d.argmin(0)
        cls = rng.integers(0, CLASSES, size=k)
        img = np.zeros((HEIGHT, WIDTH, 3), dtype=np.float32)
        for r in range(k):
            m = region == r
            colour = rng.uniform(0.35, 1.0, size=3)
            dark = colour * rng.uniform(0.45, 0.8)
            period = int(rng.integers(4, 7))
            phase = int(rng.integers(0, period))
            c = cls[r]
            if c == 0:
                on = np.ones_like(m)
            elif c == 1:
                on = ((yy.astype(int) + phase) % period) < period // 2
            elif c == 2:
                on = ((xx.astype(int) + phase) % period) < period // 2
            elif c == 3:
                half = max(period // 2, 2)
                on = (((yy.astype(int) + phase) // half + (xx.astype(int) + phase) // half) % 2) == 0
            else:
                on = ((yy.astype(int) + xx.astype(int) + phase) % period) < period // 2
            img[m] = np.where(on[m, None], colour, dark)
        img += 0.06 * rng.standard_normal(img.shape)
        mask = cls[region].astype(np.uint8)
        mask[(order[1] - order[0]) < 1.0] = IGNORE
        image_bytes = (np.clip(img, 0, 1) * 255).round().astype(np.uint8).tobytes()
        records.append((image_bytes, mask.tobytes(), (WIDTH, HEIGHT)))
    return records


class SceneDataset(torch.utils.data.Dataset):
    def __init__(self, records):
        self.records = records

    def __len__(self):
        return len(self.records)

    def __getitem__(self, i):
        image_bytes, mask_bytes, size = self.records[i]
        w, h = size
        image = np.frombuffer(image_bytes, dtype=np.uint8).reshape(h, w, 3)
        image = (image.astype(np.float32) / 255.0 - MEAN) / STD
        if BUG == "hw-swapped":
            # BUG (hw-swapped): the mask's raster read as (width, height) rows: for these
            # non-square scenes every label lands on the wrong pixel.
            mask = np.frombuffer(mask_bytes, dtype=np.uint8).reshape(w, h)
        else:
            mask = np.frombuffer(mask_bytes, dtype=np.uint8).reshape(h, w)
        return (torch.from_numpy(image.transpose(2, 0, 1).copy()),
                torch.from_numpy(mask.astype(np.int64)))


# ---------------------------------------------------------------- encoder (mix_transformer.py)

class OverlapPatchEmbed(nn.Module):
    def __init__(self, patch_size, stride, in_chans, embed_dim):
        super().__init__()
        self.proj = nn.Conv2d(in_chans, embed_dim, kernel_size=patch_size, stride=stride,
                              padding=patch_size // 2)
        self.norm = nn.LayerNorm(embed_dim)

    def forward(self, x):
        x = self.proj(x)
        _, _, H, W = x.shape
        x = x.flatten(2).transpose(1, 2)
        x = self.norm(x)
        return x, H, W


class Attention(nn.Module):
    def __init__(self, dim, num_heads, sr_ratio):
        super().__init__()
        self.num_heads = num_heads
        self.scale = (dim // num_heads) ** -0.5
        self.q = nn.Linear(dim, dim)
        self.kv = nn.Linear(dim, dim * 2)
        self.proj = nn.Linear(dim, dim)
        self.sr_ratio = sr_ratio
        if sr_ratio > 1:
            self.sr = nn.Conv2d(dim, dim, kernel_size=sr_ratio, stride=sr_ratio)
            self.norm = nn.LayerNorm(dim)

    def forward(self, x, H, W):
        B, N, C = x.shape
        q = self.q(x).reshape(B, N, self.num_heads, C // self.num_heads).permute(0, 2, 1, 3)
        if self.sr_ratio > 1:
            x_ = x.permute(0, 2, 1).reshape(B, C, H, W)
            x_ = self.sr(x_).reshape(B, C, -1).permute(0, 2, 1)
            x_ = self.norm(x_)
            kv = self.kv(x_).reshape(B, -1, 2, self.num_heads, C // self.num_heads).permute(2, 0, 3, 1, 4)
        else:
            kv = self.kv(x).reshape(B, -1, 2, self.num_heads, C // self.num_heads).permute(2, 0, 3, 1, 4)
        k, v = kv[0], kv[1]
        attn = (q @ k.transpose(-2, -1)) * self.scale
        attn = attn.softmax(dim=-1)
        x = (attn @ v).transpose(1, 2).reshape(B, N, C)
        return self.proj(x)


class DWConv(nn.Module):
    def __init__(self, dim):
        super().__init__()
        self.dwconv = nn.Conv2d(dim, dim, 3, 1, 1, bias=True, groups=dim)

    def forward(self, x, H, W):
        B, N, C = x.shape
        x = x.transpose(1, 2).view(B, C, H, W)
        x = self.dwconv(x)
        return x.flatten(2).transpose(1, 2)


class Mlp(nn.Module):
    def __init__(self, in_features, hidden_features):
        super().__init__()
        self.fc1 = nn.Linear(in_features, hidden_features)
        self.dwconv = DWConv(hidden_features)
        self.act = nn.GELU()
        self.fc2 = nn.Linear(hidden_features, in_features)

    def forward(self, x, H, W):
        x = self.fc1(x)
        x = self.act(self.dwconv(x, H, W))
        return self.fc2(x)


class Block(nn.Module):
    def __init__(self, dim, num_heads, mlp_ratio, sr_ratio):
        super().__init__()
        self.norm1 = nn.LayerNorm(dim)
        self.attn = Attention(dim, num_heads, sr_ratio)
        self.norm2 = nn.LayerNorm(dim)
        self.mlp = Mlp(dim, dim * mlp_ratio)

    def forward(self, x, H, W):
        x = x + self.attn(self.norm1(x), H, W)
        x = x + self.mlp(self.norm2(x), H, W)
        return x


class MixVisionTransformer(nn.Module):
    def __init__(self, dims, heads, sr_ratios, mlp_ratio=4):
        super().__init__()
        self.num_stages = len(dims)
        for i, dim in enumerate(dims):
            patch, stride = (7, 4) if i == 0 else (3, 2)
            setattr(self, "patch_embed%d" % (i + 1),
                    OverlapPatchEmbed(patch, stride, 3 if i == 0 else dims[i - 1], dim))
            setattr(self, "block%d" % (i + 1),
                    nn.ModuleList([Block(dim, heads[i], mlp_ratio, sr_ratios[i])]))
            setattr(self, "norm%d" % (i + 1), nn.LayerNorm(dim))

    def forward(self, x):
        B = x.shape[0]
        outs = []
        for i in range(self.num_stages):
            x, H, W = getattr(self, "patch_embed%d" % (i + 1))(x)
            for blk in getattr(self, "block%d" % (i + 1)):
                x = blk(x, H, W)
            x = getattr(self, "norm%d" % (i + 1))(x)
            x = x.reshape(B, H, W, -1).permute(0, 3, 1, 2).contiguous()
            outs.append(x)
        return outs


# ---------------------------------------------------------------- decoder (segformer_head.py)

class MLP(nn.Module):
    """Linear Embedding"""

    def __init__(self, input_dim, embed_dim):
        super().__init__()
        self.proj = nn.Linear(input_dim, embed_dim)

    def forward(self, x):
        x = x.flatten(2).transpose(1, 2)
        return self.proj(x)


class SegFormerHead(nn.Module):
    def __init__(self, in_channels, embed_dim, num_classes, dropout_ratio=0.1):
        super().__init__()
        for i, c in enumerate(in_channels):
            setattr(self, "linear_c%d" % (i + 1), MLP(c, embed_dim))
        self.n = len(in_channels)
        self.linear_fuse = nn.Sequential(
            nn.Conv2d(embed_dim * self.n, embed_dim, kernel_size=1, bias=False),
            nn.BatchNorm2d(embed_dim), nn.ReLU())
        self.dropout = nn.Dropout2d(dropout_ratio)
        self.linear_pred = nn.Conv2d(embed_dim, num_classes, kernel_size=1)

    def forward(self, inputs):
        c1 = inputs[0]
        n, _, h, w = c1.shape
        feats = []
        for i in reversed(range(self.n)):
            c = inputs[i]
            _c = getattr(self, "linear_c%d" % (i + 1))(c).permute(0, 2, 1).reshape(n, -1, c.shape[2], c.shape[3])
            if i > 0:
                _c = F.interpolate(_c, size=(h, w), mode="bilinear", align_corners=False)
            feats.append(_c)
        _c = self.linear_fuse(torch.cat(feats, dim=1))
        x = self.dropout(_c)
        return self.linear_pred(x)


class Segformer(nn.Module):
    def __init__(self, dims, heads, sr_ratios, embed_dim, num_classes):
        super().__init__()
        self.backbone = MixVisionTransformer(dims, heads, sr_ratios)
        self.decode_head = SegFormerHead(dims, embed_dim, num_classes)

    def forward(self, pixel_values):
        return self.decode_head(self.backbone(pixel_values))


def segmentation_loss(logits, labels):
    upsampled_logits = F.interpolate(logits, size=labels.shape[-2:], mode="bilinear",
                                     align_corners=False)
    if BUG == "logits-view":
        # BUG (logits-view): the (N, C, H, W) logits flattened to (N*H*W, C) by reshape()
        # without moving the class axis last: each row mixes the scores of neighbouring pixels.
        return F.cross_entropy(upsampled_logits.reshape(-1, CLASSES), labels.reshape(-1),
                               ignore_index=IGNORE), upsampled_logits
    return F.cross_entropy(upsampled_logits, labels, ignore_index=IGNORE), upsampled_logits


def pixel_stats(upsampled_logits, labels):
    pred = upsampled_logits.argmax(1)
    valid = labels != IGNORE
    correct = ((pred == labels) & valid).sum().item()
    inter = np.zeros(CLASSES)
    union = np.zeros(CLASSES)
    for c in range(CLASSES):
        p, t = (pred == c) & valid, (labels == c) & valid
        inter[c] = (p & t).sum().item()
        union[c] = (p | t).sum().item()
    return correct, valid.sum().item(), inter, union


@torch.no_grad()
def evaluate(model, loader):
    model.eval()
    losses, correct, total = [], 0, 0
    inter, union = np.zeros(CLASSES), np.zeros(CLASSES)
    for xb, yb in loader:
        loss, up = segmentation_loss(model(xb), yb)
        losses.append(loss.item() * len(xb))
        c, t, i, u = pixel_stats(up, yb)
        correct, total, inter, union = correct + c, total + t, inter + i, union + u
    model.train()
    iou = inter / np.maximum(union, 1)
    return float(np.sum(losses) / len(loader.dataset)), correct / total, float(iou.mean())


def main():
    global BUG
    p = common.parser(__doc__)
    p.add_argument("--train-size", type=int, default=1024)
    p.add_argument("--dims", type=common.ints, default=[32, 64, 128])
    p.add_argument("--stages", type=int, default=3)
    p.add_argument("--embed-dim", type=int, default=64)
    p.add_argument("--lr", type=float, default=1e-3)
    p.add_argument("--head-lr-mult", type=float, default=10.0)
    p.add_argument("--weight-decay", type=float, default=0.01)
    p.add_argument("--warmup", type=int, default=50)
    p.add_argument("--batch-size", type=int, default=16)
    p.add_argument("--epochs", type=int, default=8)
    p.add_argument("--bug", default=None, choices=("hw-swapped", "logits-view"))
    args = p.parse_args()
    BUG = args.bug
    common.torch_setup(args.seed)

    train_set = SceneDataset(draw_scenes(args.train_size, args.seed))
    val_set = SceneDataset(draw_scenes(256, 1000 + args.seed))
    gen = torch.Generator().manual_seed(args.seed)
    loader = torch.utils.data.DataLoader(train_set, batch_size=args.batch_size, shuffle=True,
                                         drop_last=True, generator=gen)
    val_loader = torch.utils.data.DataLoader(val_set, batch_size=64)

    dims = args.dims[:args.stages]
    model = Segformer(dims, [1, 2, 4][:args.stages], [4, 2, 1][:args.stages], args.embed_dim,
                      CLASSES)
    optimizer = torch.optim.AdamW([
        {"params": model.backbone.parameters()},
        {"params": model.decode_head.parameters(), "lr": args.lr * args.head_lr_mult},
    ], lr=args.lr, betas=(0.9, 0.999), weight_decay=args.weight_decay)
    steps_per_epoch = len(loader)
    max_iters = args.epochs * steps_per_epoch

    def poly_with_warmup(it):
        if it < args.warmup:
            return 1e-6 + (1 - 1e-6) * it / args.warmup
        return (1 - it / max_iters) ** 1.0

    scheduler = torch.optim.lr_scheduler.LambdaLR(optimizer, poly_with_warmup)

    rec = common.recording.torch_recorder(
        model, args.out, optimizer=optimizer, task="classification",
        loss_name="CrossEntropyLoss", num_classes=CLASSES, steps_per_epoch=steps_per_epoch,
        batch_size=args.batch_size)
    history = common.History()
    val = (None, None, None)
    for epoch in range(args.epochs):
        model.train()
        for b, (xb, yb) in enumerate(loader):
            logits = model(xb)
            loss, up = segmentation_loss(logits, yb)
            optimizer.zero_grad()
            loss.backward()
            optimizer.step()
            scheduler.step()
            c, t, _, _ = pixel_stats(up.detach(), yb)
            acc = c / max(t, 1)
            vl = va = None
            if b == steps_per_epoch - 1:
                val = evaluate(model, val_loader)
                vl, va = val[0], val[1]
            rec.step(loss, accuracy=acc, inputs=xb, targets=yb, val_loss=vl, val_accuracy=va)
            history.step(loss.item(), acc)
        history.epoch(val[0], val[1])
        print("epoch %d: loss %.4f pixel acc %.3f  held-out loss %.4f pixel acc %.3f mIoU %.3f" % (
            epoch + 1, np.mean(history.epochs[-1][0]), np.mean(history.epochs[-1][1]), *val),
            flush=True)
    rec.close()
    common.report(history.result(val_miou=val[2]))


# The ground truth of every run of this program, stated from the program (corpus/README.md).
CASES = [
    {"family": "segf-hw-swapped", "split": "dev", "architecture": "transformer",
     "origin": "Humbatova et al. 2020: wrong preprocessing of the labels (a mask's height and "
               "width swapped); PIL's (width, height) size taken for (height, width), as in "
               "donnyyou/torchcv #11 and DepthAnything/Depth-Anything-V2 #158",
     "bug": "the data set reads each mask's raster as (width, height) rows, (64, 48) instead "
            "of (48, 64): the logits are upsampled to that shape and every label lands on the "
            "wrong pixel, so only the classes' shares and some coarse layout can be learned: "
            "the loss falls from 1.488 to 0.779 (held-out 0.801), held-out pixel accuracy "
            "0.635 and mIoU 0.460, against the twin's loss 1.029 to 0.040, pixel accuracy "
            "0.987 and mIoU 0.973",
     "fix": "mask = np.frombuffer(mask_bytes, dtype=np.uint8).reshape(h, w)",
     "symptom": "not_learning", "acceptable_symptoms": ["slow_convergence"],
     "root_cause": "model",
     "pairs": [
         {"id": "adamw-seed1",
          "buggy": "--bug hw-swapped --seed 1 --record-every 16",
          "fixed": "--seed 1 --record-every 16"},
     ]},
    {"family": "segf-lr-too-high", "split": "dev", "architecture": "transformer",
     "origin": "AUTOTRAINER / DeepFD fault type: learning rate too high",
     "bug": "AdamW at 0.1 (the decode head at 1.0) instead of 1e-3: within the warm-up the "
            "loss climbs from about 1.69 to above 2 and the network collapses onto one "
            "prediction for every pixel; the epochs' mean loss goes from 1.689 to 1.613, the "
            "held-out loss ends at 1.609 (ln 5, a uniform guess over the five classes), "
            "held-out pixel accuracy 0.204 and mIoU 0.041, against the twin's loss 1.013 to "
            "0.037, pixel accuracy 0.989 and mIoU 0.977",
     "fix": "--lr 1e-3",
     "symptom": "not_learning", "acceptable_symptoms": ["oscillation"],
     "root_cause": "model",
     "pairs": [
         {"id": "adamw-seed2",
          "buggy": "--lr 0.1 --seed 2 --record-every 16",
          "fixed": "--seed 2 --record-every 16"},
     ]},
    {"family": "healthy-segf", "split": "dev", "architecture": "transformer",
     "origin": "healthy run",
     "description": "a tiny SegFormer (MiT encoder with overlapping patch embeddings, "
                    "spatial-reduction attention and Mix-FFN, all-MLP decoder) on generated "
                    "scenes of textured regions, whose held-out mIoU reaches 0.97",
     "healthy": [
         {"id": "dims160-seed3",
          "args": "--dims 32,64,160 --seed 3 --record-every 16",
          "description": "MiT-B0's first three widths (32, 64, 160), seed 3: loss 0.980 to "
                         "0.039, held-out pixel accuracy 0.988 and mIoU 0.976"},
     ]},
]


if __name__ == "__main__":
    main()
