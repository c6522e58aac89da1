"""skadv-art: ART's attacks through skadv's registry, estimators, metrics and contract."""

import subprocess
from importlib.metadata import entry_points

import numpy as np
import pytest
import torch
from sklearn.datasets import load_digits
from sklearn.ensemble import RandomForestClassifier
from sklearn.model_selection import cross_val_score

import skadv
from skadv import AdversarialTrainer, make_robust_scorer, robust_accuracy
from skadv.modules import MLP
from skadv.testing import check_attack
from skadv_art import ATTACKS

FAST = {
    "art-cw-l2": {"max_iter": 3, "binary_search_steps": 2},
    "art-cw-linf": {"max_iter": 3},
    "art-deepfool": {"max_iter": 5},
    "art-apgd": {"max_iter": 5},
    "art-square": {"max_iter": 20},
    "art-autoattack": {"max_iter": 5},
    "art-hopskipjump": {"max_iter": 2, "max_eval": 50, "init_eval": 10, "init_size": 10},
}


@pytest.fixture(scope="module")
def digits():
    X, y = load_digits(return_X_y=True)
    return (X / 16.0).astype(np.float32), y


@pytest.fixture(scope="module")
def net(digits):
    X, y = digits
    return AdversarialTrainer(
        MLP, ratio=0.0, max_epochs=10, lr=0.01, train_split=None, verbose=0, random_state=0
    ).fit(X[:1000], y[:1000])


def test_installed_through_entry_point_metadata():
    (ep,) = [ep for ep in entry_points(group="skadv") if ep.name == "art"]
    assert ep.dist.name == "skadv-art" and ep.value == "skadv_art"
    assert set(ATTACKS) <= set(skadv.list_attacks())
    listing = subprocess.run(
        ["skadv", "plugins"], capture_output=True, text=True, check=True
    ).stdout
    for name in ATTACKS:
        assert any(
            line.split()[:4] == [name, "attack", "art", "skadv-art"]
            for line in listing.splitlines()
        )


@pytest.mark.parametrize("name", [n for n in ATTACKS if n not in ("art-autoattack", "art-square")])
def test_contract(name):
    check_attack(skadv.get_attack(name, **FAST[name]))


def test_square_contract_on_images():
    check_attack(skadv.get_attack("art-square", **FAST["art-square"]), sample_shape=(1, 8, 8))


def test_autoattack_contract_on_images():
    check_attack(
        skadv.get_attack("art-autoattack", **FAST["art-autoattack"]), sample_shape=(1, 8, 8)
    )


@pytest.mark.parametrize(("name", "eps"), [("art-apgd", 0.2), ("art-deepfool", 2.0)])
def test_robust_accuracy_and_scorer(name, eps, net, digits):
    X, y = digits
    X_test, y_test = X[1000:1200], y[1000:1200]
    clean = net.score(X_test, y_test)
    robust = robust_accuracy(net, X_test, y_test, name, eps=eps, **FAST[name])
    assert robust < clean - 0.2
    scorer = make_robust_scorer(name, eps=eps, **FAST[name])
    assert scorer(net, X_test, y_test) == pytest.approx(robust, abs=0.05)


def test_square_on_images(digits):
    X, y = digits
    images = X.reshape(-1, 1, 8, 8)
    image_net = AdversarialTrainer(
        MLP, ratio=0.0, max_epochs=10, lr=0.01, train_split=None, verbose=0, random_state=0
    ).fit(images[:1000], y[:1000])
    clean = image_net.score(images[1000:1100], y[1000:1100])
    robust = robust_accuracy(
        image_net, images[1000:1100], y[1000:1100], "art-square", eps=0.3, **FAST["art-square"]
    )
    assert robust < clean - 0.2


def test_adversarial_training_by_name(digits):
    X, y = digits
    clf = AdversarialTrainer(
        MLP,
        attack="art-apgd",
        attack__max_iter=3,
        eps=0.1,
        max_epochs=1,
        batch_size=256,
        train_split=None,
        verbose=0,
        random_state=0,
    ).fit(X[:512], y[:512])
    assert clf.attack_.__class__ is ATTACKS["art-apgd"]
    x = torch.as_tensor(X[:8])
    x_adv = clf.craft(x, torch.as_tensor(y[:8]))
    assert float((x_adv - x).abs().max()) <= 0.1 + 1e-6
    assert torch.all(x_adv >= clf.feasible_.low) and torch.all(x_adv <= clf.feasible_.high)


def test_hopskipjump_judges_a_random_forest(digits):
    X, y = digits
    forest = RandomForestClassifier(n_estimators=30, random_state=0).fit(X[:1000], y[:1000])
    X_test, y_test = X[1000:1030], y[1000:1030]
    clean = forest.score(X_test, y_test)
    robust = robust_accuracy(
        forest, X_test, y_test, "art-hopskipjump", eps=2.0, **FAST["art-hopskipjump"]
    )
    assert robust < clean
    scorer = make_robust_scorer("art-hopskipjump", eps=2.0, **FAST["art-hopskipjump"])
    scores = cross_val_score(forest, X[:60], y[:60], cv=2, scoring=scorer)
    assert np.all((scores >= 0) & (scores <= 1))


def test_untargeted_only_attacks_say_so(net, digits):
    X, y = digits
    with pytest.raises(ValueError, match="'targeted' parameter of ARTDeepFool"):
        robust_accuracy(net, X[:10], y[:10], "art-deepfool", targeted=True)


def test_model_gradients_untouched(net, digits):
    X, y = digits
    net.module_.zero_grad(set_to_none=True)
    skadv.get_attack("art-cw-l2", **FAST["art-cw-l2"]).perturb(
        net.module_, torch.as_tensor(X[:8]), torch.as_tensor(y[:8])
    )
    assert all(p.grad is None for p in net.module_.parameters())
