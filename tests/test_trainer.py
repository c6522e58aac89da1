"""AdversarialTrainer: scikit-learn conformance, skorch features, and the robustness bars."""

import pickle

import numpy as np
import pytest
import torch
from art.attacks.evasion import ProjectedGradientDescent
from art.estimators.classification import PyTorchClassifier
from sklearn.base import clone
from sklearn.model_selection import GridSearchCV
from sklearn.pipeline import Pipeline
from sklearn.preprocessing import MinMaxScaler
from sklearn.utils._param_validation import InvalidParameterError
from sklearn.utils.estimator_checks import parametrize_with_checks
from skorch import NeuralNetClassifier
from skorch.callbacks import Checkpoint, EarlyStopping
from skorch.dataset import ValidSplit
from skorch.exceptions import DeviceWarning

from skadv import (
    PGD,
    AdversarialTrainer,
    RobustScoring,
    ThreatModel,
    make_robust_scorer,
    robust_accuracy,
)
from skadv.objectives import TRADES, Madry


class SmallMLP(torch.nn.Module):
    """One hidden layer of 64 units: the architecture of the robustness bars."""

    def __init__(self, n_features=64, hidden=64, n_classes=10):
        super().__init__()
        self.hidden = torch.nn.Linear(n_features, hidden)
        self.out = torch.nn.Linear(hidden, n_classes)

    def forward(self, x):
        return self.out(torch.relu(self.hidden(x.flatten(1))))


class LazyMLP(torch.nn.Module):
    """Takes any number of input features, for scikit-learn's common checks."""

    def __init__(self, n_classes=2):
        super().__init__()
        self.hidden = torch.nn.LazyLinear(16)
        self.out = torch.nn.Linear(16, n_classes)

    def forward(self, x):
        return self.out(torch.relu(self.hidden(x.flatten(1))))


class CNN(torch.nn.Module):
    def __init__(self, n_classes=10):
        super().__init__()
        self.features = torch.nn.Sequential(
            torch.nn.Conv2d(1, 8, 3, padding=1),
            torch.nn.BatchNorm2d(8),
            torch.nn.ReLU(),
            torch.nn.MaxPool2d(2),
            torch.nn.Flatten(),
        )
        self.out = torch.nn.Linear(8 * 4 * 4, n_classes)

    def forward(self, x):
        return self.out(self.features(x))


def fast_trainer(**params):
    defaults = dict(
        module=LazyMLP,
        attack="fgsm",
        eps=0.05,
        max_epochs=20,
        lr=0.01,
        train_split=None,
        verbose=0,
        random_state=0,
    )
    return AdversarialTrainer(**{**defaults, **params})


EXPECTED_FAILED_CHECKS = {
    "check_no_attributes_set_in_init": (
        "skorch's NeuralNet.__init__ sets history_, initialized_ and virtual_params_"
    ),
}


@parametrize_with_checks(
    [fast_trainer()], expected_failed_checks=lambda est: EXPECTED_FAILED_CHECKS
)
def test_sklearn_compatible(estimator, check):
    check(estimator)


def art_pgd_accuracy(clf, X, y):
    """Accuracy under ART's PGD (eps 0.1, step 0.025, 20 iterations), the bars' judge."""
    module = clf.module_.eval()
    art_clf = PyTorchClassifier(
        module,
        loss=torch.nn.CrossEntropyLoss(),
        input_shape=X.shape[1:],
        nb_classes=10,
        clip_values=(0.0, 1.0),
    )
    attack = ProjectedGradientDescent(
        art_clf, eps=0.1, eps_step=0.025, max_iter=20, num_random_init=0, verbose=False
    )
    X_adv = attack.generate(X, y=y)
    return float(np.mean(clf.predict(X_adv) == y))


@pytest.fixture(scope="module")
def robust_models(digits):
    X_train, _, y_train, _ = digits
    common = dict(
        eps=0.1, max_epochs=20, batch_size=32, lr=0.01, train_split=None, verbose=0, random_state=0
    )
    madry = AdversarialTrainer(
        SmallMLP, attack="pgd", attack__steps=7, attack__step_size=0.025, **common
    ).fit(X_train, y_train)
    fast = AdversarialTrainer(SmallMLP, attack="fgsm-rs", **common).fit(X_train, y_train)
    torch.manual_seed(0)
    plain = NeuralNetClassifier(
        SmallMLP,
        criterion=torch.nn.CrossEntropyLoss,
        optimizer=torch.optim.Adam,
        lr=0.01,
        max_epochs=30,
        batch_size=32,
        train_split=None,
        verbose=0,
    ).fit(X_train, y_train)
    return madry, fast, plain


