"""A Behavior Sequence Transformer (Chen et al. 2019) for star ratings in Keras 3, written the
way the keras.io example "A Transformer-based recommendation system" is: lookup layers for
the user, movie, sex, age-group and occupation ids (``IntegerLookup``: the ids are kept as the
integer codes MovieLens files carry; the example's ``StringLookup`` of ``"user_1"``-style
strings is not used because the recorder cannot reduce string inputs, see corpus/README.md),
an ``Embedding`` per lookup,
a movie's genres as a constant (non-trainable) ``Embedding`` of its genre vector concatenated
with the movie embedding and passed through ``Dense(relu)`` (``movie_embedding_processor``), the
user's sequence of movies plus a learned position embedding and multiplied by the ratings the
user gave them, one ``MultiHeadAttention`` block (dropout, residual, ``LayerNormalization``, a
feed-forward ``Dense`` with ``LeakyReLU``, residual, ``LayerNormalization``), the flattened
sequence concatenated with the user features, a ``Dense`` tower (``BatchNormalization``,
``LeakyReLU``, ``Dropout``) and ``Dense(1)`` under MSE and ``Adagrad`` (the example's optimizer)
or ``Adam``, with the MAE as a metric.

The data are generated here: 500 users (a sex, an age group and an occupation, and a hidden
taste of 4 factors, partly set by the age group and occupation) each rate 60 of 300 movies
(each with one to two of 8 genres, a hidden quality and 4 factors partly set by its genres) in
the order they watched them; a rating is ``round(3.3 + quality + taste . factors + noise)``
clipped to 1..5. Each user's ratings are cut into sequences of ``--sequence-length`` movies
with a step of 2 (the last movie is the target, its rating the label), as the example does,
and 15% of the sequences (at random) are held out. Baseline: predicting for each validation
sequence the mean rating of its user's training sequences' targets (``user_mean_mae``).

The model's weighted layers, in model order: ``movie_embedding``, the constant
``genres_vector``, ``movie_embedding_processor``, ``multi_head_attention`` (recorded as its four
``EinsumDense`` sublayers ``query``, ``key``, ``value``, ``attention_output``),
``layer_normalization``, ``ffn``, the user features' ``user_id_embedding``, ``sex_embedding``,
``age_group_embedding``, ``occupation_embedding``, ``layer_normalization_1``, the tower's
``tower_i``/``tower_bn_i`` pairs and ``rating`` (``position_embedding`` is called on constant
positions and is not a layer of the model's list). The mistakes of the families in CASES
are selected with ``--bug`` or show in a setting (``--lr``).
"""

import os
import sys

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
import common  # noqa: E402

np = common.np

N_USERS, N_MOVIES, N_GENRES, PER_USER, FACTORS = 500, 300, 8, 60, 4
GENRES = ["Action", "Comedy", "Drama", "Horror", "Romance", "Sci-Fi", "Thriller", "Animation"]
AGE_GROUPS = [18, 25, 35, 45, 56]         # coded as MovieLens codes them
OCCUPATIONS = [0, 1, 2, 3, 4, 5]


def make_ratings(seed):
    """Users, movies and each user's ratings in the order watched."""
    rng = np.random.default_rng(7100 + seed)
    genre_taste = rng.normal(0, 0.6, (N_GENRES, FACTORS))
    movie_genres = np.zeros((N_MOVIES, N_GENRES), dtype="float32")
    movie_factors = rng.normal(0, 0.35, (N_MOVIES, FACTORS))
    for m in range(N_MOVIES):
        gs = rng.choice(N_GENRES, rng.integers(1, 3), replace=False)
        movie_genres[m, gs] = 1.0
        movie_factors[m] += genre_taste[gs].mean(0)
    quality = rng.normal(0, 0.8, N_MOVIES)
    sex = rng.integers(0, 2, N_USERS)         # 0 = M, 1 = F
    age = rng.integers(0, len(AGE_GROUPS), N_USERS)
    occ = rng.integers(0, len(OCCUPATIONS), N_USERS)
    age_taste = rng.normal(0, 0.4, (len(AGE_GROUPS), FACTORS))
    occ_taste = rng.normal(0, 0.4, (len(OCCUPATIONS), FACTORS))
    taste = rng.normal(0, 0.7, (N_USERS, FACTORS)) + age_taste[age] + occ_taste[occ]
    popularity = np.exp(quality) / np.exp(quality).sum()
    users = {"user_id": [u + 1 for u in range(N_USERS)], "sex": [int(v) for v in sex],
             "age_group": [AGE_GROUPS[a] for a in age],
             "occupation": [OCCUPATIONS[o] for o in occ]}
    watched = []
    for u in range(N_USERS):
        movies = rng.choice(N_MOVIES, PER_USER, replace=False, p=popularity)
        score = 3.3 + quality[movies] + movie_factors[movies] @ taste[u] \
            + rng.normal(0, 0.3, PER_USER)
        watched.append((movies, np.clip(np.round(score), 1, 5)))
    return users, movie_genres, watched


