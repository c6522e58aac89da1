"""The threat model in the user's input space: pipelines, DataFrames, feasible attacks."""

import warnings

import numpy as np
import pandas as pd
import pytest
import torch
from art.attacks.evasion import ProjectedGradientDescent
from art.estimators.classification import PyTorchClassifier
from sklearn.compose import ColumnTransformer, make_column_selector
from sklearn.decomposition import PCA, TruncatedSVD
from sklearn.impute import SimpleImputer
from sklearn.pipeline import Pipeline
from sklearn.pipeline import make_pipeline as sklearn_pipeline
from sklearn.preprocessing import (
    FunctionTransformer,
    KBinsDiscretizer,
    MaxAbsScaler,
    MinMaxScaler,
    OneHotEncoder,
    OrdinalEncoder,
    RobustScaler,
    StandardScaler,
)

import skadv
from skadv import AdversarialTrainer, ThreatModel, adversarial_examples, robust_accuracy
from skadv.datasets import CREDIT_CONSTRAINTS, make_credit
from skadv.differentiable import NotTranslatableError, encoded_categorical, torch_view
from skadv.modules import MLP
from skadv.tables import TableSchema
from skadv.threat import Feature, ThreatModelWarning
from skadv.threat.constraints import parse

PIXELS = ThreatModel(bounds=(0.0, 1.0))


def trainer(**params):
    defaults = dict(
        module=MLP,
        eps=0.1,
        attack="pgd",
        attack__steps=7,
        max_epochs=12,
        lr=0.01,
        batch_size=32,
        train_split=None,
        verbose=0,
        random_state=0,
    )
    return AdversarialTrainer(**{**defaults, **params})


def art_judge(pipe, X, y):
    """ART's PGD-20 on the whole pipeline in the raw [0, 1] pixel space: ART applies the
    scaler itself (``preprocessing``), so nothing of skadv's views is involved."""
    scaler, net = pipe[0], pipe[-1]
    classifier = PyTorchClassifier(
        net.module_.eval(),
        loss=torch.nn.CrossEntropyLoss(),
        input_shape=X.shape[1:],
        nb_classes=10,
        clip_values=(0.0, 1.0),
        preprocessing=(scaler.mean_.astype(np.float32), scaler.scale_.astype(np.float32)),
    )
    attack = ProjectedGradientDescent(
        classifier, eps=0.1, eps_step=0.01, max_iter=20, num_random_init=0, verbose=False
    )
    X_adv = attack.generate(X, y=y)
    return float(np.mean(classifier.predict(X_adv).argmax(axis=1) == y))


@pytest.fixture(scope="module")
def pipelines(digits):
    X_train, _, y_train, _ = digits
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ThreatModelWarning)
        plain = sklearn_pipeline(StandardScaler(), trainer(threat_model=PIXELS))
        plain.fit(X_train, y_train)
    hardened = skadv.make_pipeline(StandardScaler(), trainer(threat_model=PIXELS))
    return plain, hardened.fit(X_train, y_train)


@pytest.mark.parametrize("which", ["plain Pipeline", "skadv.make_pipeline"])
def test_robust_accuracy_of_a_pipeline_agrees_with_an_independent_raw_space_judge(
    which, pipelines, digits
):
    _, X_test, _, y_test = digits
    pipe = pipelines[which == "skadv.make_pipeline"]
    ours = robust_accuracy(
        pipe,
        X_test,
        y_test,
        "pgd",
        eps=0.1,
        steps=20,
        step_size=0.01,
        random_start=False,
        threat_model=PIXELS,
    )
    judge = art_judge(pipe, X_test, y_test)
    assert abs(ours - judge) <= 0.015, (ours, judge)


def test_hardened_pipeline_is_robust_in_the_raw_space_and_the_plain_one_is_not(pipelines, digits):
    _, X_test, _, y_test = digits
    plain, hardened = pipelines
    assert hardened[-1].raw_space_ and not plain[-1].raw_space_
    assert art_judge(hardened, X_test, y_test) >= 0.60
    # trained against eps 0.1 in standardized units, the plain one is not robust at all
    assert art_judge(plain, X_test, y_test) < 0.3


