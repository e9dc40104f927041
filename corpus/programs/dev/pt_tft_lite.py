"""A Temporal Fusion Transformer lite (Lim et al. 2021) in PyTorch, as the compact
re-implementations write it: gated residual networks (GLU gating, LayerNorm), variable selection
networks over the static, past and known-future inputs, static covariate encoders, an LSTM
encoder-decoder, one interpretable multi-head attention layer and quantile outputs (0.1, 0.5,
0.9) trained with the pinball loss, on generated daily sales of several shops.

Data (``make_sales``): 20 shops, 140 days each. A shop has a type (0..2, static categorical)
and a floor area (static real); its daily sales (units) are a level set by type and area times
a weekly profile, plus a promotion uplift on the days of a promotion (a known input, about one
day in six), a temperature effect (a known input, degrees C, with a yearly drift) and noise
that grows with the level. A sample is a window of 21 past days (encoder: sales, promotion,
temperature, day of the week) and the 7 following days (decoder: promotion, temperature, day of
the week); its sales are divided by the mean of its 21 past days (the window's scale, the usual
target normalizer) and the temperature standardized. The first 112 days of every shop give the
training windows (85 a shop, 1700 in all); the windows whose 7 forecast days are the last 28
days give the held-out ones (22 a shop). The model (``TemporalFusionTransformer``, hidden size
``--hidden``): the static variable selection and four static GRN encoders (variable-selection
context, enrichment context, LSTM initial hidden and cell state), the past and future variable
selection networks (each variable embedded by its own ``Linear`` or ``Embedding``, a GRN on the
flattened embeddings with the static context giving softmax weights, a GRN per variable),
``lstm_encoder`` and ``lstm_decoder`` (``nn.LSTM``, ``batch_first=True``), a gate + add & norm
after the LSTMs, static enrichment (a GRN with the enrichment context), the
``InterpretableMultiHeadAttention`` (``--heads`` heads with their own query and key projections
and one value projection shared by all heads, the heads averaged, a causal mask) over the 28
positions, gate + add & norm, a position-wise GRN, a final gate + add & norm with the LSTM
output, and ``output_layer`` (``Linear`` -> 3 quantiles) on the 7 decoder positions. The loss
is the pinball (quantile) loss averaged over the quantiles, Adam (``--lr``) with the gradient
norm clipped to ``--clip``, batches of 64. After every epoch the held-out windows are forecast:
the validation loss is their pinball loss (in the scaled units), and the result line adds the
q-risks of the paper (2 sum of the pinball loss / sum |y|, in sales units) at 0.5 and 0.9
(``p50_risk``, ``p90_risk``) and the P50 risk of the seasonal naive forecast (the same weekday
one week earlier, ``naive_p50_risk``). The mistakes of the families in CASES are selected with
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

np = common.np
QUANTILES = (0.1, 0.5, 0.9)
ENC, DEC = 21, 7


def make_sales(seed, shops=20, days=140):
    rng = np.random.default_rng(seed)
    shop_type = rng.integers(0, 3, size=shops)
    area = rng.uniform(80.0, 600.0, size=shops)                      # m^2
    level = np.array([40.0, 90.0, 160.0])[shop_type] * (area / 250.0) ** 0.7
    weekly = np.array([[0.8, 0.85, 0.9, 1.0, 1.25, 1.45, 0.75],     # type 0: weekend peak
                       [1.1, 1.05, 1.0, 1.0, 1.05, 0.9, 0.6],       # type 1: office area
                       [0.9, 0.9, 0.95, 1.0, 1.1, 1.3, 1.2]])       # type 2: mall
    t = np.arange(days)
    dow = (t + rng.integers(0, 7)) % 7
    promo = (rng.uniform(size=(shops, days)) < 0.17).astype(np.float32)
    temp = (12.0 + 9.0 * np.sin(2 * np.pi * (t / 365.0 + 0.1)) + 2.5 * rng.standard_normal(
        (shops, days)))
    sales = np.empty((shops, days))
    for s in range(shops):
        base = level[s] * weekly[shop_type[s], dow]
        uplift = 1.0 + (0.35 + 0.15 * shop_type[s]) * promo[s]
        warm = 1.0 + 0.012 * (temp[s] - 12.0)
        sales[s] = base * uplift * warm * (1.0 + 0.08 * rng.standard_normal(days))
    sales = np.maximum(sales, 0.0)
    return dict(shop_type=shop_type, area=area, dow=dow, promo=promo, temp=temp, sales=sales)


def make_windows(d, starts, scale_target=True):
    """Windows of ENC past and DEC future days starting at each (shop, t0)."""
    temp_mean, temp_std = 12.0, 8.0
    out = {k: [] for k in ("static_cat", "static_real", "past", "past_dow", "future",
                           "future_dow", "target", "scale", "naive")}
    for s, t0 in starts:
        past = slice(t0, t0 + ENC)
        fut = slice(t0 + ENC, t0 + ENC + DEC)
        y_past, y_fut = d["sales"][s, past], d["sales"][s, fut]
        scale = y_past.mean() if scale_target else 1.0
        out["static_cat"].append(d["shop_type"][s])
        out["static_real"].append([np.log(d["area"][s])])
        out["past"].append(np.stack([y_past / scale, d["promo"][s, past],
                                     (d["temp"][s, past] - temp_mean) / temp_std], -1))
        out["past_dow"].append(d["dow"][past])
        out["future"].append(np.stack([d["promo"][s, fut],
                                       (d["temp"][s, fut] - temp_mean) / temp_std], -1))
        out["future_dow"].append(d["dow"][fut])
        out["target"].append(y_fut / scale)
        out["scale"].append(scale)
        out["naive"].append(d["sales"][s, t0 + ENC - 7:t0 + ENC])    # seasonal naive
    types = dict(static_cat=torch.long, past_dow=torch.long, future_dow=torch.long)
    return {k: torch.as_tensor(np.asarray(v), dtype=types.get(k, torch.float32))
            for k, v in out.items()}


class GatedLinearUnit(nn.Module):
    def __init__(self, input_size, output_size, dropout=0.0):
        super().__init__()
        self.dropout = nn.Dropout(dropout)
        self.fc = nn.Linear(input_size, output_size * 2)

    def forward(self, x):
        return F.glu(self.fc(self.dropout(x)), dim=-1)


class GateAddNorm(nn.Module):
    def __init__(self, input_size, output_size, dropout=0.0):
        super().__init__()
        self.glu = GatedLinearUnit(input_size, output_size, dropout)
        self.norm = nn.LayerNorm(output_size)

    def forward(self, x, skip):
        return self.norm(self.glu(x) + skip)


class GatedResidualNetwork(nn.Module):
    def __init__(self, input_size, hidden_size, output_size, context_size=None, dropout=0.0):
        super().__init__()
        self.skip = nn.Linear(input_size, output_size) if input_size != output_size else None
        self.fc1 = nn.Linear(input_size, hidden_size)
        self.context = (nn.Linear(context_size, hidden_size, bias=False)
                        if context_size else None)
        self.fc2 = nn.Linear(hidden_size, hidden_size)
        self.gate = GateAddNorm(hidden_size, output_size, dropout)

    def forward(self, x, context=None):
        residual = self.skip(x) if self.skip is not None else x
        h = self.fc1(x)
        if context is not None:
            h = h + self.context(context)
        h = self.fc2(F.elu(h))
        return self.gate(h, residual)


class VariableSelectionNetwork(nn.Module):
    """Embedded variables (B, [T,] n_vars, hidden) -> weighted sum (B, [T,] hidden)."""

    def __init__(self, n_vars, hidden, context_size=None, dropout=0.0):
        super().__init__()
        self.flat_grn = GatedResidualNetwork(n_vars * hidden, hidden, n_vars, context_size,
                                             dropout)
        self.var_grns = nn.ModuleList([GatedResidualNetwork(hidden, hidden, hidden,
                                                            dropout=dropout)
                                       for _ in range(n_vars)])

    def forward(self, x, context=None):
        weights = torch.softmax(self.flat_grn(x.flatten(-2), context), dim=-1)
        processed = torch.stack([grn(x[..., i, :]) for i, grn in enumerate(self.var_grns)],
                                dim=-2)
        return (weights.unsqueeze(-1) * processed).sum(-2), weights


class InterpretableMultiHeadAttention(nn.Module):
    def __init__(self, hidden, heads, dropout=0.0):
        super().__init__()
        self.heads = heads
        self.d_k = hidden // heads
        self.q_layers = nn.ModuleList([nn.Linear(hidden, self.d_k) for _ in range(heads)])
        self.k_layers = nn.ModuleList([nn.Linear(hidden, self.d_k) for _ in range(heads)])
        self.v_layer = nn.Linear(hidden, self.d_k)      # one value projection, shared
        self.out = nn.Linear(self.d_k, hidden)
        self.dropout = nn.Dropout(dropout)

    def forward(self, q, k, v, mask):
        vs = self.v_layer(v)
        heads, attns = [], []
        for i in range(self.heads):
            scores = self.q_layers[i](q) @ self.k_layers[i](k).transpose(1, 2)
            scores = scores / math.sqrt(self.d_k)
            scores = scores.masked_fill(mask, -1e9)
            attn = self.dropout(torch.softmax(scores, dim=-1))
            heads.append(attn @ vs)
            attns.append(attn)
        return self.out(torch.stack(heads).mean(0)), torch.stack(attns).mean(0)


class TemporalFusionTransformer(nn.Module):
    def __init__(self, hidden=16, heads=4, dropout=0.1, batch_first_encoder=True):
        super().__init__()
        h = hidden
        # input embeddings: static (shop type, log area), past (sales, promo, temp, weekday),
        # future (promo, temp, weekday)
        self.type_embedding = nn.Embedding(3, h)
        self.area_embedding = nn.Linear(1, h)
        self.past_real_embeddings = nn.ModuleList([nn.Linear(1, h) for _ in range(3)])
        self.future_real_embeddings = nn.ModuleList([nn.Linear(1, h) for _ in range(2)])
        self.dow_embedding = nn.Embedding(7, h)
        self.static_vsn = VariableSelectionNetwork(2, h, dropout=dropout)
        self.static_context_variable_selection = GatedResidualNetwork(h, h, h, dropout=dropout)
        self.static_context_enrichment = GatedResidualNetwork(h, h, h, dropout=dropout)
        self.static_context_initial_hidden = GatedResidualNetwork(h, h, h, dropout=dropout)
        self.static_context_initial_cell = GatedResidualNetwork(h, h, h, dropout=dropout)
        self.encoder_vsn = VariableSelectionNetwork(4, h, context_size=h, dropout=dropout)
        self.decoder_vsn = VariableSelectionNetwork(3, h, context_size=h, dropout=dropout)
        # BUG (encoder-not-batch-first): batch_first left out of the encoder LSTM (the
        # decoder has it): the (batch, time, features) input is read as (time, batch, ...).
        self.lstm_encoder = nn.LSTM(h, h, batch_first=batch_first_encoder)
        self.batch_first_encoder = batch_first_encoder
        self.lstm_decoder = nn.LSTM(h, h, batch_first=True)
        self.post_lstm_gate = GateAddNorm(h, h, dropout)
        self.static_enrichment = GatedResidualNetwork(h, h, h, context_size=h, dropout=dropout)
        self.multihead_attn = InterpretableMultiHeadAttention(h, heads, dropout)
        self.post_attn_gate = GateAddNorm(h, h, dropout)
        self.pos_wise_ff = GatedResidualNetwork(h, h, h, dropout=dropout)
        self.pre_output_gate = GateAddNorm(h, h, 0.0)
        self.output_layer = nn.Linear(h, len(QUANTILES))

    def forward(self, batch):
        static = torch.stack([self.type_embedding(batch["static_cat"]),
                              self.area_embedding(batch["static_real"])], dim=1)
        static_embedding, _ = self.static_vsn(static)
        c_selection = self.static_context_variable_selection(static_embedding)
        c_enrichment = self.static_context_enrichment(static_embedding)
        c_h = self.static_context_initial_hidden(static_embedding)
        c_c = self.static_context_initial_cell(static_embedding)

        past, fut = batch["past"], batch["future"]
        past_vars = [emb(past[..., i:i + 1]) for i, emb in enumerate(self.past_real_embeddings)]
        past_vars.append(self.dow_embedding(batch["past_dow"]))
        fut_vars = [emb(fut[..., i:i + 1]) for i, emb in enumerate(self.future_real_embeddings)]
        fut_vars.append(self.dow_embedding(batch["future_dow"]))
        t_enc, t_dec = past.shape[1], fut.shape[1]
        enc_in, _ = self.encoder_vsn(torch.stack(past_vars, dim=-2),
                                     c_selection.unsqueeze(1).expand(-1, t_enc, -1))
        dec_in, _ = self.decoder_vsn(torch.stack(fut_vars, dim=-2),
                                     c_selection.unsqueeze(1).expand(-1, t_dec, -1))

        state = (c_h.unsqueeze(0).contiguous(), c_c.unsqueeze(0).contiguous())
        if self.batch_first_encoder:
            enc_out, (hn, cn) = self.lstm_encoder(enc_in, state)
        else:
            # the initial state of a (time, batch) LSTM read the wrong way round is
            # (1, T, hidden): the users who hit the shape error pass no state at all
            enc_out, (hn, cn) = self.lstm_encoder(enc_in)
            hn, cn = hn[:, -1:].expand(-1, enc_in.shape[0], -1), cn[:, -1:].expand(
                -1, enc_in.shape[0], -1)
            hn, cn = hn.contiguous(), cn.contiguous()
        dec_out, _ = self.lstm_decoder(dec_in, (hn, cn))
        lstm_out = torch.cat([enc_out, dec_out], dim=1)
        lstm_in = torch.cat([enc_in, dec_in], dim=1)
        temporal = self.post_lstm_gate(lstm_out, lstm_in)

        enriched = self.static_enrichment(
            temporal, c_enrichment.unsqueeze(1).expand(-1, t_enc + t_dec, -1))
        q = enriched[:, t_enc:]
        t_all = t_enc + t_dec
        mask = torch.triu(torch.ones(t_all, t_all, dtype=torch.bool), diagonal=1)[t_enc:]
        attn_out, _ = self.multihead_attn(q, enriched, enriched, mask)
        x = self.post_attn_gate(attn_out, q)
        x = self.pos_wise_ff(x)
        x = self.pre_output_gate(x, temporal[:, t_enc:])
        return self.output_layer(x)                         # (B, DEC, 3)


def quantile_loss(pred, target, quantiles=QUANTILES, swapped=False):
    losses = []
    for i, q in enumerate(quantiles):
        if swapped:
            # BUG (pinball-swapped): the error taken as prediction - target, so each
            # quantile's loss is that of 1 - q.
            errors = pred[..., i] - target
        else:
            errors = target - pred[..., i]
        losses.append(torch.max((q - 1) * errors, q * errors))
    return torch.stack(losses, dim=-1).mean()


def q_risk(pred, y, q):
    e = y - pred
    return float(2 * torch.max((q - 1) * e, q * e).sum() / y.abs().sum())


def main():
    p = common.parser(__doc__)
    p.add_argument("--hidden", type=int, default=16)
    p.add_argument("--heads", type=int, default=4)
    p.add_argument("--dropout", type=float, default=0.1)
    p.add_argument("--lr", type=float, default=3e-3)
    p.add_argument("--clip", type=float, default=1.0)
    p.add_argument("--batch-size", type=int, default=64)
    p.add_argument("--epochs", type=int, default=12)
    p.add_argument("--bug", default=None,
                   choices=("raw-target", "encoder-not-batch-first", "pinball-swapped"))
    args = p.parse_args()
    common.torch_setup(args.seed)

    d = make_sales(args.seed)
    shops, days = d["sales"].shape
    train_starts = [(s, t0) for s in range(shops) for t0 in range(112 - ENC - DEC + 1)]
    val_starts = [(s, t0) for s in range(shops) for t0 in range(112 - ENC, days - ENC - DEC + 1)]
    # BUG (raw-target): no target normalizer: the sales go in and come out in units
    train = make_windows(d, train_starts, scale_target=args.bug != "raw-target")
    val = make_windows(d, val_starts, scale_target=args.bug != "raw-target")
    n = len(train["target"])
    print("windows: train %d, held-out %d" % (n, len(val["target"])))

    model = TemporalFusionTransformer(args.hidden, args.heads, args.dropout,
                                      batch_first_encoder=args.bug != "encoder-not-batch-first")
    optimizer = torch.optim.Adam(model.parameters(), lr=args.lr)
    steps_per_epoch = n // args.batch_size
    rec = common.recording.torch_recorder(
        model, args.out, optimizer=optimizer, task="regression", loss_name="quantile_loss",
        steps_per_epoch=steps_per_epoch, batch_size=args.batch_size)
    history = common.History()
    g = torch.Generator().manual_seed(args.seed)
    y_val = val["target"] * val["scale"][:, None]
    naive = q_risk(val["naive"], y_val, 0.5)
    for epoch in range(args.epochs):
        model.train()
        perm = torch.randperm(n, generator=g)
        for b in range(steps_per_epoch):
            idx = perm[b * args.batch_size:(b + 1) * args.batch_size]
            batch = {k: v[idx] for k, v in train.items()}
            pred = model(batch)
            loss = quantile_loss(pred, batch["target"], swapped=args.bug == "pinball-swapped")
            optimizer.zero_grad()
            loss.backward()
            if args.clip:
                torch.nn.utils.clip_grad_norm_(model.parameters(), args.clip)
            optimizer.step()
            val_loss = None
            if b == steps_per_epoch - 1:
                model.eval()
                with torch.no_grad():
                    vp = model(val)
                    val_loss = quantile_loss(vp, val["target"]).item()
                    sales_pred = vp * val["scale"][:, None, None]
                    p50 = q_risk(sales_pred[..., 1], y_val, 0.5)
                    p90 = q_risk(sales_pred[..., 2], y_val, 0.9)
                model.train()
            rec.step(loss, inputs=batch["past"], targets=batch["target"], val_loss=val_loss)
            history.step(loss.item())
        history.epoch(val_loss)
        print("epoch %d: pinball %.4f val %.4f P50 risk %.3f P90 risk %.3f (naive P50 %.3f)" % (
            epoch + 1, np.mean(history.epochs[-1][0]), val_loss, p50, p90, naive))
    rec.close()
    common.report(history.result(p50_risk=p50, p90_risk=p90, naive_p50_risk=naive))


# The ground truth of every run of this program, stated from the program (corpus/README.md).
CASES = [
    {"family": "tft-raw-target", "split": "dev", "architecture": "transformer",
     "origin": "Humbatova et al. 2020 (training data: missing normalization of the target); "
               "the target normalizer of a forecasting model left out",
     "bug": "no target normalizer: the past sales enter and the quantiles are fitted in units "
            "(levels of about 20 to 300 a day) by a network whose LayerNorms keep every hidden value "
            "near unit scale: the pinball loss falls only from 72.5 to 52.3 (sales units) and "
            "the held-out P50 risk is 0.687 and P90 risk 1.206, worse than the seasonal naive "
            "forecast's P50 0.195, where the twin reaches P50 0.071 and P90 0.032",
     "fix": "divide every window's sales by the mean of its 21 past days and multiply the "
            "forecast back",
     "symptom": "saturation", "acceptable_symptoms": ["slow_convergence", "not_learning"],
     "root_cause": "model",
     "pairs": [
         {"id": "adam-seed0",
          "buggy": "--bug raw-target --record-every 32",
          "fixed": "--record-every 32"},
     ]},
    {"family": "tft-pinball-swapped", "split": "dev", "architecture": "transformer",
     "origin": "Humbatova et al. 2020 (model: wrong loss function); the quantile loss written "
               "with the error as prediction minus target, a frequent slip in hand-written "
               "pinball losses (Stack Overflow, forecasting repositories' issues)",
     "bug": "the pinball loss's error taken as prediction - target: each quantile output is "
            "fitted as the 1 - q quantile, so the 0.1 and 0.9 outputs swap places; the training "
            "loss falls as the twin's (0.122 to 0.024) and the P50 risk is 0.074, but the "
            "held-out pinball loss of the intended quantiles is 0.088 and the P90 risk 0.295, "
            "where the twin's are 0.022 and 0.033 (P50 0.071)",
     "fix": "errors = target - prediction",
     "symptom": "loss_mismatch", "acceptable_symptoms": [],
     "root_cause": "model",
     "pairs": [
         {"id": "adam-seed2",
          "buggy": "--bug pinball-swapped --seed 2 --record-every 32",
          "fixed": "--seed 2 --record-every 32"},
     ]},
    {"family": "tft-lr-too-high", "split": "dev", "architecture": "transformer",
     "origin": "AUTOTRAINER / DeepFD fault type: learning rate too high",
     "bug": "Adam at 0.3 (meant 3e-3), the gradient norm clipped to 1: the pinball loss falls "
            "from 0.310 to 0.067 by the 6th epoch and stays there (0.066 in the 12th), the "
            "held-out P50 risk ends at 0.195, the seasonal naive forecast's level (0.205), P90 "
            "risk 0.124, where the twin reaches 0.075 and 0.035 (loss 0.109 to 0.022)",
     "fix": "learning rate 3e-3",
     "symptom": "not_learning", "acceptable_symptoms": ["oscillation", "saturation"],
     "root_cause": "model",
     "pairs": [
         {"id": "adam-seed1",
          "buggy": "--lr 0.3 --seed 1 --record-every 32",
          "fixed": "--lr 3e-3 --seed 1 --record-every 32"},
     ]},
    {"family": "healthy-tft", "split": "dev", "architecture": "transformer",
     "origin": "healthy run",
     "description": "a Temporal Fusion Transformer lite whose held-out P50 risk ends far below "
                    "the seasonal naive forecast's",
     "healthy": [
         {"id": "hidden24-seed2",
          "args": "--hidden 24 --seed 2 --record-every 32",
          "description": "hidden size 24, Adam 3e-3"},
     ]},
]


if __name__ == "__main__":
    main()
