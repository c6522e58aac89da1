"""``skadv demo``: the main job on bundled data, with a report people look at.

Part 1 trains an undefended model and AdversarialTrainer models (Madry PGD, TRADES, fast
FGSM-RS) of one architecture on scikit-learn's digits and measures clean and robust
accuracy over an eps grid, judged by skadv's PGD and independently by ART's. Part 2
augments an imbalanced table with GANAugmenter and SMOTE, and draws DCGAN digits. It
writes ``report.html``, ``results.json`` and PNG figures to the output folder.
"""

from __future__ import annotations

import json
import logging
import platform
from importlib.metadata import version
from pathlib import Path
from typing import Any

import matplotlib

matplotlib.use("Agg")

import torch  # noqa: E402

from skadv.demo import augmentation, robustness  # noqa: E402
from skadv.demo.report import summary, write_report  # noqa: E402

log = logging.getLogger("skadv.demo")


def check_device(device: str) -> None:
    """Fail fast, with advice, when ``device`` cannot be used on this machine."""
    if device.startswith("cuda") and not torch.cuda.is_available():
        raise SystemExit(
            f"skadv demo: --device {device} was asked for, but CUDA is not available here "
            f"(torch {torch.__version__}, cuda={torch.version.cuda}). Use --device cpu."
        )


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
        Seeds the data splits, the models, the attacks and the GANs.

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
    robust = robustness.run(out, device, quick, seed, log)
    augmented = augmentation.run(out, device, quick, seed, log)
    results: dict[str, Any] = {
        "config": {
            "quick": quick,
            "eps": robustness.DEMO_EPS,
            "eps_grid": robustness.EPS_GRID,
            "judge": robustness.JUDGE,
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
                "imbalanced-learn",
                "adversarial-robustness-toolbox",
            )
        },
        "platform": platform.platform(),
        "models": robust["models"],
        "augmentation": augmented["augmentation"],
        "dcgan_class_agreement": augmented["dcgan_class_agreement"],
        "figures": {**robust["figures"], **augmented["figures"]},
    }
    (out / "results.json").write_text(json.dumps(results, indent=2))
    write_report(out, results)
    print("\n" + summary(results))
    print(f"Report: {out / 'report.html'}")
    return results
