"""A job spec's branch points: a ``choice`` whose values are mappings holding domain specs."""

from __future__ import annotations

import pytest
import yaml
from ray.tune.search.sample import Domain

from distributed_bo.exceptions import SpecError
from distributed_bo.search.space import map_space
from distributed_bo.spec.baseline import check_baseline
from distributed_bo.spec.space import parse_space, to_param_space

SPACE = yaml.safe_load(
    """
lr: {type: loguniform, lower: 1.0e-4, upper: 1.0e-1}
arch:
  type: choice
  values:
    - depth: 2
      width_1: {type: choice, values: [32, 64]}
      width_2: {type: choice, values: [32, 64]}
    - depth: 3
      width_1: {type: choice, values: [32, 64]}
      width_2: {type: choice, values: [32, 64]}
      width_3: {type: choice, values: [32, 64]}
      opt: {kind: step, gamma: {type: uniform, lower: 0.1, upper: 0.9}}
act:
  type: choice
  values: [{name: relu}, {name: softplus, beta: {type: uniform, lower: 0.5, upper: 2.0}}]
"""
)


def test_choice_of_mappings_becomes_a_tune_choice_of_dicts_of_domains():
    param_space = to_param_space(SPACE)
    branches = param_space["arch"].categories
    assert [b["depth"] for b in branches] == [2, 3]
    assert isinstance(branches[1]["width_3"], Domain)
    assert isinstance(branches[1]["opt"]["gamma"], Domain) and branches[1]["opt"]["kind"] == "step"
    assert param_space["act"].categories[0] == {"name": "relu"}
    mapped = map_space(param_space)
    assert mapped.dependencies()["arch"][1] == [
        "arch__b1__width_1",
        "arch__b1__width_2",
        "arch__b1__width_3",
        "arch__b1__opt__gamma",
    ]
    config = {
        "lr": 0.01,
        "arch": {
            "depth": 3,
            "width_1": 64,
            "width_2": 32,
            "width_3": 64,
            "opt": {"kind": "step", "gamma": 0.5},
        },
        "act": {"name": "relu"},
    }
    assert mapped.to_config(mapped.to_ax(config)) == config


def test_parsed_space_lists_the_branch_point_not_its_inner_parameters():
    parsed = parse_space(SPACE)
    assert set(parsed.domains) == {"lr", "arch", "act"}
    assert parsed.domains["arch"].is_branch_point and not parsed.domains["lr"].is_branch_point


def test_baseline_gives_a_branch_as_a_mapping():
    parsed = parse_space(SPACE)
    baseline = {
        "lr": 0.01,
        "arch": {"depth": 2, "width_1": 32, "width_2": 64},
        "act": {"name": "relu"},
    }
    flat = check_baseline(baseline, parsed)
    assert flat["arch"]["depth"] == 2
    with pytest.raises(SpecError, match=r"^baseline\.act: got 'relu'; use a mapping"):
        check_baseline({**baseline, "act": "relu"}, parsed)


@pytest.mark.parametrize(
    "values,match",
    [
        ("[{name: relu}, 3]", r"^space\.act\.values\[1\]: got 3; a choice with mapping values"),
        ("[{name: relu}, {}]", r"^space\.act\.values\[1\]: got \{\}; a branch cannot be empty"),
        (
            "[{name: relu}, {beta: {type: uniform, lower: 1.0, upper: 0.5}}]",
            r"^space\.act\.beta: lower \(1\.0\) must be < upper",
        ),
        ("[{name: relu}, {'bad key': 1}]", r"^space\.act: got 'bad key'; parameter names must be"),
    ],
)
def test_bad_branches_get_one_line(values, match):
    space = {"x": {"type": "uniform", "lower": 0.0, "upper": 1.0}}
    space["act"] = {"type": "choice", "values": yaml.safe_load(values)}
    with pytest.raises(SpecError, match=match) as err:
        to_param_space(space)
    assert "\n" not in str(err.value)
