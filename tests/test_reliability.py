"""Reliability and security: bad input, faults, persistence, plugin trust, determinism.

Every public entry point (estimators, attacks, scorers, the CLI) either works or raises
a ValueError / TypeError that names the parameter and the fix; inputs are never modified.
"""

import os
import pickle
import re
import subprocess
import sys
import traceback
import warnings

import joblib
import numpy as np
import pandas as pd
import pytest
import scipy.sparse as sp
import torch
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from hypothesis.extra.numpy import arrays
from sklearn.datasets import load_digits, make_classification
from sklearn.exceptions import DataConversionWarning, NotFittedError
from sklearn.linear_model import LogisticRegression
from sklearn.utils._param_validation import InvalidParameterError
from skorch.callbacks import Callback, Checkpoint, LoadInitState

from skadv import (
    GANAugmenter,
    RobustnessCurveDisplay,
    ThreatModel,
    make_robust_scorer,
    persistence,
    robust_accuracy,
)
from skadv.attacks import PGD
from skadv.exceptions import GANTrainingError, OutOfMemoryWarning, TrainingError
from skadv.gans import ConditionalGAN
from skadv.modules import MLP
from skadv.trainer import AdversarialTrainer

DOCUMENTED = (ValueError, TypeError)


def trainer(**params):
    defaults = dict(
        module=MLP,
        module__hidden=(8,),
        attack="fgsm",
        max_epochs=1,
        train_split=None,
        verbose=0,
        random_state=0,
    )
    return AdversarialTrainer(**{**defaults, **params})


def augmenter(**params):
    defaults = dict(gan=ConditionalGAN(hidden=(8,)), max_steps=2, batch_size=8, random_state=0)
    return GANAugmenter(**{**defaults, **params})


@pytest.fixture(scope="module")
def digits():
    X, y = load_digits(return_X_y=True)
    return (X / 16.0).astype(np.float32), y


# ---------------------------------------------------------------- bad input, property-based

values = st.one_of(
    st.floats(allow_nan=True, allow_infinity=True, width=32),
    st.floats(-1e3, 1e3, width=32),
)
dtypes = st.sampled_from([np.float32, np.float64, np.int64, object])
shapes = st.tuples(st.integers(0, 12), st.integers(1, 4))
labels = st.lists(st.sampled_from([0, 1, 2, "a"]), min_size=0, max_size=12)
# words that name what was wrong: the parameters of the calls below, or the data's parts
NAMED = re.compile(r"\b(X|x|y|eps|steps|samples?|features?|class(es)?|labels?|shape)\b")


@st.composite
def tables(draw, shape=shapes):
    """A 2-D array of any of the dtypes users pass, numbers possibly NaN or infinite."""
    dtype = draw(dtypes)
    X = draw(arrays(np.float32, shape, elements=values))
    if dtype is np.int64:
        return np.nan_to_num(X, posinf=7, neginf=-7).astype(np.int64)
    return X.astype(dtype)


def assert_documented(call):
    """``call`` works, or raises a ValueError / TypeError from skadv or scikit-learn that
    names what was wrong."""
    try:
        call()
    except DOCUMENTED as exc:
        frame = traceback.extract_tb(exc.__traceback__)[-1].filename
        assert re.search(r"/(skadv|sklearn|imblearn)/", frame), f"raised from {frame}: {exc!r}"
        assert NAMED.search(str(exc)), f"names no parameter: {exc}"


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(X=tables(), X_new=tables(), y=labels)
def test_fit_predict_and_resample_raise_only_documented_errors(X, X_new, y):
    y = np.array(y, dtype=object if "a" in y else np.int64)
    before = [a.copy() for a in (X, X_new, y)]
    clf = trainer()
    assert_documented(lambda: clf.fit(X, y))
    if hasattr(clf, "clip_values_"):
        assert_documented(lambda: clf.predict(X_new))
        assert_documented(lambda: robust_accuracy(clf, X_new, y, "pgd", eps=0.1, steps=2))
        assert_documented(lambda: robust_accuracy(clf, X, y, "pgd", eps=0.1, steps=2))
    assert_documented(lambda: augmenter().fit_resample(X, y))
    for after, was in zip((X, X_new, y), before, strict=True):
        assert after.dtype == was.dtype and after.shape == was.shape
        assert all(a == b or (a != a and b != b) for a, b in zip(after.flat, was.flat, strict=True))


