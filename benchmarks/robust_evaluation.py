"""Robust evaluation, PGD-20 over 10,000 digits: skadv's robust_accuracy vs ART's PGD.

Two models from ``adversarial_training.py``'s set-up (the same MLP, digits scaled to
[0, 1]): an undefended one and a Madry PGD-7 one. The 540 test digits are tiled to
``--n-samples``; every way runs PGD-20 (eps 0.1, step 0.025, no random start) in batches
of 256 and reports samples per second, the ratio to ART, and the robust accuracy it
measured. skadv (``attacked_accuracy``, the loop under ``robust_accuracy``) runs four
ways: like ART (fp32), ``early_stop=True`` (a sample leaves the batch once fooled), bf16
autocast, and both.

With ``--autoattack N``, a second table: standard AutoAttack on the first N test digits (as
1x8x8 images, which Square needs) of the Madry model, four ways side by side: skadv's
``autoattack``; the reference implementation (fra31/auto-attack, when ``--reference`` points
at a checkout of it); ART's ``AutoAttack`` with APGD-CE and APGD-DLR (100 iterations) and
Square (5,000 queries); ART's attacks at the standard version's budgets, each on the points
still correct (APGD-CE, APGD-T over the 9 most likely wrong classes, Square; ART has no
FAB, so this ART run does less than skadv's), with skadv's ``autoattack`` on that same
ensemble beside it; and torchattacks' ``AutoAttack`` (standard version, as shipped). Then
skadv's APGD-CE (100 iterations) against a bare PyTorch APGD-CE loop, per iteration.

    python benchmarks/robust_evaluation.py [--device cuda] [--n-samples 10000]
        [--autoattack 540] [--reference /path/to/auto-attack] [--threads 2]
"""

from __future__ import annotations

import argparse
import time

import numpy as np
import torch
import torch.nn.functional as F
from adversarial_training import EPS, STEP, digits_split, judge, train_skadv

from skadv import PGD
from skadv.attacks import APGD, AutoAttack
from skadv.metrics import attacked_accuracy

BATCH, STEPS = 256, 20
SKADV_WAYS = {
    "skadv fp32": {},
    "skadv early_stop": {"early_stop": True},
    "skadv bf16": {"precision": "bf16"},
    "skadv bf16 + early_stop": {"precision": "bf16", "early_stop": True},
}


def timed(device: str, run, *args, **kwargs) -> tuple[float, float]:
    if device.startswith("cuda"):
        torch.cuda.synchronize()
    start = time.perf_counter()
    accuracy = run(*args, **kwargs)
    if device.startswith("cuda"):
        torch.cuda.synchronize()
    return time.perf_counter() - start, accuracy


def skadv_accuracy(module, X, y, precision="fp32", **attack_params) -> float:
    attack = PGD(eps=EPS, steps=STEPS, step_size=STEP, random_start=False, **attack_params)
    attack.set_params(clip_values=(0.0, 1.0))
    return attacked_accuracy(module, X, y, attack, BATCH, precision=precision)


def bare_apgd_ce(module, x, y, eps, steps=100):
    """APGD-CE as a plain loop: the paper's step-size schedule, momentum 0.75, [0, 1] box."""
    n = len(x)
    shape = (n,) + (1,) * (x.ndim - 1)
    t = 2 * torch.rand_like(x) - 1
    x_adv = (x + eps * t / t.flatten(1).abs().amax(1).reshape(shape)).clamp(0, 1)

    def loss_grad(z):
        z = z.detach().requires_grad_(True)
        losses = F.cross_entropy(module(z), y, reduction="none")
        return losses.detach(), torch.autograd.grad(losses.sum(), z)[0]

    def project(z):
        return torch.min(torch.max(z, x - eps), x + eps).clamp(0, 1)

    loss, grad = loss_grad(x_adv)
    best, best_loss, best_grad = x_adv.clone(), loss.clone(), grad.clone()
    step, prev = torch.full(shape, 2 * eps), x_adv.clone()
    period, since, ups = max(int(0.22 * steps), 1), 0, torch.zeros(n)
    reduced, at_check, last = torch.ones(n, dtype=torch.bool), best_loss.clone(), loss
    for i in range(steps):
        a = 0.75 if i else 1.0
        z = project(x_adv + step * grad.sign())
        x_adv, prev = project(x_adv + a * (z - x_adv) + (1 - a) * (x_adv - prev)), x_adv
        loss, grad = loss_grad(x_adv)
        ups += (loss > last).float()
        last = loss
        better = loss > best_loss
        best[better], best_grad[better], best_loss[better] = (
            x_adv[better],
            grad[better],
            loss[better],
        )
        since += 1
        if since == period:
            cut = (ups <= 0.75 * period) | (~reduced & (at_check >= best_loss))
            reduced, at_check = cut, best_loss.clone()
            step[cut] /= 2
            x_adv[cut], grad[cut] = best[cut], best_grad[cut]
            period, since, ups = (
                max(period - max(int(0.03 * steps), 1), max(int(0.06 * steps), 1)),
                0,
                torch.zeros(n),
            )
    return best


