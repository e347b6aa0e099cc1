"""Spec inputs that would hang, exhaust memory or fail only after Ray started (issue 12)."""

from __future__ import annotations

import pytest

from distributed_bo.exceptions import SpecError
from distributed_bo.spec import load_spec, parse_spec
from distributed_bo.spec.load import MAX_EXPANDED_NODES, MAX_SPEC_BYTES

MINIMAL_YAML = """\
name: tiny
objective: {metric: loss, mode: min}
trainable: {name: branin}
space:
  x: {type: uniform, lower: 0.0, upper: 1.0}
  y: {type: uniform, lower: -1.0, upper: 2.0}
  n: {type: randint, lower: 1, upper: 4}
budget: {num_trials: 4}
"""


def laughs(levels: int) -> str:
    """A "billion laughs" under trainable.config: 9 aliases of 9 aliases of ..."""
    lines = ["trainable:", "  name: branin", "  config:", "    a0: &a0 [1,1,1,1,1,1,1,1,1]"]
    for i in range(1, levels):
        lines.append(f"    a{i}: &a{i} [" + ", ".join([f"*a{i - 1}"] * 9) + "]")
    return MINIMAL_YAML.replace("trainable: {name: branin}\n", "\n".join(lines) + "\n")


def parse(*overrides: str) -> object:
    return parse_spec(MINIMAL_YAML, overrides=overrides, import_trainable=False)


@pytest.mark.timeout(60)  # a hang fails; no wall-clock assertion (a loaded CI is slow)
@pytest.mark.parametrize("levels", [7, 30])
def test_alias_bomb_is_refused_fast(levels: int) -> None:
    message = r"^<string>: its aliases expand to more than 100,000 values"
    with pytest.raises(SpecError, match=message):
        parse_spec(laughs(levels), import_trainable=False)


def test_alias_bomb_in_an_override_is_refused() -> None:
    items = ["&a0 [1, 1, 1, 1, 1, 1, 1, 1, 1]"]
    items += [f"&a{i} [" + ", ".join([f"*a{i - 1}"] * 9) + "]" for i in range(1, 8)]
    with pytest.raises(SpecError, match=r"^override .*its aliases expand to more"):
        parse(f"trainable.config.blob=[{', '.join(items)}]")


def test_small_aliases_and_merge_keys_still_work() -> None:
    text = MINIMAL_YAML.replace(
        "space:\n", "space:\n  z: &d {type: uniform, lower: 0.0, upper: 1.0}\n  w: {<<: *d}\n"
    )
    spec = parse_spec(text, import_trainable=False)
    assert set(spec.parsed_space().domains) == {"z", "w", "x", "y", "n"}
    assert MAX_EXPANDED_NODES >= 10_000 * 2  # a choice of the most values still fits


@pytest.mark.parametrize(
    ("override", "message"),
    [
        (
            "budget.num_trials=100000000000000000000000000000",
            r"^budget\.num_trials: got 10{29}; use an integer >= 1 and <= 100000$",
        ),
        (
            "budget.max_concurrent=1000000000000",
            r"^budget\.max_concurrent: got 10{12}; use an integer >= 1 and <= 10000$",
        ),
        ("retries=1000000", r"^retries: got 1000000; use an integer >= 0 and <= 100$"),
    ],
)
def test_sizes_are_bounded_with_the_limit_in_the_message(override: str, message: str) -> None:
    with pytest.raises(SpecError, match=message):
        parse(override)


def test_largest_sizes_are_accepted() -> None:
    spec = parse("budget.num_trials=100000", "budget.max_concurrent=10000", "retries=100")
    assert spec.budget.num_trials == 100_000


def test_too_many_parameters_are_refused() -> None:
    space = (
        "{" + ", ".join(f"p{i}: {{type: uniform, lower: 0, upper: 1}}" for i in range(1001)) + "}"
    )
    with pytest.raises(SpecError, match=r"^space: got 1,001 searched parameters; search at most"):
        parse(f"space={space}")


def test_too_many_constraints_are_refused() -> None:
    constraints = "[" + ", ".join(["'x + y <= 2'"] * 1001) + "]"
    with pytest.raises(SpecError, match=r"^searcher\.parameter_constraints: got '1,001 const"):
        parse(f"searcher.parameter_constraints={constraints}")


@pytest.mark.parametrize(
    ("constraints", "message"),
    [
        (["x + y <= -2"], r"^searcher\.parameter_constraints\[0\]: got 'x \+ y <= -2'; no point"),
        (["x >= 1.5"], r"^searcher\.parameter_constraints\[0\]: .*misses by at least 0\.5"),
        (["n >= 4"], r"^searcher\.parameter_constraints\[0\]: .*n in \[1, 3\]"),  # upper excluded
        (["x + y <= 2", "n <= 3", "x - y >= 2.5"], r"^searcher\.parameter_constraints\[2\]"),
        (
            ["x + y <= -0.5", "x - y <= 0"],
            r"^searcher\.parameter_constraints: got \['x \+ y <= -0\.5', 'x - y <= 0'\]; each can",
        ),
    ],
)
def test_infeasible_constraints_are_refused(constraints: list[str], message: str) -> None:
    with pytest.raises(SpecError, match=message):
        parse(f"searcher.parameter_constraints={constraints}")


@pytest.mark.parametrize(
    "constraints",
    [["x + y <= -1"], ["n >= 3"], ["x + y <= 0.5", "x - y >= 0.5"], ["2*x >= y - 1"]],
)
def test_feasible_constraints_are_accepted(constraints: list[str]) -> None:
    spec = parse(f"searcher.parameter_constraints={constraints}")
    assert spec.searcher.parameter_constraints == tuple(constraints)


def test_baseline_that_violates_a_constraint_names_it() -> None:
    with pytest.raises(
        SpecError,
        match=r"^baseline: got x=0\.9, y=0\.5; it violates searcher\.parameter_constraints\[1\] "
        r"\('x \+ y <= 1'\); change the baseline or the constraint$",
    ):
        parse(
            "searcher.parameter_constraints=['n <= 3', 'x + y <= 1']",
            "baseline={x: 0.9, y: 0.5, n: 1}",
        )
    spec = parse(
        "searcher.parameter_constraints=['x + y <= 1.4']", "baseline={x: 0.9, y: 0.5, n: 1}"
    )
    assert spec.baseline is not None


@pytest.mark.timeout(60)
def test_spec_file_over_the_size_cap_is_refused_before_parsing(tmp_path) -> None:
    path = tmp_path / "job.yaml"
    comment = "# " + "x" * 97 + "\n"
    path.write_text(MINIMAL_YAML + comment * (MAX_SPEC_BYTES // len(comment) + 1))
    message = r"is larger than 1 MiB; a spec is a few kilobytes, so check the path"
    with pytest.raises(SpecError, match=rf"^spec file '{path}': {message}"):
        load_spec(path)
    path.write_text(MINIMAL_YAML + comment * (MAX_SPEC_BYTES // len(comment) - 5))
    assert load_spec(path, import_trainable=False).name == "tiny"  # just under the cap


def test_many_values_without_aliases_are_not_called_an_alias_bomb() -> None:
    values = ", ".join(["1"] * (MAX_EXPANDED_NODES + 1))
    with pytest.raises(SpecError) as info:
        parse(f"trainable.config.blob=[{values}]")
    message = str(info.value)
    assert "(it holds more than 100,000 values; a spec holds a few hundred" in message
    assert len(message) < 400  # the override is quoted cut short, not all 300 kB of it
