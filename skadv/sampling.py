"""GANAugmenter: GAN data augmentation as an imbalanced-learn sampler, for tables as they are.

A DataFrame with float, integer, bool, category and string columns goes in; the same
DataFrame, with synthetic rows appended, comes out (same columns, dtypes and
categories). :mod:`skadv.tables` reads the column kinds; a codec turns the table into the
numbers a GAN learns (categories as codes, strictly positive skewed columns in log space,
constant columns left out) and turns generated numbers back into rows that keep every
column's kind and range.
"""

from __future__ import annotations

import math
import time
import warnings
from numbers import Integral, Real
from typing import Any, ClassVar

import numpy as np
import torch
from imblearn.over_sampling.base import BaseOverSampler
from imblearn.utils import check_target_type
from scipy.stats import skew
from sklearn.base import clone
from sklearn.utils import check_array, check_consistent_length
from sklearn.utils._param_validation import HasMethods, Interval, StrOptions
from sklearn.utils.validation import check_is_fitted, validate_data

from skadv.callbacks import EpochProgress
from skadv.data import TensorBatches
from skadv.gans.base import GenerativeModel
from skadv.gans.training import FidelityStopping, GANNet
from skadv.plugins import get_gan, plugin_errors
from skadv.seeding import int_seed, torch_seeded
from skadv.tables import TableSchema
from skadv.validation import check_device, unique_labels

SKEW = 1.0  # strictly positive columns more skewed than this are modelled in log space


class TableCodec:
    """Between a table and the numbers a GAN learns.

    Categorical columns become integer codes (their positions are ``categorical_``),
    strictly positive columns skewed beyond ``SKEW`` their logarithm, constant columns
    are left out; decoding inverts all of it, rounds integer columns, keeps categories to
    those seen, and clips every number to its column's range (unless ``clip`` is False).
    """

    def __init__(self, schema: TableSchema, clip: bool):
        self.schema = schema
        self.clip = clip

    def fit(self, Z: np.ndarray) -> TableCodec:
        """Learn the codec from the schema's encoding ``Z`` of the training rows."""
        self.kept_, self.logs_, self.categorical_, self.constants_ = [], [], [], {}
        position = 0
        for column, where in zip(self.schema.columns_, self.schema.slices_, strict=True):
            if column.kind == "categorical":
                self.categorical_.append(position)
            elif not column.high > column.low:
                self.constants_[where.start] = column.low
                continue
            elif column.low > 0 and skew(Z[:, where.start]) > SKEW:
                self.logs_.append(position)
            self.kept_.append((column, where))
            position += 1
        return self

    def to_gan(self, Z: np.ndarray) -> np.ndarray:
        """The GAN's numbers for encoded rows ``Z``."""
        out = np.empty((len(Z), len(self.kept_)))
        for position, (column, where) in enumerate(self.kept_):
            if column.kind == "categorical":
                out[:, position] = Z[:, where].argmax(axis=1)
            else:
                out[:, position] = Z[:, where.start]
        out[:, self.logs_] = np.log(out[:, self.logs_])
        return out

    def from_gan(self, T: np.ndarray) -> np.ndarray:
        """Encoded rows (the schema's encoding) for generated numbers ``T``."""
        T = np.array(T, dtype=np.float64)
        T[:, self.logs_] = np.exp(np.clip(T[:, self.logs_], -700, 700))
        Z = np.zeros((len(T), self.schema.n_features_out_))
        for position, (column, where) in enumerate(self.kept_):
            if column.kind == "categorical":
                codes = np.clip(np.round(T[:, position]), 0, column.width - 1).astype(int)
                Z[np.arange(len(T)), where.start + codes] = 1.0
                continue
            values = T[:, position]
            if self.clip:
                values = np.clip(values, column.low, column.high)
            Z[:, where.start] = values
        for index, value in self.constants_.items():
            Z[:, index] = value
        return Z


