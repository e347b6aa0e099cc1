"""Getting an experiment directory ready for ``resume``, before and after Ray starts.

Before: Tune's last snapshot is read (and checked), our fresher searcher state is
checked (it parses, its version is known, its parameters are the spec's), and only
then put in the place of Tune's copy; a state that fails the check is never copied.
Temporary files a crashed writer left behind are removed once every check passed.
If ``searcher_state.json`` fails and ``searcher_state.prev.json`` (the state saved
before it) passes, that one is used, with a warning. After: the snapshot is repaired to match
``trials.parquet`` (:mod:`distributed_bo.runner.repair`), and the rows the resumed
run keeps are chosen.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from distributed_bo.exceptions import ExperimentNotFoundError, SearcherStateError
from distributed_bo.experiment.layout import (
    PREV_SEARCHER_FILE,
    SEARCHER_FILE,
    TUNER_FILE,
    tune_searcher_copies,
    tune_snapshots,
)
from distributed_bo.experiment.rows import is_finished, read_trials
from distributed_bo.experiment.storage import StorageDir
from distributed_bo.runner.repair import SnapshotRepair, is_whole_pickle, repair_snapshot
from distributed_bo.search.restore import check_state
from distributed_bo.spec import StudySpec
from distributed_bo.types import Row

#: Keys every saved searcher state has (:meth:`BatchBOSearcher.get_state`).
_STATE_KEYS = ("version", "metric", "mode", "parameters", "ax", "ax_of", "ready", "live")
_STATE_FIX = (
    "restore the file from a backup, or run the study again under a new name; "
    "resume changed nothing"
)


@dataclass(frozen=True, kw_only=True)
class RestoreStart:
    """What :func:`prepare_restore` found before Ray starts.

    Attributes:
        tune_trials: Trial id to status, for every trial in Tune's last snapshot.
        warnings: One line each, for the user (e.g. the previous state was used).
    """

    tune_trials: dict[str, str]
    warnings: tuple[str, ...] = ()


@dataclass(frozen=True, kw_only=True)
class ResumePlan:
    """What a resumed run starts from.

    Attributes:
        tune_trials: Trial id to status, for every trial in Tune's last snapshot.
        rows: The rows kept: finished ones, and unfinished ones Tune knows. Rows of
            trials that never finished and that Tune never recorded are dropped:
            their Ax trials are re-run under new Tune trial ids.
        unfinished_configs: Trial id to config of every trial Tune will resume.
        repair: What was corrected in Tune's snapshot.
    """

    tune_trials: dict[str, str]
    rows: list[Row]
    unfinished_configs: dict[str, dict[str, Any]] = field(default_factory=dict)
    repair: SnapshotRepair = field(default_factory=SnapshotRepair)


def prepare_restore(exp: StorageDir, spec: StudySpec) -> RestoreStart:
    """Read Tune's last snapshot, check our searcher state, and put it in Tune's place.

    Nothing is written unless every check passed.

    Returns:
        Tune's trials, and any warning for the user.

    Raises:
        ExperimentNotFoundError: If Tune's experiment state or ``tuner.pkl`` is
            missing, truncated or corrupt.
        SearcherStateError: If the saved searcher state (and the one before it) is
            corrupt, truncated, of an unknown version, or of another search space.
    """
    names = exp.list()
    trials = _tune_trials(exp, tune_snapshots(names))
    if not is_whole_pickle(exp.read_bytes(TUNER_FILE)):  # Tune would fail after Ray started
        raise ExperimentNotFoundError(
            f"experiment_dir: {exp.uri}/{TUNER_FILE} is truncated or corrupt (not one whole "
            "pickle); restore it from a backup, or run the study again under a new name"
        )
    params = spec_parameters(spec)
    tune_copies = tune_searcher_copies(names)
    ours = exp.read_bytes(SEARCHER_FILE)
    warnings: list[str] = []
    if ours is None:
        if tune_copies:  # Tune restores from its own copy: it must pass too
            check_searcher_state(exp.read_bytes(tune_copies[-1]), exp.uri, tune_copies[-1], params)
        exp.remove_stale_temps()
        return RestoreStart(tune_trials=trials)
    try:
        check_searcher_state(ours, exp.uri, SEARCHER_FILE, params)
    except SearcherStateError as err:
        prev = exp.read_bytes(PREV_SEARCHER_FILE)
        if prev is None:
            raise
        try:
            check_searcher_state(prev, exp.uri, PREV_SEARCHER_FILE, params)
        except SearcherStateError:
            raise err from None
        warnings.append(
            f"warning: {err}; resuming from {PREV_SEARCHER_FILE}, the state saved before it"
        )
        ours = prev
    exp.remove_stale_temps()  # a crashed writer's; this driver now holds the directory
    if tune_copies:
        exp.write_bytes(tune_copies[-1], ours)
    return RestoreStart(tune_trials=trials, warnings=tuple(warnings))


def _tune_trials(exp: StorageDir, states: list[str]) -> dict[str, str]:
    """Trial id to status in Tune's newest experiment snapshot."""
    if not states:
        raise ExperimentNotFoundError(
            f"experiment_dir: {exp.uri} has no Ray Tune experiment state; it is not a "
            "study directory, or it was damaged"
        )
    try:
        data = json.loads((exp.read_bytes(states[-1]) or b"").decode())
        trials = {}
        for entry in data["trial_data"]:
            trial = json.loads(entry[0])
            trials[trial["trial_id"]] = trial["status"]
    except (ValueError, KeyError, TypeError, IndexError) as err:
        raise ExperimentNotFoundError(
            f"experiment_dir: {exp.uri}/{states[-1]} is corrupt ({err}); the study cannot "
            "be resumed"
        ) from err
    return trials


