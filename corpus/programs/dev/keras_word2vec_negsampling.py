"""word2vec in Keras 3 (Mikolov, Sutskever, Chen, Corrado and Dean, "Distributed
Representations of Words and Phrases and their Compositionality", NeurIPS 2013), written the way
the TensorFlow tutorial "word2vec" writes it: the sentences vectorized by a ``TextVectorization``
layer (the vocabulary in order of frequency, 0 the padding and 1 ``[UNK]``), skip-gram pairs
drawn from every sentence with a sampling table that keeps frequent words less often, each
positive (target, context) pair given ``num_ns`` negative context words from the log-uniform
(Zipfian) distribution over the frequency-ordered vocabulary, the context of a training example
the positive word followed by its negatives and its label the one-hot ``[1, 0, 0, 0, 0]``; a
``Word2Vec`` ``keras.Model`` subclass with a ``target_embedding`` (``w2v_embedding``) and a
``context_embedding`` (``embedding``), whose ``call`` returns the dot products of the target's
vector with the 1 + num_ns context vectors (``einsum('be,bce->bc')``), compiled with Adam and
``CategoricalCrossentropy(from_logits=True)`` and trained with ``model.fit`` on a shuffled,
batched ``tf.data.Dataset``.

Data (generated here): a corpus of short English-like sentences from a small grammar of six
topics (a kitchen, the weather, the sea, music, a garden, computers), each topic 6 nouns, 3 verbs
and 3 adjectives, and 8 function words ("the", "a", "with"...). A sentence picks one topic
and one of four templates ("the ADJ NOUN VERB the NOUN", ...), its content words drawn from its
topic (one in ten from another topic). 3000 sentences for training and 600 held out; the
vocabulary is adapted on the training sentences. The tutorial's helpers that Keras 3 no longer
has are written out in numpy as the legacy ones were: ``make_sampling_table`` (with the
sampling factor raised to 1e-3 for the small vocabulary) and ``skipgrams`` (window
--window-size, no negatives); the negatives are drawn, unique within a pair, from the
distribution ``tf.random.log_uniform_candidate_sampler`` samples from.

The held-out sentences' examples (made the same way) give the validation loss and accuracy
(the share of examples whose largest dot product is the positive context's: chance 0.2 with 4
negatives). After training, the result line adds ``neighbour_purity``: for every content word,
the share of its 5 nearest content words (cosine similarity of the ``w2v_embedding`` vectors)
that belong to its own topic (chance about 0.15). The mistakes of the families in CASES are
selected with ``--bug`` or show in a setting (``--lr``).
"""

import os
import sys

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
import common  # noqa: E402

np = common.np

TOPICS = {
    "kitchen": (["soup", "bread", "oven", "knife", "onion", "butter"],
                ["bakes", "stirs", "chops"], ["salty", "crispy", "warm"]),
    "weather": (["rain", "cloud", "storm", "wind", "snow", "thunder"],
                ["falls", "blows", "freezes"], ["cold", "grey", "stormy"]),
    "sea": (["ship", "sail", "wave", "harbor", "anchor", "sailor"],
            ["drifts", "docks", "rows"], ["calm", "deep", "blue"]),
    "music": (["guitar", "drum", "song", "melody", "singer", "choir"],
              ["plays", "sings", "hums"], ["loud", "soft", "catchy"]),
    "garden": (["rose", "tulip", "seed", "soil", "shovel", "bee"],
               ["grows", "blooms", "digs"], ["green", "fragrant", "muddy"]),
    "computer": (["keyboard", "screen", "server", "code", "mouse", "cable"],
                 ["crashes", "compiles", "boots"], ["fast", "digital", "slow"]),
}
TEMPLATES = (
    "the A N V the N",
    "a N V a A N with the N",
    "the N and the N V in the A N",
    "N V N then the N was very A",
)
SEQUENCE_LENGTH = 10


def write_corpus(n, rng):
    """n sentences of the grammar, as strings."""
    names = sorted(TOPICS)
    lines = []
    for _ in range(n):
        topic = names[rng.integers(len(names))]
        template = TEMPLATES[rng.integers(len(TEMPLATES))]
        words = []
        for slot in template.split():
            if slot in ("N", "V", "A"):
                source = topic if rng.random() >= 0.1 else names[rng.integers(len(names))]
                nouns, verbs, adjectives = TOPICS[source]
                pool = {"N": nouns, "V": verbs, "A": adjectives}[slot]
                words.append(pool[rng.integers(len(pool))])
            else:
                words.append(slot)
        lines.append(" ".join(words))
    return lines


