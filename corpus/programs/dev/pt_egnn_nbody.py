"""An E(n)-equivariant graph neural network (EGNN, Satorras, Hoogeboom and Welling 2021) in
PyTorch, predicting the future positions of charged particles (the paper's n-body task).

The model follows the paper's repository (``vgsatorras/egnn``, ``models/gcl.py`` ``E_GCL`` /
``E_GCL_vel`` and ``n_body_system/model.py`` ``EGNN_vel``). The data are simulated as its
``n_body_system/dataset/synthetic_sim.py`` (``ChargedParticlesSim``, from Kipf et al.'s NRI)
does it, in numpy: 5 particles in 3-D with charges +1 or -1 (uniform), initial positions
Gaussian (std 0.5), initial velocities Gaussian with norm 0.5, Coulomb-like forces
``F_i = sum_j q_i q_j (x_i - x_j) / |x_i - x_j|^3`` (distances clipped below at 0.1, forces
clipped to +-10 per component), leapfrog steps of dt 0.001; the input is the state (positions,
velocities, charges) after 300 steps and the target the positions 1000 steps later.
``--train`` trajectories (300) train and 200 others (another seed) are held out.

``EGNN``: ``embedding`` (a Linear 1 -> ``--hidden``) of the node feature, the speed |v_i|, then
``--layers`` (3) ``E_GCL_vel`` layers on the fully connected graph without self-loops, the
edge attribute being q_i q_j. Each layer: ``edge_mlp`` (Linear, SiLU, Linear, SiLU) on (h_i,
h_j, |x_i - x_j|^2, q_i q_j) gives m_ij; ``coord_mlp`` (Linear, SiLU, Linear without bias,
initialized with gain 0.001) gives phi_x(m_ij) and the positions are updated
``x_i + mean_j (x_i - x_j) phi_x(m_ij)`` (the messages clamped to +-100), then
``x_i + coord_mlp_vel(h_i) v_i``; ``node_mlp`` (Linear, SiLU, Linear) on (h_i, sum_j m_ij) with
a residual connection. The output is the last layer's positions. ``MSELoss`` against the
target positions, Adam (``--lr``, 5e-4 as the repository), minibatches of ``--batch-size``
(25) systems shuffled each epoch (12 steps an epoch), ``--epochs`` (30). After every epoch the
held-out position MSE is the validation loss; the result line adds ``val_mse`` and
``baseline_mse``, the held-out MSE of the constant-velocity prediction x + v T (the physics
without forces), and of the positions unchanged (``static_mse``). The mistakes of the families
in CASES are selected with ``--bug`` or show in a setting (``--lr``).
"""

import os
import sys

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
import common  # noqa: E402

import torch  # noqa: E402
from torch import nn  # noqa: E402

np = common.np

N_BALLS, DIM = 5, 3
DT, T_IN, T_OUT = 0.001, 300, 1000


def _forces(loc, charges):
    diff = loc[:, None, :] - loc[None, :, :]                 # x_i - x_j
    dist = np.sqrt((diff ** 2).sum(-1))
    np.fill_diagonal(dist, 1.0)
    dist = np.maximum(dist, 0.1)
    coef = charges[:, None] * charges[None, :] / dist ** 3
    np.fill_diagonal(coef, 0.0)
    return np.clip((coef[:, :, None] * diff).sum(1), -10.0, 10.0)


def simulate(n, seed):
    rng = np.random.default_rng(seed)
    xs, vs, qs, ys = [], [], [], []
    for _ in range(n):
        charges = rng.choice([1.0, -1.0], size=N_BALLS)
        loc = 0.5 * rng.standard_normal((N_BALLS, DIM))
        vel = rng.standard_normal((N_BALLS, DIM))
        vel = vel / np.linalg.norm(vel, axis=1, keepdims=True) * 0.5
        acc = _forces(loc, charges)
        for t in range(T_IN + T_OUT):
            if t == T_IN:
                xs.append(loc.copy())
                vs.append(vel.copy())
            vel = vel + 0.5 * DT * acc
            loc = loc + DT * vel
            acc = _forces(loc, charges)
            vel = vel + 0.5 * DT * acc
        qs.append(charges.copy())
        ys.append(loc.copy())
    f = lambda a: torch.tensor(np.stack(a), dtype=torch.float32)  # noqa: E731
    return f(xs), f(vs), f(qs), f(ys)


def edge_index(n_nodes, self_loops=False):
    rows, cols = [], []
    for i in range(n_nodes):
        for j in range(n_nodes):
            if i != j or self_loops:
                rows.append(i)
                cols.append(j)
    return torch.tensor(rows), torch.tensor(cols)


def batch_edges(batch_size, rows, cols):
    offset = (torch.arange(batch_size) * N_BALLS).repeat_interleave(len(rows))
    return rows.repeat(batch_size) + offset, cols.repeat(batch_size) + offset