@settings(max_examples=25, deadline=None)
@given(
    X=arrays(np.float32, st.tuples(st.integers(0, 6), st.integers(1, 5)), elements=values),
    eps=st.floats(-1, 1),
    steps=st.integers(-1, 3),
    dtype=st.sampled_from([torch.float32, torch.float64]),
)
def test_attacks_raise_only_documented_errors(X, eps, steps, dtype):
    model = torch.nn.Linear(X.shape[1], 3)
    x = torch.as_tensor(X).to(dtype)
    x_before = x.clone()
    y = torch.zeros(len(X), dtype=torch.long)
    assert_documented(lambda: PGD(eps=eps, steps=steps).perturb(model, x, y))
    assert torch.equal(x.nan_to_num(), x_before.nan_to_num())


# ---------------------------------------------------------------- bad input, case by case


def test_nan_inf_empty_and_one_sample(digits):
    X, y = digits
    bad = X[:50].copy()
    bad[0, 0] = np.nan
    with pytest.raises(ValueError, match="Input X contains NaN"):
        trainer().fit(bad, y[:50])
    with pytest.raises(ValueError, match="Input X contains NaN"):
        augmenter().fit_resample(bad, y[:50])
    with pytest.raises(ValueError, match="0 sample"):
        trainer().fit(X[:0], y[:0])
    one = trainer().fit(X[:1], y[:1])
    assert one.predict(X[:3]).tolist() == [y[0]] * 3
    with pytest.raises(ValueError, match="0 sample"):
        augmenter().fit_resample(X[:0], y[:0])


def test_one_class(digits):
    X, y = digits
    clf = trainer().fit(X[y == 3], y[y == 3])
    assert set(clf.predict(X[:20])) == {3}
    with pytest.raises(ValueError, match="needs to have more than 1 class"):
        augmenter().fit_resample(X[y == 3], y[y == 3])


def test_image_gans_need_images(digits):
    X, y = digits
    with pytest.raises(ValueError, match="takes images of shape \\(n_samples, C, H, W\\)"):
        GANAugmenter(gan="dcgan").fit_resample(X, y)
    with pytest.raises(ValueError, match="needs square images"):
        GANAugmenter(gan="dcgan", sampling_strategy="all").fit_resample(X.reshape(-1, 1, 4, 16), y)


def test_string_labels_pandas_and_dtypes(digits):
    X, y = digits
    names = np.array(list("abcdefghij"))[y]
    frame = pd.DataFrame(X[:300], columns=[f"pixel{i}" for i in range(64)])
    series = pd.Series(names[:300])
    clf = trainer().fit(frame, series)
    assert list(clf.feature_names_in_) == list(frame.columns)
    assert set(clf.predict(frame)) <= set(names)
    for dtype in (np.float64, np.float32, np.int64):
        data = (X[:200] * 16).astype(dtype)
        assert trainer().fit(data, y[:200]).predict(data).shape == (200,)
        X_res, _ = augmenter().fit_resample(data, y[:200])
        assert X_res.dtype == dtype  # integers stay integers
    frame_res, series_res = augmenter().fit_resample(frame, series)
    assert list(frame_res.columns) == list(frame.columns) and set(series_res) <= set(names)


def test_sparse_input_is_refused_with_advice(digits):
    X, y = digits
    sparse = sp.csr_matrix(X[:100])
    with pytest.raises(TypeError, match="Sparse data was passed.*toarray"):
        trainer().fit(sparse, y[:100])
    with pytest.raises(TypeError, match="Sparse data was passed.*toarray"):
        augmenter().fit_resample(sparse, y[:100])
    fitted = trainer().fit(X[:100], y[:100])
    with pytest.raises(TypeError, match="Sparse data was passed"):
        robust_accuracy(fitted, sparse, y[:100])