def test_a_trainer_in_a_plain_pipeline_warns_that_its_units_are_transformed(digits):
    X_train, _, y_train, _ = digits
    with pytest.warns(ThreatModelWarning, match="units of the transformed features") as record:
        sklearn_pipeline(StandardScaler(), trainer(max_epochs=1)).fit(X_train, y_train)
    assert record[0].filename == __file__  # points at the caller, not at a skorch hook
    with warnings.catch_warnings():
        warnings.simplefilter("error", ThreatModelWarning)
        skadv.make_pipeline(StandardScaler(), trainer(max_epochs=1)).fit(X_train, y_train)


# ---------------------------------------------------------------- a credit-style table


CREDIT_THREAT = ThreatModel(
    scale="std",
    immutable=["age", "region"],
    switchable=["job"],
    constraints=list(CREDIT_CONSTRAINTS),
)


def credit_pipeline(**params):
    preprocess = ColumnTransformer(
        [
            ("numbers", StandardScaler(), make_column_selector(dtype_include="number")),
            ("categories", OneHotEncoder(sparse_output=False), ["job", "region", "owner"]),
        ]
    )
    net = trainer(
        module__hidden=(32,), eps=0.3, max_epochs=15, threat_model=CREDIT_THREAT, **params
    )
    return skadv.make_pipeline(preprocess, net)


@pytest.fixture(scope="module")
def credit():
    X, y = make_credit(400, random_state=0)
    return X, y, credit_pipeline().fit(X, y)


def test_adversarial_rows_of_a_mixed_dataframe_are_all_feasible(credit):
    X, y, pipe = credit
    X_adv = adversarial_examples(pipe, X, y, "pgd", steps=10, random_state=0)
    assert list(X_adv.columns) == list(X.columns) and (X_adv.dtypes == X.dtypes).all()
    assert X_adv.index.equals(X.index)
    assert X_adv["job"].cat.categories.equals(X["job"].cat.categories)
    assert set(X_adv["job"]) <= set(X["job"]) and (X_adv["job"] != X["job"]).any()
    assert set(X_adv["region"]) <= set(X["region"])
    for column in ("age", "region", "owner"):  # immutable, or categorical and fixed
        assert (X_adv[column] == X[column]).all()
    assert (X_adv["accounts"] == X_adv["accounts"].round()).all()
    numbers = X.select_dtypes("number").columns
    slack = 1e-6 * (X[numbers].abs().max() + 1)  # the attack runs in float32
    assert (X_adv[numbers] >= X[numbers].min() - slack).all().all()
    assert (X_adv[numbers] <= X[numbers].max() + slack).all().all()
    assert (X_adv["debt"] <= 2 * X_adv["income"] + 1e-6).all()
    np.testing.assert_allclose(X_adv["loan_total"], X_adv["loan_a"] + X_adv["loan_b"], atol=1e-5)
    moved = (X_adv[numbers] != X[numbers]).any(axis=1).mean()
    assert moved > 0.5  # the attack did move, inside the rules
    threat = pipe[-1].threat_
    assert threat.check(X, X_adv)["feasible"] == 1.0
    assert robust_accuracy(pipe, X, y, "pgd", steps=10) < pipe.score(X, y)


def test_the_checker_sees_every_broken_promise(credit):
    X, _, pipe = credit
    threat = pipe[-1].threat_
    assert threat.check(X, X) == dict.fromkeys(
        ["finite", "ball", "bounds", "mask", "integer", "categorical", "constraints", "feasible"],
        1.0,
    )
    broken = X.astype({"accounts": float, "region": object})
    broken.loc[:9, "age"] += 1  # immutable
    broken.loc[10:19, "accounts"] = broken.loc[10:19, "accounts"] + 0.5  # integer
    broken.loc[20:29, "debt"] = 3 * broken.loc[20:29, "income"]  # relation (and ball)
    broken.loc[30:39, "region"] = "west"  # unseen category
    shares = threat.check(X, broken)
    assert shares["mask"] == pytest.approx(0.975)
    assert shares["integer"] == pytest.approx(0.975)
    assert shares["constraints"] == pytest.approx(0.975)
    assert shares["categorical"] == pytest.approx(0.975)
    assert shares["feasible"] == pytest.approx(0.9)


def test_hardening_the_credit_pipeline_raises_constrained_robust_accuracy(credit):
    X, y, hardened = credit
    undefended = credit_pipeline(ratio=0.0).fit(X, y)
    robust = {
        name: robust_accuracy(pipe, X, y, "pgd", steps=10, random_state=0)
        for name, pipe in {"undefended": undefended, "hardened": hardened}.items()
    }
    assert robust["hardened"] > robust["undefended"] + 0.1


