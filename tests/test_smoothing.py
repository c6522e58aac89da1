"""Randomized smoothing: agreement with ART, soundness of the certificates under an EOT
attack, abstention, the gaussian objective, the certified scorer and display."""

import matplotlib
import numpy as np
import pytest
import torch
from art.estimators.certification.randomized_smoothing import PyTorchRandomizedSmoothing
from sklearn.base import clone
from sklearn.frozen import FrozenEstimator
from sklearn.linear_model import LogisticRegression
from sklearn.model_selection import GridSearchCV
from sklearn.utils._param_validation import InvalidParameterError
from sklearn.utils.estimator_checks import parametrize_with_checks

from skadv import PGD, AdversarialTrainer, RandomizedSmoothingClassifier, list_objectives
from skadv.metrics import CertifiedAccuracyDisplay, make_robust_scorer
from skadv.modules import MLP
from skadv.smoothing import SmoothedModule, certified_accuracy, clopper_pearson_lower

matplotlib.use("Agg")


def smoothing_trainer(objective, sigma, max_epochs=20, **params):
    return AdversarialTrainer(
        MLP,
        objective=objective,
        objective__sigma=sigma,
        max_epochs=max_epochs,
        lr=1e-2,
        train_split=None,
        verbose=0,
        random_state=0,
        **params,
    )


def gaussian_trainer(sigma, max_epochs=20, **params):
    return smoothing_trainer("gaussian", sigma, max_epochs, **params)


@pytest.fixture(scope="module")
def base(digits):
    """An MLP trained with Gaussian noise of sigma 0.25 on digits in [0, 1]."""
    X_train, _, y_train, _ = digits
    return gaussian_trainer(0.25).fit(X_train, y_train)


def smoothed(base, digits, **params):
    X_train, _, y_train, _ = digits
    return RandomizedSmoothingClassifier(FrozenEstimator(base), **params).fit(X_train, y_train)


def test_certified_accuracy_agrees_with_art_within_monte_carlo_error(base, digits):
    """Same base module, sigma, alpha and sample counts as ART's randomized smoothing. At
    each radius, rows certified by one implementation and not the other must be as
    likely either way (a sign test at three standard deviations): the two differ only by
    their Monte-Carlo noise."""
    _, X_test, _, y_test = digits
    X, y = X_test[:300], y_test[:300]
    n, n_select, sigma = 500, 50, 0.25
    labels, radii = smoothed(
        base, digits, sigma=sigma, n_samples=n, n_select=n_select, random_state=0
    ).certify(X)
    np.random.seed(0)
    art = PyTorchRandomizedSmoothing(
        model=base.module_,
        loss=torch.nn.CrossEntropyLoss(),
        input_shape=(64,),
        nb_classes=10,
        device_type="cpu",
        sample_size=n_select,
        scale=sigma,
        alpha=0.001,
    )
    art_labels, art_radii = art.certify(X, n=n, batch_size=n)
    for radius in (0.0, 0.25, 0.5):
        ours = (labels == y) & (radii >= radius)
        theirs = (art_labels == y) & (art_radii >= radius)
        only_ours, only_art = int((ours & ~theirs).sum()), int((theirs & ~ours).sum())
        assert abs(only_ours - only_art) <= 3 * np.sqrt(only_ours + only_art) + 1, radius
    assert 0.85 < np.mean((labels == y) & (radii >= 0)) <= 1
    assert 0.1 < np.mean((labels == y) & (radii >= 0.5)) < 0.6  # the range is exercised


def test_clopper_pearson_bound_matches_statsmodels():
    from statsmodels.stats.proportion import proportion_confint

    hits = np.array([0, 1, 50, 499, 500])
    ours = clopper_pearson_lower(hits, 500, 0.001)
    theirs = [proportion_confint(k, 500, alpha=0.002, method="beta")[0] for k in hits]
    np.testing.assert_allclose(ours, np.nan_to_num(theirs), atol=1e-12)


def test_certificates_hold_against_an_eot_attack_on_the_smoothed_classifier(digits):
    """L2 PGD with expectation over the noise, on the smoothed classifier itself: below
    the certified radius it changes no prediction, above it it changes many (so the
    attack is not toothless)."""
    X_train, X_test, y_train, _ = digits
    sigma = 0.5
    trained = gaussian_trainer(sigma).fit(X_train, y_train)
    smooth = RandomizedSmoothingClassifier(
        FrozenEstimator(trained), sigma=sigma, n_samples=1000, n_select=50, random_state=0
    ).fit(X_train, y_train)
    X = X_test[:200]
    labels, radii = smooth.certify(X)
    torch.manual_seed(0)
    eot = SmoothedModule(trained.module_, sigma, n_draws=64)
    eps = 0.25
    certified = radii > eps
    assert certified.sum() >= 50
    x = torch.as_tensor(X[certified])
    targets = torch.as_tensor(labels[certified].astype(np.int64))
    below = PGD(eps=eps, norm="l2", steps=20, random_state=0).perturb(eot, x, targets)
    assert torch.linalg.vector_norm(below - x, dim=1).max() <= eps + 1e-5
    assert (smooth.vote_counts(below.numpy()).argmax(axis=1) == labels[certified]).all()
    above = PGD(eps=1.5, norm="l2", steps=20, random_state=0).perturb(eot, x, targets)
    flipped = smooth.vote_counts(above.numpy()).argmax(axis=1) != labels[certified]
    assert flipped.mean() > 0.3


