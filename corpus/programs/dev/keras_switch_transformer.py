"""A text classifier with a Switch Transformer block in Keras 3, written the way the keras.io
example "Text classification with Switch Transformer" is: a ``TokenAndPositionEmbedding`` layer
(token and position ``Embedding`` added), one ``TransformerBlock`` (``MultiHeadAttention``,
``Dropout``, a residual ``LayerNormalization``, then the feed-forward sublayer, ``Dropout`` and a
residual ``LayerNormalization``) whose feed-forward network is a ``Switch`` layer: a ``Router``
(a ``Dense`` over the experts, uniform noise on its logits while training, a softmax, top-1
routing with ``ops.top_k``, a fixed expert capacity of ``tokens per batch // experts`` times the
capacity factor, tokens past it dropped) that adds the load-balancing auxiliary loss
(``mean(density_proxy * density) * experts**2``) with ``self.add_loss``, the tokens dispatched
to --experts expert FFNs (``Dense(--ff-dim, relu)``, ``Dense(--embed-dim)``) with
``ops.einsum`` and combined back weighted by their router probability; then
``GlobalAveragePooling1D``, ``Dropout``, ``Dense(--ff-dim, relu)``, ``Dropout`` and a softmax
``Dense`` over the topics under ``sparse_categorical_crossentropy`` and ``Adam(--lr)``, trained
with ``fit``. As in the example, the switch reshapes its input to the fixed number of tokens of
a batch, so every batch (training and validation) is full.

The data are generated: 2400 training and 640 validation documents of 12 to 32 word ids (0
pads, at the end as ``pad_sequences(padding="post")`` puts it) in four topics, in random topic
order. Each topic has 24 words of its own (ids 1 to 96); a document draws each word from its
topic's words with probability 0.22, from the other topics' words with probability 0.06, and
otherwise from 300 common words (ids 100 to 399) by a Zipf-like frequency.

The recorder takes 19 layers with four experts, in the order they run:
``embedding/pos_emb`` 0 and ``embedding/token_emb`` 1, the attention's query, key, value and
output projections (``transformer_block/mha/...``) 2 to 5, ``layernorm1`` 6, the router's
``router_dense`` 7, each expert's two ``Dense`` (``transformer_block/switch/expert_0/...``) 8
to 15, ``layernorm2`` 16, ``dense_hidden`` 17 and the softmax ``classifier`` 18. The logged
loss is the cross-entropy plus the load-balancing loss (about 1.0 when the experts are
balanced). The mistakes of the families in
CASES are selected with ``--bug`` or show in a setting (``--lr``).
"""

import os
import sys

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
import common  # noqa: E402

np = common.np

MAX_LEN = 32
VOCAB = 400
TOPICS = 4


def make_documents(n, seed):
    rng = np.random.default_rng(6500 + seed)
    common_ids = np.arange(100, VOCAB)
    freq = 1.0 / np.arange(1, len(common_ids) + 1) ** 0.8
    freq /= freq.sum()
    x = np.zeros((n, MAX_LEN), dtype="int32")
    y = rng.integers(0, TOPICS, n)
    for i in range(n):
        length = rng.integers(12, MAX_LEN + 1)
        kind = rng.random(length)
        own = 1 + 24 * y[i] + rng.integers(0, 24, length)
        other_topic = (y[i] + rng.integers(1, TOPICS, length)) % TOPICS
        other = 1 + 24 * other_topic + rng.integers(0, 24, length)
        noise = rng.choice(common_ids, length, p=freq)
        words = np.where(kind < 0.22, own, np.where(kind < 0.28, other, noise))
        x[i, :length] = words
    return x, y


