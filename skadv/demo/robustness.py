"""Demo part 1: adversarial training on digits, judged by standard AutoAttack (and ART's
PGD as an independent check)."""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

import matplotlib.pyplot as plt
import numpy as np
import torch
from sklearn.datasets import load_digits
from sklearn.model_selection import train_test_split
from skorch.dataset import ValidSplit

from skadv.callbacks import EpochProgress, RobustScoring
from skadv.metrics import RobustnessCurveDisplay, adversarial_examples, robustness_report
from skadv.modules import MLP
from skadv.threat import ThreatModel
from skadv.trainer import AdversarialTrainer

DEMO_EPS = 0.1
JUDGE = {"steps": 20, "step_size": 0.025, "random_start": False}
# --quick judges with smaller AutoAttack budgets, and the report says so
QUICK_BUDGETS = {"steps": 20, "n_queries": 500}
PIXELS = ThreatModel(bounds=(0.0, 1.0))  # digits scaled to [0, 1]: any pixel may take any value


def load_data(seed: int) -> tuple[np.ndarray, ...]:
    """Digits scaled to [0, 1], split 70/30, stratified."""
    X, y = load_digits(return_X_y=True)
    X = (X / 16.0).astype(np.float32)
    return tuple(train_test_split(X, y, test_size=0.3, random_state=seed, stratify=y))


def build_models(epochs: int, device: str, seed: int) -> dict[str, AdversarialTrainer]:
    """The four models of the demo, one architecture, differing only in their defence."""
    common = dict(
        module=MLP,
        eps=DEMO_EPS,
        batch_size=32,
        lr=0.01,
        device=device,
        random_state=seed,
        verbose=0,
        threat_model=PIXELS,
        train_split=ValidSplit(0.1, stratified=True, random_state=seed),
    )
    pgd = dict(attack="pgd", attack__steps=7, attack__step_size=0.025, max_epochs=epochs)
    specs = {
        "undefended": dict(ratio=0.0, max_epochs=epochs + 10),
        "madry-pgd": dict(objective="madry", **pgd),
        "trades": dict(objective="trades", beta=6.0, **pgd),
        "fast-fgsm-rs": dict(attack="fgsm-rs", max_epochs=epochs),
    }
    return {
        name: AdversarialTrainer(
            **common,
            **spec,
            callbacks=[
                ("robust", RobustScoring("pgd", attack_params={"steps": 10})),
                ("progress", EpochProgress(name)),
            ],
        )
        for name, spec in specs.items()
    }


def art_robust_accuracy(model: AdversarialTrainer, X: np.ndarray, y: np.ndarray) -> float:
    """Accuracy under ART's ProjectedGradientDescent: an independent judge."""
    from art.attacks.evasion import ProjectedGradientDescent
    from art.estimators.classification import PyTorchClassifier

    classifier = PyTorchClassifier(
        model.module_.eval(),
        loss=torch.nn.CrossEntropyLoss(),
        input_shape=X.shape[1:],
        nb_classes=len(model.classes_),
        clip_values=(0.0, 1.0),
        device_type="gpu" if str(model.device).startswith("cuda") else "cpu",
    )
    attack = ProjectedGradientDescent(
        classifier, eps=DEMO_EPS, eps_step=0.025, max_iter=20, num_random_init=0, verbose=False
    )
    return float(np.mean(model.predict(attack.generate(X, y=y)) == y))


def plot_examples(
    models: dict[str, AdversarialTrainer], X: np.ndarray, y: np.ndarray, path: Path
) -> None:
    """Eight test digits, and their PGD versions against the undefended and the
    Madry-trained model, each with that model's prediction and the true label."""
    rows = [("clean", X[:8], models["undefended"])]
    for name in ("undefended", "madry-pgd"):
        adv = adversarial_examples(models[name], X[:8], y[:8], "pgd", eps=DEMO_EPS, **JUDGE)
        rows.append((f"PGD vs {name}", adv, models[name]))
    fig, axes = plt.subplots(len(rows), 8, figsize=(10, 4.6))
    for r, (label, images, model) in enumerate(rows):
        predictions = model.predict(images)
        for i in range(8):
            ax = axes[r, i]
            ax.imshow(images[i].reshape(8, 8), cmap="gray_r", vmin=0, vmax=1)
            ax.set_title(
                f"true {y[i]}, pred {predictions[i]}",
                color="black" if predictions[i] == y[i] else "red",
                fontsize=8,
            )
            ax.set_xticks([])
            ax.set_yticks([])
        axes[r, 0].set_ylabel(label, fontsize=8)
    fig.suptitle(
        f"PGD eps={DEMO_EPS}: the same attack fools the undefended model (middle row) and "
        "mostly not the Madry-trained one (bottom); red: wrong prediction",
        fontsize=9,
    )
    fig.tight_layout()
    fig.savefig(path, dpi=100)
    plt.close(fig)