def test_madry_pgd_meets_the_robustness_bar(robust_models, digits):
    _, X_test, _, y_test = digits
    madry, fast, plain = robust_models
    madry_robust = art_pgd_accuracy(madry, X_test, y_test)
    plain_robust = art_pgd_accuracy(plain, X_test, y_test)
    assert madry_robust >= 0.75
    assert plain_robust <= 0.35
    assert madry.score(X_test, y_test) >= 0.9


def test_fast_adversarial_training_is_close_to_madry(robust_models, digits):
    _, X_test, _, y_test = digits
    madry, fast, _ = robust_models
    assert (
        abs(art_pgd_accuracy(fast, X_test, y_test) - art_pgd_accuracy(madry, X_test, y_test))
        <= 0.05
    )


def test_trades_and_ratio_trade_clean_for_robust_accuracy(digits):
    X_train, X_test, y_train, y_test = digits
    common = dict(
        eps=0.1,
        max_epochs=8,
        batch_size=32,
        lr=0.01,
        train_split=None,
        verbose=0,
        random_state=0,
        attack__steps=5,
    )
    trades = AdversarialTrainer(SmallMLP, objective="trades", beta=6.0, **common)
    trades.fit(X_train, y_train)
    undefended = AdversarialTrainer(SmallMLP, ratio=0.0, **common).fit(X_train, y_train)
    assert isinstance(trades.objective_, TRADES) and trades.objective_.beta == 6.0
    assert isinstance(undefended.objective_, Madry) and undefended.objective_.ratio == 0.0
    robust = dict(attack="pgd", eps=0.1, steps=20, step_size=0.025, random_start=False)
    assert (
        robust_accuracy(trades, X_test, y_test, **robust)
        > robust_accuracy(undefended, X_test, y_test, **robust) + 0.2
    )


def test_same_random_state_same_model(digits):
    X_train, X_test, y_train, _ = digits
    params = dict(attack="pgd", attack__steps=2, max_epochs=2, random_state=3)
    a = fast_trainer(module=SmallMLP, **params).fit(X_train, y_train)
    b = fast_trainer(module=SmallMLP, **params).fit(X_train, y_train)
    c = fast_trainer(module=SmallMLP, **{**params, "random_state": 4}).fit(X_train, y_train)
    np.testing.assert_array_equal(a.predict_proba(X_test), b.predict_proba(X_test))
    assert not np.array_equal(a.predict_proba(X_test), c.predict_proba(X_test))
    # the global torch generator is left alone
    torch.manual_seed(123)
    expected = torch.rand(3)
    torch.manual_seed(123)
    fast_trainer(module=SmallMLP, max_epochs=1, random_state=0).fit(X_train[:64], y_train[:64])
    assert torch.equal(torch.rand(3), expected)


def test_nested_attack_params_reach_clone_set_params_and_grid_search(digits):
    clf = fast_trainer(attack="pgd", attack__steps=4, eps=0.2)
    params = clf.get_params()
    assert params["attack__steps"] == 4 and params["eps"] == 0.2
    copy = clone(clf).set_params(attack__steps=2, attack__random_start=False)
    X_train, _, y_train, _ = digits
    copy.set_params(max_epochs=1).fit(X_train[:100], y_train[:100])
    assert isinstance(copy.attack_, PGD)
    assert copy.attack_.steps == 2 and copy.attack_.random_start is False
    assert copy.attack_.eps == 0.2  # eps is the threat model: it overrides the attack's
    assert copy.feasible_.eps == 0.2
    low, high = copy.feasible_.low.numpy(), copy.feasible_.high.numpy()
    np.testing.assert_allclose(low, X_train[:100].min(axis=0))  # taken from the training data
    np.testing.assert_allclose(high, X_train[:100].max(axis=0))
    assert clf.get_params()["attack__steps"] == 4

    with_object = fast_trainer(attack=PGD(steps=9, eps=0.5), eps=0.1, max_epochs=1)
    assert with_object.get_params()["attack__steps"] == 9
    with_object.set_params(attack__steps=3).fit(X_train[:100], y_train[:100])
    assert with_object.attack_.steps == 3 and with_object.attack_.eps == 0.1
    assert with_object.attack.steps == 9  # the given object is cloned, never changed


