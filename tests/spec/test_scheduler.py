"""The ``scheduler`` section and ``searcher.stopped_trials``: defaults, round trip, bad input."""

from __future__ import annotations

from typing import Any

import pytest

from distributed_bo.exceptions import SpecError
from distributed_bo.spec import SchedulerSpec, StudySpec


def with_scheduler(minimal: dict[str, Any], epochs: int | None = 8, **section: Any) -> dict:
    data = dict(minimal)
    if epochs is not None:
        data["trainable"] = {**data["trainable"], "config": {"epochs": epochs}}
    data["scheduler"] = section
    return data


def test_defaults_are_fifo_and_last_value(minimal: dict[str, Any]) -> None:
    spec = StudySpec.from_dict(minimal)
    assert spec.scheduler == SchedulerSpec()
    assert spec.scheduler.type == "fifo"
    assert spec.scheduler.time_attr == "training_iteration"
    assert spec.searcher.stopped_trials == "last_value"


def test_asha_round_trips_and_takes_max_t_from_epochs(minimal: dict[str, Any]) -> None:
    data = with_scheduler(minimal, type="asha", grace_period=2, reduction_factor=4)
    data["searcher"] = {"stopped_trials": "highest_rung"}
    spec = StudySpec.from_dict(data)
    assert spec.scheduler.full_length(spec.trainable.config) == 8
    assert StudySpec.from_dict(spec.to_dict()) == spec
    assert spec.to_dict()["scheduler"] == {
        "type": "asha",
        "time_attr": "training_iteration",
        "max_t": None,
        "grace_period": 2,
        "reduction_factor": 4.0,
    }


def test_seconds_as_the_resource(minimal: dict[str, Any]) -> None:
    data = with_scheduler(
        minimal, epochs=None, type="median_stopping", time_attr="time_total_s", max_t=60.5
    )
    spec = StudySpec.from_dict(data)
    assert spec.scheduler.full_length(spec.trainable.config) == 60.5


@pytest.mark.parametrize(
    ("section", "epochs", "message"),
    [
        ({"type": "ash"}, 8, "scheduler.type: got 'ash'; use 'fifo', 'asha', "),
        ({"type": "asha", "time_attr": "epoch"}, 8, "scheduler.time_attr: got 'epoch'; use "),
        ({"type": "asha", "max_t": 0}, 8, "scheduler.max_t: got 0; use a number > 0"),
        ({"type": "asha", "max_t": 2.5}, 8, "scheduler.max_t: got 2.5; use a whole number"),
        ({"type": "asha", "grace_period": -1}, 8, "scheduler.grace_period: got -1; use a number"),
        ({"type": "asha", "reduction_factor": 1}, 8, "scheduler.reduction_factor: got 1; use"),
        ({"type": "asha", "reduction_factor": "3"}, 8, "scheduler.reduction_factor: got '3'"),
        ({"type": "asha", "max_t": 4, "grace_period": 5}, 8, "scheduler.grace_period: got 5"),
        ({"type": "asha", "grace_period": 9}, 8, "scheduler.grace_period: got 9; use a value <="),
        ({"type": "asha"}, None, "scheduler.max_t: got None; set it to a trial's full length"),
        ({"type": "asha", "max_t": 20}, 8, "scheduler.max_t: got 20; trainable.config.epochs is 8"),
        (
            {"type": "hyperband", "time_attr": "time_total_s"},
            8,
            "scheduler.max_t: got None; set it to a trial's full length in time_total_s",
        ),
        ({"tpye": "asha"}, 8, "scheduler: got unknown key 'tpye' (did you mean 'type'?)"),
    ],
)
def test_bad_scheduler_is_one_line_naming_field_value_and_fix(
    minimal: dict[str, Any], section: dict, epochs: int | None, message: str
) -> None:
    with pytest.raises(SpecError) as err:
        StudySpec.from_dict(with_scheduler(minimal, epochs, **section))
    text = str(err.value)
    assert text.startswith(message), text
    assert "\n" not in text


def test_bad_stopped_trials_policy(minimal: dict[str, Any]) -> None:
    minimal["searcher"] = {"stopped_trials": "ignore"}
    with pytest.raises(SpecError, match=r"^searcher.stopped_trials: got 'ignore'; use "):
        StudySpec.from_dict(minimal)


def test_fifo_needs_no_max_t(minimal: dict[str, Any]) -> None:
    spec = StudySpec.from_dict(with_scheduler(minimal, None, type="fifo"))
    assert spec.scheduler.full_length(spec.trainable.config) is None