def spec_parameters(spec: StudySpec) -> list[str]:
    """The Ax names of the spec's searched parameters, as a saved state lists them."""
    from distributed_bo.search.space import map_space

    return [p.ax_name for p in map_space(spec.param_space()).parameters]


def check_searcher_state(
    data: bytes | None, uri: str, name: str, parameters: list[str]
) -> dict[str, Any]:
    """Parse and check one saved searcher state, read from ``uri/name``.

    Returns:
        The state.

    Raises:
        SearcherStateError: One line: which file, what is wrong, and the fix.
    """
    where = f"{uri}/{name}"
    if data is None:
        raise SearcherStateError(f"searcher state: {where} is missing; {_STATE_FIX}")
    try:
        state = json.loads(data.decode())
    except (UnicodeDecodeError, ValueError) as err:
        raise SearcherStateError(
            f"searcher state: {where} is not valid JSON ({err}): it is corrupt or "
            f"truncated; {_STATE_FIX}"
        ) from err
    missing = [k for k in _STATE_KEYS if not isinstance(state, Mapping) or k not in state]
    if missing:
        raise SearcherStateError(
            f"searcher state: {where} lacks {', '.join(missing)}: it is not a saved "
            f"searcher state, or it is truncated; {_STATE_FIX}"
        )
    try:
        check_state(state, parameters)
    except SearcherStateError as err:
        detail = str(err).removeprefix("searcher state: ")
        raise SearcherStateError(
            f"searcher state: {where}: {detail}; resume it with the spec it was saved "
            f"with, or {_STATE_FIX}"
        ) from err
    return dict(state)


def plan_resume(exp: StorageDir, spec: StudySpec, tune_trials: dict[str, str]) -> ResumePlan:
    """Repair Tune's newest snapshot against ``trials.parquet``; choose the rows kept."""
    every = read_trials(exp)
    repair = repair_snapshot(
        exp,
        tune_snapshots(exp.list())[-1],
        every,
        metric=spec.objectives[0].metric,
        checkpoint_frequency=spec.checkpoint.frequency,
    )
    rows = [r for r in every if is_finished(r) or r["trial_id"] in tune_trials]
    return ResumePlan(
        tune_trials=tune_trials,
        rows=rows,
        unfinished_configs=repair.unfinished,
        repair=repair,
    )


def restore_failure(plan: ResumePlan, trials: list[Any], searcher: Any) -> str | None:
    """Why Tune's restore did not happen, or ``None`` if it did.

    Checked once the restored run is about to take its first step: Tune must know
    every trial of its last snapshot (else it restarted the experiment), and the
    searcher every finished trial that has an Ax index (else its state was not
    restored).

    Args:
        plan: What the resume started from.
        trials: Tune's trials now.
        searcher: The restored searcher (``trial_index(trial_id)``).
    """
    have = {t.trial_id for t in trials}
    lost = sorted(set(plan.tune_trials) - have)
    fix = "nothing new was run; rerun with --debug to see Tune's reason"
    if lost:
        return (
            f"resume: Ray Tune did not restore the study ({len(lost)} of its "
            f"{len(plan.tune_trials)} trials are missing, e.g. {lost[0]}) and would have "
            f"started it over; {fix}"
        )
    unknown = sorted(
        r["trial_id"]
        for r in plan.rows
        if is_finished(r)
        and r.get("ax_index") is not None
        and searcher.trial_index(r["trial_id"]) is None
    )
    if unknown:
        return (
            f"resume: the searcher state was not restored (it does not know "
            f"{len(unknown)} finished trial(s), e.g. {unknown[0]}); {fix}"
        )
    return None


def repair_text(repair: SnapshotRepair) -> str:
    """One line on what a resume corrected in Tune's lagging snapshot."""
    parts = []
    if repair.finished:
        parts.append(f"{len(repair.finished)} finished trial(s) kept finished")
    if repair.moved:
        parts.append(
            f"{len(repair.moved)} trial(s) continue from their newest checkpoint on storage"
        )
    if repair.from_scratch:
        parts.append(f"{len(repair.from_scratch)} trial(s) start over (no checkpoint left)")
    return "resume: Tune's last snapshot lagged trials.parquet; " + ", ".join(parts)