def art_apgd(classifier, loss: str, targeted: bool = False):
    """ART's APGD at AutoAttack's budget: 100 iterations, one run, first step 2 eps."""
    from art.attacks.evasion import AutoProjectedGradientDescent

    return AutoProjectedGradientDescent(
        classifier,
        eps=EPS,
        eps_step=2 * EPS,
        max_iter=100,
        nb_random_init=1,
        loss_type=loss,
        targeted=targeted,
        batch_size=BATCH,
        verbose=False,
    )


def art_square(classifier):
    """ART's Square at AutoAttack's budget: 5,000 queries."""
    from art.attacks.evasion import SquareAttack

    return SquareAttack(
        classifier, eps=EPS, max_iter=5000, p_init=0.8, batch_size=BATCH, verbose=False
    )


def art_standard(classifier, images, X_img: np.ndarray, y: np.ndarray) -> np.ndarray:
    """Standard AutoAttack's budgets with ART's attacks, each on the points still correct:
    APGD-CE (100 iterations), APGD-T (targeted DLR, 100 iterations, each of the 9 most
    likely wrong classes in turn, as the reference picks them) and Square (5,000
    queries). ART has no FAB, so FAB-T is left out."""
    with torch.no_grad():
        ranked = images(torch.as_tensor(X_img)).argsort(dim=1, descending=True).numpy()
    x_adv = X_img.copy()
    robust = classifier.predict(X_img, batch_size=BATCH).argmax(1) == y
    runs = [(art_apgd(classifier, "cross_entropy"), y)]
    runs += [
        (art_apgd(classifier, "difference_logits_ratio", targeted=True), ranked[:, rank])
        for rank in range(1, 10)
    ]
    runs += [(art_square(classifier), y)]
    for attack, labels in runs:
        index = np.flatnonzero(robust)
        if not len(index):
            break
        found = attack.generate(X_img[index], y=labels[index])
        fooled = classifier.predict(found, batch_size=BATCH).argmax(1) != y[index]
        x_adv[index[fooled]] = found[fooled]
        robust[index[fooled]] = False
    return x_adv


