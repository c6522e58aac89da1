"""``skadv demo``: the main job on bundled data, with a report people look at.

Part 1 trains an undefended model and AdversarialTrainer models (Madry PGD, TRADES, fast
FGSM-RS) of one architecture on scikit-learn's digits and judges them with standard
AutoAttack (with its checks for gradient masking), APGD-CE over an eps grid, and
independently ART's PGD. Part 2
augments an imbalanced table with GANAugmenter and SMOTE, and draws DCGAN digits. It
writes ``report.html``, ``results.json`` and PNG figures to the output folder.
"""

from __future__ import annotations

import contextlib
import json
import logging
import os
import platform
import time
from collections.abc import Iterator
from importlib.metadata import version
from pathlib import Path
from typing import Any

import matplotlib
import torch
from threadpoolctl import threadpool_limits

matplotlib.use("Agg")

from skadv.demo import augmentation, robustness  # noqa: E402
from skadv.demo.report import summary, write_report  # noqa: E402
from skadv.validation import check_device  # noqa: E402

log = logging.getLogger("skadv.demo")


def prepare_output(out: str | Path, force: bool) -> Path:
    """Check that ``out`` is, or can become, an empty writable folder; create it.

    Raises a ValueError, naming the folder and the fix, before any training starts.
    """
    if not str(out).strip():
        raise ValueError("--out is empty; name an output folder, such as --out skadv-demo.")
    path = Path(out)
    if path.exists() and not path.is_dir():
        raise ValueError(f"--out {path} is a file, not a folder; name a folder.")
    if path.is_dir() and any(path.iterdir()) and not force:
        raise ValueError(
            f"--out {path} is not empty; the demo would overwrite its files. Name a new "
            "folder, or pass --force to write into this one."
        )
    try:
        path.mkdir(parents=True, exist_ok=True)
        probe = path / ".skadv-write-test"
        probe.write_bytes(b"")
        probe.unlink()
    except OSError as exc:
        raise ValueError(f"--out {path} is not a writable folder: {exc.strerror}.") from None
    return path


@contextlib.contextmanager
def limited_threads(threads: int) -> Iterator[None]:
    """Within the block, torch and the BLAS and OpenMP pools of numpy and scikit-learn
    use ``threads`` threads; afterwards torch's count is restored (threadpoolctl restores
    the others)."""
    before = torch.get_num_threads()
    torch.set_num_threads(threads)
    try:
        with threadpool_limits(threads):
            yield
    finally:
        torch.set_num_threads(before)


def cpu_name() -> str:
    """The CPU's model name, as the operating system reports it."""
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine()


def run_demo(
    out: str | Path = "skadv-demo",
    device: str = "cpu",
    quick: bool = False,
    seed: int = 0,
    force: bool = False,
    threads: int = 1,
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
    force : bool, default=False
        Write into ``out`` even when it holds files.
    threads : int, default=1
        CPU threads for torch and for the BLAS and OpenMP pools of numpy and
        scikit-learn, restored afterwards. One thread keeps the run steady on a busy
        machine: torch's default of one thread per core ran 15 times slower than one
        thread on a two-core machine with other work.

    Returns
    -------
    dict
        Everything written to ``results.json``.
    """
    if not log.handlers:
        log.addHandler(logging.StreamHandler())
        log.setLevel(logging.INFO)
    check_device(device, "--device")
    if isinstance(threads, bool) or not isinstance(threads, int) or threads < 1:
        raise ValueError(f"--threads must be a positive integer, got {threads!r}.")
    out = prepare_output(out, force)
    start = time.perf_counter()
    with limited_threads(threads):
        robust = robustness.run(out, device, quick, seed, log)
        augmented = augmentation.run(out, device, quick, seed, log)
    results: dict[str, Any] = {
        "config": {
            "quick": quick,
            "eps": robustness.DEMO_EPS,
            "judge": robust["judge"],
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
        "run": {
            "seconds": time.perf_counter() - start,
            "threads": threads,
            "cpu": cpu_name(),
            "cores": os.cpu_count(),
        },
        "models": robust["models"],
        "augmentation": augmented["augmentation"],
        "synthetic_report": augmented["synthetic_report"],
        "dcgan_class_agreement": augmented["dcgan_class_agreement"],
        "figures": {**robust["figures"], **augmented["figures"]},
    }
    (out / "results.json").write_text(json.dumps(results, indent=2))
    write_report(out, results)
    print("\n" + summary(results))
    print(f"Report: {out / 'report.html'}")
    return results