def unsorted_segment_sum(data, segment_ids, num_segments):
    result = data.new_zeros((num_segments, data.size(1)))
    return result.index_add(0, segment_ids, data)


def unsorted_segment_mean(data, segment_ids, num_segments):
    result = unsorted_segment_sum(data, segment_ids, num_segments)
    count = unsorted_segment_sum(torch.ones_like(data), segment_ids, num_segments)
    return result / count.clamp(min=1)


class E_GCL_vel(nn.Module):
    def __init__(self, hidden, edges_in_d=1, bug=None):
        super().__init__()
        act = nn.SiLU()
        self.bug = bug
        radial_d = DIM * 2 if bug == "raw-coords" else 1
        self.edge_mlp = nn.Sequential(
            nn.Linear(2 * hidden + radial_d + edges_in_d, hidden), act,
            nn.Linear(hidden, hidden), act)
        self.node_mlp = nn.Sequential(
            nn.Linear(2 * hidden, hidden), act,
            nn.Linear(hidden, hidden))
        layer = nn.Linear(hidden, 1, bias=False)
        nn.init.xavier_uniform_(layer.weight, gain=0.001)
        self.coord_mlp = nn.Sequential(nn.Linear(hidden, hidden), act, layer)
        self.coord_mlp_vel = nn.Sequential(nn.Linear(hidden, hidden), act, nn.Linear(hidden, 1))

    def coord2radial(self, edge_index, coord):
        row, col = edge_index
        coord_diff = coord[row] - coord[col]
        radial = torch.sum(coord_diff ** 2, 1, keepdim=True)
        return radial, coord_diff

    def edge_model(self, source, target, radial, edge_attr, coord, edge_index):
        if self.bug == "raw-coords":
            # BUG (raw-coords): the raw positions of both ends given to the edge MLP instead
            # of the squared distance (no longer invariant to rotations and translations).
            row, col = edge_index
            radial = torch.cat([coord[row], coord[col]], dim=1)
        out = torch.cat([source, target, radial, edge_attr], dim=1)
        return self.edge_mlp(out)

    def node_model(self, x, edge_index, edge_attr):
        row, col = edge_index
        agg = unsorted_segment_sum(edge_attr, row, num_segments=x.size(0))
        out = self.node_mlp(torch.cat([x, agg], dim=1))
        return x + out

    def coord_model(self, coord, edge_index, coord_diff, edge_feat):
        row, col = edge_index
        trans = coord_diff * self.coord_mlp(edge_feat)
        if self.bug == "coord-sum-unclamped":
            # BUG (coord-sum-unclamped): the messages summed over the neighbours, no clamp.
            agg = unsorted_segment_sum(trans, row, num_segments=coord.size(0))
        else:
            trans = torch.clamp(trans, min=-100, max=100)
            agg = unsorted_segment_mean(trans, row, num_segments=coord.size(0))
        return coord + agg

    def forward(self, h, edge_index, coord, vel, edge_attr):
        row, col = edge_index
        radial, coord_diff = self.coord2radial(edge_index, coord)
        edge_feat = self.edge_model(h[row], h[col], radial, edge_attr, coord, edge_index)
        coord = self.coord_model(coord, edge_index, coord_diff, edge_feat)
        if self.bug != "no-velocity":
            coord = coord + self.coord_mlp_vel(h) * vel
        # BUG (no-velocity): the velocity term x_i + phi_v(h_i) v_i left out of the update.
        h = self.node_model(h, edge_index, edge_feat)
        return h, coord


class EGNN(nn.Module):
    def __init__(self, hidden, n_layers, bug=None):
        super().__init__()
        self.embedding = nn.Linear(1, hidden)
        self.gcl = nn.ModuleList([E_GCL_vel(hidden, bug=bug) for _ in range(n_layers)])

    def forward(self, h, x, edges, vel, edge_attr):
        h = self.embedding(h)
        for layer in self.gcl:
            h, x = layer(h, edges, x, vel, edge_attr)
        return x


def predict(model, loc, vel, charges, rows, cols):
    b = loc.size(0)
    er, ec = batch_edges(b, rows, cols)
    x = loc.reshape(-1, DIM)
    v = vel.reshape(-1, DIM)
    q = charges.reshape(-1, 1)
    nodes = torch.sqrt(torch.sum(v ** 2, dim=1)).unsqueeze(1)
    edge_attr = q[er] * q[ec]
    return model(nodes, x, (er, ec), v, edge_attr).reshape(b, N_BALLS, DIM)


