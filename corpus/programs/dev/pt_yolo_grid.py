"""YOLOv1 from scratch in PyTorch: a tiny single-stage grid detector of generated shapes.

The data are generated here: 32x32 grey images of noise with one to three shapes at random
places and sizes (a width and a height of 7 to 14 pixels): a filled rectangle, an ellipse or a
triangle (the three classes), brighter than the noise. Each image comes with its boxes as
``(class, x_center, y_center, width, height)`` relative to the image, as a YOLO annotation file
writes them. ``encode`` turns them into the label matrix of an S x S grid (S = 4, cells of 8
pixels), as the "YOLOv1 from scratch" repositories do: the cell ``(i, j)`` holding a box's
centre gets the class one-hot, an objectness 1 and the box as ``(x, y)`` relative to the cell and
``(w, h)`` relative to the image. 1600 images train, 400 validate.

The network (``Yolo``) is three ``Conv2d``/``BatchNorm2d``/``LeakyReLU(0.1)``/``MaxPool2d``
blocks (``--channels``, twice and four times as many) down to the 4x4 grid, and the fully
connected head of YOLOv1: ``fc1`` (``--hidden`` units, dropout, LeakyReLU) and ``fc2`` to
S*S*(C + B*5) numbers (B = 2 boxes a cell), reshaped to ``(N, S, S, 13)``: the C class scores,
then ``(confidence, x, y, w, h)`` of each box. ``YoloLoss`` is the composite loss of the paper:
the IoU of each predicted box with the cell's target chooses the responsible box; the
coordinate MSE on ``(x, y, sqrt(w), sqrt(h))`` weighted by ``lambda_coord`` = 5 on the cells
that hold an object, the objectness MSE of the responsible box, the objectness MSE of both
boxes weighted by ``lambda_noobj`` = 0.5 on the empty cells and the class MSE, summed and
divided by the batch size. Adam, ``--epochs`` epochs. The result line adds the held-out mAP at
IoU 0.5 (``val_map``: boxes of confidence above 0.4, non-maximum suppression at IoU 0.5,
all-point interpolated AP per class, averaged). The mistakes of the families in CASES are
selected with ``--bug`` or show in a setting (``--lr``).
"""

import os
import sys

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
import common  # noqa: E402

import torch  # noqa: E402
from torch import nn  # noqa: E402
from torch.utils.data import DataLoader, TensorDataset  # noqa: E402

np = common.np
SIZE, S, B, C = 32, 4, 2, 3


# ------------------------------------------------------------------------------- data

def shape_images(n, seed):
    """(images (n, 1, 32, 32) float32 in [0, 1], a list of boxes [(cls, x, y, w, h)] an image)."""
    rng = np.random.default_rng(seed)
    images = rng.uniform(0.0, 0.45, size=(n, SIZE, SIZE)).astype(np.float32)
    yy, xx = np.mgrid[0:SIZE, 0:SIZE].astype(np.float32) + 0.5
    annotations = []
    for i in range(n):
        boxes = []
        for _ in range(rng.integers(1, 4)):
            for _attempt in range(20):
                w, h = rng.integers(7, 15, size=2)
                x0, y0 = rng.integers(0, SIZE - w + 1), rng.integers(0, SIZE - h + 1)
                cx, cy = (x0 + w / 2) / SIZE, (y0 + h / 2) / SIZE
                # one object a cell, as YOLOv1's label matrix can hold
                if all(int(cx * S) != int(b[1] * S) or int(cy * S) != int(b[2] * S)
                       for b in boxes):
                    break
            else:
                continue
            cls = int(rng.integers(0, C))
            if cls == 0:        # rectangle
                mask = (xx >= x0) & (xx < x0 + w) & (yy >= y0) & (yy < y0 + h)
            elif cls == 1:      # ellipse
                mask = (((xx - x0 - w / 2) / (w / 2)) ** 2
                        + ((yy - y0 - h / 2) / (h / 2)) ** 2) <= 1.0
            else:               # triangle, apex up
                t = (yy - y0) / h
                mask = ((yy >= y0) & (yy < y0 + h)
                        & (np.abs(xx - x0 - w / 2) <= t * w / 2))
            images[i][mask] = rng.uniform(0.75, 1.0)
            boxes.append((cls, cx, cy, w / SIZE, h / SIZE))
        annotations.append(boxes)
    return images[:, None], annotations