def test_labels_unseen_at_score_time(digits):
    X, y = digits
    clf = trainer().fit(X[y < 5], y[y < 5])
    assert clf.score(X[y >= 5][:20], y[y >= 5][:20]) == 0.0  # wrong, but defined
    with pytest.raises(ValueError, match="labels never seen in fit: \\[5"):
        robust_accuracy(clf, X[:50], y[:50])
    with pytest.raises(NotFittedError):
        trainer().predict(X[:2])


def test_robust_metrics_refuse_none_and_unfitted_estimators(digits):
    X, y = digits
    for estimator in (None, trainer(), LogisticRegression()):
        with pytest.raises(NotFittedError):
            robust_accuracy(estimator, X[:10], y[:10])
        with pytest.raises(NotFittedError):
            make_robust_scorer("pgd", eps=0.1)(estimator, X[:10], y[:10])
        with pytest.raises(NotFittedError):
            RobustnessCurveDisplay.from_estimator(estimator, X[:10], y[:10], eps=[0.1])


def test_samples_of_another_shape_than_in_fit_are_refused(digits):
    X, y = digits
    images = trainer().fit(X[:200].reshape(-1, 1, 8, 8), y[:200])
    scrambled = X[:20].reshape(-1, 1, 4, 16)
    message = r"samples of shape \(1, 4, 16\), but AdversarialTrainer was fitted on .*\(1, 8, 8\)"
    with pytest.raises(ValueError, match=message):
        images.predict(scrambled)
    with pytest.raises(ValueError, match=message):
        robust_accuracy(images, scrambled, y[:20], "fgsm", eps=0.1)
    flat = trainer().fit(X[:200], y[:200])
    with pytest.raises(
        ValueError, match=r"shape \(32,\), but .* fitted on samples of shape \(64,\)"
    ):
        robust_accuracy(flat, X[:20, :32], y[:20], "fgsm", eps=0.1)


def test_a_column_y_is_handled_as_fit_handles_it(digits):
    X, y = digits
    clf = trainer().fit(X[:200], y[:200])
    with pytest.warns(DataConversionWarning):
        column = robust_accuracy(clf, X[:60], y[:60, None], "fgsm", eps=0.05)
    assert column == robust_accuracy(clf, X[:60], y[:60], "fgsm", eps=0.05)


def test_scorer_validates_its_attack_when_it_is_made():
    with pytest.raises(InvalidParameterError, match="'steps' parameter of PGD must be an int"):
        make_robust_scorer("pgd", eps=0.1, steps=0)
    with pytest.raises(InvalidParameterError, match="'eps' parameter of make_robust_scorer"):
        make_robust_scorer("pgd", eps="0.1")
    with pytest.raises(InvalidParameterError, match="'batch_size' parameter"):
        make_robust_scorer("pgd", eps=0.1, batch_size=0)


@pytest.mark.parametrize(
    ("mask", "message"),
    [
        (np.ones((2, 64)), "does not broadcast to one sample of shape \\(64,\\)"),
        (np.full(64, np.nan), "finite and within \\[0, 1\\]"),
        (np.full(64, 2.0), "finite and within \\[0, 1\\]"),
        (np.full(64, -1.0), "finite and within \\[0, 1\\]"),
    ],
)
def test_feature_mask_must_fit_one_sample_and_lie_in_0_1(mask, message, digits):
    X, y = digits
    model = torch.nn.Linear(64, 10)
    x, t = torch.as_tensor(X[:8]), torch.as_tensor(y[:8])
    with pytest.raises(ValueError, match=message):
        PGD(eps=0.1, feature_mask=mask).perturb(model, x, t)


def test_threat_model_columns_must_exist(digits):
    X, y = digits
    for field in ("immutable", "switchable"):
        with pytest.raises(ValueError, match=f"{field} names column 'income', which X does not"):
            trainer(threat_model=ThreatModel(**{field: ["income"]})).fit(X[:50], y[:50])
    with pytest.raises(ValueError, match="constraint 'a <<= b' is not a relation"):
        trainer(threat_model=ThreatModel(constraints=["a <<= b"])).fit(X[:50], y[:50])
    with pytest.raises(ValueError, match="names column 'debt', which is not a numeric column"):
        trainer(threat_model=ThreatModel(constraints=["debt <= 2"])).fit(X[:50], y[:50])