def plot_training(models: dict[str, AdversarialTrainer], path: Path) -> None:
    """Per model its own training loss (each objective has its own scale, so they share
    no axis), and the validation robust accuracy of all models on one axis."""
    fig, axes = plt.subplots(1, len(models) + 1, figsize=(3 * (len(models) + 1), 3.2))
    for ax, (name, model) in zip(axes, models.items(), strict=False):
        objective = "cross-entropy" if model.ratio == 0 else model.objective
        ax.plot(model.history[:, "train_loss"])
        ax.set(xlabel="epoch", title=f"{name}\n{objective} loss")
        axes[-1].plot(model.history[:, "valid_robust_acc"], label=name)
    axes[-1].set(xlabel="epoch", title=f"validation PGD-10 accuracy\neps={DEMO_EPS}")
    axes[-1].legend(fontsize=7)
    fig.tight_layout()
    fig.savefig(path, dpi=100)
    plt.close(fig)


def run(out: Path, device: str, quick: bool, seed: int, log: Any) -> dict[str, Any]:
    """Train the four models, measure them, draw the figures; return the numbers."""
    X_train, X_test, y_train, y_test = load_data(seed)
    models = build_models(8 if quick else 20, device, seed)
    results: dict[str, Any] = {"models": {}, "figures": {}}
    _, curve_ax = plt.subplots(figsize=(6, 4))
    budgets = QUICK_BUDGETS if quick else {}
    for name, model in models.items():
        log.info("adversarial training: %s ...", name)
        start = time.perf_counter()
        model.fit(X_train, y_train)
        fit_seconds = time.perf_counter() - start
        report = robustness_report(
            model, X_test, y_test, eps=DEMO_EPS, threat_model=PIXELS, random_state=seed, **budgets
        )
        curve = {float(k.split()[0]) * DEMO_EPS: v for k, v in report.curve.items()}
        RobustnessCurveDisplay(
            eps=list(curve), accuracy=list(curve.values()), name=name, attack_name="APGD-CE"
        ).plot(ax=curve_ax)
        entry = {
            "clean_accuracy": report.clean_accuracy,
            "autoattack": report.robust_accuracy,
            "autoattack_breakdown": report.breakdown,
            "checks_flagged": report.flagged,
            "model_card": report.to_dict(),
            "apgd_ce_curve": {str(e): a for e, a in curve.items()},
            "robust_accuracy_art": art_robust_accuracy(model, X_test, y_test),
            "fit_seconds": fit_seconds,
            "history": {key: model.history[:, key] for key in ("train_loss", "valid_robust_acc")},
        }
        results["models"][name] = entry
        log.info(
            "  clean %.3f, AutoAttack eps=%s %.3f, ART PGD %.3f (%.1f s)",
            entry["clean_accuracy"],
            DEMO_EPS,
            entry["autoattack"],
            entry["robust_accuracy_art"],
            fit_seconds,
        )
    curve_ax.axvline(DEMO_EPS, color="grey", linestyle=":", label="training eps")
    curve_ax.figure.tight_layout()
    curve_ax.figure.savefig(out / "robustness_curves.png", dpi=100)
    plt.close(curve_ax.figure)
    results["figures"]["robustness_curves.png"] = (
        "Accuracy against eps under APGD-CE, per model (dotted: the training eps)"
    )
    results["judge"] = report.settings
    plot_examples(models, X_test, y_test, out / "adversarial_examples.png")
    results["figures"]["adversarial_examples.png"] = (
        "Clean digits, and PGD digits against the undefended and the Madry-trained model, "
        "with true labels and predictions"
    )
    plot_training(models, out / "training_curves.png")
    results["figures"]["training_curves.png"] = (
        "Training loss of each model on its own axis (the objectives differ), and "
        "validation robust accuracy per epoch"
    )
    return results
