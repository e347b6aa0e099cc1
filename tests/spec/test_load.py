from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import pytest
import yaml

from distributed_bo.exceptions import SpecError, TrainableError
from distributed_bo.spec import StudySpec, apply_overrides, load_spec, parse_spec

MINIMAL_YAML = """\
name: tiny
objective: {metric: loss, mode: min}
trainable: {name: "spec_tests_trainable:objective"}
space:
  x: {type: uniform, lower: 0.0, upper: 1.0}
  n: {type: randint, lower: 1, upper: 4}
budget: {num_trials: 4}
"""


def write(tmp_path: Path, text: str, name: str = "study.yaml") -> Path:
    path = tmp_path / name
    path.write_text(text)
    return path


def test_load_readme_example(tmp_path: Path, readme_yaml: str) -> None:
    spec = load_spec(write(tmp_path, readme_yaml))
    assert spec.name == "quickstart"
    assert spec.objective.mode == "max"
    assert spec.budget.num_trials == 16
    assert spec.trainable.name == "digits_cnn"
    assert spec.space["optim"]["beta1"]["upper"] == 0.99
    assert spec.baseline is not None and spec.baseline["width"] == 16


def test_load_accepts_str_and_path(tmp_path: Path) -> None:
    path = write(tmp_path, MINIMAL_YAML)
    assert load_spec(str(path)) == load_spec(path) == parse_spec(MINIMAL_YAML)


def test_overrides(tmp_path: Path) -> None:
    spec = load_spec(
        write(tmp_path, MINIMAL_YAML),
        overrides=[
            "budget.num_trials=8",
            "space.x.upper=0.5",
            "searcher.batch_size=2",  # creates the missing section
            "space.optim={beta1: {type: uniform, lower: 0.8, upper: 0.99}}",
            "seed=null",
            "name = renamed ",
            "resources.gpus_per_trial=0.5",
            "budget.num_trials=9",  # later overrides win
        ],
    )
    assert spec.budget.num_trials == 9
    assert spec.space["x"]["upper"] == 0.5
    assert spec.searcher.batch_size == 2
    assert "optim/beta1" in spec.parsed_space().domains
    assert spec.seed is None
    assert spec.name == "renamed"
    assert spec.resources.gpus_per_trial == 0.5


def test_override_value_keeps_its_yaml_type() -> None:
    spec = parse_spec(MINIMAL_YAML, overrides=["space.label='8'", "space.flag=true"])
    assert spec.space["label"] == "8" and spec.space["flag"] is True


def test_apply_overrides_does_not_mutate_input() -> None:
    data = yaml.safe_load(MINIMAL_YAML)
    out = apply_overrides(data, ["space.x.upper=0.5"])
    assert data["space"]["x"]["upper"] == 1.0
    assert out["space"]["x"]["upper"] == 0.5


def test_override_that_makes_the_spec_invalid_is_reported_by_field() -> None:
    with pytest.raises(
        SpecError, match=r"^budget\.num_trials: got -1; use an integer >= 1 and <= 100000$"
    ):
        parse_spec(MINIMAL_YAML, overrides=["budget.num_trials=-1"])


def test_yaml_error_names_file_and_line(tmp_path: Path) -> None:
    path = write(tmp_path, MINIMAL_YAML + "searcher: {acquisition: qEI\n")
    with pytest.raises(SpecError, match=rf"^{path}:9:\d+: invalid YAML \(") as info:
        load_spec(path)
    assert "\n" not in str(info.value)


def test_saved_spec_reloads(tmp_path: Path, readme_yaml: str) -> None:
    spec = parse_spec(readme_yaml)
    path = write(tmp_path, spec.to_yaml(), "spec.yaml")
    assert load_spec(path) == spec