def encode(annotations, bug=None):
    """The S x S x (C + 5) label matrices: class one-hot, objectness, x, y (cell), w, h (image)."""
    labels = np.zeros((len(annotations), S, S, C + 5), dtype=np.float32)
    for n, boxes in enumerate(annotations):
        for cls, x, y, w, h in boxes:
            i, j = int(S * y), int(S * x)          # row, column of the centre's cell
            x_cell, y_cell = S * x - j, S * y - i
            if bug == "row-col-swapped":
                # BUG: the cell indexed as [column, row] (x first, as the annotation lists it)
                # while the decoder and the loss read [row, column].
                i, j = j, i
            if labels[n, i, j, C] == 0:
                labels[n, i, j, cls] = 1.0
                labels[n, i, j, C] = 1.0
                labels[n, i, j, C + 1:C + 5] = (x_cell, y_cell, w, h)
    return labels


# ------------------------------------------------------------------------------- model

class Yolo(nn.Module):
    def __init__(self, channels=16, hidden=256, dropout=0.1):
        super().__init__()

        def block(cin, cout):
            return nn.Sequential(nn.Conv2d(cin, cout, 3, padding=1, bias=False),
                                 nn.BatchNorm2d(cout), nn.LeakyReLU(0.1), nn.MaxPool2d(2))

        self.darknet = nn.Sequential(block(1, channels), block(channels, 2 * channels),
                                     block(2 * channels, 4 * channels))
        self.fc1 = nn.Linear(4 * channels * S * S, hidden)
        self.drop = nn.Dropout(dropout)
        self.act = nn.LeakyReLU(0.1)
        self.fc2 = nn.Linear(hidden, S * S * (C + B * 5))

    def forward(self, x):
        h = torch.flatten(self.darknet(x), start_dim=1)
        h = self.act(self.drop(self.fc1(h)))
        return self.fc2(h).reshape(-1, S, S, C + B * 5)


def intersection_over_union(boxes_preds, boxes_labels):
    """IoU of midpoint boxes (..., 4) = (x, y, w, h)."""
    b1_x1 = boxes_preds[..., 0:1] - boxes_preds[..., 2:3] / 2
    b1_y1 = boxes_preds[..., 1:2] - boxes_preds[..., 3:4] / 2
    b1_x2 = boxes_preds[..., 0:1] + boxes_preds[..., 2:3] / 2
    b1_y2 = boxes_preds[..., 1:2] + boxes_preds[..., 3:4] / 2
    b2_x1 = boxes_labels[..., 0:1] - boxes_labels[..., 2:3] / 2
    b2_y1 = boxes_labels[..., 1:2] - boxes_labels[..., 3:4] / 2
    b2_x2 = boxes_labels[..., 0:1] + boxes_labels[..., 2:3] / 2
    b2_y2 = boxes_labels[..., 1:2] + boxes_labels[..., 3:4] / 2
    x1, y1 = torch.max(b1_x1, b2_x1), torch.max(b1_y1, b2_y1)
    x2, y2 = torch.min(b1_x2, b2_x2), torch.min(b1_y2, b2_y2)
    inter = (x2 - x1).clamp(0) * (y2 - y1).clamp(0)
    area1 = ((b1_x2 - b1_x1) * (b1_y2 - b1_y1)).abs()
    area2 = ((b2_x2 - b2_x1) * (b2_y2 - b2_y1)).abs()
    return inter / (area1 + area2 - inter + 1e-6)


