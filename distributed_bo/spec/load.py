"""Read a job spec from YAML, apply command-line overrides, validate it."""

from __future__ import annotations

import os
import stat
from collections.abc import Mapping, Sequence
from typing import Any

import yaml

from distributed_bo.exceptions import SpecError
from distributed_bo.spec.study import StudySpec
from distributed_bo.validation import describe


class _UniqueKeyLoader(yaml.SafeLoader):
    """``yaml.SafeLoader`` that rejects a key given twice in one mapping."""

    def construct_mapping(self, node: yaml.MappingNode, deep: bool = False) -> dict[Any, Any]:
        seen: set[Any] = set()
        for key_node, _ in node.value:
            if key_node.tag == "tag:yaml.org,2002:merge":
                continue
            key = self.construct_object(key_node, deep=True)
            try:
                duplicate = key in seen
                seen.add(key)
            except TypeError:  # unhashable key: the base class reports it
                continue
            if duplicate:
                raise yaml.constructor.ConstructorError(
                    None, None, f"found key {key!r} twice in one mapping", key_node.start_mark
                )
        return super().construct_mapping(node, deep=deep)


#: The most YAML nodes a document may hold once its aliases are expanded. A real
#: spec holds a few hundred; choices of up to 10,000 values fit. Aliases are allowed
#: (merge keys ``<<: *defaults`` and plain ``*name`` reuse alike), but a document
#: whose aliases expand past this ("billion laughs": 9 aliases of 9 aliases of ...)
#: is refused before any Python object is built, since the validator then walks
#: every expanded copy.
MAX_EXPANDED_NODES = 100_000
#: The largest spec file read, in bytes. A real spec is a few kilobytes; a choice of
#: the most values (10,000) fits many times over. Larger files, or endless ones such
#: as ``/dev/zero``, are refused before they are parsed (30 MB take minutes).
MAX_SPEC_BYTES = 2**20


class _AliasBombError(yaml.YAMLError):
    """The document, its aliases expanded, holds more than :data:`MAX_EXPANDED_NODES` nodes."""


def _expanded_size(root: yaml.Node) -> int:
    """Count the nodes of ``root`` with every alias expanded, stopping past the cap.

    Shared nodes (aliases) are counted once per use, but each is walked once
    (memoised), so the count is fast however large the expansion.

    An alias to a node that contains it (a cycle) counts once; the validator
    refuses it later, naming the field.

    Raises:
        _AliasBombError: If the count passes :data:`MAX_EXPANDED_NODES`.

    """
    sizes: dict[int, int] = {}
    walking: set[int] = set()
    aliased = False

    def size(node: yaml.Node) -> int:
        nonlocal aliased
        key = id(node)
        if key in sizes:
            aliased = True
            return sizes[key]
        if key in walking:  # a cycle: the validator names the field that contains itself
            return 0
        walking.add(key)
        total = 1
        if isinstance(node, yaml.SequenceNode):
            total += sum(size(child) for child in node.value)
        elif isinstance(node, yaml.MappingNode):
            total += sum(size(k) + size(v) for k, v in node.value)
        walking.discard(key)
        if total > MAX_EXPANDED_NODES and aliased:
            raise _AliasBombError(
                f"its aliases expand to more than {MAX_EXPANDED_NODES:,} values; "
                "write the repeated parts out, or nest aliases less deeply"
            )
        if total > MAX_EXPANDED_NODES:
            raise _AliasBombError(
                f"it holds more than {MAX_EXPANDED_NODES:,} values; a spec holds a few "
                "hundred, so put large data in a file the trainable reads"
            )
        sizes[key] = total
        return total

    return size(root)


def _load_capped(text: str) -> Any:
    """``yaml.load`` with :class:`_UniqueKeyLoader`, refusing an alias bomb first."""
    loader = _UniqueKeyLoader(text)
    try:
        node = loader.get_single_node()
        if node is None:
            return None
        _expanded_size(node)
        return loader.construct_document(node)
    finally:
        loader.dispose()


# Besides ``yaml.YAMLError``, PyYAML raises ValueError for impossible dates
# (``2024-13-45``) and RecursionError for very deep nesting.
_LOAD_ERRORS = (yaml.YAMLError, ValueError, TypeError, RecursionError)


