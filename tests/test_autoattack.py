"""Standard AutoAttack and its parts, against the reference ports, and black-box judging."""

import math
import warnings

import numpy as np
import pytest
import torch
import torchattacks
from art.attacks.evasion import AutoProjectedGradientDescent
from art.estimators.classification import PyTorchClassifier
from sklearn.datasets import load_breast_cancer, load_digits
from sklearn.ensemble import RandomForestClassifier
from sklearn.model_selection import GridSearchCV
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler

import skadv
from skadv import AdversarialTrainer, ThreatModel, make_robust_scorer, robust_accuracy
from skadv.attacks import APGD, FAB, Square
from skadv.attacks.fab import hyperplane_step
from skadv.exceptions import NotDifferentiableError
from skadv.metrics import robustness_report
from skadv.modules import MLP

PIXELS = ThreatModel(bounds=(0.0, 1.0))


@pytest.fixture(scope="module")
def images():
    X, y = load_digits(return_X_y=True)
    X = (X / 16.0).astype(np.float32).reshape(-1, 1, 8, 8)
    return X[:1200], y[:1200], X[1200:1740], y[1200:1740]


@pytest.fixture(scope="module")
def models(images):
    X_train, y_train, _, _ = images
    common = dict(
        eps=0.1,
        attack="pgd",
        attack__steps=7,
        max_epochs=10,
        lr=0.01,
        batch_size=32,
        train_split=None,
        verbose=0,
        random_state=0,
        threat_model=PIXELS,
    )
    return {
        name: AdversarialTrainer(MLP, ratio=ratio, **common).fit(X_train, y_train)
        for name, ratio in (("undefended", 0.0), ("madry", 1.0))
    }


def art_apgd(model, X, y, eps, loss, seed):
    classifier = PyTorchClassifier(
        model.module_.eval(),
        loss=torch.nn.CrossEntropyLoss(),
        input_shape=X.shape[1:],
        nb_classes=10,
        clip_values=(0.0, 1.0),
    )
    np.random.seed(seed)
    attack = AutoProjectedGradientDescent(
        classifier,
        eps=eps,
        eps_step=2 * eps,
        max_iter=100,
        nb_random_init=1,
        loss_type=loss,
        batch_size=256,
        verbose=False,
    )
    return float(np.mean(classifier.predict(attack.generate(X, y=y)).argmax(1) == y))


@pytest.mark.parametrize(
    ("name", "loss"), [("apgd-ce", "cross_entropy"), ("apgd-dlr", "difference_logits_ratio")]
)
def test_apgd_agrees_with_art(name, loss, models, images):
    _, _, X, y = images
    model = models["madry"]
    ours = np.mean([robust_accuracy(model, X, y, name, eps=0.15, random_state=s) for s in range(3)])
    theirs = np.mean([art_apgd(model, X, y, 0.15, loss, s) for s in range(3)])
    assert abs(ours - theirs) <= 0.005, (ours, theirs)


@pytest.mark.parametrize(
    ("name", "norm", "eps"),
    [
        ("fab", "linf", 0.1),
        ("fab", "l2", 0.5),
        ("fab-t", "linf", 0.1),
        ("fab-t", "l2", 0.5),
    ],
)
def test_fab_agrees_with_torchattacks(name, norm, eps, models, images):
    _, _, X, y = images
    for model in models.values():
        module = model.module_.eval()
        ours = robust_accuracy(model, X, y, name, eps=eps, norm=norm, random_state=0)
        port = torchattacks.FAB(
            module,
            norm=norm.capitalize(),
            eps=eps,
            steps=100,
            multi_targeted=name == "fab-t",
            n_classes=10,
            seed=0,
        )
        with torch.no_grad():
            adv = port(torch.as_tensor(X), torch.as_tensor(y))
            theirs = float((module(adv).argmax(1).numpy() == y).mean())
        # one run from the clean point: deterministic, so the 0.5 points hold
        # (measured: the same accuracy to the sample in all eight cells)
        assert abs(ours - theirs) <= 0.005, (ours, theirs)


