"""Resume is all-or-nothing: a saved searcher state that fails its check changes nothing.

Each bad state (corrupt, truncated, from another spec) must stop ``resume`` with one
line and exit 2 before Ray starts, leaving every file of the experiment directory
byte-identical; a damaged current state falls back to the previous one.
"""

import hashlib
import json
import pickle
from pathlib import Path

import pyarrow.parquet as pq
import pytest

from distributed_bo import load_spec
from distributed_bo.cli import main
from distributed_bo.exceptions import SearcherStateError
from distributed_bo.experiment.layout import PREV_SEARCHER_FILE
from distributed_bo.experiment.spec_file import write_spec
from distributed_bo.experiment.storage import StorageDir
from distributed_bo.runner.restore import prepare_restore
from distributed_bo.runner.results import ResultsWriter
from distributed_bo.runner.study import resume_study, run_study
from distributed_bo.spec import StudySpec

SPEC = """\
name: chk
objective: {{metric: value, mode: min}}
trainable: {{name: branin}}
space:
  x0: {{type: uniform, lower: 0.0, upper: 1.0}}
  x1: {{type: uniform, lower: 0.0, upper: 1.0}}
budget: {{num_trials: 4, max_concurrent: 2}}
storage: {storage}
"""
TUNE_COPY = "searcher-state-2026-12-01_00-00-00.pkl"


def _state(parameters=("x0", "x1"), budget=4):
    return {
        "version": 2,
        "metric": "value",
        "mode": "min",
        "parameters": list(parameters),
        "ax": {"experiment": {}},
        "ax_of": {"t1": 0},
        "ready": [],
        "live": {},
        "events": [],
        "budget": budget,
    }


def _encode(state):
    return json.dumps(state).encode()


@pytest.fixture
def study(tmp_path):
    """A study directory as a crashed run leaves it (a stand-in, whole-pickle tuner.pkl)."""
    path = tmp_path / "spec.yaml"
    path.write_text(SPEC.format(storage=tmp_path / "exp"))
    spec = load_spec(path)
    exp = StorageDir.open(str(tmp_path / "exp"), "chk")
    write_spec(exp, spec)
    exp.write_bytes("tuner.pkl", pickle.dumps({"stand-in": True}))
    exp.write_bytes("experiment_state-2026-12-01_00-00-00.json", b'{"trial_data": []}')
    exp.write_bytes(TUNE_COPY, _encode(_state(budget=3)))
    exp.write_bytes("searcher_state.json", _encode(_state()))
    return Path(exp.path), spec, exp


def _tree(root: Path) -> dict[str, str]:
    return {
        str(p.relative_to(root)): hashlib.sha256(p.read_bytes()).hexdigest()
        for p in sorted(root.rglob("*"))
        if p.is_file()
    }


BAD = {
    "corrupt": b"{not json at all",
    "truncated": _encode(_state())[:60],
    "other_spec": _encode(_state(parameters=("lr", "width"))),
    "unknown_version": _encode({**_state(), "version": 99}),
}


@pytest.mark.parametrize("kind", sorted(BAD))
def test_bad_state_stops_resume_and_changes_nothing(study, kind, capsys):
    root, _, _ = study
    (root / "searcher_state.json").write_bytes(BAD[kind])
    before = _tree(root)
    with pytest.raises(SearcherStateError, match="searcher_state.json"):
        resume_study(str(root), progress=None)
    assert _tree(root) == before
    assert main(["resume", str(root), "--quiet"]) == 2
    errors = [ln for ln in capsys.readouterr().err.splitlines() if ln.startswith("error:")]
    assert len(errors) == 1 and "searcher_state.json" in errors[0], errors
    assert _tree(root) == before


def test_bad_tune_copy_without_ours_stops_resume(study):
    root, _, _ = study
    (root / "searcher_state.json").unlink()
    (root / TUNE_COPY).write_bytes(b"\x80\x04garbage")
    before = _tree(root)
    with pytest.raises(SearcherStateError, match=TUNE_COPY):
        resume_study(str(root), progress=None)
    assert _tree(root) == before


def test_good_state_replaces_tune_copy(study):
    root, spec, exp = study
    start = prepare_restore(exp, spec)
    assert start.warnings == ()
    assert (root / TUNE_COPY).read_bytes() == (root / "searcher_state.json").read_bytes()


def test_damaged_state_falls_back_to_previous_with_warning(study):
    root, spec, exp = study
    prev = _encode(_state(budget=2))
    (root / PREV_SEARCHER_FILE).write_bytes(prev)
    (root / "searcher_state.json").write_bytes(BAD["truncated"])
    start = prepare_restore(exp, spec)
    assert len(start.warnings) == 1 and PREV_SEARCHER_FILE in start.warnings[0]
    assert (root / TUNE_COPY).read_bytes() == prev
    assert (root / PREV_SEARCHER_FILE).read_bytes() == prev


