"""GANAugmenter and the GAN architectures: conformance, sampling, guards and quality bars."""

import pickle
from collections import Counter

import numpy as np
import pytest
import torch
from imblearn.pipeline import Pipeline as ImbPipeline
from sklearn.base import clone
from sklearn.datasets import load_digits, make_classification
from sklearn.linear_model import LogisticRegression
from sklearn.metrics import balanced_accuracy_score
from sklearn.model_selection import GridSearchCV, cross_val_score
from sklearn.pipeline import Pipeline
from sklearn.preprocessing import StandardScaler
from sklearn.utils._param_validation import InvalidParameterError
from sklearn.utils.estimator_checks import parametrize_with_checks

import skadv
from skadv import GANAugmenter
from skadv.demo.augmentation import imbalanced_data
from skadv.exceptions import GANCollapseWarning
from skadv.gans import DCGAN, WGANGP, ConditionalGAN, TabularGAN
from skadv.gans.base import GANPair
from skadv.gans.mlp import ConditionalDiscriminator, ConditionalGenerator, mlp
from skadv.metrics import class_coverage, memorization_rate, train_synthetic_test_real


def tiny(**params):
    defaults = dict(gan=ConditionalGAN(hidden=(16,)), max_epochs=2, batch_size=16, random_state=0)
    return GANAugmenter(**{**defaults, **params})


@parametrize_with_checks([tiny(estimator=LogisticRegression())])
def test_sklearn_compatible(estimator, check):
    check(estimator)


@pytest.fixture(scope="module")
def imbalanced():
    """The augmentation benchmark's data set, split 50/50 stratified."""
    return imbalanced_data(seed=0)


def test_augmentation_meets_the_balanced_accuracy_bar(imbalanced):
    X_train, X_test, y_train, y_test = imbalanced
    plain = LogisticRegression(max_iter=1000).fit(X_train, y_train)
    aug = GANAugmenter(
        LogisticRegression(max_iter=1000), gan="cgan", batch_size=16, random_state=0
    ).fit(X_train, y_train)
    augmented = balanced_accuracy_score(y_test, aug.predict(X_test))
    assert augmented >= 0.70
    assert augmented > balanced_accuracy_score(y_test, plain.predict(X_test)) + 0.1
    history = aug.gan_net_.history
    assert len(history) == 300
    assert np.all(np.isfinite(history[:, "d_loss"])) and np.all(np.isfinite(history[:, "g_loss"]))
    assert not any(history[:, "collapsed"])


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


def test_prediction_never_augments(imbalanced):
    X_train, X_test, y_train, _ = imbalanced
    aug = tiny(estimator=LogisticRegression(max_iter=500)).fit(X_train, y_train)
    gan_state = [p.detach().clone() for p in aug.gan_net_.module_.parameters()]
    np.testing.assert_array_equal(aug.predict(X_test), aug.estimator_.predict(X_test))
    np.testing.assert_array_equal(aug.predict_proba(X_test), aug.estimator_.predict_proba(X_test))
    for before, after in zip(gan_state, aug.gan_net_.module_.parameters(), strict=True):
        assert torch.equal(before, after)


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

    meta_pipe = Pipeline(
        [("scale", StandardScaler()), ("clf", tiny(estimator=LogisticRegression(max_iter=500)))]
    )
    assert cross_val_score(meta_pipe, X, y, cv=2).shape == (2,)

    search = GridSearchCV(
        tiny(estimator=LogisticRegression(max_iter=500)),
        {
            "gan": ["cgan", "wgan-gp"],
            "gan__hidden": [(8,)],
            "sampling_strategy": [0.5, 1.0],
            "estimator__C": [0.1, 1.0],
        },
        cv=2,
        scoring="balanced_accuracy",
    )
    search.fit(X, y)
    assert len(search.cv_results_["params"]) == 8
    assert isinstance(search.best_estimator_.gan_, (ConditionalGAN, WGANGP))
    assert search.best_estimator_.gan_.hidden == (8,)


