"""A data-parallel job for test_scale_out: ``accelerate launch --cpu --num_processes 2``.

Each process trains an AcceleratedAdversarialTrainer and a GANAugmenter on digits through
one ``Accelerator`` and writes what it saw to ``<out>/rank<N>.json``: the distributed set-up,
a digest of the trained weights, how many batches it stepped through, and results.
"""

import hashlib
import json
import sys
from pathlib import Path

import numpy as np
import torch
from accelerate import Accelerator
from accelerate.utils import DistributedDataParallelKwargs
from sklearn.datasets import load_digits
from skorch.callbacks import Callback

from skadv import GANAugmenter, robust_accuracy
from skadv.distributed import AcceleratedAdversarialTrainer, quiet
from skadv.modules import MLP


class CountBatches(Callback):
    def on_train_begin(self, net, **kwargs):
        self.batches_ = 0

    def on_batch_end(self, net, training=False, **kwargs):
        self.batches_ += int(training)


def digest(*arrays) -> str:
    sha = hashlib.sha256()
    for array in arrays:
        sha.update(np.ascontiguousarray(array).tobytes())
    return sha.hexdigest()


def weights(module: torch.nn.Module) -> str:
    return digest(*(t.detach().cpu().numpy() for t in module.state_dict().values()))


def main(out: Path) -> None:
    accelerator = Accelerator(
        cpu=True, kwargs_handlers=[DistributedDataParallelKwargs(find_unused_parameters=True)]
    )
    X, y = load_digits(return_X_y=True)
    X = (X / 16.0).astype(np.float32)
    counter = CountBatches()
    clf = AcceleratedAdversarialTrainer(
        MLP,
        module__n_features=64,
        accelerator=accelerator,
        attack="pgd",
        eps=0.1,
        attack__steps=5,
        max_epochs=8,
        batch_size=32,
        lr=0.01,
        train_split=None,
        callbacks=[counter],
        callbacks__print_log__sink=quiet,
        random_state=0,
    ).fit(X[:1200], y[:1200])
    judge = dict(eps=0.1, steps=20, step_size=0.025, random_start=False)
    minority = np.flatnonzero(y[:1200] == 1)[:60]
    rows = np.concatenate([np.flatnonzero(y[:1200] == 0), minority])
    gan_counter = CountBatches()
    augmenter = GANAugmenter(
        accelerator=accelerator,
        max_steps=140,  # 7 batches of 8 of the 60 minority rows per epoch: 20 epochs
        batch_size=8,
        callbacks=[gan_counter],
        random_state=0,
    )
    X_res, y_res = augmenter.fit_resample(X[rows], y[rows])
    try:
        AcceleratedAdversarialTrainer(
            MLP, accelerator=accelerator, train_split=None, callbacks__print_log__sink=quiet
        ).fit(X[:64], y[:64])
        lazy_error = ""
    except ValueError as exc:
        lazy_error = str(exc)
    state = accelerator.state
    report = {
        "rank": state.process_index,
        "world_size": state.num_processes,
        "distributed_type": str(state.distributed_type),
        "trainer_weights": weights(clf.module_),
        "trainer_batches": counter.batches_ // clf.max_epochs,
        "robust_accuracy": robust_accuracy(clf, X[1200:], y[1200:], **judge),
        "gan_weights": weights(augmenter.gan_net_.pair()),
        "gan_batches": gan_counter.batches_ // augmenter.gan_net_.max_epochs,
        "resampled": digest(X_res, y_res),
        "counts": np.bincount(y_res).tolist(),
        "lazy_error": lazy_error,
    }
    (out / f"rank{state.process_index}.json").write_text(json.dumps(report))


if __name__ == "__main__":
    main(Path(sys.argv[1]))
