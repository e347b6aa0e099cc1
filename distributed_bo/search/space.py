"""How a Ray Tune search space becomes an Ax search space, and back.

This is the one place where Ray Tune domains are mapped to Ax parameters:

==========================  =================================================
Ray Tune                    Ax
==========================  =================================================
``uniform(l, u)``           float range ``[l, u]``
``loguniform(l, u)``        float range ``[l, u]``, log scale
``quniform(l, u, q)``       float range over the multiples of ``q`` in ``[l, u]``
``qloguniform(l, u, q)``    ordered float choice of the multiples of ``q``
``randint(l, u)``           int range ``[l, u - 1]`` (Ray's upper is exclusive)
``lograndint(l, u)``        int range ``[l, u - 1]``, log scale
``qrandint(l, u, q)``       int range over the multiples of ``q`` in ``[l, u]``
``qlograndint(l, u, q)``    ordered int choice of the multiples of ``q``
``choice`` of numbers       ordered choice (sorted), so the GP sees the order
``choice`` of strings       unordered (categorical) choice
``choice`` of other values  unordered choice over their indices, mapped back
``choice`` of one value     constant
any non-domain value        constant, passed through unchanged
nested ``dict``             flattened to ``a/b`` names, unflattened for Tune
==========================  =================================================

``sample_from``, ``grid_search`` and normal-distribution domains have no Ax
equivalent and are rejected with :class:`SearchSpaceError`.
"""

from __future__ import annotations

import functools
import math
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

from distributed_bo.exceptions import SearchSpaceError

#: Separator of nested keys in flat parameter names, as in ``ray.tune``'s results.
NESTED_SEP = "/"
#: Ax parameter names cannot contain ``/`` (constraint strings are parsed), so
#: nested names use this separator on the Ax side.
AX_SEP = "__"
#: Largest number of values a quantised log domain may expand to.
MAX_CHOICES = 10_000


@dataclass(frozen=True, kw_only=True)
class MappedParameter:
    """One searched parameter on both sides of the mapping.

    Attributes:
        path: Flat Ray Tune name (``"optim/lr"`` for ``{"optim": {"lr": ...}}``).
        ax_name: The Ax parameter name.
        ax_config: The ``ax.api`` parameter config.
        decode: Maps an Ax value to the value the trainable receives.
        encode: Maps a trainable's value back to the Ax value.
    """

    path: str
    ax_name: str
    ax_config: Any
    decode: Callable[[Any], Any] = field(default=lambda v: v)
    encode: Callable[[Any], Any] = field(default=lambda v: v)


@dataclass(frozen=True, kw_only=True)
class MappedSpace:
    """A Ray Tune search space mapped to Ax parameters.

    Attributes:
        parameters: The searched parameters, in the order the user wrote them.
        constants: Flat path to value for everything that is not searched.
    """

    parameters: tuple[MappedParameter, ...]
    constants: Mapping[str, Any]

    @property
    def ax_parameters(self) -> list[Any]:
        """The ``ax.api`` parameter configs, for ``Client.configure_experiment``."""
        return [p.ax_config for p in self.parameters]

    @property
    def is_continuous(self) -> bool:
        """True if every parameter is a float range without a step."""
        return all(
            getattr(p.ax_config, "parameter_type", None) == "float"
            and getattr(p.ax_config, "bounds", None) is not None
            and getattr(p.ax_config, "step_size", None) is None
            for p in self.parameters
        )

    @property
    def has_categorical(self) -> bool:
        """True if some parameter is an unordered choice (a category)."""
        return any(getattr(p.ax_config, "is_ordered", None) is False for p in self.parameters)

    @property
    def dim(self) -> int:
        """Number of searched parameters."""
        return len(self.parameters)

    def ax_name(self, path: str) -> str:
        """Ax name of the parameter at flat ``path``."""
        for p in self.parameters:
            if p.path == path:
                return p.ax_name
        raise SearchSpaceError(f"parameter {path!r} is not in the search space")

    def to_config(self, ax_parameters: Mapping[str, Any]) -> dict[str, Any]:
        """Turn an Ax parameterization into the nested config a trainable gets."""
        flat = dict(self.constants)
        for p in self.parameters:
            flat[p.path] = p.decode(ax_parameters[p.ax_name])
        return unflatten(flat)

    def to_ax(self, config: Mapping[str, Any]) -> dict[str, Any]:
        """Turn a (nested or flat) trial config into an Ax parameterization.

        Raises:
            SearchSpaceError: If a searched parameter is missing from ``config``.
        """
        flat = flatten(config)
        out: dict[str, Any] = {}
        for p in self.parameters:
            if p.path not in flat:
                raise SearchSpaceError(
                    f"config: parameter {p.path!r} is missing; give a value for every "
                    "searched parameter"
                )
            out[p.ax_name] = p.encode(flat[p.path])
        return out

    def translate_constraint(self, constraint: str) -> str:
        """Rewrite a linear constraint from flat Tune names to Ax names."""
        out = constraint
        for p in sorted(self.parameters, key=lambda p: -len(p.path)):
            if p.path != p.ax_name:
                out = out.replace(p.path, p.ax_name)
        return out


