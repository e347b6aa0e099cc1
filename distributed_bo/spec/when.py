"""The ``when:`` shorthand: a parameter searched only while another has some values.

A top-level parameter of ``space`` may carry ``when: {CONTROLLER: CONDITION}``::

    space:
      num_layers: {type: choice, values: [2, 3, 4]}
      width_1: {type: choice, values: [32, 64, 128]}
      width_3: {type: choice, values: [32, 64, 128], when: {num_layers: [3, 4]}}
      width_4: {type: choice, values: [32, 64, 128], when: {num_layers: ">= 4"}}

The CONDITION is a list of the controller's values, one value, or a comparison
string (``">= 3"``; ``>=``, ``>``, ``<=``, ``<``, ``==`` or ``!=`` and a value).
:func:`expand_when` rewrites every parameter gated by the same controller into one
branch point named after the controller (:mod:`distributed_bo.spec.domains`): a
choice over the controller's values, each branch ``{CONTROLLER: value, <the
parameters active at that value>}``. A trial's config then holds, for example,
``num_layers: {num_layers: 3, width_3: 64}``;
:func:`distributed_bo.trainables.conditional.flat_config` flattens it again.

The controller is a top-level ``choice`` of scalars, or a ``randint``/``qrandint``
with at most :data:`MAX_CONTROLLER_VALUES` values. Gated parameters are top-level
domains and are not controllers themselves: deeper conditions are written as an
explicit choice of mappings, which may nest.
"""

from __future__ import annotations

import math
import operator
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

from distributed_bo.spec._frozen import FrozenDict, thaw
from distributed_bo.spec.domains import NESTED_SEP, DomainSpec, space_path
from distributed_bo.validation import describe, did_you_mean, fail, is_real, join

#: Most values a ``when`` controller may take: each is a branch of the rewritten
#: choice, and each branch's parameters are a block of the GP's inputs.
MAX_CONTROLLER_VALUES = 64
_KEY = "when"
_CONTROLLER_TYPES = ("choice", "randint", "qrandint")
_COMPARISON = re.compile(r"\s*(>=|<=|==|!=|>|<)\s*(\S.*?)\s*")
_OPERATORS: dict[str, Callable[[Any, Any], bool]] = {
    ">=": operator.ge,
    ">": operator.gt,
    "<=": operator.le,
    "<": operator.lt,
    "==": operator.eq,
    "!=": operator.ne,
}


@dataclass(frozen=True, kw_only=True)
class Gate:
    """Where a ``when``-gated parameter is searched.

    Attributes:
        controller: Name of the controlling top-level parameter (and of the branch
            point the rewrite makes).
        values: The controller's values at which the parameter is searched, in the
            controller's order.

    """

    controller: str
    values: tuple[Any, ...]


@dataclass(frozen=True, kw_only=True)
class Expanded:
    """A ``space`` with its ``when`` parameters rewritten into branch points.

    Attributes:
        space: The rewritten space (the input itself when nothing is gated).
        gates: Gated parameter name -> its :class:`Gate`, in YAML order.
        controllers: Controller name -> its values, in the controller's order.

    """

    space: Mapping[str, Any]
    gates: Mapping[str, Gate]
    controllers: Mapping[str, tuple[Any, ...]]


