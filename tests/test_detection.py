"""AdversarialDetector: the three detectors, their calibration, the guard in a Pipeline,
adaptive against non-adaptive evaluation, agreement of feature squeezing with ART."""

import matplotlib
import numpy as np
import pytest
import torch
from art.defences.preprocessor import FeatureSqueezing
from sklearn.base import clone
from sklearn.linear_model import LogisticRegression
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import FunctionTransformer
from sklearn.utils._param_validation import InvalidParameterError
from sklearn.utils.estimator_checks import parametrize_with_checks

from skadv import AdversarialDetector, AdversarialTrainer, ThreatModel, adversarial_examples
from skadv.detection import _BitDepth, detection_report
from skadv.exceptions import NotDifferentiableError
from skadv.metrics import DetectionCurveDisplay
from skadv.modules import MLP

matplotlib.use("Agg")

PIXELS = ThreatModel(bounds=(0, 1))


class ConvOnly(torch.nn.Module):
    """Logits from one convolution over (N, 1, 64) rows: no linear layer."""

    def __init__(self):
        super().__init__()
        self.conv = torch.nn.Conv1d(1, 10, 64)

    def forward(self, x):
        return self.conv(x).flatten(1)


def undefended(**params):
    defaults = dict(ratio=0.0, max_epochs=20, lr=1e-2, train_split=None, verbose=0)
    return AdversarialTrainer(MLP, random_state=0, **{**defaults, **params})


def guard(method, **params):
    return AdversarialDetector(
        undefended(), method=method, threat_model=PIXELS, eps=0.1, random_state=0, **params
    )


@pytest.fixture(scope="module", params=["binary", "squeeze", "mahalanobis"])
def fitted(request, digits):
    X_train, _, y_train, _ = digits
    return guard(request.param).fit(X_train, y_train)


@pytest.fixture(scope="module")
def reports(fitted, digits):
    _, X_test, _, y_test = digits
    return detection_report(fitted, X_test[:300], y_test[:300], steps=20)


def test_threshold_flags_the_stated_share_of_held_out_clean_rows(fitted, digits):
    _, X_test, _, _ = digits
    assert fitted.is_adversarial(X_test).mean() == pytest.approx(0.05, abs=0.04)
    scores = fitted.decision_function(X_test)
    np.testing.assert_array_equal(scores > fitted.threshold_, fitted.is_adversarial(X_test))


def test_detects_the_attack_it_ignores_better_than_chance(fitted, reports):
    non_adaptive = reports["non_adaptive"]
    assert non_adaptive["attack_success"] > 0.4
    assert non_adaptive["detection_rate"] > reports["false_positive_rate"] + 0.05
    assert 0.9 < reports["clean_accuracy"] <= 1


def test_adaptive_attack_is_at_least_as_strong_and_is_reported(fitted, reports):
    """The adaptive number is the per-sample worst case over the non-adaptive attack and
    the attacks that know the detector; it must be strictly lower where the detector is
    differentiable and easily fooled (binary) or has its own adaptive attack (squeeze)."""
    non_adaptive, adaptive = reports["non_adaptive"], reports["adaptive"]
    assert adaptive["guarded_robust_accuracy"] <= non_adaptive["guarded_robust_accuracy"]
    assert adaptive["detection_rate"] <= non_adaptive["detection_rate"] + 0.02
    if fitted.method in ("binary", "squeeze"):
        gap = non_adaptive["guarded_robust_accuracy"] - adaptive["guarded_robust_accuracy"]
        assert gap > 0.05, fitted.method
    assert reports["weights"] == [1.0, 10.0, 100.0] and reports["eps"] == 0.1


def test_predict_rejects_flagged_rows_and_keeps_labels_elsewhere(fitted, digits):
    _, X_test, _, y_test = digits
    X_adv = adversarial_examples(fitted.estimator_, X_test[:200], y_test[:200], "pgd", eps=0.1)
    pred = fitted.predict(X_adv)
    flagged = fitted.is_adversarial(X_adv)
    assert (pred[flagged] == -1).all()
    np.testing.assert_array_equal(pred[~flagged], fitted.estimator_.predict(X_adv)[~flagged])
    assert pred.dtype.kind == "i"


def test_guard_module_is_the_classifier_and_the_calibrated_score(fitted, digits):
    _, X_test, _, _ = digits
    x = torch.as_tensor(X_test[:50])
    with torch.no_grad():
        out = fitted.guard_module()(x)
    assert out.shape == (50, 11)
    np.testing.assert_array_equal(out[:, 10].numpy() > 0, fitted.is_adversarial(X_test[:50]))
    np.testing.assert_array_equal(
        out[:, :10].argmax(1).numpy(), fitted.estimator_.predict(x.numpy())
    )


