from distributed_bo.runner.wiring import build_searcher, finished_events
from distributed_bo.search.events import Complete, EarlyStop, Fail
from distributed_bo.spec import StudySpec


def _spec(**searcher):
    return StudySpec.from_dict(
        {
            "name": "wired",
            "objective": {"metric": "value", "mode": "min"},
            "trainable": {"name": "branin"},
            "space": {
                "x0": {"type": "uniform", "lower": -5.0, "upper": 10.0},
                "x1": {"type": "uniform", "lower": 0.0, "upper": 15.0},
            },
            "budget": {"num_trials": 4, "max_concurrent": 2},
            "searcher": searcher,
            "seed": 7,
            "baseline": {"x0": 1.0, "x1": 2.0},
        }
    )


def test_searcher_takes_the_spec_section_whole():
    spec = _spec(
        acquisition="qUCB",
        prefetch=0,
        max_observations=40,
        optimizer_options={"num_restarts": 3},
        parameter_constraints=["x0 + x1 <= 20"],
    )
    searcher = build_searcher(spec)
    try:
        # Every setting of the section, optimizer_options included, reaches the searcher.
        assert searcher.settings == spec.searcher
        assert searcher.settings.optimizer_options == {"num_restarts": 3}
        assert searcher.settings.parameter_constraints == ("x0 + x1 <= 20",)
    finally:
        searcher.close()


def test_finished_rows_become_typed_events():
    rows = [
        {"trial_id": "a", "status": "COMPLETED", "metric": 1.5},
        {"trial_id": "b", "status": "FAILED", "error": "boom"},
        {"trial_id": "c", "status": "FAILED", "error": None},
        {"trial_id": "d", "status": "EARLY_STOPPED", "metric": 3.0},
        {"trial_id": "e", "status": "RUNNING", "metric": None},
        {"trial_id": "f", "status": "COMPLETED", "metric": None},
    ]
    assert finished_events(rows) == {
        "a": Complete(trial_id="a", value=1.5),
        "b": Fail(trial_id="b", reason="boom"),
        "c": Fail(trial_id="c", reason="failed"),
        "d": EarlyStop(trial_id="d"),
    }
