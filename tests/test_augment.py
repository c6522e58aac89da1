"""GANAugmenter and the GAN architectures: conformance, sampling, guards and quality bars."""

import pickle
import time
from collections import Counter

import numpy as np
import pandas as pd
import pytest
import torch
from imblearn.base import is_sampler
from imblearn.pipeline import Pipeline as ImbPipeline
from imblearn.utils.estimator_checks import parametrize_with_checks
from sklearn.base import clone
from sklearn.datasets import load_digits, make_classification
from sklearn.ensemble import HistGradientBoostingClassifier
from sklearn.linear_model import LogisticRegression
from sklearn.metrics import balanced_accuracy_score
from sklearn.model_selection import GridSearchCV, cross_val_score, train_test_split
from sklearn.preprocessing import StandardScaler
from sklearn.utils._param_validation import InvalidParameterError

import skadv
from skadv import GANAugmenter
from skadv.demo.augmentation import imbalanced_data
from skadv.exceptions import GANCollapseWarning
from skadv.gans import DCGAN, WGANGP, ConditionalGAN, TabularGAN
from skadv.gans.base import GAN, GANPair
from skadv.gans.mlp import ConditionalDiscriminator, ConditionalGenerator, mlp
from skadv.metrics import class_coverage, memorization_rate, train_synthetic_test_real


def tiny(**params):
    defaults = dict(gan=ConditionalGAN(hidden=(16,)), max_steps=4, batch_size=16, random_state=0)
    return GANAugmenter(**{**defaults, **params})


@parametrize_with_checks(
    [tiny()],
    expected_failed_checks=lambda estimator: {
        "check_samplers_list": "a list comes back as an ndarray (list in, array out, as "
        "scikit-learn's transformers do); imbalanced-learn's samplers return a list"
    },
)
def test_imbalanced_learn_compatible(estimator, check):
    check(estimator)


def test_it_is_a_sampler():
    assert is_sampler(GANAugmenter())
    X, y = make_classification(100, n_features=3, n_redundant=0, weights=[0.8], random_state=0)
    frame = pd.DataFrame(X, columns=["a", "b", "c"])
    aug = tiny()
    X_res, _ = aug.fit_resample(frame, y)
    assert list(aug.get_feature_names_out()) == ["a", "b", "c"] == list(X_res.columns)


@pytest.fixture(scope="module")
def imbalanced():
    """The augmentation benchmark's data set, split 50/50 stratified."""
    return imbalanced_data(seed=0)


def test_augmentation_meets_the_balanced_accuracy_bar():
    # two draws of the data: one GAN run moves balanced accuracy by a few points
    augmented, plain = [], []
    for seed in (0, 1):
        X_train, X_test, y_train, y_test = imbalanced_data(seed=seed)
        model = LogisticRegression(max_iter=1000).fit(X_train, y_train)
        plain.append(balanced_accuracy_score(y_test, model.predict(X_test)))
        aug = GANAugmenter(gan="cgan", random_state=0)
        pipe = ImbPipeline([("augment", aug), ("clf", LogisticRegression(max_iter=1000))])
        predicted = pipe.fit(X_train, y_train).predict(X_test)
        augmented.append(balanced_accuracy_score(y_test, predicted))
    assert np.mean(augmented) >= 0.70, augmented
    assert np.mean(augmented) > np.mean(plain) + 0.1, (augmented, plain)
    history = aug.gan_net_.history
    steps = sum(len(epoch["batches"]) for epoch in history)
    # cgan's default budget, in whole epochs of about 50 steps; early stopping may cut it
    assert steps < 400 + len(history[0]["batches"])
    assert "fidelity" in history[-1] or any("fidelity" in epoch for epoch in history)
    assert np.all(np.isfinite(history[:, "d_loss"])) and np.all(np.isfinite(history[:, "g_loss"]))


@pytest.mark.parametrize(
    ("strategy", "expected"),
    [
        ("auto", {0: 100, 1: 100, 2: 100}),
        ("minority", {0: 100, 1: 100, 2: 45}),
        ("not majority", {0: 100, 1: 100, 2: 100}),
        ({1: 50, 2: 60}, {0: 100, 1: 50, 2: 60}),
    ],
)
def test_sampling_strategy_makes_exact_counts(strategy, expected):
    rng = np.random.default_rng(0)
    y = np.repeat([0, 1, 2], [100, 30, 45])
    X = rng.normal(size=(len(y), 4)) + y[:, None]
    X_res, y_res = tiny(sampling_strategy=strategy).fit_resample(X, y)
    assert Counter(y_res.tolist()) == expected
    np.testing.assert_array_equal(X_res[: len(X)], X)
    np.testing.assert_array_equal(y_res[: len(y)], y)


