"""``skadv demo``: the main job on scikit-learn's bundled digits, with a report.

It trains an undefended model and AdversarialTrainer models (Madry PGD, TRADES, fast
FGSM-RS) of one architecture, measures clean and robust accuracy over an eps grid with
skadv's PGD and, independently, with ART's PGD, and writes ``report.html``,
``results.json`` and PNG figures to the output folder.
"""

from __future__ import annotations

import html
import json
import logging
import platform
import time
from importlib.metadata import version
from pathlib import Path
from typing import Any

import matplotlib

matplotlib.use("Agg")

import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import torch  # noqa: E402
from sklearn.base import clone  # noqa: E402
from sklearn.datasets import load_digits  # noqa: E402
from sklearn.model_selection import train_test_split  # noqa: E402
from skorch.dataset import ValidSplit  # noqa: E402

from skadv.callbacks import RobustScoring  # noqa: E402
from skadv.metrics import RobustnessCurveDisplay  # noqa: E402
from skadv.modules import MLP  # noqa: E402
from skadv.trainer import AdversarialTrainer  # noqa: E402

log = logging.getLogger("skadv.demo")

DEMO_EPS = 0.1
EPS_GRID = [0.0, 0.05, 0.1, 0.15, 0.2]
JUDGE = {"steps": 20, "step_size": 0.025, "random_start": False}


def check_device(device: str) -> None:
    """Fail fast, with advice, when ``device`` cannot be used on this machine."""
    if device.startswith("cuda") and not torch.cuda.is_available():
        raise SystemExit(
            f"skadv demo: --device {device} was asked for, but CUDA is not available here "
            f"(torch {torch.__version__}, cuda={torch.version.cuda}). Use --device cpu."
        )


def load_data(seed: int) -> tuple[np.ndarray, ...]:
    """Digits scaled to [0, 1], split 70/30, stratified."""
    X, y = load_digits(return_X_y=True)
    X = (X / 16.0).astype(np.float32)
    return tuple(train_test_split(X, y, test_size=0.3, random_state=seed, stratify=y))


def build_models(epochs: int, device: str, seed: int, verbose: int) -> dict[str, Any]:
    """The four models of the demo, one architecture, differing only in their defence."""
    common = dict(
        module=MLP,
        eps=DEMO_EPS,
        max_epochs=epochs,
        batch_size=32,
        lr=0.01,
        device=device,
        random_state=seed,
        verbose=verbose,
        train_split=ValidSplit(0.1, stratified=True, random_state=seed),
        callbacks=[("robust", RobustScoring("pgd", attack_params={"steps": 10}))],
    )
    pgd = dict(attack="pgd", attack__steps=7, attack__step_size=0.025)
    return {
        "undefended": AdversarialTrainer(ratio=0.0, **{**common, "max_epochs": epochs + 10}),
        "madry-pgd": AdversarialTrainer(objective="madry", **pgd, **common),
        "trades": AdversarialTrainer(objective="trades", beta=6.0, **pgd, **common),
        "fast-fgsm-rs": AdversarialTrainer(attack="fgsm-rs", **common),
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
        clip_values=model.clip_values_,
        device_type="gpu" if str(model.device).startswith("cuda") else "cpu",
    )
    attack = ProjectedGradientDescent(
        classifier, eps=DEMO_EPS, eps_step=0.025, max_iter=20, num_random_init=0, verbose=False
    )
    return float(np.mean(model.predict(attack.generate(X, y=y)) == y))


def plot_examples(model: AdversarialTrainer, X: np.ndarray, y: np.ndarray, path: Path) -> None:
    """Clean digits and their PGD versions, with the undefended model's predictions."""
    attack = clone(model.attack_).set_params(eps=DEMO_EPS, **JUDGE)
    x = torch.as_tensor(X[:8], device=model.device)
    x_adv = attack.perturb(model.module_, x, torch.as_tensor(y[:8], device=model.device))
    adv = x_adv.cpu().numpy()
    clean_pred, adv_pred = model.predict(X[:8]), model.predict(adv)
    fig, axes = plt.subplots(2, 8, figsize=(10, 3))
    for i in range(8):
        for row, (img, pred) in enumerate([(X[i], clean_pred[i]), (adv[i], adv_pred[i])]):
            ax = axes[row, i]
            ax.imshow(img.reshape(8, 8), cmap="gray_r", vmin=0, vmax=1)
            ax.set_title(f"pred {pred}", color="black" if pred == y[i] else "red", fontsize=9)
            ax.axis("off")
    fig.suptitle(f"top: clean digits; bottom: PGD eps={DEMO_EPS} (undefended model)")
    fig.tight_layout()
    fig.savefig(path, dpi=100)
    plt.close(fig)


def plot_training(models: dict[str, AdversarialTrainer], path: Path) -> None:
    """Training loss and validation robust accuracy per epoch, from skorch's history."""
    fig, (loss_ax, robust_ax) = plt.subplots(1, 2, figsize=(10, 4))
    for name, model in models.items():
        loss_ax.plot(model.history[:, "train_loss"], label=name)
        robust_ax.plot(model.history[:, "valid_robust_acc"], label=name)
    loss_ax.set(xlabel="epoch", ylabel="training loss (objective)")
    robust_ax.set(xlabel="epoch", ylabel=f"validation PGD-10 accuracy, eps={DEMO_EPS}")
    robust_ax.legend()
    fig.tight_layout()
    fig.savefig(path, dpi=100)
    plt.close(fig)