def load_spec(
    path: str | os.PathLike[str],
    *,
    overrides: Sequence[str] = (),
    import_trainable: bool = True,
) -> StudySpec:
    """Read, override and validate a job spec file.

    Args:
        path: The YAML file.
        overrides: ``"key.path=value"`` strings applied in order before validation;
            the path is dotted into the YAML mapping (``space.lr.upper=0.5``) and the
            value is parsed as YAML (``budget.num_trials=8`` sets an int).
        import_trainable: As for :meth:`StudySpec.from_dict`: ``False`` checks
            ``trainable.name``'s form without importing its module.

    Returns:
        The validated spec.

    Raises:
        SpecError: If the file is missing or unreadable, is not valid YAML, an
            override is malformed, or the content is invalid.

    """
    source = os.fspath(path)
    try:
        data = _read_regular_file(source)
        text = data.decode("utf-8")
    except SpecError:
        raise
    except FileNotFoundError as err:
        raise SpecError(f"spec file {source!r}: does not exist; check the path") from err
    except IsADirectoryError as err:
        raise SpecError(f"spec file {source!r}: is a directory; pass a YAML file") from err
    except UnicodeDecodeError as err:
        raise SpecError(f"spec file {source!r}: is not UTF-8 text ({err.reason})") from err
    except (OSError, ValueError) as err:  # ValueError: a NUL in the path
        reason = getattr(err, "strerror", None) or err
        raise SpecError(f"spec file {source!r}: cannot be read ({reason})") from err
    return parse_spec(text, source=source, overrides=overrides, import_trainable=import_trainable)


def _read_regular_file(source: str) -> bytes:
    """The bytes of ``source``, which must be a regular file of at most :data:`MAX_SPEC_BYTES`.

    It is opened without blocking and checked on the open descriptor, so a FIFO
    (which would wait for a writer) or a device such as ``/dev/zero`` (which never
    ends) is refused at once, as is a file swapped for one after a check.

    Raises:
        IsADirectoryError: If it is a directory.
        SpecError: If it is not a regular file, or is too large.
        OSError: If it cannot be opened or read.
    """
    fd = os.open(source, os.O_RDONLY | getattr(os, "O_NONBLOCK", 0))
    with os.fdopen(fd, "rb") as f:
        mode = os.fstat(fd).st_mode
        if stat.S_ISDIR(mode):
            raise IsADirectoryError(source)
        if not stat.S_ISREG(mode):
            raise SpecError(
                f"spec file {source!r}: is {_file_kind(mode)}, not a regular file; "
                "pass a YAML file (save the spec to a file first)"
            )
        data = f.read(MAX_SPEC_BYTES + 1)
    if len(data) > MAX_SPEC_BYTES:
        raise SpecError(
            f"spec file {source!r}: is larger than {MAX_SPEC_BYTES // 2**20} MiB; a spec is a "
            "few kilobytes, so check the path (large data belongs in a file the trainable reads)"
        )
    return data


def _file_kind(mode: int) -> str:
    """``"a FIFO"``, ``"a character device"``, ... for a ``st_mode`` that is not a file."""
    for test, kind in (
        (stat.S_ISFIFO, "a FIFO (named pipe)"),
        (stat.S_ISCHR, "a character device"),
        (stat.S_ISBLK, "a block device"),
        (stat.S_ISSOCK, "a socket"),
    ):
        if test(mode):
            return kind
    return "not a file"


def parse_spec(
    text: str,
    *,
    source: str = "<string>",
    overrides: Sequence[str] = (),
    import_trainable: bool = True,
) -> StudySpec:
    """Parse, override and validate a job spec held in a string.

    Use this for a spec read from remote storage (e.g. a saved ``spec.yaml``).

    YAML aliases are allowed, in merge keys (``<<: *defaults``) and elsewhere, but
    the expanded size is capped: a document whose aliases expand to more than
    :data:`MAX_EXPANDED_NODES` values is refused before it is built, in
    milliseconds (a "billion laughs" otherwise takes minutes and gigabytes).

    Args:
        text: The YAML document.
        source: Where it came from, for error messages.
        overrides: As for :func:`load_spec`.
        import_trainable: As for :func:`load_spec`.

    Returns:
        The validated spec.

    Raises:
        SpecError: If the YAML is malformed or its aliases expand too far, an
            override is malformed, or the content is invalid.

    """
    data = _safe_load(text, source)
    if not isinstance(data, Mapping):
        what = "an empty document" if data is None else f"{describe(data)} at the top level"
        raise SpecError(
            f"{source}: got {what}; write a mapping with keys "
            "name, objective, trainable, space, budget, ..."
        )
    data = apply_overrides(data, overrides)
    return StudySpec.from_dict(data, import_trainable=import_trainable)