def test_nested_gan_params():
    aug = GANAugmenter(gan="wgan-gp")
    aug.set_params(gan__latent_dim=8, gan__n_critic=2)
    assert isinstance(aug.gan, WGANGP) and aug.gan.latent_dim == 8
    assert aug.get_params()["gan__n_critic"] == 2
    copy = clone(aug)
    assert copy.gan is not aug.gan and copy.gan.latent_dim == 8
    X, y = make_classification(120, n_features=4, weights=[0.8], random_state=0)
    copy.set_params(max_epochs=1, batch_size=16).fit_resample(X, y)
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
    with pytest.raises(ValueError, match="needs images of shape \\(n_samples, C, H, W\\)"):
        GANAugmenter(gan="dcgan").fit_resample(X, y)
    with pytest.raises(InvalidParameterError, match="'max_epochs' parameter"):
        tiny(max_epochs=0).fit_resample(X, y)
    with pytest.raises(ValueError, match="Unknown label type"):
        tiny().fit_resample(X, np.linspace(0, 1, len(y)))
    with pytest.raises(ValueError, match="needs an estimator"):
        tiny().fit(X, y)
    with pytest.raises(ValueError, match="halves down to 7 pixels"):
        GANAugmenter(gan="dcgan").fit_resample(np.zeros((20, 1, 9, 9)), np.arange(20) % 2)
    X_copy = X.copy()
    tiny().fit_resample(X, y)
    np.testing.assert_array_equal(X, X_copy)


def test_pickle_round_trip():
    X, y = make_classification(100, n_features=4, weights=[0.8], random_state=0)
    aug = tiny(estimator=LogisticRegression()).fit(X, y)
    loaded = pickle.loads(pickle.dumps(aug))
    np.testing.assert_array_equal(loaded.predict(X), aug.predict(X))
    assert loaded.sample(4, y=1).shape == (4, 4)


def test_dcgan_generates_the_conditioned_digit():
    X, y = load_digits(return_X_y=True)
    X = (X / 16.0).astype(np.float32)
    judge = LogisticRegression(max_iter=2000).fit(X, y)
    aug = GANAugmenter(gan="dcgan", sampling_strategy="all", max_epochs=60, random_state=0)
    aug.fit_resample(X.reshape(-1, 1, 8, 8), y)
    labels = np.repeat(np.arange(10), 30)
    samples = aug.sample(len(labels), y=labels)
    assert samples.shape == (300, 1, 8, 8)
    assert samples.min() >= 0.0 and samples.max() <= 1.0
    assert np.mean(judge.predict(samples.reshape(300, -1)) == labels) >= 0.8


@pytest.mark.parametrize("shape", [(1, 28, 28), (3, 32, 32)])
def test_dcgan_builds_for_larger_images(shape):
    gan = DCGAN(width=4)
    X = np.random.default_rng(0).random((6,) + shape, dtype=np.float32)
    encoder = gan.make_encoder(X).fit(X)
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
    aug = GANAugmenter(
        gan=TabularGAN(categorical_features=[1]),
        sampling_strategy="all",
        max_epochs=100,
        random_state=0,
    )
    aug.fit_resample(X, y)
    S = aug.sample(1000, y=0)
    assert np.mean(np.abs(np.abs(S[:, 0]) - 5) < 1.5) > 0.9  # both modes, not between
    assert min(np.mean(S[:, 0] < 0), np.mean(S[:, 0] > 0)) > 0.2
    assert set(np.unique(S[:, 1])) <= {0.0, 1.0, 2.0}
    assert np.mean(S[:, 1] == 0.0) > 0.4


def test_synthetic_quality_metrics(imbalanced):
    X_train, X_test, y_train, y_test = imbalanced
    counts = np.bincount(y_train)
    aug = tiny(sampling_strategy={0: counts[0] + 300, 1: counts[1] + 300}, max_epochs=20)
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
    assert {"cgan", "wgan-gp", "dcgan", "tabular"} <= set(skadv.list_gans())
    assert isinstance(skadv.get_gan("tabular", max_modes=3), TabularGAN)
