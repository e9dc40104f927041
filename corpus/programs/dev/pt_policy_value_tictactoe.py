"""An AlphaZero-style policy-value network (Silver et al., "Mastering the game of Go without
human knowledge", Nature 2017, and "A general reinforcement learning algorithm that masters
chess, shogi, and Go through self-play", Science 2018) trained supervised on tic-tac-toe
positions labelled by exact minimax, written as the public PyTorch implementations write the
network and its loss (junxiaosong/AlphaZero_Gomoku's ``policy_value_net_pytorch.py``,
suragnair/alpha-zero-general's ``NNet.py``): the board as input planes from the side to
move's point of view (its own stones, the opponent's stones, a constant plane of 1 when X is
to move), a residual convolutional tower (a 3x3 ``Conv2d`` + ``BatchNorm2d`` stem and
``--blocks`` residual blocks of two 3x3 convolutions with batch norm), a policy head (a 1x1
convolution to 2 planes, batch norm, ReLU, a ``Linear`` to 9 move logits, the occupied squares
masked out before the softmax) and a value head (a 1x1 convolution to 1 plane, batch norm,
ReLU, ``Linear`` to ``--value-hidden`` units, ReLU, ``Linear`` to 1, tanh); the loss is the
cross-entropy of the policy against the target distribution plus the mean squared error of
the value, with the L2 penalty as the optimizer's weight decay (``--wd``, 1e-4), SGD with
momentum 0.9 (``--optimizer sgd``, the papers') or Adam (the public implementations').

The data are generated here: the program enumerates every position reachable from the empty
board with X to move first that is not over (4520), solves the game by minimax, and labels
each with the game-theoretic value for the side to move (+1 win, 0 draw, -1 loss) and the set
of optimal moves; the policy target is uniform over the optimal moves. A random 25% of the
positions is held out. Metrics: the policy accuracy (the masked argmax is one of the optimal
moves; the recorder's accuracy, and the validation accuracy on the held-out positions) and
the value accuracy (the value rounded to the nearest of -1, 0 and +1 equals the solver's
value for the side to move; ``val_value_accuracy``); the validation loss is the held-out
total loss. The mistakes of the families in CASES are selected with ``--bug``.
"""

import os
import sys

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
import common  # noqa: E402

import torch  # noqa: E402
import torch.nn.functional as F  # noqa: E402
from torch import nn  # noqa: E402

np = common.np

LINES = [(0, 1, 2), (3, 4, 5), (6, 7, 8), (0, 3, 6), (1, 4, 7), (2, 5, 8), (0, 4, 8), (2, 4, 6)]


def winner(board):
    for a, b, c in LINES:
        if board[a] != 0 and board[a] == board[b] == board[c]:
            return board[a]
    return 0


def solve():
    """Every reachable position that is not over, with the side to move's minimax value and
    its optimal moves: a list of (board, player, value, optimal moves)."""
    memo = {}
    positions = []

    def value(board, player):
        key = (board, player)
        if key in memo:
            return memo[key]
        if winner(board) != 0:           # the previous player has just won
            memo[key] = -1
            return -1
        moves = [i for i in range(9) if board[i] == 0]
        if not moves:
            memo[key] = 0
            return 0
        scores = []
        for m in moves:
            child = board[:m] + (player,) + board[m + 1:]
            scores.append(-value(child, -player))
        best = max(scores)
        memo[key] = best
        positions.append((board, player, best, [m for m, s in zip(moves, scores) if s == best]))
        return best

    value((0,) * 9, 1)
    return positions


