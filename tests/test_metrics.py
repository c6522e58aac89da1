"""Robust accuracy, the robust scorer in model selection, and the robustness curve display."""

import matplotlib
import numpy as np
import pytest
import torch
from sklearn.base import clone
from sklearn.ensemble import RandomForestClassifier
from sklearn.model_selection import GridSearchCV, cross_val_score
from sklearn.pipeline import Pipeline
from sklearn.preprocessing import FunctionTransformer
from skorch import NeuralNetClassifier

from skadv import (
    PGD,
    AdversarialTrainer,
    RobustnessCurveDisplay,
    ThreatModel,
    make_robust_scorer,
    robust_accuracy,
)
from skadv.exceptions import NotDifferentiableError
from skadv.metrics import robustness_report

from .conftest import MLP

matplotlib.use("Agg")


def manual_robust_accuracy(net, X, y, eps):
    module = net.module_
    x = torch.as_tensor(X)
    x_adv = PGD(eps=eps, random_start=False, clip_values=(0.0, 1.0)).perturb(
        module, x, torch.as_tensor(y)
    )
    with torch.no_grad():
        return (module(x_adv).argmax(1).numpy() == y).mean()


def test_robust_accuracy_matches_attack_and_is_batched(plain_net, digits):
    _, X_test, _, y_test = digits
    clean = plain_net.score(X_test, y_test)
    pixels = ThreatModel(bounds=(0.0, 1.0))
    robust = robust_accuracy(
        plain_net, X_test, y_test, "pgd", eps=0.1, random_start=False, threat_model=pixels
    )
    small_batches = robust_accuracy(
        plain_net,
        X_test,
        y_test,
        "pgd",
        eps=0.1,
        random_start=False,
        threat_model=pixels,
        batch_size=7,
    )
    assert robust == pytest.approx(manual_robust_accuracy(plain_net, X_test, y_test, 0.1))
    assert robust == pytest.approx(small_batches)
    assert robust < clean - 0.3
    assert robust_accuracy(plain_net, X_test, y_test, "fgsm", eps=0.0) == pytest.approx(clean)


def test_early_stop_never_raises_robust_accuracy(plain_net, digits):
    _, X_test, _, y_test = digits
    judge = dict(eps=0.05, steps=10, random_start=False)
    plain = robust_accuracy(plain_net, X_test, y_test, **judge)
    early = robust_accuracy(plain_net, X_test, y_test, early_stop=True, **judge)
    assert early <= plain
    assert early == robust_accuracy(
        plain_net, X_test, y_test, early_stop=True, batch_size=13, **judge
    )


def test_precision_follows_the_estimator_unless_given(plain_net, digits):
    X_train, X_test, y_train, y_test = digits
    bf16 = AdversarialTrainer(
        MLP, precision="bf16", max_epochs=1, train_split=None, verbose=0, random_state=0
    ).fit(X_train, y_train)
    dtypes = []
    hooks = [
        net.module_.register_forward_hook(lambda module, args, out: dtypes.append(out.dtype))
        for net in (bf16, plain_net)
    ]
    try:
        robust_accuracy(bf16, X_test, y_test, steps=2)
        assert set(dtypes) == {torch.bfloat16}
        dtypes.clear()
        robust_accuracy(bf16, X_test, y_test, steps=2, precision="fp32")
        robust_accuracy(plain_net, X_test, y_test, steps=2)
        assert set(dtypes) == {torch.float32}
        dtypes.clear()
        make_robust_scorer(steps=2, precision="bf16")(plain_net, X_test, y_test)
        assert set(dtypes) == {torch.bfloat16}
    finally:
        for hook in hooks:
            hook.remove()
    with pytest.raises(ValueError, match="precision must be 'auto' or one of fp32, bf16, fp16"):
        robust_accuracy(plain_net, X_test, y_test, precision="fp8")
    with pytest.raises(ValueError, match="precision must be"):
        make_robust_scorer(precision="half")


def test_default_bounds_come_from_the_data_per_feature(plain_net, digits):
    _, X_test, _, y_test = digits
    per_feature = robust_accuracy(plain_net, X_test, y_test, "fgsm", eps=0.2)
    ranges = ThreatModel(bounds=(X_test.min(axis=0), X_test.max(axis=0)))
    stated = robust_accuracy(plain_net, X_test, y_test, "fgsm", eps=0.2, threat_model=ranges)
    pixels = robust_accuracy(
        plain_net, X_test, y_test, "fgsm", eps=0.2, threat_model=ThreatModel(bounds=(0.0, 1.0))
    )
    unbounded = robust_accuracy(
        plain_net, X_test, y_test, "fgsm", eps=0.2, threat_model=ThreatModel(bounds=None)
    )
    assert per_feature == stated  # the default is the per-feature range of X
    assert per_feature >= pixels  # a smaller box than [0, 1] on the always-blank pixels
    with pytest.raises(TypeError, match="belong to the threat model here"):
        robust_accuracy(plain_net, X_test, y_test, "fgsm", eps=0.2, clip_values=(0.0, 1.0))
    assert unbounded <= pixels


def test_probability_output_nets_are_attacked_through_log(digits):
    X_train, X_test, y_train, y_test = digits

    class SoftmaxMLP(MLP):
        def forward(self, x):
            return torch.softmax(super().forward(x), dim=1)

    torch.manual_seed(0)
    net = NeuralNetClassifier(SoftmaxMLP, max_epochs=10, lr=0.5, train_split=None, verbose=0)
    net.fit(X_train, y_train)
    assert robust_accuracy(net, X_test, y_test, "pgd", eps=0.1) < net.score(X_test, y_test) - 0.3


