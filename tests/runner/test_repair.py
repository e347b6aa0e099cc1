"""A resume after Tune's snapshot lagged ``trials.parquet`` (the chaos benchmark's loss).

The state is the one a driver SIGKILL left in ``benchmarks/results/chaos.md``: the
trial's row is COMPLETED, but Tune's last snapshot still has it RUNNING from a
checkpoint that ``num_to_keep`` has since deleted. It is built from a real finished
study by rewinding that one trial in the snapshot with Tune's own serialisers.
"""

import json
import shutil
from pathlib import Path

import pyarrow.parquet as pq
import pytest

from distributed_bo.experiment.storage import StorageDir
from distributed_bo.runner.repair import repair_snapshot
from distributed_bo.runner.study import resume_study, run_study
from distributed_bo.spec import StudySpec

HERE = Path(__file__).parent
STEPS = 4


@pytest.fixture(autouse=True)
def _importable(monkeypatch):
    monkeypatch.syspath_prepend(str(HERE))


def _spec(tmp_path: Path) -> tuple[Path, StudySpec]:
    markers = tmp_path / "markers"
    markers.mkdir()
    return markers, StudySpec.from_dict(
        {
            "name": "lag",
            "objective": {"metric": "value", "mode": "min"},
            "trainable": {
                "name": "counting_trainables:counter",
                "config": {"marker_dir": str(markers), "steps": STEPS, "step_s": 0.05},
            },
            "space": {
                "x0": {"type": "uniform", "lower": 0.0, "upper": 1.0},
                "x1": {"type": "uniform", "lower": 0.0, "upper": 1.0},
            },
            "budget": {"num_trials": 3, "max_concurrent": 3},
            "searcher": {"num_initial": 3},
            "resources": {"cpus_per_trial": 0.5},
            "checkpoint": {"frequency": 1, "num_to_keep": 2},
            "retries": 2,
            "storage": str(tmp_path / "exp"),
            "seed": 0,
        }
    )


@pytest.fixture(scope="module")
def finished(ray_session, tmp_path_factory):
    """A finished 3-trial study, checkpoints every step, the last two kept."""
    import sys

    sys.path.insert(0, str(HERE))
    root = tmp_path_factory.mktemp("lag")
    markers, spec = _spec(root)
    run_study(spec, progress=None)
    return root, markers, spec


def _snapshot(exp: Path) -> Path:
    return sorted(exp.glob("experiment_state-*.json"))[-1]


def _rewind(exp: Path, trial_id: str, checkpoint: str) -> None:
    """Make Tune's snapshot say ``trial_id`` is RUNNING from ``checkpoint``."""
    from ray.train._internal.session import _TrainingResult
    from ray.tune import Checkpoint
    from ray.tune.trainable.metadata import _TrainingRunMetadata
    from ray.tune.utils.serialization import TuneFunctionEncoder, _loads_with_cloudpickle

    path = _snapshot(exp)
    data = json.loads(path.read_text())
    for entry in data["trial_data"]:
        raw = json.loads(entry[0])
        if raw["trial_id"] != trial_id:
            continue
        raw["status"] = "RUNNING"
        storage = _loads_with_cloudpickle(entry[0])["storage"]
        storage.current_checkpoint_index = int(checkpoint[-6:]) + 1  # as it was then
        raw["storage"] = json.loads(json.dumps(storage, cls=TuneFunctionEncoder))
        meta = _TrainingRunMetadata.from_json_state(entry[1])
        latest = meta.checkpoint_manager.latest_checkpoint_result.checkpoint
        old = f"{latest.path.rsplit('/', 1)[0]}/{checkpoint}"
        result = _TrainingResult(
            checkpoint=Checkpoint(path=old, filesystem=latest.filesystem),
            metrics={"training_iteration": int(checkpoint[-6:]) + 1},
        )
        meta.checkpoint_manager._checkpoint_results = [result]
        meta.checkpoint_manager._latest_checkpoint_result = result
        meta.last_result = {**meta.last_result, "done": False, "training_iteration": 1}
        entry[0], entry[1] = json.dumps(raw), meta.get_json_state()
    path.write_text(json.dumps(data))


def _trial_dir(exp: Path, trial_id: str) -> Path:
    return next(p for p in exp.iterdir() if p.is_dir() and f"_{trial_id}_" in p.name)


def _restored(exp: Path, trial_id: str):
    from ray.tune.experiment import Trial

    for raw_json, meta_json in json.loads(_snapshot(exp).read_text())["trial_data"]:
        trial = Trial.from_json_state(raw_json, stub=True)
        if trial.trial_id == trial_id:
            trial.restore_run_metadata(meta_json)
            return trial
    raise AssertionError(trial_id)