def main():
    p = common.parser(__doc__)
    p.add_argument("--hidden", type=int, default=64)
    p.add_argument("--layers", type=int, default=3)
    p.add_argument("--lr", type=float, default=5e-4)
    p.add_argument("--batch-size", type=int, default=25)
    p.add_argument("--train", type=int, default=300)
    p.add_argument("--epochs", type=int, default=30)
    p.add_argument("--bug", default=None, choices=(
        "coord-sum-unclamped", "raw-coords", "no-velocity"))
    args = p.parse_args()
    common.torch_setup(args.seed)

    loc, vel, charges, target = simulate(args.train, seed=args.seed)
    t_loc, t_vel, t_charges, t_target = simulate(200, seed=1000 + args.seed)
    rows, cols = edge_index(N_BALLS)

    model = EGNN(args.hidden, args.layers, bug=args.bug)
    optimizer = torch.optim.Adam(model.parameters(), lr=args.lr)
    criterion = nn.MSELoss()
    gen = torch.Generator().manual_seed(args.seed)
    steps_per_epoch = (args.train + args.batch_size - 1) // args.batch_size

    rec = common.recording.torch_recorder(
        model, args.out, optimizer=optimizer, task="regression", loss_name="MSELoss",
        steps_per_epoch=steps_per_epoch, batch_size=args.batch_size)
    history = common.History()
    val_mse = None
    for epoch in range(args.epochs):
        model.train()
        perm = torch.randperm(args.train, generator=gen)
        for b in range(steps_per_epoch):
            idx = perm[b * args.batch_size:(b + 1) * args.batch_size]
            optimizer.zero_grad()
            pred = predict(model, loc[idx], vel[idx], charges[idx], rows, cols)
            loss = criterion(pred, target[idx])
            loss.backward()
            optimizer.step()
            val_loss = None
            if b == steps_per_epoch - 1:
                model.eval()
                with torch.no_grad():
                    val_mse = criterion(predict(model, t_loc, t_vel, t_charges, rows, cols),
                                        t_target).item()
                model.train()
                val_loss = val_mse
            rec.step(loss, inputs=torch.cat([loc[idx], vel[idx]], dim=2), targets=target[idx],
                     val_loss=val_loss)
            history.step(loss.item())
        history.epoch(val_loss)
        if (epoch + 1) % 5 == 0:
            print("epoch %d: train mse %.5f  held-out mse %.5f" % (
                epoch + 1, np.mean(history.epochs[-1][0]), val_mse))
    rec.close()

    baseline = criterion(t_loc + t_vel * DT * T_OUT, t_target).item()
    static = criterion(t_loc, t_target).item()
    print("held-out mse %.5f, constant velocity %.5f, positions unchanged %.5f" % (
        val_mse, baseline, static))
    common.report(history.result(val_mse=val_mse, baseline_mse=baseline, static_mse=static))


# The ground truth of every run of this program, stated from the program (corpus/README.md).
CASES = [
    {"family": "egnn-no-velocity", "split": "dev", "architecture": "gcn",
     "origin": "Humbatova et al. 2020: wrong model formula (the velocity term "
               "x_i + phi_v(h_i) v_i of EGNN_vel's coordinate update left out, so the "
               "positions are predicted from the current positions and the speeds only)",
     "bug": "E_GCL_vel.forward skips coord + coord_mlp_vel(h) * vel: the network cannot move "
            "a particle along its velocity, the MSE falls only from 0.324 to 0.173 in 30 epochs "
            "(360 steps) and the held-out position MSE ends at 0.163, against the twin's 0.061 "
            "(0.257 to 0.056; the constant-velocity prediction: 0.243)",
     "fix": "add coord = coord + self.coord_mlp_vel(h) * vel after the coordinate update",
     "symptom": "not_learning", "acceptable_symptoms": ["slow_convergence"],
     "root_cause": "model",
     "pairs": [
         {"id": "adam",
          "buggy": "--bug no-velocity --record-every 8",
          "fixed": "--record-every 8"},
     ]},
    {"family": "egnn-adam-lr-too-high", "split": "dev", "architecture": "gcn",
     "origin": "DeepFD / DeepDiagnosis fault type: learning rate too high",
     "bug": "Adam at 1e-2 (meant 5e-4): the coordinate updates blow up, the MSE grows from "
            "1.39 in the first epoch to 427 in the 30th and the held-out position MSE ends at "
            "967, against the twin's 0.058 (0.206 to 0.054; the constant-velocity prediction: "
            "0.228)",
     "fix": "Adam at 5e-4",
     "symptom": "oscillation", "acceptable_symptoms": ["exploding_gradient", "not_learning"],
     "root_cause": "model",
     "pairs": [
         {"id": "adam-seed1",
          "buggy": "--lr 1e-2 --seed 1 --record-every 8",
          "fixed": "--lr 5e-4 --seed 1 --record-every 8"},
     ]},
    {"family": "healthy-egnn", "split": "dev", "architecture": "gcn",
     "origin": "healthy run",
     "description": "an E(n)-equivariant graph network that predicts charged particles' "
                    "positions",
     "healthy": [
         {"id": "hidden32-layers4-seed2",
          "args": "--hidden 32 --layers 4 --seed 2 --record-every 8",
          "description": "32 hidden units, four E_GCL_vel layers"},
     ]},
]


if __name__ == "__main__":
    main()
