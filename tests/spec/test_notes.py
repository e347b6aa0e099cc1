"""Advice on valid specs: one line each, nothing refused."""

from typing import Any

from distributed_bo.spec import StudySpec
from distributed_bo.spec.notes import sobol_only_note


def test_a_budget_that_ends_before_the_model_gets_one_line(minimal: dict[str, Any]):
    # One parameter: the default num_initial is max(5, 2) = 5, above 4 trials.
    spec = StudySpec.from_dict(minimal)
    assert sobol_only_note(spec) == (
        "searcher.num_initial: 5 (the default, max(5, 2 x parameters)) >= "
        "budget.num_trials (4): every trial is a Sobol point and the model is never "
        "used; set searcher.num_initial below 4, or raise budget.num_trials"
    )
    for num_initial, note in ((4, True), (3, False)):
        spec = StudySpec.from_dict({**minimal, "searcher": {"num_initial": num_initial}})
        said = sobol_only_note(spec)
        assert (said is not None) == note
        assert not note or said.startswith("searcher.num_initial: 4 >= budget.num_trials (4)")


def test_a_warm_start_leaves_the_sobol_start_to_its_own_notes(minimal: dict[str, Any], tmp_path):
    warm = {"warm_start": {"from": [str(tmp_path / "earlier")], "mode": "initial"}}
    assert sobol_only_note(StudySpec.from_dict({**minimal, **warm})) is None
