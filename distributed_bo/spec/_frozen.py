"""Read-only copies of YAML data, so frozen specs hold no mutable containers."""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from typing import Any

from distributed_bo.exceptions import SpecError


class FrozenDict(Mapping[str, Any]):
    """A read-only, picklable mapping (``MappingProxyType`` cannot be pickled)."""

    __slots__ = ("_data",)

    def __init__(self, data: Mapping[str, Any] | None = None) -> None:
        self._data: dict[str, Any] = dict(data or {})

    def __getitem__(self, key: str) -> Any:
        return self._data[key]

    def __iter__(self) -> Iterator[str]:
        return iter(self._data)

    def __len__(self) -> int:
        return len(self._data)

    def __repr__(self) -> str:
        # Reads like the YAML mapping it came from, so error messages quote it plainly.
        return repr(self._data)


def freeze(value: Any, path: str, _active: frozenset[int] = frozenset()) -> Any:
    """Deep-copy YAML data into :class:`FrozenDict` and tuples.

    Args:
        value: Parsed YAML data.
        path: Its field path, for the error on a self-referencing value.

    Raises:
        SpecError: If the value contains itself (a YAML alias cycle).

    """
    if isinstance(value, (Mapping, list, tuple)):
        if id(value) in _active:
            raise SpecError(
                f"{path}: got a value that contains itself (a YAML alias cycle); "
                "write the value out instead of referring back to it"
            )
        active = _active | {id(value)}
        if isinstance(value, Mapping):
            return FrozenDict({k: freeze(v, f"{path}.{k}", active) for k, v in value.items()})
        return tuple(freeze(v, f"{path}[{i}]", active) for i, v in enumerate(value))
    return value


def thaw(value: Any) -> Any:
    """Inverse of :func:`freeze`: plain dicts and lists, safe for ``yaml.safe_dump``."""
    if isinstance(value, Mapping):
        return {k: thaw(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [thaw(v) for v in value]
    return value
