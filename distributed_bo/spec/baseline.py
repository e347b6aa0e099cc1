"""The ``baseline``: a hand-tuned configuration checked against the searched space.

A baseline is one complete configuration: every searched parameter gets a value
in its domain. A branch point's value is one branch, given as the mapping a trial
gets (its keys and constants, its domains given values). For a ``when`` controller
(:mod:`distributed_bo.spec.when`) the flat form works too: ``{num_layers: 3,
width_3: 64, ...}`` is folded into ``num_layers: {num_layers: 3, width_3: 64}``.
A value for a gated parameter that is not searched at the baseline's controller
value is an error, not dropped: it would look as if it set something.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from distributed_bo.spec._frozen import FrozenDict, freeze, thaw
from distributed_bo.spec.domains import NESTED_SEP, DomainSpec
from distributed_bo.spec.space import ParsedSpace
from distributed_bo.spec.when import Gate
from distributed_bo.validation import describe, did_you_mean, fail, join, require_mapping


def check_baseline(baseline: Any, parsed: ParsedSpace) -> FrozenDict:
    """Check a baseline (nested or by flat name) and return it by flat name.

    Args:
        baseline: The ``baseline`` value, e.g. ``{"lr": 0.01, "optim": {"beta1": 0.9}}``.
        parsed: The validated space.

    Returns:
        The values by flat parameter name (``optim/beta1``), read-only.

    Raises:
        SpecError: If a key is not a searched parameter, is given twice, its value
            lies outside its domain, a branch point's value matches none of its
            branches, a ``when``-gated value is not searched at the controller's
            value, or a searched parameter has no value.

    """
    require_mapping(baseline, "baseline", "a mapping of searched parameters to values")
    frozen = freeze(_fold_when(baseline, parsed), "baseline")
    flat: dict[str, Any] = {}
    _flatten(frozen, "", "baseline", parsed, flat)
    missing = [name for name in parsed.domains if name not in flat]
    if missing:
        fail(
            "baseline",
            dict(thaw(frozen)),
            f"missing {', '.join(map(repr, missing))}; a baseline is one complete "
            "configuration, so give every searched parameter a value",
        )
    return FrozenDict(flat)


def _flatten(
    node: Mapping[str, Any], prefix: str, path: str, parsed: ParsedSpace, out: dict[str, Any]
) -> None:
    """Check a (possibly nested) baseline and collect it by flat parameter name."""
    for key, value in node.items():
        name, key_path = prefix + key, join(path, key)
        if name in parsed.domains:
            if name in out:
                fail(
                    key_path,
                    thaw(value),
                    f"{name!r} is given twice (nested and flat); give it once",
                )
            domain = parsed.domains[name]
            if domain.is_branch_point:
                _check_branch(domain, value, key_path)
            else:
                domain.check_value(thaw(value), key_path)
            out[name] = value
        elif name in parsed.groups:
            require_mapping(
                value,
                key_path,
                f"a mapping: {name!r} is a group of parameters (or use flat names "
                f"such as '{name}{NESTED_SEP}...')",
            )
            _flatten(value, name + NESTED_SEP, key_path, parsed, out)
        elif name in parsed.constants:
            fail(
                key_path,
                thaw(value),
                f"{name!r} is a constant in space, not a searched parameter; remove it",
            )
        else:
            hint = did_you_mean(name, list(parsed.domains))
            fail(
                key_path,
                thaw(value),
                f"{name!r} is not a searched parameter in space{hint}; "
                f"use {', '.join(parsed.domains)}",
            )


def _fold_when(baseline: Mapping[str, Any], parsed: ParsedSpace) -> Mapping[str, Any]:
    """Move flat values of ``when``-gated parameters into their controller's branch."""
    if not parsed.gates:
        return baseline
    out = {k: v for k, v in baseline.items() if k not in parsed.gates}
    given = {k: v for k, v in baseline.items() if k in parsed.gates}
    for controller, values in parsed.controllers.items():
        mine = {k: v for k, v in given.items() if parsed.gates[k].controller == controller}
        if controller not in baseline:
            if mine:
                name = next(iter(mine))
                fail(
                    join("baseline", name),
                    thaw(mine[name]),
                    f"{name!r} is searched only for some values of {controller!r}; "
                    f"give {controller!r} too",
                )
            continue
        value = baseline[controller]
        path = join("baseline", controller)
        if isinstance(value, Mapping):  # already the branch, as a trial's config holds it
            if mine:
                name = next(iter(mine))
                fail(
                    join("baseline", name),
                    thaw(mine[name]),
                    f"{name!r} is given twice (in {controller!r}'s branch and flat); give it once",
                )
            continue
        DomainSpec(name=controller, type="choice", values=values).check_value(value, path)
        branch: dict[str, Any] = {controller: value}
        for name, item in mine.items():
            _check_active(name, parsed.gates[name], value, thaw(item))
            branch[name] = item
        out[controller] = branch
    return out


