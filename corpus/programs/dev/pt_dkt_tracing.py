"""Deep Knowledge Tracing (Piech et al., "Deep Knowledge Tracing", NeurIPS 2015) in PyTorch,
written as the DKT implementations of the knowledge-tracing toolkits (pykt's ``DKT``) are: each
interaction of a student is one id, ``skill + SKILLS * correct`` (2 x ``--skills`` ids), looked
up in an ``nn.Embedding`` (``interaction_emb``), an ``nn.LSTM(batch_first=True)`` (``lstm``)
runs over the student's sequence, dropout, and a ``Linear`` layer (``out_layer``) gives one
logit per skill at every step: the probability that the student answers each skill correctly
next. The logit of the skill actually asked at the next step is picked with ``torch.gather``,
and ``nn.BCEWithLogitsLoss(reduction="none")`` against the next answer is averaged over the
steps the padding mask keeps. ``torch.optim.Adam`` (``--lr``) with gradient-norm clipping at
``--clip``.

The students are simulated here: ``--skills`` skills in four groups (a group shares
prerequisites), each skill with a difficulty; a student has an ability, a learning rate, and a
mastery of every skill that starts at 0 and grows with each exercise of that skill (and a
third as much for the other skills of its group), with diminishing returns. An answer is
correct with probability ``sigmoid(ability + mastery - difficulty)``. A student works through
a sequence of 15 to 50 exercises in blocks: a group is chosen, then 3 to 8 exercises on skills
of that group, mostly repeating the previous skill. ``--students`` students (20% validate),
sequences padded with 0 to the batch's longest and masked. Each epoch reports the validation
loss, the accuracy at 0.5 and the AUC of the masked next-step predictions (the result line's
``val_auc``), and the result line adds the AUC of predicting every answer by its skill's
rate of correct answers in the training sequences (``baseline_auc``). The mistakes of the
families in CASES are selected with ``--bug`` or show in a setting (``--lr``).
"""

import os
import sys

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
import common  # noqa: E402

import torch  # noqa: E402
from torch import nn  # noqa: E402
from torch.nn.utils.rnn import pad_sequence  # noqa: E402
from torch.utils.data import DataLoader  # noqa: E402

np = common.np
GROUPS = 4


def simulate_students(n_students, n_skills, seed):
    """A list of (skills, answers) int64 arrays, one pair per student."""
    rng = np.random.default_rng(seed)
    group_of = np.arange(n_skills) % GROUPS
    difficulty = rng.normal(0.0, 1.0, n_skills)
    students = []
    for _ in range(n_students):
        ability = rng.normal(0.0, 1.5)
        learn = rng.uniform(0.1, 0.5)
        practice = np.zeros(n_skills)
        length = int(rng.integers(15, 51))
        skills, answers = [], []
        skill = int(rng.integers(n_skills))
        while len(skills) < length:
            group = int(rng.integers(GROUPS))
            members = np.flatnonzero(group_of == group)
            if group_of[skill] != group:
                skill = int(rng.choice(members))
            for _ in range(int(rng.integers(3, 9))):
                if rng.random() < 0.6:
                    skill = int(rng.choice(members))
                mastery = 3.0 * (1.0 - np.exp(-learn * practice[skill]))
                p = 1.0 / (1.0 + np.exp(-(ability + mastery - difficulty[skill])))
                skills.append(skill)
                answers.append(int(rng.random() < p))
                practice[skill] += 1.0
                practice[members[members != skill]] += 1.0 / 3.0
        students.append((np.array(skills[:length], dtype=np.int64),
                         np.array(answers[:length], dtype=np.int64)))
    return students


def collate(batch):
    """Pads a batch of (skills, answers) to its longest sequence; mask marks the real steps."""
    q = pad_sequence([torch.from_numpy(s) for s, _ in batch], batch_first=True)
    r = pad_sequence([torch.from_numpy(a) for _, a in batch], batch_first=True)
    lengths = torch.tensor([len(s) for s, _ in batch])
    mask = torch.arange(q.shape[1])[None, :] < lengths[:, None]
    return q, r, mask