def expand_when(space: Mapping[str, Any]) -> Expanded:
    """Rewrite the ``when``-gated parameters of ``space`` into branch points.

    Args:
        space: A ``space`` mapping (checked to be a mapping by the caller).

    Returns:
        The rewritten space and which parameter is gated by which controller.

    Raises:
        SpecError: If a ``when`` is malformed, names no suitable controller, selects
            none of its values, or sits anywhere but on a top-level domain.

    """
    gated: dict[str, tuple[str, Any]] = {}
    for name, value in space.items():
        if isinstance(value, Mapping) and _KEY in value:
            path = join(space_path(str(name)), _KEY)
            if "type" not in value:
                fail(
                    path,
                    thaw(value[_KEY]),
                    "when gates a searched parameter (a mapping with a type key), not a group",
                )
            gated[name] = (_controller_of(value[_KEY], path), value[_KEY])
            _refuse_nested({k: v for k, v in value.items() if k != _KEY}, name, in_branch=False)
        elif isinstance(value, Mapping):
            _refuse_nested(value, str(name), in_branch=False)
    if not gated:
        return Expanded(space=space, gates=FrozenDict(), controllers=FrozenDict())
    controllers: dict[str, tuple[Any, ...]] = {}
    gates: dict[str, Gate] = {}
    for name, (controller, condition) in gated.items():
        path = join(space_path(name), _KEY)
        if controller == name:
            fail(
                path,
                thaw(condition),
                f"{name!r} cannot be gated by itself; remove its when, or gate it by another "
                "parameter",
            )
        if controller in gated:
            fail(
                path,
                thaw(condition),
                f"{controller!r} is itself gated (by {gated[controller][0]!r}), so it cannot "
                "control others; remove one when, or nest explicit choices of mappings",
            )
        if controller not in controllers:
            controllers[controller] = _controller_values(space, controller, path)
        values = controllers[controller]
        gates[name] = Gate(
            controller=controller, values=_select(condition[controller], values, controller, path)
        )
    out: dict[str, Any] = {}
    for name, value in space.items():
        if name in gates:
            continue
        if name in controllers:
            out[name] = _branch_point(name, controllers[name], space, gates)
        else:
            out[name] = value
    return Expanded(space=out, gates=FrozenDict(gates), controllers=FrozenDict(controllers))


def _controller_of(condition: Any, path: str) -> str:
    """The one controller name of a ``when`` mapping."""
    if not isinstance(condition, Mapping):
        fail(
            path,
            thaw(condition),
            "use a mapping of one controlling parameter to its values, "
            "e.g. when: {num_layers: [3, 4]}",
        )
    if len(condition) != 1:
        fail(
            path,
            thaw(condition),
            "name exactly one controlling parameter, e.g. when: {num_layers: [3, 4]} "
            "(for several, write an explicit choice of mappings)",
        )
    (controller,) = condition
    if not isinstance(controller, str):
        fail(path, thaw(condition), "name the controlling parameter, e.g. when: {num_layers: 3}")
    return controller


def _controller_values(space: Mapping[str, Any], controller: str, path: str) -> tuple[Any, ...]:
    """The values of the top-level parameter ``controller``, checked to be a controller."""
    if controller not in space:
        hint = did_you_mean(controller, [str(k) for k in space])
        nested = " (a controller is a top-level parameter)" if NESTED_SEP in controller else ""
        fail(
            path,
            controller,
            f"{controller!r} is not a parameter of space{hint}{nested}; name a top-level "
            "choice or randint parameter",
        )
    spec = space[controller]
    if not (isinstance(spec, Mapping) and spec.get("type") in _CONTROLLER_TYPES):
        kind = spec.get("type") if isinstance(spec, Mapping) else None
        what = f"a {kind} domain" if kind else "not a searched parameter"
        fail(
            path,
            controller,
            f"{controller!r} is {what}; a controller is a choice of plain values or a "
            "randint/qrandint range",
        )
    domain = DomainSpec.from_dict(controller, spec)
    lower, upper, step = int(domain.lower or 0), int(domain.upper or 0), int(domain.q or 1)
    if domain.type == "choice":
        count = len(domain.values or ())
    elif domain.type == "randint":  # upper excluded
        count = upper - lower
    else:  # qrandint: the multiples of q in [lower, upper]
        count = (upper - lower) // step + 1
    if count > MAX_CONTROLLER_VALUES:
        fail(
            path,
            controller,
            f"{controller!r} takes {count:,} values and a controller at most "
            f"{MAX_CONTROLLER_VALUES} (one branch each); narrow it",
        )
    if domain.type != "choice":
        return tuple(range(lower, upper if domain.type == "randint" else upper + 1, step))
    values = tuple(domain.values or ())
    for value in values:
        if not isinstance(value, (str, int, float)):
            fail(
                path,
                controller,
                f"{controller!r} has the value {describe(thaw(value))}; a controller's "
                "values are numbers, strings or booleans (for others, write an explicit "
                "choice of mappings)",
            )
    return values