class GANAugmenter(BaseOverSampler):
    """Over-sample classes with synthetic rows from a conditional GAN: an imbalanced-learn
    sampler for tables as they are (and images).

    ``fit_resample`` learns the classes that ``sampling_strategy`` targets and appends
    exactly the rows asked for, by conditioning the generator on the class. A DataFrame
    comes back as a DataFrame with the same columns, dtypes and categories, an array as an
    array, and a list as an array, as scikit-learn's transformers return it (a list of rows
    holding strings becomes one string array: pass a DataFrame to keep each column's
    type). Categorical columns
    (object, string, category and bool dtypes, or those named in ``categorical``) only
    take categories seen in fit; integer columns
    stay integral; every number stays inside its column's range (``clip``); constant
    columns stay constant; strictly positive skewed columns are learnt in log space so
    they stay positive. Any built-in GAN works on any table (``dcgan`` on images).

    Training is budgeted in generator steps (``max_steps``), with batches no larger
    than half the rows, so small data trains for enough steps and large data for no more
    than needed (in whole epochs, which go through small data several times so that
    each has about 50 steps); it stops early when the synthetic rows' per-feature means
    and spreads stop approaching the real ones, or when ``max_time`` is spent. Use it in
    ``imblearn.pipeline.make_pipeline(GANAugmenter(), estimator)`` or
    :func:`skadv.make_pipeline`, so only training folds are augmented.

    Parameters
    ----------
    sampling_strategy : float, str, dict or callable, default="auto"
        imbalanced-learn's vocabulary: ``"auto"`` / ``"not majority"``, ``"minority"``,
        ``"not minority"``, ``"all"``, a float (minority / majority ratio after
        resampling, binary only), a dict {class: samples after resampling} or a callable.
    gan : str or GAN, default="cgan"
        A registered GAN architecture name (see :func:`skadv.list_gans`) or an
        architecture object. Its hyperparameters are nested: ``gan__latent_dim``.
    categorical : "auto" or sequence of column names or positions, default="auto"
        Categorical columns besides those the dtypes name.
    clip : bool, default=True
        Keep every number inside the range its column has in the training data.
    max_steps : int or "auto", default="auto"
        Generator steps (optimizer updates) at most; "auto" is the architecture's own:
        400 for ``cgan``, 1,000 for ``tvae`` (whose steps are cheaper), ``wgan-gp`` and
        ``tabular``, 2,000 for ``dcgan``.
    batch_size : int, default=64
        Rows per step, at most half of the rows learnt from.
    early_stopping : bool, default=True
        Every 50 steps compare the synthetic rows' per-class, per-feature means and
        standard deviations with the real ones; stop after ``n_iter_no_change`` checks
        without improvement and keep the best generator. (Not under an accelerator,
        whose processes must stop together; neither is ``max_time``.)
    n_iter_no_change : int, default=10
    max_time : float or None, default=None
        Seconds of training at most.
    filter : {"classifier"} or None, default=None
        ``"classifier"`` draws ``filter_factor`` times the rows needed and keeps, per
        class, those that a gradient-boosting classifier trained on all the real rows
        gives the highest probability of their class: rows that look like another class
        are dropped. None keeps every drawn row.
    filter_factor : int, default=3
        Rows drawn per row kept, with ``filter="classifier"``.
    lr : float or "auto", default="auto"
        Learning rate of the Adam optimizers; "auto" is the architecture's own (2e-4 with
        betas 0.5, 0.9 for the GANs; 1e-3 with Adam's default betas for ``tvae``).
    device : str, default="cpu"
    callbacks : list or None, default=None
        Extra skorch callbacks for GAN training.
    verbose : int, default=0
        1 shows a progress bar over the training epochs.
    random_state : int, RandomState instance or None, default=None
        Seeds the GAN, its encoding and sampling: the same integer gives the same rows.
        A ``numpy.random.RandomState`` draws the seed, so each fit differs.
    accelerator : accelerate.Accelerator or None, default=None
        Train through Hugging Face accelerate (see :mod:`skadv.distributed`).

    Attributes
    ----------
    sampling_strategy_ : dict
        {class: number of synthetic rows} made by the last fit.
    gan_ : GAN
        The architecture used, with its fitted encoder in ``encoder_``.
    gan_net_ : GANNet or None
        The trained skorch GAN (history with ``d_loss``, ``g_loss``, ``diversity`` and
        ``fidelity``); None when there was nothing to learn.
    schema_ : TableSchema or None
        Column kinds, ranges and categories of the training rows (None for images).
    learned_classes_ : ndarray
        The classes the generator can make.

    Examples
    --------
    >>> import pandas as pd
    >>> from sklearn.datasets import make_classification
    >>> from skadv import GANAugmenter
    >>> X, y = make_classification(300, n_features=3, n_informative=3, n_redundant=0,
    ...                            weights=[0.9], random_state=0)
    >>> X = pd.DataFrame(X, columns=["a", "b", "c"]).assign(kind=(X[:, 0] > 0))
    >>> X_res, y_res = GANAugmenter(max_steps=50, random_state=0).fit_resample(X, y)
    >>> list(X_res.columns), X_res.dtypes["kind"].name, int((y_res == 1).sum())
    (['a', 'b', 'c', 'kind'], 'bool', 270)
    """

    _parameter_constraints: ClassVar[dict] = {
        **BaseOverSampler._parameter_constraints,
        "gan": [str, HasMethods(["build", "make_encoder"])],
        "categorical": [StrOptions({"auto"}), "array-like"],
        "clip": ["boolean"],
        "max_steps": [Interval(Integral, 1, None, closed="left"), StrOptions({"auto"})],
        "batch_size": [Interval(Integral, 2, None, closed="left")],
        "early_stopping": ["boolean"],
        "n_iter_no_change": [Interval(Integral, 1, None, closed="left")],
        "max_time": [Interval(Real, 0, None, closed="neither"), None],
        "filter": [StrOptions({"classifier"}), None],
        "filter_factor": [Interval(Integral, 1, None, closed="left")],
        "lr": [Interval(Real, 0, None, closed="neither"), StrOptions({"auto"})],
        "device": [str],
        "callbacks": [list, None],
        "verbose": ["verbose"],
        "random_state": ["random_state"],
        "accelerator": [HasMethods(["prepare", "backward"]), None],
    }

    def __init__(
        self,
        *,
        sampling_strategy: Any = "auto",
        gan: Any = "cgan",
        categorical: Any = "auto",
        clip: bool = True,
        max_steps: int | str = "auto",
        batch_size: int = 64,
        early_stopping: bool = True,
        n_iter_no_change: int = 10,
        max_time: float | None = None,
        filter: str | None = None,
        filter_factor: int = 3,
        lr: float | str = "auto",
        device: str = "cpu",
        callbacks: list | None = None,
        verbose: int = 0,
        random_state: int | np.random.RandomState | None = None,
        accelerator: Any = None,
    ):
        super().__init__(sampling_strategy=sampling_strategy)
        self.gan = gan
        self.categorical = categorical
        self.clip = clip
        self.max_steps = max_steps
        self.batch_size = batch_size
        self.early_stopping = early_stopping
        self.n_iter_no_change = n_iter_no_change
        self.max_time = max_time
        self.filter = filter
        self.filter_factor = filter_factor
        self.lr = lr
        self.device = device
        self.callbacks = callbacks
        self.verbose = verbose
        self.random_state = random_state
        self.accelerator = accelerator

    # ------------------------------------------------------------ parameters

    def get_params(self, deep: bool = True) -> dict[str, Any]:
        """Parameters, with the GAN's hyperparameters as ``gan__<name>`` when ``deep``.

        Parameters
        ----------
        deep : bool, default=True
            Also list the GAN architecture's hyperparameters (of the registered
            architecture when ``gan`` is a name), so searches can discover them.

        Returns
        -------
        dict
        """
        params = super().get_params(deep=False)
        if deep:
            gan = get_gan(self.gan) if isinstance(self.gan, str) else self.gan
            params.update({f"gan__{k}": v for k, v in gan.get_params(deep=False).items()})
        return params

    def set_params(self, **params: Any) -> GANAugmenter:
        """Set parameters; ``gan__<name>`` sets a GAN hyperparameter (a registered name is
        replaced by the architecture object with it, so searches can vary both).

        Parameters
        ----------
        **params
            Estimator parameters, and ``gan__<name>`` GAN hyperparameters.

        Returns
        -------
        self
        """
        nested = {k[len("gan__") :]: params.pop(k) for k in list(params) if k.startswith("gan__")}
        super().set_params(**params)
        if nested:
            gan = get_gan(self.gan) if isinstance(self.gan, str) else clone(self.gan)
            self.gan = gan.set_params(**nested)
        return self

    def _make_gan(self) -> Any:
        return get_gan(self.gan) if isinstance(self.gan, str) else clone(self.gan)

    # ------------------------------------------------------------ input

    def _check_X_y(self, X: Any, y: Any, accept_sparse: Any = None) -> tuple[Any, Any, bool]:
        """Tables as they are: DataFrames keep their columns (pandas sparse ones are made
        dense), arrays of strings are categorical, arrays of 4 axes are images."""
        y, binarize_y = check_target_type(y, indicate_one_vs_all=True)
        if hasattr(X, "columns") and hasattr(X, "dtypes"):
            X, y = validate_data(self, X, y, reset=True, skip_check_array=True)
            check_consistent_length(X, y)
            if not len(X):
                raise ValueError("Found array with 0 sample(s) in X; GANAugmenter needs rows.")
            sparse = [c for c, dtype in X.dtypes.items() if hasattr(dtype, "fill_value")]
            if sparse:
                X = X.astype({c: X[c].dtype.subtype for c in sparse})
            return X, np.asarray(y), binarize_y
        try:
            X = check_array(X, allow_nd=True, dtype="numeric", input_name="X")
        except ValueError as exc:
            if "could not convert" not in str(exc) and "strings" not in str(exc):
                raise
            X = check_array(X, dtype=None, input_name="X")  # strings: categorical columns
        if X.ndim == 2:
            validate_data(self, X, y, reset=True, dtype=None)
        else:
            self.n_features_in_ = X.shape[1]
        check_consistent_length(X, y)
        return X, y, binarize_y

    # ------------------------------------------------------------ resampling

    def fit_resample(self, X: Any, y: Any, **params: Any) -> tuple[Any, Any]:
        """Learn the targeted classes and return the data with synthetic rows appended.

        Parameters
        ----------
        X : DataFrame, array-like or list of shape (n_samples, n_features), or
            (n_samples, C, H, W) for image GANs
        y : array-like of shape (n_samples,)
        **params
            Passed on to imbalanced-learn's ``fit_resample`` (metadata routing).

        Returns
        -------
        X_resampled : DataFrame or ndarray
            The original rows followed by the synthetic ones: a DataFrame for a
            DataFrame, an ndarray otherwise.
        y_resampled : ndarray or Series
        """
        unique_labels(np.asarray(y, dtype=object).ravel())  # mixed label types: say so
        if isinstance(X, list):  # list in, array out, as scikit-learn's transformers do
            X, y = np.asarray(X), np.asarray(y)
        return super().fit_resample(X, y, **params)

    def _fit_resample(self, X: Any, y: np.ndarray) -> tuple[Any, np.ndarray]:
        if self.accelerator is None:
            check_device(self.device)
        gan = self._make_gan()
        gan._validate_params()
        seed = int_seed(self.random_state)
        image = np.ndim(X) > 2
        if image != (getattr(gan, "input_ndim", 2) > 2):
            raise ValueError(
                f"gan={self.gan!r} takes "
                f"{'images of shape (n_samples, C, H, W)' if not image else 'tables'}; got "
                f"X of shape {np.shape(X)}. Reshape it, e.g. X.reshape(-1, 1, 8, 8) for digits."
            )
        if image:  # checks the image shape before anything is trained
            with plugin_errors(gan):
                gan.make_encoder(X, seed, ())
        learned = np.array(sorted(self.sampling_strategy_))  # the classes targeted
        self.learned_classes_, self.gan_, self.gan_net_ = learned, gan, None
        self.schema_ = None if image else TableSchema(categorical=self.categorical).fit(X)
        if not len(learned) or not any(self.sampling_strategy_.values()):
            return X, y
        labels = np.concatenate(
            [np.full(n, c, dtype=y.dtype) for c, n in self.sampling_strategy_.items() if n]
        )
        rows = np.isin(y, learned)
        if rows.sum() < 2:  # no GAN learns from one row (nor does its batch norm train)
            warnings.warn(
                f"GANAugmenter has {int(rows.sum())} row to learn class(es) "
                f"{learned.tolist()} from; its synthetic rows are copies of it (random "
                "oversampling).",
                UserWarning,
                stacklevel=3,
            )
            return self._join(
                X, self._take(X, np.repeat(np.flatnonzero(rows), len(labels))), y, labels
            )
        if image:
            T, categorical = np.asarray(X, dtype=np.float32)[rows], ()
        else:
            self.codec_ = TableCodec(self.schema_, self.clip).fit(self.schema_.encode(X))
            if not self.codec_.kept_:  # every column is constant: so is every new row
                X_new = self.schema_.decode(self.codec_.from_gan(np.empty((len(labels), 0))))
                return self._join(X, X_new, y, labels)
            T = self.codec_.to_gan(self.schema_.encode(self._take(X, np.flatnonzero(rows))))
            categorical = self.codec_.categorical_
        with plugin_errors(gan):
            gan.encoder_ = gan.make_encoder(T, seed, categorical).fit(T)
        with torch_seeded(seed):
            self.gan_net_ = self._train_gan(gan, gan.encoder_.transform(T), y[rows])
            if self.filter is None:
                X_new = self._generate(labels)
            else:
                X_new = self._filtered(labels, self._gan_space(X, image), y, seed)
        return self._join(X, X_new, y, labels)

    def _gan_space(self, X: Any, image: bool) -> np.ndarray:
        """Every training row as the GAN sees it (before the architecture's encoder)."""
        if image:
            return np.asarray(X, dtype=np.float32).reshape(len(X), -1)
        return self.codec_.to_gan(self.schema_.encode(X))

    def _filtered(
        self, labels: np.ndarray, T_real: np.ndarray, y: np.ndarray, seed: int | None
    ) -> Any:
        """``filter_factor`` candidates per row, the most typical of their class kept."""
        from sklearn.ensemble import HistGradientBoostingClassifier

        judge = HistGradientBoostingClassifier(random_state=seed).fit(T_real, y)
        candidates = np.repeat(labels, self.filter_factor)
        codes = np.searchsorted(self.learned_classes_, candidates)
        T = self.gan_.encoder_.inverse_transform(self.gan_net_.generate(codes))
        proba = judge.predict_proba(T.reshape(len(T), -1))
        own = proba[np.arange(len(T)), np.searchsorted(judge.classes_, candidates)]
        keep = np.concatenate(
            [
                np.flatnonzero(candidates == c)[np.argsort(-own[candidates == c], kind="stable")][
                    : int((labels == c).sum())
                ]
                for c in np.unique(labels)
            ]
        )
        # labels come in one block per class, and so do the candidates: in index order
        # the kept rows follow the labels
        return self._decode(T[np.sort(keep)])

    @staticmethod
    def _take(X: Any, index: np.ndarray) -> Any:
        return X.iloc[index] if hasattr(X, "iloc") else np.asarray(X)[index]

    @staticmethod
    def _join(X: Any, X_new: Any, y: np.ndarray, labels: np.ndarray) -> tuple[Any, np.ndarray]:
        if hasattr(X, "iloc"):
            import pandas as pd

            joined = pd.concat([X, X_new.set_axis(X.columns, axis=1)], ignore_index=True)
            return joined.astype(X.dtypes.to_dict()), np.concatenate([y, labels])
        return np.concatenate([X, np.asarray(X_new, dtype=X.dtype)]), np.concatenate([y, labels])

    def _steps(self, gan: Any) -> int:
        if self.max_steps != "auto":
            return self.max_steps
        steps = getattr(gan, "default_steps", None)
        return steps or (2000 if getattr(gan, "input_ndim", 2) > 2 else 1000)

    def _train_gan(self, gan: Any, Z: np.ndarray, y: np.ndarray) -> GANNet:
        batch_size = max(2, min(self.batch_size, len(Z) // 2))
        batches = len(Z) // batch_size  # drop_last: every step sees a full batch
        # epochs of at least 50 steps (skorch's default DataLoader, under accelerate,
        # goes through the data once)
        steps = self._steps(gan)
        passes = (
            1
            if self.accelerator is not None
            else max(1, min(math.ceil(50 / batches), steps // batches))
        )
        every = max(1, math.ceil(50 / (passes * batches)))  # check about every 50 steps
        callbacks = list(self.callbacks or [])
        if self.accelerator is None:  # processes must stop together: no early stop there
            callbacks.append(
                FidelityStopping(
                    every=every,
                    patience=self.n_iter_no_change if self.early_stopping else None,
                    deadline=None if self.max_time is None else time.monotonic() + self.max_time,
                )
            )
        if self.verbose:
            callbacks.insert(0, EpochProgress("GAN"))
        placement: dict[str, Any] = {
            "device": self.device,
            "iterator_train": TensorBatches,
            "iterator_train__device": self.device,
            "iterator_train__passes": passes,
            "callbacks__print_log": None,  # verbose=0 prints nothing: skip tabulating it
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
            optimizer__betas=getattr(gan, "betas", GenerativeModel.betas),
            lr=getattr(gan, "learning_rate", GenerativeModel.learning_rate)
            if self.lr == "auto"
            else self.lr,
            max_epochs=math.ceil(steps / (passes * batches)),
            batch_size=batch_size,
            iterator_train__shuffle=True,
            iterator_train__drop_last=True,
            train_split=None,
            callbacks=callbacks,
            callbacks__diversity__every=every,
            verbose=0,
            **placement,
        )
        net.fit(Z, np.searchsorted(self.learned_classes_, y).astype(np.int64))
        return net

    def _generate(self, labels: np.ndarray) -> Any:
        codes = np.searchsorted(self.learned_classes_, labels)
        return self._decode(self.gan_.encoder_.inverse_transform(self.gan_net_.generate(codes)))

    def _decode(self, T: np.ndarray) -> Any:
        if self.schema_ is None:
            return T.astype(np.float32)
        return self.schema_.decode(self.codec_.from_gan(T))

    def sample(self, n_samples: int, y: Any, conditions: dict | None = None) -> Any:
        """Draw ``n_samples`` synthetic rows of class ``y``, optionally with some column
        values fixed (``conditions``).

        Conditions are met by rejection: rows are drawn from the generator until enough
        satisfy them, so they keep the correlations the GAN learnt.

        Parameters
        ----------
        n_samples : int
            Number of rows.
        y : label or array-like of shape (n_samples,)
            The class of every row, or one class per row; a class the GAN learned.
        conditions : dict or None, default=None
            {column: value} (equality) or {column: (low, high)} (a closed range).

        Returns
        -------
        DataFrame or ndarray of shape (n_samples, ...)

        Raises
        ------
        ValueError
            If the conditions are too rare to meet in 100 draws of the batch.
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
        if not conditions:
            return self._generate(labels)
        return self._conditioned(labels, conditions)

    def _conditioned(self, labels: np.ndarray, conditions: dict) -> Any:
        if self.schema_ is None:
            raise ValueError("conditions name columns: they work on tables, not images.")
        names = [c.name for c in self.schema_.columns_]
        missing = [name for name in conditions if name not in names]
        if missing:
            raise ValueError(f"conditions name columns {missing} that X did not have: {names}.")
        if len(np.unique(labels)) > 1:
            raise ValueError("conditions take one class: pass y as a single label.")
        found, tries = [], 0
        while tries < 100 and sum(len(part) for part in found) < len(labels):
            tries += 1
            batch = self._generate(labels)
            keep = np.ones(len(labels), dtype=bool)
            for name, wanted in conditions.items():
                column = np.asarray(batch[name] if self.schema_.is_frame_ else batch[:, name])
                if isinstance(wanted, tuple):
                    keep &= (column >= wanted[0]) & (column <= wanted[1])
                else:
                    keep &= column == wanted
            found.append(self._take(batch, np.flatnonzero(keep)))
        total = sum(len(part) for part in found)
        if total < len(labels):
            raise ValueError(
                f"conditions {conditions} are met by {total / (tries * len(labels)):.2%} of "
                f"the generated rows: too rare to draw {len(labels)} rows in {tries} tries."
            )
        if self.schema_.is_frame_:
            import pandas as pd

            return pd.concat(found, ignore_index=True).iloc[: len(labels)]
        return np.concatenate(found)[: len(labels)]

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.non_deterministic = self.random_state is None
        tags.input_tags.sparse = False
        tags.input_tags.categorical = True
        tags.input_tags.string = True
        return tags
