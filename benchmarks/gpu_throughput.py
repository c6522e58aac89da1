"""Adversarial-training and robust-evaluation throughput on a CIFAR-size PreAct ResNet-18.

Synthetic 3x32x32 data (throughput only: random data says nothing about accuracy), batch
256, PGD-7 at eps 8/255 (step 2/255). Each way trains one epoch over ``--n-images``
images after a warm-up epoch; prints images per second and ratios to the plain fp32
loop. Then robust evaluation, PGD-20 over the same images: skadv vs ART.

    python benchmarks/gpu_throughput.py --device cuda            # 10,000 images
    python benchmarks/gpu_throughput.py --device cpu --n-images 512

The accuracy side of each switch is checked on digits by ``--check-accuracy``: robust
accuracy with bf16 autocast and channels_last must stay within a point of fp32.
"""

from __future__ import annotations

import argparse
import time

import numpy as np
import torch
import torch.nn.functional as F

from skadv import AdversarialTrainer, robust_accuracy
from skadv.data import TensorBatches

EPS, STEP, STEPS, BATCH = 8 / 255, 2 / 255, 7, 256


class PreActBlock(torch.nn.Module):
    def __init__(self, c_in: int, c_out: int, stride: int):
        super().__init__()
        self.bn1 = torch.nn.BatchNorm2d(c_in)
        self.conv1 = torch.nn.Conv2d(c_in, c_out, 3, stride, 1, bias=False)
        self.bn2 = torch.nn.BatchNorm2d(c_out)
        self.conv2 = torch.nn.Conv2d(c_out, c_out, 3, 1, 1, bias=False)
        self.shortcut = (
            torch.nn.Conv2d(c_in, c_out, 1, stride, bias=False)
            if stride != 1 or c_in != c_out
            else None
        )

    def forward(self, x):
        out = F.relu(self.bn1(x))
        shortcut = self.shortcut(out) if self.shortcut is not None else x
        out = self.conv1(out)
        out = self.conv2(F.relu(self.bn2(out)))
        return out + shortcut


class PreActResNet18(torch.nn.Module):
    def __init__(self, n_classes: int = 10):
        super().__init__()
        self.conv = torch.nn.Conv2d(3, 64, 3, 1, 1, bias=False)
        layers, c = [], 64
        for c_out, stride in [(64, 1), (128, 2), (256, 2), (512, 2)]:
            layers += [PreActBlock(c, c_out, stride), PreActBlock(c_out, c_out, 1)]
            c = c_out
        self.layers = torch.nn.Sequential(*layers)
        self.bn = torch.nn.BatchNorm2d(512)
        self.head = torch.nn.Linear(512, n_classes)

    def forward(self, x):
        out = F.relu(self.bn(self.layers(self.conv(x))))
        return self.head(F.adaptive_avg_pool2d(out, 1).flatten(1))


def sync(device: str) -> None:
    if device.startswith("cuda"):
        torch.cuda.synchronize()


def plain_loop(X, y, device, bf16=False, channels_last=False):
    model = PreActResNet18().to(device)
    fmt = torch.channels_last if channels_last else torch.contiguous_format
    model = model.to(memory_format=fmt)
    opt = torch.optim.SGD(model.parameters(), lr=0.1, momentum=0.9)
    X, y = torch.as_tensor(X, device=device), torch.as_tensor(y, device=device)
    cast = torch.autocast(torch.device(device).type, torch.bfloat16, enabled=bf16)

    def epoch():
        for start in range(0, len(X), BATCH):
            xb = X[start : start + BATCH].contiguous(memory_format=fmt)
            yb = y[start : start + BATCH]
            model.eval()
            x_adv = (xb + (torch.rand_like(xb) * 2 - 1) * EPS).clamp(0, 1)
            for _ in range(STEPS):
                x_adv.requires_grad_(True)
                with cast:
                    loss = F.cross_entropy(model(x_adv), yb, reduction="sum")
                (grad,) = torch.autograd.grad(loss, x_adv)
                x_adv = (x_adv.detach() + STEP * grad.sign()).clamp(0, 1)
                x_adv = xb + (x_adv - xb).clamp(-EPS, EPS)
            model.train()
            with cast:
                loss = F.cross_entropy(model(x_adv.detach()), yb)
            opt.zero_grad()
            loss.backward()
            opt.step()

    return epoch


def skadv_trainer(X, y, device, fast=False):
    params = dict(
        attack="pgd",
        eps=EPS,
        attack__steps=STEPS,
        attack__step_size=STEP,
        max_epochs=1,
        batch_size=BATCH,
        optimizer=torch.optim.SGD,
        lr=0.1,
        optimizer__momentum=0.9,
        train_split=None,
        verbose=0,
        device=device,
        clip_values=(0.0, 1.0),
        iterator_train__shuffle=True,
    )
    if fast:
        params.update(
            precision="bf16",
            channels_last=True,
            iterator_train=TensorBatches,
            iterator_train__device=device,
        )
    clf = AdversarialTrainer(PreActResNet18, warm_start=True, **params)
    return lambda: clf.fit(X, y)


def art_trainer(X, y, device):
    from art.defences.trainer import AdversarialTrainerMadryPGD
    from art.estimators.classification import PyTorchClassifier

    model = PreActResNet18()
    classifier = PyTorchClassifier(
        model,
        loss=torch.nn.CrossEntropyLoss(),
        optimizer=torch.optim.SGD(model.parameters(), lr=0.1, momentum=0.9),
        input_shape=(3, 32, 32),
        nb_classes=10,
        clip_values=(0.0, 1.0),
        device_type="gpu" if device.startswith("cuda") else "cpu",
    )
    trainer = AdversarialTrainerMadryPGD(
        classifier,
        nb_epochs=1,
        batch_size=BATCH,
        eps=EPS,
        eps_step=STEP,
        max_iter=STEPS,
        num_random_init=1,
    )
    return lambda: trainer.fit(X, y)