class YoloLoss(nn.Module):
    def __init__(self, lambda_coord=5.0, lambda_noobj=0.5, bug=None):
        super().__init__()
        self.mse = nn.MSELoss(reduction="sum")
        self.lambda_coord = lambda_coord
        self.lambda_noobj = lambda_noobj
        self.bug = bug

    def forward(self, predictions, target):
        n = predictions.shape[0]
        iou_b1 = intersection_over_union(predictions[..., C + 1:C + 5], target[..., C + 1:C + 5])
        iou_b2 = intersection_over_union(predictions[..., C + 6:C + 10], target[..., C + 1:C + 5])
        ious = torch.cat([iou_b1.unsqueeze(0), iou_b2.unsqueeze(0)], dim=0)
        _, bestbox = torch.max(ious, dim=0)
        bestbox = bestbox.float()
        exists_box = target[..., C:C + 1]       # 1 in the cells that hold an object

        # ---- box coordinates
        box_predictions = exists_box * (bestbox * predictions[..., C + 6:C + 10]
                                        + (1 - bestbox) * predictions[..., C + 1:C + 5])
        box_targets = exists_box * target[..., C + 1:C + 5]
        if self.bug == "sqrt-no-eps":
            # BUG: the square root of the predicted width and height taken as the paper writes
            # it, without the sign/abs/epsilon guard: sqrt(0) in the masked empty cells has an
            # infinite derivative, and 0 * inf is NaN.
            wh = torch.sqrt(box_predictions[..., 2:4])
        else:
            wh = torch.sign(box_predictions[..., 2:4]) * torch.sqrt(
                torch.abs(box_predictions[..., 2:4] + 1e-6))
        box_predictions = torch.cat([box_predictions[..., 0:2], wh], dim=-1)
        box_targets = torch.cat([box_targets[..., 0:2], torch.sqrt(box_targets[..., 2:4])],
                                dim=-1)
        box_loss = self.mse(torch.flatten(box_predictions, end_dim=-2),
                            torch.flatten(box_targets, end_dim=-2))

        # ---- objectness of the responsible box
        pred_box = (bestbox * predictions[..., C + 5:C + 6]
                    + (1 - bestbox) * predictions[..., C:C + 1])
        object_loss = self.mse(torch.flatten(exists_box * pred_box),
                               torch.flatten(exists_box * target[..., C:C + 1]))

        # ---- no object: both boxes' confidence in the empty cells
        no_object_loss = self.mse(
            torch.flatten((1 - exists_box) * predictions[..., C:C + 1], start_dim=1),
            torch.flatten((1 - exists_box) * target[..., C:C + 1], start_dim=1))
        no_object_loss = no_object_loss + self.mse(
            torch.flatten((1 - exists_box) * predictions[..., C + 5:C + 6], start_dim=1),
            torch.flatten((1 - exists_box) * target[..., C:C + 1], start_dim=1))

        # ---- classes
        class_loss = self.mse(torch.flatten(exists_box * predictions[..., :C], end_dim=-2),
                              torch.flatten(exists_box * target[..., :C], end_dim=-2))

        loss = (self.lambda_coord * box_loss + object_loss
                + self.lambda_noobj * no_object_loss + class_loss)
        return loss / n


# ------------------------------------------------------------------------------- evaluation

def cellboxes_to_boxes(predictions):
    """Per image, S*S boxes [cls, score, x, y, w, h] (image-relative) of the better box a cell."""
    p = predictions.detach()
    box1, box2 = p[..., C + 1:C + 5], p[..., C + 6:C + 10]
    scores = torch.stack([p[..., C], p[..., C + 5]], dim=0)
    best = scores.argmax(0).unsqueeze(-1)
    best_boxes = box1 * (1 - best) + best * box2
    cell_j = torch.arange(S).repeat(S, 1).unsqueeze(-1)           # column index
    x = (best_boxes[..., 0:1] + cell_j) / S
    y = (best_boxes[..., 1:2] + cell_j.permute(1, 0, 2)) / S
    wh = best_boxes[..., 2:4]
    cls = p[..., :C].argmax(-1, keepdim=True).float()
    conf = torch.max(p[..., C], p[..., C + 5]).unsqueeze(-1)
    out = torch.cat([cls, conf, x, y, wh], dim=-1).reshape(p.shape[0], S * S, 6)
    return out.numpy()


def _iou_np(a, b):
    ax1, ay1, ax2, ay2 = a[0] - a[2] / 2, a[1] - a[3] / 2, a[0] + a[2] / 2, a[1] + a[3] / 2
    bx1, by1, bx2, by2 = b[0] - b[2] / 2, b[1] - b[3] / 2, b[0] + b[2] / 2, b[1] + b[3] / 2
    inter = max(0.0, min(ax2, bx2) - max(ax1, bx1)) * max(0.0, min(ay2, by2) - max(ay1, by1))
    union = abs(a[2] * a[3]) + abs(b[2] * b[3]) - inter
    return inter / (union + 1e-6)


def non_max_suppression(boxes, iou_threshold=0.5, threshold=0.4):
    boxes = sorted((b for b in boxes if b[1] > threshold), key=lambda b: -b[1])
    kept = []
    while boxes:
        chosen = boxes.pop(0)
        boxes = [b for b in boxes
                 if b[0] != chosen[0] or _iou_np(chosen[2:], b[2:]) < iou_threshold]
        kept.append(chosen)
    return kept