def test_smoothed_module_is_the_log_mean_softmax_over_noise(base):
    x = torch.rand(5, 64)
    torch.manual_seed(0)
    out = SmoothedModule(base.module_, 0.25, n_draws=16)(x)
    assert out.shape == (5, 10)
    np.testing.assert_allclose(out.exp().sum(dim=1).detach().numpy(), 1.0, rtol=1e-5)
    torch.manual_seed(0)
    noisy = x.repeat_interleave(16, dim=0)
    noisy = noisy + 0.25 * torch.randn_like(noisy)
    expected = torch.softmax(base.module_(noisy), dim=1).reshape(5, 16, 10).mean(dim=1).log()
    torch.testing.assert_close(out, expected)


def test_predict_abstains_where_the_vote_is_not_significant():
    X = np.linspace(-1, 1, 200)[:, None]
    y = np.where(X[:, 0] > 0, "pos", "neg")
    smooth = RandomizedSmoothingClassifier(
        LogisticRegression(),
        sigma=0.5,
        n_samples=500,
        n_select=50,
        random_state=0,
        abstain_label="unsure",
    ).fit(X, y)
    pred = smooth.predict(np.array([[-3.0], [0.0], [3.0]]))
    assert pred.tolist() == ["neg", "unsure", "pos"]
    labels, radii = smooth.certify(np.array([[0.0], [3.0]]))
    assert labels.tolist() == ["unsure", "pos"]
    assert radii[0] == 0 and radii[1] > 1.0
    assert smooth.score(np.array([[0.0], [3.0]]), ["pos", "pos"]) == 0.5


def test_integer_labels_keep_their_dtype_and_a_clashing_abstain_label_is_refused(digits):
    X_train, X_test, y_train, _ = digits
    smooth = RandomizedSmoothingClassifier(
        LogisticRegression(max_iter=200), n_samples=50, n_select=10, random_state=0
    ).fit(X_train, y_train)
    assert smooth.predict(X_test[:5]).dtype.kind == "i"
    with pytest.raises(ValueError, match="abstain_label=3 is also a class label"):
        clone(smooth).set_params(abstain_label=3).fit(X_train, y_train)


def test_same_seed_same_certificates_and_inputs_not_mutated(base, digits):
    _, X_test, _, _ = digits
    X = X_test[:20].copy()
    first = smoothed(base, digits, n_samples=200, n_select=20, random_state=3).certify(X)
    second = smoothed(base, digits, n_samples=200, n_select=20, random_state=3).certify(X)
    np.testing.assert_array_equal(first[1], second[1])
    np.testing.assert_array_equal(X, X_test[:20])


def test_torch_fast_path_equals_the_estimators_predict(base, digits):
    """Votes read from the module's logits must equal votes from ``predict``."""
    _, X_test, _, _ = digits
    smooth = smoothed(base, digits, n_samples=100, random_state=0)
    fast = smooth.vote_counts(X_test[:30])
    noisy = np.repeat(X_test[:30], 100, axis=0)
    rng = np.random.default_rng([0, 0])
    noisy += 0.25 * rng.standard_normal(noisy.shape, dtype=np.float32)
    slow = np.bincount(
        np.repeat(np.arange(30), 100) * 10 + base.predict(noisy), minlength=300
    ).reshape(30, 10)
    np.testing.assert_array_equal(fast, slow)


@pytest.mark.parametrize(
    ("params", "message"),
    [
        ({"sigma": -0.1}, "'sigma' parameter"),
        ({"n_samples": 0}, "'n_samples' parameter"),
        ({"alpha": 1.5}, "'alpha' parameter"),
    ],
)
def test_bad_parameters_are_named(params, message):
    X, y = np.random.RandomState(0).rand(20, 2), np.arange(20) % 2
    with pytest.raises(InvalidParameterError, match=message):
        RandomizedSmoothingClassifier(LogisticRegression(), **params).fit(X, y)


def test_non_finite_rows_are_refused(base, digits):
    X = digits[1][:2].copy()
    X[0, 0] = np.nan
    with pytest.raises(ValueError, match="NaN"):
        smoothed(base, digits, n_samples=10).certify(X)