def throughput(name, make, X, y, device, results):
    epoch = make(X, y, device)
    epoch()  # warm-up: allocation, cudnn autotuning, lazy imports
    sync(device)
    start = time.perf_counter()
    epoch()
    sync(device)
    results[name] = len(X) / (time.perf_counter() - start)
    print(f"{name:<44}{results[name]:>10.1f} images/s", flush=True)


def evaluation(X, y, device):
    from art.attacks.evasion import ProjectedGradientDescent
    from art.estimators.classification import PyTorchClassifier

    judge = dict(eps=EPS, steps=20, step_size=STEP, random_start=False, batch_size=BATCH)
    rates = {}
    for way, switches in [
        ("skadv fp32", {}),
        ("skadv bf16 + channels_last", {"precision": "bf16", "channels_last": True}),
    ]:
        clf = AdversarialTrainer(
            PreActResNet18,
            ratio=0.0,
            max_epochs=1,
            batch_size=BATCH,
            train_split=None,
            verbose=0,
            device=device,
            **switches,
        ).fit(X[:BATCH], y[:BATCH])
        robust_accuracy(clf, X[:BATCH], y[:BATCH], **judge)  # warm-up
        sync(device)
        start = time.perf_counter()
        robust_accuracy(clf, X, y, **judge)
        sync(device)
        rates[way] = len(X) / (time.perf_counter() - start)
    art = ProjectedGradientDescent(
        PyTorchClassifier(
            clf.module_.to(memory_format=torch.contiguous_format),
            loss=torch.nn.CrossEntropyLoss(),
            input_shape=(3, 32, 32),
            nb_classes=10,
            clip_values=(0.0, 1.0),
            device_type="gpu" if device.startswith("cuda") else "cpu",
        ),
        eps=EPS,
        eps_step=STEP,
        max_iter=20,
        num_random_init=0,
        batch_size=BATCH,
        verbose=False,
    )
    start = time.perf_counter()
    art.generate(X, y=y)
    rates["ART ProjectedGradientDescent"] = len(X) / (time.perf_counter() - start)
    print("PGD-20 evaluation (random data: early_stop would be meaningless here)")
    art_rate = rates["ART ProjectedGradientDescent"]
    for way, rate in rates.items():
        print(f"{way:<44}{rate:>10.1f} images/s{rate / art_rate:>7.2f}x ART")


def check_accuracy() -> None:
    from sklearn.datasets import load_digits
    from sklearn.model_selection import train_test_split

    from skadv.modules import SmallCNN

    X, y = load_digits(return_X_y=True)
    X = (X / 16.0).astype(np.float32).reshape(-1, 1, 8, 8)
    X_train, X_test, y_train, y_test = train_test_split(
        X, y, test_size=0.3, random_state=0, stratify=y
    )
    for precision, channels_last in [
        ("fp32", False),
        ("bf16", False),
        ("fp32", True),
        ("bf16", True),
        ("fp16", False),
    ]:
        clf = AdversarialTrainer(
            SmallCNN,
            attack="pgd",
            attack__steps=5,
            eps=0.1,
            precision=precision,
            channels_last=channels_last,
            max_epochs=5,
            lr=3e-3,
            batch_size=64,
            train_split=None,
            verbose=0,
            random_state=0,
        ).fit(X_train, y_train)
        acc = robust_accuracy(
            clf, X_test, y_test, eps=0.1, steps=20, step_size=0.025, random_start=False
        )
        print(f"digits, {precision}, channels_last={channels_last}: PGD-20 accuracy {acc:.3f}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--device", default="cuda" if torch.cuda.is_available() else "cpu")
    parser.add_argument("--n-images", type=int, default=10_000)
    parser.add_argument("--skip-art", action="store_true")
    parser.add_argument("--check-accuracy", action="store_true")
    parser.add_argument("--eval-only", action="store_true")
    args = parser.parse_args()
    if args.check_accuracy:
        check_accuracy()
        return
    rng = np.random.default_rng(0)
    X = rng.random((args.n_images, 3, 32, 32), dtype=np.float32)
    y = rng.integers(0, 10, args.n_images)
    name = torch.cuda.get_device_name() if args.device.startswith("cuda") else "cpu"
    print(f"device {args.device} ({name}), torch {torch.__version__}, {args.n_images} images")
    if args.eval_only:
        evaluation(X, y, args.device)
        return
    results: dict[str, float] = {}
    throughput("plain PyTorch fp32", plain_loop, X, y, args.device, results)
    throughput(
        "plain PyTorch bf16 + channels_last",
        lambda *a: plain_loop(*a, bf16=True, channels_last=True),
        X,
        y,
        args.device,
        results,
    )
    throughput("AdversarialTrainer fp32", skadv_trainer, X, y, args.device, results)
    throughput(
        "AdversarialTrainer bf16 + channels_last + device data",
        lambda *a: skadv_trainer(*a, fast=True),
        X,
        y,
        args.device,
        results,
    )
    if not args.skip_art:
        throughput("ART AdversarialTrainerMadryPGD", art_trainer, X, y, args.device, results)
    base = results["plain PyTorch fp32"]
    for way, rate in results.items():
        print(f"{way:<58}{rate / base:>6.2f}x plain fp32")
    evaluation(X, y, args.device)


if __name__ == "__main__":
    main()