def apply_overrides(data: Mapping[str, Any], overrides: Sequence[str]) -> dict[str, Any]:
    """Return a copy of ``data`` with ``"key.path=value"`` overrides applied.

    Missing intermediate mappings are created, so ``searcher.batch_size=4`` works
    without a ``searcher`` section.

    Args:
        data: The parsed YAML mapping.
        overrides: The override strings, applied in order.

    Raises:
        SpecError: If an override has no ``=``, an empty key, a value that is not
            YAML, or a path through a non-mapping.

    """
    if isinstance(overrides, str):
        raise SpecError(
            f"overrides: got {overrides!r}; pass a list of 'key.path=value' strings, not one string"
        )
    out = dict(data)
    for override in overrides:
        if not isinstance(override, str) or "=" not in override:
            raise SpecError(
                f"override {describe(override)}: got no '='; write key.path=value, "
                "e.g. budget.num_trials=8"
            )
        key, _, raw = override.partition("=")
        parts = key.strip().split(".")
        if not all(p.strip() for p in parts):
            raise SpecError(
                f"override {describe(override)}: got key {describe(key)}; write a dotted path "
                "of keys, e.g. space.lr.upper=0.5"
            )
        try:
            value = _load_capped(raw)  # a SafeLoader
        except _LOAD_ERRORS as err:
            raise SpecError(
                f"override {describe(override)}: got a value that is not valid YAML "
                f"({_problem(err)}); quote it or fix the syntax"
            ) from err
        node = out
        for depth, part in enumerate(parts[:-1]):
            part = part.strip()
            child = node.get(part)
            if child is None:
                child = {}
            elif isinstance(child, Mapping):
                child = dict(child)  # copy on write: the input is never mutated
            else:
                where = ".".join(parts[: depth + 1])
                raise SpecError(
                    f"override {describe(override)}: got {where} = {describe(child)}, which is not "
                    f"a mapping; override {where} as a whole instead"
                )
            node[part] = child
            node = child
        node[parts[-1].strip()] = value
    return out


def load_yaml(text: str) -> Any:
    """Parse one YAML document as a job file is parsed, for a spec read back from storage.

    Safe (tags build no Python objects), each key once per mapping, and aliases
    capped at :data:`MAX_EXPANDED_NODES` values.

    Raises:
        SpecError: ``"line L, column C: invalid YAML (<problem>)"``, or that the
            document holds too many values; the caller adds the file and the fix.
    """
    try:
        return _load_capped(text)
    except _AliasBombError as err:
        raise SpecError(str(err)) from err
    except _LOAD_ERRORS as err:
        mark = getattr(err, "problem_mark", None) or getattr(err, "context_mark", None)
        where = f"line {mark.line + 1}, column {mark.column + 1}: " if mark else ""
        raise SpecError(f"{where}invalid YAML ({_problem(err)})") from err


def _safe_load(text: str, source: str) -> Any:
    """``yaml.safe_load`` that also rejects duplicate keys and raises ``SpecError``."""
    try:
        return _load_capped(text)  # a SafeLoader: no arbitrary objects
    except _AliasBombError as err:
        raise SpecError(f"{source}: {err}") from err
    except yaml.MarkedYAMLError as err:
        mark = err.problem_mark or err.context_mark
        where = f"{source}:{mark.line + 1}:{mark.column + 1}" if mark else source
        raise SpecError(f"{where}: invalid YAML ({_problem(err)}); fix the syntax there") from err
    except _LOAD_ERRORS as err:
        raise SpecError(f"{source}: invalid YAML ({_problem(err)}); fix the file") from err


def _problem(err: BaseException) -> str:
    """One line saying what the YAML parser disliked."""
    if isinstance(err, yaml.MarkedYAMLError):
        text = str(err.problem or err.context or "syntax error")
        if err.context and text.startswith("but "):  # "expected a single document ..."
            text = f"{err.context}, {text}"
    elif isinstance(err, RecursionError):
        text = "it nests lists or mappings too deeply"
    else:
        text = str(err)
    return " ".join(text.split()) or type(err).__name__