def test_finished_trial_is_not_run_again_after_a_lagging_snapshot(finished, tmp_path):
    root, markers, spec = finished
    exp = tmp_path / "lag"
    shutil.copytree(root / "exp" / "lag", exp)
    rows = pq.read_table(exp / "trials.parquet").to_pylist()
    victim = rows[0]["trial_id"]
    # On disk: checkpoint_000002 and _000003; the snapshot points at the deleted _000001.
    assert not (_trial_dir(exp, victim) / "checkpoint_000001").exists()
    _rewind(exp, victim, "checkpoint_000001")
    starts = sorted(p.name for p in markers.glob(f"{victim}.start*"))

    result = resume_study(str(exp), progress=None)

    assert sorted(p.name for p in markers.glob(f"{victim}.start*")) == starts  # not re-run
    after = pq.read_table(exp / "trials.parquet").to_pylist()
    assert [(r["trial_id"], r["status"], r["metric"]) for r in after] == [
        (r["trial_id"], r["status"], r["metric"]) for r in rows
    ]
    assert len(result.rows) == 3
    trial = _restored(exp, victim)  # Tune agrees: finished, with the row's result
    assert trial.status == "TERMINATED"
    # Tune's restore copied every *.json into its staging dir, which it uploads at
    # every snapshot; our files must not be among them (stale copies would win).
    staging = Path(trial.storage.experiment_driver_staging_path)
    assert any(staging.glob("experiment_state-*.json"))
    assert not (staging / "searcher_state.json").exists()
    assert not (staging / "ax_experiment.json").exists()
    assert trial.last_result["value"] == pytest.approx(rows[0]["metric"])
    assert trial.last_result["training_iteration"] == STEPS


def test_unfinished_trial_moves_to_the_newest_checkpoint_on_storage(finished, tmp_path):
    root, _, spec = finished
    exp_path = tmp_path / "lag"
    shutil.copytree(root / "exp" / "lag", exp_path)
    rows = pq.read_table(exp_path / "trials.parquet").to_pylist()
    moving, scratch = rows[1]["trial_id"], rows[2]["trial_id"]
    _rewind(exp_path, moving, "checkpoint_000001")
    _rewind(exp_path, scratch, "checkpoint_000001")
    for ckpt in _trial_dir(exp_path, scratch).glob("checkpoint_*"):
        shutil.rmtree(ckpt)
    # As if the driver died before these trials' rows were finished.
    running = [
        dict(r, status="RUNNING") if r["trial_id"] != rows[0]["trial_id"] else r for r in rows
    ]
    exp = StorageDir.open(str(exp_path))

    repair = repair_snapshot(
        exp, _snapshot(exp_path).name, running, metric="value", checkpoint_frequency=1
    )

    assert repair.moved == {moving: "checkpoint_000003"}
    assert repair.from_scratch == (scratch,)
    assert repair.finished == ()
    assert set(repair.unfinished) == {moving, scratch}  # the trials Tune will resume
    assert repair.unfinished[moving]["x0"] == rows[1]["config/x0"]
    moved = _restored(exp_path, moving).run_metadata.checkpoint_manager.latest_checkpoint_result
    assert Path(moved.checkpoint.path).name == "checkpoint_000003"
    assert Path(moved.checkpoint.path).exists()
    # Its next checkpoint is numbered after the one it continues from.
    assert _restored(exp_path, moving).storage.current_checkpoint_index == 4
    # result.json recorded the iteration that checkpoint was reported with.
    assert moved.metrics["training_iteration"] == STEPS
    assert (
        _restored(exp_path, scratch).run_metadata.checkpoint_manager.latest_checkpoint_result
        is None
    )
    # A second pass finds nothing left to repair and leaves the file alone.
    again = repair_snapshot(
        exp, _snapshot(exp_path).name, running, metric="value", checkpoint_frequency=1
    )
    assert not again


def test_a_config_rebuilt_from_a_conditional_row_is_one_branch_for_the_searcher():
    # A snapshot config holding a pickle blob is rebuilt from the row, whose columns
    # of the branches not taken are null; the restored searcher binds it by to_ax.
    from distributed_bo.runner.repair import _config
    from distributed_bo.search.space import map_space
    from distributed_bo.testing.conditional import issue_space

    row = {
        "trial_id": "t0", "branch/arch": 0, "branch/act": 0,
        "config/arch/depth": 2, "config/arch/width_1": 64, "config/arch/width_2": 32,
        "config/arch/width_3": None, "config/act/name": "relu", "config/act/beta": None,
        "config/lr": 0.01,
    }  # fmt: skip
    raw = {"config": {"lr": {"_type": "CLOUDPICKLE_FALLBACK", "value": "00"}}}
    config = _config(raw, row)
    assert config["arch/width_3"] is None  # as the row holds it
    space = map_space(issue_space())
    ax = space.to_ax(config)
    assert space.branches(ax) == {"arch": 0, "act": 0}
    assert ax["arch__b0__width_1"] == 64 and space.to_config(ax)["arch"] == {
        "depth": 2, "width_1": 64, "width_2": 32,
    }  # fmt: skip