def main():
    p = common.parser(__doc__)
    p.add_argument("--embed-dim", type=int, default=32)
    p.add_argument("--num-heads", type=int, default=2)
    p.add_argument("--ff-dim", type=int, default=32)
    p.add_argument("--experts", type=int, default=4)
    p.add_argument("--capacity-factor", type=float, default=1.0)
    p.add_argument("--dropout", type=float, default=0.25)
    p.add_argument("--lr", type=float, default=1e-3)
    p.add_argument("--batch-size", type=int, default=32)
    p.add_argument("--epochs", type=int, default=5)
    p.add_argument("--bug", default=None,
                   choices=("labels-shuffled-apart",))
    args = p.parse_args()
    keras = common.keras_setup(args.seed)
    from keras import layers, ops

    x_all, y_all = make_documents(3040, args.seed)
    x_train, y_train = x_all[:2400], y_all[:2400]
    x_val, y_val = x_all[2400:], y_all[2400:]
    if args.bug == "labels-shuffled-apart":
        # BUG (labels-shuffled-apart): the training documents and their labels are shuffled
        # with two different permutations.
        rng = np.random.default_rng(args.seed)
        x_train = x_train[rng.permutation(len(x_train))]
        y_train = y_train[rng.permutation(len(y_train))]
    else:
        rng = np.random.default_rng(args.seed)
        order = rng.permutation(len(x_train))
        x_train, y_train = x_train[order], y_train[order]

    batch_size = args.batch_size
    num_tokens_per_example = MAX_LEN
    num_tokens_per_batch = batch_size * num_tokens_per_example
    embed_dim, num_heads, ff_dim, num_experts = (args.embed_dim, args.num_heads, args.ff_dim,
                                                 args.experts)

    class TokenAndPositionEmbedding(layers.Layer):
        def __init__(self, maxlen, vocab_size, embed_dim, **kwargs):
            super().__init__(**kwargs)
            self.token_emb = layers.Embedding(input_dim=vocab_size, output_dim=embed_dim,
                                              name="token_emb")
            self.pos_emb = layers.Embedding(input_dim=maxlen, output_dim=embed_dim,
                                            name="pos_emb")

        def call(self, x):
            maxlen = ops.shape(x)[-1]
            positions = ops.arange(start=0, stop=maxlen, step=1)
            positions = self.pos_emb(positions)
            x = self.token_emb(x)
            return x + positions

    def create_feedforward_network(ff_dim, embed_dim, name=None):
        return keras.Sequential([layers.Dense(ff_dim, activation="relu", name=name + "_dense1"),
                                 layers.Dense(embed_dim, name=name + "_dense2")], name=name)

    def load_balanced_loss(router_probs, expert_mask):
        # router_probs [tokens_per_batch, num_experts] is the probability assigned for each
        # expert per token. expert_mask [tokens_per_batch, num_experts] contains the expert
        # with the highest router probability in one-hot format.
        num_experts = ops.shape(expert_mask)[-1]
        # Get the fraction of tokens routed to each expert.
        density = ops.mean(expert_mask, axis=0)
        # Get fraction of probability mass assigned to each expert from the router
        # across all tokens.
        density_proxy = ops.mean(router_probs, axis=0)
        loss = ops.mean(density_proxy * density) * ops.cast((num_experts**2), "float32")
        return loss

    class Router(layers.Layer):
        def __init__(self, num_experts, expert_capacity, **kwargs):
            super().__init__(**kwargs)
            self.num_experts = num_experts
            self.route = layers.Dense(units=num_experts, name="router_dense")
            self.expert_capacity = expert_capacity

        def call(self, inputs, training=False):
            # inputs shape: [tokens_per_batch, embed_dim]
            # router_logits shape: [tokens_per_batch, num_experts]
            router_logits = self.route(inputs)
            if training:
                # Add noise for exploration across experts.
                router_logits += keras.random.uniform(
                    shape=router_logits.shape, minval=0.9, maxval=1.1)
            # Probabilities for each token of what expert it should be sent to.
            router_probs = keras.activations.softmax(router_logits, axis=-1)
            # Get the top-1 expert for each token. expert_gate is the top-1 probability
            # from the router for each token. expert_index is what expert each token
            # is going to be routed to.
            expert_gate, expert_index = ops.top_k(router_probs, k=1)
            # expert_mask shape: [tokens_per_batch, num_experts]
            expert_mask = ops.one_hot(expert_index, self.num_experts)
            # Compute load balancing loss.
            aux_loss = load_balanced_loss(router_probs, expert_mask)
            self.add_loss(aux_loss)
            # Experts have a fixed capacity, ensure we do not exceed it. Construct
            # the batch indices, to each expert, with position in expert
            # make sure that not more that expert capacity examples can be routed to
            # each expert.
            position_in_expert = ops.cast(
                ops.cumsum(expert_mask, axis=0) * expert_mask, "int32")
            # Keep only tokens that fit within expert capacity.
            expert_mask *= ops.cast(
                ops.less(ops.cast(position_in_expert, "int32"), self.expert_capacity),
                "float32")
            expert_mask_flat = ops.sum(expert_mask, axis=-1)
            # Mask out the experts that have overflowed the expert capacity.
            expert_gate *= expert_mask_flat
            # Combine expert outputs and scaling with router probability.
            # combine_tensor shape: [tokens_per_batch, num_experts, expert_capacity]
            combined_tensor = ops.expand_dims(
                expert_gate * expert_mask_flat
                * ops.squeeze(ops.one_hot(expert_index, self.num_experts), 1), -1,
            ) * ops.squeeze(ops.one_hot(position_in_expert, self.expert_capacity), 1)
            # Create binary dispatch_tensor [tokens_per_batch, num_experts, expert_capacity]
            # that is 1 if the token gets routed to the corresponding expert.
            dispatch_tensor = ops.cast(combined_tensor, "float32")
            return dispatch_tensor, combined_tensor

    class Switch(layers.Layer):
        def __init__(self, num_experts, embed_dim, ff_dim, num_tokens_per_batch,
                     capacity_factor=1, **kwargs):
            super().__init__(**kwargs)
            self.num_experts = num_experts
            self.embed_dim = embed_dim
            self.experts = [create_feedforward_network(ff_dim, embed_dim, name="expert_%d" % i)
                            for i in range(num_experts)]
            self.expert_capacity = int(num_tokens_per_batch * capacity_factor) // self.num_experts
            self.router = Router(self.num_experts, self.expert_capacity, name="router")

        def call(self, inputs):
            batch_size = ops.shape(inputs)[0]
            num_tokens_per_example = ops.shape(inputs)[1]
            # inputs shape: [num_tokens_per_batch, embed_dim]
            inputs = ops.reshape(inputs, [num_tokens_per_batch, self.embed_dim])
            # dispatch_tensor shape: [expert_capacity, num_experts, tokens_per_batch]
            # combine_tensor shape: [tokens_per_batch, num_experts, expert_capacity]
            dispatch_tensor, combine_tensor = self.router(inputs)
            # expert_inputs shape: [num_experts, expert_capacity, embed_dim]
            expert_inputs = ops.einsum("ab,acd->cdb", inputs, dispatch_tensor)
            expert_inputs = ops.reshape(
                expert_inputs, [self.num_experts, self.expert_capacity, self.embed_dim])
            # Dispatch to experts
            expert_input_list = ops.unstack(expert_inputs, axis=0)
            expert_output_list = [self.experts[idx](expert_input)
                                  for idx, expert_input in enumerate(expert_input_list)]
            # expert_outputs shape: [expert_capacity, num_experts, embed_dim]
            expert_outputs = ops.stack(expert_output_list, axis=1)
            # expert_outputs_combined shape: [tokens_per_batch, embed_dim]
            expert_outputs_combined = ops.einsum("abc,xba->xc", expert_outputs, combine_tensor)
            # output shape: [batch_size, num_tokens_per_example, embed_dim]
            outputs = ops.reshape(expert_outputs_combined,
                                  [batch_size, num_tokens_per_example, self.embed_dim])
            return outputs

    class TransformerBlock(layers.Layer):
        def __init__(self, embed_dim, num_heads, ffn, dropout_rate=0.1, **kwargs):
            super().__init__(**kwargs)
            self.att = layers.MultiHeadAttention(num_heads=num_heads, key_dim=embed_dim,
                                                 name="mha")
            # The ffn can be either a standard feedforward network or a switch
            # layer with a Mixture of Experts.
            self.ffn = ffn
            self.layernorm1 = layers.LayerNormalization(epsilon=1e-6, name="layernorm1")
            self.layernorm2 = layers.LayerNormalization(epsilon=1e-6, name="layernorm2")
            self.dropout1 = layers.Dropout(dropout_rate)
            self.dropout2 = layers.Dropout(dropout_rate)

        def call(self, inputs, training=False):
            attn_output = self.att(inputs, inputs)
            attn_output = self.dropout1(attn_output, training=training)
            out1 = self.layernorm1(inputs + attn_output)
            ffn_output = self.ffn(out1)
            ffn_output = self.dropout2(ffn_output, training=training)
            return self.layernorm2(out1 + ffn_output)

    def create_classifier():
        switch = Switch(num_experts, embed_dim, ff_dim, num_tokens_per_batch,
                        capacity_factor=args.capacity_factor, name="switch")
        transformer_block = TransformerBlock(embed_dim // num_heads, num_heads, switch,
                                             name="transformer_block")
        inputs = layers.Input(shape=(num_tokens_per_example,))
        embedding_layer = TokenAndPositionEmbedding(num_tokens_per_example, VOCAB, embed_dim,
                                                    name="embedding")
        x = embedding_layer(inputs)
        x = transformer_block(x)
        x = layers.GlobalAveragePooling1D()(x)
        x = layers.Dropout(args.dropout)(x)
        x = layers.Dense(ff_dim, activation="relu", name="dense_hidden")(x)
        x = layers.Dropout(args.dropout)(x)
        outputs = layers.Dense(TOPICS, activation="softmax", name="classifier")(x)
        return keras.Model(inputs=inputs, outputs=outputs, name="switch_classifier")

    classifier = create_classifier()
    classifier.compile(optimizer=keras.optimizers.Adam(args.lr),
                       loss="sparse_categorical_crossentropy", metrics=["accuracy"])
    history = classifier.fit(x_train, y_train, batch_size=batch_size, epochs=args.epochs,
                             validation_data=(x_val, y_val), verbose=0,
                             callbacks=common.recording.keras_callbacks(args.out))
    h = history.history
    for e in range(len(h["loss"])):
        print("epoch %d: loss %.4f acc %.3f val loss %.4f val acc %.3f" % (
            e + 1, h["loss"][e], h["accuracy"][e], h["val_loss"][e], h["val_accuracy"][e]))
    steps = len(x_train) // batch_size * len(h["loss"])
    common.report(common.keras_result(history, steps, layers=common.keras_layers(classifier)))