def test_float_sampling_strategy_binary():
    X, y = make_classification(200, n_features=5, weights=[0.8], random_state=0)
    _, y_res = tiny(sampling_strategy=0.5).fit_resample(X, y)
    counts = Counter(y_res.tolist())
    assert counts[1] == int(0.5 * counts[0])


def test_string_labels_and_sample():
    X, y = make_classification(
        150, n_features=4, n_informative=2, n_redundant=0, weights=[0.8], random_state=0
    )
    labels = np.array(["ham", "spam"])[y]
    aug = tiny(sampling_strategy="all").fit_resample(X, labels)
    X_res, y_res = aug
    assert set(y_res) == {"ham", "spam"}
    fitted = tiny(sampling_strategy="auto")
    fitted.fit_resample(X, labels)
    assert fitted.sample(7, y="spam").shape == (7, 4)
    with pytest.raises(ValueError, match="did not learn class\\(es\\) \\['ham'\\]"):
        fitted.sample(3, y="ham")


def test_pipelines_cross_validation_and_grid_search(imbalanced):
    X_train, _, y_train, _ = imbalanced
    X, y = X_train[:600], y_train[:600]
    sampler_pipe = ImbPipeline(
        [
            ("scale", StandardScaler()),
            ("augment", tiny()),
            ("clf", LogisticRegression(max_iter=500)),
        ]
    )
    scores = cross_val_score(sampler_pipe, X, y, cv=3, scoring="balanced_accuracy")
    assert scores.shape == (3,) and np.all(scores > 0.4)

    search = GridSearchCV(
        ImbPipeline([("augment", tiny()), ("clf", LogisticRegression(max_iter=500))]),
        {
            "augment__gan": ["cgan", "wgan-gp"],
            "augment__gan__hidden": [(8,)],
            "augment__sampling_strategy": [0.5, 1.0],
            "clf__C": [0.1, 1.0],
        },
        cv=2,
        scoring="balanced_accuracy",
        error_score="raise",
    )
    search.fit(X, y)
    assert len(search.cv_results_["params"]) == 8
    best = search.best_estimator_[0]
    assert isinstance(best.gan_, (ConditionalGAN, WGANGP)) and best.gan_.hidden == (8,)


def test_nested_gan_params():
    aug = GANAugmenter(gan="wgan-gp")
    aug.set_params(gan__latent_dim=8, gan__n_critic=2)
    assert isinstance(aug.gan, WGANGP) and aug.gan.latent_dim == 8
    assert aug.get_params()["gan__n_critic"] == 2
    copy = clone(aug)
    assert copy.gan is not aug.gan and copy.gan.latent_dim == 8
    X, y = make_classification(120, n_features=4, weights=[0.8], random_state=0)
    copy.set_params(max_steps=2, batch_size=16).fit_resample(X, y)
    assert copy.gan_.latent_dim == 8 and copy.gan_net_.gan.n_critic == 2
    with pytest.raises(ValueError, match="Invalid parameter 'nope'"):
        aug.set_params(gan__nope=1)


def test_same_random_state_same_rows():
    X, y = make_classification(150, n_features=5, weights=[0.8], random_state=0)
    a, _ = tiny(random_state=5).fit_resample(X, y)
    b, _ = tiny(random_state=5).fit_resample(X, y)
    c, _ = tiny(random_state=6).fit_resample(X, y)
    np.testing.assert_array_equal(a, b)
    assert not np.array_equal(a, c)


class ConstantGenerator(torch.nn.Module):
    """Ignores its noise: every sample of a class is the same point."""

    def __init__(self, dim, n_classes):
        super().__init__()
        self.table = torch.nn.Linear(n_classes, dim)

    def forward(self, z, y):
        return self.table(y)


