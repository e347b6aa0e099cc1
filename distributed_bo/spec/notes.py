"""Advice on a valid spec: settings that work but waste the budget, said in one line."""

from __future__ import annotations

from distributed_bo.search.space import map_space
from distributed_bo.spec.study import StudySpec


def sobol_start(spec: StudySpec) -> int:
    """The ``num_initial`` the study's searcher uses: the spec's, or its space's default."""
    return spec.searcher.num_initial or map_space(spec.param_space()).default_num_initial


def sobol_only_note(spec: StudySpec) -> str | None:
    """One line when the budget ends before the model is ever used, else ``None``.

    With ``num_initial`` (set, or the default of the space) at least
    ``budget.num_trials`` and no warm start, every trial is the baseline or a Sobol
    point: the study is a quasi-random search.
    """
    if spec.warm_start is not None:
        return None  # its notes say how the warm observations shorten the start
    set_by_user = spec.searcher.num_initial is not None
    initial = sobol_start(spec)
    trials = spec.budget.num_trials
    if initial < trials:
        return None
    source = "" if set_by_user else " (the default, max(5, 2 x parameters))"
    return (
        f"searcher.num_initial: {initial}{source} >= budget.num_trials ({trials}): every "
        "trial is a Sobol point and the model is never used; set searcher.num_initial "
        f"below {trials}, or raise budget.num_trials"
    )
