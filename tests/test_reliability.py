"""Reliability and security: bad input, faults, persistence, plugin trust, determinism.

Every public entry point (estimators, attacks, scorers, the CLI) either works or raises
a ValueError / TypeError that names the parameter and the fix; inputs are never modified.
"""

import os
import pickle
import subprocess
import sys

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
from sklearn.exceptions import NotFittedError
from sklearn.linear_model import LogisticRegression
from skorch.callbacks import Callback, Checkpoint, LoadInitState

from skadv import GANAugmenter, persistence, robust_accuracy
from skadv.attacks import PGD
from skadv.exceptions import GANTrainingError
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
    defaults = dict(gan=ConditionalGAN(hidden=(8,)), max_epochs=1, batch_size=8, random_state=0)
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
inputs = arrays(np.float32, st.tuples(st.integers(0, 12), st.integers(1, 4)), elements=values)
labels = st.lists(st.sampled_from([0, 1, 2, "a"]), min_size=0, max_size=12)


def assert_documented(call):
    try:
        call()
    except DOCUMENTED:
        pass


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(X=inputs, y=labels)
def test_fit_predict_and_resample_raise_only_documented_errors(X, y):
    y = np.array(y, dtype=object if "a" in y else np.int64)
    X_before, y_before = X.copy(), y.copy()
    clf = trainer()
    assert_documented(lambda: clf.fit(X, y))
    if hasattr(clf, "clip_values_"):
        assert_documented(lambda: clf.predict(X))
        assert_documented(lambda: robust_accuracy(clf, X, y, "pgd", eps=0.1, steps=2))
    assert_documented(lambda: augmenter().fit_resample(X, y))
    np.testing.assert_array_equal(X, X_before)
    np.testing.assert_array_equal(y, y_before)


@settings(max_examples=25, deadline=None)
@given(
    X=arrays(np.float32, st.tuples(st.integers(0, 6), st.integers(1, 5)), elements=values),
    eps=st.floats(-1, 1),
    steps=st.integers(-1, 3),
)
def test_attacks_raise_only_documented_errors(X, eps, steps):
    model = torch.nn.Linear(X.shape[1], 3)
    x = torch.as_tensor(X)
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
    with pytest.raises(ValueError, match="needs images of shape \\(n_samples, C, H, W\\)"):
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
        assert X_res.dtype in (np.float64, np.float32)
    aug = augmenter(estimator=LogisticRegression()).fit(frame, series)
    assert set(aug.predict(frame)) <= set(names)


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
    with pytest.warns(ResourceWarning, match="ran out of memory on a batch of 100"):
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
    aug = augmenter(estimator=LogisticRegression(max_iter=200)).fit(X[:300], y[:300])
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
aug = GANAugmenter(LogisticRegression(max_iter=200), max_epochs=3, random_state=7).fit(
    X[:400], y[:400])
X_res, _ = aug.fit_resample(X[:400], y[:400])
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