def test_perturb_refuses_other_dtypes_and_labels_beyond_the_logits(digits):
    X, y = digits
    model = torch.nn.Linear(64, 10)
    x, t = torch.as_tensor(X[:8]), torch.as_tensor(y[:8])
    for dtype in (torch.float64, torch.float16):
        with pytest.raises(TypeError, match=f"x is {dtype} but the module's weights are"):
            PGD().perturb(model, x.to(dtype), t)
    with pytest.raises(ValueError, match="class indices from 0 to 12, but the module returns 10"):
        PGD().perturb(model, x, torch.tensor([0] * 7 + [12]))


@pytest.mark.skipif(torch.cuda.is_available(), reason="checks the message without CUDA")
def test_cuda_without_cuda_is_a_clear_error(digits):
    X, y = digits
    with pytest.raises(ValueError, match="device='cuda' was asked for, but CUDA is not"):
        trainer(device="cuda").fit(X[:20], y[:20])
    with pytest.raises(ValueError, match="device='cuda' was asked for, but CUDA is not"):
        augmenter(device="cuda").fit_resample(X[:60], y[:60])


def test_bad_numbers_are_refused_by_name(digits, plain_digits_model):
    X, y = digits
    with pytest.raises(TypeError, match="eps must be a sequence of budgets"):
        RobustnessCurveDisplay.from_estimator(plain_digits_model, X[:20], y[:20], eps="05")
    with pytest.raises(ValueError, match="finite numbers >= 0"):
        RobustnessCurveDisplay.from_estimator(plain_digits_model, X[:20], y[:20], eps=[-0.1])
    with pytest.raises(InvalidParameterError, match="'max_epochs' parameter"):
        trainer(max_epochs=-3).fit(X[:20], y[:20])
    with pytest.raises(InvalidParameterError, match="'eps' parameter of AdversarialTrainer"):
        trainer(eps=True).fit(X[:20], y[:20])
    with pytest.raises(InvalidParameterError, match="'eps' parameter of PGD"):
        PGD(eps=True).perturb(torch.nn.Linear(64, 10), torch.as_tensor(X[:2]), torch.zeros(2))


@pytest.fixture(scope="module")
def plain_digits_model(digits):
    X, y = digits
    return trainer(max_epochs=2).fit(X, y)


# ---------------------------------------------------------------- faults


class InterruptAt(Callback):
    def __init__(self, epoch):
        self.epoch = epoch

    def on_batch_end(self, net, **kwargs):
        if len(net.history) == self.epoch and len(net.history[-1]["batches"]) == 3:
            raise KeyboardInterrupt


def test_keyboard_interrupt_keeps_the_last_finished_epoch_and_checkpoint_resumes(digits, tmp_path):
    X, y = digits
    checkpoint = Checkpoint(monitor=None, dirname=str(tmp_path))
    clf = trainer(max_epochs=5, callbacks=[checkpoint, InterruptAt(3)])
    with pytest.warns(UserWarning, match="interrupted in epoch 3.*end of epoch 2"):
        clf.fit(X, y)
    assert len(clf.history) == 2
    two_epochs = trainer(max_epochs=2).fit(X, y)
    np.testing.assert_array_equal(clf.predict_proba(X), two_epochs.predict_proba(X))
    resumed = trainer(max_epochs=2, callbacks=[LoadInitState(checkpoint)]).fit(X, y)
    assert len(resumed.history) == 4  # two saved epochs, two more


def test_epoch_snapshots_can_be_turned_off(digits):
    X, y = digits
    clf = trainer(max_epochs=5, epoch_snapshots=False, callbacks=[InterruptAt(3)])
    with warnings.catch_warnings():
        warnings.simplefilter("error", UserWarning)  # nothing to restore, nothing to say
        clf.fit(X, y)
    assert "last_epoch_state_" not in vars(clf)
    # skorch's own behaviour: the interrupted epoch stays, as the module does
    assert len(clf.history) == 3
    two_epochs = trainer(max_epochs=2).fit(X, y)
    assert not np.array_equal(clf.predict_proba(X), two_epochs.predict_proba(X))