def test_grid_search_over_eps_and_attack_with_robust_scorer(digits):
    X_train, _, y_train, _ = digits
    search = GridSearchCV(
        fast_trainer(module=SmallMLP, max_epochs=3),
        {"eps": [0.05, 0.1], "attack": ["fgsm-rs", "pgd"]},
        scoring={"acc": "accuracy", "robust": make_robust_scorer("pgd", eps=0.1, steps=5)},
        refit="robust",
        cv=2,
        n_jobs=2,
    )
    search.fit(X_train[:400], y_train[:400])
    results = search.cv_results_
    assert len(results["params"]) == 4
    assert np.all(np.isfinite(results["mean_test_robust"]))
    assert search.best_index_ == int(np.argmax(results["mean_test_robust"]))
    assert search.best_estimator_.attack_.eps == search.best_params_["eps"]


def test_pipeline_with_scaler(digits):
    X_train, X_test, y_train, y_test = digits
    pipe = Pipeline([("scale", MinMaxScaler()), ("clf", fast_trainer(module=SmallMLP))])
    pipe.fit(X_train * 16, y_train)
    assert pipe.score(X_test * 16, y_test) > 0.8
    assert 0.0 <= robust_accuracy(pipe, X_test * 16, y_test, "fgsm", eps=0.05) <= 1.0


def test_string_labels_and_images_with_batchnorm(digits):
    X_train, X_test, y_train, y_test = digits
    names = np.array(list("abcdefghij"))
    clf = fast_trainer(module=CNN, attack="pgd", attack__steps=2, max_epochs=3, lr=0.01)
    clf.fit(X_train.reshape(-1, 1, 8, 8), names[y_train])
    assert set(clf.classes_) == set(names)
    pred = clf.predict(X_test.reshape(-1, 1, 8, 8))
    assert pred.dtype == names.dtype and np.mean(pred == names[y_test]) > 0.7
    assert clf.n_features_in_ == 1  # channels


class ModeRecorder(SmallMLP):
    """Records whether each forward pass ran in train mode, and whether it was an attack's."""

    def __init__(self, **kwargs):
        super().__init__(**kwargs)
        self.calls = []

    def forward(self, x):
        self.calls.append((self.training, x.requires_grad))
        return super().forward(x)


def test_attack_runs_in_eval_mode_without_parameter_gradients(digits):
    X_train, _, y_train, _ = digits
    clf = fast_trainer(module=ModeRecorder, attack="pgd", attack__steps=3, max_epochs=1)
    clf.fit(X_train[:128], y_train[:128])
    calls = clf.module_.calls
    attack_calls = [training for training, grad_input in calls if grad_input]
    train_calls = [training for training, grad_input in calls if not grad_input]
    assert attack_calls and not any(attack_calls)
    assert any(train_calls)
    clf.module_.zero_grad(set_to_none=True)
    x = torch.as_tensor(X_train[:16])
    x_adv = clf.craft(x, torch.as_tensor(y_train[:16]))
    assert all(p.grad is None for p in clf.module_.parameters())
    assert x_adv.device == x.device and (x_adv - x).abs().max() <= clf.eps + 1e-6


def test_threat_model_immutable_features_and_bounds(digits):
    X_train, _, y_train, _ = digits
    frozen = ThreatModel(immutable=list(range(32)), bounds=(0.0, 1.0))
    clf = fast_trainer(module=SmallMLP, attack="pgd", threat_model=frozen, max_epochs=1)
    clf.fit(X_train, y_train)
    x = torch.as_tensor(X_train[:32])
    x_adv = clf.craft(x, torch.as_tensor(y_train[:32]))
    assert torch.equal(x_adv[:, :32], x[:, :32]) and not torch.equal(x_adv, x)
    assert clf.threat_model.immutable == list(range(32))  # the parameter is left as given
    narrow = ThreatModel(bounds=(0.1, 0.9))
    clf = fast_trainer(module=SmallMLP, threat_model=narrow, max_epochs=1, eps=0.3)
    clf.fit(X_train, y_train)
    x_adv = clf.craft(torch.full((4, 64), 0.5), torch.zeros(4, dtype=torch.long))
    assert float(x_adv.min()) >= 0.1 - 1e-6 and float(x_adv.max()) <= 0.9 + 1e-6