def _check_active(name: str, gate: Gate, value: Any, item: Any) -> None:
    """Raise unless ``name`` is searched when its controller has ``value``."""
    if not any(_same(value, v) for v in gate.values):
        fail(
            join("baseline", name),
            item,
            f"{name!r} is searched only when {gate.controller} is one of "
            f"{describe(list(gate.values))} and this baseline has {gate.controller}: "
            f"{describe(value)}; remove it",
        )


def _check_branch(domain: DomainSpec, value: Any, path: str) -> None:
    """``value`` is one branch of the branch point ``domain``: its keys, constants, values."""
    require_mapping(value, path, "a mapping: the keys of one branch")
    branches = [b for b in domain.values or () if _constants_match(b, value)]
    if not branches:
        fail(
            path,
            thaw(value),
            f"it matches no branch of {domain.name!r} by its constants; give one branch's "
            f"keys and constants, e.g. {describe(_example(domain.values[0]))}"
            if domain.values
            else "give one branch",
        )
    same_keys = [b for b in branches if set(b) == set(value)]
    _check_in_branch((same_keys or branches)[0], value, path, domain.name + NESTED_SEP)


def _constants_match(branch: Mapping[str, Any], value: Mapping[str, Any]) -> bool:
    """Whether ``value`` holds every constant of ``branch`` (groups recursively)."""
    for key, entry in branch.items():
        if isinstance(entry, Mapping) and "type" in entry:
            continue
        if isinstance(entry, Mapping):
            inner = value.get(key)
            if not isinstance(inner, Mapping) or not _constants_match(entry, inner):
                return False
        elif key not in value or not _same(value[key], entry):
            return False
    return True


def _check_in_branch(
    branch: Mapping[str, Any], value: Mapping[str, Any], path: str, prefix: str
) -> None:
    """Raise for a key of ``value`` not in ``branch``, a missing key or a value off its domain."""
    extra = [k for k in value if k not in branch]
    if extra:
        fail(
            join(path, extra[0]),
            thaw(value[extra[0]]),
            f"not a key of this branch; its keys are {', '.join(map(str, branch))}",
        )
    missing = [k for k in branch if k not in value]
    if missing:
        fail(
            path,
            thaw(value),
            f"missing {', '.join(map(repr, missing))}; give every key of the branch",
        )
    for key, entry in branch.items():
        if isinstance(entry, Mapping) and "type" in entry:
            inner = DomainSpec.from_dict(prefix + key, entry)
            if inner.is_branch_point:
                _check_branch(inner, value[key], join(path, key))
            else:
                inner.check_value(thaw(value[key]), join(path, key))
        elif isinstance(entry, Mapping):
            require_mapping(value[key], join(path, key), "a mapping: a group of this branch")
            _check_in_branch(entry, value[key], join(path, key), prefix + key + NESTED_SEP)


def _example(branch: Any) -> Any:
    """A branch with each domain shown as ``<type>``, for a message."""
    if not isinstance(branch, Mapping):
        return thaw(branch)
    return {
        k: f"<{v['type']}>" if isinstance(v, Mapping) and "type" in v else _example(v)
        for k, v in branch.items()
    }


def _same(a: Any, b: Any) -> bool:
    """Equal constants of the same kind (``1 == 1.0`` counts, ``1 == True`` does not)."""
    if isinstance(a, bool) or isinstance(b, bool):
        return type(a) is type(b) and a == b
    try:
        return bool(a == b)
    except (TypeError, ValueError):
        return False