def write_report(out: Path, results: dict[str, Any]) -> None:
    """The HTML report: a results table and the figures."""
    rows = "".join(
        "<tr>"
        f"<td>{html.escape(name)}</td><td>{r['clean_accuracy']:.3f}</td>"
        f"<td>{r['robust_accuracy_skadv'][str(DEMO_EPS)]:.3f}</td>"
        f"<td>{r['robust_accuracy_art']:.3f}</td><td>{r['fit_seconds']:.1f}</td>"
        "</tr>"
        for name, r in results["models"].items()
    )
    figures = "".join(
        f'<figure><img src="{name}" alt="{html.escape(caption)}">'
        f"<figcaption>{html.escape(caption)}</figcaption></figure>"
        for name, caption in results["figures"].items()
    )
    page = f"""<!doctype html>
<html><head><meta charset="utf-8"><title>skadv demo report</title>
<style>body{{font-family:sans-serif;max-width:60em;margin:2em auto}}
table{{border-collapse:collapse}}td,th{{border:1px solid #aaa;padding:.3em .8em;text-align:right}}
figure{{margin:1.5em 0}}img{{max-width:100%}}</style></head><body>
<h1>skadv demo</h1>
<p>Digits (scikit-learn's <code>load_digits</code>, scaled to [0, 1]); one MLP architecture
trained four ways; robust accuracy at eps={DEMO_EPS} (Linf) under skadv's PGD-20 and,
independently, ART's ProjectedGradientDescent (20 steps of 0.025).</p>
<table><tr><th>model</th><th>clean accuracy</th><th>robust accuracy (skadv PGD)</th>
<th>robust accuracy (ART PGD)</th><th>fit seconds</th></tr>{rows}</table>
{figures}
<p>Device {html.escape(results["device"])}, seed {results["seed"]},
skadv {html.escape(results["versions"]["skadv"])}.</p>
</body></html>
"""
    (out / "report.html").write_text(page)


def run_demo(
    out: str | Path = "skadv-demo", device: str = "cpu", quick: bool = False, seed: int = 0
) -> dict[str, Any]:
    """Run the demo and write ``report.html``, ``results.json`` and figures to ``out``.

    Parameters
    ----------
    out : str or Path, default="skadv-demo"
        Output folder, created if missing.
    device : str, default="cpu"
        Torch device for training and attacks.
    quick : bool, default=False
        Fewer epochs, for a run of well under two minutes on two CPU cores.
    seed : int, default=0
        Seeds the split, the models and the attacks.

    Returns
    -------
    dict
        Everything written to ``results.json``.
    """
    if not log.handlers:
        log.addHandler(logging.StreamHandler())
        log.setLevel(logging.INFO)
    check_device(device)
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    X_train, X_test, y_train, y_test = load_data(seed)
    epochs = 8 if quick else 20
    models = build_models(epochs, device, seed, verbose=0)
    results: dict[str, Any] = {
        "config": {
            "quick": quick,
            "epochs": epochs,
            "eps": DEMO_EPS,
            "eps_grid": EPS_GRID,
            "judge": JUDGE,
        },
        "seed": seed,
        "device": device,
        "versions": {
            name: version(name)
            for name in (
                "skadv",
                "torch",
                "scikit-learn",
                "skorch",
                "adversarial-robustness-toolbox",
            )
        },
        "platform": platform.platform(),
        "models": {},
        "figures": {},
    }
    _, curve_ax = plt.subplots(figsize=(6, 4))
    for name, model in models.items():
        log.info("training %s ...", name)
        start = time.perf_counter()
        model.fit(X_train, y_train)
        fit_seconds = time.perf_counter() - start
        curve = RobustnessCurveDisplay.from_estimator(
            model, X_test, y_test, eps=EPS_GRID, attack="pgd", ax=curve_ax, name=name, **JUDGE
        )
        results["models"][name] = {
            "clean_accuracy": float(model.score(X_test, y_test)),
            "robust_accuracy_skadv": {
                str(e): a for e, a in zip(curve.eps, curve.accuracy, strict=True)
            },
            "robust_accuracy_art": art_robust_accuracy(model, X_test, y_test),
            "fit_seconds": fit_seconds,
            "history": {key: model.history[:, key] for key in ("train_loss", "valid_robust_acc")},
        }
        log.info(
            "  %s: clean %.3f, PGD eps=%s %.3f (%.1f s)",
            name,
            results["models"][name]["clean_accuracy"],
            DEMO_EPS,
            results["models"][name]["robust_accuracy_skadv"][str(DEMO_EPS)],
            fit_seconds,
        )
    curve_ax.figure.tight_layout()
    curve_ax.figure.savefig(out / "robustness_curves.png", dpi=100)
    plt.close(curve_ax.figure)
    results["figures"]["robustness_curves.png"] = "Accuracy against eps under PGD-20, per model"
    plot_examples(models["undefended"], X_test, y_test, out / "adversarial_examples.png")
    results["figures"]["adversarial_examples.png"] = "Clean and adversarial digits"
    plot_training(models, out / "training_curves.png")
    results["figures"]["training_curves.png"] = "Training loss and validation robust accuracy"
    (out / "results.json").write_text(json.dumps(results, indent=2))
    write_report(out, results)
    print_summary(results)
    print(f"\nReport: {out / 'report.html'}")
    return results


def print_summary(results: dict[str, Any]) -> None:
    """One screen: each model's clean and robust accuracy."""
    print(f"\n{'model':<14}{'clean':>8}{'PGD skadv':>11}{'PGD ART':>9}{'fit s':>8}")
    for name, r in results["models"].items():
        print(
            f"{name:<14}{r['clean_accuracy']:>8.3f}"
            f"{r['robust_accuracy_skadv'][str(DEMO_EPS)]:>11.3f}"
            f"{r['robust_accuracy_art']:>9.3f}{r['fit_seconds']:>8.1f}"
        )
