"""The ``space`` mapping: searched parameters, nested groups and constants.

A job spec's ``space`` mapping holds three kinds of entries:

* a mapping with a ``type`` key is a searched parameter, a
  :class:`~distributed_bo.spec.domains.DomainSpec`; a ``choice`` whose ``values``
  are mappings is a branch point, each value a branch checked as a ``space`` of its
  own (conditional spaces; the branch's parameters are not in
  :attr:`ParsedSpace.domains`, which lists the branch point under its own name);
* a mapping without one is a nested group of parameters (``optim: {beta1: ...}``),
  whose parameters have flat names ``optim/beta1``;
* any other value is a constant, passed to every trial unsearched.

A top-level domain may carry ``when: {CONTROLLER: CONDITION}``; before anything
else, :func:`~distributed_bo.spec.when.expand_when` rewrites the parameters each
controller gates into one branch point named after it, so everything below sees
only branch points.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from distributed_bo.exceptions import SpecError
from distributed_bo.spec._frozen import FrozenDict, thaw
from distributed_bo.spec.domains import NESTED_SEP, DomainSpec, space_path
from distributed_bo.spec.when import Expanded, Gate, expand_when
from distributed_bo.validation import fail, require_mapping

_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")

#: Most searched parameters in one space. A GP's fit grows with the dimension and
#: batch BO needs many more trials than dimensions to learn anything, so a space
#: past this is a generated mistake rather than a study.
MAX_PARAMETERS = 1_000


@dataclass(frozen=True, kw_only=True)
class ParsedSpace:
    """A validated ``space`` mapping, split by kind of entry.

    Attributes:
        domains: Searched parameters by flat name (``optim/beta1``), in YAML order.
        constants: Constant values by flat name.
        groups: Flat names of the nested groups (``optim``).
        gates: ``when``-gated parameter -> its :class:`~distributed_bo.spec.when.Gate`;
            such a parameter is inside the branch point named after its controller.
        controllers: ``when`` controller -> its values; each is a branch point in
            :attr:`domains` whose branches hold ``{controller: value, ...}``.

    """

    domains: Mapping[str, DomainSpec]
    constants: Mapping[str, Any]
    groups: frozenset[str]
    gates: Mapping[str, Gate] = field(default_factory=FrozenDict)
    controllers: Mapping[str, tuple[Any, ...]] = field(default_factory=FrozenDict)


def parse_space(space: Any) -> ParsedSpace:
    """Validate a YAML ``space`` mapping.

    Args:
        space: The parsed ``space`` value.

    Returns:
        Its searched parameters, constants and groups by flat name.

    Raises:
        SpecError: If the space is not a mapping, a name is not an identifier, a
            domain or a ``when`` is invalid or nothing is searched.

    """
    expanded = _expand(space)
    domains: dict[str, DomainSpec] = {}
    constants: dict[str, Any] = {}
    groups: set[str] = set()
    _walk(expanded.space, "", domains, constants, groups)
    if len(domains) > MAX_PARAMETERS:
        raise SpecError(
            f"space: got {len(domains):,} searched parameters; search at most "
            f"{MAX_PARAMETERS:,} (fix the rest as constants in trainable.config)"
        )
    if not domains:
        fail(
            "space",
            space,
            "search at least one parameter, e.g. "
            "lr: {type: loguniform, lower: 1.0e-4, upper: 1.0e-1}",
        )
    return ParsedSpace(
        domains=FrozenDict(domains),
        constants=FrozenDict(constants),
        groups=frozenset(groups),
        gates=expanded.gates,
        controllers=expanded.controllers,
    )


def _expand(space: Any) -> Expanded:
    """Check that ``space`` is a mapping of names, then rewrite its ``when`` parameters."""
    require_mapping(space, "space", "a mapping of parameter names to domains, constants or groups")
    if "type" in space:
        fail(
            "space",
            space,
            "space maps parameter names to domains; put the domain under a name, "
            "e.g. space: {x: {type: uniform, lower: 0.0, upper: 1.0}}",
        )
    return expand_when(space)


def _walk(
    node: Mapping[str, Any],
    prefix: str,
    domains: dict[str, DomainSpec],
    constants: dict[str, Any],
    groups: set[str],
) -> None:
    for key, value in node.items():
        if not isinstance(key, str) or not _NAME.fullmatch(key):
            fail(
                space_path(prefix.rstrip(NESTED_SEP)) if prefix else "space",
                key,
                "parameter names must be identifiers: letters, digits and _, "
                "not starting with a digit",
            )
        name = prefix + key
        if isinstance(value, Mapping) and "type" in value:
            domains[name] = DomainSpec.from_dict(name, value)
            if domains[name].is_branch_point:
                _check_branches(domains[name])
        elif isinstance(value, Mapping):
            groups.add(name)
            _walk(value, name + NESTED_SEP, domains, constants, groups)
        else:
            constants[name] = value


def _check_branches(domain: DomainSpec) -> None:
    """Each value of a branch-point choice is a non-empty mapping, valid as a space."""
    for i, branch in enumerate(domain.values or ()):
        path = f"{domain.path}.values[{i}]"
        if not isinstance(branch, Mapping):
            fail(
                path,
                thaw(branch),
                "a choice with mapping values is a branch point, so every value must be "
                "a mapping (a branch), e.g. {name: relu}",
            )
        if not branch:
            fail(path, {}, "a branch cannot be empty; give it at least one key")
        _walk(branch, domain.name + NESTED_SEP, {}, {}, set())


def _branch_to_tune(branch: Mapping[str, Any], prefix: str) -> dict[str, Any]:
    """One branch (checked) as a dict of Ray Tune domains and constants."""
    out: dict[str, Any] = {}
    for key, value in branch.items():
        name = prefix + key
        if isinstance(value, Mapping) and "type" in value:
            out[key] = _domain_to_tune(DomainSpec.from_dict(name, value))
        elif isinstance(value, Mapping):
            out[key] = _branch_to_tune(value, name + NESTED_SEP)
        else:
            out[key] = thaw(value)
    return out


def _domain_to_tune(domain: DomainSpec) -> Any:
    """The Ray Tune domain of ``domain``; a branch point becomes a choice of dicts."""
    if not domain.is_branch_point:
        return domain.to_tune()
    from ray import tune

    branches = [_branch_to_tune(b, domain.name + NESTED_SEP) for b in domain.values or ()]
    return tune.choice(branches)


def to_param_space(space: Mapping[str, Any]) -> dict[str, Any]:
    """Turn a YAML ``space`` mapping into a Ray Tune ``param_space``.

    Args:
        space: The ``space`` mapping of a job spec.

    Returns:
        A nested dict of Ray Tune domains and (copied) constants.

    Raises:
        SpecError: If the space is invalid.

    """
    parsed = parse_space(space)
    return _build(_expand(space).space, "", parsed)


def _build(node: Mapping[str, Any], prefix: str, parsed: ParsedSpace) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for key, value in node.items():
        name = prefix + key
        if name in parsed.domains:
            out[key] = _domain_to_tune(parsed.domains[name])
        elif name in parsed.groups:
            out[key] = _build(value, name + NESTED_SEP, parsed)
        else:
            out[key] = thaw(value)
    return out
