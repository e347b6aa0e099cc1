"""One searched parameter: a YAML domain, its checks and the Ray Tune domain it becomes.

A mapping with a ``type`` key in a job spec's ``space`` is a :class:`DomainSpec`;
:mod:`distributed_bo.spec.space` walks the whole ``space`` (groups, constants).

===============================================  ===================================
YAML                                             Ray Tune
===============================================  ===================================
``{type: uniform, lower: l, upper: u}``          ``tune.uniform(l, u)``
``{type: loguniform, lower: l, upper: u}``       ``tune.loguniform(l, u)``
``{type: quniform, lower: l, upper: u, q: q}``   ``tune.quniform(l, u, q)``
``{type: qloguniform, ..., q: q}``               ``tune.qloguniform(l, u, q)``
``{type: randint, lower: l, upper: u}``          ``tune.randint(l, u)``, ``u`` excluded
``{type: lograndint, lower: l, upper: u}``       ``tune.lograndint(l, u)``, ``u`` excluded
``{type: qrandint, ..., q: q}``                  ``tune.qrandint(l, u, q)``, ``u`` included
``{type: qlograndint, ..., q: q}``               ``tune.qlograndint(l, u, q)``, ``u`` included
``{type: choice, values: [a, b]}``               ``tune.choice([a, b])``
``{type: choice, values: [{...}, {...}]}``       a branch point: ``tune.choice`` of dicts
===============================================  ===================================

A ``choice`` whose values are mappings is a *branch point* (a conditional space):
each value is a branch, itself a small ``space`` (domains, groups, constants), and
a trial gets exactly one branch with its domains resolved
(:mod:`distributed_bo.search.space` maps it). Every value must then be a
non-empty mapping; :mod:`distributed_bo.spec.space` checks the branches.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Literal, get_args

from distributed_bo.exceptions import SpecError
from distributed_bo.spec._frozen import freeze, thaw
from distributed_bo.validation import (
    check_int,
    check_keys,
    check_literal,
    check_number,
    describe,
    did_you_mean,
    fail,
    is_integer,
    is_real,
    join,
    one_of,
    require_mapping,
)

if TYPE_CHECKING:
    from ray.tune.search.sample import Domain

DomainType = Literal[
    "uniform",
    "loguniform",
    "quniform",
    "qloguniform",
    "randint",
    "lograndint",
    "qrandint",
    "qlograndint",
    "choice",
]

#: Every value ``type`` may take.
DOMAIN_TYPES: tuple[str, ...] = get_args(DomainType)
#: Domains that become Ax range parameters, so linear constraints may name them.
RANGE_TYPES: tuple[str, ...] = ("uniform", "loguniform", "randint", "lograndint")
#: Separator of nested names: ``optim: {beta1: ...}`` is the parameter ``optim/beta1``.
NESTED_SEP = "/"

_INT_TYPES = frozenset({"randint", "lograndint", "qrandint", "qlograndint"})
_LOG_TYPES = frozenset({"loguniform", "qloguniform", "lograndint", "qlograndint"})
_QUANTIZED = frozenset({"quniform", "qloguniform", "qrandint", "qlograndint"})
_EXCLUSIVE_UPPER = frozenset({"randint", "lograndint"})
# Integer bounds stay exact as float64, which the Gaussian-process model works in.
_MAX_INT = 2**53
#: Most values one choice may list; the searcher's own cap on a quantised log
#: domain's values (``search.space.MAX_CHOICES``) is the same. Ax one-hot encodes
#: an unordered choice, so each value is a dimension of the GP.
MAX_CHOICE_VALUES = 10_000

# type -> (required keys, optional keys), ``type`` itself aside.
_KEYS: dict[str, tuple[tuple[str, ...], tuple[str, ...]]] = {
    "uniform": (("lower", "upper"), ()),
    "loguniform": (("lower", "upper"), ("base",)),
    "quniform": (("lower", "upper", "q"), ()),
    "qloguniform": (("lower", "upper", "q"), ()),
    "randint": (("lower", "upper"), ()),
    "lograndint": (("lower", "upper"), ()),
    "qrandint": (("lower", "upper", "q"), ()),
    "qlograndint": (("lower", "upper", "q"), ()),
    "choice": (("values",), ()),
}


def space_path(name: str) -> str:
    """Field path of the parameter with flat name ``name`` (``optim/b1`` -> ``space.optim.b1``)."""
    return "space." + name.replace(NESTED_SEP, ".")


@dataclass(frozen=True, kw_only=True)
class DomainSpec:
    """One searched parameter of the space, as written in YAML.

    Attributes:
        name: Flat parameter name; nested ones are joined by ``/`` (``optim/beta1``).
        type: The distribution; see the table in this module's docstring.
        lower: Lower bound, inclusive. Must be > 0 for the log types and an integer
            for the int types (``randint``, ``lograndint``, ``qrandint``,
            ``qlograndint``). ``None`` for ``choice``.
        upper: Upper bound, > ``lower``. Excluded for ``randint`` and
            ``lograndint`` (Ray Tune semantics), included for every other type.
        q: Quantum of the ``q`` types, > 0 (an integer >= 1 for int types); both
            bounds must be multiples of it. ``None`` otherwise.
        base: Logarithm base of ``loguniform``, > 0 and != 1. Accepted for
            compatibility only: a log-uniform distribution does not depend on its
            base, and Ray Tune ignores (and deprecates) it.
        values: The options of ``choice``: a non-empty sequence without duplicates.
            ``None`` otherwise.

    """

    name: str
    type: DomainType
    lower: float | None = None
    upper: float | None = None
    q: float | None = None
    base: float | None = None
    values: tuple[Any, ...] | None = None

    @property
    def path(self) -> str:
        """Field path of this parameter in the spec, e.g. ``space.lr``."""
        return space_path(self.name)

    @property
    def is_branch_point(self) -> bool:
        """True for a ``choice`` whose values are mappings (branches)."""
        return self.type == "choice" and any(isinstance(v, Mapping) for v in self.values or ())

    @classmethod
    def from_dict(cls, name: str, data: Any) -> DomainSpec:
        """Build from a YAML domain mapping such as ``{type: uniform, lower: 0, upper: 1}``.

        Args:
            name: Flat parameter name.
            data: The mapping.

        Raises:
            SpecError: If the mapping is not a valid domain.

        """
        path = space_path(name)
        require_mapping(data, path, "a mapping with a type key")
        kind = data.get("type")
        if kind not in DOMAIN_TYPES:
            hint = did_you_mean(kind, DOMAIN_TYPES) if isinstance(kind, str) else ""
            fail(
                join(path, "type"),
                kind,
                f"use {one_of(DOMAIN_TYPES)}{hint} (a mapping with a type key is a "
                "searched parameter)",
            )
        required, optional = _KEYS[kind]
        check_keys(
            data,
            path,
            allowed=("type", *required, *optional),
            required=required,
            what=f"a {kind} domain takes",
            missing=f"a {kind} domain needs {', '.join(required)}",
        )
        kwargs = {k: v for k, v in data.items() if k != "type"}
        if "values" in kwargs:
            values = kwargs["values"]
            if not isinstance(values, (list, tuple)):
                fail(join(path, "values"), values, "use a non-empty list, e.g. [8, 16, 32]")
            kwargs["values"] = freeze(values, join(path, "values"))
        return cls(name=name, type=kind, **kwargs)

    def __post_init__(self) -> None:
        path = self.path
        kind = check_literal(self.type, join(path, "type"), DOMAIN_TYPES)
        required, optional = _KEYS[kind]
        for key in ("lower", "upper", "q", "base", "values"):
            given = getattr(self, key)
            if key in required and given is None:
                fail(join(path, key), None, f"a {kind} domain needs {', '.join(required)}")
            if key not in required and key not in optional and given is not None:
                fail(join(path, key), given, f"a {kind} domain takes no {key}; remove it")
        if kind == "choice":
            self._check_choice()
        else:
            self._check_range()

    def _check_choice(self) -> None:
        path = join(self.path, "values")
        values = self.values
        if not isinstance(values, (list, tuple)):
            fail(path, values, "use a non-empty list, e.g. [8, 16, 32]")
        if not values:
            fail(path, [], "give at least one value")
        if len(values) > MAX_CHOICE_VALUES:
            raise SpecError(
                f"{path}: got {len(values):,} values; give at most {MAX_CHOICE_VALUES:,} "
                "(search a range domain instead)"
            )
        values = freeze(tuple(values), path)
        object.__setattr__(self, "values", values)
        seen: set[Any] = set()
        unhashable: list[Any] = []
        for i, value in enumerate(values):
            _check_choice_value(value, f"{path}[{i}]")
            if _seen_before(value, seen, unhashable):
                fail(
                    path,
                    thaw(values),
                    f"{describe(thaw(value))} appears more than once; list each value once",
                )

    def _check_range(self) -> None:
        path, kind = self.path, self.type
        lower, upper, q = self._check_bounds()
        if self.base is not None:
            check_number(self.base, join(path, "base"), gt=0)
            if self.base == 1:
                fail(join(path, "base"), self.base, "use a base > 0 other than 1, or leave it out")
        if lower == upper:
            if kind in _EXCLUSIVE_UPPER:
                fix = (
                    f"upper is excluded, so use upper: {upper + 1} to search only {lower}, "
                    "or write the value as a constant"
                )
            else:
                fix = "widen the range, or write the value as a constant"
            raise SpecError(f"{path}: lower ({lower}) must be < upper ({upper}); {fix}")
        if lower > upper:
            raise SpecError(f"{path}: lower ({lower}) must be < upper ({upper}); swap them")
        if kind in _LOG_TYPES and lower <= 0:
            fail(
                join(path, "lower"),
                lower,
                f"{kind} samples on a log scale, so lower must be > 0"
                + (" (1 or more)" if kind in _INT_TYPES else ""),
            )
        if kind in _QUANTIZED:
            self._check_multiples(lower, upper, q)

    def _check_bounds(self) -> tuple[Any, Any, Any]:
        """Check ``lower``, ``upper`` (and ``q`` of the q types) each on its own.

        Returns:
            ``(lower, upper, q)`` as given.
        """
        path, kind = self.path, self.type
        is_int = kind in _INT_TYPES
        for key in ("lower", "upper"):
            value = getattr(self, key)
            if is_int:
                check_int(value, join(path, key), extra=f" ({kind} bounds are integers)")
                if abs(value) > _MAX_INT:
                    fail(join(path, key), value, "use an integer between -2**53 and 2**53")
            else:
                check_number(value, join(path, key))
        if kind in _QUANTIZED:
            if is_int:
                check_int(self.q, join(path, "q"), ge=1)
            else:
                check_number(self.q, join(path, "q"), gt=0)
        return self.lower, self.upper, self.q

    def _check_multiples(self, lower: Any, upper: Any, q: Any) -> None:
        """The bounds of a q type are multiples of ``q``, which is not vanishingly small."""
        path, kind = self.path, self.type
        steps = (lower / q, upper / q, (upper - lower) / q)
        if kind not in _INT_TYPES and not all(math.isfinite(x) for x in steps):
            fail(join(path, "q"), q, f"q is too small for [{lower}, {upper}]; raise it")
        for key, bound in (("lower", lower), ("upper", upper)):
            if not _is_multiple(bound, q):
                k = math.floor(bound / q)
                below, above = _times(k, q), _times(k + 1, q)
                fail(
                    join(path, key),
                    bound,
                    f"the bounds of {kind} must be multiples of q ({q}); use {below} or {above}",
                )

    def to_tune(self) -> Domain:
        """Build the Ray Tune domain (``tune.uniform(...)`` etc.) of this parameter."""
        from ray import tune

        if self.type == "choice":
            return tune.choice(thaw(self.values))
        # Not None for the range types (checked on construction); Any for the lambdas.
        bounds: tuple[Any, Any, Any] = (self.lower, self.upper, self.q)
        lower, upper, q = bounds
        builders = {
            "uniform": lambda: tune.uniform(float(lower), float(upper)),
            # ``base`` is not passed on: Ray Tune ignores it and warns that it is deprecated.
            "loguniform": lambda: tune.loguniform(float(lower), float(upper)),
            "quniform": lambda: tune.quniform(float(lower), float(upper), float(q)),
            "qloguniform": lambda: tune.qloguniform(float(lower), float(upper), float(q)),
            "randint": lambda: tune.randint(int(lower), int(upper)),
            "lograndint": lambda: tune.lograndint(int(lower), int(upper)),
            "qrandint": lambda: tune.qrandint(int(lower), int(upper), int(q)),
            "qlograndint": lambda: tune.qlograndint(int(lower), int(upper), int(q)),
        }
        try:
            return builders[self.type]()
        except ValueError as err:  # validation above should make this unreachable
            raise SpecError(f"{self.path}: Ray Tune rejected the domain ({err})") from err

    def to_dict(self) -> dict[str, Any]:
        """Return the YAML mapping of this domain (``type`` first, unset keys left out)."""
        out: dict[str, Any] = {"type": self.type}
        for key in ("lower", "upper", "q", "base", "values"):
            if getattr(self, key) is not None:
                out[key] = thaw(getattr(self, key))
        return out

    def check_value(self, value: Any, path: str) -> None:
        """Check that ``value`` lies in this domain (for a baseline config).

        Args:
            value: A value for this parameter.
            path: Field path of the value, for the message.

        Raises:
            SpecError: If the value cannot be drawn from this domain.

        """
        if self.type == "choice":
            values = self.values or ()
            if not any(_same(value, v) for v in values):
                fail(path, value, f"use one of {describe(thaw(self.values))}")
            return
        lower, upper, q = self.lower, self.upper, self.q
        closing = ")" if self.type in _EXCLUSIVE_UPPER else "]"
        where = f"[{lower}, {upper}{closing}"
        if q is not None:
            where = f"a multiple of {q} in {where}"
        ok_type = is_integer(value) if self.type in _INT_TYPES else is_real(value)
        number = "an integer" if self.type in _INT_TYPES else "a number"
        if not ok_type:
            fail(path, value, f"use {number} in {where}")
        above = value >= upper if self.type in _EXCLUSIVE_UPPER else value > upper
        if value < lower or above or (q is not None and not _is_multiple(value, q)):
            fail(path, value, f"use {number} in {where}")


def _check_choice_value(value: Any, path: str, *, top: bool = True) -> None:
    """A choice value is not null and holds no NaN or infinity, however nested.

    A null value cannot be told apart from a missing one in a trial's config, Ax's
    parameters and ``trials.parquet``; NaN is not equal to itself, so a suggested
    NaN could never be matched back to its choice. Inside a structured value
    (``{dropout: null}``) null is data and allowed. Values of mixed types
    (``[1, 'a', true]``) are allowed too: the searcher maps such a choice onto
    indices, which Ax accepts as an unordered string choice.
    """
    if value is None and top:
        fail(path, value, "a choice value cannot be null; write the string 'none' instead")
    if isinstance(value, float) and not math.isfinite(value):
        fail(path, value, "a choice value must be finite (not NaN or infinity)")
    if isinstance(value, (list, tuple)):
        for i, item in enumerate(value):
            _check_choice_value(item, f"{path}[{i}]", top=False)
    elif isinstance(value, Mapping):
        for key, item in value.items():
            _check_choice_value(item, f"{path}.{key}", top=False)


def _seen_before(value: Any, seen: set[Any], unhashable: list[Any]) -> bool:
    """Whether ``value`` equals (per :func:`_same`) one seen before; then record it.

    Hashable values are looked up in ``seen`` by ``(kind, value)`` (numbers share a
    kind, so ``1`` and ``1.0`` meet, as in :func:`_same`), so a long choice is
    checked in linear time; only unhashable values are compared pairwise.
    """
    key = ("number", value) if is_real(value) else (type(value), value)
    try:
        found = key in seen
        seen.add(key)
    except TypeError:
        found = any(_same(value, earlier) for earlier in unhashable)
        unhashable.append(value)
    return found


def _same(a: Any, b: Any) -> bool:
    """Equal values of the same kind: ``1 == 1.0`` counts, ``1 == True`` does not."""
    if is_real(a) and is_real(b):
        return a == b
    return type(a) is type(b) and a == b


def _is_multiple(value: float, q: float) -> bool:
    """Whether ``value`` is a multiple of ``q``, with Ray Tune's float tolerance."""
    if is_integer(value) and is_integer(q):
        return value % q == 0
    return math.isclose(value / q, round(value / q))


def _times(k: int, q: float) -> float:
    """``k * q`` without binary noise (``3 * 0.1`` -> ``0.3``)."""
    if is_integer(q):
        return k * q
    digits = max(0, -math.floor(math.log10(abs(q)))) + 6
    return round(k * q, digits)