def make_sampling_table(size, sampling_factor=1e-5):
    """keras.preprocessing.sequence.make_sampling_table (Keras 2): the probability of keeping
    the word of frequency rank i, for a Zipfian distribution of the words."""
    gamma = 0.577
    rank = np.arange(size)
    rank[0] = 1
    inv_fq = rank * (np.log(rank) + gamma) + 0.5 - 1.0 / (12.0 * rank)
    f = sampling_factor * inv_fq
    return np.minimum(1.0, f / np.sqrt(f))


def skipgrams(sequence, window_size, sampling_table, rng):
    """keras.preprocessing.sequence.skipgrams (Keras 2) with negative_samples=0: the positive
    (target, context) pairs of one sequence, padding (0) skipped."""
    couples = []
    for i, wi in enumerate(sequence):
        if not wi:
            continue
        if sampling_table[wi] < rng.random():
            continue
        window_start = max(0, i - window_size)
        window_end = min(len(sequence), i + window_size + 1)
        for j in range(window_start, window_end):
            if j != i and sequence[j]:
                couples.append((wi, sequence[j]))
    return couples


def log_uniform_probs(range_max):
    """The distribution of tf.random.log_uniform_candidate_sampler over 0..range_max-1."""
    k = np.arange(range_max)
    return np.log((k + 2.0) / (k + 1.0)) / np.log(range_max + 1.0)


def generate_training_data(sequences, window_size, num_ns, vocab_size, rng, bug):
    """The tutorial's generate_training_data: (targets, contexts, labels) arrays."""
    targets, contexts, labels = [], [], []
    # Build the sampling table for `vocab_size` tokens.
    sampling_table = make_sampling_table(vocab_size, sampling_factor=1e-3)
    negative_probs = log_uniform_probs(vocab_size)
    # Iterate over all sequences (sentences) in the dataset.
    for sequence in sequences:
        # Generate positive skip-gram pairs for a sequence (sentence).
        positive_skip_grams = skipgrams(sequence, window_size, sampling_table, rng)
        # Iterate over each positive skip-gram pair to produce training examples
        # with a positive context word and negative samples.
        for target_word, context_word in positive_skip_grams:
            negative_sampling_candidates = rng.choice(
                vocab_size, size=num_ns, replace=False, p=negative_probs)
            if bug == "negatives-first":
                # BUG (negatives-first): the negatives concatenated before the positive
                # context word while the label still marks position 0 as the positive.
                context = np.concatenate([negative_sampling_candidates, [context_word]])
            else:
                # Concatenate a positive context word with negative sampled words.
                context = np.concatenate([[context_word], negative_sampling_candidates])
            # Label the first context word as positive (1) and the rest as negative (0).
            label = np.zeros(num_ns + 1, dtype="float32")
            if bug == "label-compare":
                # BUG (label-compare): a comparison instead of an assignment: the label
                # stays all zeros.
                label[0] == 1  # noqa: B015
            else:
                label[0] = 1
            targets.append(target_word)
            contexts.append(context)
            labels.append(label)
    return (np.array(targets, dtype="int64"), np.array(contexts, dtype="int64"),
            np.array(labels, dtype="float32"))