def test_robust_scoring_checkpoint_keeps_the_most_robust_epoch(digits, tmp_path):
    X_train, _, y_train, _ = digits
    checkpoint = Checkpoint(monitor="valid_robust_acc_best", dirname=str(tmp_path))
    clf = fast_trainer(
        module=SmallMLP,
        attack="fgsm-rs",
        eps=0.1,
        max_epochs=6,
        train_split=ValidSplit(5),
        callbacks=[
            RobustScoring("pgd", attack_params={"steps": 5, "random_state": 0}),
            checkpoint,
            EarlyStopping(monitor="valid_robust_acc", lower_is_better=False, patience=2),
        ],
    )
    clf.fit(X_train, y_train)
    history = clf.history[:, "valid_robust_acc"]
    assert len(history) >= 3 and all(0 <= a <= 1 for a in history)
    best_epoch = int(np.argmax(history))
    assert clf.history[best_epoch, "valid_robust_acc_best"]
    assert clf.history[best_epoch, "event_cp"] is True
    restored = clone(clf).initialize()
    restored.load_params(checkpoint=checkpoint)
    for p, q in zip(restored.module_.parameters(), clf.module_.parameters(), strict=True):
        assert p.shape == q.shape


class NeedsClasses(torch.nn.Module):
    """A module whose n_classes has no default: the trainer gives it the data's."""

    def __init__(self, n_classes):
        super().__init__()
        self.out = torch.nn.Linear(64, n_classes)

    def forward(self, x):
        return self.out(x)


def test_the_module_gets_the_number_of_classes_before_any_callback_starts(digits):
    from skorch.callbacks import LRScheduler

    X_train, _, y_train, _ = digits
    keep = y_train < 3
    clf = fast_trainer(
        module=NeedsClasses,
        max_epochs=2,
        callbacks=[LRScheduler("StepLR", step_size=1, gamma=0.5)],
    )
    clf.fit(X_train[keep], y_train[keep])
    assert clf.module_.out.out_features == 3
    # the scheduler drove the optimizer that trained the rebuilt module
    assert clf.optimizer_.param_groups[0]["params"][0] is clf.module_.out.weight
    assert clf.optimizer_.param_groups[0]["lr"] == pytest.approx(0.01 * 0.5**2)
    clf.fit(X_train, y_train)  # refit on ten classes rebuilds again
    assert clf.module_.out.out_features == 10 and clf.classes_.tolist() == list(range(10))


def test_warm_start_and_partial_fit_continue_training(digits):
    X_train, _, y_train, _ = digits
    clf = fast_trainer(module=SmallMLP, max_epochs=2, warm_start=True)
    clf.fit(X_train, y_train)
    clf.fit(X_train, y_train)
    assert len(clf.history) == 4
    clf.partial_fit(X_train, y_train)
    assert len(clf.history) == 6
    with pytest.raises(ValueError, match="never seen in the first fit: \\[11\\]"):
        clf.partial_fit(X_train[:5], np.full(5, 11))


def test_partial_fit_with_classes(digits):
    X_train, _, y_train, _ = digits
    clf = fast_trainer(module=SmallMLP, max_epochs=1)
    clf.partial_fit(X_train[y_train < 5], y_train[y_train < 5])
    with pytest.raises(ValueError, match="give every label with the classes parameter"):
        clf.partial_fit(X_train[y_train >= 5], y_train[y_train >= 5])
    clf = fast_trainer(module=SmallMLP, max_epochs=1, classes=np.arange(10))
    clf.partial_fit(X_train[y_train < 5], y_train[y_train < 5])
    clf.partial_fit(X_train[y_train >= 5], y_train[y_train >= 5])
    assert clf.classes_.tolist() == list(range(10))
    assert clf.module_(torch.zeros(1, 64)).shape == (1, 10)


def test_compile(digits):
    X_train, _, y_train, _ = digits
    clf = fast_trainer(module=SmallMLP, attack="pgd", attack__steps=2, max_epochs=1, compile=True)
    clf.fit(X_train[:128], y_train[:128])
    assert "OptimizedModule" in type(clf.module_).__name__
    assert clf.predict(X_train[:4]).shape == (4,)


def test_pickle_of_a_cuda_model_loads_on_cpu(digits, monkeypatch):
    X_train, X_test, y_train, _ = digits
    clf = fast_trainer(module=SmallMLP, max_epochs=1).fit(X_train, y_train)
    expected = clf.predict_proba(X_test)
    clf.device = "cuda"  # as if it had been trained on a GPU machine
    blob = pickle.dumps(clf)
    monkeypatch.setattr(torch.cuda, "is_available", lambda: False)  # a CPU-only machine
    with pytest.warns(DeviceWarning, match="cuda"):
        loaded = pickle.loads(blob)
    assert str(loaded.device) == "cpu"
    np.testing.assert_allclose(loaded.predict_proba(X_test), expected, rtol=1e-6)