def make_sequences(users, watched, length, step=2):
    rows = {k: [] for k in ("user_id", "sex", "age_group", "occupation",
                            "sequence_movie_ids", "sequence_ratings", "target_movie_id")}
    targets = []
    for u, (movies, ratings) in enumerate(watched):
        for start in range(0, len(movies) - length + 1, step):
            seq = [int(m) + 1 for m in movies[start:start + length]]
            for k in ("user_id", "sex", "age_group", "occupation"):
                rows[k].append(users[k][u])
            rows["sequence_movie_ids"].append(seq[:-1])
            rows["sequence_ratings"].append(ratings[start:start + length - 1])
            rows["target_movie_id"].append(seq[-1])
            targets.append(ratings[start + length - 1])
    data = {k: np.array(v, dtype="int64") for k, v in rows.items()}
    data["sequence_ratings"] = data["sequence_ratings"].astype("float32")
    return data, np.array(targets, dtype="float32")


def split(data, targets, seed):
    rng = np.random.default_rng(7200 + seed)
    idx = rng.permutation(len(targets))
    n_val = int(0.15 * len(targets))
    val, train = idx[:n_val], idx[n_val:]
    return ({k: v[train] for k, v in data.items()}, targets[train],
            {k: v[val] for k, v in data.items()}, targets[val])


def user_mean_mae(seed, length=8):
    """The validation MAE of predicting each user's mean training target."""
    users, _, watched = make_ratings(seed)
    data, targets = make_sequences(users, watched, length)
    tr, y_tr, va, y_va = split(data, targets, seed)
    means = {}
    for u, y in zip(tr["user_id"], y_tr):
        means.setdefault(u, []).append(y)
    glob = float(y_tr.mean())
    pred = np.array([np.mean(means[u]) if u in means else glob for u in va["user_id"]])
    return float(np.mean(np.abs(pred - y_va)))


