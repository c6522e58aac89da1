"""GANAugmenter: GAN data augmentation as a sampler and as a meta-estimator."""

from __future__ import annotations

import warnings
from numbers import Integral, Real
from typing import Any, ClassVar

import numpy as np
import torch
from imblearn.utils import check_sampling_strategy
from sklearn.base import BaseEstimator, ClassifierMixin, MetaEstimatorMixin, _fit_context, clone
from sklearn.utils import check_array, check_consistent_length
from sklearn.utils._param_validation import HasMethods, Interval
from sklearn.utils.metaestimators import available_if
from sklearn.utils.multiclass import check_classification_targets
from sklearn.utils.validation import check_is_fitted, column_or_1d, validate_data
from skorch.callbacks import ProgressBar

from skadv.data import TensorBatches
from skadv.gans.training import GANNet
from skadv.plugins import get_gan, plugin_errors
from skadv.seeding import torch_seeded
from skadv.validation import check_device, unique_labels


def _estimator_has(attr: str) -> Any:
    def check(self: GANAugmenter) -> bool:
        if hasattr(self, "estimator_"):
            return hasattr(self.estimator_, attr)
        return self.estimator is not None and hasattr(self.estimator, attr)

    return check


class GANAugmenter(ClassifierMixin, MetaEstimatorMixin, BaseEstimator):
    """Train a conditional GAN on the training data and add synthetic rows.

    As a sampler, :meth:`fit_resample` returns the data with synthetic rows appended
    (imbalanced-learn's interface, so it works in ``imblearn.pipeline.Pipeline``). As a
    meta-estimator, :meth:`fit` augments the data and fits a clone of ``estimator`` on
    it; :meth:`predict` never augments, so cross-validation keeps synthetic rows out of
    test folds.

    The GAN learns the classes that ``sampling_strategy`` targets (all but the majority
    for ``"auto"``, every class for ``"all"``) and makes exactly the counts asked for,
    by conditioning on the class (no rejection sampling).

    Parameters
    ----------
    estimator : estimator or None, default=None
        Fitted on the augmented data by :meth:`fit`; not needed for :meth:`fit_resample`.
    gan : str or GAN, default="cgan"
        A registered GAN architecture name (see :func:`skadv.list_gans`) or an
        architecture object (``skadv.get_gan("cgan", latent_dim=64)``). Its
        hyperparameters are nested parameters: ``set_params(gan__latent_dim=64)`` and
        ``GridSearchCV`` grids such as ``{"gan__latent_dim": [32, 64]}``.
    sampling_strategy : float, str, dict, default="auto"
        imbalanced-learn's vocabulary: ``"auto"`` / ``"not majority"``, ``"minority"``,
        ``"not minority"``, ``"all"``, a float (minority / majority ratio after
        resampling, binary only) or a dict {class: samples after resampling}.
    max_epochs : int, default=300
        GAN training epochs.
    batch_size : int, default=64
        GAN training batch size.
    lr : float, default=2e-4
        Learning rate of both Adam optimizers (betas 0.5, 0.9).
    device : str, default="cpu"
        Torch device of GAN training, e.g. ``"cuda"``.
    callbacks : list or None, default=None
        Extra skorch callbacks for GAN training.
    verbose : int, default=0
        1 prints skorch's epoch log and a progress bar.
    random_state : int or None, default=None
        Seeds the GAN, its data encoding and sampling; the same value gives the same
        synthetic rows on CPU.
    accelerator : accelerate.Accelerator or None, default=None
        Train the GAN through Hugging Face accelerate (multi-GPU data parallelism, mixed
        precision); ``device`` is then left to the accelerator. See
        :mod:`skadv.distributed`.

    Attributes
    ----------
    sampling_strategy_ : dict
        {class: number of synthetic rows} made by the last fit.
    gan_ : GAN
        The architecture used, with its fitted data encoder in ``encoder_``.
    gan_net_ : GANNet or None
        The trained skorch GAN (history with ``d_loss``, ``g_loss``, ``diversity``);
        None when there was nothing to generate.
    estimator_ : estimator
        The clone of ``estimator`` fitted by :meth:`fit`.
    classes_ : ndarray
        Class labels seen in fit.

    Examples
    --------
    >>> from sklearn.datasets import make_classification
    >>> from sklearn.linear_model import LogisticRegression
    >>> from skadv import GANAugmenter
    >>> X, y = make_classification(300, weights=[0.9], random_state=0)
    >>> aug = GANAugmenter(LogisticRegression(), max_epochs=5, random_state=0)
    >>> X_res, y_res = aug.fit_resample(X, y)
    >>> int((y_res == 0).sum()) == int((y_res == 1).sum())
    True
    >>> aug.sample(3, y=1).shape
    (3, 20)
    """

    _parameter_constraints: ClassVar[dict] = {
        "estimator": [HasMethods(["fit", "predict"]), None],
        "gan": [str, HasMethods(["build", "make_encoder"])],
        "sampling_strategy": [Interval(Real, 0, 1, closed="right"), str, dict],
        "max_epochs": [Interval(Integral, 1, None, closed="left")],
        "batch_size": [Interval(Integral, 1, None, closed="left")],
        "lr": [Interval(Real, 0, None, closed="neither")],
        "device": [str],
        "callbacks": [list, None],
        "verbose": ["verbose"],
        "random_state": [Interval(Integral, 0, 2**32 - 1, closed="both"), None],
        "accelerator": [HasMethods(["prepare", "backward"]), None],
    }
    _sampling_type = "over-sampling"

    def __init__(
        self,
        estimator: Any = None,
        *,
        gan: Any = "cgan",
        sampling_strategy: Any = "auto",
        max_epochs: int = 300,
        batch_size: int = 64,
        lr: float = 2e-4,
        device: str = "cpu",
        callbacks: list | None = None,
        verbose: int = 0,
        random_state: int | None = None,
        accelerator: Any = None,
    ):
        self.estimator = estimator
        self.gan = gan
        self.sampling_strategy = sampling_strategy
        self.max_epochs = max_epochs
        self.batch_size = batch_size
        self.lr = lr
        self.device = device
        self.callbacks = callbacks
        self.verbose = verbose
        self.random_state = random_state
        self.accelerator = accelerator

    def set_params(self, **params: Any) -> GANAugmenter:
        """Set parameters; ``gan__<name>`` sets a GAN hyperparameter.

        With ``gan`` a registered name, nested parameters replace it by the architecture
        object with those hyperparameters, so ``GridSearchCV`` can search both.

        Returns
        -------
        self
        """
        nested = {k[len("gan__") :]: params.pop(k) for k in list(params) if k.startswith("gan__")}
        super().set_params(**params)
        if nested:
            gan = get_gan(self.gan) if isinstance(self.gan, str) else self.gan
            self.gan = gan.set_params(**nested)
        return self

    def _make_gan(self) -> Any:
        return get_gan(self.gan) if isinstance(self.gan, str) else clone(self.gan)

    def _validate_X(self, X: Any, gan: Any, *, reset: bool, y: Any = "no_validation") -> Any:
        """Validate tabular input with scikit-learn, image input against ``gan.input_ndim``.

        Returns ``X``, or ``(X, y)`` when ``y`` is given, as ``validate_data`` does.
        """
        ndim = getattr(gan, "input_ndim", 2)
        if ndim == 2:
            return validate_data(self, X, y, reset=reset, dtype=[np.float64, np.float32])
        X = check_array(X, allow_nd=True, dtype=np.float32, input_name="X")
        if X.ndim != ndim:
            raise ValueError(
                f"gan={self.gan!r} needs images of shape (n_samples, C, H, W); got X of "
                f"shape {X.shape}. Reshape it, e.g. X.reshape(-1, 1, 8, 8) for digits."
            )
        if reset:
            self.n_features_in_ = X.shape[1]
        if isinstance(y, str) and y == "no_validation":
            return X
        check_consistent_length(X, y)
        return X, y

    def _check_X_y(self, X: Any, y: Any, gan: Any) -> tuple[np.ndarray, np.ndarray]:
        X, y = self._validate_X(X, gan, reset=True, y=y)
        y = column_or_1d(y, warn=True)
        unique_labels(y)
        check_classification_targets(y)
        return X, y

    @_fit_context(prefer_skip_nested_validation=False)
    def fit_resample(self, X: Any, y: Any) -> tuple[np.ndarray, np.ndarray]:
        """Train the GAN and return the data with synthetic rows appended.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features), or (n_samples, C, H, W) for
            image GANs
        y : array-like of shape (n_samples,)

        Returns
        -------
        X_resampled : ndarray
            The original rows followed by the synthetic ones.
        y_resampled : ndarray
        """
        return self._fit_resample(X, y)

    def _fit_resample(self, X: Any, y: Any) -> tuple[np.ndarray, np.ndarray]:
        if self.accelerator is None:
            check_device(self.device)
        gan = self._make_gan()
        gan._validate_params()
        X, y = self._check_X_y(X, y, gan)
        with plugin_errors(gan):
            encoder = gan.make_encoder(X, self.random_state)
        self.classes_ = np.unique(y)
        self.sampling_strategy_ = dict(
            check_sampling_strategy(self.sampling_strategy, y, self._sampling_type)
        )
        learned = np.array(sorted(self.sampling_strategy_))
        self.learned_classes_ = learned
        self.gan_, self.gan_net_ = gan, None
        if len(learned) == 0 or not any(self.sampling_strategy_.values()):
            return X.copy(), y.copy()
        rows = np.isin(y, learned)
        labels = np.concatenate(
            [np.full(n, c, dtype=y.dtype) for c, n in self.sampling_strategy_.items() if n]
        )
        if rows.sum() < 2:  # no GAN learns from one row (nor does its batch norm train)
            warnings.warn(
                f"GANAugmenter has {int(rows.sum())} row to learn class(es) "
                f"{learned.tolist()} from; its synthetic rows are copies of it (random "
                "oversampling).",
                UserWarning,
                stacklevel=3,
            )
            X_new = np.repeat(X[rows], len(labels), axis=0)
            return np.concatenate([X, X_new]), np.concatenate([y, labels])
        with plugin_errors(gan):
            gan.encoder_ = encoder.fit(X[rows])
        with torch_seeded(self.random_state):
            self.gan_net_ = self._train_gan(gan, gan.encoder_.transform(X[rows]), y[rows])
            X_new = self._generate(labels)
        return np.concatenate([X, X_new.astype(X.dtype)]), np.concatenate([y, labels])

    def _train_gan(self, gan: Any, Z: np.ndarray, y: np.ndarray) -> GANNet:
        callbacks = list(self.callbacks or [])
        if self.verbose:
            callbacks.insert(0, ProgressBar())
        placement: dict[str, Any] = {
            "device": self.device,
            "iterator_train": TensorBatches,
            "iterator_train__device": self.device,
        }
        net_class: type = GANNet
        if self.accelerator is not None:
            from skadv.distributed import AcceleratedGANNet, quiet

            # skorch's default DataLoader, which the accelerator shards across processes
            net_class, placement = AcceleratedGANNet, {"accelerator": self.accelerator}
            if not self.verbose:  # skorch prints to the accelerator's sink regardless
                placement["callbacks__print_log__sink"] = quiet
        net = net_class(
            gan=gan,
            n_classes=len(self.learned_classes_),
            optimizer=torch.optim.Adam,
            optimizer__betas=(0.5, 0.9),
            lr=self.lr,
            max_epochs=self.max_epochs,
            batch_size=self.batch_size,
            iterator_train__shuffle=True,
            iterator_train__drop_last=len(Z) > self.batch_size,
            train_split=None,
            callbacks=callbacks,
            verbose=self.verbose,
            **placement,
        )
        net.fit(Z, np.searchsorted(self.learned_classes_, y).astype(np.int64))
        finished = net.last_epoch_state_[0]
        if finished == 0 and len(net.history):  # interrupted in the first epoch
            raise KeyboardInterrupt(
                "GAN training was interrupted in its first epoch; no rows were generated "
                "and no estimator was fitted."
            )
        net.recover_from_interrupt()
        return net

    def _generate(self, labels: np.ndarray) -> np.ndarray:
        Z = self.gan_net_.generate(np.searchsorted(self.learned_classes_, labels))
        return self.gan_.encoder_.inverse_transform(Z)

    def sample(self, n_samples: int, y: Any) -> np.ndarray:
        """Draw ``n_samples`` synthetic rows of class ``y``.

        Parameters
        ----------
        n_samples : int
            Number of rows.
        y : label or array-like of shape (n_samples,)
            The class of every row, or one class per row; a class the GAN learned.

        Returns
        -------
        ndarray of shape (n_samples, ...)
        """
        check_is_fitted(self, "sampling_strategy_")
        if self.gan_net_ is None:
            raise ValueError(
                "No GAN was trained in the last fit (there was nothing to generate, or too "
                "few rows to learn from), so there is nothing to sample from."
            )
        if not isinstance(n_samples, Integral) or n_samples < 1:
            raise ValueError(f"n_samples must be a positive integer, got {n_samples!r}.")
        labels = np.asarray(y)
        labels = np.full(n_samples, labels) if labels.ndim == 0 else labels
        if len(labels) != n_samples:
            raise ValueError(f"y must be one label or {n_samples} labels, got {len(labels)}.")
        unknown = np.setdiff1d(labels, self.learned_classes_)
        if unknown.size:
            raise ValueError(
                f"The GAN did not learn class(es) {unknown.tolist()}: it learns the classes "
                f"sampling_strategy targets ({self.learned_classes_.tolist()}). Fit with "
                "sampling_strategy='all', or a dict naming them, to sample them."
            )
        return self._generate(labels)

    @_fit_context(prefer_skip_nested_validation=False)
    def fit(self, X: Any, y: Any) -> GANAugmenter:
        """Augment ``X, y`` with synthetic rows and fit a clone of ``estimator`` on them.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features) or (n_samples, C, H, W)
        y : array-like of shape (n_samples,)

        Returns
        -------
        self
        """
        if self.estimator is None:
            raise ValueError(
                "GANAugmenter.fit needs an estimator to fit on the augmented data, e.g. "
                "GANAugmenter(LogisticRegression()); use fit_resample to only resample."
            )
        X_res, y_res = self._fit_resample(X, y)
        self.estimator_ = clone(self.estimator).fit(X_res, y_res)
        return self

    def _check_predict_X(self, X: Any) -> np.ndarray:
        check_is_fitted(self, "estimator_")
        return self._validate_X(X, self.gan_, reset=False)

    @available_if(_estimator_has("predict"))
    def predict(self, X: Any) -> np.ndarray:
        """Predict with the fitted estimator; no augmentation happens here.

        Parameters
        ----------
        X : array-like

        Returns
        -------
        ndarray of shape (n_samples,)
        """
        X = self._check_predict_X(X)
        return self.estimator_.predict(X)

    @available_if(_estimator_has("predict_proba"))
    def predict_proba(self, X: Any) -> np.ndarray:
        """Class probabilities from the fitted estimator.

        Parameters
        ----------
        X : array-like

        Returns
        -------
        ndarray of shape (n_samples, n_classes)
        """
        X = self._check_predict_X(X)
        return self.estimator_.predict_proba(X)

    @available_if(_estimator_has("decision_function"))
    def decision_function(self, X: Any) -> np.ndarray:
        """Decision function of the fitted estimator.

        Parameters
        ----------
        X : array-like

        Returns
        -------
        ndarray
        """
        X = self._check_predict_X(X)
        return self.estimator_.decision_function(X)

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.non_deterministic = self.random_state is None
        return tags