def main():
    p = common.parser(__doc__)
    p.add_argument("--sentences", type=int, default=3000)
    p.add_argument("--vocab-size", type=int, default=128)
    p.add_argument("--embedding-dim", type=int, default=32)
    p.add_argument("--window-size", type=int, default=2)
    p.add_argument("--num-ns", type=int, default=4)
    p.add_argument("--lr", type=float, default=1e-3)
    p.add_argument("--batch-size", type=int, default=1024)
    p.add_argument("--epochs", type=int, default=20)
    p.add_argument("--bug", default=None,
                   choices=("label-compare", "negatives-first", "no-from-logits"))
    args = p.parse_args()
    keras = common.keras_setup(args.seed)
    import tensorflow as tf
    from keras import layers

    rng = np.random.default_rng(args.seed)
    lines = write_corpus(args.sentences + args.sentences // 5, rng)
    train_lines, val_lines = lines[:args.sentences], lines[args.sentences:]

    # Vectorize the sentences: the vocabulary in order of frequency.
    vectorize_layer = layers.TextVectorization(
        max_tokens=args.vocab_size, output_mode="int",
        output_sequence_length=SEQUENCE_LENGTH)
    vectorize_layer.adapt(tf.data.Dataset.from_tensor_slices(train_lines).batch(1024))
    inverse_vocab = vectorize_layer.get_vocabulary()
    vocab_size = len(inverse_vocab)
    train_sequences = vectorize_layer(tf.constant(train_lines)).numpy()
    val_sequences = vectorize_layer(tf.constant(val_lines)).numpy()

    targets, contexts, labels = generate_training_data(
        train_sequences, args.window_size, args.num_ns, vocab_size, rng, args.bug)
    v_targets, v_contexts, v_labels = generate_training_data(
        val_sequences, args.window_size, args.num_ns, vocab_size, rng, args.bug)
    print("vocabulary %d words, %d training and %d validation examples"
          % (vocab_size, len(targets), len(v_targets)))

    BATCH_SIZE = args.batch_size
    BUFFER_SIZE = 10000
    dataset = tf.data.Dataset.from_tensor_slices(((targets, contexts), labels))
    dataset = dataset.shuffle(BUFFER_SIZE, seed=args.seed).batch(BATCH_SIZE, drop_remainder=True)
    dataset = dataset.cache().prefetch(buffer_size=tf.data.AUTOTUNE)
    val_dataset = tf.data.Dataset.from_tensor_slices(((v_targets, v_contexts), v_labels))
    val_dataset = val_dataset.batch(BATCH_SIZE)

    class Word2Vec(keras.Model):
        def __init__(self, vocab_size, embedding_dim):
            super().__init__()
            self.target_embedding = layers.Embedding(vocab_size, embedding_dim,
                                                     name="w2v_embedding")
            self.context_embedding = layers.Embedding(vocab_size, embedding_dim)

        def call(self, pair):
            target, context = pair
            # target: (batch, dummy?)  # The dummy axis doesn't exist in TF2.7+
            # context: (batch, context)
            if len(target.shape) == 2:
                target = tf.squeeze(target, axis=1)
            # target: (batch,)
            word_emb = self.target_embedding(target)
            # word_emb: (batch, embed)
            context_emb = self.context_embedding(context)
            # context_emb: (batch, context, embed)
            dots = tf.einsum("be,bce->bc", word_emb, context_emb)
            # dots: (batch, context)
            return dots

    word2vec = Word2Vec(vocab_size, args.embedding_dim)
    # BUG (no-from-logits): the loss left at from_logits=False while call() returns raw dot
    # products.
    from_logits = args.bug != "no-from-logits"
    word2vec.compile(optimizer=keras.optimizers.Adam(learning_rate=args.lr),
                     loss=keras.losses.CategoricalCrossentropy(from_logits=from_logits),
                     metrics=["accuracy"])
    history = word2vec.fit(dataset, epochs=args.epochs, validation_data=val_dataset,
                           verbose=0, callbacks=common.recording.keras_callbacks(args.out))
    h = history.history
    for e in range(len(h["loss"])):
        print("epoch %d: loss %.4f acc %.3f val loss %.4f val acc %.3f" % (
            e + 1, h["loss"][e], h["accuracy"][e], h["val_loss"][e], h["val_accuracy"][e]))

    # The topic purity of the nearest neighbours of the content words.
    weights = word2vec.get_layer("w2v_embedding").get_weights()[0]
    topic_of = {w: t for t, parts in TOPICS.items() for part in parts for w in part}
    ids = [i for i, w in enumerate(inverse_vocab) if w in topic_of]
    vecs = weights[ids]
    vecs = vecs / np.maximum(np.linalg.norm(vecs, axis=1, keepdims=True), 1e-12)
    sims = vecs @ vecs.T
    np.fill_diagonal(sims, -np.inf)
    nearest = np.argsort(-sims, axis=1)[:, :5]
    topics = np.array([topic_of[inverse_vocab[i]] for i in ids])
    purity = float((topics[nearest] == topics[:, None]).mean())
    print("neighbour purity %.3f (%d content words)" % (purity, len(ids)))
    steps = (len(targets) // BATCH_SIZE) * len(h["loss"])
    common.report(common.keras_result(history, steps, layers=common.keras_layers(word2vec),
                                      neighbour_purity=purity))


# The ground truth of every run of this program, stated from the program (corpus/README.md).
CASES = [
    {"family": "kw2v-label-compare", "split": "dev", "architecture": "mlp",
     "origin": "Humbatova et al. 2020: training data (wrong labels); a Python slip, a "
               "comparison (label[0] == 1) where an assignment was meant, that leaves the "
               "one-hot labels all zeros",
     "bug": "label[0] == 1 instead of label[0] = 1: every label is [0, 0, 0, 0, 0], the "
            "categorical cross-entropy is 0 for any output, so every gradient is 0 and Adam "
            "leaves both embeddings as initialized: the loss is 0.0000 at every step, the "
            "accuracy 0.216 and validation accuracy 0.220 (against position 0, the "
            "positive; chance 0.2), the nearest-neighbour topic purity 0.169 (chance about "
            "0.15), against the twin's loss 1.601 -> 0.902, validation accuracy 0.636 and "
            "purity 1.000",
     "fix": "label[0] = 1",
     "symptom": "unchanged_values", "acceptable_symptoms": ["not_learning"],
     "root_cause": "model",
     "pairs": [
         {"id": "adam-seed0",
          "buggy": "--bug label-compare --record-every 4",
          "fixed": "--record-every 4"},
     ]},
    {"family": "kw2v-negatives-first", "split": "dev", "architecture": "mlp",
     "origin": "Humbatova et al. 2020: training data (wrong labels: the label vector does not "
               "follow the order of the context words); word2vec tutorial re-implementations "
               "that build the context as negatives + positive",
     "bug": "the context is concatenated as [negatives, positive] while the label stays "
            "[1, 0, 0, 0, 0]: the word marked positive is a negative sample, the true context "
            "word is at the last position and trained as a negative; the loss only falls from "
            "1.609 (ln 5) to 1.539, validation accuracy (against the same labels) 0.278, "
            "topic purity 0.342, against the twin's loss 1.601 -> 0.895, validation "
            "accuracy 0.634 and purity 0.992",
     "fix": "context = np.concatenate([[context_word], negative_sampling_candidates])",
     "symptom": "not_learning", "acceptable_symptoms": ["slow_convergence"],
     "root_cause": "model",
     "pairs": [
         {"id": "adam-seed1",
          "buggy": "--bug negatives-first --seed 1 --record-every 4",
          "fixed": "--seed 1 --record-every 4"},
     ]},
    {"family": "kw2v-no-from-logits", "split": "dev", "architecture": "mlp",
     "origin": "Humbatova et al. 2020: wrong loss function / missing from_logits (Keras "
               "from_logits mismatch): CategoricalCrossentropy() on the raw dot products",
     "bug": "CategoricalCrossentropy() without from_logits=True while call() returns raw dot "
            "products: Keras divides the scores, some negative, by their sum and clips them "
            "as probabilities; the loss goes from 5.613 to 5.508 (higher in between), "
            "validation accuracy 0.334 and topic purity 0.197, against the twin's loss "
            "1.602 -> 0.903, validation accuracy 0.635 and purity 0.964",
     "fix": "CategoricalCrossentropy(from_logits=True)",
     "symptom": "loss_mismatch", "acceptable_symptoms": ["not_learning"],
     "root_cause": "model",
     "pairs": [
         {"id": "adam-seed2",
          "buggy": "--bug no-from-logits --seed 2 --record-every 4",
          "fixed": "--seed 2 --record-every 4"},
     ]},
    {"family": "healthy-kw2v", "split": "dev", "architecture": "mlp",
     "origin": "healthy run",
     "description": "the TensorFlow tutorial's word2vec (skip-grams with negative sampling, "
                    "two embeddings, dot products under a categorical cross-entropy) on a "
                    "generated corpus of six topics, that trains well",
     "healthy": [
         {"id": "dim64-window3-seed3",
          "args": "--embedding-dim 64 --window-size 3 --seed 3 --record-every 4",
          "description": "64 dimensions, a window of 3, seed 3: loss 1.582 -> 0.874, "
                         "validation accuracy 0.637 (chance 0.2), topic purity 1.000"},
     ]},
]


if __name__ == "__main__":
    main()