class CollapsingGAN(ConditionalGAN):
    def build(self, encoder, n_classes):
        dim = encoder.output_dim_
        return GANPair(
            ConstantGenerator(dim, n_classes),
            ConditionalDiscriminator(mlp([dim + n_classes, 8, 1], norm=False)),
        )


def test_collapsed_generator_is_detected_and_recorded():
    X, y = make_classification(100, n_features=4, weights=[0.8], random_state=0)
    aug = tiny(gan=CollapsingGAN())
    with pytest.warns(GANCollapseWarning, match="mode collapse"):
        aug.fit_resample(X, y)
    assert all(aug.gan_net_.history[:, "collapsed"])
    assert max(aug.gan_net_.history[:, "diversity"]) < 0.05


def test_generator_modules_follow_the_encoder():
    gen = ConditionalGenerator(mlp([5, 4], norm=False), torch.tanh)
    assert gen(torch.zeros(2, 3), torch.ones(2, 2)).abs().max() < 1


def test_bad_input_gets_clear_errors():
    X, y = make_classification(100, n_features=4, weights=[0.8], random_state=0)
    X_nan = X.copy()
    X_nan[0, 0] = np.nan
    with pytest.raises(ValueError, match="Input X contains NaN"):
        tiny().fit_resample(X_nan, y)
    with pytest.raises(ValueError, match="Unknown gan 'cgam'. Did you mean 'cgan'"):
        GANAugmenter(gan="cgam").fit_resample(X, y)
    with pytest.raises(ValueError, match="takes images of shape \\(n_samples, C, H, W\\)"):
        GANAugmenter(gan="dcgan").fit_resample(X, y)
    with pytest.raises(ValueError, match="takes tables"):
        GANAugmenter(gan="cgan").fit_resample(X.reshape(-1, 1, 2, 2), y)
    with pytest.raises(InvalidParameterError, match="'max_steps' parameter"):
        tiny(max_steps=0).fit_resample(X, y)
    with pytest.raises(ValueError, match="Unknown label type"):
        tiny().fit_resample(X, np.linspace(0, 1, len(y)))
    with pytest.raises(ValueError, match="halves down to 7 pixels"):
        GANAugmenter(gan="dcgan").fit_resample(np.zeros((20, 1, 9, 9)), np.arange(20) % 2)
    X_copy = X.copy()
    tiny().fit_resample(X, y)
    np.testing.assert_array_equal(X, X_copy)


def test_pickle_round_trip():
    X, y = make_classification(100, n_features=4, weights=[0.8], random_state=0)
    aug = tiny()
    aug.fit_resample(X, y)
    loaded = pickle.loads(pickle.dumps(aug))
    assert loaded.sample(4, y=1).shape == (4, 4)


def test_dcgan_learns_ten_digits_per_class():
    """Small image sets: with a step budget, 10 real digits per class suffice."""
    from sklearn.svm import SVC

    X, y = load_digits(return_X_y=True)
    X = (X / 16.0).astype(np.float32)
    judge = SVC().fit(X, y)
    rng = np.random.default_rng(0)
    small = np.concatenate(
        [rng.choice(np.flatnonzero(y == c), 10, replace=False) for c in range(10)]
    )
    aug = GANAugmenter(gan="dcgan", sampling_strategy={c: 60 for c in range(10)}, random_state=0)
    aug.fit_resample(X[small].reshape(-1, 1, 8, 8), y[small])
    labels = np.repeat(np.arange(10), 30)
    samples = aug.sample(len(labels), y=labels)
    assert samples.shape == (300, 1, 8, 8)
    assert samples.min() >= 0.0 and samples.max() <= 1.0
    assert np.mean(judge.predict(samples.reshape(300, -1)) == labels) >= 0.8


@pytest.mark.parametrize("shape", [(1, 28, 28), (3, 32, 32)])
def test_dcgan_builds_for_larger_images(shape):
    gan = DCGAN(width=4)
    X = np.random.default_rng(0).random((6,) + shape, dtype=np.float32)
    encoder = gan.make_encoder(X, 0, ()).fit(X)
    pair = gan.build(encoder, 3)
    onehot = torch.eye(3)[[0, 1, 2, 0]]
    fake = pair.generator(torch.randn(4, gan.latent_dim), onehot)
    assert fake.shape == (4,) + shape
    assert pair.discriminator(fake, onehot).shape == (4,)