def autoattack_table(module, X, y, reference: str | None) -> None:
    """Standard AutoAttack four ways, then APGD-CE per iteration against a bare loop."""
    import sys

    import torchattacks
    from art.attacks.evasion import AutoAttack as ARTAutoAttack
    from art.estimators.classification import PyTorchClassifier

    images = torch.nn.Sequential(torch.nn.Flatten(), module).eval()
    X_img, y_t = X.reshape(-1, 1, 8, 8), torch.as_tensor(y)

    def accuracy(x_adv):
        with torch.no_grad():
            return float((images(torch.as_tensor(x_adv)).argmax(1) == y_t).double().mean())

    ways = {
        "skadv autoattack": lambda: attacked_accuracy(
            images, X_img, y, AutoAttack(eps=EPS, clip_values=(0.0, 1.0), random_state=0), BATCH
        )
    }
    ways["skadv APGD-CE, APGD-T, Square (the ART row's ensemble)"] = lambda: attacked_accuracy(
        images,
        X_img,
        y,
        AutoAttack(
            eps=EPS,
            version="custom",
            attacks=("apgd-ce", "apgd-t", "square"),
            clip_values=(0.0, 1.0),
            random_state=0,
        ),
        BATCH,
    )
    if reference:
        sys.path.insert(0, reference)
        from autoattack import AutoAttack as Reference

        ref = Reference(
            images, norm="Linf", eps=EPS, version="standard", device="cpu", seed=0, verbose=False
        )
        ways["reference (fra31)"] = lambda: accuracy(
            ref.run_standard_evaluation(torch.as_tensor(X_img), y_t, bs=BATCH)
        )
    classifier = PyTorchClassifier(
        images,
        loss=torch.nn.CrossEntropyLoss(),
        input_shape=(1, 8, 8),
        nb_classes=10,
        clip_values=(0.0, 1.0),
    )
    ensemble = [
        art_apgd(classifier, "cross_entropy"),
        art_apgd(classifier, "difference_logits_ratio"),
    ]
    ensemble.append(art_square(classifier))
    art = ARTAutoAttack(classifier, eps=EPS, eps_step=2 * EPS, attacks=ensemble, batch_size=BATCH)
    ways["ART AutoAttack (APGD-CE, APGD-DLR, Square)"] = lambda: accuracy(art.generate(X_img, y=y))
    ways["ART APGD-CE, APGD-T, Square (standard less FAB-T)"] = lambda: accuracy(
        art_standard(classifier, images, X_img, y)
    )
    port = torchattacks.AutoAttack(
        images, norm="Linf", eps=EPS, version="standard", n_classes=10, seed=0
    )
    ways["torchattacks AutoAttack"] = lambda: accuracy(port(torch.as_tensor(X_img), y_t))
    results = {way: timed("cpu", run) for way, run in ways.items()}
    skadv_seconds = results["skadv autoattack"][0]
    print(f"\nStandard AutoAttack, eps {EPS}, {len(y)} digits, Madry PGD-7 model:")
    print("| way | seconds | skadv's speed-up | robust accuracy |\n| --- | --- | --- | --- |")
    for way, (seconds, acc) in results.items():
        print(f"| {way} | {seconds:.1f} | {seconds / skadv_seconds:.2f}x | {acc:.3f} |")
    x, yy = torch.as_tensor(X), torch.as_tensor(y)
    apgd = APGD(eps=EPS, steps=100, clip_values=(0.0, 1.0), random_state=0)
    ours, _ = timed("cpu", apgd.run, module, x, yy)
    bare, _ = timed("cpu", bare_apgd_ce, module, x, yy, EPS)
    print(
        f"APGD-CE, 100 iterations on {len(y)} digits: skadv {1000 * ours / 100:.2f} ms per "
        f"iteration, bare PyTorch loop {1000 * bare / 100:.2f} ms ({ours / bare:.2f}x)"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--device", default="cpu")
    parser.add_argument("--n-samples", type=int, default=10_000)
    parser.add_argument("--autoattack", type=int, default=0)
    parser.add_argument("--reference", default=None)
    parser.add_argument("--threads", type=int, default=2)
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    X_train, X_test, y_train, y_test = digits_split()
    index = np.resize(np.arange(len(X_test)), args.n_samples)
    X_eval, y_eval = X_test[index], y_test[index]
    name = torch.cuda.get_device_name() if args.device.startswith("cuda") else "cpu"
    print(
        f"device {args.device} ({name}), torch {torch.__version__} on {args.threads} threads, "
        f"{args.n_samples} samples"
    )
    models = {
        "undefended": train_skadv(X_train, y_train, args.device, seed=0, ratio=0.0),
        "Madry PGD-7": train_skadv(X_train, y_train, args.device, seed=0),
    }
    for label, module in models.items():
        skadv_accuracy(module, X_eval[:BATCH], y_eval[:BATCH])  # warm-up
        results = {"ART": timed(args.device, judge, module, X_eval, y_eval, args.device, BATCH)}
        for way, extra in SKADV_WAYS.items():
            results[way] = timed(args.device, skadv_accuracy, module, X_eval, y_eval, **extra)
        print(f"\n{label}: {'way':<26}{'samples/s':>11}{'vs ART':>9}{'robust acc':>12}")
        art_seconds = results["ART"][0]
        for way, (seconds, accuracy) in results.items():
            print(
                f"{'':<{len(label) + 2}}{way:<26}{args.n_samples / seconds:>11.0f}"
                f"{art_seconds / seconds:>8.2f}x{accuracy:>12.3f}"
            )
    if args.autoattack:
        autoattack_table(
            models["Madry PGD-7"],
            X_test[: args.autoattack],
            y_test[: args.autoattack],
            args.reference,
        )


if __name__ == "__main__":
    main()
