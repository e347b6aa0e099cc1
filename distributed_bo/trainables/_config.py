"""Build a trainable's frozen config dataclass from a Ray Tune ``config``.

A thin adapter over :mod:`distributed_bo.validation`, the one validator set: values
are coerced with :func:`~distributed_bo.validation.coerce_like` and checks fail with
:func:`~distributed_bo.validation.fail`, so every message reads
``"<trainable>.<key>: got <value>; pass <what is allowed>"``.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping, Sequence
from typing import Any, TypeVar

from distributed_bo.validation import coerce_like, did_you_mean, fail, join, one_of

T = TypeVar("T")


def from_config(cls: type[T], config: Mapping[str, Any], prefix: str) -> T:
    """Build ``cls`` from the keys of ``config`` that are its scalar fields.

    Keys that are not fields are ignored (the config also holds other trainables'
    and Tune's keys). Fields whose default is not a bool, int, float or str are
    left to ``cls``' own handling.

    Raises:
        SpecError: ``"{prefix}.{key}: got ...; pass ..."`` for a value of the wrong type.

    """
    values: dict[str, Any] = {}
    for field in dataclasses.fields(cls):  # type: ignore[arg-type]
        default = field.default
        if field.name in config and isinstance(default, (bool, int, float, str)):
            values[field.name] = coerce_like(config[field.name], default, join(prefix, field.name))
    return cls(**values)


def check_fields(obj: Any, prefix: str, checks: Mapping[str, tuple[bool, str]]) -> None:
    """Raise for the first failed check: ``{prefix}.{key}: got {value}; pass {allowed}``.

    Args:
        obj: The config whose attribute ``key`` is the value shown.
        prefix: The trainable's name, the first part of the field path.
        checks: Key -> ``(passed, what is allowed)``.

    """
    for key, (ok, allowed) in checks.items():
        if not ok:
            fail(join(prefix, key), getattr(obj, key), f"pass {allowed}")


def choice_check(value: str, options: Sequence[str]) -> tuple[bool, str]:
    """A :func:`check_fields` entry: ``(value in options, "one of 'a' or 'b'")``.

    The allowed text suggests the closest option when ``value`` is misspelt.
    """
    hint = did_you_mean(value, options) if isinstance(value, str) else ""
    return value in options, f"one of {one_of(options)}{hint}"