def encode(positions, bug=None):
    """Input planes (own stones, opponent stones, X to move), legal-move masks, policy and
    value targets."""
    n = len(positions)
    x = np.zeros((n, 3, 3, 3), dtype=np.float32)
    legal = np.zeros((n, 9), dtype=bool)
    pi = np.zeros((n, 9), dtype=np.float32)
    z = np.zeros(n, dtype=np.float32)
    for i, (board, player, val, best) in enumerate(positions):
        b = np.array(board).reshape(3, 3)
        if bug == "planes-not-swapped":
            # BUG (planes-not-swapped): X's stones and O's stones always in planes 0 and 1,
            # not the side to move's and its opponent's.
            x[i, 0], x[i, 1] = b == 1, b == -1
        else:
            x[i, 0], x[i, 1] = b == player, b == -player
        x[i, 2] = 1.0 if player == 1 else 0.0
        legal[i] = np.array(board) == 0
        pi[i, best] = 1.0 / len(best)
        if bug == "value-not-flipped":
            # BUG (value-not-flipped): the value stored from X's point of view, not flipped to
            # the side to move's as the planes are.
            z[i] = val * player
        else:
            z[i] = val
    return x, legal, pi, z


class ResidualBlock(nn.Module):
    def __init__(self, ch):
        super().__init__()
        self.conv1 = nn.Conv2d(ch, ch, 3, padding=1, bias=False)
        self.bn1 = nn.BatchNorm2d(ch)
        self.conv2 = nn.Conv2d(ch, ch, 3, padding=1, bias=False)
        self.bn2 = nn.BatchNorm2d(ch)

    def forward(self, x):
        out = F.relu(self.bn1(self.conv1(x)))
        out = self.bn2(self.conv2(out))
        return F.relu(out + x)


class PolicyValueNet(nn.Module):
    def __init__(self, channels=32, blocks=2, value_hidden=32, tanh=True, bug=None):
        super().__init__()
        self.bug = bug
        self.tanh = tanh
        self.conv = nn.Conv2d(3, channels, 3, padding=1, bias=False)
        self.bn = nn.BatchNorm2d(channels)
        self.tower = nn.Sequential(*[ResidualBlock(channels) for _ in range(blocks)])
        # policy head
        self.act_conv1 = nn.Conv2d(channels, 2, kernel_size=1)
        self.act_bn = nn.BatchNorm2d(2)
        self.act_fc1 = nn.Linear(2 * 9, 9)
        # value head
        self.val_conv1 = nn.Conv2d(channels, 1, kernel_size=1)
        self.val_bn = nn.BatchNorm2d(1)
        self.val_fc1 = nn.Linear(9, value_hidden)
        self.val_fc2 = nn.Linear(value_hidden, 1)

    def forward(self, state_input, legal):
        x = F.relu(self.bn(self.conv(state_input)))
        x = self.tower(x)
        # action policy layers
        x_act = F.relu(self.act_bn(self.act_conv1(x)))
        x_act = self.act_fc1(x_act.view(x_act.size(0), -1))
        if self.bug == "mask-zero":
            # BUG (mask-zero): the occupied squares' logits multiplied by the 0/1 mask,
            # i.e. set to 0 instead of -inf: they keep a share of the softmax.
            x_act = x_act * legal
        else:
            # -1e9 rather than -inf: 0 * -inf in the soft-target cross-entropy would be NaN
            x_act = x_act.masked_fill(~legal, -1e9)
        # state value layers
        x_val = F.relu(self.val_bn(self.val_conv1(x)))
        x_val = F.relu(self.val_fc1(x_val.view(x_val.size(0), -1)))
        x_val = self.val_fc2(x_val)
        if self.tanh:
            x_val = torch.tanh(x_val)
        return x_act, x_val


def value_class(v):
    return torch.where(v > 0.5, 1.0, torch.where(v < -0.5, -1.0, 0.0))