class DKT(nn.Module):
    def __init__(self, num_c, emb_size, hidden_size, dropout=0.1, batch_first=True,
                 sigmoid_output=False, id_collision=False):
        super().__init__()
        self.num_c = num_c
        self.interaction_emb = nn.Embedding(num_c * 2, emb_size)
        # BUG (lstm-not-batch-first): with batch_first=False the LSTM reads the (batch, time,
        # features) tensor as (time, batch, features): it recurs across the students of the
        # batch at each time step instead of along each student's sequence.
        self.lstm = nn.LSTM(emb_size, hidden_size, batch_first=batch_first)
        self.dropout_layer = nn.Dropout(dropout)
        self.out_layer = nn.Linear(hidden_size, num_c)
        self.sigmoid_output = sigmoid_output
        self.id_collision = id_collision

    def forward(self, q, r):
        if self.id_collision:
            # BUG (id-collision): the factor num_c left out of the interaction id: skill k
            # answered correctly gets the id of skill k + 1 answered wrongly.
            x = q + r
        else:
            x = q + self.num_c * r
        xemb = self.interaction_emb(x)
        h, _ = self.lstm(xemb)
        h = self.dropout_layer(h)
        y = self.out_layer(h)
        if self.sigmoid_output:
            # BUG (sigmoid-into-bce-logits): the sigmoid of the original DKT code (trained
            # with BCELoss) kept when the loss was changed to BCEWithLogitsLoss, which
            # applies its own sigmoid.
            y = torch.sigmoid(y)
        return y


def roc_auc(y_true, y_score):
    from sklearn.metrics import roc_auc_score
    return float(roc_auc_score(y_true, y_score))