def main():
    p = common.parser(__doc__)
    p.add_argument("--sequence-length", type=int, default=8)
    p.add_argument("--heads", type=int, default=3)
    p.add_argument("--hidden-units", default="64,32")
    p.add_argument("--dropout", type=float, default=0.1)
    p.add_argument("--optimizer", default="adagrad", choices=("adagrad", "adam"))
    p.add_argument("--lr", type=float, default=0.05)
    p.add_argument("--batch-size", type=int, default=128)
    p.add_argument("--epochs", type=int, default=8)
    p.add_argument("--bug", default=None, choices=("sigmoid-rating", "labels-unshuffled"))
    args = p.parse_args()
    keras = common.keras_setup(args.seed)
    from keras import layers

    users, movie_genres, watched = make_ratings(args.seed)
    data, targets = make_sequences(users, watched, args.sequence_length)
    train, y_train, val, y_val = split(data, targets, args.seed)
    # the training sequences shuffled once more (as the example writes its shuffled CSV)
    order = np.random.default_rng(args.seed).permutation(len(y_train))
    train = {k: v[order] for k, v in train.items()}
    # BUG (labels-unshuffled): the features are permuted, the ratings are not.
    if args.bug != "labels-unshuffled":
        y_train = y_train[order]

    vocabulary = {"user_id": users["user_id"], "sex": [0, 1], "age_group": AGE_GROUPS,
                  "occupation": OCCUPATIONS}
    movie_vocabulary = [m + 1 for m in range(N_MOVIES)]
    seq_len = args.sequence_length - 1

    inputs = {
        "user_id": keras.Input(name="user_id", shape=(1,), dtype="int64"),
        "sex": keras.Input(name="sex", shape=(1,), dtype="int64"),
        "age_group": keras.Input(name="age_group", shape=(1,), dtype="int64"),
        "occupation": keras.Input(name="occupation", shape=(1,), dtype="int64"),
        "sequence_movie_ids": keras.Input(name="sequence_movie_ids", shape=(seq_len,),
                                          dtype="int64"),
        "sequence_ratings": keras.Input(name="sequence_ratings", shape=(seq_len,),
                                        dtype="float32"),
        "target_movie_id": keras.Input(name="target_movie_id", shape=(1,), dtype="int64"),
    }

    # user features: a lookup and an embedding of sqrt(vocabulary size) per feature
    user_features = []
    for name in ("user_id", "sex", "age_group", "occupation"):
        vocab = vocabulary[name]
        dims = int(np.sqrt(len(vocab))) + 1
        idx = layers.IntegerLookup(vocabulary=vocab, mask_token=None, num_oov_indices=0,
                                   name=name + "_lookup")(inputs[name])
        user_features.append(layers.Embedding(len(vocab), dims,
                                              name=name + "_embedding")(idx))
    user_features = layers.concatenate(user_features)

    movie_embedding_dims = int(np.sqrt(N_MOVIES))
    movie_index_lookup = layers.IntegerLookup(vocabulary=movie_vocabulary, mask_token=None,
                                              num_oov_indices=0, name="movie_index_lookup")
    movie_embedding_encoder = layers.Embedding(N_MOVIES, movie_embedding_dims,
                                               name="movie_embedding")
    movie_genres_lookup = layers.Embedding(
        N_MOVIES, N_GENRES, embeddings_initializer=keras.initializers.Constant(movie_genres),
        trainable=False, name="genres_vector")
    movie_embedding_processor = layers.Dense(movie_embedding_dims, activation="relu",
                                             name="movie_embedding_processor")

    def encode_movie(movie_id):
        movie_idx = movie_index_lookup(movie_id)
        movie_embedding = movie_embedding_encoder(movie_idx)
        movie_genres_vector = movie_genres_lookup(movie_idx)
        return movie_embedding_processor(
            layers.concatenate([movie_embedding, movie_genres_vector]))

    encoded_target_movie = encode_movie(inputs["target_movie_id"])
    encoded_sequence_movies = encode_movie(inputs["sequence_movie_ids"])
    position_embedding_encoder = layers.Embedding(seq_len, movie_embedding_dims,
                                                  name="position_embedding")
    positions = keras.ops.arange(0, seq_len, 1)
    encoded_positions = position_embedding_encoder(positions)
    sequence_ratings = keras.ops.expand_dims(inputs["sequence_ratings"], -1)
    encoded_sequence_movies_with_position_and_rating = layers.Multiply()(
        [(encoded_sequence_movies + encoded_positions), sequence_ratings])
    transformer_features = layers.concatenate(
        [encoded_sequence_movies_with_position_and_rating, encoded_target_movie], axis=1)

    attention_output = layers.MultiHeadAttention(
        num_heads=args.heads, key_dim=movie_embedding_dims, dropout=args.dropout,
        name="multi_head_attention")(transformer_features, transformer_features)
    attention_output = layers.Dropout(args.dropout)(attention_output)
    x1 = layers.Add()([transformer_features, attention_output])
    x1 = layers.LayerNormalization(name="layer_normalization")(x1)
    x2 = layers.LeakyReLU()(x1)
    x2 = layers.Dense(units=x2.shape[-1], name="ffn")(x2)
    x2 = layers.Dropout(args.dropout)(x2)
    transformer_features = layers.Add()([x1, x2])
    transformer_features = layers.LayerNormalization(name="layer_normalization_1")(
        transformer_features)
    features = layers.Flatten()(transformer_features)
    features = layers.concatenate([features, layers.Reshape([-1])(user_features)])

    for i, units in enumerate(common.ints(args.hidden_units)):
        features = layers.Dense(units, name="tower_%d" % i)(features)
        features = layers.BatchNormalization(name="tower_bn_%d" % i)(features)
        features = layers.LeakyReLU()(features)
        features = layers.Dropout(args.dropout)(features)
    # BUG (sigmoid-rating): a sigmoid on the output for ratings of 1 to 5 stars.
    out_act = "sigmoid" if args.bug == "sigmoid-rating" else None
    outputs = layers.Dense(units=1, activation=out_act, name="rating")(features)
    model = keras.Model(inputs=inputs, outputs=outputs, name="bst")

    optimizer = {"adagrad": keras.optimizers.Adagrad,
                 "adam": keras.optimizers.Adam}[args.optimizer](learning_rate=args.lr)
    model.compile(optimizer=optimizer, loss=keras.losses.MeanSquaredError(),
                  metrics=[keras.metrics.MeanAbsoluteError(name="mae")])
    import tensorflow as tf
    train_ds = tf.data.Dataset.from_tensor_slices((train, y_train)).shuffle(
        len(y_train), seed=args.seed).batch(args.batch_size)
    val_ds = tf.data.Dataset.from_tensor_slices((val, y_val)).batch(args.batch_size)
    history = model.fit(train_ds, validation_data=val_ds, epochs=args.epochs, verbose=0,
                        callbacks=common.recording.keras_callbacks(args.out))
    h = history.history
    for e in range(len(h["loss"])):
        print("epoch %d: loss %.4f mae %.4f val loss %.4f val mae %.4f" % (
            e + 1, h["loss"][e], h["mae"][e], h["val_loss"][e], h["val_mae"][e]))
    baseline = user_mean_mae(args.seed, args.sequence_length)
    print("validation MAE %.4f stars (each user's mean rating: %.4f)" % (h["val_mae"][-1],
                                                                          baseline))
    steps = -(-len(y_train) // args.batch_size) * len(h["loss"])
    common.report(common.keras_result(history, steps, layers=common.keras_layers(model),
                                      val_mae=float(h["val_mae"][-1]),
                                      user_mean_mae=baseline))


# The ground truth of every run of this program, stated from the program (corpus/README.md).
CASES = [
    {"family": "bst-sigmoid-rating", "split": "dev", "architecture": "transformer",
     "origin": "Humbatova et al. 2020: wrong activation function (a sigmoid on the output of a "
               "regression); DeepLocalize benchmark (Stack Overflow): a sigmoid output for "
               "targets outside [0, 1]",
     "bug": "Dense(1, activation='sigmoid') on the output for ratings of 1 to 5 stars: the "
            "prediction can never exceed 1, the output saturates at 1, the MSE stays near 8.6 "
            "(8.79 in the first epoch, 8.65 in the last) and the validation MAE is 2.68 stars "
            "(the fixed twin: 0.88; each user's mean rating: 0.99)",
     "fix": "Dense(1) with no activation",
     "symptom": "saturation", "acceptable_symptoms": ["not_learning", "vanishing_gradient"],
     "root_cause": {"layer_name": "rating", "layer_index": 18},
     "pairs": [
         {"id": "adagrad-seed2",
          "buggy": "--bug sigmoid-rating --seed 2 --record-every 8",
          "fixed": "--seed 2 --record-every 8"},
     ]},
    {"family": "bst-labels-unshuffled", "split": "dev", "architecture": "transformer",
     "origin": "Humbatova et al. 2020: training data quality / preprocessing (features and "
               "labels misaligned); Stack Overflow: 'shuffled X but not y'",
     "bug": "the training sequences are permuted before building the tf.data set but their "
            "target ratings are not: every label belongs to another sequence, the MSE falls "
            "only to the ratings' variance (2.33 to 1.46) and the validation MAE is 1.007 "
            "stars, worse than each user's mean rating (0.988; the fixed twin: 0.809)",
     "fix": "y_train = y_train[order] with the features",
     "symptom": "not_learning", "acceptable_symptoms": [],
     "root_cause": "model",
     "pairs": [
         {"id": "adagrad-seed3",
          "buggy": "--bug labels-unshuffled --seed 3 --record-every 8",
          "fixed": "--seed 3 --record-every 8"},
     ]},
    {"family": "healthy-bst", "split": "dev", "architecture": "transformer",
     "origin": "healthy run",
     "description": "a Behavior Sequence Transformer on generated rating sequences (lookups, "
                    "position embeddings times ratings, one MultiHeadAttention block, a Dense "
                    "tower, MSE) that trains well",
     "healthy": [
         {"id": "adam-lr3e-3-seed4",
          "args": "--optimizer adam --lr 3e-3 --seed 4 --record-every 8",
          "description": "Adam(3e-3) instead of Adagrad"},
         {"id": "h2-tower128-bs64-seed5",
          "args": "--heads 2 --hidden-units 128,64 --batch-size 64 --epochs 6 --seed 5 "
                  "--record-every 12",
          "description": "2 heads, a tower of 128 and 64, batches of 64, 6 epochs"},
     ]},
]


if __name__ == "__main__":
    main()