def _select(condition: Any, values: tuple[Any, ...], controller: str, path: str) -> tuple[Any, ...]:
    """The controller's values that ``condition`` (a list, a value, a comparison) selects."""
    path = join(path, controller)
    allowed = f"use values of {controller!r} ({describe(list(values))})"
    if isinstance(condition, (list, tuple)):
        if not condition:
            fail(path, [], f"list at least one value; {allowed}")
        for item in condition:
            if not any(_same(item, v) for v in values):
                fail(path, thaw(condition), f"{describe(thaw(item))} is not a value; {allowed}")
        return tuple(v for v in values if any(_same(item, v) for item in condition))
    if any(_same(condition, v) for v in values):
        return tuple(v for v in values if _same(condition, v))
    if not isinstance(condition, str):
        fail(path, thaw(condition), f"{allowed}, a list of them, or a comparison such as '>= 3'")
    match = _COMPARISON.fullmatch(condition)
    if match is None:
        fail(
            path,
            condition,
            f"{allowed}, or a comparison: >=, >, <=, <, == or != and a value, e.g. '>= 3'",
        )
    op, raw = match.groups()
    operand = _number(raw)
    if op in ("==", "!="):
        test = operand if operand is not None else raw
        chosen = tuple(v for v in values if _same(v, test) == (op == "=="))
    else:
        if operand is None or not all(is_real(v) for v in values):
            fail(
                path,
                condition,
                f"{op} compares numbers; give a number and a numeric controller, or list "
                "the values",
            )
        chosen = tuple(v for v in values if _OPERATORS[op](v, operand))
    if not chosen:
        fail(path, condition, f"it selects none of {describe(list(values))}; {allowed}")
    return chosen


def _number(text: str) -> float | None:
    """``text`` as a finite number, or ``None``."""
    try:
        value = float(text)
    except ValueError:
        return None
    return value if math.isfinite(value) else None


def _same(a: Any, b: Any) -> bool:
    """Equal values of the same kind: ``1 == 1.0`` counts, ``1 == True`` does not."""
    if isinstance(a, bool) or isinstance(b, bool):
        return type(a) is type(b) and a == b
    if is_real(a) and is_real(b):
        return bool(a == b)
    return type(a) is type(b) and a == b


def _branch_point(
    controller: str, values: tuple[Any, ...], space: Mapping[str, Any], gates: Mapping[str, Gate]
) -> dict[str, Any]:
    """The choice over ``controller``'s values, each branch holding its active parameters."""
    branches = []
    for value in values:
        branch: dict[str, Any] = {controller: value}
        for name, gate in gates.items():
            if gate.controller == controller and any(_same(value, v) for v in gate.values):
                branch[name] = {k: v for k, v in space[name].items() if k != _KEY}
        branches.append(branch)
    return {"type": "choice", "values": branches}


def _refuse_nested(node: Mapping[str, Any], prefix: str, *, in_branch: bool) -> None:
    """Raise for a ``when`` below the top level: in a group or in a branch of a choice."""
    if _KEY in node and "type" in node:
        where = "inside a branch of a choice" if in_branch else "inside a group"
        fail(
            join(space_path(prefix), _KEY),
            thaw(node[_KEY]),
            f"when works on top-level parameters only, not {where}; move the parameter "
            "to the top level, or write the condition as a choice of mappings",
        )
    if node.get("type") == "choice" and isinstance(node.get("values"), (list, tuple)):
        for branch in node["values"]:
            if isinstance(branch, Mapping):
                _refuse_nested(branch, prefix, in_branch=True)
        return
    if "type" in node:
        return
    for key, value in node.items():
        if isinstance(value, Mapping):
            _refuse_nested(value, f"{prefix}{NESTED_SEP}{key}", in_branch=in_branch)