def main():
    p = common.parser(__doc__)
    p.add_argument("--students", type=int, default=1500)
    p.add_argument("--skills", type=int, default=20)
    p.add_argument("--emb", type=int, default=32)
    p.add_argument("--hidden", type=int, default=64)
    p.add_argument("--dropout", type=float, default=0.1)
    p.add_argument("--lr", type=float, default=3e-3)
    p.add_argument("--clip", type=float, default=5.0)
    p.add_argument("--batch-size", type=int, default=64)
    p.add_argument("--epochs", type=int, default=12)
    p.add_argument("--bug", default=None,
                   choices=("lstm-not-batch-first", "gather-current-skill",
                            "sigmoid-into-bce-logits", "mask-ignored", "id-collision"))
    args = p.parse_args()
    common.torch_setup(args.seed)

    students = simulate_students(args.students, args.skills, args.seed)
    n_val = args.students // 5
    train, val = students[n_val:], students[:n_val]
    gen = torch.Generator().manual_seed(args.seed)
    loader = DataLoader(train, batch_size=args.batch_size, shuffle=True, generator=gen,
                        collate_fn=collate, drop_last=True)
    val_q, val_r, val_mask = collate(val)
    print("%d training and %d validation students, %d interactions, %.3f correct" % (
        len(train), len(val), sum(len(s) for s, _ in train),
        np.mean(np.concatenate([a for _, a in train]))))

    model = DKT(args.skills, args.emb, args.hidden, args.dropout,
                batch_first=args.bug != "lstm-not-batch-first",
                sigmoid_output=args.bug == "sigmoid-into-bce-logits",
                id_collision=args.bug == "id-collision")
    optimizer = torch.optim.Adam(model.parameters(), lr=args.lr)
    criterion = nn.BCEWithLogitsLoss(reduction="none")

    def next_step_logits(q, r, mask):
        """Logits of the next step's skill, its answers and the mask of the real next steps."""
        y = model(q[:, :-1], r[:, :-1])
        q_next, r_next, sm = q[:, 1:], r[:, 1:], mask[:, 1:]
        if args.bug == "gather-current-skill":
            # BUG (gather-current-skill): the logit of the skill just answered is picked
            # (q[:, :-1]) instead of the next one's, and compared with the next answer.
            logits = torch.gather(y, 2, q[:, :-1].unsqueeze(-1)).squeeze(-1)
        else:
            logits = torch.gather(y, 2, q_next.unsqueeze(-1)).squeeze(-1)
        return logits, r_next.float(), sm

    def masked_loss(logits, target, sm):
        losses = criterion(logits, target)
        if args.bug == "mask-ignored":
            # BUG (mask-ignored): the mean is taken over every padded position too
            return losses.mean()
        return losses[sm].mean()

    steps_per_epoch = len(loader)
    rec = common.recording.torch_recorder(
        model, args.out, optimizer=optimizer, task="classification",
        loss_name="BCEWithLogitsLoss", steps_per_epoch=steps_per_epoch, num_classes=2,
        batch_size=args.batch_size)
    history = common.History()
    val_auc = None
    for epoch in range(args.epochs):
        model.train()
        for b, (q, r, mask) in enumerate(loader):
            optimizer.zero_grad()
            logits, target, sm = next_step_logits(q, r, mask)
            loss = masked_loss(logits, target, sm)
            loss.backward()
            nn.utils.clip_grad_norm_(model.parameters(), args.clip)
            optimizer.step()
            with torch.no_grad():
                prob = logits if args.bug == "sigmoid-into-bce-logits" else torch.sigmoid(logits)
                acc = ((prob[sm] > 0.5).float() == target[sm]).float().mean()
            val_loss = val_acc = None
            if b == steps_per_epoch - 1:
                model.eval()
                with torch.no_grad():
                    vl, vt, vm = next_step_logits(val_q, val_r, val_mask)
                    val_loss = masked_loss(vl, vt, vm).item()
                    vp = vl if args.bug == "sigmoid-into-bce-logits" else torch.sigmoid(vl)
                    val_acc = ((vp[vm] > 0.5).float() == vt[vm]).float().mean().item()
                    val_auc = roc_auc(vt[vm].numpy(), vp[vm].numpy())
                model.train()
            rec.step(loss, accuracy=acc, inputs=q, targets=target[sm], val_loss=val_loss,
                     val_accuracy=val_acc)
            history.step(loss.item(), acc.item())
        history.epoch(val_loss, val_acc)
        print("epoch %d: train %.4f acc %.3f val %.4f acc %.3f auc %.4f" % (
            epoch + 1, np.mean(history.epochs[-1][0]), np.mean(history.epochs[-1][1]),
            val_loss, val_acc, val_auc))
    rec.close()

    # the baseline: every answer predicted by its skill's rate of correct answers in training
    tq = np.concatenate([s for s, _ in train])
    ta = np.concatenate([a for _, a in train])
    rate = np.array([ta[tq == k].mean() if (tq == k).any() else ta.mean()
                     for k in range(args.skills)])
    vq_next = val_q[:, 1:][val_mask[:, 1:]].numpy()
    vr_next = val_r[:, 1:][val_mask[:, 1:]].numpy()
    baseline_auc = roc_auc(vr_next, rate[vq_next])
    common.report(history.result(val_auc=val_auc, baseline_auc=baseline_auc))


