"""Linear relations between columns: one object drives the attack's projection, the
feasibility checker and the repair step (in the spirit of TabularBench's constraints).

Write a relation as text, ``"debt <= 10 * income"``, ``"total == part_a + part_b"``, or
with :class:`Feature` objects, ``Feature("debt") <= 10 * Feature("income")`` (for column
names that are not Python identifiers). Relations are linear: sums of columns times
numbers, compared with ``<=``, ``>=`` or ``==``.
"""

from __future__ import annotations

import ast
from collections.abc import Mapping, Sequence
from numbers import Real
from typing import Any

import torch


class LinearExpression:
    """A sum of columns times numbers, plus a number.

    Parameters
    ----------
    terms : mapping of column name to float
    constant : float, default=0.0
    """

    def __init__(self, terms: Mapping[Any, float], constant: float = 0.0):
        self.terms = dict(terms)
        self.constant = float(constant)

    def _combine(self, other: Any, sign: float) -> LinearExpression:
        other = _as_expression(other)
        terms = dict(self.terms)
        for name, weight in other.terms.items():
            terms[name] = terms.get(name, 0.0) + sign * weight
        return LinearExpression(terms, self.constant + sign * other.constant)

    def __add__(self, other: Any) -> LinearExpression:
        return self._combine(other, 1.0)

    __radd__ = __add__

    def __sub__(self, other: Any) -> LinearExpression:
        return self._combine(other, -1.0)

    def __rsub__(self, other: Any) -> LinearExpression:
        return _as_expression(other)._combine(self, -1.0)

    def __mul__(self, factor: Any) -> LinearExpression:
        if not isinstance(factor, Real):
            raise TypeError(
                f"constraints are linear: a column can only be multiplied by a number, not "
                f"by {factor!r}."
            )
        factor = float(factor)
        return LinearExpression(
            {k: v * factor for k, v in self.terms.items()}, self.constant * factor
        )

    __rmul__ = __mul__

    def __neg__(self) -> LinearExpression:
        return self * -1.0

    def __le__(self, other: Any) -> Constraint:
        return Constraint(self - other, "<=")

    def __ge__(self, other: Any) -> Constraint:
        return Constraint(_as_expression(other) - self, "<=")

    def __eq__(self, other: Any) -> Constraint:  # type: ignore[override]
        return Constraint(self - other, "==")

    __hash__ = None  # type: ignore[assignment]

    def __str__(self) -> str:
        parts = [f"{w:g} * {name}" if w != 1 else str(name) for name, w in self.terms.items()]
        if self.constant or not parts:
            parts.append(f"{self.constant:g}")
        return " + ".join(parts)


class Feature(LinearExpression):
    """A column of the table, by name (or index for arrays), to build constraints from.

    Parameters
    ----------
    name : str or int

    Examples
    --------
    >>> from skadv.threat import Feature
    >>> Feature("debt") <= 10 * Feature("income")
    Constraint('debt + -10 * income <= 0')
    """

    def __init__(self, name: Any):
        super().__init__({name: 1.0})


def _as_expression(value: Any) -> LinearExpression:
    if isinstance(value, LinearExpression):
        return value
    if isinstance(value, Real) and not isinstance(value, bool):
        return LinearExpression({}, float(value))
    raise TypeError(f"a constraint term must be a column or a number, got {value!r}.")


class Constraint:
    """``expression <= 0`` or ``expression == 0``: one linear relation between columns.

    Parameters
    ----------
    expression : LinearExpression or str
        The left side minus the right side; a string is parsed as a whole relation.
    kind : {"<=", "=="}, default="<="
    """

    def __init__(self, expression: LinearExpression | str, kind: str = "<="):
        if isinstance(expression, str):
            parsed = parse(expression)
            expression, kind = parsed.expression, parsed.kind
        self.expression = expression
        self.kind = kind

    @property
    def columns(self) -> list[Any]:
        """The columns the relation names."""
        return [name for name, weight in self.expression.terms.items() if weight]

    def __repr__(self) -> str:
        return f"Constraint('{self.expression} {self.kind} 0')"


_OPERATORS = {ast.LtE: "<=", ast.GtE: ">=", ast.Eq: "=="}


def _evaluate(node: ast.AST, text: str) -> LinearExpression:
    if isinstance(node, ast.Name):
        return Feature(node.id)
    if isinstance(node, ast.Constant) and isinstance(node.value, Real):
        return _as_expression(node.value)
    if isinstance(node, ast.UnaryOp) and isinstance(node.op, (ast.USub, ast.UAdd)):
        inner = _evaluate(node.operand, text)
        return -inner if isinstance(node.op, ast.USub) else inner
    if isinstance(node, ast.BinOp) and isinstance(node.op, (ast.Add, ast.Sub, ast.Mult)):
        left, right = _evaluate(node.left, text), _evaluate(node.right, text)
        if isinstance(node.op, ast.Add):
            return left + right
        if isinstance(node.op, ast.Sub):
            return left - right
        if left.terms and right.terms:
            raise ValueError(f"constraint {text!r} multiplies two columns; it must be linear.")
        return left * right.constant if right.terms == {} else right * left.constant
    raise ValueError(
        f"constraint {text!r} may only hold column names, numbers, +, - and *; use "
        "Feature('name') for column names that are not identifiers."
    )


