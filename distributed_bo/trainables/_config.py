"""Turn a Ray Tune ``config`` into a frozen config dataclass, with one-line errors."""

from __future__ import annotations

import dataclasses
import numbers
from collections.abc import Callable, Mapping
from typing import Any, TypeVar

import numpy as np

from distributed_bo.exceptions import SpecError

T = TypeVar("T")


def coerce(prefix: str, key: str, value: Any, default: Any) -> Any:
    """Return ``value`` as the type of ``default`` (bool, int, float or str).

    Integral floats such as ``64.0`` are accepted for ints and NumPy scalars for
    any number; bools are never numbers and numbers never bools.

    Raises:
        SpecError: ``"{prefix}.{key}: got ...; pass ..."``.

    """
    if isinstance(default, bool):
        if isinstance(value, (bool, np.bool_)):
            return bool(value)
    elif isinstance(default, str):
        if isinstance(value, str):
            return value
    elif isinstance(value, numbers.Real) and not isinstance(value, (bool, np.bool_)):
        if isinstance(default, float) and np.isfinite(value):
            return float(value)
        if isinstance(default, int) and float(value).is_integer():
            return int(value)
    kind = {bool: "true or false", str: "a string", float: "a finite float", int: "an int"}
    raise SpecError(
        f"{prefix}.{key}: got {value!r} ({type(value).__name__}); pass {kind[type(default)]}"
    )


def from_config(cls: type[T], config: Mapping[str, Any], prefix: str) -> T:
    """Build ``cls`` from the keys of ``config`` that are its scalar fields.

    Keys that are not fields are ignored (the config also holds other trainables'
    and Tune's keys). Fields whose default is not a bool, int, float or str are
    left to ``cls``' own handling.
    """
    values: dict[str, Any] = {}
    for field in dataclasses.fields(cls):  # type: ignore[arg-type]
        default = field.default
        if field.name in config and isinstance(default, (bool, int, float, str)):
            values[field.name] = coerce(prefix, field.name, config[field.name], default)
    return cls(**values)


def check_fields(obj: Any, prefix: str, checks: Mapping[str, tuple[bool, str]]) -> None:
    """Raise for the first failed check: ``{prefix}.{key}: got {value}; pass {allowed}``."""
    for key, (ok, allowed) in checks.items():
        if not ok:
            raise SpecError(f"{prefix}.{key}: got {getattr(obj, key)!r}; pass {allowed}")


def one_of(values: tuple[str, ...]) -> Callable[[str], tuple[bool, str]]:
    """Check helper: ``one_of(("a", "b"))(x)`` -> ``(x in values, "one of a, b")``."""
    return lambda value: (value in values, f"one of {', '.join(values)}")