def mean_average_precision(pred_boxes, annotations, iou_threshold=0.5):
    """pred_boxes: per image the kept [cls, score, x, y, w, h]; all-point AP, averaged."""
    aps = []
    for c in range(C):
        detections = [(img, b) for img, boxes in enumerate(pred_boxes) for b in boxes
                      if int(b[0]) == c]
        truths = {img: [b for b in boxes if b[0] == c] for img, boxes in enumerate(annotations)}
        total = sum(len(v) for v in truths.values())
        if total == 0:
            continue
        used = {img: [False] * len(v) for img, v in truths.items()}
        detections.sort(key=lambda d: -d[1][1])
        tp = np.zeros(len(detections))
        for k, (img, det) in enumerate(detections):
            best_iou, best = 0.0, -1
            for t, gt in enumerate(truths[img]):
                iou = _iou_np(det[2:], gt[1:])
                if iou > best_iou:
                    best_iou, best = iou, t
            if best_iou > iou_threshold and not used[img][best]:
                tp[k] = 1
                used[img][best] = True
        tp_cum = np.cumsum(tp)
        recalls = np.concatenate([[0.0], tp_cum / total])
        precisions = np.concatenate([[1.0], tp_cum / np.maximum(np.arange(1, len(tp) + 1), 1)])
        aps.append(float(np.trapezoid(precisions, recalls)))
    return float(np.mean(aps)) if aps else 0.0


def evaluate(model, loss_fn, x, labels, annotations):
    model.eval()
    with torch.no_grad():
        out = model(x)
        val_loss = loss_fn(out, labels).item()
    model.train()
    boxes = [non_max_suppression(list(map(list, img))) for img in cellboxes_to_boxes(out)]
    return val_loss, mean_average_precision(boxes, annotations)


# ------------------------------------------------------------------------------- training

def main():
    p = common.parser(__doc__)
    p.add_argument("--channels", type=int, default=16)
    p.add_argument("--hidden", type=int, default=256)
    p.add_argument("--dropout", type=float, default=0.1)
    p.add_argument("--lr", type=float, default=2e-3)
    p.add_argument("--weight-decay", type=float, default=0.0)
    p.add_argument("--batch-size", type=int, default=64)
    p.add_argument("--epochs", type=int, default=24)
    p.add_argument("--lambda-coord", type=float, default=5.0)
    p.add_argument("--lambda-noobj", type=float, default=0.5)
    p.add_argument("--bug", default=None,
                   choices=("sqrt-no-eps", "row-col-swapped"))
    args = p.parse_args()
    common.torch_setup(args.seed)

    images, annotations = shape_images(2000, args.seed)
    x_tr, x_val = torch.from_numpy(images[:1600]), torch.from_numpy(images[1600:])
    ann_val = annotations[1600:]
    y_tr = torch.from_numpy(encode(annotations[:1600], bug=args.bug))
    y_val = torch.from_numpy(encode(ann_val, bug=args.bug))
    loader = DataLoader(TensorDataset(x_tr, y_tr), batch_size=args.batch_size, shuffle=True,
                        drop_last=True, generator=torch.Generator().manual_seed(args.seed))

    model = Yolo(args.channels, args.hidden, args.dropout)
    optimizer = torch.optim.Adam(model.parameters(), lr=args.lr,
                                 weight_decay=args.weight_decay)
    loss_fn = YoloLoss(args.lambda_coord, args.lambda_noobj, bug=args.bug)

    steps_per_epoch = len(loader)
    rec = common.recording.torch_recorder(
        model, args.out, optimizer=optimizer, task="regression", loss_name="yolo_v1_loss",
        steps_per_epoch=steps_per_epoch, batch_size=args.batch_size)
    history = common.History()
    val_map = None
    for epoch in range(args.epochs):
        model.train()
        for b, (xb, yb) in enumerate(loader):
            out = model(xb)
            loss = loss_fn(out, yb)
            optimizer.zero_grad()
            loss.backward()
            optimizer.step()
            val_loss = None
            if b == steps_per_epoch - 1:
                val_loss, val_map = evaluate(model, loss_fn, x_val, y_val, ann_val)
            rec.step(loss, inputs=xb, targets=yb, val_loss=val_loss)
            history.step(loss.item())
        history.epoch(val_loss)
        print("epoch %d: train %.4f val %.4f mAP@0.5 %.3f" % (
            epoch + 1, np.mean(history.epochs[-1][0]), val_loss, val_map))
    rec.close()
    common.report(history.result(val_map=val_map))