def flatten(config: Mapping[str, Any], prefix: str = "") -> dict[str, Any]:
    """Flatten nested dicts to ``a/b`` keys (a flat input is returned as is)."""
    out: dict[str, Any] = {}
    for key, value in config.items():
        path = f"{prefix}{key}"
        if isinstance(value, Mapping) and value and "grid_search" not in value:
            out.update(flatten(value, prefix=f"{path}{NESTED_SEP}"))
        else:
            out[path] = value
    return out


def unflatten(flat: Mapping[str, Any]) -> dict[str, Any]:
    """Inverse of :func:`flatten`."""
    out: dict[str, Any] = {}
    for path, value in flat.items():
        node = out
        *parents, leaf = path.split(NESTED_SEP)
        for part in parents:
            node = node.setdefault(part, {})
        node[leaf] = value
    return out


def map_space(space: Mapping[str, Any]) -> MappedSpace:
    """Map a Ray Tune param space (nested dict of domains and constants) to Ax.

    Args:
        space: The Tune ``param_space``.

    Returns:
        The mapped space.

    Raises:
        SearchSpaceError: For a domain with no faithful Ax equivalent, or a space
            with no searched parameter.
    """
    from ray.tune.search.sample import Domain

    if not isinstance(space, Mapping):
        raise SearchSpaceError(
            f"space: got {type(space).__name__}; pass a dict of Ray Tune domains"
        )
    params: list[MappedParameter] = []
    constants: dict[str, Any] = {}
    for path, value in flatten(space).items():
        if isinstance(value, Domain):
            mapped = _map_domain(path, value)
            if isinstance(mapped, MappedParameter):
                params.append(mapped)
            else:
                constants[path] = mapped[0]
        elif isinstance(value, Mapping) and "grid_search" in value:
            raise SearchSpaceError(
                f"space.{path}: grid_search has no Bayesian-optimisation equivalent; "
                "use tune.choice(...) instead"
            )
        else:
            constants[path] = value
    if not params:
        raise SearchSpaceError(
            "space: no searched parameter; add at least one Ray Tune domain such as "
            "tune.uniform(0, 1)"
        )
    return MappedSpace(parameters=tuple(params), constants=constants)


def _ax_name(path: str) -> str:
    return path.replace(NESTED_SEP, AX_SEP)


def _map_domain(path: str, domain: Any) -> MappedParameter | tuple[Any]:
    from ray.tune.search.sample import Categorical, Float, Integer, LogUniform, Quantized, Uniform

    sampler = domain.get_sampler()
    quantum = None
    if isinstance(sampler, Quantized):
        quantum = sampler.q
        sampler = sampler.get_sampler()
    if isinstance(domain, Categorical):
        return _map_choice(path, list(domain.categories))
    if not isinstance(domain, (Float, Integer)) or not isinstance(sampler, (Uniform, LogUniform)):
        raise SearchSpaceError(
            f"space.{path}: {type(domain).__name__} with {type(sampler).__name__} sampling "
            "has no Ax equivalent; use uniform, loguniform, randint, lograndint, "
            "their q-variants, or choice"
        )
    is_int = isinstance(domain, Integer)
    log = isinstance(sampler, LogUniform)
    lower, upper = domain.lower, domain.upper
    if lower is None or upper is None or not lower < upper:
        raise SearchSpaceError(
            f"space.{path}: bounds ({lower}, {upper}) must satisfy lower < upper; swap them"
        )
    if log and lower <= 0:
        raise SearchSpaceError(
            f"space.{path}: log scale needs lower > 0, got {lower}; raise the lower bound"
        )
    if quantum is not None and quantum != 1:
        return _map_quantized(path, lower, upper, quantum, is_int=is_int, log=log)
    from ax.api import RangeParameterConfig

    if is_int:
        # Ray's randint/lograndint exclude ``upper``; Ax's int ranges include it.
        hi = int(upper) - 1
        if hi <= int(lower):
            return (int(lower),)
        bounds: tuple[float, float] = (int(lower), hi)
    else:
        bounds = (float(lower), float(upper))
    return MappedParameter(
        path=path,
        ax_name=_ax_name(path),
        ax_config=RangeParameterConfig(
            name=_ax_name(path),
            parameter_type="int" if is_int else "float",
            bounds=bounds,
            scaling="log" if log else "linear",
        ),
    )


