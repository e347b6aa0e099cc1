"""The ``when:`` shorthand: gated parameters become one branch point per controller."""

from __future__ import annotations

from typing import Any

import pytest
import yaml

from distributed_bo.exceptions import SpecError
from distributed_bo.search.space import map_space
from distributed_bo.spec import StudySpec
from distributed_bo.spec.baseline import check_baseline
from distributed_bo.spec.space import parse_space, to_param_space
from distributed_bo.spec.when import MAX_CONTROLLER_VALUES, Gate

WHEN = yaml.safe_load(
    """
lr: {type: loguniform, lower: 1.0e-4, upper: 1.0e-1}
num_layers: {type: choice, values: [2, 3, 4]}
width_1: {type: choice, values: [32, 64]}
width_2: {type: choice, values: [32, 64]}
width_3: {type: choice, values: [32, 64], when: {num_layers: [3, 4]}}
width_4: {type: choice, values: [32, 64], when: {num_layers: 4}}
drop_4: {type: uniform, lower: 0.0, upper: 0.5, when: {num_layers: ">= 4"}}
"""
)

HAND = yaml.safe_load(
    """
lr: {type: loguniform, lower: 1.0e-4, upper: 1.0e-1}
num_layers:
  type: choice
  values:
    - {num_layers: 2}
    - num_layers: 3
      width_3: {type: choice, values: [32, 64]}
    - num_layers: 4
      width_3: {type: choice, values: [32, 64]}
      width_4: {type: choice, values: [32, 64]}
      drop_4: {type: uniform, lower: 0.0, upper: 0.5}
width_1: {type: choice, values: [32, 64]}
width_2: {type: choice, values: [32, 64]}
"""
)


def test_when_is_rewritten_into_the_hand_written_branch_point():
    parsed, hand = parse_space(WHEN), parse_space(HAND)
    assert parsed.domains == hand.domains
    assert list(parsed.domains) == ["lr", "num_layers", "width_1", "width_2"]
    assert parsed.gates == {
        "width_3": Gate(controller="num_layers", values=(3, 4)),
        "width_4": Gate(controller="num_layers", values=(4,)),
        "drop_4": Gate(controller="num_layers", values=(4,)),
    }
    assert parsed.controllers == {"num_layers": (2, 3, 4)}
    mapped, mapped_hand = map_space(to_param_space(WHEN)), map_space(to_param_space(HAND))
    assert [p.ax_name for p in mapped.parameters] == [p.ax_name for p in mapped_hand.parameters]
    assert mapped.dependencies() == mapped_hand.dependencies()


def test_a_trial_config_holds_the_controller_branch_and_round_trips():
    mapped = map_space(to_param_space(WHEN))
    config = {
        "lr": 0.01,
        "num_layers": {"num_layers": 3, "width_3": 64},
        "width_1": 32,
        "width_2": 64,
    }
    assert mapped.to_config(mapped.to_ax(config)) == config
    assert mapped.active(mapped.to_ax(config)) >= {"num_layers__b1__width_3"}
    assert "num_layers__b2__width_4" not in mapped.active(mapped.to_ax(config))


@pytest.mark.parametrize(
    ("condition", "selected"),
    [
        ([3, 4], (3, 4)),
        (3, (3,)),
        (">= 3", (3, 4)),
        (">3", (4,)),
        ("<= 3", (2, 3)),
        ("< 3", (2,)),
        ("== 4", (4,)),
        ("!= 4", (2, 3)),
        (">= 2.5", (3, 4)),
    ],
)
def test_conditions_select_controller_values(condition: Any, selected: tuple[int, ...]):
    space = {
        "num_layers": {"type": "randint", "lower": 2, "upper": 5},
        "w": {"type": "choice", "values": [1, 2], "when": {"num_layers": condition}},
    }
    assert parse_space(space).gates["w"].values == selected


def test_string_and_qrandint_controllers():
    space = {
        "act": {"type": "choice", "values": ["relu", "softplus", "gelu"]},
        "beta": {"type": "uniform", "lower": 0.5, "upper": 2.0, "when": {"act": "softplus"}},
        "tau": {"type": "uniform", "lower": 0.5, "upper": 2.0, "when": {"act": "!= relu"}},
        "depth": {"type": "qrandint", "lower": 2, "upper": 8, "q": 2},
        "extra": {"type": "choice", "values": [8, 16], "when": {"depth": "> 4"}},
    }
    parsed = parse_space(space)
    assert parsed.gates["beta"].values == ("softplus",)
    assert parsed.gates["tau"].values == ("softplus", "gelu")
    assert parsed.controllers["depth"] == (2, 4, 6, 8)
    assert parsed.gates["extra"].values == (6, 8)
    branches = parsed.domains["act"].values
    assert [sorted(b) for b in branches] == [["act"], ["act", "beta", "tau"], ["act", "tau"]]


def test_study_spec_keeps_when_in_its_yaml_and_folds_a_flat_baseline(minimal):
    flat = {"lr": 0.01, "num_layers": 4, "width_1": 32, "width_2": 64}
    flat |= {"width_3": 32, "width_4": 64, "drop_4": 0.1}
    spec = StudySpec.from_dict({**minimal, "space": WHEN, "baseline": flat})
    assert spec.baseline == {
        "lr": 0.01,
        "num_layers": {"num_layers": 4, "width_3": 32, "width_4": 64, "drop_4": 0.1},
        "width_1": 32,
        "width_2": 64,
    }
    assert spec.to_dict()["space"]["width_4"]["when"] == {"num_layers": 4}
    assert StudySpec.from_dict(spec.to_dict()) == spec  # the nested baseline reads back
    mapped = map_space(spec.param_space())
    assert mapped.to_config(mapped.to_ax(dict(spec.baseline))) == spec.baseline
    # width_3 is one Ax parameter in each of two branches, but one trial has at most
    # lr, num_layers, width_1..4 and drop_4: the Sobol start is 2 x 7.
    assert (mapped.dim, mapped.active_dim, mapped.default_num_initial) == (8, 7, 14)