def test_tabular_gan_learns_modes_and_categories():
    rng = np.random.default_rng(0)
    n = 600
    y = (rng.random(n) < 0.3).astype(int)
    bimodal = np.where(rng.random(n) < 0.5, rng.normal(-5, 0.5, n), rng.normal(5, 0.5, n))
    category = rng.choice([0.0, 1.0, 2.0], size=n, p=[0.6, 0.3, 0.1])
    X = np.column_stack([bimodal, category, rng.normal(0, 1, n) + y])
    aug = GANAugmenter(gan="tabular", categorical=[1], sampling_strategy="all", random_state=0)
    aug.fit_resample(X, y)
    S = aug.sample(1000, y=0)
    assert np.mean(np.abs(np.abs(S[:, 0]) - 5) < 1.5) > 0.9  # both modes, not between
    assert min(np.mean(S[:, 0] < 0), np.mean(S[:, 0] > 0)) > 0.2
    assert set(np.unique(S[:, 1])) <= {0.0, 1.0, 2.0}
    assert np.mean(S[:, 1] == 0.0) > 0.4


def test_synthetic_quality_metrics(imbalanced):
    X_train, X_test, y_train, y_test = imbalanced
    counts = np.bincount(y_train)
    aug = tiny(sampling_strategy={0: counts[0] + 300, 1: counts[1] + 300}, max_steps=300)
    X_res, y_res = aug.fit_resample(X_train, y_train)
    X_syn, y_syn = X_res[len(X_train) :], y_res[len(y_train) :]
    tstr = train_synthetic_test_real(LogisticRegression(), X_syn, y_syn, X_test, y_test)
    assert 0.5 < tstr <= 1.0
    assert memorization_rate(X_syn, X_train) < 0.05
    assert memorization_rate(X_train[:50], X_train) == 1.0  # copies are copies
    coverage = class_coverage(X_syn, y_syn, X_test, y_test)
    assert set(coverage) == {0, 1} and all(0 <= v <= 1 for v in coverage.values())
    assert class_coverage(X_test[:0], y_test[:0], X_test, y_test) == {0: 0.0, 1: 0.0}


def test_registry_lists_the_gans():
    assert {"cgan", "wgan-gp", "dcgan", "tabular", "tvae"} <= set(skadv.list_gans())
    assert isinstance(skadv.get_gan("tabular", max_modes=3), TabularGAN)


# ---------------------------------------------------------------- tables as they are


def skewed_table(n=600, seed=0):
    rng = np.random.default_rng(seed)
    y = (rng.random(n) < 0.2).astype(int)
    X = pd.DataFrame(
        {
            "count": rng.poisson(2 + 3 * y),
            "amount": rng.lognormal(1.0 + y, 1.0, n),
            "constant": np.full(n, 7.5),
            "kind": pd.Categorical(rng.choice(["a", "b", "c"], n, p=[0.6, 0.3, 0.1])),
            "city": rng.choice(["x", "y"], n),
            "flag": rng.random(n) < 0.3,
            "code": rng.integers(0, 4, n),
        }
    )
    return X, y


@pytest.mark.parametrize("gan", ["cgan", "wgan-gp", "tabular", "tvae"])
def test_a_mixed_dataframe_comes_back_as_it_went_in(gan):
    X, y = skewed_table()
    aug = GANAugmenter(gan=gan, max_steps=150, random_state=0)
    X_res, y_res = aug.fit_resample(X, y)
    assert isinstance(X_res, pd.DataFrame) and list(X_res.columns) == list(X.columns)
    assert (X_res.dtypes == X.dtypes).all()
    assert X_res["kind"].cat.categories.equals(X["kind"].cat.categories)
    new = X_res.iloc[len(X) :]
    assert len(new) == (y == 0).sum() - (y == 1).sum() and (y_res[len(y) :] == 1).all()
    assert (new["count"] == new["count"].round()).all() and (new["count"] >= 0).all()
    assert (new["amount"] > 0).all()  # strictly positive, and skewed: learnt in log space
    assert (new["constant"] == 7.5).all()
    assert set(new["city"]) <= {"x", "y"} and set(new["kind"]) <= {"a", "b", "c"}
    assert new["flag"].dtype == bool
    numbers = ["count", "amount", "code"]
    assert (new[numbers] >= X[numbers].min()).all().all()
    assert (new[numbers] <= X[numbers].max()).all().all()


