"""skadv-mart: a training objective plugged in from outside, through a real entry point."""

from importlib.metadata import entry_points

import numpy as np
from sklearn.base import clone
from sklearn.datasets import load_digits
from sklearn.model_selection import train_test_split

import skadv
from skadv import AdversarialTrainer, robust_accuracy
from skadv.modules import MLP
from skadv.testing import check_objective
from skadv_mart import MART


def test_registered_through_entry_point():
    (ep,) = [ep for ep in entry_points(group="skadv") if ep.name == "mart"]
    assert ep.dist.name == "skadv-mart"
    assert "mart" in skadv.list_objectives()
    component = skadv.plugins.get_registry().components["objective"]["mart"]
    assert component.plugin.distribution == "skadv-mart"


def test_mart_trains_a_robust_model_and_takes_beta_from_the_trainer():
    X, y = load_digits(return_X_y=True)
    X = (X / 16.0).astype(np.float32)
    X_train, X_test, y_train, y_test = train_test_split(
        X, y, test_size=0.3, random_state=0, stratify=y
    )
    common = dict(
        eps=0.1,
        attack__steps=5,
        max_epochs=8,
        batch_size=32,
        lr=0.01,
        train_split=None,
        verbose=0,
        random_state=0,
    )
    mart = AdversarialTrainer(MLP, objective="mart", beta=3.0, **common).fit(X_train, y_train)
    plain = AdversarialTrainer(MLP, ratio=0.0, **common).fit(X_train, y_train)
    assert isinstance(mart.objective_, MART) and mart.objective_.beta == 3.0
    judge = dict(eps=0.1, steps=20, step_size=0.025, random_start=False)
    assert (
        robust_accuracy(mart, X_test, y_test, **judge)
        > robust_accuracy(plain, X_test, y_test, **judge) + 0.2
    )
    assert clone(mart).get_params()["objective"] == "mart"


def test_contract():
    check_objective(MART)
