"""Adversarial training three ways on one set-up: AdversarialTrainer, a plain PyTorch loop, ART.

Same model, data, attack (PGD-7, eps 0.1, step 0.025, random start), batch 64, 10 epochs,
Adam lr 1e-2. Prints wall times, ratios to the plain loop, and robust accuracy judged by
ART's ProjectedGradientDescent (20 steps of 0.025, no random start).

    python benchmarks/adversarial_training.py [--device cuda] [--repeats 3]

Each way is timed ``--repeats`` times (interleaved) and the median is reported.
"""

from __future__ import annotations

import argparse
import statistics
import time

import numpy as np
import torch
import torch.nn.functional as F
from art.attacks.evasion import ProjectedGradientDescent
from art.defences.trainer import AdversarialTrainerMadryPGD
from art.estimators.classification import PyTorchClassifier
from sklearn.datasets import load_digits
from sklearn.model_selection import train_test_split

from skadv import AdversarialTrainer, ThreatModel

EPS, STEP, STEPS, BATCH, EPOCHS, LR = 0.1, 0.025, 7, 64, 10, 1e-2


class Net(torch.nn.Module):
    def __init__(self, n_classes: int = 10):
        super().__init__()
        self.hidden = torch.nn.Linear(64, 256)
        self.hidden2 = torch.nn.Linear(256, 256)
        self.out = torch.nn.Linear(256, n_classes)

    def forward(self, x):
        return self.out(torch.relu(self.hidden2(torch.relu(self.hidden(x)))))


def plain_pgd(model, x, y):
    delta = (torch.rand_like(x) * 2 - 1) * EPS
    x_adv = (x + delta).clamp(0, 1)
    for _ in range(STEPS):
        x_adv.requires_grad_(True)
        loss = F.cross_entropy(model(x_adv), y, reduction="sum")
        (grad,) = torch.autograd.grad(loss, x_adv)
        x_adv = (x_adv.detach() + STEP * grad.sign()).clamp(0, 1)
        x_adv = x + (x_adv - x).clamp(-EPS, EPS)
    return x_adv.detach()


def train_plain(X, y, device, seed):
    torch.manual_seed(seed)
    model = Net().to(device)
    optimizer = torch.optim.Adam(model.parameters(), lr=LR)
    X, y = torch.as_tensor(X, device=device), torch.as_tensor(y, device=device)
    for _ in range(EPOCHS):
        order = torch.randperm(len(X), device=device)
        for start in range(0, len(X), BATCH):
            idx = order[start : start + BATCH]
            xb, yb = X[idx], y[idx]
            model.eval()
            x_adv = plain_pgd(model, xb, yb)
            model.train()
            loss = F.cross_entropy(model(x_adv), yb)
            optimizer.zero_grad()
            loss.backward()
            optimizer.step()
    return model.eval()


def train_skadv(X, y, device, seed, ratio=1.0):
    clf = AdversarialTrainer(
        Net,
        attack="pgd",
        eps=EPS,
        attack__steps=STEPS,
        attack__step_size=STEP,
        max_epochs=EPOCHS,
        batch_size=BATCH,
        lr=LR,
        train_split=None,
        verbose=0,
        device=device,
        random_state=seed,
        ratio=ratio,
        threat_model=ThreatModel(bounds=(0.0, 1.0)),  # pixels, as the plain loop clamps
    )
    return clf.fit(X, y).module_.eval()


def art_classifier(model, device):
    return PyTorchClassifier(
        model,
        loss=torch.nn.CrossEntropyLoss(),
        optimizer=torch.optim.Adam(model.parameters(), lr=LR),
        input_shape=(64,),
        nb_classes=10,
        clip_values=(0.0, 1.0),
        device_type="gpu" if device.startswith("cuda") else "cpu",
    )


def train_art(X, y, device, seed):
    torch.manual_seed(seed)
    np.random.seed(seed)
    model = Net()
    trainer = AdversarialTrainerMadryPGD(
        art_classifier(model, device),
        nb_epochs=EPOCHS,
        batch_size=BATCH,
        eps=EPS,
        eps_step=STEP,
        max_iter=STEPS,
        num_random_init=1,
    )
    trainer.fit(X, y)
    return model.eval()


def judge(model, X, y, device, batch_size=32):
    """Accuracy of ``model`` under ART's PGD-20 (``batch_size`` 32 is ART's default)."""
    attack = ProjectedGradientDescent(
        art_classifier(model, device),
        eps=EPS,
        eps_step=STEP,
        max_iter=20,
        num_random_init=0,
        batch_size=batch_size,
        verbose=False,
    )
    X_adv = attack.generate(X, y=y)
    with torch.no_grad():
        pred = model(torch.as_tensor(X_adv, device=next(model.parameters()).device)).argmax(1)
    return float((pred.cpu().numpy() == y).mean())


def digits_split():
    """load_digits scaled to [0, 1], split 70/30 stratified."""
    X, y = load_digits(return_X_y=True)
    X = (X / 16.0).astype(np.float32)
    return train_test_split(X, y, test_size=0.3, random_state=0, stratify=y)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--device", default="cpu")
    parser.add_argument("--repeats", type=int, default=3)
    args = parser.parse_args()
    X_train, X_test, y_train, y_test = digits_split()
    ways = {"plain PyTorch": train_plain, "AdversarialTrainer": train_skadv, "ART": train_art}
    times = {name: [] for name in ways}
    robust = {}
    for repeat in range(args.repeats):
        for name, train in ways.items():
            if args.device.startswith("cuda"):
                torch.cuda.synchronize()
            start = time.perf_counter()
            model = train(X_train, y_train, args.device, seed=repeat)
            if args.device.startswith("cuda"):
                torch.cuda.synchronize()
            times[name].append(time.perf_counter() - start)
            if repeat == 0:
                robust[name] = judge(model, X_test, y_test, args.device)
    name = torch.cuda.get_device_name() if args.device.startswith("cuda") else "cpu"
    print(
        f"device: {args.device} ({name}), torch {torch.__version__}, "
        f"threads {torch.get_num_threads()}, median of {args.repeats}"
    )
    base = statistics.median(times["plain PyTorch"])
    print(f"{'way':<20}{'seconds':>9}{'vs plain':>10}{'ART PGD-20 acc':>16}")
    for way in ways:
        t = statistics.median(times[way])
        print(f"{way:<20}{t:>9.2f}{t / base:>9.2f}x{robust[way]:>16.3f}")
    art = statistics.median(times["ART"])
    skadv = statistics.median(times["AdversarialTrainer"])
    print(f"AdversarialTrainer is {art / skadv:.2f}x faster than ART")


if __name__ == "__main__":
    main()