def main():
    p = common.parser(__doc__)
    p.add_argument("--channels", type=int, default=32)
    p.add_argument("--blocks", type=int, default=2)
    p.add_argument("--value-hidden", type=int, default=32)
    p.add_argument("--optimizer", default="sgd", choices=("sgd", "adam"))
    p.add_argument("--lr", type=float, default=0.02)
    p.add_argument("--wd", type=float, default=1e-4)
    p.add_argument("--batch-size", type=int, default=64)
    p.add_argument("--epochs", type=int, default=30)
    p.add_argument("--no-tanh", action="store_true",
                   help="leave the tanh off the value head (a linear value)")
    p.add_argument("--bug", default=None,
                   choices=("softmax-into-ce", "value-broadcast", "mask-zero",
                            "value-not-flipped", "planes-not-swapped"))
    args = p.parse_args()
    common.torch_setup(args.seed)

    positions = solve()
    x, legal, pi, z = encode(positions, args.bug)
    rng = np.random.default_rng(args.seed)
    order = rng.permutation(len(positions))
    n_val = len(positions) // 4
    val_idx, tr_idx = order[:n_val], order[n_val:]
    # the true (side to move) values, for the value accuracy
    z_true = np.array([v for _, _, v, _ in positions], dtype=np.float32)
    print("positions %d (train %d, held out %d); values: %d wins, %d draws, %d losses" % (
        len(positions), len(tr_idx), len(val_idx), (z_true == 1).sum(), (z_true == 0).sum(),
        (z_true == -1).sum()))

    t = lambda a: torch.from_numpy(a)  # noqa: E731
    xt, lt, pt, zt = t(x[tr_idx]), t(legal[tr_idx]), t(pi[tr_idx]), t(z[tr_idx])
    xv, lv, pv, zv = t(x[val_idx]), t(legal[val_idx]), t(pi[val_idx]), t(z[val_idx])
    zv_true = t(z_true[val_idx])

    model = PolicyValueNet(args.channels, args.blocks, args.value_hidden,
                           tanh=not args.no_tanh, bug=args.bug)
    if args.optimizer == "sgd":
        optimizer = torch.optim.SGD(model.parameters(), lr=args.lr, momentum=0.9,
                                    weight_decay=args.wd)
    else:
        optimizer = torch.optim.Adam(model.parameters(), lr=args.lr, weight_decay=args.wd)
    policy_loss_fn = nn.CrossEntropyLoss()

    def losses(xb, lb, pb, zb, train=True):
        log_act, value = model(xb, lb)
        if args.bug == "softmax-into-ce":
            # BUG (softmax-into-ce): the probabilities, not the logits, given to
            # CrossEntropyLoss, which applies its own log-softmax.
            policy_loss = policy_loss_fn(F.softmax(log_act, dim=1), pb)
        else:
            policy_loss = policy_loss_fn(log_act, pb)
        if args.bug == "value-broadcast":
            # BUG (value-broadcast): value is (N, 1) and the targets (N,): mse_loss broadcasts
            # them to (N, N) and every value is fitted to every target of the batch.
            value_loss = F.mse_loss(value, zb)
        else:
            value_loss = F.mse_loss(value.view(-1), zb)
        return policy_loss + value_loss, log_act, value

    def policy_accuracy(logits, pb):
        return (pb.gather(1, logits.argmax(1, keepdim=True)) > 0).float().mean().item()

    steps_per_epoch = len(xt) // args.batch_size
    rec = common.recording.torch_recorder(
        model, args.out, optimizer=optimizer, task="classification",
        loss_name="CrossEntropyLoss", num_classes=9, loss_added=True,
        steps_per_epoch=steps_per_epoch, batch_size=args.batch_size)
    history = common.History()
    g = torch.Generator().manual_seed(args.seed)
    for epoch in range(1, args.epochs + 1):
        model.train()
        perm = torch.randperm(len(xt), generator=g)
        for b in range(steps_per_epoch):
            idx = perm[b * args.batch_size:(b + 1) * args.batch_size]
            xb, lb, pb, zb = xt[idx], lt[idx], pt[idx], zt[idx]
            optimizer.zero_grad()
            loss, logits, _ = losses(xb, lb, pb, zb)
            loss.backward()
            optimizer.step()
            acc = policy_accuracy(logits.detach(), pb)
            val_loss = val_acc = None
            if b == steps_per_epoch - 1:
                model.eval()
                with torch.no_grad():
                    vl, v_logits, v_value = losses(xv, lv, pv, zv)
                val_loss, val_acc = vl.item(), policy_accuracy(v_logits, pv)
                val_value_acc = (value_class(v_value.view(-1)) == zv_true).float().mean().item()
                model.train()
            rec.step(loss, accuracy=acc, inputs=xb, targets=pb, val_loss=val_loss,
                     val_accuracy=val_acc)
            history.step(loss.item(), acc)
        history.epoch(val_loss, val_acc)
        if epoch % 5 == 0 or epoch == 1:
            print("epoch %d: loss %.4f policy acc %.3f | held out: loss %.4f policy acc %.3f "
                  "value acc %.3f" % (epoch, np.mean(history.epochs[-1][0]),
                                      np.mean(history.epochs[-1][1]), val_loss, val_acc,
                                      val_value_acc))
    rec.close()
    names = ["conv", "bn"]
    for i in range(args.blocks):
        names += ["tower.%d.%s" % (i, n) for n in ("conv1", "bn1", "conv2", "bn2")]
    names += ["act_conv1", "act_bn", "act_fc1", "val_conv1", "val_bn", "val_fc1", "val_fc2"]
    common.report(history.result(val_value_accuracy=val_value_acc, layers=names))


