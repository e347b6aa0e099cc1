"""The ``warm_start`` section: its forms, its one-line errors, ``--warm-start``."""

from typing import Any

import pytest

from distributed_bo.exceptions import SpecError
from distributed_bo.spec import StudySpec, WarmStartSpec


def _with(minimal: dict[str, Any], warm: Any) -> StudySpec:
    return StudySpec.from_dict({**minimal, "warm_start": warm})


def test_one_source_or_a_list_and_the_defaults(minimal: dict[str, Any]) -> None:
    spec = _with(minimal, {"from": "experiments/a"})
    assert spec.warm_start == WarmStartSpec(sources=("experiments/a",), mode="initial", top_k=4)
    listed = _with(minimal, {"from": ["a", "b"], "top_k": 2})
    assert listed.warm_start is not None and listed.warm_start.sources == ("a", "b")
    assert StudySpec.from_dict(listed.to_dict()) == listed
    assert "warm_start" not in StudySpec.from_dict(minimal).to_dict()  # absent: left out


def test_data_mode_takes_no_top_k_and_round_trips(minimal: dict[str, Any]) -> None:
    spec = _with(minimal, {"from": "a", "mode": "data"})
    assert spec.warm_start == WarmStartSpec(sources=("a",), mode="data", top_k=None)
    assert spec.warm_start.is_data
    assert spec.to_dict()["warm_start"] == {"from": ["a"], "mode": "data"}
    assert StudySpec.from_dict(spec.to_dict()) == spec
    flagged = spec.with_warm_start(["b"])
    assert flagged.warm_start == WarmStartSpec(sources=("b",), mode="data")


def test_warm_start_flag_replaces_the_sources_and_keeps_the_rest(minimal: dict[str, Any]) -> None:
    spec = _with(minimal, {"from": "a", "top_k": 2})
    flagged = spec.with_warm_start(["b", "c"])
    assert flagged.warm_start == WarmStartSpec(sources=("b", "c"), top_k=2)
    cold = StudySpec.from_dict(minimal).with_warm_start(["b"])
    assert cold.warm_start == WarmStartSpec(sources=("b",))


@pytest.mark.parametrize(
    ("warm", "message"),
    [
        ("experiments/a", r"^warm_start: got 'experiments/a'; use a mapping with keys from"),
        ({"mode": "initial"}, r"^warm_start.from: missing"),
        ({"from": []}, r"^warm_start.from: got \[\]; give an experiment directory"),
        ({"from": ["a", ""]}, r"^warm_start.from\[1\]: got ''"),
        ({"from": ["a", "a"]}, r"^warm_start.from: got \['a', 'a'\]; name each earlier study once"),
        ({"from": "a", "mode": "best"}, r"^warm_start.mode: got 'best'; use initial or data$"),
        (
            {"from": "a", "mode": "data", "top_k": 2},
            r"^warm_start.top_k: got 2; data mode takes every completed trial",
        ),
        ({"from": "a", "top_k": 0}, r"^warm_start.top_k: got 0"),
        ({"from": "a", "top_k": 2.5}, r"^warm_start.top_k: got 2.5"),
        ({"from": "a", "topk": 2}, r"^warm_start: got unknown key 'topk' \(did you mean 'top_k'"),
    ],
)
def test_bad_warm_start_is_one_line(minimal: dict[str, Any], warm: Any, message: str) -> None:
    with pytest.raises(SpecError, match=message) as err:
        _with(minimal, warm)
    assert "\n" not in str(err.value)