def test_diverging_training_stops_with_a_clear_error_and_the_last_good_epoch(digits):
    X, y = digits
    clf = AdversarialTrainer(
        MLP,
        attack="fgsm",
        optimizer=torch.optim.SGD,
        lr=1e12,
        max_epochs=3,
        train_split=None,
        verbose=0,
        random_state=0,
    )
    with pytest.raises(TrainingError, match="loss became nan in epoch 1.*Lower lr \\(now 1e\\+12"):
        clf.fit(X, y)
    assert all(bool(p.isfinite().all()) for p in clf.module_.parameters())
    assert len(clf.history) == 0


def test_a_gan_that_explodes_is_stopped_before_its_losses_reach_nan():
    X, y = make_classification(500, n_features=8, weights=[0.8], random_state=0)
    with pytest.raises(GANTrainingError, match="diverged in epoch .*discriminator loss .*e\\+"):
        GANAugmenter(gan="cgan", lr=100.0, max_steps=200, random_state=0).fit_resample(X, y)


class InterruptGANAt(Callback):
    def __init__(self, epoch):
        self.epoch = epoch

    def on_batch_end(self, net, **kwargs):
        if len(net.history) == self.epoch and len(net.history[-1]["batches"]) == 2:
            raise KeyboardInterrupt


def test_ctrl_c_during_gan_training_never_passes_silently():
    from imblearn.pipeline import make_pipeline

    X, y = make_classification(400, n_features=6, weights=[0.7], random_state=0)
    # 120 minority rows in batches of 8, gone through 4 times an epoch: 60 steps an
    # epoch, 5 epochs
    late = augmenter(max_steps=300, early_stopping=False, callbacks=[InterruptGANAt(3)])
    pipe = make_pipeline(late, LogisticRegression())
    with pytest.warns(UserWarning, match="interrupted in epoch 3.*end of epoch 2.*synthetic"):
        pipe.fit(X, y)
    assert len(late.gan_net_.history) == 2 and hasattr(pipe[-1], "coef_")
    early = augmenter(max_steps=300, callbacks=[InterruptGANAt(1)])
    pipe = make_pipeline(early, LogisticRegression())
    with pytest.raises(KeyboardInterrupt, match="first epoch; no rows were generated"):
        pipe.fit(X, y)
    assert not hasattr(pipe[-1], "coef_")


def test_diverging_gan_stops_cleanly_with_advice():
    class NaNGAN(ConditionalGAN):
        def generator_loss(self, discriminator, fake, y):
            return super().generator_loss(discriminator, fake, y) * torch.nan

    X, y = make_classification(80, n_features=4, weights=[0.8], random_state=0)
    with pytest.raises(GANTrainingError, match="diverged.*Lower lr"):
        augmenter(gan=NaNGAN(hidden=(8,))).fit_resample(X, y)


class OutOfMemoryAbove(torch.nn.Module):
    """Raises the CUDA out-of-memory error for batches larger than ``limit``."""

    def __init__(self, module, limit):
        super().__init__()
        self.module = module
        self.limit = limit
        self.batch_sizes = []

    def forward(self, x):
        self.batch_sizes.append(len(x))
        if len(x) > self.limit:
            raise torch.cuda.OutOfMemoryError("CUDA out of memory. Tried to allocate 2.00 GiB")
        return self.module(x)


def test_out_of_memory_retries_with_smaller_batches(digits):
    X, y = digits
    torch.manual_seed(0)
    module = torch.nn.Sequential(torch.nn.Linear(64, 10))
    x, t = torch.as_tensor(X[:100]), torch.as_tensor(y[:100])
    expected = PGD(eps=0.1, steps=3, random_start=False).perturb(module, x, t)
    flaky = OutOfMemoryAbove(module, limit=30)
    with pytest.warns(OutOfMemoryWarning, match="ran out of memory on a batch of 100"):
        got = PGD(eps=0.1, steps=3, random_start=False).perturb(flaky, x, t)
    torch.testing.assert_close(got, expected)
    assert max(n for n in flaky.batch_sizes if n <= 30) == 25
    flaky.limit = 0
    with pytest.raises(torch.cuda.OutOfMemoryError):
        PGD(eps=0.1, steps=1).perturb(flaky, x[:4], t[:4])


# ---------------------------------------------------------------- persistence