# The ground truth of every run of this program, stated from the program (corpus/README.md).
CASES = [
    {"family": "pvttt-value-broadcast", "split": "dev", "architecture": "cnn",
     "origin": "Humbatova et al. 2020: wrong tensor shape (the value head's output of shape "
               "(N, 1) against targets of shape (N,), broadcast by mse_loss to (N, N))",
     "bug": "F.mse_loss(value, z) with value (N, 1) and z (N,): every value is fitted to every "
            "target of the batch, the value head learns the batch mean; the policy still "
            "learns (held-out policy accuracy 0.991) but the loss falls only from 1.70 to "
            "1.08 (held-out 1.26) and the held-out value accuracy ends at 0.241, near the "
            "share of drawn positions (0.23), against the twin's loss 1.61 to 0.566 "
            "(held-out 0.735), policy accuracy 0.992 and value accuracy 0.939",
     "fix": "F.mse_loss(value.view(-1), z)",
     "symptom": "not_learning", "acceptable_symptoms": ["loss_mismatch"],
     "root_cause": "model",
     "pairs": [
         {"id": "sgd-seed0",
          "buggy": "--bug value-broadcast --record-every 16",
          "fixed": "--record-every 16"},
     ]},
    {"family": "pvttt-value-not-flipped", "split": "dev", "architecture": "cnn",
     "origin": "Humbatova et al. 2020: wrong labels (the perspective bug of self-play and "
               "solver-labelled board games: the value target kept from the first player's "
               "point of view while the input planes are the side to move's)",
     "bug": "the value target is stored from X's point of view (value * player), not the "
            "side to move's: the net learns it (loss 1.66 to 0.567, held-out loss 0.765, "
            "policy accuracy 0.987, as the twin's 1.62 to 0.565, 0.751 and 0.986), but "
            "scored against the solver's value for the side to move its held-out value "
            "accuracy is 0.647 against the twin's 0.949: every won or lost position with O "
            "to move has the wrong sign",
     "fix": "z = value (already the side to move's), as the planes are",
     "symptom": "not_learning", "acceptable_symptoms": [],
     "root_cause": "model",
     "pairs": [
         {"id": "sgd-seed1",
          "buggy": "--bug value-not-flipped --seed 1 --record-every 16",
          "fixed": "--seed 1 --record-every 16"},
     ]},
    {"family": "healthy-pvttt", "split": "dev", "architecture": "cnn",
     "origin": "healthy run",
     "description": "an AlphaZero-style residual policy-value network trained on the minimax "
                    "labels of every tic-tac-toe position",
     "healthy": [
         {"id": "adam-seed2",
          "args": "--optimizer adam --lr 2e-3 --seed 2 --record-every 16",
          "description": "Adam at 2e-3 (the public implementations' optimizer): loss 1.57 to "
                         "0.555, held-out policy accuracy 0.988 and value accuracy 0.956"},
     ]},
]


if __name__ == "__main__":
    main()
