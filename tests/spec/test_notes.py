"""Advice on valid specs: one line each, nothing refused."""

from distributed_bo.spec import StudySpec
from distributed_bo.spec.notes import sobol_only_note


def _spec(**searcher):
    return StudySpec.from_dict(
        {
            "name": "short",
            "objective": {"metric": "value", "mode": "min"},
            "trainable": {"name": "branin"},
            "space": {
                "x0": {"type": "uniform", "lower": -5.0, "upper": 10.0},
                "x1": {"type": "uniform", "lower": 0.0, "upper": 15.0},
            },
            "budget": {"num_trials": 4, "max_concurrent": 2},
            "searcher": searcher,
        }
    )


def test_a_budget_that_ends_before_the_model_gets_one_line():
    # 2 parameters: the default num_initial is max(5, 4) = 5 >= 4 trials.
    assert sobol_only_note(_spec()) == (
        "searcher.num_initial: 5 (the default, max(5, 2 x parameters)) >= "
        "budget.num_trials (4): every trial is a Sobol point and the model is never "
        "used; set searcher.num_initial below 4, or raise budget.num_trials"
    )
    assert sobol_only_note(_spec(num_initial=4)).startswith("searcher.num_initial: 4 >= ")
    assert sobol_only_note(_spec(num_initial=3)) is None