def test_bad_input_gets_clear_errors(digits):
    X_train, _, y_train, _ = digits
    X_nan = X_train.copy()
    X_nan[3, 3] = np.inf
    with pytest.raises(ValueError, match="Input X contains infinity"):
        fast_trainer().fit(X_nan, y_train)
    with pytest.raises(InvalidParameterError, match="'eps' parameter of AdversarialTrainer"):
        fast_trainer(eps=-0.1).fit(X_train, y_train)
    with pytest.raises(InvalidParameterError, match="'ratio' parameter"):
        fast_trainer(ratio=1.5).fit(X_train, y_train)
    with pytest.raises(ValueError, match="Unknown attack 'pgdd'. Did you mean 'pgd'"):
        fast_trainer(attack="pgdd").fit(X_train, y_train)
    with pytest.raises(ValueError, match="Unknown objective 'trade'. Did you mean 'trades'"):
        fast_trainer(objective="trade").fit(X_train, y_train)
    with pytest.raises(ValueError, match="inconsistent numbers of samples"):
        fast_trainer().fit(X_train, y_train[:-1])
    with pytest.raises(ValueError, match="must return logits of shape \\(n_samples, 10\\)"):
        fast_trainer(module=SmallMLP, module__n_classes=3).fit(X_train, y_train)
    with pytest.raises(TypeError, match="sample_weight"):
        fast_trainer().fit(X_train, y_train, sample_weight=np.ones(len(y_train)))
    with pytest.raises(ValueError, match="criterion must be torch.nn.CrossEntropyLoss"):
        fast_trainer(criterion=torch.nn.NLLLoss).fit(X_train, y_train)
    fitted = fast_trainer(module=SmallMLP, max_epochs=1).fit(X_train, y_train)
    with pytest.raises(
        ValueError, match="X has 10 features, but AdversarialTrainer is expecting 64"
    ):
        fitted.predict(X_train[:, :10])


def test_inputs_are_not_mutated(digits):
    X_train, _, y_train, _ = digits
    X_copy, y_copy = X_train.copy(), y_train.copy()
    fast_trainer(module=SmallMLP, attack="pgd", max_epochs=1).fit(X_train, y_train)
    np.testing.assert_array_equal(X_train, X_copy)
    np.testing.assert_array_equal(y_train, y_copy)


def test_fast_evaluation_agrees_with_fp32(robust_models, digits):
    _, X_test, _, y_test = digits
    madry = robust_models[0]
    judge = dict(eps=0.1, steps=20, step_size=0.025, random_start=False)
    reference = robust_accuracy(madry, X_test, y_test, **judge)
    bf16 = robust_accuracy(madry, X_test, y_test, precision="bf16", **judge)
    early = robust_accuracy(madry, X_test, y_test, early_stop=True, **judge)
    assert abs(bf16 - reference) <= 0.01
    assert reference - 0.01 <= early <= reference


@pytest.mark.parametrize(
    ("precision", "channels_last"), [("bf16", False), ("fp32", True), ("fp16", False)]
)
def test_speed_switches_keep_robust_accuracy(precision, channels_last, digits):
    X_train, X_test, y_train, y_test = (
        a.reshape(-1, 1, 8, 8) if a.ndim == 2 else a for a in digits
    )
    judge = dict(eps=0.1, steps=20, step_size=0.025, random_start=False, precision="fp32")
    common = dict(
        module=CNN,
        attack="pgd",
        attack__steps=3,
        eps=0.1,
        max_epochs=3,
        batch_size=64,
        lr=3e-3,
        train_split=None,
        verbose=0,
        random_state=0,
    )
    reference = AdversarialTrainer(**common).fit(X_train, y_train)
    fast = AdversarialTrainer(precision=precision, channels_last=channels_last, **common)
    fast.fit(X_train, y_train)
    assert (fast.grad_scaler_ is not None) == (precision == "fp16")
    if channels_last:
        weight = fast.module_.features[0].weight
        assert weight.is_contiguous(memory_format=torch.channels_last)
    gap = robust_accuracy(fast, X_test, y_test, **judge) - robust_accuracy(
        reference, X_test, y_test, **judge
    )
    assert abs(gap) <= 0.01  # one point, as the scale-out issue asks
