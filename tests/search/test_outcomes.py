"""search/outcomes.py: objectives, thresholds and outcome constraints, and Pareto layers."""

import pytest

from distributed_bo import SpecError
from distributed_bo.search.outcomes import Outcomes, pareto_layers, parse_constraint


def test_one_objective_is_todays_single_metric():
    o = Outcomes.build("loss", "min")
    assert (o.metrics, o.modes, o.is_multi) == (("loss",), ("min",), False)
    assert o.ax_objective() == "-loss"
    assert o.ax_constraints() == []
    assert o.tracked == ("loss",)


def test_several_objectives_thresholds_and_constraints_in_ax_syntax():
    o = Outcomes.build(
        ["val/acc", "latency_ms"],
        ["max", "min"],
        objective_thresholds={"latency_ms": 20},
        outcome_constraints=["num_params <= 5e6", "0.5 * a - b >= -1"],
    )
    assert o.is_multi
    assert o.ax_objective() == "val_acc, -latency_ms"
    assert o.ax_constraints() == [
        "latency_ms <= 20.0",
        "num_params <= 5000000.0",
        "0.5 * a + -1.0 * b >= -1.0",
    ]
    assert o.tracked == ("val/acc", "latency_ms", "num_params", "a", "b")
    assert o.feasible({"num_params": 4e6, "a": 0.0, "b": 0.5})
    assert not o.feasible({"num_params": 6e6, "a": 0.0, "b": 0.5})
    assert not o.feasible({"num_params": 1.0, "a": 0.0, "b": 2.0})


@pytest.mark.parametrize(
    ("metric", "mode", "kw", "message"),
    [
        (["a", "b"], ["max"], {}, r"^mode: got \['max'\] for metric \['a', 'b'\]; give one mode"),
        (["a", "b"], "max", {}, r"^mode: got 'max' for metric \['a', 'b'\]; give one mode"),
        (["a", "a"], ["max", "min"], {}, r"^metric: got \['a', 'a'\], which repeats a metric"),
        (["a", "b"], ["max", "up"], {}, r"^mode: got 'up'; use 'min' or 'max'$"),
        ([], [], {}, r"^metric: got \[\]; use a metric name or a list of them$"),
        (
            ["a", "b"],
            ["max", "min"],
            {"objective_thresholds": {"c": 1.0}},
            r"^objective_thresholds: got 'c', which is not an objective; use one of",
        ),
        (
            "a",
            "max",
            {"objective_thresholds": {"a": 1.0}},
            r"^objective_thresholds: got 'a' with a single objective;",
        ),
        (
            ["a", "b"],
            ["max", "min"],
            {"objective_thresholds": {"a": "high"}},
            r"^objective_thresholds\.a: got 'high'; use a number$",
        ),
        (
            ["a", "b"],
            ["max", "min"],
            {"outcome_constraints": ["b <= 3"]},
            r"^outcome_constraints: got 'b <= 3', which constrains the objective 'b'; use",
        ),
        (
            "a",
            "max",
            {"outcome_constraints": "c <= 3"},
            r"^outcome_constraints: got 'c <= 3'; use a list of strings$",
        ),
    ],
)
def test_bad_objectives_are_one_line_errors(metric, mode, kw, message):
    with pytest.raises(SpecError, match=message) as info:
        Outcomes.build(metric, mode, **kw)
    assert "\n" not in str(info.value)


@pytest.mark.parametrize(
    ("text", "why"),
    [
        ("c < 3", "which has no '<=' or '>=' number"),
        ("c <= d", "which has no '<=' or '>=' number"),
        ("c d <= 3", "whose left side is not a sum of metrics"),
        ("<= 3", "which names no metric"),
        (3, None),
    ],
)
def test_malformed_constraints_name_the_field_and_the_fix(text, why):
    with pytest.raises(SpecError, match=r"^outcome_constraints: got ") as info:
        parse_constraint(text)
    message = str(info.value)
    assert "write it as 'num_params <= 5e6'" in message
    if why:
        assert why in message


def test_pareto_layers_peel_the_fronts_in_order():
    points = [[1, 2], [2, 1], [2, 2], [3, 3], [1, 2], [0, 5]]
    # [1, 2] twice: equal points do not dominate each other.
    assert pareto_layers(points) == [0, 0, 1, 2, 0, 0]
    assert pareto_layers([[3.0], [1.0], [2.0]]) == [2, 0, 1]
