"""The ``baseline``: a hand-tuned configuration checked against the searched space."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from distributed_bo.spec._frozen import FrozenDict, freeze, thaw
from distributed_bo.spec.domains import NESTED_SEP
from distributed_bo.spec.space import ParsedSpace
from distributed_bo.validation import did_you_mean, fail, join, require_mapping


def check_baseline(baseline: Any, parsed: ParsedSpace) -> FrozenDict:
    """Check a baseline (nested or by flat name) and return it by flat name.

    Args:
        baseline: The ``baseline`` value, e.g. ``{"lr": 0.01, "optim": {"beta1": 0.9}}``.
        parsed: The validated space.

    Returns:
        The values by flat parameter name (``optim/beta1``), read-only.

    Raises:
        SpecError: If a key is not a searched parameter, is given twice, its value
            lies outside its domain, or a searched parameter has no value.

    """
    require_mapping(baseline, "baseline", "a mapping of searched parameters to values")
    frozen = freeze(baseline, "baseline")
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
                require_mapping(value, key_path, "a mapping: the keys of one branch")
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
