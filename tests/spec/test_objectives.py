"""The ``objective`` section's three forms, ``constraints`` and ``scheduler.metric`` (issue 14)."""

from __future__ import annotations

import pytest
import yaml

from distributed_bo.exceptions import SpecError
from distributed_bo.spec import ObjectiveSpec, StudySpec, parse_spec

BASE = """\
name: tiny
trainable: {name: "spec_tests_trainable:objective"}
space:
  x: {type: uniform, lower: 0.0, upper: 1.0}
budget: {num_trials: 4}
"""

LIST_FORM = """\
objective:
  - {metric: acc, mode: max}
  - {metric: latency_ms, mode: min, threshold: 20}
constraints: ["num_params <= 5e6"]
"""

LISTS_FORM = """\
objective:
  metric: [acc, latency_ms]
  mode: [max, min]
  threshold: {latency_ms: 20}
constraints: ["num_params <= 5e6"]
"""


def test_single_objective_reads_and_saves_as_before() -> None:
    spec = parse_spec(BASE + "objective: {metric: loss, mode: min}\n")
    assert spec.objective == ObjectiveSpec(metric="loss", mode="min")
    assert spec.objectives == (spec.objective,)
    assert spec.constraints == ()
    saved = spec.to_dict()
    # No new keys in a one-objective spec.yaml: older versions read it back.
    assert saved["objective"] == {"metric": "loss", "mode": "min"}
    assert "constraints" not in saved and "metric" not in saved["scheduler"]
    outcomes = spec.outcomes()
    assert not outcomes.is_multi and outcomes.ax_objective() == "-loss"


@pytest.mark.parametrize("form", [LIST_FORM, LISTS_FORM], ids=["list", "lists"])
def test_several_objectives_in_either_form(form: str) -> None:
    spec = parse_spec(BASE + form)
    assert spec.objectives == (
        ObjectiveSpec(metric="acc", mode="max"),
        ObjectiveSpec(metric="latency_ms", mode="min", threshold=20.0),
    )
    assert spec.constraints == ("num_params <= 5e6",)
    outcomes = spec.outcomes()
    assert outcomes.ax_objective() == "acc, -latency_ms"
    assert outcomes.ax_constraints() == ["latency_ms <= 20.0", "num_params <= 5000000.0"]
    assert outcomes.tracked == ("acc", "latency_ms", "num_params")
    again = StudySpec.from_dict(yaml.safe_load(spec.to_yaml()))
    assert again == spec and again.to_dict()["objective"][1]["threshold"] == 20.0


def test_constraints_apply_to_one_objective_too() -> None:
    spec = parse_spec(
        BASE + "objective: {metric: acc, mode: max}\nconstraints: ['num_params <= 1000']\n"
    )
    outcomes = spec.outcomes()
    assert not outcomes.is_multi
    assert outcomes.feasible({"num_params": 999}) and not outcomes.feasible({"num_params": 1001})


def test_a_list_of_one_is_one_objective() -> None:
    spec = parse_spec(BASE + "objective: [{metric: acc, mode: max}]\n")
    assert spec.objective == ObjectiveSpec(metric="acc", mode="max")


def test_scheduler_follows_the_first_objective_or_its_metric() -> None:
    spec = parse_spec(BASE + LIST_FORM)
    assert spec.scheduler_objective.metric == "acc"
    chosen = parse_spec(BASE + LIST_FORM, overrides=["scheduler.metric=latency_ms"])
    assert chosen.scheduler_objective == ObjectiveSpec(
        metric="latency_ms", mode="min", threshold=20.0
    )