# ---------------------------------------------------------------- torch views

rng = np.random.default_rng(0)
TABLE = pd.DataFrame(
    {
        "a": rng.normal(5, 2, 60),
        "b": rng.integers(0, 100, 60),
        "c": rng.choice(["x", "y", "z", "w"], 60, p=[0.5, 0.3, 0.15, 0.05]),
        "d": pd.Categorical(rng.choice(["p", "q"], 60)),
        "e": rng.uniform(-3, 3, 60),
    }
)
NUMBERS = ["a", "b", "e"]
VIEWS = {
    "standard": ColumnTransformer([("s", StandardScaler(), NUMBERS)]),
    "minmax-clip": ColumnTransformer([("s", MinMaxScaler(clip=True), NUMBERS)]),
    "robust": ColumnTransformer([("s", RobustScaler(), NUMBERS)]),
    "maxabs": ColumnTransformer([("s", MaxAbsScaler(), NUMBERS)]),
    "imputer": ColumnTransformer([("s", SimpleImputer(strategy="median"), NUMBERS)]),
    "pca-whiten": sklearn_pipeline(
        ColumnTransformer([("s", StandardScaler(), NUMBERS)]), PCA(2, whiten=True)
    ),
    "svd": ColumnTransformer([("s", TruncatedSVD(2), NUMBERS)]),
    "onehot": ColumnTransformer(
        [("o", OneHotEncoder(drop="first", sparse_output=False), ["c", "d"])]
    ),
    "onehot-infrequent": ColumnTransformer(
        [
            (
                "o",
                OneHotEncoder(
                    min_frequency=6, handle_unknown="infrequent_if_exist", sparse_output=False
                ),
                ["c"],
            )
        ]
    ),
    "ordinal": ColumnTransformer([("o", OrdinalEncoder(), ["c", "d"])]),
    "selector-remainder": ColumnTransformer(
        [("n", StandardScaler(), make_column_selector(dtype_include="number"))],
        remainder=OneHotEncoder(sparse_output=False),
    ),
    "passthrough": ColumnTransformer([("n", "passthrough", ["a"]), ("d", "drop", ["e"])]),
    "function": ColumnTransformer([("f", FunctionTransformer(lambda x: x**2 + 1), ["a", "e"])]),
    "nested": ColumnTransformer(
        [
            ("n", sklearn_pipeline(SimpleImputer(), StandardScaler()), NUMBERS),
            (
                "c",
                sklearn_pipeline(
                    SimpleImputer(strategy="most_frequent"), OneHotEncoder(sparse_output=False)
                ),
                ["c"],
            ),
        ]
    ),
}


@pytest.mark.parametrize("name", list(VIEWS))
def test_torch_views_compute_what_scikit_learn_computes(name):
    transformer = VIEWS[name].fit(TABLE)
    steps = (
        [s for _, s in transformer.steps] if isinstance(transformer, Pipeline) else [transformer]
    )
    categorical = [TABLE.columns[i] for i in encoded_categorical(steps, TABLE.shape[1])]
    schema = TableSchema(categorical=categorical).fit(TABLE)
    view, _ = torch_view(transformer, schema.columns_)
    Z = torch.tensor(schema.encode(TABLE), requires_grad=True)
    out = view(Z)
    np.testing.assert_allclose(out.detach().numpy(), transformer.transform(TABLE), atol=1e-4)
    out.sum().backward()
    assert Z.grad is not None and torch.isfinite(Z.grad).all()


def binner():
    """A step with no torch view (scikit-learn 1.7 asks for its quantile method)."""
    quantile = (
        {"quantile_method": "averaged_inverted_cdf"}
        if "quantile_method" in KBinsDiscretizer().get_params()
        else {}
    )
    return KBinsDiscretizer(n_bins=4, encode="ordinal", **quantile)