def parse(text: str) -> Constraint:
    """Parse a relation such as ``"debt <= 10 * income"`` (no code is run).

    Parameters
    ----------
    text : str

    Returns
    -------
    Constraint

    Examples
    --------
    >>> from skadv.threat.constraints import parse
    >>> parse("total == a + b").columns
    ['total', 'a', 'b']
    """
    try:
        tree = ast.parse(text, mode="eval").body
    except SyntaxError:
        raise ValueError(f"constraint {text!r} is not a relation such as 'a <= b'.") from None
    if not (isinstance(tree, ast.Compare) and len(tree.ops) == 1):
        raise ValueError(f"constraint {text!r} must compare two sides once: a <= b, a == b.")
    op = _OPERATORS.get(type(tree.ops[0]))
    if op is None:
        raise ValueError(f"constraint {text!r}: use <=, >= or ==.")
    left, right = _evaluate(tree.left, text), _evaluate(tree.comparators[0], text)
    return {"<=": left <= right, ">=": left >= right, "==": left == right}[op]


def as_constraint(value: Any) -> Constraint:
    """A :class:`Constraint` from a string or a Constraint."""
    if isinstance(value, Constraint):
        return value
    if isinstance(value, str):
        return parse(value)
    raise TypeError(
        f"a constraint must be a string such as 'a <= b' or built from Feature objects, "
        f"got {value!r}."
    )


class LinearConstraints:
    """Resolved relations ``A @ x <= b`` (rows marked ``equality``: ``==``) on tensors.

    Parameters
    ----------
    A : torch.Tensor of shape (n_constraints, n_features)
    b : torch.Tensor of shape (n_constraints,)
    equality : torch.Tensor of bool, shape (n_constraints,)
    """

    def __init__(self, A: torch.Tensor, b: torch.Tensor, equality: torch.Tensor):
        self.A = A
        self.b = b
        self.equality = equality

    @classmethod
    def resolve(
        cls, constraints: Sequence[Any], index: Mapping[Any, int], n_features: int
    ) -> LinearConstraints:
        """Turn constraints on column names into matrices over encoded feature indices.

        Parameters
        ----------
        constraints : sequence of str or Constraint
        index : mapping of column name (and position) to encoded feature index
        n_features : int

        Returns
        -------
        LinearConstraints
        """
        rows, bounds, equality = [], [], []
        for constraint in map(as_constraint, constraints):
            row = torch.zeros(n_features, dtype=torch.float64)
            for name, weight in constraint.expression.terms.items():
                if name not in index:
                    raise ValueError(
                        f"constraint {constraint!r} names column {name!r}, which is not a "
                        f"numeric column of X; known: {sorted(map(str, index))[:20]}."
                    )
                row[index[name]] += weight
            rows.append(row)
            bounds.append(-constraint.expression.constant)
            equality.append(constraint.kind == "==")
        return cls(
            torch.stack(rows), torch.tensor(bounds, dtype=torch.float64), torch.tensor(equality)
        )

    def to(self, device: Any, dtype: torch.dtype) -> LinearConstraints:
        """These constraints on ``device`` in ``dtype``."""
        return LinearConstraints(
            self.A.to(device, dtype), self.b.to(device, dtype), self.equality.to(device)
        )

    def residual(self, x: torch.Tensor) -> torch.Tensor:
        """Per row and constraint, how far ``x`` is from satisfying it (0 when it does)."""
        gap = x.reshape(len(x), -1) @ self.A.T - self.b
        return torch.where(self.equality, gap.abs(), gap.clamp_min(0))

    def satisfied(self, x: torch.Tensor, rtol: float = 1e-5) -> torch.Tensor:
        """Per row, whether every constraint holds up to ``rtol`` of its terms' size."""
        flat = x.reshape(len(x), -1)
        size = flat.abs() @ self.A.abs().T + self.b.abs() + 1.0
        return (self.residual(x) <= rtol * size).all(dim=1)

    def project(self, x: torch.Tensor, free: torch.Tensor) -> torch.Tensor:
        """One sweep of projections onto each constraint, moving only ``free`` features.

        Parameters
        ----------
        x : torch.Tensor of shape (n_samples, n_features)
        free : torch.Tensor of shape (n_features,)
            1 where a feature may move to satisfy a constraint, 0 where it may not.

        Returns
        -------
        torch.Tensor
        """
        A = self.A * free
        norms = (A * A).sum(dim=1).clamp_min(torch.finfo(A.dtype).tiny)
        for i in range(len(A)):  # a row without free features has A[i] == 0: no move
            gap = x @ self.A[i] - self.b[i]
            gap = torch.where(self.equality[i], gap, gap.clamp_min(0))
            x = x - (gap / norms[i])[:, None] * A[i]
        return x
