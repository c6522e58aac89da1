"""skadv's Pipeline: scikit-learn's Pipeline, where adversarial training happens in the
raw input space, in the way imbalanced-learn's Pipeline adds samplers."""

from __future__ import annotations

from typing import Any

from imblearn.pipeline import Pipeline as SamplerPipeline
from sklearn.pipeline import Pipeline as TransformerChain
from sklearn.pipeline import _name_estimators


def _is_sampler(step: Any) -> bool:
    return hasattr(step, "fit_resample")


def _is_skipped(step: Any) -> bool:
    return step is None or (isinstance(step, str) and step == "passthrough")


class Pipeline(SamplerPipeline):
    """A drop-in scikit-learn Pipeline whose final adversarial trainer crafts in the raw input.

    It accepts imbalanced-learn samplers (such as :class:`~skadv.GANAugmenter`), which
    act in ``fit`` only, as in ``imblearn.pipeline.Pipeline``. When the last step can
    train in a raw space (:class:`~skadv.AdversarialTrainer`), ``fit`` fits the
    transformers, then hands the trainer the torch view of them
    (:mod:`skadv.differentiable`): every adversarial example is crafted in the units and
    columns of the ``X`` you pass, where its threat model is stated, and the module learns
    from the transformed examples. ``predict`` and the other methods are scikit-learn's.

    Parameters
    ----------
    steps : list of (str, estimator)
        Transformers and samplers, then the final estimator. Samplers must come before
        the transformers when the final step trains in the raw space.
    memory, transform_input, verbose
        As in scikit-learn's Pipeline.

    Examples
    --------
    >>> import numpy as np
    >>> from sklearn.preprocessing import StandardScaler
    >>> import skadv
    >>> from skadv.modules import MLP
    >>> X = np.random.RandomState(0).rand(80, 4).astype(np.float32)
    >>> y = (X[:, 0] > 0.5).astype(int)
    >>> pipe = skadv.make_pipeline(StandardScaler(), skadv.AdversarialTrainer(
    ...     MLP, eps=0.05, max_epochs=2, train_split=None, verbose=0, random_state=0))
    >>> pipe.fit(X, y)[-1].raw_space_
    True
    """

    crafts_in_raw_space = True

    def fit(self, X: Any, y: Any = None, **params: Any) -> Pipeline:
        """Fit the steps; a final adversarial trainer crafts in the raw input space.

        Parameters
        ----------
        X : DataFrame or array-like
        y : array-like of shape (n_samples,)
        **params
            Routed as in scikit-learn's Pipeline when the last step does not train in a
            raw space; not supported otherwise.

        Returns
        -------
        self
        """
        final = self._final_estimator
        if not hasattr(final, "fit_raw"):
            return super().fit(X, y, **params)
        if params:
            raise TypeError(
                f"Pipeline.fit got {sorted(params)}, which raw-space adversarial training "
                "does not take."
            )
        self._validate_steps()
        steps = [(name, step) for name, step in self.steps[:-1] if not _is_skipped(step)]
        samplers = [i for i, (_, step) in enumerate(steps) if _is_sampler(step)]
        transformers = steps[samplers[-1] + 1 :] if samplers else steps
        if samplers and samplers[-1] + 1 != len(samplers):
            raise ValueError(
                "Put the samplers before the transformers: a final adversarial trainer "
                "crafts in the raw input space, which a sampler after a transformer leaves."
            )
        for _, sampler in steps[: len(samplers)]:
            X, y = sampler.fit_resample(X, y)
        if not transformers:
            final.fit(X, y)
            return self
        chain = TransformerChain(transformers)
        Xt = chain.fit_transform(X, y)
        final.fit_raw(X, y, chain, Xt)
        return self


def make_pipeline(*steps: Any, memory: Any = None, verbose: bool = False) -> Pipeline:
    """Construct a :class:`skadv.Pipeline` from the given estimators, named automatically.

    Parameters
    ----------
    *steps : estimators
    memory : str or object with the joblib.Memory interface, default=None
    verbose : bool, default=False

    Returns
    -------
    Pipeline

    Examples
    --------
    >>> from sklearn.preprocessing import StandardScaler
    >>> from sklearn.linear_model import LogisticRegression
    >>> import skadv
    >>> skadv.make_pipeline(StandardScaler(), LogisticRegression()).steps[0][0]
    'standardscaler'
    """
    return Pipeline(_name_estimators(steps), memory=memory, verbose=verbose)