@pytest.mark.parametrize("norm", ["linf", "l2"])
def test_fab_projection_stays_finite_when_the_boundary_is_out_of_reach(norm):
    # the middle input has no weight (the model ignores it); the first row's hyperplane
    # lies beyond its box, so every coordinate moves to its room: in L2 the ignored one
    # once came out NaN, which froze that sample for the rest of the attack
    w = torch.tensor([[1.0, 0.0, 2.0], [-1.0, 0.0, 0.5]])
    low, high = torch.full((2, 3), -0.1), torch.full((2, 3), 0.1)
    step = hyperplane_step(w, torch.tensor([100.0, -0.05]), low, high, norm)
    assert torch.isfinite(step).all()
    assert torch.equal(step[0], torch.tensor([0.1, 0.0, 0.1]))
    assert float(w[1] @ step[1]) == pytest.approx(-0.05)
    assert bool(((step >= low) & (step <= high)).all())


@pytest.mark.parametrize(("norm", "eps"), [("linf", 0.1), ("l2", 1.0)])
def test_square_agrees_with_torchattacks_and_is_stronger_with_uniform_windows(
    norm, eps, models, images
):
    _, _, X, y = images
    model = models["undefended"]
    module = model.module_.eval()
    seeds, queries = range(20), 300
    port = []
    for seed in seeds:
        attack = torchattacks.Square(
            module,
            norm=norm.capitalize(),
            eps=eps,
            n_queries=queries,
            resc_schedule=False,
            seed=seed,
        )
        with torch.no_grad():
            adv = attack(torch.as_tensor(X), torch.as_tensor(y))
            port.append(float((module(adv).argmax(1).numpy() == y).mean()))

    def ours(placement, seeds):
        return [
            robust_accuracy(
                model,
                X,
                y,
                "square",
                eps=eps,
                norm=norm,
                n_queries=queries,
                placement=placement,
                random_state=seed,
            )
            for seed in seeds
        ]

    # 540 images and 20 seeds a side: the standard error of the difference is about
    # 0.3 points (benchmarks/port_agreement.py measured 0.04 and 0.12 points here)
    same_placement = ours("reference", seeds)
    assert abs(np.mean(same_placement) - np.mean(port)) <= 0.005, (same_placement, port)
    # every window position, as the paper draws them: 8 (Linf) to 12 (L2) points stronger
    assert np.mean(ours("uniform", range(3))) < np.mean(port) - 0.04


PARTS = {
    "apgd-ce": lambda: APGD(loss="ce", steps=10),
    "apgd-dlr": lambda: APGD(loss="dlr", steps=10),
    "apgd-t": lambda: APGD(loss="dlr", steps=10, n_target_classes=2),
    "fab": lambda: FAB(steps=10),
    "fab-t": lambda: FAB(steps=10, n_target_classes=2),
    "square": lambda: Square(n_queries=60),
    "square, reference placement": lambda: Square(n_queries=60, placement="reference"),
}