def test_time_limits_default_to_none_and_round_trip(tmp_path: Path) -> None:
    assert parse_spec(MINIMAL_YAML).budget.time_budget_s is None
    assert parse_spec(MINIMAL_YAML).trainable.timeout_s is None
    spec = parse_spec(
        MINIMAL_YAML, overrides=["budget.time_budget_s=3600", "trainable.timeout_s=90.5"]
    )
    assert spec.budget.time_budget_s == 3600.0
    assert spec.trainable.timeout_s == 90.5
    assert load_spec(write(tmp_path, spec.to_yaml(), "spec.yaml")) == spec


def test_merge_keys_are_not_duplicates() -> None:
    text = MINIMAL_YAML.replace(
        'trainable: {name: "spec_tests_trainable:objective"}',
        'trainable: {name: "spec_tests_trainable:objective", config: &c {epochs: 1, depth: 2}}',
    ).replace("space:\n", "space:\n  model: {<<: *c, depth: 3}\n")
    spec = parse_spec(text)
    assert dict(spec.space["model"]) == {"epochs": 1, "depth": 3}


def _replace(old: str, new: str) -> str:
    assert old in MINIMAL_YAML
    return MINIMAL_YAML.replace(old, new)


# (id, YAML text, overrides, regex the message must match). Each names the field.
BAD_INPUTS: list[tuple[str, str, list[str], str]] = [
    ("malformed_yaml", "name: [tiny\n", [], r"^<string>:\d+:\d+: invalid YAML"),
    ("tab_indent", "name: tiny\nobjective:\n\tmetric: loss\n", [], r"^<string>:3:1: invalid YAML"),
    (
        "duplicate_key",
        MINIMAL_YAML + "name: again\n",
        [],
        r"^<string>:8:1: .*found key 'name' twice",
    ),
    (
        "bad_timestamp",
        "name: 2024-13-45\n",
        [],
        r"^<string>: invalid YAML \(month must be in 1\.\.12\)",
    ),
    ("empty_file", "", [], r"^<string>: got an empty document; write a mapping"),
    (
        "top_level_list",
        "- name: tiny\n",
        [],
        r"^<string>: got \[\{'name': 'tiny'\}\] at the top level",
    ),
    (
        "unknown_top_level_key",
        MINIMAL_YAML + "budgets: {}\n",
        [],
        r"^spec: got unknown key 'budgets' \(did you mean 'budget'\?\); allowed keys are name, ",
    ),
    (
        "unknown_nested_key",
        _replace("{num_trials: 4}", "{num_trials: 4, max_concurent: 2}"),
        [],
        r"^budget: got unknown key 'max_concurent' \(did you mean 'max_concurrent'\?\)",
    ),
    (
        "missing_section",
        _replace("budget: {num_trials: 4}\n", ""),
        [],
        r"^budget: missing; it is required$",
    ),
    (
        "typo_in_field",
        _replace("mode: min", "modes: min"),
        [],
        r"^objective: got unknown key 'modes' \(did you mean 'mode'\?\)",
    ),
    (
        "missing_field",
        _replace(", mode: min", ""),
        [],
        r"^objective\.mode: missing; it is required$",
    ),
    (
        "section_is_list",
        _replace("{metric: loss, mode: min}", "[loss, min]"),
        [],
        r"^objective\[0\]: got 'loss'; use a mapping with metric, mode and an optional threshold",
    ),
    (
        "space_is_list",
        MINIMAL_YAML,
        ["space=[x]"],
        r"^space: got \['x'\]; use a mapping of parameter names",
    ),
    (
        "mode_other",
        _replace("mode: min", "mode: maximize"),
        [],
        r"^objective\.mode: got 'maximize'; use 'min' or 'max'$",
    ),
    (
        "string_for_int",
        MINIMAL_YAML,
        ["budget.num_trials='8'"],
        r"^budget\.num_trials: got '8'; use an integer >= 1 and <= 100000, not a string",
    ),
    (
        "negative_num_trials",
        MINIMAL_YAML,
        ["budget.num_trials=-3"],
        r"^budget\.num_trials: got -3; use an integer >= 1 and <= 100000$",
    ),
    (
        "bool_for_int",
        MINIMAL_YAML,
        ["budget.max_concurrent=yes"],
        r"^budget\.max_concurrent: got True; .*not a boolean",
    ),
    (
        "zero_time_budget",
        MINIMAL_YAML,
        ["budget.time_budget_s=0"],
        r"^budget\.time_budget_s: got 0; use a number > 0 and <= 31536000, or null for no limit$",
    ),
    (
        "time_budget_as_text",
        MINIMAL_YAML,
        ["budget.time_budget_s=1h"],
        r"^budget\.time_budget_s: got '1h'; use a number > 0 .*, not a string$",
    ),
    (
        "time_budget_beyond_a_year",
        MINIMAL_YAML,
        ["budget.time_budget_s=1000000000"],
        r"^budget\.time_budget_s: got 1000000000; use a number > 0 and <= 31536000",
    ),
    (
        "negative_trial_timeout",
        MINIMAL_YAML,
        ["trainable.timeout_s=-5"],
        r"^trainable\.timeout_s: got -5; use a number > 0 and <= 31536000, or null for no limit$",
    ),
    (
        "infinite_trial_timeout",
        MINIMAL_YAML,
        ["trainable.timeout_s=.inf"],
        r"^trainable\.timeout_s: got inf; use a finite number > 0",
    ),
    (
        "float_for_int",
        MINIMAL_YAML,
        ["retries=1.5"],
        r"^retries: got 1\.5; use an integer >= 0 and <= 100$",
    ),
    (
        "exponent_without_dot",
        MINIMAL_YAML,
        ["space.x.lower=1e-4"],
        r"^space\.x\.lower: got '1e-4'; .*write 1\.0e-4",
    ),
    (
        "reversed_bounds",
        MINIMAL_YAML,
        ["space.x.lower=2.0"],
        r"^space\.x: lower \(2\.0\) must be < upper \(1\.0\); swap them$",
    ),
    (
        "randint_equal_bounds",
        MINIMAL_YAML,
        ["space.n.upper=1"],
        r"^space\.n: lower \(1\) must be < upper \(1\); upper is excluded",
    ),
    (
        "log_lower_zero",
        MINIMAL_YAML,
        ["space.x.type=loguniform"],
        r"^space\.x\.lower: got 0\.0; loguniform .* lower must be > 0",
    ),
    (
        "empty_choice",
        MINIMAL_YAML,
        ["space.c={type: choice, values: []}"],
        r"^space\.c\.values: got \[\]; give at least one value$",
    ),
    (
        "bad_type_name",
        MINIMAL_YAML,
        ["space.x.type=normal"],
        r"^space\.x\.type: got 'normal'; use 'uniform', ",
    ),
    (
        "unknown_domain_key",
        MINIMAL_YAML,
        ["space.x.step=0.1"],
        r"^space\.x: got unknown key 'step'; a uniform domain takes type, lower, upper$",
    ),
    (
        "fractional_gpus_above_one",
        MINIMAL_YAML,
        ["resources.gpus_per_trial=1.5"],
        r"^resources\.gpus_per_trial: got 1\.5; .*whole GPUs; use 1 or 2$",
    ),
    (
        "negative_gpus",
        MINIMAL_YAML,
        ["resources.gpus_per_trial=-1"],
        r"^resources\.gpus_per_trial: got -1; use a number >= 0",
    ),
    (
        "unknown_acquisition",
        MINIMAL_YAML,
        ["searcher.acquisition=qLogNIE"],
        r"^searcher\.acquisition: got 'qLogNIE'; use 'qLogNEI', .* \(did you mean 'qLogNEI'\?\)$",
    ),
    (
        "multi_objective_acquisition_with_one_objective",
        MINIMAL_YAML,
        ["searcher.acquisition=qLogNEHVI"],
        r"^searcher\.acquisition: got 'qLogNEHVI'; it needs several objectives and objective "
        r"has one metric; use qLogNEI$",
    ),
    (
        "unknown_batch_strategy",
        MINIMAL_YAML,
        ["searcher.batch_strategy=greedy"],
        r"^searcher\.batch_strategy: got 'greedy'; use 'joint' or 'sequential'$",
    ),
    (
        "batch_size_zero",
        MINIMAL_YAML,
        ["searcher.batch_size=0"],
        r"^searcher\.batch_size: got 0; use an integer >= 1, or null",
    ),
    (
        "checkpoint_negative",
        MINIMAL_YAML,
        ["checkpoint.frequency=-1"],
        r"^checkpoint\.frequency: got -1; use an integer >= 0",
    ),
    (
        "failure_fraction_zero",
        MINIMAL_YAML,
        ["max_failure_fraction=0"],
        r"^max_failure_fraction: got 0; use a number > 0 and <= 1",
    ),
    (
        "negative_seed",
        MINIMAL_YAML,
        ["seed=-1"],
        r"^seed: got -1; use an integer >= 0 and <= 4294967295, or null$",
    ),
    (
        "nonexistent_module",
        MINIMAL_YAML,
        ["trainable.name=no_such_pkg_xyz.mod:fn"],
        r"^trainable\.name: cannot import module 'no_such_pkg_xyz\.mod'",
    ),
    (
        "missing_function",
        MINIMAL_YAML,
        ["trainable.name=spec_tests_trainable:nope"],
        r"^trainable\.name: module 'spec_tests_trainable' has no callable 'nope'",
    ),
    (
        "not_callable",
        MINIMAL_YAML,
        ["trainable.name=spec_tests_trainable:not_callable"],
        r"^trainable\.name: .*no callable 'not_callable'",
    ),
    (
        "malformed_module_path",
        MINIMAL_YAML,
        ["trainable.name=just_a_name"],
        r"^trainable\.name: got 'just_a_name', which is neither a built-in",
    ),
    (
        "empty_function",
        MINIMAL_YAML,
        ["trainable.name='pkg.mod:'"],
        r"^trainable\.name: got 'pkg\.mod:'; write it as 'package\.module:function'$",
    ),
    (
        "baseline_unknown_key",
        MINIMAL_YAML,
        ["baseline={y: 0.5}"],
        r"^baseline\.y: got 0\.5; 'y' is not a searched parameter in space",
    ),
    (
        "baseline_out_of_bounds",
        MINIMAL_YAML,
        ["baseline={x: 0.5, n: 4}"],
        r"^baseline\.n: got 4; use an integer in \[1, 4\)$",
    ),
    (
        "bad_name_characters",
        MINIMAL_YAML,
        ["name='my study'"],
        r"^name: got 'my study'; use 1-64 characters from A-Z a-z 0-9 _ \. -",
    ),
    (
        "constraint_unknown_param",
        MINIMAL_YAML,
        ["searcher.parameter_constraints=['x + y <= 1']"],
        r"^searcher\.parameter_constraints\[0\]: got 'x \+ y <= 1'; 'y' is not a searched",
    ),
    (
        "constraints_not_list",
        MINIMAL_YAML,
        ["searcher.parameter_constraints=3"],
        r"^searcher\.parameter_constraints: got 3; use a list of strings",
    ),
    (
        "override_without_equals",
        MINIMAL_YAML,
        ["budget.num_trials"],
        r"^override 'budget\.num_trials': got no '='; write key\.path=value",
    ),
    (
        "override_empty_key",
        MINIMAL_YAML,
        ["budget..num_trials=3"],
        r"^override 'budget\.\.num_trials=3': got key 'budget\.\.num_trials'",
    ),
    (
        "override_bad_yaml",
        MINIMAL_YAML,
        ["space.x={type: uniform"],
        r"^override 'space\.x=\{type: uniform': got a value that is not valid YAML",
    ),
    (
        "override_through_scalar",
        MINIMAL_YAML,
        ["name.first=a"],
        r"^override 'name\.first=a': got name = 'tiny', which is not a mapping",
    ),
    (
        "config_overlaps_space",
        MINIMAL_YAML,
        ["trainable.config={x: 0.2}"],
        r"^trainable\.config\.x: got 0\.2; space also sets 'x'",
    ),
    (
        "storage_bad_uri",
        MINIMAL_YAML,
        ["storage='://nowhere'"],
        r"^storage: got '://nowhere'; use a local path or a URI",
    ),
    (
        "space_without_domains",
        MINIMAL_YAML,
        ["space={a: 1}"],
        r"^space: got \{'a': 1\}; search at least one parameter",
    ),
    ("non_string_key", MINIMAL_YAML + "3: x\n", [], r"^spec: got 3; keys must be strings"),
    # Issue 12, item 6: kinds found by trying them (docs/bad-input.md, "More bad input").
    (
        "two_documents",
        MINIMAL_YAML + "---\nname: second\n",
        [],
        r"^<string>:8:1: invalid YAML \(expected a single document in the stream, but found "
        r"another document\); fix the syntax there$",
    ),
    (
        "nul_character",
        "name: ti\0ny\n",
        [],
        r"^<string>: invalid YAML \(unacceptable character #x0000",
    ),
    (
        "name_leading_dash",
        MINIMAL_YAML,
        ["name=-rf"],
        r"^name: got '-rf'; start it with a letter, digit, _ or \. \(a leading '-' makes the "
        r"directory's name read as a command-line option\)$",
    ),
    (
        "metric_control_character",
        MINIMAL_YAML,
        ['objective.metric="loss\\n"'],
        r"^objective\.metric: got 'loss\\n'; remove the control character '\\n'; use the name",
    ),
    (
        "trainable_name_escape_sequence",
        MINIMAL_YAML,
        ['trainable.name="spec_tests_trainable:objective\\e[2J"'],
        r"^trainable\.name: got '.*\\x1b\[2J'; remove the control character '\\x1b'",
    ),
    (
        "storage_nul",
        MINIMAL_YAML,
        ['storage="/tmp/a\\0b"'],
        r"^storage: got '/tmp/a\\x00b'; remove the control character '\\x00'; use a local path",
    ),
    (
        "q_does_not_divide_range",
        MINIMAL_YAML,
        ["space.x={type: quniform, lower: 0.0, upper: 1.0, q: 0.3}"],
        r"^space\.x\.upper: got 1\.0; the bounds of quniform must be multiples of q \(0\.3\); "
        r"use 0\.9 or 1\.2$",
    ),
    (
        "log_upper_infinite",
        MINIMAL_YAML,
        ["space.x={type: loguniform, lower: 1.0e-3, upper: .inf}"],
        r"^space\.x\.upper: got inf; use a finite number",
    ),
    (
        "choice_int_and_equal_float",
        MINIMAL_YAML,
        ["space.c={type: choice, values: [1, 1.0]}"],
        r"^space\.c\.values: got \[1, 1\.0\]; 1\.0 appears more than once; list each value once$",
    ),
    (
        "baseline_wrong_type",
        MINIMAL_YAML,
        ["baseline={x: half, n: 2}"],
        r"^baseline\.x: got 'half'; use a number in \[0\.0, 1\.0\]$",
    ),
    (
        "override_empty_value",
        MINIMAL_YAML,
        ["space.x.lower="],
        r"^space\.x\.lower: got None; a uniform domain needs lower, upper$",
    ),
    (
        "uniform_equal_bounds",
        MINIMAL_YAML,
        ["space.x.lower=1.0"],
        r"^space\.x: lower \(1\.0\) must be < upper \(1\.0\); widen the range, or write the "
        r"value as a constant$",
    ),
]