def test_unseen_labels_are_named(digits):
    X_train, X_test, y_train, y_test = digits
    names = np.array(
        ["zero", "one", "two", "three", "four", "five", "six", "seven", "eight", "nine"]
    )
    net = NeuralNetClassifier(
        MLP, criterion=torch.nn.CrossEntropyLoss, max_epochs=1, train_split=None, verbose=0
    )
    net.fit(X_train, y_train)
    with pytest.raises(ValueError, match="never seen in fit: \\['eight', 'five'"):
        robust_accuracy(net, X_test, names[y_test], eps=0.1)


def test_bad_input_names_the_parameter(plain_net, digits):
    _, X_test, _, y_test = digits
    X_nan = X_test.copy()
    X_nan[0, 0] = np.nan
    with pytest.raises(ValueError, match="Input X contains NaN"):
        robust_accuracy(plain_net, X_nan, y_test, eps=0.1)
    with pytest.raises(ValueError, match="inconsistent numbers of samples"):
        robust_accuracy(plain_net, X_test, y_test[:-1], eps=0.1)
    with pytest.raises(ValueError, match="'eps' parameter of robust_accuracy must be a float"):
        robust_accuracy(plain_net, X_test, y_test, eps=-1.0)
    with pytest.raises(ValueError, match="Unknown attack 'pgdd'"):
        make_robust_scorer("pgdd", eps=0.1)


def test_inputs_are_not_mutated(plain_net, digits):
    _, X_test, _, y_test = digits
    X_copy, y_copy = X_test.copy(), y_test.copy()
    robust_accuracy(plain_net, X_test, y_test, eps=0.1)
    np.testing.assert_array_equal(X_test, X_copy)
    np.testing.assert_array_equal(y_test, y_copy)


def test_estimator_without_gradients_gets_a_clear_error(digits):
    X_train, X_test, y_train, y_test = digits
    forest = RandomForestClassifier(n_estimators=5, random_state=0).fit(X_train, y_train)
    with pytest.raises(NotDifferentiableError, match="RandomForestClassifier has no torch module"):
        robust_accuracy(forest, X_test, y_test, eps=0.1)


def test_scorer_in_cross_val_score_and_grid_search(digits):
    X_train, _, y_train, _ = digits
    net = NeuralNetClassifier(
        MLP, criterion=torch.nn.CrossEntropyLoss, max_epochs=3, lr=0.05, train_split=None, verbose=0
    )
    scorer = make_robust_scorer("fgsm", eps=0.05)
    scores = cross_val_score(net, X_train[:600], y_train[:600], cv=2, scoring=scorer)
    assert scores.shape == (2,) and np.all((scores >= 0) & (scores <= 1))

    pipe = Pipeline([("scale", FunctionTransformer()), ("net", net)])
    search = GridSearchCV(
        pipe,
        {"net__lr": [0.001, 0.1]},
        scoring={"accuracy": "accuracy", "robust": make_robust_scorer("pgd", eps=0.05, steps=3)},
        refit="robust",
        cv=2,
    )
    search.fit(X_train[:600], y_train[:600])
    assert set(search.cv_results_) >= {"mean_test_accuracy", "mean_test_robust"}
    robust = search.cv_results_["mean_test_robust"]
    assert search.best_index_ == int(np.argmax(robust))


def test_robustness_curve_display(plain_net, digits):
    _, X_test, _, y_test = digits
    display = RobustnessCurveDisplay.from_estimator(
        plain_net, X_test[:200], y_test[:200], eps=[0.0, 0.05, 0.1], attack="fgsm", name="plain"
    )
    acc = display.accuracy
    assert acc[0] >= acc[1] >= acc[2]
    assert display.line_.get_label() == "plain"
    assert display.ax_.get_xlabel() == "eps (fgsm)"
    assert display.figure_ is display.ax_.figure
    np.testing.assert_allclose(display.line_.get_ydata(), acc)


def test_verbose_evaluations_show_progress_and_log_to_the_skadv_logger(
    plain_net, digits, capsys, caplog
):
    _, X_test, _, y_test = digits
    X, y = X_test[:60], y_test[:60]
    quiet = robust_accuracy(plain_net, X, y, "pgd", eps=0.1, steps=3, random_state=0)
    assert capsys.readouterr().err == ""
    loud = robust_accuracy(
        plain_net, X, y, "pgd", eps=0.1, steps=3, random_state=0, batch_size=16, verbose=True
    )
    assert loud == quiet
    assert "4/4" in capsys.readouterr().err  # one bar step per batch of 16
    with caplog.at_level("INFO", logger="skadv"):
        robust_accuracy(plain_net, X, y, "autoattack", eps=0.1, steps=3, n_queries=10)
        report = robustness_report(plain_net, X, y, eps=0.1, steps=3, n_queries=10, verbose=True)
    stages = [r.getMessage() for r in caplog.records if r.name == "skadv"]
    for name in ("apgd-ce", "apgd-t", "fab-t", "square"):
        assert any(message.startswith(f"AutoAttack {name}:") for message in stages)
    assert f"AutoAttack robust accuracy {report.robust_accuracy:.4f}" in " ".join(stages)
    assert "APGD-CE over eps" in capsys.readouterr().err


def test_robust_scoring_is_skorchs_epoch_scoring():
    from skorch.callbacks import EpochScoring

    from skadv import RobustScoring

    scoring = RobustScoring("pgd", eps=0.1, attack_params={"steps": 3})
    assert isinstance(scoring, EpochScoring) and scoring.lower_is_better is False
    assert clone(scoring).get_params() == scoring.get_params()
    assert set(scoring.get_params()) == {
        "attack",
        "attack_params",
        "batch_size",
        "eps",
        "name",
        "on_train",
    }