def test_gaussian_objective_is_registered_and_trains_a_noise_robust_base(digits):
    X_train, X_test, y_train, y_test = digits
    assert "gaussian" in list_objectives()
    noisy = X_test + 0.5 * np.random.RandomState(0).randn(*X_test.shape).astype(np.float32)
    trained = gaussian_trainer(0.5).fit(X_train, y_train)
    plain = AdversarialTrainer(
        MLP, ratio=0.0, max_epochs=20, lr=1e-2, train_split=None, verbose=0, random_state=0
    ).fit(X_train, y_train)
    assert trained.score(noisy, y_test) > plain.score(noisy, y_test) + 0.1


def test_smoothadv_training_certifies_more_than_gaussian_training(base, digits):
    """SmoothAdv (L2 PGD on the smoothed classifier, then noise) against the gaussian
    objective at the same sigma: more rows certified at radius 0.5, and more rows kept
    under an EOT attack at L2 0.5."""
    X_train, X_test, y_train, y_test = digits
    smoothadv = smoothing_trainer(
        "smoothadv",
        0.25,
        objective__n_draws=2,
        attack="pgd",
        attack__norm="l2",
        attack__steps=2,
        eps=0.5,
    ).fit(X_train, y_train)
    X, y = X_test[:300], y_test[:300]
    results = {}
    for name, model in (("gaussian", base), ("smoothadv", smoothadv)):
        smooth = RandomizedSmoothingClassifier(
            FrozenEstimator(model), sigma=0.25, n_samples=500, n_select=50, random_state=0
        ).fit(X_train, y_train)
        labels, radii = smooth.certify(X)
        torch.manual_seed(0)
        eot = SmoothedModule(model.module_, 0.25, n_draws=32)
        x_adv = PGD(eps=0.5, norm="l2", steps=20, random_state=0).perturb(
            eot, torch.as_tensor(X), torch.as_tensor(y)
        )
        kept = np.mean(smooth.vote_counts(x_adv.numpy()).argmax(axis=1) == y)
        results[name] = (certified_accuracy(y, labels, radii, 0.5), kept)
    assert results["smoothadv"][0] > results["gaussian"][0] + 0.05
    assert results["smoothadv"][1] > results["gaussian"][1] + 0.05
    assert "smoothadv" in list_objectives()


def test_grid_search_chooses_sigma_by_certified_accuracy(digits):
    X_train, _, y_train, _ = digits
    search = GridSearchCV(
        RandomizedSmoothingClassifier(
            gaussian_trainer(0.25, max_epochs=5), n_samples=100, n_select=10, random_state=0
        ),
        [{"sigma": [sigma], "estimator__objective__sigma": [sigma]} for sigma in (0.25, 3.0)],
        scoring=make_robust_scorer(certified_radius=0.25),
        cv=2,
    ).fit(X_train[:400], y_train[:400])
    assert search.best_params_["sigma"] == 0.25
    scores = search.cv_results_["mean_test_score"]
    assert scores[0] > 0.3 and scores[1] < 0.2
    assert repr(search.scoring) == "make_robust_scorer(certified_radius=0.25)"


def test_certified_scorer_refuses_an_estimator_that_cannot_certify(base, digits):
    with pytest.raises(TypeError, match="no certify method"):
        make_robust_scorer(certified_radius=0.1)(base, digits[1], digits[3])
    with pytest.raises(ValueError, match="certified_radius must be a number >= 0"):
        make_robust_scorer(certified_radius=-1)


def test_certified_accuracy_display(base, digits):
    _, X_test, _, y_test = digits
    smooth = smoothed(base, digits, n_samples=200, n_select=20, random_state=0)
    disp = CertifiedAccuracyDisplay.from_estimator(
        smooth, X_test[:50], y_test[:50], radii=[0, 0.25, 0.5], name="sigma 0.25", color="red"
    )
    labels, radii = smooth.certify(X_test[:50])
    assert disp.accuracy == [
        certified_accuracy(y_test[:50], labels, radii, r) for r in (0, 0.25, 0.5)
    ]
    assert disp.accuracy[0] >= disp.accuracy[1] >= disp.accuracy[2]
    assert disp.line_.get_color() == "red"
    assert disp.ax_.get_legend().get_texts()[0].get_text() == "sigma 0.25"
    with pytest.raises(TypeError, match="no certify method"):
        CertifiedAccuracyDisplay.from_estimator(base, X_test[:5], y_test[:5])


@parametrize_with_checks(
    [
        RandomizedSmoothingClassifier(
            LogisticRegression(),
            sigma=0.05,
            n_samples=50,
            n_select=10,
            abstain_label=-99,
            random_state=0,
        )
    ]
)
def test_sklearn_compatible(estimator, check):
    """Every check passes; abstain_label=-99 because the checks use -1 as a class."""
    check(estimator)