@pytest.mark.parametrize(
    ("text", "overrides", "message"), [c[1:] for c in BAD_INPUTS], ids=[c[0] for c in BAD_INPUTS]
)
def test_bad_input(text: str, overrides: list[str], message: str) -> None:
    with pytest.raises(SpecError, match=message) as info:
        parse_spec(text, overrides=overrides)
    assert "\n" not in str(info.value)


def test_bad_input_table_is_large_and_distinct() -> None:
    assert len(BAD_INPUTS) >= 20
    assert len({c[0] for c in BAD_INPUTS}) == len(BAD_INPUTS)
    assert len({(c[1], tuple(c[2])) for c in BAD_INPUTS}) == len(BAD_INPUTS)


def test_trainable_errors_are_trainable_errors() -> None:
    with pytest.raises(TrainableError):
        parse_spec(MINIMAL_YAML, overrides=["trainable.name=no_such_pkg_xyz:fn"])


def test_missing_file(tmp_path: Path) -> None:
    path = tmp_path / "nope.yaml"
    with pytest.raises(SpecError, match=rf"^spec file '{path}': does not exist; check the path$"):
        load_spec(path)


def test_directory_instead_of_file(tmp_path: Path) -> None:
    with pytest.raises(SpecError, match=r"is a directory"):
        load_spec(tmp_path)