def test_guard_routes_rows_as_the_last_step_of_a_pipeline(digits):
    """Raw 0-16 digits, scaled inside the pipeline: flagged rows come out as "rejected"."""
    X_train, X_test, y_train, y_test = digits
    pipe = make_pipeline(
        FunctionTransformer(lambda X: X / 16.0),
        guard("binary", reject_label=-100),
    ).fit(X_train * 16, y_train)
    clean = pipe.predict(X_test * 16)
    assert np.mean(clean == y_test) > 0.85
    X_adv = adversarial_examples(pipe[-1].estimator_, X_test[:200], y_test[:200], eps=0.1)
    routed = pipe.predict(X_adv * 16)
    assert np.mean(routed == -100) > 0.5
    assert pipe.decision_function(X_adv * 16).shape == (200,)


def test_bit_depth_squeezing_equals_art_and_passes_gradients_straight_through():
    x = np.random.RandomState(0).rand(20, 64).astype(np.float32)
    squeeze = _BitDepth(torch.zeros(64), torch.ones(64), bits=4)
    art, _ = FeatureSqueezing(clip_values=(0, 1), bit_depth=4)(x)
    np.testing.assert_allclose(squeeze(torch.as_tensor(x)).numpy(), art, atol=1e-6)
    t = torch.as_tensor(x).requires_grad_()
    squeeze(t).sum().backward()
    np.testing.assert_array_equal(t.grad.numpy(), np.ones_like(x))


def test_detection_curve_marks_the_operating_point(digits):
    X_train, X_test, y_train, y_test = digits
    detector = guard("squeeze").fit(X_train, y_train)
    X_adv = adversarial_examples(detector.estimator_, X_test[:200], y_test[:200], eps=0.1)
    disp = DetectionCurveDisplay.from_detector(
        detector, X_test[:200], X_adv, name="squeeze", color="green"
    )
    fpr, tpr = disp.operating_point
    assert fpr == pytest.approx(detector.is_adversarial(X_test[:200]).mean())
    assert tpr == pytest.approx(detector.is_adversarial(X_adv).mean())
    assert disp.fpr[0] == 0 and disp.tpr[-1] == 1
    assert disp.line_.get_color() == "green"


def test_same_seed_same_binary_detector(digits):
    X_train, X_test, y_train, _ = digits
    first = guard("binary", max_epochs=3).fit(X_train[:300], y_train[:300])
    second = guard("binary", max_epochs=3).fit(X_train[:300], y_train[:300])
    np.testing.assert_array_equal(
        first.decision_function(X_test[:20]), second.decision_function(X_test[:20])
    )


def test_clear_errors(digits):
    X_train, _, y_train, _ = digits
    with pytest.raises(InvalidParameterError, match="'method' parameter"):
        guard("lid").fit(X_train, y_train)
    with pytest.raises(InvalidParameterError, match="'fpr' parameter"):
        guard("squeeze", fpr=0.0).fit(X_train, y_train)
    with pytest.raises(ValueError, match="reject_label=3 is also a class label"):
        guard("squeeze", reject_label=3).fit(X_train, y_train)
    with pytest.raises(NotDifferentiableError, match="LogisticRegression has no torch module"):
        AdversarialDetector(LogisticRegression(max_iter=500)).fit(X_train, y_train)
    conv_only = AdversarialTrainer(ConvOnly, ratio=0.0, max_epochs=1, train_split=None, verbose=0)
    with pytest.raises(ValueError, match="ConvOnly has none; use method='squeeze' or 'binary'"):
        AdversarialDetector(conv_only).fit(X_train[:, None, :], y_train)


def test_inputs_are_not_mutated_and_clone_keeps_parameters(digits):
    X_train, _, y_train, _ = digits
    X = X_train[:300].copy()
    detector = guard("mahalanobis", fpr=0.1)
    detector.fit(X, y_train[:300])
    np.testing.assert_array_equal(X, X_train[:300])
    assert clone(detector).get_params()["fpr"] == 0.1


EXPECTED_FAILED_CHECKS = {
    "check_classifiers_one_label": (
        "a share fpr of the rows is flagged and predicted as reject_label by design"
    ),
    "check_classifiers_train": (
        "a share fpr of the training rows is rejected by design, below the check's accuracy"
    ),
    "check_classifiers_classes": (
        "decision_function is the detector's score (larger is more suspicious), not a class score"
    ),
}


@parametrize_with_checks(
    [AdversarialDetector(undefended(max_epochs=5), method="mahalanobis", random_state=0)],
    expected_failed_checks=lambda est: EXPECTED_FAILED_CHECKS,
)
def test_sklearn_compatible(estimator, check):
    check(estimator)