@pytest.mark.parametrize("shape", [(10,), (3, 6, 6)], ids=["table", "color image"])
@pytest.mark.parametrize(("norm", "eps"), [("linf", 0.1), ("l2", 0.5)])
@pytest.mark.parametrize("name", list(PARTS))
def test_every_part_keeps_to_the_budget_bounds_and_mask_on_any_shape(name, norm, eps, shape):
    torch.manual_seed(0)
    d = math.prod(shape)
    model = torch.nn.Sequential(
        torch.nn.Flatten(), torch.nn.Linear(d, 32), torch.nn.ReLU(), torch.nn.Linear(32, 3)
    ).eval()
    with torch.no_grad():
        model[1].weight *= 4  # the inputs, not the biases, decide the class
    x = torch.rand((64, *shape), generator=torch.Generator().manual_seed(1))
    with torch.no_grad():
        y = model(x).argmax(1)  # every sample starts correct
    mask = np.ones(shape, dtype=bool)
    mask.reshape(-1)[: d // 3] = False  # a third of the features cannot move
    attack = PARTS[name]().set_params(
        eps=eps, norm=norm, clip_values=(0.0, 1.0), feature_mask=mask, random_state=0
    )
    x_before = x.clone()
    x_adv = attack.perturb(model, x, y)
    assert torch.equal(x, x_before)
    delta = (x_adv - x).reshape(len(x), -1)
    size = delta.abs().amax(dim=1) if norm == "linf" else delta.norm(dim=1)
    assert torch.isfinite(x_adv).all()
    assert size.max() <= eps + 1e-5
    assert x_adv.min() >= 0.0 and x_adv.max() <= 1.0
    assert torch.equal(delta[:, : d // 3], torch.zeros_like(delta[:, : d // 3]))
    with torch.no_grad():
        assert (model(x_adv).argmax(1) != y).any()  # it found something


def test_standard_autoattack_runs_each_attack_on_the_robust_points(models, images):
    _, _, X, y = images
    model = models["madry"]
    attack = skadv.get_attack("autoattack", eps=0.1, steps=20, n_queries=200)
    settings = attack.settings()
    assert settings["attacks"] == ["apgd-ce", "apgd-t", "fab-t", "square"]
    assert (settings["version"], settings["n_target_classes"], settings["seed"]) == (
        "standard",
        9,
        0,
    )
    defaults = skadv.get_attack("autoattack").settings()
    assert (defaults["steps"], defaults["n_queries"]) == (100, 5000)  # the paper's budgets
    robust = robust_accuracy(model, X, y, attack, threat_model=PIXELS)
    pgd = robust_accuracy(model, X, y, "pgd", eps=0.1, steps=20, threat_model=PIXELS)
    assert robust <= pgd
    report = robustness_report(model, X, y, eps=0.1, steps=20, n_queries=200)
    breakdown = list(report.breakdown.values())
    assert breakdown == sorted(breakdown, reverse=True)  # each attack only removes points
    assert report.robust_accuracy == pytest.approx(breakdown[-1])
    assert report.flagged == []
    card = report.to_dict()
    assert card["norm"] == "Linf" and card["n_samples"] == len(y) and card["seed"] == 0
    assert set(card["versions"]) >= {"skadv", "torch"}
    assert [c["name"] for c in card["checks"]] == [
        "large eps brings accuracy to zero",
        "black-box not stronger than white-box",
        "accuracy falls with eps",
    ]
    assert list(skadv.get_attack("autoattack", version="plus").settings()["attacks"]) == [
        "apgd-ce",
        "apgd-dlr",
        "fab",
        "square",
        "apgd-t",
        "fab-t",
    ]
    assert skadv.get_attack("autoattack", version="rand").settings()["attacks"] == [
        "apgd-ce",
        "apgd-dlr",
    ]


class Quantized(torch.nn.Module):
    """Gradient masking: rounding the input hides every gradient (zero almost everywhere)."""

    def __init__(self, module):
        super().__init__()
        self.module = module

    def forward(self, x):
        return self.module(torch.round(x * 4) / 4)


def test_the_report_flags_gradient_masking(models, images):
    from skorch import NeuralNetClassifier

    _, _, X, y = images
    masked = NeuralNetClassifier(
        Quantized(models["undefended"].module_),
        criterion=torch.nn.CrossEntropyLoss,
        classes=list(range(10)),
    ).initialize()
    report = robustness_report(
        masked, X[:200], y[:200], eps=0.2, steps=20, n_queries=300, threat_model=PIXELS
    )
    assert "black-box not stronger than white-box" in report.flagged
    assert "large eps brings accuracy to zero" in report.flagged


def test_black_box_square_judges_any_scikit_learn_classifier():
    X, y = load_breast_cancer(return_X_y=True)
    X_train, X_test, y_train, y_test = X[:400], X[400:], y[:400], y[400:]
    forest = RandomForestClassifier(n_estimators=20, random_state=0).fit(X_train, y_train)
    pipe = make_pipeline(StandardScaler(), RandomForestClassifier(n_estimators=20, random_state=0))
    pipe.fit(X_train, y_train)
    threat = ThreatModel(scale="std")
    for model in (forest, pipe):
        clean = model.score(X_test, y_test)
        robust = robust_accuracy(
            model,
            X_test,
            y_test,
            "square",
            eps=0.5,
            n_queries=100,
            threat_model=threat,
            random_state=0,
        )
        assert robust < clean - 0.1
    with pytest.raises(
        NotDifferentiableError, match="Gradient-free attacks that could serve it: .*square"
    ):
        robust_accuracy(forest, X_test, y_test, "pgd", eps=0.5)


def test_the_scorer_is_reproducible_with_a_random_state(models, images):
    _, _, X, y = images
    scorer = make_robust_scorer("apgd-ce", eps=0.15, steps=10, random_state=3)
    assert scorer(models["madry"], X, y) == scorer(models["madry"], X, y)


# ---------------------------------------------------------------- correctness items


def small(**params):
    defaults = dict(
        module=MLP,
        module__hidden=(16,),
        max_epochs=1,
        train_split=None,
        verbose=0,
        random_state=0,
        batch_size=64,
    )
    return AdversarialTrainer(**{**defaults, **params})


def test_objective_parameters_and_shared_ones(images):
    X, y, _, _ = images
    X = X.reshape(len(X), -1)
    clf = small(objective="trades", objective__beta=2.0).fit(X, y)
    assert clf.objective_.beta == 2.0
    with pytest.warns(UserWarning, match="ratio=0.0 has no effect: objective TRADES"):
        small(objective="trades", ratio=0.0).fit(X, y)
    with pytest.warns(UserWarning, match="beta=1.0 has no effect: objective Madry"):
        small(beta=1.0).fit(X, y)


STARTS = []


class Recording(skadv.attacks.PGD):
    """PGD that records the first random start of every batch it attacks."""

    def _run(self, ctx):
        STARTS.append(ctx.random_delta(self.eps)[0].clone())
        return super()._run(ctx)


def test_an_attack_seed_gives_fresh_starts_for_every_batch(images):
    X, y, _, _ = images
    X, y = X.reshape(len(X), -1)[:512], y[:512]
    runs = []
    for _ in range(2):
        STARTS.clear()
        small(attack=Recording(steps=1, random_state=0), max_epochs=2).fit(X, y)
        runs.append(list(STARTS))
    assert len(runs[0]) == 16  # 8 batches in each of 2 epochs
    assert len({tuple(start.tolist()) for start in runs[0]}) == 16  # fresh every batch
    assert all(torch.equal(a, b) for a, b in zip(*runs, strict=True))  # and reproducible


OFFSETS = []


class RecordingFGSM(skadv.attacks.FGSM):
    """FGSM that records how far from the clean batch it was asked to start."""

    def _run(self, ctx):
        OFFSETS.append(float((ctx.start - ctx.x).abs().max()))
        return super()._run(ctx)


def test_trades_starts_next_to_x_when_the_attack_has_no_random_start(images):
    X, y, _, _ = images
    X = X.reshape(len(X), -1)[:256]
    OFFSETS.clear()
    small(objective="trades", attack=RecordingFGSM(), eps=0.1).fit(X, y[:256])
    assert len(OFFSETS) == 4 and all(0 < offset < 0.01 for offset in OFFSETS)
    OFFSETS.clear()
    small(objective="madry", attack=RecordingFGSM(), eps=0.1).fit(X, y[:256])
    assert OFFSETS == [0.0] * 4  # the other objectives start at x


def test_craft_mode_chooses_batch_statistics(images):
    X, y, _, _ = images
    X = X.reshape(len(X), -1)[:256]

    class BN(torch.nn.Module):
        def __init__(self, n_classes=10, hidden=(16,)):
            super().__init__()
            self.net = torch.nn.Sequential(
                torch.nn.Linear(64, 16),
                torch.nn.BatchNorm1d(16),
                torch.nn.ReLU(),
                torch.nn.Linear(16, n_classes),
            )

        def forward(self, x):
            return self.net(x)

    seen = []
    for mode in ("eval", "train"):
        clf = small(module=BN, craft_mode=mode).fit(X, y[:256])
        hook = clf.module_.net[1].register_forward_pre_hook(lambda m, args: seen.append(m.training))
        clf.craft(torch.as_tensor(X[:16]), torch.as_tensor(y[:16]))
        hook.remove()
    assert seen[0] is False and seen[-1] is True


def test_the_readme_grid_searches_attacks_of_different_kinds(images):
    X, y, _, _ = images
    X = X.reshape(len(X), -1)[:300]
    search = GridSearchCV(
        small(eps=0.1),
        {
            "attack": [skadv.get_attack("fgsm-rs"), skadv.get_attack("pgd", steps=3)],
            "ratio": [0.5, 1.0],
        },
        scoring=make_robust_scorer("pgd", eps=0.1, steps=3),
        cv=2,
        error_score="raise",
    )
    with warnings.catch_warnings():
        warnings.simplefilter("error", UserWarning)
        search.fit(X, y[:300])
    assert np.isfinite(search.cv_results_["mean_test_score"]).all()