def test_a_step_without_a_torch_view_is_named_and_black_box_attacks_offered(digits):
    X_train, X_test, y_train, y_test = digits
    pipe = sklearn_pipeline(
        binner(),
        trainer(max_epochs=1),
    )
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ThreatModelWarning)
        pipe.fit(X_train, y_train)
    with pytest.raises(
        NotTranslatableError,
        match="KBinsDiscretizer has no torch view.*Gradient-free attacks that could serve it",
    ):
        robust_accuracy(pipe, X_test, y_test, "pgd", eps=0.1)
    with pytest.raises(NotTranslatableError, match="KBinsDiscretizer"):
        skadv.make_pipeline(
            binner(),
            trainer(max_epochs=1),
        ).fit(X_train, y_train)


# ---------------------------------------------------------------- the threat model itself


def test_scale_states_eps_per_feature():
    X = np.column_stack([np.linspace(0, 1, 50), np.linspace(0, 1000, 50)])
    for scale, radius in [
        ("std", X.std(axis=0)),
        ("range", np.array([1.0, 1000.0])),
        ({1: 10.0}, np.array([1.0, 10.0])),
    ]:
        feasible = ThreatModel(eps=0.1, scale=scale).fit(X).feasible_set()
        delta = feasible.direction(torch.ones(1, 2, dtype=torch.float64))
        np.testing.assert_allclose(0.1 * delta.numpy()[0], 0.1 * radius, rtol=1e-6)


def test_defaults_that_misfire_are_warned_about(digits):
    X_train, *_ = digits
    wide = np.column_stack([X_train[:, :3], X_train[:, 3] * 5000])
    with pytest.warns(ThreatModelWarning, match="differ .*-fold.*eps in absolute units"):
        ThreatModel(eps=0.1).fit(wide)
    with pytest.warns(ThreatModelWarning, match="one \\(low, high\\) range"):
        ThreatModel(eps=0.1, bounds=(0, 5000), scale="std").fit(wide)
    with pytest.warns(ThreatModelWarning, match="beyond the whole range"):
        ThreatModel(eps=5.0).fit(X_train)
    with pytest.warns(ThreatModelWarning, match="a negligible move"):
        ThreatModel(eps=1e-5).fit(X_train)
    codes = np.column_stack([X_train[:, :2], np.arange(len(X_train)) % 4])
    with pytest.warns(ThreatModelWarning, match="hold a few integer codes"):
        ThreatModel(eps=0.1).fit(codes)
    with warnings.catch_warnings():
        warnings.simplefilter("error", ThreatModelWarning)
        ThreatModel(eps=0.1, categorical=[2]).fit(codes)
        ThreatModel(eps=0.1).fit(X_train)


def test_constraints_read_as_text_or_features():
    assert repr(parse("debt <= 2 * income")) == repr(Feature("debt") <= 2 * Feature("income"))
    assert parse("total == a + b").kind == "=="
    assert parse("a >= 0.5 * b").columns == ["b", "a"]
    for text, message in [
        ("a * b <= 1", "multiplies two columns"),
        ("a < b", "use <=, >= or =="),
        ("f(a) <= 1", "may only hold"),
        ("a <= b <= c", "compare two sides"),
    ]:
        with pytest.raises(ValueError, match=message):
            parse(text)


def test_skadv_pipeline_takes_samplers_before_the_transformers(digits):
    from sklearn.linear_model import LogisticRegression

    from skadv import GANAugmenter
    from skadv.gans import ConditionalGAN

    X_train, X_test, y_train, y_test = digits
    rows = np.isin(y_train, [0, 1])
    X, y = X_train[rows][:200], y_train[rows][:200]
    X, y = np.concatenate([X[y == 0], X[y == 1][:20]]), np.concatenate([y[y == 0], y[y == 1][:20]])
    augment = GANAugmenter(gan=ConditionalGAN(hidden=(16,)), max_steps=4, random_state=0)
    pipe = skadv.make_pipeline(augment, StandardScaler(), trainer(max_epochs=2)).fit(X, y)
    assert pipe[-1].raw_space_ and pipe[-1].threat_.schema_.sample_shape_ == (64,)
    assert augment.sampling_strategy_ == {1: int((y == 0).sum()) - 20}  # fitted in the pipeline
    assert pipe.predict(X_test[:5]).shape == (5,)
    with pytest.raises(ValueError, match="Put the samplers before the transformers"):
        skadv.make_pipeline(StandardScaler(), augment, trainer(max_epochs=1)).fit(X, y)
    plain = skadv.make_pipeline(StandardScaler(), augment, LogisticRegression()).fit(X, y)
    assert plain.score(X, y) > 0.9  # any other final step: imbalanced-learn's behaviour
