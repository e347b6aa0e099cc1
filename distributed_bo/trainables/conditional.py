"""Flatten a conditional trial config: the chosen branches merged into one flat dict.

A branch point puts the chosen branch in the config as a dict. ``when:``
(:mod:`distributed_bo.spec.when`) names the branch point after its controller and
puts the controller's value inside the branch::

    {"lr": 0.01, "num_layers": {"num_layers": 3, "width_1": 64, "width_2": 32, "width_3": 128}}

:func:`flat_config` turns that into the config a trainable written for flat keys
reads::

    {"lr": 0.01, "num_layers": 3, "width_1": 64, "width_2": 32, "width_3": 128}

A trainable whose own config has a branch point under another name (the built-in
``widths: {num_layers: 3, width_1: 64, ...}``) names it in ``branches``.
"""

from __future__ import annotations

from collections.abc import Collection, Mapping
from typing import Any

from distributed_bo.validation import fail


def flat_config(config: Mapping[str, Any], *, branches: Collection[str] = ()) -> dict[str, Any]:
    """Merge the chosen branches of ``config`` into one flat dict.

    A top-level value that is a dict holding its own key (``num_layers:
    {num_layers: 3, ...}``, a ``when:`` branch point) is a chosen branch: its keys
    join the top level and its own key becomes the plain value. So does a dict
    under a key named in ``branches``, which then disappears (any other value
    under such a key is kept as it is). Merged keys are
    merged again when they are branches themselves; other dicts (groups such as
    ``optim: {beta1: ...}``) stay as they are. A flat config comes back as a copy.

    Args:
        config: A trial's config.
        branches: Top-level keys whose dict values are chosen branches to merge,
            besides the self-keyed ones.

    Returns:
        A new flat dict; ``config`` is not changed.

    Raises:
        SpecError: If a key is given both at the top level (or in another branch)
            and in a branch with a different value.

    """
    out: dict[str, Any] = {}
    origin: dict[str, str] = {}
    pending = [(key, value, "the config") for key, value in config.items()]
    while pending:
        key, value, where = pending.pop(0)
        merge = isinstance(value, Mapping) and (key in branches or key in value)
        if not merge:
            _put(out, origin, key, value, where)
            continue
        for inner, item in value.items():
            if inner == key:
                _put(out, origin, key, item, f"the branch {key!r}")
            else:
                pending.append((inner, item, f"the branch {key!r}"))
    return out


def _put(out: dict[str, Any], origin: dict[str, str], key: str, value: Any, where: str) -> None:
    """Set ``out[key]``, refusing a second, different value for the same key."""
    if key in out and out[key] != value:
        fail(
            f"config.{key}",
            value,
            f"{key!r} is set twice ({out[key]!r} in {origin[key]}, {value!r} in {where}); "
            "set it in one place",
        )
    out[key] = value
    origin.setdefault(key, where)