@pytest.mark.parametrize(
    ("baseline", "match"),
    [
        (
            {"num_layers": 3, "width_3": 32, "width_4": 64},
            r"^baseline\.width_4: got 64; 'width_4' is searched only when num_layers is one "
            r"of \[4\] and this baseline has num_layers: 3; remove it$",
        ),
        ({"num_layers": 4, "width_3": 32}, r"^baseline\.num_layers: .*missing 'width_4'"),
        ({"num_layers": 5}, r"^baseline\.num_layers: got 5; use one of \[2, 3, 4\]$"),
        ({"width_3": 32}, r"^baseline\.width_3: got 32; .*give 'num_layers' too$"),
        (
            {"num_layers": {"num_layers": 2}, "width_3": 32},
            r"^baseline\.width_3: got 32; 'width_3' is given twice",
        ),
        ({"num_layers": {"num_layers": 3, "width_3": 7}}, r"^baseline\.num_layers\.width_3: got 7"),
    ],
)
def test_bad_baselines_of_when_spaces_get_one_line(baseline: dict[str, Any], match: str):
    parsed = parse_space(WHEN)
    full = {"lr": 0.01, "width_1": 32, "width_2": 64, **baseline}
    with pytest.raises(SpecError, match=match):
        check_baseline(full, parsed)


def _gate(condition: Any, **controller: Any) -> dict[str, Any]:
    ctrl = controller or {"type": "choice", "values": [2, 3, 4]}
    return {
        "num_layers": ctrl,
        "lr": {"type": "loguniform", "lower": 1e-4, "upper": 1e-1},
        "w": {"type": "choice", "values": [8, 16], "when": condition},
    }


NESTED_IN_GROUP = {
    "num_layers": {"type": "choice", "values": [2, 3]},
    "optim": {"beta": {"type": "uniform", "lower": 0, "upper": 1, "when": {"num_layers": 3}}},
}
IN_BRANCH = {
    "num_layers": {"type": "choice", "values": [2, 3]},
    "arch": {
        "type": "choice",
        "values": [
            {"kind": "a"},
            {"kind": "b", "w": {"type": "choice", "values": [1, 2], "when": {"num_layers": 3}}},
        ],
    },
}
GATED_CONTROLLER = {
    "a": {"type": "choice", "values": [1, 2]},
    "b": {"type": "choice", "values": [1, 2], "when": {"a": 2}},
    "c": {"type": "choice", "values": [1, 2], "when": {"b": 2}},
}


@pytest.mark.parametrize(
    ("space", "match"),
    [
        (_gate({"num_layer": 3}), r"^space\.w\.when: got 'num_layer'; .*did you mean 'num_layers'"),
        (_gate({"lr": 3}), r"^space\.w\.when: got 'lr'; 'lr' is a loguniform domain"),
        (
            _gate({"num_layers": 3}, type="randint", lower=1, upper=100),
            rf"takes 99 values and a controller at most {MAX_CONTROLLER_VALUES}",
        ),
        (
            _gate({"num_layers": 3}, type="choice", values=[[1], [2]]),
            r"a controller's values are numbers, strings or booleans",
        ),
        (_gate({"num_layers": 5}), r"^space\.w\.when\.num_layers: got 5; use values of"),
        (_gate({"num_layers": [3, 9]}), r"^space\.w\.when\.num_layers: got \[3, 9\]; 9 is not"),
        (_gate({"num_layers": []}), r"^space\.w\.when\.num_layers: got \[\]; list at least one"),
        (_gate({"num_layers": "=> 3"}), r"or a comparison: >=, >, <=, <, == or !="),
        (_gate({"num_layers": ">= x"}), r">= compares numbers"),
        (_gate({"num_layers": "> 4"}), r"got '> 4'; it selects none of \[2, 3, 4\]"),
        (_gate({"num_layers": 3, "lr": 1}), r"^space\.w\.when: .*name exactly one controlling"),
        (_gate([3]), r"^space\.w\.when: got \[3\]; use a mapping of one controlling parameter"),
        (
            {"n": {"type": "choice", "values": [1, 2], "when": {"n": 2}}},
            r"^space\.n\.when: got \{'n': 2\}; 'n' cannot be gated by itself",
        ),
        (GATED_CONTROLLER, r"^space\.c\.when: .*'b' is itself gated \(by 'a'\)"),
        (NESTED_IN_GROUP, r"^space\.optim\.beta\.when: .*not inside a group"),
        (IN_BRANCH, r"^space\.arch\.w\.when: .*not inside a branch of a choice"),
        (
            {"n": {"type": "choice", "values": [1, 2]}, "g": {"when": {"n": 1}}},
            r"^space\.g\.when: got \{'n': 1\}; when gates a searched parameter",
        ),
        (
            {"n": 3, "w": {"type": "choice", "values": [1, 2], "when": {"n": 3}}},
            r"'n' is not a searched parameter; a controller is a choice",
        ),
    ],
)
def test_bad_when_gets_one_line(space: dict[str, Any], match: str):
    with pytest.raises(SpecError, match=match) as err:
        parse_space(space)
    assert "\n" not in str(err.value)
