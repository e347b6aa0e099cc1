"""The one validator set: the spec, the searcher settings and the trainables' configs.

The ``check_*`` functions, :func:`require_mapping`, :func:`coerce_like` and
:func:`fail` raise :class:`~distributed_bo.exceptions.SpecError` with a one-line
message ``"<field path>: got <value!r>; <what is allowed>"``. The helpers that
build message text (:func:`describe`, :func:`join`, :func:`did_you_mean`,
:func:`one_of`) return strings and check nothing; :func:`is_integer` and
:func:`is_real` return booleans (type guards).
"""

from __future__ import annotations

import difflib
import math
import numbers
import re
from collections.abc import Collection, Mapping, Sequence
from typing import Any, NoReturn, TypeGuard

from distributed_bo.exceptions import SpecError

_MAX_REPR = 80
#: C0 and C1 controls, DEL, and the invisible direction marks and overrides.
_CONTROL = re.compile(r"[\x00-\x1f\x7f-\x9f\u200e\u200f\u2028-\u202e\u2066-\u2069]")
_NUMBER_TEXT = re.compile(r"[+-]?(\d+\.?\d*|\.\d+)([eE][+-]?\d+)?")


def describe(value: Any) -> str:
    """``repr(value)`` cut to one short line."""
    try:
        text = repr(value)
    except Exception:  # a broken __repr__ must not hide the real error
        text = f"<{type(value).__name__}>"
    text = text.replace("\n", "\\n")
    return text if len(text) <= _MAX_REPR else text[: _MAX_REPR - 3] + "..."


def fail(path: str, value: Any, fix: str) -> NoReturn:
    """Raise ``SpecError("<path>: got <value!r>; <fix>")``."""
    raise SpecError(f"{path}: got {describe(value)}; {fix}")


def join(path: str, key: str) -> str:
    """Field path of ``key`` below ``path`` (``"budget" + "num_trials"``)."""
    return f"{path}.{key}" if path else key


def did_you_mean(word: str, options: Collection[str]) -> str:
    """``" (did you mean 'x'?)"`` for the closest option, or ``""``."""
    by_lower = {o.lower(): o for o in options}
    close = difflib.get_close_matches(word.lower(), list(by_lower), n=1, cutoff=0.6)
    return f" (did you mean {by_lower[close[0]]!r}?)" if close else ""


def one_of(options: Sequence[str]) -> str:
    """Message text listing ``options``, quoted: ``"'a', 'b' or 'c'"`` (checks nothing).

    The check is :func:`check_literal`; a trainable's config uses
    :func:`distributed_bo.trainables._config.choice_check`.
    """
    quoted = [repr(o) for o in options]
    return quoted[0] if len(quoted) == 1 else f"{', '.join(quoted[:-1])} or {quoted[-1]}"


def require_mapping(value: Any, path: str, what: str) -> Mapping[str, Any]:
    """Check that ``value`` is a mapping with string keys.

    Args:
        value: The parsed YAML value.
        path: Its field path, for the message.
        what: What the mapping should hold, e.g. ``"a mapping with metric and mode"``.

    """
    if not isinstance(value, Mapping):
        fail(path, value, f"use {what}")
    for key in value:
        if not isinstance(key, str):
            fail(path, key, f"keys must be strings; quote it ('{key}')")
    return value


def check_keys(
    data: Mapping[str, Any],
    path: str,
    *,
    allowed: Sequence[str],
    required: Sequence[str] = (),
    what: str = "",
    missing: str = "it is required",
) -> None:
    """Reject unknown keys (with a suggestion) and missing required keys.

    Args:
        data: The mapping to check.
        path: Its field path ("" for the top level).
        allowed: Every key the mapping may hold.
        required: The keys it must hold.
        what: Prefix for the list of allowed keys, e.g. ``"a uniform domain takes"``.
        missing: The fix given for a missing required key.

    """
    where = path or "spec"
    for key in data:
        if key not in allowed:
            hint = did_you_mean(key, allowed)
            takes = what or "allowed keys are"
            raise SpecError(f"{where}: got unknown key {key!r}{hint}; {takes} {', '.join(allowed)}")
    for key in required:
        if key not in data:
            raise SpecError(f"{join(path, key)}: missing; {missing}")


def check_str(value: Any, path: str, fix: str) -> str:
    """Check for a non-empty string."""
    if not isinstance(value, str) or not value.strip():
        fail(path, value, fix)
    return value


def check_text(value: Any, path: str, fix: str) -> str:
    """Check for a non-empty string without control characters: it names a thing.

    A metric, a module or a path with a NUL, a newline, an escape sequence or a
    bidirectional override is a pasting mistake or an attack: it breaks paths and
    one-line messages, or hides what a terminal shows.
    """
    check_str(value, path, fix)
    bad = _CONTROL.search(value)
    if bad:
        fail(path, value, f"remove the control character {bad.group()!r}; {fix}")
    return value