@pytest.mark.parametrize(
    ("yaml_text", "overrides", "message"),
    [
        (
            "objective: {metric: [a, b], mode: [max, min, min]}\n",
            [],
            r"^objective\.mode: got \['max', 'min', 'min'\]; give a list of 2 modes",
        ),
        (
            "objective: {metric: [a, b], mode: max}\n",
            [],
            r"^objective\.mode: got 'max'; give a list of 2 modes",
        ),
        ("objective: []\n", [], r"^objective: got \[\]; give at least one objective"),
        (
            "objective: [{metric: a, mode: max}, {metric: a, mode: min}]\n",
            [],
            r"^objective\[1\]\.metric: got 'a'; objective\[0\] already names it",
        ),
        (
            "objective: [{metric: a, mode: max}, {metric: b, mode: up}]\n",
            [],
            r"^objective\[1\]\.mode: got 'up'; use 'min' or 'max'$",
        ),
        (
            "objective: [{metric: a, mode: max}, {metric: b, mode: min, limit: 3}]\n",
            [],
            r"^objective\[1\]: got unknown key 'limit'",
        ),
        (
            "objective: [{metric: a, mode: max}, {metric: b, mode: min, threshold: fast}]\n",
            [],
            r"^objective\[1\]\.threshold: got 'fast'; use a number",
        ),
        (
            "objective: {metric: [a, b], mode: [max, min], threshold: {c: 1}}\n",
            [],
            r"^objective\.threshold: got 'c'; it is not an objective; use one of a, b$",
        ),
        (
            "objective: {metric: a, mode: max, threshold: 0.9}\n",
            [],
            r"^objective\.threshold: got 0\.9; a threshold sets the reference point of several",
        ),
        (
            "objective: [{metric: a, mode: max}, {metric: b, mode: min}]\n"
            "constraints: ['a >= 0.5']\n",
            [],
            r"^constraints\[0\]: got 'a >= 0\.5'; 'a' is an objective",
        ),
        (
            "objective: {metric: a, mode: max}\nconstraints: ['params = 5']\n",
            [],
            r"^constraints\[0\]: got 'params = 5', which has no '<=' or '>=' number",
        ),
        (
            "objective: {metric: a, mode: max}\nconstraints: ['2 <= params']\n",
            [],
            r"^constraints\[0\]: got '2 <= params'",
        ),
        (
            "objective: {metric: a, mode: max}\nconstraints: 'params <= 5'\n",
            [],
            r"^constraints: got 'params <= 5'; use a list of strings",
        ),
        (
            "objective: [{metric: a, mode: max}, {metric: b, mode: min}]\n",
            ["scheduler.metric=c"],
            r"^scheduler\.metric: got 'c'; trials are not asked to report it; use one of the "
            r"objectives \(a, b\)$",
        ),
        (
            "objective: [{metric: a, mode: max}, {metric: b, mode: min}]\n",
            ["searcher.acquisition=qUCB"],
            r"^searcher\.acquisition: got 'qUCB'; it takes one objective and objective has 2",
        ),
        (
            "objective: [{metric: a, mode: max}, {metric: b, mode: min}]\n",
            ["searcher.stopped_trials=highest_rung"],
            r"^searcher\.stopped_trials: got 'highest_rung'; BOHB's rule follows one",
        ),
    ],
)
def test_bad_objectives_and_constraints(yaml_text: str, overrides: list[str], message: str) -> None:
    with pytest.raises(SpecError, match=message) as info:
        parse_spec(BASE + yaml_text, overrides=overrides)
    assert "\n" not in str(info.value)


def test_several_objectives_take_the_multi_objective_acquisitions() -> None:
    two = "objective: [{metric: a, mode: max}, {metric: b, mode: min}]\n"
    for acquisition in ("qLogNEI", "qLogNEHVI", "qLogNParEGO"):
        spec = parse_spec(BASE + two, overrides=[f"searcher.acquisition={acquisition}"])
        assert spec.searcher.acquisition == acquisition


def test_python_construction_takes_a_tuple_or_a_list() -> None:
    spec = parse_spec(BASE + "objective: {metric: a, mode: max}\n")
    two = [ObjectiveSpec(metric="a", mode="max"), ObjectiveSpec(metric="b", mode="min")]
    kwargs = {k: getattr(spec, k) for k in ("name", "trainable", "space", "budget")}
    built = StudySpec(objective=two, constraints=["c <= 1"], **kwargs)  # type: ignore[arg-type]
    assert built.objective == tuple(two) and built.constraints == ("c <= 1",)
    with pytest.raises(SpecError, match=r"^objective: got .*pass an ObjectiveSpec or a tuple"):
        StudySpec(objective="a", **kwargs)  # type: ignore[arg-type]