# The ground truth of every run of this program, stated from the program (corpus/README.md).
CASES = [
    {"family": "ptdkt-lstm-not-batch-first", "split": "dev", "architecture": "lstm",
     "origin": "Humbatova et al. 2020: wrong input format / wrong tensor shape for a "
               "recurrent layer (nn.LSTM without batch_first=True given (batch, time, "
               "features)), a recurring Stack Overflow question",
     "bug": "nn.LSTM built without batch_first=True and fed (batch, time, features): it "
            "recurs across the 64 students of a batch at every time step, so a prediction "
            "sees only the current interaction and the other students' at the same position, "
            "never the student's own history: the training loss ends at 0.500 (the twin's "
            "0.419) and the validation AUC at 0.737, against the twin's 0.817 (the per-skill "
            "baseline 0.659)",
     "fix": "nn.LSTM(emb_size, hidden_size, batch_first=True)",
     "symptom": "not_learning", "acceptable_symptoms": ["slow_convergence"],
     "root_cause": {"layer_name": "lstm", "layer_index": 1},
     "pairs": [
         {"id": "adam",
          "buggy": "--bug lstm-not-batch-first --record-every 4",
          "fixed": "--record-every 4"},
     ]},
    {"family": "ptdkt-id-collision", "split": "dev", "architecture": "lstm",
     "origin": "Humbatova et al. 2020: wrong data preprocessing (the interaction id written "
               "q + r instead of q + num_skills * r: the encoding of the answer lost); DeepFD "
               "fault type: data preprocessing",
     "bug": "the interaction id computed as skill + correct instead of skill + 20 * correct: "
            "skill k answered correctly has the id of skill k + 1 answered wrongly, so the "
            "model cannot tell which skill was practised nor whether it was answered "
            "correctly: the validation AUC ends at 0.750 (validation loss 0.518, training "
            "0.473), against the twin's 0.809 (0.471; the per-skill baseline 0.608)",
     "fix": "x = q + num_c * r",
     "symptom": "not_learning", "acceptable_symptoms": ["slow_convergence"],
     "root_cause": "model",
     "pairs": [
         {"id": "adam-seed1",
          "buggy": "--bug id-collision --seed 1 --record-every 4",
          "fixed": "--seed 1 --record-every 4"},
     ]},
    {"family": "ptdkt-adam-lr-too-high", "split": "dev", "architecture": "lstm",
     "origin": "AUTOTRAINER / DeepFD fault type: learning rate too high",
     "bug": "Adam at 0.5 (meant 3e-3), gradients clipped to a norm of 5: the first epoch's "
            "loss averages 0.947, the last 0.576, and the validation AUC ends at 0.697, "
            "against the twin's 0.807 (loss 0.429; the per-skill baseline 0.649)",
     "fix": "learning rate 3e-3",
     "symptom": "oscillation", "acceptable_symptoms": ["not_learning", "saturation"],
     "root_cause": "model",
     "pairs": [
         {"id": "adam-seed2",
          "buggy": "--lr 0.5 --seed 2 --record-every 4",
          "fixed": "--lr 3e-3 --seed 2 --record-every 4"},
     ]},
    {"family": "ptdkt-adam-lr-too-low", "split": "dev", "architecture": "lstm",
     "origin": "DeepFD / DeepDiagnosis / AUTOTRAINER fault type: learning rate too low",
     "bug": "Adam at 1e-5 (meant 3e-3) for 12 epochs of 18 batches: the loss only goes from "
            "0.700 to 0.693 and the validation AUC ends at 0.461 (accuracy 0.49, below the "
            "share of correct answers), against the twin's 0.839 (the per-skill baseline "
            "0.703)",
     "fix": "learning rate 3e-3",
     "symptom": "slow_convergence", "acceptable_symptoms": ["not_learning"],
     "root_cause": "model",
     "pairs": [
         {"id": "adam-seed3",
          "buggy": "--lr 1e-5 --seed 3 --record-every 4",
          "fixed": "--lr 3e-3 --seed 3 --record-every 4"},
     ]},
    {"family": "healthy-ptdkt", "split": "dev", "architecture": "lstm",
     "origin": "healthy run",
     "description": "a Deep Knowledge Tracing LSTM over interaction ids of simulated students "
                    "that predicts their next answers well",
     "healthy": [
         {"id": "h100-emb48-lr1e-3-bs32-seed4",
          "args": "--hidden 100 --emb 48 --lr 1e-3 --batch-size 32 --epochs 10 --seed 4 "
                  "--record-every 4",
          "description": "100 LSTM units, 48-value embeddings, Adam 1e-3, batches of 32, "
                         "10 epochs"},
     ]},
]


if __name__ == "__main__":
    main()