@pytest.fixture(scope="module")
def fitted(digits):
    X, y = digits
    clf = trainer(max_epochs=2).fit(X, y)
    from imblearn.pipeline import make_pipeline

    aug = make_pipeline(augmenter(), LogisticRegression(max_iter=200)).fit(X[:300], y[:300])
    return clf, aug


@pytest.mark.parametrize("fmt", ["pickle", "joblib", "skops"])
def test_round_trip(fmt, fitted, digits, tmp_path):
    X, _ = digits
    for est in fitted:
        path = tmp_path / f"model.{fmt}"
        if fmt == "pickle":
            path.write_bytes(pickle.dumps(est))
            loaded = pickle.loads(path.read_bytes())
        elif fmt == "joblib":
            joblib.dump(est, path)
            loaded = joblib.load(path)
        else:
            persistence.dump(est, path)
            loaded = persistence.load(
                path, trusted=["sklearn.linear_model._logistic.LogisticRegression"]
            )
        np.testing.assert_array_equal(loaded.predict(X[:100]), est.predict(X[:100]))


class Sneaky(MLP):
    """A module class skadv's allow-list does not know."""


def test_safe_loader_refuses_unknown_types(tmp_path, digits):
    X, y = digits
    clf = trainer(module=Sneaky).fit(X[:100], y[:100])
    path = tmp_path / "model.skops"
    persistence.dump(clf, path)
    with pytest.raises(TypeError, match="not trusted: \\[.*Sneaky"):
        persistence.load(path)
    assert persistence.untrusted_types(path) == [f"{Sneaky.__module__}.{Sneaky.__qualname__}"]


# ---------------------------------------------------------------- plugin trust


def test_plugin_failures_are_named(plugin_site):
    code = """
import numpy as np, torch, skadv
from skadv.exceptions import PluginError
from skadv.modules import MLP
X = np.random.default_rng(0).random((60, 4)).astype(np.float32); y = np.arange(60) % 2
net = skadv.AdversarialTrainer(MLP, ratio=0.0, max_epochs=1, train_split=None,
                               verbose=0).fit(X, y)
for call in (lambda: skadv.robust_accuracy(net, X, y, "faulty"),
             lambda: skadv.GANAugmenter(gan="faulty-gan").fit_resample(X, np.arange(60) < 50)):
    try:
        call()
    except PluginError as exc:
        print(exc)
"""
    env = {**os.environ, "PYTHONPATH": str(plugin_site), "SKADV_PLUGINS": "faulty"}
    out = subprocess.run(
        [sys.executable, "-c", code], env=env, capture_output=True, text=True, check=True
    ).stdout.splitlines()
    assert out == [
        "attack 'faulty' of plugin 'faulty' (skadv-faulty 0.4.0) raised ZeroDivisionError: "
        "bug in the plugin",
        "gan 'faulty-gan' of plugin 'faulty' (skadv-faulty 0.4.0) raised KeyError: "
        "'bug in the GAN plugin'",
    ]


# ---------------------------------------------------------------- determinism

DETERMINISM = """
import hashlib, numpy as np
from sklearn.datasets import load_digits
from sklearn.linear_model import LogisticRegression
from skadv import AdversarialTrainer, GANAugmenter
from skadv.modules import MLP
X, y = load_digits(return_X_y=True); X = (X / 16).astype(np.float32)
clf = AdversarialTrainer(MLP, attack="pgd", attack__steps=2, max_epochs=2, train_split=None,
                         verbose=0, random_state=7).fit(X, y)
X_res, y_res = GANAugmenter(max_steps=30, random_state=7).fit_resample(X[:400], y[:400])
aug = LogisticRegression(max_iter=200).fit(X_res, y_res)
for a in (clf.predict_proba(X), aug.predict_proba(X), X_res):
    print(hashlib.sha256(np.ascontiguousarray(a).tobytes()).hexdigest())
"""


def test_same_random_state_same_results_across_processes():
    runs = [
        subprocess.run(
            [sys.executable, "-c", DETERMINISM], capture_output=True, text=True, check=True
        ).stdout
        for _ in range(2)
    ]
    assert runs[0] == runs[1] and len(runs[0].split()) == 3