def test_both_states_damaged_changes_nothing(study):
    root, spec, exp = study
    (root / PREV_SEARCHER_FILE).write_bytes(BAD["other_spec"])
    (root / "searcher_state.json").write_bytes(BAD["corrupt"])
    before = _tree(root)
    with pytest.raises(SearcherStateError, match="searcher_state.json"):
        prepare_restore(exp, spec)
    assert _tree(root) == before


@pytest.mark.parametrize("damage", ["truncated", "garbage"])
def test_damaged_tuner_pkl_stops_resume_before_ray_and_changes_nothing(study, damage, capsys):
    root, _, _ = study
    whole = (root / "tuner.pkl").read_bytes()
    (root / "tuner.pkl").write_bytes(whole[: len(whole) // 2] if damage == "truncated" else b"x")
    before = _tree(root)
    assert main(["resume", str(root), "--quiet"]) == 2
    errors = [ln for ln in capsys.readouterr().err.splitlines() if ln.startswith("error:")]
    assert len(errors) == 1 and "tuner.pkl is truncated or corrupt" in errors[0], errors
    assert _tree(root) == before


def test_missing_tune_snapshot_stops_resume_and_changes_nothing(study, capsys):
    root, _, _ = study
    next(root.glob("experiment_state-*.json")).unlink()
    before = _tree(root)
    assert main(["resume", str(root), "--quiet"]) == 2
    errors = [ln for ln in capsys.readouterr().err.splitlines() if ln.startswith("error:")]
    assert len(errors) == 1 and "has no Ray Tune experiment state" in errors[0], errors
    assert _tree(root) == before


def test_a_crashed_writers_temporary_files_are_removed_once_checks_pass(study):
    root, spec, exp = study
    stale = root / f"trials.parquet.tmp-{'ab' * 16}"
    stale.write_bytes(b"half a file")
    other = root / "notes.tmp-mine"  # not a name write_bytes makes: kept
    other.write_bytes(b"user's")
    (root / "searcher_state.json").write_bytes(BAD["corrupt"])
    with pytest.raises(SearcherStateError):  # a failed check removes nothing
        prepare_restore(exp, spec)
    assert stale.exists()
    (root / "searcher_state.json").write_bytes(_encode(_state()))
    prepare_restore(exp, spec)
    assert not stale.exists() and other.exists()


class _Searcher:
    ax_client = object()

    def __init__(self):
        self.budget = 0

    def get_state(self):
        self.budget += 1
        return _state(budget=self.budget)


def test_results_writer_keeps_previous_state(tmp_path):
    exp = StorageDir.open(str(tmp_path), "w")
    writer = ResultsWriter(storage=exp, metric="value", mode="min", searcher=_Searcher())
    writer.write(with_searcher=True)
    assert not exp.exists(PREV_SEARCHER_FILE)
    writer.write(with_searcher=True)
    writer.write(with_searcher=True)
    assert json.loads(exp.read_bytes("searcher_state.json") or b"")["budget"] == 3
    assert json.loads(exp.read_bytes(PREV_SEARCHER_FILE) or b"")["budget"] == 2


def _real_spec(tmp_path, trials):
    return StudySpec.from_dict(
        {
            "name": "real",
            "objective": {"metric": "value", "mode": "min"},
            "trainable": {"name": "branin"},
            "space": {
                "x0": {"type": "uniform", "lower": -5.0, "upper": 10.0},
                "x1": {"type": "uniform", "lower": 0.0, "upper": 15.0},
            },
            "budget": {"num_trials": trials, "max_concurrent": 2},
            "searcher": {"num_initial": 2},
            "resources": {"cpus_per_trial": 0.5},
            "storage": str(tmp_path),
            "seed": 0,
        }
    )


def test_restore_that_did_not_happen_stops_the_run(ray_session, tmp_path):
    """A state that passes the pre-check but fails in Tune's restore: no restart."""
    run_study(_real_spec(tmp_path, 3), progress=None)
    root = tmp_path / "real"
    state = json.loads((root / "searcher_state.json").read_text())
    state["ax"] = {"not": "an Ax snapshot"}  # valid JSON, right keys, undecodable
    (root / "searcher_state.json").write_text(json.dumps(state))
    ours = {n: (root / n).read_bytes() for n in ("trials.parquet", "ax_experiment.json")}
    rows = pq.read_table(root / "trials.parquet").to_pylist()
    with pytest.raises(SearcherStateError, match="did not restore|was not restored"):
        resume_study(str(root), progress=None)
    assert {n: (root / n).read_bytes() for n in ours} == ours
    assert pq.read_table(root / "trials.parquet").to_pylist() == rows
    assert json.loads((root / "searcher_state.json").read_text()) == state
