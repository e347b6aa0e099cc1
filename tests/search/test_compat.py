"""Typed events, settings=, and what older versions wrote: tuner.pkl and v1 states."""

import pickle

import pytest
from ray import tune

from distributed_bo import BatchBOSearcher, SearcherStateError, SpecError
from distributed_bo.search.events import (
    Attach,
    Complete,
    EarlyStop,
    Fail,
    Run,
    event_from_json,
    finished_event,
)
from distributed_bo.search.restore import ResumeInfo
from distributed_bo.search.settings import SearcherSettings

SPACE = {"x": tune.uniform(-5.0, 10.0), "y": tune.uniform(0.0, 15.0)}


@pytest.mark.parametrize(
    ("event", "old"),
    [
        (Run(trial_id="a"), ["run", "a"]),
        (Complete(trial_id="a", value=1.5), ["complete", "a", 1.5]),
        (Fail(trial_id="a", reason="boom"), ["fail", "a", "boom"]),
        (EarlyStop(trial_id="a", value=None), ["early_stop", "a", None]),
        (EarlyStop(trial_id="a", value=2.0), ["early_stop", "a", 2.0]),
        (Attach(trial_id="a", parameters={"x": 1.0}), ["attach", "a", {"x": 1.0}]),
    ],
)
def test_events_read_both_forms(event, old):
    assert event_from_json(event.to_json()) == event
    assert event_from_json(old) == event
    assert event.to_json()["event"] == old[0]


@pytest.mark.parametrize("bad", [["explode", "a"], {"event": "run"}, 3, ["complete"]])
def test_corrupt_event_is_a_state_error(bad):
    with pytest.raises(SearcherStateError, match="searcher state: got the event"):
        event_from_json(bad)


@pytest.mark.parametrize(
    ("kwargs", "expected"),
    [
        ({"result": {"v": 1.0}}, Complete(trial_id="t", value=1.0)),
        (
            {"result": {"v": 1.0}, "error": True},
            Fail(trial_id="t", reason="the trial raised an error"),
        ),
        ({"result": {"trial_error": "OOM"}}, Fail(trial_id="t", reason="OOM")),
        ({"result": {"w": 1}}, Fail(trial_id="t", reason="the trial reported no 'v' metric")),
        ({"result": {"v": float("nan")}}, Fail(trial_id="t", reason="v was nan")),
        ({"result": {"v": 2}, "early_stopped": True}, EarlyStop(trial_id="t", value=2.0)),
        ({"result": {}, "early_stopped": True}, EarlyStop(trial_id="t", value=None)),
        ({"result": None, "last_value": 3.0}, Complete(trial_id="t", value=3.0)),
    ],
)
def test_finished_event_classifies_results(kwargs, expected):
    assert finished_event("t", metric="v", **kwargs) == expected


def test_resume_info_takes_tuples_and_events():
    info = ResumeInfo.build(
        tune_trials={"a"},
        finished={"a": ("complete", 1.0), "b": ("fail", "x"), "c": EarlyStop(trial_id="?")},
    )
    assert info.finished == {
        "a": Complete(trial_id="a", value=1.0),
        "b": Fail(trial_id="b", reason="x"),
        "c": EarlyStop(trial_id="c"),
    }
    assert info.tune_trials == frozenset({"a"})


def test_settings_object_or_keywords_not_both():
    settings = SearcherSettings(acquisition="qUCB", batch_size=2)
    searcher = BatchBOSearcher(space=SPACE, metric="v", mode="min", settings=settings)
    assert searcher.settings is settings
    assert BatchBOSearcher(acquisition="qUCB", batch_size=2).settings == settings
    with pytest.raises(SpecError, match=r"^settings: got settings= and batch_size=; pass each"):
        BatchBOSearcher(settings=settings, batch_size=2)
    with pytest.raises(SpecError, match=r"^settings: got \{'batch_size': 2\}; pass a Searcher"):
        BatchBOSearcher(settings={"batch_size": 2})
    with pytest.raises(SpecError, match=r"^batch_size: got 0; use an integer >= 1"):
        BatchBOSearcher(batch_size=0)
    clone = pickle.loads(pickle.dumps(searcher))
    assert clone.settings == settings


def test_tuner_pkl_of_an_older_version_still_loads():
    """The attributes a searcher pickled before SearcherSettings existed."""
    old = {
        "_raw_space": dict(SPACE),
        "_batch_size": 3,
        "_acquisition": "qEI",
        "_batch_strategy": "sequential",
        "_num_initial": 4,
        "_seed": 1,
        "_constraints": ["x + y <= 5"],
        "_max_concurrent": 2,
        "_points": [],
        "_optimizer_options": {"num_restarts": 2},
        "_budget": 9,
        "_tune_known": {"t1"},
        "_finished_on_resume": {"t0": ("complete", 1.0)},
        "_tune_unfinished": {"t1": {"x": 1.0, "y": 1.0}},
        "_metric": "v",
        "_mode": "min",
    }
    searcher = BatchBOSearcher.__new__(BatchBOSearcher)
    searcher.__setstate__(old)
    try:
        assert searcher.settings == SearcherSettings(
            acquisition="qEI",
            batch_strategy="sequential",
            batch_size=3,
            num_initial=4,
            parameter_constraints=("x + y <= 5",),
            optimizer_options={"num_restarts": 2},
            prefetch=0,
        )
        assert searcher._resume.finished == {"t0": Complete(trial_id="t0", value=1.0)}
        assert searcher._resume.tune_trials == frozenset({"t1"})
        assert searcher._time_attr == "training_iteration"
        assert searcher._gen is not None
    finally:
        searcher.close()


def test_version_1_state_with_list_events_and_history_resumes():
    searcher = BatchBOSearcher(
        space=SPACE, metric="v", mode="min", num_initial=4, seed=0, max_concurrent=2, prefetch=0
    )
    try:
        assert searcher.wait_ready(60)
        a, b = searcher.suggest("a"), searcher.suggest("b")
        assert a and b
        assert searcher.wait_ready(60)
        state = searcher.get_state()
    finally:
        searcher.close()
    # What version 1 wrote: list events and a "history" that nothing read.
    state = {**state, "version": 1, "history": {"a": [1.0], "b": []}}
    state["events"] = [["complete", "a", 1.0], ["early_stop", "b", None]]
    other = BatchBOSearcher(space=SPACE, metric="v", mode="min", num_initial=4, seed=0)
    try:
        other.set_state(state)
        trials = other.ax_client._experiment.trials
        assert trials[other.trial_index("a")].status.name == "COMPLETED"
        assert trials[other.trial_index("b")].status.name == "EARLY_STOPPED"
        assert other.get_state()["version"] == 2
        assert "history" not in other.get_state()
    finally:
        other.close()
