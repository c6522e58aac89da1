"""Scale-out: a real dask.distributed cluster for search, accelerate for data parallelism."""

import json
import pickle
import socket
import subprocess
import sys
from pathlib import Path

import joblib
import numpy as np
import pytest
import torch
from accelerate import Accelerator
from dask.distributed import Client, LocalCluster, get_task_stream
from sklearn.base import clone
from sklearn.datasets import load_digits, make_classification
from sklearn.model_selection import GridSearchCV

from skadv import AdversarialTrainer, GANAugmenter, make_robust_scorer, robust_accuracy
from skadv.distributed import AcceleratedAdversarialTrainer, quiet
from skadv.gans import ConditionalGAN
from skadv.modules import MLP


@pytest.fixture(scope="module")
def digits():
    X, y = load_digits(return_X_y=True)
    return (X / 16.0).astype(np.float32), y


def torch_threads(estimator, X, y):
    """A "score": the torch threads of the process that fitted and scores the candidate."""
    return torch.get_num_threads()


def test_grid_search_on_a_dask_cluster(digits):
    X, y = digits
    search = GridSearchCV(
        AdversarialTrainer(MLP, max_epochs=3, lr=0.01, train_split=None, verbose=0, random_state=0),
        {"eps": [0.05, 0.1], "attack": ["fgsm-rs", "pgd"]},
        scoring={
            "acc": "accuracy",
            "robust": make_robust_scorer("pgd", eps=0.1, steps=5),
            "threads": torch_threads,
        },
        refit="robust",
        cv=2,
    )
    with (
        LocalCluster(
            n_workers=2, threads_per_worker=1, processes=True, dashboard_address=None
        ) as cluster,
        Client(cluster) as client,
    ):
        with get_task_stream(client) as stream, joblib.parallel_backend("dask"):
            search.fit(X[:600], y[:600])
        workers = {task["worker"] for task in stream.data}
    assert len(workers) == 2  # both workers fitted candidates
    # dask's nanny starts each worker with OMP_NUM_THREADS=1, and torch follows it
    assert set(search.cv_results_["mean_test_threads"]) == {1.0}
    assert len(search.cv_results_["params"]) == 4
    assert search.best_index_ == int(np.argmax(search.cv_results_["mean_test_robust"]))


def test_grid_search_processes_split_the_cores_between_them(digits):
    X, y = digits
    search = GridSearchCV(
        AdversarialTrainer(MLP, max_epochs=1, train_split=None, verbose=0, random_state=0),
        {"eps": [0.05, 0.1]},
        scoring=torch_threads,
        cv=2,
        n_jobs=2,
    ).fit(X[:200], y[:200])
    # joblib starts its worker processes with OMP_NUM_THREADS = cores // n_jobs
    expected = max(joblib.cpu_count() // 2, 1)
    assert set(search.cv_results_["mean_test_score"]) == {float(expected)}


def test_accelerated_trainer_trains_robustly_on_cpu(digits):
    X, y = digits
    clf = AcceleratedAdversarialTrainer(
        MLP,
        accelerator=Accelerator(cpu=True),
        attack="pgd",
        eps=0.1,
        attack__steps=5,
        max_epochs=8,
        batch_size=32,
        lr=0.01,
        train_split=None,
        callbacks__print_log__sink=quiet,
        random_state=0,
    ).fit(X[:1200], y[:1200])
    plain = AdversarialTrainer(
        MLP,
        ratio=0.0,
        max_epochs=8,
        batch_size=32,
        lr=0.01,
        train_split=None,
        verbose=0,
        random_state=0,
    ).fit(X[:1200], y[:1200])
    judge = dict(eps=0.1, steps=20, step_size=0.025, random_start=False)
    assert (
        robust_accuracy(clf, X[1200:], y[1200:], **judge)
        > robust_accuracy(plain, X[1200:], y[1200:], **judge) + 0.2
    )
    assert clf.attack_module() is clf.accelerator.unwrap_model(clf.module_)


def test_accelerated_gan_on_cpu():
    X, y = make_classification(200, n_features=5, weights=[0.8], random_state=0)
    aug = GANAugmenter(
        gan=ConditionalGAN(hidden=(16,)),
        max_steps=6,  # 2 batches of 16 minority rows per epoch: 3 epochs
        batch_size=16,
        accelerator=Accelerator(cpu=True),
        random_state=0,
    )
    X_res, y_res = aug.fit_resample(X, y)
    assert np.bincount(y_res).tolist() == [np.bincount(y)[0]] * 2
    assert type(aug.gan_net_).__name__ == "AcceleratedGANNet"
    assert len(aug.gan_net_.history) == 3


def assert_clean_params(estimator):
    for name, value in estimator.get_params().items():
        assert not isinstance(value, torch.Tensor), f"{name} holds a tensor"
        assert not isinstance(value, torch.nn.Module), f"{name} holds a module instance"


def test_estimators_clone_and_pickle_cleanly_for_both_paths(digits):
    X, y = digits
    estimators = [
        AdversarialTrainer(MLP, max_epochs=1, train_split=None, verbose=0, random_state=0),
        AcceleratedAdversarialTrainer(
            MLP,
            accelerator=Accelerator(cpu=True),
            max_epochs=1,
            train_split=None,
            callbacks__print_log__sink=quiet,
            random_state=0,
        ),
        GANAugmenter(gan=ConditionalGAN(hidden=(8,)), max_steps=2, random_state=0),
    ]
    for est in estimators:
        assert_clean_params(est)
        copy = pickle.loads(pickle.dumps(clone(est)))
        if isinstance(est, GANAugmenter):
            copy.fit_resample(X[:300], y[:300])
            fitted = pickle.loads(pickle.dumps(copy))
            assert fitted.sample(2, y=1).shape == (2, 64)
        else:
            copy.fit(X[:300], y[:300])
            fitted = pickle.loads(pickle.dumps(copy))
            np.testing.assert_array_equal(fitted.predict(X[:50]), copy.predict(X[:50]))
        assert_clean_params(fitted)


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def test_two_process_data_parallel_training_under_accelerate_launch(tmp_path):
    """Real data parallelism: ``accelerate launch`` starts two CPU processes (gloo)."""
    job = Path(__file__).parent / "accelerate_job.py"
    launch = [sys.executable, "-m", "accelerate.commands.launch", "--multi_gpu"]
    launch += ["--num_processes", "2", "--num_machines", "1", "--mixed_precision", "no"]
    launch += ["--dynamo_backend", "no", "--main_process_port", str(free_port())]
    done = subprocess.run(
        [*launch, str(job), str(tmp_path)], capture_output=True, text=True, timeout=600
    )
    assert done.returncode == 0, done.stderr[-3000:]
    ranks = [json.loads((tmp_path / f"rank{i}.json").read_text()) for i in range(2)]
    for rank in ranks:
        assert rank["world_size"] == 2
        assert rank["distributed_type"] == "DistributedType.MULTI_CPU"
        assert rank["trainer_batches"] == -(-1200 // 32) // 2  # each process gets half
        assert rank["gan_batches"] == (60 // 8) // 2
        assert rank["robust_accuracy"] > 0.5
        assert rank["counts"] == [119, 119]
        assert "module__n_features" in rank["lazy_error"]
    # averaged gradients keep the replicas identical, and so their samples
    for key in ("trainer_weights", "gan_weights", "resampled"):
        assert ranks[0][key] == ranks[1][key]
