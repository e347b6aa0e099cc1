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
``choice`` of dicts         a branch point; see "Conditional spaces" below
any non-domain value        constant, passed through unchanged
nested ``dict``             flattened to ``a/b`` names, unflattened for Tune
==========================  =================================================

Conditional spaces (explicit encoding). A ``choice`` whose options are all dicts
(of domains and/or constants) is a *branch point*: the trial gets exactly one of
the dicts, its inner domains resolved, and nothing of the others.

=====================================  ==========================================
Ray Tune                               Ax
=====================================  ==========================================
``"arch": choice([{..}, {..}])``       selector ``arch``: ordered int choice
                                       ``0 .. B-1`` (one model column after Ax's
                                       transforms)
domain ``d`` in branch ``i``           its own parameter ``arch__b{i}__d``, active
                                       only while ``arch == i`` (and the branch
                                       point's own conditions hold); nested
                                       branch points recurse the same way
constant in branch ``i``               kept with the branch, in the config only
                                       while branch ``i`` is chosen
inactive parameter                     a fixed filler (range: lower bound;
                                       choice: first value), ignored by
                                       :meth:`MappedSpace.to_config`
=====================================  ==========================================

The search space stays flat on the Ax side, so Sobol points, pending points and
spares need nothing new; :meth:`MappedSpace.active` says which parameters a
parameterization uses, and :mod:`distributed_bo.search.conditional` gives the
model the same structure (BoTorch's ``HierarchicalConditionalKernelGP``).
Ax's own hierarchical search space (``dependent_parameters``) is not used; it
works with Ax's ``Client`` on ax 1.3.1, but Ax flattens it for its GP (see
:mod:`distributed_bo.search.conditional`).

``sample_from``, ``grid_search`` and normal-distribution domains have no Ax
equivalent and are rejected with :class:`SearchSpaceError`.
"""

from __future__ import annotations

import functools
import math
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field, replace
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
        conditions: ``(selector Ax name, branch index)`` pairs that must all hold
            for the parameter to be active; empty outside branches.
        filler: The Ax value an inactive parameter takes (range: lower bound;
            choice: first value).
        selector: True for a branch point's selector, which picks a branch and
            never appears in a config itself.
    """

    path: str
    ax_name: str
    ax_config: Any
    decode: Callable[[Any], Any] = field(default=lambda v: v)
    encode: Callable[[Any], Any] = field(default=lambda v: v)
    conditions: tuple[tuple[str, int], ...] = ()
    filler: Any = None
    selector: bool = False

    def is_active(self, ax_parameters: Mapping[str, Any]) -> bool:
        """Whether the parameterization ``ax_parameters`` uses this parameter."""
        return all(_branch_of(ax_parameters.get(s)) == i for s, i in self.conditions)

    def admits(self, ax_value: Any) -> bool:
        """Whether ``ax_value`` lies in this parameter's Ax domain."""
        values = getattr(self.ax_config, "values", None)
        if values is not None:
            return any(ax_value == v for v in values)
        bounds = getattr(self.ax_config, "bounds", None)
        if bounds is None:
            return True
        try:
            return bool(bounds[0] <= ax_value <= bounds[1])
        except TypeError:
            return False


@dataclass(frozen=True, kw_only=True)
class Branch:
    """One option of a branch point.

    Attributes:
        index: The selector value that picks this branch.
        constants: Flat Tune path -> value of the branch's constants.
        parameters: Ax names of the parameters directly in this branch (the
            selectors of nested branch points included).
        branch_points: Branch points nested directly in this branch.
    """

    index: int
    constants: Mapping[str, Any]
    parameters: tuple[str, ...]
    branch_points: tuple[BranchPoint, ...]


@dataclass(frozen=True, kw_only=True)
class BranchPoint:
    """A ``choice`` of dicts: one selector parameter and its branches.

    Attributes:
        path: Flat Tune path of the choice (``"arch"``).
        ax_name: Ax name of its selector parameter.
        branches: The options, in the order the user wrote them.
    """

    path: str
    ax_name: str
    branches: tuple[Branch, ...]


@dataclass(frozen=True, kw_only=True)
class MappedSpace:
    """A Ray Tune search space mapped to Ax parameters.

    Attributes:
        parameters: The searched parameters, in the order the user wrote them.
        constants: Flat path to value for everything that is not searched.
    """

    parameters: tuple[MappedParameter, ...]
    constants: Mapping[str, Any]
    branch_points: tuple[BranchPoint, ...] = ()

    @property
    def is_conditional(self) -> bool:
        """True if some parameter exists only in some branch of a branch point."""
        return any(p.conditions and not p.selector for p in self.parameters)

    @property
    def all_branch_points(self) -> list[BranchPoint]:
        """Every branch point, nested ones included, outermost first."""
        out: list[BranchPoint] = []
        todo = list(self.branch_points)
        while todo:
            bp = todo.pop(0)
            out.append(bp)
            todo.extend(b for br in bp.branches for b in br.branch_points)
        return out

    def dependencies(self) -> dict[str, dict[int, list[str]]]:
        """Selector Ax name -> branch index -> Ax names of that branch's parameters.

        The structure BoTorch's ``hierarchical_dependencies`` encodes, by name.
        """
        return {
            bp.ax_name: {br.index: list(br.parameters) for br in bp.branches}
            for bp in self.all_branch_points
        }

    def active(self, ax_parameters: Mapping[str, Any]) -> frozenset[str]:
        """Ax names of the parameters the parameterization ``ax_parameters`` uses."""
        return frozenset(p.ax_name for p in self.parameters if p.is_active(ax_parameters))

    def branches(self, ax_parameters: Mapping[str, Any]) -> dict[str, int]:
        """Flat Tune path of each active branch point -> the index of the branch taken."""
        by_name = {p.ax_name: p for p in self.parameters}
        return {
            bp.path: int(ax_parameters[bp.ax_name])
            for bp in self.all_branch_points
            if by_name[bp.ax_name].is_active(ax_parameters)
        }

    def canonical(self, ax_parameters: Mapping[str, Any]) -> dict[str, Any]:
        """``ax_parameters`` with every inactive parameter set to its filler value."""
        out = dict(ax_parameters)
        for p in self.parameters:
            if p.conditions and not p.is_active(ax_parameters):
                out[p.ax_name] = p.filler
        return out

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
        """Number of searched parameters (Ax's), every branch's included."""
        return len(self.parameters)

    @property
    def active_dim(self) -> int:
        """Most searched parameters one configuration uses, selectors included.

        ``dim`` for a space without branch points. A ``when:`` parameter gated by
        ``num_layers >= 2`` is one Ax parameter per branch it is in, but a trial
        uses at most one of them, so it counts once here.
        """

        def widest(bp: BranchPoint) -> int:
            return max(
                len(br.parameters) + sum(widest(inner) for inner in br.branch_points)
                for br in bp.branches
            )

        top = sum(1 for p in self.parameters if not p.conditions)
        return top + sum(widest(bp) for bp in self.branch_points)

    @property
    def default_num_initial(self) -> int:
        """Sobol trials before the model when ``num_initial`` is unset: ``max(5, 2 d)``.

        ``d`` is :attr:`active_dim`, the parameters of one configuration, so a
        conditional space's Sobol start does not grow with its number of branches.
        """
        return max(5, 2 * self.active_dim)

    def ax_name(self, path: str) -> str:
        """Ax name of the parameter at flat ``path`` (outside branches first)."""
        found = [p for p in self.parameters if p.path == path and not p.selector]
        for p in sorted(found, key=lambda p: len(p.conditions)):
            return p.ax_name
        raise SearchSpaceError(f"parameter {path!r} is not in the search space")

    def to_config(self, ax_parameters: Mapping[str, Any]) -> dict[str, Any]:
        """Turn an Ax parameterization into the nested config a trainable gets.

        Only the chosen branch of each branch point appears, with its constants.
        """
        flat = dict(self.constants)
        for bp in self.all_branch_points:
            selector = next(p for p in self.parameters if p.ax_name == bp.ax_name)
            if selector.is_active(ax_parameters):
                flat.update(bp.branches[int(ax_parameters[bp.ax_name])].constants)
        for p in self.parameters:
            if not p.selector and p.is_active(ax_parameters):
                flat[p.path] = p.decode(ax_parameters[p.ax_name])
        return unflatten(flat)

    def to_ax(self, config: Mapping[str, Any]) -> dict[str, Any]:
        """Turn a (nested or flat) trial config into an Ax parameterization.

        The branch of each branch point is recognised from the config (its keys
        and constants); parameters of other branches get their filler values.

        Raises:
            SearchSpaceError: If a searched parameter is missing from ``config``, or
                the config matches no branch of a branch point.
        """
        flat = flatten(config)
        out: dict[str, Any] = {}
        for p in self.parameters:
            if p.conditions:
                continue
            if p.selector:
                continue
            if p.path not in flat:
                raise SearchSpaceError(
                    f"config: parameter {p.path!r} is missing; give a value for every "
                    "searched parameter"
                )
            out[p.ax_name] = p.encode(flat[p.path])
        by_name = {p.ax_name: p for p in self.parameters}
        for bp in self.branch_points:
            matched = _match(bp, flat, by_name)
            if matched is None:
                raise SearchSpaceError(
                    f"config: {bp.path!r} matches no branch of its choice "
                    f"(got keys {sorted(_under(flat, bp.path))}); give exactly one "
                    "branch's keys and constants"
                )
            out.update(matched[0])
        return self.canonical({**{p.ax_name: p.filler for p in self.parameters}, **out})

    def branch_taken(self, path: str, config: Mapping[str, Any]) -> int | None:
        """The branch of the branch point at ``path`` that ``config`` holds, else ``None``.

        ``config`` (nested, or flat ``a/b`` keys) must hold exactly one branch: its
        constants, its parameters inside their domains, its nested branch points
        matched, and no key of another branch (as :meth:`to_ax` matches them).
        Other keys of ``config`` are not looked at. ``None`` also for a ``path``
        that is no branch point outside branches.
        """
        by_name = {p.ax_name: p for p in self.parameters}
        for bp in self.branch_points:
            if bp.path == path:
                matched = _match(bp, flatten(config), by_name)
                return None if matched is None else int(matched[0][bp.ax_name])
        return None

    def translate_constraint(self, constraint: str) -> str:
        """Rewrite a linear constraint from flat Tune names to Ax names.

        Parameters inside branches keep their Ax names (``arch__b1__lr``).
        """
        out = constraint
        plain = [p for p in self.parameters if not p.conditions and not p.selector]
        for p in sorted(plain, key=lambda p: -len(p.path)):
            if p.path != p.ax_name:
                out = out.replace(p.path, p.ax_name)
        return out


def _branch_of(value: Any) -> int | None:
    """A selector's Ax value as a branch index (``None`` if it is not one)."""
    try:
        return int(value)
    except (TypeError, ValueError):
        return None


def _under(flat: Mapping[str, Any], path: str) -> set[str]:
    """Keys of ``flat`` inside the branch point at ``path``.

    A key whose value is ``None`` is absent: a config rebuilt from a row of
    ``trials.parquet`` holds null for every parameter of the branches not taken.
    """
    return {k for k, v in flat.items() if k.startswith(path + NESTED_SEP) and v is not None}


def _match(
    bp: BranchPoint, flat: Mapping[str, Any], by_name: Mapping[str, MappedParameter]
) -> tuple[dict[str, Any], set[str]] | None:
    """The first branch of ``bp`` that ``flat`` holds exactly: its Ax values and keys."""
    given = _under(flat, bp.path)
    for branch in bp.branches:
        values: dict[str, Any] = {bp.ax_name: branch.index}
        keys: set[str] = set()
        ok = True
        for path, constant in branch.constants.items():
            if path not in flat or not _same(flat[path], constant):
                ok = False
                break
            if constant is not None:  # a null constant is absent from a row, as in _under
                keys.add(path)
        for name in branch.parameters if ok else ():
            p = by_name[name]
            if p.selector:
                continue
            if p.path not in flat:
                ok = False
                break
            try:
                value = p.encode(flat[p.path])
            except SearchSpaceError:
                ok = False
                break
            if not p.admits(value):
                ok = False
                break
            values[name] = value
            keys.add(p.path)
        for nested in branch.branch_points if ok else ():
            sub = _match(nested, flat, by_name)
            if sub is None:
                ok = False
                break
            values.update(sub[0])
            keys |= sub[1]
        if ok and keys == given:
            return values, keys
    return None


def _same(a: Any, b: Any) -> bool:
    """Equal constants of the same kind (``1 == 1.0`` counts, ``1 == True`` does not)."""
    if isinstance(a, bool) or isinstance(b, bool):
        return type(a) is type(b) and a == b
    try:
        return bool(a == b)
    except (TypeError, ValueError):  # arrays and other odd values: compare as unequal
        return False


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
    if not isinstance(space, Mapping):
        raise SearchSpaceError(
            f"space: got {type(space).__name__}; pass a dict of Ray Tune domains"
        )
    params: list[MappedParameter] = []
    branch_points: list[BranchPoint] = []
    constants = _map_level(
        flatten(space), name_of=_ax_name, conditions=(), params=params, branch_points=branch_points
    )
    if not params:
        raise SearchSpaceError(
            "space: no searched parameter; add at least one Ray Tune domain such as "
            "tune.uniform(0, 1)"
        )
    return MappedSpace(
        parameters=tuple(params), constants=constants, branch_points=tuple(branch_points)
    )


def _map_level(
    flat: Mapping[str, Any],
    *,
    name_of: Callable[[str], str],
    conditions: tuple[tuple[str, int], ...],
    params: list[MappedParameter],
    branch_points: list[BranchPoint],
) -> dict[str, Any]:
    """Map one level (the space, or one branch) of flat paths; return its constants.

    Args:
        flat: Flat Tune path -> domain or constant.
        name_of: Flat Tune path -> Ax name.
        conditions: When this level is active (empty for the top level).
        params: Receives the mapped parameters, in order.
        branch_points: Receives the branch points found directly at this level.
    """
    from ray.tune.search.sample import Categorical, Domain

    constants: dict[str, Any] = {}
    for path, value in flat.items():
        if isinstance(value, Categorical) and _is_branch_point(path, list(value.categories)):
            options = list(value.categories)
            if len(options) == 1:  # one branch: its dict, always there
                constants.update(
                    _map_level(
                        flatten(options[0], prefix=f"{path}{NESTED_SEP}"),
                        name_of=name_of,
                        conditions=conditions,
                        params=params,
                        branch_points=branch_points,
                    )
                )
                continue
            branch_points.append(
                _map_branch_point(
                    path, options, ax_name=name_of(path), conditions=conditions, params=params
                )
            )
        elif isinstance(value, Domain):
            mapped = _map_domain(path, value, name=name_of(path))
            if isinstance(mapped, MappedParameter):
                params.append(
                    replace(mapped, conditions=conditions, filler=_filler(mapped.ax_config))
                )
            else:
                constants[path] = mapped[0]
        elif isinstance(value, Mapping) and "grid_search" in value:
            raise SearchSpaceError(
                f"space.{path}: grid_search has no Bayesian-optimisation equivalent; "
                "use tune.choice(...) instead"
            )
        else:
            constants[path] = value
    return constants


def _is_branch_point(path: str, options: list[Any]) -> bool:
    """Whether a choice's options are branches (all dicts); refuse a mix."""
    dicts = [isinstance(o, Mapping) for o in options]
    if not any(dicts):
        return False
    if not all(dicts):
        bad = next(o for o in options if not isinstance(o, Mapping))
        raise SearchSpaceError(
            f"space.{path}: choice mixes dicts (branches) with {bad!r}; make every "
            "option a dict, e.g. {'name': 'relu'}"
        )
    for i, option in enumerate(options):
        if not option:
            raise SearchSpaceError(
                f"space.{path}: branch {i} is an empty dict; give it at least one key"
            )
    return True


def _map_branch_point(
    path: str,
    options: list[Mapping[str, Any]],
    *,
    ax_name: str,
    conditions: tuple[tuple[str, int], ...],
    params: list[MappedParameter],
) -> BranchPoint:
    """Map a choice of dicts: its selector, then each branch's parameters in order."""
    from ax.api import ChoiceParameterConfig

    params.append(
        MappedParameter(
            path=path,
            ax_name=ax_name,
            ax_config=ChoiceParameterConfig(
                name=ax_name,
                parameter_type="int",
                values=list(range(len(options))),
                is_ordered=True,
            ),
            conditions=conditions,
            filler=0,
            selector=True,
        )
    )
    branches = []
    prefix = f"{path}{NESTED_SEP}"
    for i, option in enumerate(options):
        here = (*conditions, (ax_name, i))
        start = len(params)
        nested: list[BranchPoint] = []
        constants = _map_level(
            flatten(option, prefix=prefix),
            name_of=functools.partial(_branch_name, ax_name=ax_name, index=i, prefix=prefix),
            conditions=here,
            params=params,
            branch_points=nested,
        )
        own = tuple(p.ax_name for p in params[start:] if p.conditions == here)
        branches.append(
            Branch(index=i, constants=constants, parameters=own, branch_points=tuple(nested))
        )
    return BranchPoint(path=path, ax_name=ax_name, branches=tuple(branches))


def _branch_name(path: str, *, ax_name: str, index: int, prefix: str) -> str:
    """Ax name of the parameter at flat ``path`` in branch ``index`` of selector ``ax_name``."""
    return f"{ax_name}{AX_SEP}b{index}{AX_SEP}{_ax_name(path[len(prefix) :])}"


def _filler(ax_config: Any) -> Any:
    """The value of an inactive parameter: a range's lower bound, a choice's first value."""
    values = getattr(ax_config, "values", None)
    if values:
        return values[0]
    return ax_config.bounds[0]


def _ax_name(path: str) -> str:
    return path.replace(NESTED_SEP, AX_SEP)


def _map_domain(path: str, domain: Any, *, name: str) -> MappedParameter | tuple[Any]:
    from ray.tune.search.sample import Categorical, Float, Integer, LogUniform, Quantized, Uniform

    sampler = domain.get_sampler()
    quantum = None
    if isinstance(sampler, Quantized):
        quantum = sampler.q
        sampler = sampler.get_sampler()
    if isinstance(domain, Categorical):
        return _map_choice(path, list(domain.categories), name=name)
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
        return _map_quantized(path, lower, upper, quantum, is_int=is_int, log=log, name=name)
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
        ax_name=name,
        ax_config=RangeParameterConfig(
            name=name,
            parameter_type="int" if is_int else "float",
            bounds=bounds,
            scaling="log" if log else "linear",
        ),
    )


def _map_quantized(
    path: str, lower: float, upper: float, q: float, *, is_int: bool, log: bool, name: str
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
            name=name,
            parameter_type="int" if is_int else "float",
            values=values,
            is_ordered=True,
        )
    else:
        config = RangeParameterConfig(
            name=name,
            parameter_type="int" if is_int else "float",
            bounds=(values[0], values[-1]),
            step_size=q,
        )
    if is_int:
        return MappedParameter(path=path, ax_name=name, ax_config=config)
    return MappedParameter(
        path=path,
        ax_name=name,
        ax_config=config,
        decode=functools.partial(_rounded, digits=digits),
    )


def _map_choice(path: str, categories: list[Any], *, name: str) -> MappedParameter | tuple[Any]:
    from ax.api import ChoiceParameterConfig

    if not categories:
        raise SearchSpaceError(f"space.{path}: choice has no values; give at least one")
    if len(categories) == 1:
        return (categories[0],)

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
