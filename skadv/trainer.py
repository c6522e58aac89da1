"""AdversarialTrainer: adversarial training as a skorch / scikit-learn classifier."""

from __future__ import annotations

import inspect
import sys
import warnings
from numbers import Integral, Real
from typing import Any, ClassVar

import numpy as np
import torch
from sklearn.base import clone
from sklearn.pipeline import Pipeline
from sklearn.utils._param_validation import (
    HasMethods,
    Interval,
    StrOptions,
    validate_parameter_constraints,
)
from sklearn.utils.multiclass import check_classification_targets
from sklearn.utils.validation import check_is_fitted, column_or_1d, validate_data
from skorch import NeuralNetClassifier
from skorch.callbacks import EpochScoring
from skorch.dataset import unpack_data
from skorch.utils import to_tensor

from skadv.differentiable import encoded_categorical, torch_view
from skadv.exceptions import TrainingError
from skadv.plugins import plugin_errors, resolve_attack, resolve_objective
from skadv.precision import PRECISIONS, autocast
from skadv.recovery import EpochSnapshots
from skadv.seeding import torch_seeded
from skadv.skorch_compat import GradScalerStep, inferred_classes, set_classes, set_training
from skadv.threat.model import ThreatModel, ThreatModelWarning
from skadv.validation import Number, caller_stacklevel, check_device, unique_labels


def _index_accuracy(net: Any, X: Any, y: Any) -> float:
    """Accuracy against encoded targets, for skorch's per-epoch validation scoring.

    ``X`` is a skorch dataset here, so the unvalidated skorch prediction path is used.
    """
    y_proba = NeuralNetClassifier.predict_proba(net, X)
    return float(np.mean(y_proba.argmax(axis=1) == np.asarray(y)))


def _last_step_of_a_plain_pipeline(estimator: Any) -> bool:
    """Whether ``estimator.fit`` was called by a scikit-learn Pipeline that ends in it and
    does not craft in its raw input space (skadv's Pipeline does)."""
    frame = sys._getframe(2)
    while frame is not None:
        owner = frame.f_locals.get("self")
        if isinstance(owner, Pipeline) and owner.steps and owner.steps[-1][1] is estimator:
            return not getattr(owner, "crafts_in_raw_space", False)
        frame = frame.f_back
    return False