def test_declared_categorical_codes_stay_codes_and_clip_can_be_off():
    X, y = skewed_table()
    arrays = X[["count", "code"]].to_numpy()
    X_res, _ = GANAugmenter(categorical=[1], max_steps=50, random_state=0).fit_resample(arrays, y)
    assert X_res.dtype == arrays.dtype and set(np.unique(X_res[:, 1])) <= {0, 1, 2, 3}
    listed, y_listed = tiny().fit_resample(arrays.tolist(), y.tolist())
    assert isinstance(listed, np.ndarray) and isinstance(y_listed, np.ndarray)
    assert listed.shape == (len(y_listed), 2) and listed.dtype.kind in "iuf"
    np.testing.assert_array_equal(listed[: len(arrays)], arrays)
    words = [["a", 1], ["b", 2], ["a", 3], ["b", 1]] * 5
    mixed, _ = tiny(categorical=[0]).fit_resample(words, [0] * 15 + [1] * 5)
    assert isinstance(mixed, np.ndarray) and set(mixed[:, 0]) <= {"a", "b"}
    made = {
        clip: GANAugmenter(clip=clip, max_steps=20, random_state=0)
        .fit_resample(X[["amount"]], y)[0]["amount"]
        .iloc[len(X) :]
        for clip in (True, False)
    }
    assert made[True].between(X["amount"].min(), X["amount"].max()).all()
    assert (made[False] != made[True]).any()  # the same rows, unclipped where they stray


def test_conditional_sampling_on_feature_values():
    X, y = skewed_table()
    aug = GANAugmenter(max_steps=200, random_state=0)
    aug.fit_resample(X, y)
    rows = aug.sample(20, y=1, conditions={"kind": "b", "count": (0, 4)})
    assert len(rows) == 20 and (rows["kind"] == "b").all() and rows["count"].between(0, 4).all()
    with pytest.raises(ValueError, match="too rare"):
        aug.sample(5, y=1, conditions={"amount": (-2, -1)})
    with pytest.raises(ValueError, match="columns \\['nope'\\]"):
        aug.sample(5, y=1, conditions={"nope": 1})