def check_literal(value: Any, path: str, options: Sequence[str]) -> str:
    """Check that ``value`` is one of ``options`` (exact spelling)."""
    if not isinstance(value, str) or value not in options:
        hint = did_you_mean(value, options) if isinstance(value, str) else ""
        fail(path, value, f"use {one_of(options)}{hint}")
    return value


def _type_hint(value: Any) -> str:
    """Say why a bool or string is not a number, with the fix for YAML's number rules."""
    if isinstance(value, bool):
        return ", not a boolean"
    if not isinstance(value, str):
        return ""
    text = value.strip()
    if not _NUMBER_TEXT.fullmatch(text):
        return ", not a string"
    if "e" in text.lower():
        mantissa, _, exponent = text.lower().partition("e")
        mantissa = mantissa if "." in mantissa else f"{mantissa}.0"
        exponent = exponent if exponent[:1] in "+-" else f"+{exponent}"
        return (
            f", not a string (YAML reads {text} as text; write {mantissa}e{exponent}, "
            "with a decimal point and a signed exponent)"
        )
    return ", not a string (drop the quotes)"


def _bounds_text(
    kind: str,
    *,
    gt: float | None = None,
    ge: float | None = None,
    lt: float | None = None,
    le: float | None = None,
) -> str:
    parts = []
    if gt is not None:
        parts.append(f"> {gt}")
    if ge is not None:
        parts.append(f">= {ge}")
    if lt is not None:
        parts.append(f"< {lt}")
    if le is not None:
        parts.append(f"<= {le}")
    return f"{kind} {' and '.join(parts)}" if parts else kind


def check_int(
    value: Any,
    path: str,
    *,
    ge: int | None = None,
    le: int | None = None,
    allow_none: bool = False,
    extra: str = "",
) -> int | None:
    """Check for an integer (never a bool) within bounds.

    Args:
        value: The value to check.
        path: Its field path.
        ge: Inclusive lower bound, if any.
        le: Inclusive upper bound, if any.
        allow_none: Accept ``None`` (returned as is).
        extra: Appended to the fix, e.g. ``" or null to keep all"``.

    """
    if value is None and allow_none:
        return None
    want = _bounds_text("an integer", ge=ge, le=le) + extra
    if not is_integer(value):
        fail(path, value, f"use {want}{_type_hint(value)}")
    if (ge is not None and value < ge) or (le is not None and value > le):
        fail(path, value, f"use {want}")
    return int(value)


def check_number(
    value: Any,
    path: str,
    *,
    gt: float | None = None,
    ge: float | None = None,
    lt: float | None = None,
    le: float | None = None,
    extra: str = "",
) -> float:
    """Check for a finite real number (never a bool) within bounds; return it as float.

    Args:
        value: The value to check.
        path: Its field path.
        gt: Exclusive lower bound, if any.
        ge: Inclusive lower bound, if any.
        lt: Exclusive upper bound, if any.
        le: Inclusive upper bound, if any.
        extra: Appended to the fix.

    """
    want = _bounds_text("a number", gt=gt, ge=ge, lt=lt, le=le) + extra
    if not isinstance(value, numbers.Real) or isinstance(value, bool):
        fail(path, value, f"use {want}{_type_hint(value)}")
    if not is_real(value):
        fail(path, value, f"use a finite number{want.removeprefix('a number')}")
    if (
        (gt is not None and not value > gt)
        or (ge is not None and not value >= ge)
        or (lt is not None and not value < lt)
        or (le is not None and not value <= le)
    ):
        fail(path, value, f"use {want}")
    return float(value)


def is_integer(value: Any) -> TypeGuard[int]:
    """Tell whether ``value`` is an int that is not a bool (NumPy integers count)."""
    return isinstance(value, numbers.Integral) and not isinstance(value, bool)


def is_real(value: Any) -> TypeGuard[float]:
    """Tell whether ``value`` is a finite real number that is not a bool (ints count)."""
    if not isinstance(value, numbers.Real) or isinstance(value, bool):
        return False
    try:
        return math.isfinite(value)
    except OverflowError:  # an int too large for a float
        return False


_SCALAR_KINDS = {bool: "true or false", str: "a string", float: "a finite float", int: "an int"}


def coerce_like(value: Any, default: bool | int | float | str, path: str) -> Any:
    """Return ``value`` as the type of ``default`` (bool, int, float or str).

    For settings whose type is given by their default, as the trainables' config
    dataclasses have. Integral floats such as ``64.0`` are accepted for ints and
    NumPy scalars for numbers and bools; bools are never numbers and numbers never
    bools.

    Raises:
        SpecError: ``"<path>: got <value!r> (<type>); pass <kind>"``.

    """
    is_bool = isinstance(value, bool) or getattr(getattr(value, "dtype", None), "kind", "") == "b"
    if isinstance(default, bool):
        if is_bool:
            return bool(value)
    elif isinstance(default, str):
        if isinstance(value, str):
            return value
    elif is_real(value) and not is_bool:
        if isinstance(default, float):
            return float(value)
        if float(value).is_integer():
            return int(value)
    kind = _SCALAR_KINDS[type(default)]
    raise SpecError(f"{path}: got {describe(value)} ({type(value).__name__}); pass {kind}")