# The ground truth of every run of this program, stated from the program (corpus/README.md).
CASES = [
    {"family": "yolo-sqrt-no-eps", "split": "dev", "architecture": "cnn",
     "origin": "Humbatova et al. 2020 (loss function: numerically unsafe operation); the NaN "
               "losses of YOLOv1-from-scratch re-implementations taking torch.sqrt of the "
               "predicted width and height",
     "bug": "YoloLoss takes torch.sqrt of the masked predicted width and height without the "
            "sign/abs/epsilon guard: in the empty cells the masked prediction is 0, sqrt(0) "
            "has an infinite derivative and 0 * inf is NaN, so the first backward pass fills "
            "the gradients with NaN and the loss is NaN from the second step (held-out mAP@0.5 "
            "0.000 against the twin's 0.639)",
     "fix": "torch.sign(w) * torch.sqrt(torch.abs(w + 1e-6)) for the predicted width and height",
     "symptom": "numerical_error", "acceptable_symptoms": [],
     "root_cause": "model",
     "pairs": [
         {"id": "adam-bs64",
          "buggy": "--bug sqrt-no-eps --record-every 4",
          "fixed": "--record-every 4"},
     ]},
    {"family": "yolo-lambdas-swapped", "split": "dev", "architecture": "cnn",
     "origin": "Humbatova et al. 2020 (loss function: wrong weighting of the loss terms); "
               "DeepFD fault type: wrong loss function",
     "bug": "lambda_coord and lambda_noobj swapped (lambda_coord 0.5, lambda_noobj 5): the "
            "loss is dominated by pushing the confidence of the empty cells to 0 and the box "
            "coordinates get a tenth of their weight; the held-out mAP@0.5 ends at 0.245 "
            "against the twin's 0.622 (training loss 17.8 to 1.61)",
     "fix": "lambda_coord 5, lambda_noobj 0.5 as in the YOLOv1 paper",
     "symptom": "slow_convergence", "acceptable_symptoms": ["not_learning"],
     "root_cause": "model",
     "pairs": [
         {"id": "adam-seed2",
          "buggy": "--lambda-coord 0.5 --lambda-noobj 5 --seed 2 --record-every 4",
          "fixed": "--seed 2 --record-every 4"},
     ]},
    {"family": "yolo-row-col-swapped", "split": "dev", "architecture": "cnn",
     "origin": "Humbatova et al. 2020 (training data: wrong labels / wrong preprocessing of the "
               "annotations); the row/column index mix-up of YOLO label encoders",
     "bug": "encode() writes each box into label_matrix[column, row] while the decoder and the "
            "loss read [row, column]: the network learns to put the objects in the transposed "
            "cell with offsets of the other cell, its training and validation losses fall as "
            "the twin's (0.81 and 1.53 against 0.81 and 1.55) but the decoded boxes miss: "
            "held-out mAP@0.5 0.058 against the twin's 0.563",
     "fix": "i, j = int(S * y), int(S * x): the row from y, the column from x",
     "symptom": "not_learning", "acceptable_symptoms": [],
     "root_cause": "model",
     "pairs": [
         {"id": "adam-seed1",
          "buggy": "--bug row-col-swapped --seed 1 --record-every 4",
          "fixed": "--seed 1 --record-every 4"},
     ]},
    {"family": "healthy-yolo", "split": "dev", "architecture": "cnn",
     "origin": "healthy run",
     "description": "a YOLOv1-style grid detector of generated shapes that trains well",
     "healthy": [
         {"id": "channels24-seed1",
          "args": "--channels 24 --seed 1 --record-every 4",
          "description": "24, 48 and 96 channels, Adam 2e-3, batches of 64, 24 epochs"},
         {"id": "dropout02-wd1e-5-seed2",
          "args": "--dropout 0.2 --weight-decay 1e-5 --seed 2 --record-every 4",
          "description": "dropout 0.2 in the head, Adam 2e-3 with an L2 penalty of 1e-5"},
     ]},
]


if __name__ == "__main__":
    main()