# The ground truth of every run of this program, stated from the program (corpus/README.md).
CASES = [
    {"family": "kswitch-labels-shuffled-apart", "split": "dev", "architecture": "transformer",
     "origin": "Humbatova et al. 2020: training data, wrong labels (inputs and labels shuffled "
               "out of step); DeepFD / DeepDiagnosis fault type: data (labels not matching the "
               "inputs)",
     "bug": "the training documents and their labels shuffled with two different "
            "permutations (x_train[rng.permutation(n)], y_train[rng.permutation(n)]): every "
            "label belongs to another document; the training accuracy only reaches 0.30 by "
            "memorising and the validation accuracy ends at 0.227 of four topics (the fixed "
            "twin: 0.913)",
     "fix": "one permutation for both (order = rng.permutation(n); x_train[order], "
            "y_train[order])",
     "symptom": "not_learning", "acceptable_symptoms": [],
     "root_cause": "model",
     "pairs": [
         {"id": "seed1",
          "buggy": "--bug labels-shuffled-apart --seed 1 --record-every 4",
          "fixed": "--seed 1 --record-every 4"},
     ]},
    {"family": "kswitch-adam-lr-too-high", "split": "dev", "architecture": "transformer",
     "origin": "AUTOTRAINER / DeepDiagnosis: learning rate too high; Humbatova et al. 2020: "
               "training, wrong learning rate",
     "bug": "Adam(learning_rate=0.1) for the Switch Transformer (the example's 1e-3): the "
            "first epoch's loss is 5.38, then the loss (cross-entropy plus the load-balancing "
            "loss) sits at 2.43 to 2.53 and the validation accuracy at 0.237 (one topic) for "
            "all five epochs (the fixed twin: 0.931)",
     "fix": "Adam(learning_rate=1e-3)",
     "symptom": "not_learning", "acceptable_symptoms": ["oscillation", "dead_or_zero"],
     "root_cause": "model",
     "pairs": [
         {"id": "lr0.1-seed2",
          "buggy": "--lr 0.1 --seed 2 --record-every 4",
          "fixed": "--seed 2 --record-every 4"},
     ]},
    {"family": "healthy-kswitch", "split": "dev", "architecture": "transformer",
     "origin": "healthy run",
     "description": "a text classifier with a Switch Transformer block (top-1 routing over "
                    "expert FFNs with a capacity and a load-balancing loss) that trains well",
     "healthy": [
         {"id": "experts8-cf1.25-seed3",
          "args": "--experts 8 --capacity-factor 1.25 --seed 3 --record-every 8",
          "description": "eight experts, a capacity factor of 1.25"},
         {"id": "bs40-lr2e-3-seed4",
          "args": "--batch-size 40 --lr 2e-3 --seed 4 --record-every 4",
          "description": "batches of 40, Adam(2e-3)"},
     ]},
]


if __name__ == "__main__":
    main()