def test_binary_file(tmp_path: Path) -> None:
    path = tmp_path / "x.yaml"
    path.write_bytes(b"\xff\xfe\x00name")
    with pytest.raises(SpecError, match=r"is not UTF-8 text"):
        load_spec(path)


@pytest.mark.skipif(not hasattr(os, "mkfifo"), reason="no named pipes here")
def test_fifo_is_refused_without_waiting_for_a_writer(tmp_path: Path) -> None:
    path = tmp_path / "job.yaml"
    os.mkfifo(path)
    message = r"is a FIFO \(named pipe\), not a regular file; pass a YAML file"
    with pytest.raises(SpecError, match=rf"^spec file '{path}': {message}"):
        load_spec(path)  # before the fix: open() blocked forever


@pytest.mark.skipif(not os.path.exists("/dev/zero"), reason="no /dev/zero here")
@pytest.mark.parametrize("device", ["/dev/zero", "/dev/null"])
def test_device_is_refused_without_reading_it(device: str) -> None:
    message = r"is a character device, not a regular file"
    with pytest.raises(SpecError, match=rf"^spec file '{device}': {message}"):
        load_spec(device)  # before the fix: /dev/zero was read until memory ran out


def test_overrides_must_be_a_list() -> None:
    with pytest.raises(SpecError, match=r"^overrides: got 'seed=1'; pass a list"):
        parse_spec(MINIMAL_YAML, overrides="seed=1")


HOSTILE_YAML = {
    "alias_cycle": "a: &a [*a]\nname: x\n",
    "python_tag": "name: !!python/object:os.system x\n",
    "binary_tag": "name: !!binary 'aGVsbG8='\n",
    "deep_nesting": "[" * 1200 + "]" * 1200,
    "unhashable_key": "? [a, b]\n: 1\n",
    "self_referencing_section": "name: tiny\nobjective: &o {metric: loss, mode: min, more: *o}\n",
}


@pytest.mark.parametrize("text", list(HOSTILE_YAML.values()), ids=list(HOSTILE_YAML))
def test_hostile_yaml_gives_spec_error(text: str) -> None:
    with pytest.raises(SpecError):
        parse_spec(text)


def test_self_referencing_space_gives_spec_error() -> None:
    text = MINIMAL_YAML.replace("space:\n", "space: &s\n  loop: *s\n")
    with pytest.raises(SpecError, match=r"^space\.loop: got a value that contains itself"):
        parse_spec(text)


@pytest.mark.parametrize(
    "data",
    [None, [], "name: x", 3, {"name": None}, {None: 1}],
)
def test_from_dict_of_odd_top_level(data: Any) -> None:
    with pytest.raises(SpecError):
        StudySpec.from_dict(data)