def _map_quantized(
    path: str, lower: float, upper: float, q: float, *, is_int: bool, log: bool
) -> MappedParameter | tuple[Any]:
    from ax.api import ChoiceParameterConfig, RangeParameterConfig

    if q <= 0:
        raise SearchSpaceError(f"space.{path}: q must be > 0, got {q}")
    lo_k, hi_k = math.ceil(lower / q - 1e-9), math.floor(upper / q + 1e-9)
    if hi_k < lo_k:
        raise SearchSpaceError(
            f"space.{path}: no multiple of q={q} lies in [{lower}, {upper}]; "
            "widen the bounds or lower q"
        )
    if hi_k == lo_k:
        return ((int if is_int else float)(lo_k * q),)
    if is_int:
        values: list[Any] = [int(k * q) for k in range(lo_k, hi_k + 1)]
    else:
        # Round away binary noise from k * q (0.30000000000000004 -> 0.3).
        digits = max(0, -math.floor(math.log10(abs(q)))) + 6
        values = [round(k * q, digits) for k in range(lo_k, hi_k + 1)]
    if log:
        if len(values) > MAX_CHOICES:
            raise SearchSpaceError(
                f"space.{path}: {len(values)} quantised values exceed {MAX_CHOICES}; "
                "raise q or use an unquantised log domain"
            )
        config: Any = ChoiceParameterConfig(
            name=_ax_name(path),
            parameter_type="int" if is_int else "float",
            values=values,
            is_ordered=True,
        )
    else:
        config = RangeParameterConfig(
            name=_ax_name(path),
            parameter_type="int" if is_int else "float",
            bounds=(values[0], values[-1]),
            step_size=q,
        )
    if is_int:
        return MappedParameter(path=path, ax_name=_ax_name(path), ax_config=config)
    return MappedParameter(
        path=path,
        ax_name=_ax_name(path),
        ax_config=config,
        decode=functools.partial(_rounded, digits=digits),
    )


def _map_choice(path: str, categories: list[Any]) -> MappedParameter | tuple[Any]:
    from ax.api import ChoiceParameterConfig

    if not categories:
        raise SearchSpaceError(f"space.{path}: choice has no values; give at least one")
    if len(categories) == 1:
        return (categories[0],)
    name = _ax_name(path)

    def _is_num(v: Any) -> bool:
        return isinstance(v, (int, float)) and not isinstance(v, bool)

    if all(_is_num(v) for v in categories):
        is_int = all(isinstance(v, int) for v in categories)
        values = sorted({int(v) if is_int else float(v) for v in categories})
        if len(values) == 1:
            return (categories[0],)
        return MappedParameter(
            path=path,
            ax_name=name,
            ax_config=ChoiceParameterConfig(
                name=name,
                parameter_type="int" if is_int else "float",
                values=values,
                is_ordered=True,
            ),
        )
    if all(isinstance(v, str) for v in categories) and len(set(categories)) == len(categories):
        return MappedParameter(
            path=path,
            ax_name=name,
            ax_config=ChoiceParameterConfig(
                name=name, parameter_type="str", values=list(categories), is_ordered=False
            ),
        )
    # Anything else (bools, None, lists, mixed types): search over indices.
    labels = [str(i) for i in range(len(categories))]

    def encode(value: Any) -> str:
        for i, c in enumerate(categories):
            if c == value and type(c) is type(value):
                return labels[i]
        raise SearchSpaceError(f"space.{path}: {value!r} is not one of {categories!r}")

    return MappedParameter(
        path=path,
        ax_name=name,
        ax_config=ChoiceParameterConfig(
            name=name, parameter_type="str", values=labels, is_ordered=False
        ),
        decode=lambda v: categories[int(v)],
        encode=encode,
    )


def _rounded(value: Any, digits: int) -> float:
    """``value`` as a float rounded to ``digits`` decimals (a quantised parameter)."""
    return round(float(value), digits)
