"""Parse linear parameter constraints such as ``"x0 + 2*x1 <= 1.5"``.

The grammar is what Ax accepts for ``parameter_constraints``, restricted to linear
forms: ``side (<= | >=) side``, each side a sum of terms ``[c *] name``,
``name [* c]`` or ``c``, joined by ``+`` and ``-``. Names are flat parameter names
(``optim/beta1``).
"""

from __future__ import annotations

import math
import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import NoReturn

from distributed_bo.exceptions import SpecError

_TOKEN = re.compile(
    r"\s*(?:(?P<num>(?:\d+\.?\d*|\.\d+)(?:[eE][+-]?\d+)?)"
    r"|(?P<name>[A-Za-z_][A-Za-z0-9_]*(?:/[A-Za-z_][A-Za-z0-9_]*)*)"
    r"|(?P<op><=|>=|[+\-*]))"
)
_FIX = "write a linear inequality such as 'x0 + 2*x1 <= 1.5'"


@dataclass(frozen=True)
class LinearConstraint:
    """A parsed constraint, moved to the form ``sum(coefficients[n] * n) <= bound``.

    Attributes:
        text: The constraint as written.
        coefficients: The coefficient of each parameter, in order of first
            appearance (a name written twice has its terms summed).
        bound: The constant right-hand side.

    """

    text: str
    coefficients: Mapping[str, float]
    bound: float

    def slack(self, values: Mapping[str, float]) -> float:
        """``bound - lhs(values)``: >= 0 where ``values`` satisfy the constraint."""
        return self.bound - sum(c * float(values[n]) for n, c in self.coefficients.items())


def constraint_names(text: str, path: str) -> tuple[str, ...]:
    """Check that ``text`` is a linear inequality and return the names it uses.

    Args:
        text: The constraint, e.g. ``"x0 + x1 <= 1.5"``.
        path: Its field path, for the message.

    Returns:
        The parameter names, in order of first appearance.

    Raises:
        SpecError: If ``text`` is not a linear inequality of parameter names.

    """
    return tuple(parse_constraint(text, path).coefficients)


def parse_constraint(text: str, path: str) -> LinearConstraint:
    """Parse ``text`` into ``sum(c * name) <= bound`` (a ``>=`` is negated).

    Args:
        text: The constraint, e.g. ``"x0 + 2*x1 >= 1.5"``.
        path: Its field path, for the message.

    Raises:
        SpecError: If ``text`` is not a linear inequality of parameter names, or a
            coefficient is not finite.

    """
    tokens = _tokenize(text, path)
    comparators = [i for i, (kind, value) in enumerate(tokens) if value in ("<=", ">=")]
    if len(comparators) != 1:
        _fail(text, path, "it needs exactly one '<=' or '>='")
    split = comparators[0]
    names: list[str] = []
    left = _parse_side(tokens[:split], text, path, names)
    right = _parse_side(tokens[split + 1 :], text, path, names)
    if not names:
        _fail(text, path, "it names no parameter")
    sign = 1.0 if tokens[split][1] == "<=" else -1.0
    coefficients = dict.fromkeys(names, 0.0)
    constant = 0.0
    for factor, terms in ((sign, left), (-sign, right)):
        for coefficient, name in terms:
            if name is None:
                constant -= factor * coefficient
            else:
                coefficients[name] += factor * coefficient
    if not all(math.isfinite(c) for c in (*coefficients.values(), constant)):
        _fail(text, path, "a coefficient is too large to be a finite number")
    return LinearConstraint(text=text, coefficients=coefficients, bound=constant)


def _tokenize(text: str, path: str) -> list[tuple[str, str]]:
    tokens: list[tuple[str, str]] = []
    pos, end = 0, len(text.rstrip())
    while pos < end:
        match = _TOKEN.match(text, pos)
        if match is None or match.end() == pos:
            bad = text[pos:end].lstrip()[:1]
            hint = "; compare with '<=' or '>='" if bad in "<>=" else ""
            _fail(text, path, f"unexpected {bad!r}{hint}")
        kind = match.lastgroup or ""
        tokens.append((kind, match.group(kind)))
        pos = match.end()
    return tokens


def _parse_side(
    tokens: list[tuple[str, str]], text: str, path: str, names: list[str]
) -> list[tuple[float, str | None]]:
    """Parse ``[sign] term (sign term)*`` with ``term := c | name | c * name | name * c``.

    Returns:
        ``(signed coefficient, name)`` per term; the name is ``None`` for a constant.
    """
    if not tokens:
        _fail(text, path, "one side of the inequality is empty")
    terms: list[tuple[float, str | None]] = []
    i = 0
    while i < len(tokens):
        sign = 1.0
        while i < len(tokens) and tokens[i][1] in ("+", "-"):
            sign = -sign if tokens[i][1] == "-" else sign
            i += 1
        if i >= len(tokens) or tokens[i][0] not in ("num", "name"):
            _fail(text, path, "expected a number or a parameter name")
        term = [tokens[i]]
        i += 1
        if i < len(tokens) and tokens[i][1] == "*":
            if i + 1 >= len(tokens) or tokens[i + 1][0] not in ("num", "name"):
                _fail(text, path, "'*' must join a number and a parameter name")
            term.append(tokens[i + 1])
            i += 2
        term_names = [value for kind, value in term if kind == "name"]
        if len(term_names) > 1:
            _fail(text, path, "a product of two parameters is not linear")
        names.extend(term_names)
        coefficient = sign * math.prod(float(value) for kind, value in term if kind == "num")
        terms.append((coefficient, term_names[0] if term_names else None))
        if i < len(tokens) and tokens[i][1] not in ("+", "-"):
            _fail(text, path, f"expected '+' or '-' before {tokens[i][1]!r}")
    return terms


def _fail(text: str, path: str, reason: str) -> NoReturn:
    raise SpecError(f"{path}: got {text!r}; {reason}; {_FIX}")