class AdversarialTrainer(EpochSnapshots, GradScalerStep, NeuralNetClassifier):
    """A skorch classifier trained on adversarial examples crafted per batch.

    Every skorch feature keeps working (``device``, callbacks, ``train_split``,
    ``history``, ``Checkpoint``, ``warm_start``, ``partial_fit``, ``compile``). For every
    training batch the objective asks the attack for adversarial examples, crafted on the
    training device with the module in eval mode and no parameter gradients accumulated.

    Parameters
    ----------
    module : torch module class or instance
        Maps a batch of shape (n_samples, ...) to logits of shape (n_samples, n_classes).
    attack : str or Attack, default="pgd"
        A registered attack name (see :func:`skadv.list_attacks`) or an attack object.
        Its parameters are nested: ``attack__steps=7``.
    eps : float, default=0.1
        The threat model's perturbation budget; it overrides the attack's own ``eps``.
    objective : str or Objective, default="madry"
        ``"madry"`` (train on adversarial examples) or ``"trades"``, or any registered
        objective name (see :func:`skadv.list_objectives`), or an objective object.
        Further objective parameters are nested: ``objective__...``.
    ratio : float, default=1.0
        Fraction of each batch replaced by adversarial examples, for objectives that take
        it (``"madry"``; ``ratio=0.0`` trains an undefended model). Other objectives
        ignore it, with a warning when it is not the default.
    beta : float, default=6.0
        Weight of the robustness term, for objectives that take it (``"trades"``,
        ``"mart"``); others ignore it, with a warning when it is not the default. An
        ``objective__beta`` wins over it.
    threat_model : ThreatModel or None, default=None
        What the attacker may change, in the columns and units of the ``X`` given to
        ``fit``: bounds (per feature from the training data by default), immutable,
        integer and categorical columns, a per-feature scale of ``eps`` and relations
        between columns. ``eps`` above is its budget. ``None`` means ``ThreatModel()``.
        Inside :func:`skadv.make_pipeline`, ``X`` is the pipeline's raw input.
    random_state : int, RandomState instance or None, default=None
        Seeds weight initialization, shuffling and attack random starts during ``fit``
        without touching torch's global generator; the same integer gives the same model
        on CPU. A ``numpy.random.RandomState`` draws the seeds, so each fit differs.
    precision : {"fp32", "bf16", "fp16"}, default="fp32"
        Mixed precision: the forward passes of training and of the attack run under
        ``torch.autocast`` in bfloat16 or float16 (with gradient scaling for float16).
        Weights, inputs and the adversarial perturbation stay float32.
    channels_last : bool, default=False
        Keep the module and image batches (N, C, H, W) in channels-last memory format,
        which tensor cores prefer.
    craft_mode : {"eval", "train"}, default="eval"
        The module's mode while adversarial examples are crafted. ``"eval"`` crafts
        against the model that will be deployed (batch norm with running statistics,
        no dropout) and leaves batch-norm statistics to the training steps. ``"train"``
        crafts as fast adversarial training does (Wong et al. 2020): batch statistics,
        dropout on, and batch-norm running statistics updated by the crafting passes.
    epoch_snapshots : bool, default=True
        Keep a copy of the module's weights at the end of every epoch, so that a run
        interrupted mid-epoch (Ctrl-C, skorch's ``EarlyStopping``) or stopped by a
        diverging loss goes back to its last finished epoch. The copy costs one more
        set of weights in the device's memory (43 MB for a PreAct ResNet-18); with False the
        module is left as the interrupt found it.
    criterion : torch criterion class, default=torch.nn.CrossEntropyLoss
        Loss on logits.
    optimizer : torch optimizer class, default=torch.optim.Adam
    lr : float, default=0.001
    **kwargs
        Any other skorch ``NeuralNetClassifier`` parameter (``max_epochs``,
        ``batch_size``, ``device``, ``callbacks``, ``train_split``, ``module__*`` ...).

    Attributes
    ----------
    attack_ : Attack
        The attack used in the last fit, with ``eps`` (and the threat model's ``norm``)
        filled in.
    objective_ : Objective
        The objective used in the last fit.
    threat_ : ThreatModel
        The threat model fitted on the training data.
    feasible_ : FeasibleSet
        Its feasible set on the training device, which every crafted batch projects onto.
    raw_space_ : bool
        Whether the last fit crafted in the raw input space of a :class:`skadv.Pipeline`
        (through the torch view of its transformers).
    sample_shape_ : tuple of int
        Shape of one sample seen in fit; ``predict`` and the robust metrics refuse others.
    classes_ : ndarray of shape (n_classes,)
        Class labels seen in fit.
    n_features_in_ : int
        Features (or channels, for image input) seen in fit.

    Examples
    --------
    >>> import numpy as np, torch
    >>> from skadv import AdversarialTrainer
    >>> X = np.random.RandomState(0).rand(100, 4).astype(np.float32)
    >>> y = (X[:, 0] > 0.5).astype(int)
    >>> clf = AdversarialTrainer(torch.nn.Linear, module__in_features=4,
    ...     module__out_features=2, attack="fgsm-rs", eps=0.05, max_epochs=3,
    ...     train_split=None, verbose=0, random_state=0)
    >>> clf.fit(X, y).predict(X[:3]).shape
    (3,)
    """

    prefixes_: ClassVar[list[str]] = NeuralNetClassifier.prefixes_ + ["attack", "objective"]
    _resume_hint = ", and fit can be resumed (warm_start=True, or a Checkpoint with LoadInitState)"

    _parameter_constraints: ClassVar[dict] = {
        "attack": [str, HasMethods(["perturb", "set_params"])],
        "eps": [Number(Real, 0, None, closed="left")],
        "objective": [str, HasMethods(["loss"])],
        "ratio": [Number(Real, 0, 1, closed="both")],
        "beta": [Number(Real, 0, None, closed="left")],
        "max_epochs": [Interval(Integral, 1, None, closed="left")],
        "lr": [Number(Real, 0, None, closed="neither")],
        "threat_model": [ThreatModel, None],
        "random_state": ["random_state"],
        "precision": [StrOptions(set(PRECISIONS))],
        "channels_last": ["boolean"],
        "craft_mode": [StrOptions({"eval", "train"})],
        "epoch_snapshots": ["boolean"],
    }

    def __init__(
        self,
        module: Any,
        *,
        attack: Any = "pgd",
        eps: float = 0.1,
        objective: Any = "madry",
        ratio: float = 1.0,
        beta: float = 6.0,
        threat_model: ThreatModel | None = None,
        random_state: int | np.random.RandomState | None = None,
        precision: str = "fp32",
        channels_last: bool = False,
        craft_mode: str = "eval",
        epoch_snapshots: bool = True,
        criterion: Any = torch.nn.CrossEntropyLoss,
        optimizer: Any = torch.optim.Adam,
        lr: float = 0.001,
        **kwargs: Any,
    ):
        super().__init__(module, criterion=criterion, optimizer=optimizer, lr=lr, **kwargs)
        self.attack = attack
        self.eps = eps
        self.objective = objective
        self.ratio = ratio
        self.beta = beta
        self.threat_model = threat_model
        self.random_state = random_state
        self.precision = precision
        self.channels_last = channels_last
        self.craft_mode = craft_mode
        self.epoch_snapshots = epoch_snapshots

    def get_default_callbacks(self) -> list:
        """skorch's classifier callbacks, with validation accuracy on encoded labels.

        Returns
        -------
        list of (name, callback)
        """
        callbacks = dict(super().get_default_callbacks())
        callbacks["valid_acc"] = EpochScoring(
            _index_accuracy, name="valid_acc", lower_is_better=False
        )
        return list(callbacks.items())

    def _validate_hyperparams(self) -> None:
        validate_parameter_constraints(
            self._parameter_constraints,
            {name: getattr(self, name) for name in self._parameter_constraints},
            caller_name=type(self).__name__,
        )
        check_device(self.device)
        if not (
            isinstance(self.criterion, type)
            and issubclass(self.criterion, torch.nn.CrossEntropyLoss)
        ) and not isinstance(self.criterion, torch.nn.CrossEntropyLoss):
            raise ValueError(
                "criterion must be torch.nn.CrossEntropyLoss (or a subclass): "
                f"AdversarialTrainer attacks modules that return logits; got {self.criterion!r}."
            )

    def _check_data(self, X: Any, y: Any) -> tuple[np.ndarray, np.ndarray]:
        """Validated ``X`` and ``y`` encoded as class indices. In the first training call
        after ``initialize`` it also finds the classes and fits the threat model, and
        rebuilds the module when it needs another number of classes."""
        reset = not hasattr(self, "threat_")
        X, y = validate_data(self, X, y, reset=reset, allow_nd=True, dtype=np.float32)
        y = column_or_1d(y, warn=True)
        labels = unique_labels(y)
        check_classification_targets(y)
        if reset:
            raw = self.__dict__.get("_raw")
            classes = labels if self.classes is None else unique_labels(self.classes, "classes")
            rebuild = self._module_classes(len(classes)) != self.__dict__.get("_n_classes")
            set_classes(self, classes)
            if rebuild:
                self.initialize()
            self.raw_space_ = raw is not None
            self.sample_shape_ = X.shape[1:]
            self.threat_ = raw[1] if raw is not None else self._fit_threat(X)
        else:
            self._check_sample_shape(X)
        unseen = np.setdiff1d(y, self.classes_)
        if unseen.size:
            raise ValueError(
                f"y contains labels never seen in the first fit: {unseen.tolist()[:10]}; "
                f"known classes are {self.classes_.tolist()[:20]}. To train on labels "
                "that arrive later, give every label with the classes parameter."
            )
        return X, np.searchsorted(self.classes_, y).astype(np.int64)

    def _fit_threat(self, X: Any, encoded_categorical: Any = ()) -> ThreatModel:
        """The threat model fitted on ``X``, with this estimator's ``eps`` as budget."""
        threat = clone(self.threat_model) if self.threat_model is not None else ThreatModel()
        return threat.set_params(eps=self.eps).fit(X, encoded_categorical=encoded_categorical)

    def _check_sample_shape(self, X: np.ndarray) -> None:
        if X.shape[1:] != self.sample_shape_:
            raise ValueError(
                f"X has samples of shape {X.shape[1:]}, but {type(self).__name__} was fitted "
                f"on samples of shape {self.sample_shape_}; reshape X to "
                f"(n_samples, {', '.join(map(str, self.sample_shape_))})."
            )

    def _get_param_names(self) -> list[str]:
        return [name for name in super()._get_param_names() if not name.startswith("_")]

    def initialize_adversary(self) -> AdversarialTrainer:
        """Build ``attack_`` and ``objective_`` from the current parameters.

        Called at the start of every ``fit`` and ``partial_fit``, so parameters changed
        with ``set_params`` (``eps``, ``attack__steps``, ``ratio``...) take effect.

        Returns
        -------
        self
        """
        self.attack_ = resolve_attack(self.attack, **self.get_params_for("attack"), eps=self.eps)
        norm = self.threat_.norm or getattr(self.attack_, "norm", "linf")
        if "norm" in self.attack_.get_params():
            self.attack_.set_params(norm=norm)
        self.attack_._validate_params()
        device = torch.device(self.device or "cpu")
        self.feasible_ = self.threat_.feasible_set(eps=self.eps, norm=norm).to(
            torch.empty(0, device=device)
        )
        self.objective_ = resolve_objective(
            self.objective,
            shared={"ratio": self.ratio, "beta": self.beta},
            **self.get_params_for("objective"),
        )
        if hasattr(self.objective_, "_validate_params"):
            self.objective_._validate_params()
        taken = self.objective_.get_params(deep=False)
        for name, default in (("ratio", 1.0), ("beta", 6.0)):
            value = getattr(self, name)
            if value != default and name not in taken:
                warnings.warn(
                    f"{name}={value} has no effect: objective "
                    f"{type(self.objective_).__name__} does not take it (it takes "
                    f"{sorted(taken) or 'no parameters'}). For an undefended model use "
                    "objective='madry', ratio=0.0.",
                    UserWarning,
                    stacklevel=3,
                )
        return self

    def initialize(self) -> AdversarialTrainer:
        """Validate the parameters and (re)build module, criterion, optimizer, callbacks
        and history, seeded by ``random_state``; ``fit`` calls it, ``partial_fit`` on a
        new estimator too. The next training call finds the classes and the threat model
        again.

        Returns
        -------
        self
        """
        self._forget_data()
        with torch_seeded(self.random_state):
            super().initialize()
        return self

    def _forget_data(self) -> None:
        """Validate the parameters; drop what the last training data determined."""
        self._validate_hyperparams()
        for name in ("threat_", "sample_shape_", "raw_space_"):
            self.__dict__.pop(name, None)

    def on_train_begin(self, net: Any, X: Any = None, y: Any = None, **kwargs: Any) -> None:
        """Check the data and prepare the module and the adversary.

        The net's own hook runs before any callback's, so an ``LRScheduler`` sees the
        optimizer that training will use, even when the module is rebuilt for the
        number of classes in ``y``.

        Parameters
        ----------
        net : AdversarialTrainer
            This estimator (skorch passes the net to every hook).
        X : array-like of shape (n_samples, ...)
            Training input, as given to ``fit``.
        y : array-like of shape (n_samples,)
            Class labels, as given to ``fit``.
        **kwargs
            Further arguments skorch passes to hooks.
        """
        if _last_step_of_a_plain_pipeline(self):
            warnings.warn(
                f"{type(self).__name__} is the last step of a scikit-learn Pipeline: it trains "
                "against a threat model in the units of the transformed features, not of the "
                "X you pass. Use skadv.make_pipeline to craft in the raw input space.",
                ThreatModelWarning,
                stacklevel=caller_stacklevel(),
            )
        self._validate_hyperparams()
        X, y = self._check_data(X, y)
        self._checked = (X, y)
        with torch_seeded(self.random_state):
            self._check_output_width(X[:1])  # also materializes lazy parameters
        if self.channels_last:
            self.module_.to(memory_format=torch.channels_last)
        self.initialize_adversary()
        super().on_train_begin(net, X=X, y=y, **kwargs)

    def get_split_datasets(self, X: Any, y: Any = None, **fit_params: Any) -> tuple:
        """skorch's train/validation split of the data checked in ``on_train_begin``
        (validated ``X``, labels encoded as class indices).

        Parameters
        ----------
        X : array-like of shape (n_samples, ...)
            Training input, as given to ``fit``.
        y : array-like of shape (n_samples,)
            Class labels, as given to ``fit``.
        **fit_params
            Passed to ``train_split``.

        Returns
        -------
        dataset_train, dataset_valid
        """
        checked = self.__dict__.pop("_checked", None)
        X, y = checked if checked is not None else self._check_data(X, y)
        return super().get_split_datasets(X, y, **fit_params)

    def fit_loop(
        self, X: Any, y: Any = None, epochs: int | None = None, **fit_params: Any
    ) -> AdversarialTrainer:
        """skorch's training loop, seeded by ``random_state`` (shuffling, attack starts);
        a diverging run raises :class:`~skadv.exceptions.TrainingError` with the module
        restored to its last finished epoch.

        Parameters
        ----------
        X, y : array-like
            Training data, as given to ``fit``.
        epochs : int or None, default=None
            Number of epochs; ``max_epochs`` if None.
        **fit_params
            Not supported: attacks call the module with the input alone, so any
            (``sample_weight`` included) raises a TypeError.

        Returns
        -------
        self
        """
        unsupported = sorted(name for name in fit_params if not name.startswith("_"))
        if unsupported:
            raise TypeError(
                f"{type(self).__name__}.fit got unsupported arguments {unsupported}: attacks "
                "call the module with the input alone, so fit parameters such as "
                "sample_weight or extra forward arguments are not supported."
            )
        with torch_seeded(self.random_state):
            try:
                return super().fit_loop(X, y, epochs=epochs, **fit_params)
            except TrainingError as exc:
                if not self.epoch_snapshots:
                    raise
                n_epochs = self.restore_last_epoch()
                raise TrainingError(
                    f"{exc} The module is restored to the end of epoch {n_epochs}."
                ) from None

    def fit_raw(self, X: Any, y: Any, preprocessor: Any, Xt: Any) -> AdversarialTrainer:
        """Train on the output of a fitted ``preprocessor``, crafting in its raw input.

        Called by :class:`skadv.Pipeline`. Adversarial examples are crafted on ``X``, the
        preprocessor's raw input, through its torch view, so ``eps`` and the threat model
        are in the units and columns of ``X``; the module learns from the view's output.
        Afterwards the estimator takes ``Xt`` (the preprocessor's output) as usual.

        Parameters
        ----------
        X : DataFrame or array-like
            Raw training input.
        y : array-like of shape (n_samples,)
        preprocessor : fitted transformer (Pipeline, ColumnTransformer ...)
            Maps ``X`` to ``Xt``; it must have a torch view
            (:func:`skadv.differentiable.torch_view`).
        Xt : array-like
            ``preprocessor.transform(X)``, for the input shape of later predictions.

        Returns
        -------
        self
        """
        steps = (
            [s for _, s in preprocessor.steps] if hasattr(preprocessor, "steps") else [preprocessor]
        )
        n_columns = X.shape[1] if np.ndim(X) >= 2 else 0
        self._validate_hyperparams()
        threat = self._fit_threat(X, encoded_categorical(steps, n_columns))
        view, _ = torch_view(preprocessor, threat.schema_.columns_)
        self._raw = (view.to(torch.device(self.device or "cpu")), threat)
        try:
            self.fit(threat.schema_.encode(X), y)
        finally:
            del self._raw
        Xt = validate_data(self, Xt, reset=True, allow_nd=True, dtype=np.float32)
        self.sample_shape_ = Xt.shape[1:]
        return self

    def on_batch_end(self, net: Any, batch: Any = None, training: bool = False, **kw: Any) -> None:
        """Stop with a :class:`~skadv.exceptions.TrainingError` on a non-finite loss.

        Parameters
        ----------
        net : AdversarialTrainer
            This estimator.
        batch : tuple or None, default=None
            The batch just processed.
        training : bool, default=False
            Whether it was a training batch (validation batches are not checked).
        **kw
            Further arguments skorch passes to hooks.
        """
        if not training:
            return
        loss = self.history[-1, "batches", -1, "train_loss"]
        if not np.isfinite(loss):
            fp32 = "" if self.precision == "fp32" else ", or use precision='fp32'"
            raise TrainingError(
                f"{type(self).__name__}: the training loss became {loss} in epoch "
                f"{len(self.history)}, batch {len(self.history[-1, 'batches'])}. Lower lr "
                f"(now {self.lr:g}) or scale the input{fp32}."
            )

    def on_epoch_end(self, net: Any, **kwargs: Any) -> None:
        """Stop on non-finite weights; otherwise keep a snapshot of this epoch.

        Parameters
        ----------
        net : AdversarialTrainer
            This estimator.
        **kwargs
            Further arguments skorch passes to hooks.
        """
        params = list(self.module_.parameters())
        if params and not bool(torch.stack([p.isfinite().all() for p in params]).all()):
            raise TrainingError(
                f"{type(self).__name__}: the module's weights became NaN or infinite in "
                f"epoch {len(self.history)}. Lower lr (now {self.lr:g}) or scale the input."
            )
        super().on_epoch_end(net, **kwargs)

    def initialize_module(self) -> AdversarialTrainer:
        """Initialize ``module_``, passing ``n_classes`` when the module takes it.

        A module class whose ``__init__`` has an ``n_classes`` parameter gets the number
        of classes found in ``y`` unless ``module__n_classes`` is set.

        Returns
        -------
        self
        """
        kwargs = self.get_params_for("module")
        classes = inferred_classes(self)
        if classes is None and self.classes is not None:
            classes = self.classes
        self._n_classes = self._module_classes(None if classes is None else len(classes))
        if self._n_classes is not None:
            kwargs["n_classes"] = self._n_classes
        self.module_ = self.initialized_instance(self.module, kwargs)
        return self

    def _module_classes(self, n_classes: int | None) -> int | None:
        """The ``n_classes`` the module is built with, or None where it is not ours to
        give (an instance, no such parameter, or ``module__n_classes`` set). Before the
        classes are known: the parameter's default, or 2 where it has none."""
        if not isinstance(self.module, type) or "n_classes" in self.get_params_for("module"):
            return None
        parameter = inspect.signature(self.module).parameters.get("n_classes")
        if parameter is None:
            return None
        if n_classes is not None:
            return n_classes
        return 2 if parameter.default is inspect.Parameter.empty else parameter.default

    def _check_output_width(self, X: np.ndarray) -> None:
        module = self.attack_module()
        was_training = module.training
        module.eval()
        param = next(module.parameters(), None)
        with torch.no_grad():
            out = module(torch.as_tensor(X, device=param.device if param is not None else None))
        module.train(was_training)
        n_classes = len(self.classes_)
        if out.ndim != 2 or out.shape[1] != n_classes:
            raise ValueError(
                f"The module returns outputs of shape {tuple(out.shape)}, but y has "
                f"{n_classes} classes: it must return logits of shape (n_samples, "
                f"{n_classes}). Give the module n_classes={n_classes} (module__n_classes)."
            )

    def check_data(self, X: Any, y: Any) -> None:
        """Do nothing: ``on_train_begin`` checked the data and encoded the labels.

        skorch's version would set the classes from the raw ``y`` again.

        Parameters
        ----------
        X : array-like
            Training input.
        y : array-like
            Class labels.
        """

    def craft(
        self, X: torch.Tensor, y: torch.Tensor, *, loss_fn: Any = None, start: Any = None
    ) -> torch.Tensor:
        """Adversarial versions of a batch already on the training device.

        Parameters
        ----------
        X : torch.Tensor of shape (n_samples, ...)
        y : torch.Tensor of shape (n_samples,)
            Encoded class indices, or any per-sample targets of ``loss_fn``.
        loss_fn : callable or None, default=None
            ``loss_fn(logits, y)``, one loss per sample, for the attack to maximize;
            cross-entropy if None.
        start : torch.Tensor or None, default=None
            Where attacks without a random start begin; ``X`` when None.

        Returns
        -------
        torch.Tensor
        """
        with plugin_errors(self.attack_):
            return self.attack_.run(
                self.attack_module(),
                X,
                y,
                loss_fn=loss_fn,
                feasible=self.feasible_,
                start=start,
                module_mode=self.craft_mode,
            )

    def attack_module(self) -> torch.nn.Module:
        """The module attacks differentiate.

        Returns
        -------
        torch.nn.Module
            ``module_`` (unwrapped when distributed), behind the torch view of the
            pipeline's transformers while :meth:`fit_raw` runs.
        """
        raw = self.__dict__.get("_raw")
        return self.module_ if raw is None else torch.nn.Sequential(raw[0], self.module_)

    def infer(self, x: Any, **fit_params: Any) -> torch.Tensor:
        """skorch's forward pass; while :meth:`fit_raw` runs, through the pipeline's view.

        Parameters
        ----------
        x : torch.Tensor or array-like
            A batch of input.
        **fit_params
            Extra forward arguments (not supported by ``fit``).

        Returns
        -------
        torch.Tensor
            The module's logits.
        """
        raw = self.__dict__.get("_raw")
        if raw is not None:
            x = raw[0](to_tensor(x, device=self.device))
        return super().infer(x, **fit_params)

    def train_step_single(self, batch: Any, **fit_params: Any) -> dict:
        """Compute the objective's (adversarial) loss on a batch and its gradients.

        Parameters
        ----------
        batch : tuple
            ``(X, y)`` from the training iterator.
        **fit_params
            Extra forward arguments (not supported by ``fit``).

        Returns
        -------
        dict
            ``{"loss": loss, "y_pred": y_pred}``, as skorch expects.
        """
        set_training(self, True)
        with autocast(self.device, self.precision):
            loss, y_pred = self.objective_loss(batch)
        scaler = getattr(self, "grad_scaler_", None)
        (scaler.scale(loss) if scaler is not None else loss).backward()
        return {"loss": loss, "y_pred": y_pred}

    def initialize_optimizer(self, triggered_directly: Any = None) -> AdversarialTrainer:
        """Build the optimizer, and a gradient scaler when ``precision="fp16"``.

        Parameters
        ----------
        triggered_directly : object, default=None
            Unused; kept for skorch's signature.

        Returns
        -------
        self
        """
        super().initialize_optimizer()
        self.grad_scaler_ = (
            torch.amp.GradScaler(torch.device(self.device or "cpu").type)
            if self.precision == "fp16"
            else None
        )
        return self

    def objective_loss(self, batch: Any) -> tuple[torch.Tensor, torch.Tensor]:
        """The objective's loss on a training batch, and the predictions to log.

        Parameters
        ----------
        batch : tuple
            ``(X, y)`` from the training iterator.

        Returns
        -------
        loss, y_pred : torch.Tensor
        """
        Xi, yi = unpack_data(batch)
        Xi, yi = to_tensor(Xi, device=self.device), to_tensor(yi, device=self.device)
        if self.channels_last and Xi.ndim == 4:
            Xi = Xi.contiguous(memory_format=torch.channels_last)
        with plugin_errors(self.objective_):
            return self.objective_.loss(self, Xi, yi)

    def predict_proba(self, X: Any) -> np.ndarray:
        """Class probabilities of shape (n_samples, n_classes), in the order of ``classes_``.

        Parameters
        ----------
        X : array-like of shape (n_samples, ...)

        Returns
        -------
        ndarray of shape (n_samples, n_classes)
        """
        check_is_fitted(self, "threat_")
        X = validate_data(self, X, reset=False, allow_nd=True, dtype=np.float32)
        self._check_sample_shape(X)
        return super().predict_proba(X)

    def predict(self, X: Any) -> np.ndarray:
        """Predicted class labels.

        Parameters
        ----------
        X : array-like of shape (n_samples, ...)

        Returns
        -------
        ndarray of shape (n_samples,)
        """
        y_proba = self.predict_proba(X)
        return self.classes_[y_proba.argmax(axis=1)]

    def __sklearn_is_fitted__(self) -> bool:
        """Fitted once a training call has checked data and fitted the threat model."""
        return hasattr(self, "threat_")

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.non_deterministic = self.random_state is None
        return tags