def test_training_is_budgeted_in_steps_and_time():
    X, y = skewed_table()
    aug = GANAugmenter(max_steps=60, batch_size=16, early_stopping=False, random_state=0)
    aug.fit_resample(X, y)
    history = aug.gan_net_.history
    steps = sum(len(epoch["batches"]) for epoch in history)
    # whole epochs of full batches, at least 50 steps each: passes over the small class
    per_epoch = len(history[0]["batches"])
    assert per_epoch >= 50 and per_epoch % ((y == 1).sum() // 16) == 0
    assert 60 <= steps < 60 + per_epoch
    timed = GANAugmenter(max_steps=100_000, max_time=1.0, random_state=0)
    start = time.perf_counter()
    timed.fit_resample(X, y)
    assert time.perf_counter() - start < 10


def test_a_one_row_minority_falls_back_with_a_warning():
    X, y = skewed_table()
    keep = np.concatenate([np.flatnonzero(y == 0), np.flatnonzero(y == 1)[:1]])
    with pytest.warns(UserWarning, match="1 row to learn class\\(es\\) \\[1\\] from"):
        X_res, y_res = tiny().fit_resample(X.iloc[keep], y[keep])
    assert (y_res == 1).sum() == (y == 0).sum()


def test_memorization_rate_sees_copies_of_duplicated_rows_in_any_units():
    rng = np.random.default_rng(0)
    integers = rng.integers(0, 3, size=(400, 4))  # many duplicated rows
    copies = integers[:50]
    assert memorization_rate(copies, integers) == 1.0
    fresh = rng.integers(3, 6, size=(50, 4))
    assert memorization_rate(fresh, integers) == 0.0
    scaled = np.column_stack([rng.normal(size=300), 1e6 * rng.normal(size=300)])
    near = scaled[:50] + [0.0, 1e3]  # far in the large unit, a copy once standardized
    assert memorization_rate(near, scaled) == 1.0


def test_synthetic_report_measures_fidelity_and_privacy():
    from skadv.metrics import synthetic_report

    X, y = skewed_table(900)
    real, holdout = X.iloc[:600], X.iloc[600:]
    counts = np.bincount(y[:600])
    wanted = {0: counts[0] + 300, 1: counts[1] + 300}
    aug = GANAugmenter(sampling_strategy=wanted, max_steps=300, random_state=0)
    X_res, y_res = aug.fit_resample(real, y[:600])
    fake, y_fake = X_res.iloc[600:], y_res[600:]
    report = synthetic_report(real, fake, holdout, y_synthetic=y_fake, y_holdout=y[600:])
    assert set(report["column_distance"]) == set(X.columns)
    assert report["column_distance"]["constant"] == 0.0
    assert all(0 <= v <= 1 for v in report["column_distance"].values())
    assert 0.5 < report["tstr_auc"] <= 1
    assert 0.4 <= report["detection_auc"] <= 1 and 0.3 <= report["membership_auc"] <= 0.7
    copied = synthetic_report(real, real.iloc[:300], holdout)
    assert copied["dcr"]["ratio"] == 0.0 and copied["memorization_rate"] == 1.0
    assert copied["membership_auc"] > 0.7  # copies give their rows away


def test_tvae_learns_the_minority_class_it_is_conditioned_on():
    """The autoencoder's rows of each class look like that class: a classifier trained on
    them alone does better on real test rows than one trained on the (imbalanced) real
    rows, and the minority's means sit near the real ones."""
    X, y = make_classification(
        2000, n_features=6, n_informative=4, weights=[0.9], class_sep=1.5, random_state=0
    )
    X_train, X_test, y_train, y_test = train_test_split(X, y, random_state=0, stratify=y)
    wanted = {c: int((y_train == c).sum()) + 500 for c in (0, 1)}
    aug = GANAugmenter(gan="tvae", sampling_strategy=wanted, random_state=0)
    X_res, y_res = aug.fit_resample(X_train, y_train)
    X_syn, y_syn = X_res[len(X_train) :], y_res[len(y_train) :]
    tstr = train_synthetic_test_real(LogisticRegression(), X_syn, y_syn, X_test, y_test)
    trtr = train_synthetic_test_real(LogisticRegression(), X_train, y_train, X_test, y_test)
    assert tstr > trtr
    minority = X_train[y_train == 1]
    gap = np.abs(X_syn[y_syn == 1].mean(0) - minority.mean(0)) / minority.std(0)
    assert gap.max() < 0.15  # a prior shared by the classes left gaps of 0.5
    assert aug.gan_net_.optimizer_generator_.defaults["lr"] == 1e-3
    again = GANAugmenter(gan="tvae", sampling_strategy=wanted, random_state=0)
    np.testing.assert_array_equal(again.fit_resample(X_train, y_train)[0], X_res)


def test_a_gan_without_its_losses_cannot_be_made():
    class Unfinished(GAN):
        latent_dim, n_critic = 32, 1

        def make_encoder(self, X, random_state=None, categorical=()):
            return ConditionalGAN().make_encoder(X)

        def build(self, encoder, n_classes):
            return ConditionalGAN(hidden=(8,)).build(encoder, n_classes)

    with pytest.raises(TypeError, match="abstract methods? .*discriminator_loss"):
        Unfinished()


def test_classifier_filter_keeps_the_rows_most_typical_of_their_class():
    """Judged by a classifier fitted on other rows of the same distribution, the kept
    rows belong to their class more clearly than unfiltered ones."""
    X_all, y_all = make_classification(
        1200, n_features=4, n_informative=3, n_redundant=0, weights=[0.8], random_state=0
    )
    X, X_other, y, y_other = train_test_split(X_all, y_all, test_size=0.5, random_state=0)
    judge = HistGradientBoostingClassifier(random_state=0).fit(X_other, y_other)
    made = {}
    for filter in (None, "classifier"):
        aug = GANAugmenter(filter=filter, random_state=0)
        X_res, y_res = aug.fit_resample(X, y)
        assert Counter(y_res[len(y) :]) == {1: (y == 0).sum() - (y == 1).sum()}
        made[filter] = judge.predict_proba(X_res[len(X) :])[:, 1].mean()
    assert made["classifier"] > made[None] + 0.1
    with pytest.raises(InvalidParameterError, match="'filter' parameter"):
        GANAugmenter(filter="discriminator").fit_resample(X, y)
