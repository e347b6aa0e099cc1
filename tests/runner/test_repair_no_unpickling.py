"""``repair_snapshot`` never unpickles Tune's blobs: a crafted snapshot runs no code.

Every blob in the snapshot below runs ``touch MARKER`` when unpickled. The repair
must still mark the finished trial finished and move the unfinished one to the
newest checkpoint on storage, leave every blob it does not have to change byte for
byte, and never create the marker.
"""

from __future__ import annotations

import json
import os
import pickle
import pickletools
from pathlib import Path

from distributed_bo.experiment.storage import StorageDir
from distributed_bo.runner.repair import repair_snapshot

STATE = "experiment_state-2026-01-01_00-00-00.json"
BLOB = "CLOUDPICKLE_FALLBACK"


class _Evil:
    def __init__(self, command: str) -> None:
        self.command = command

    def __reduce__(self):
        return os.system, (self.command,)


def _blob(obj: object) -> dict[str, str]:
    return {"_type": BLOB, "value": pickle.dumps(obj, protocol=5).hex()}


def _trial(trial_id: str, trial_dir: str, storage: dict, marker: Path) -> dict:
    evil = pickle.dumps(_Evil(f"touch {marker}"), protocol=5).hex()
    return {
        "trial_id": trial_id,
        "trainable_name": "counter",
        "status": "RUNNING",
        "relative_logdir": trial_dir,
        "config": {"x0": 0.25},
        "storage": storage,
        "results": evil,  # Tune's _nonjson_fields: hex pickles without the marker
        "placement_group_factory": evil,
    }


def _meta(manager_command: str, marker: Path) -> dict:
    return {
        "last_result": {"training_iteration": 1, "config": {"x0": 0.25}},
        "metric_n_steps": {"value": {"5": _blob(_Evil(f"touch {marker}"))}},
        "checkpoint_manager": _blob(_Evil(manager_command)),
    }


def _storage(marker: Path, index: int) -> dict:
    return _blob({"current_checkpoint_index": index, "syncer": _Evil(f"touch {marker}")})


def test_a_crafted_snapshot_is_repaired_without_running_its_blobs(tmp_path):
    marker = tmp_path / "ran"
    exp_path = tmp_path / "exp"
    done_dir, moving_dir = "counter_done_1", "counter_moving_2"
    for name in ("checkpoint_000002", "checkpoint_000003"):
        (exp_path / moving_dir / name).mkdir(parents=True)
        (exp_path / moving_dir / name / "state.json").write_text("{}")
    (exp_path / done_dir).mkdir()
    results = [
        {"training_iteration": i + 1, "checkpoint_dir_name": f"checkpoint_{i:06d}"}
        for i in range(4)
    ]
    (exp_path / moving_dir / "result.json").write_text(
        "\n".join(json.dumps(r) for r in results) + "\n"
    )
    # The manager's blob names its (deleted) latest checkpoint inside the command.
    gone = f"{exp_path}/{moving_dir}/checkpoint_000001"
    done = _trial("done", done_dir, _storage(marker, 1), marker)
    moving = _trial("moving", moving_dir, _storage(marker, 2), marker)
    trial_data = [
        [json.dumps(done), json.dumps(_meta(f"touch {marker} #{gone}", marker))],
        [json.dumps(moving), json.dumps(_meta(f"touch {marker} #{gone}", marker))],
    ]
    (exp_path / STATE).write_text(json.dumps({"trial_data": trial_data, "runner_data": {}}))
    rows = [
        {"trial_id": "done", "status": "COMPLETED", "metric": 0.5, "iterations": 4},
        {"trial_id": "moving", "status": "RUNNING", "metric": None, "iterations": 1},
    ]

    repair = repair_snapshot(
        StorageDir.open(str(exp_path)), STATE, rows, metric="value", checkpoint_frequency=1
    )

    assert not marker.exists(), "repair_snapshot unpickled a blob from the snapshot"
    assert repair.finished == ("done",)
    assert repair.moved == {"moving": "checkpoint_000003"}
    assert repair.unfinished == {"moving": {"x0": 0.25}}
    (new_done, new_done_meta), (new_moving, new_moving_meta) = json.loads(
        (exp_path / STATE).read_text()
    )["trial_data"]
    trial, meta = json.loads(new_done), json.loads(new_done_meta)
    assert trial["status"] == "TERMINATED"
    assert meta["last_result"]["value"] == 0.5
    assert meta["last_result"]["done"] is True
    # Every blob of the finished trial is kept byte for byte.
    assert {k: v for k, v in trial.items() if k != "status"} == {
        k: v for k, v in done.items() if k != "status"
    }
    old_meta = json.loads(trial_data[0][1])
    assert meta["checkpoint_manager"] == old_meta["checkpoint_manager"]
    assert meta["metric_n_steps"] == old_meta["metric_n_steps"]
    # The moving trial: only its manager (rebuilt) and its checkpoint index change.
    trial, meta = json.loads(new_moving), json.loads(new_moving_meta)
    for key in ("results", "placement_group_factory", "config", "status"):
        assert trial[key] == moving[key]
    assert meta["metric_n_steps"] == json.loads(trial_data[1][1])["metric_n_steps"]
    assert _int_after(trial["storage"], "current_checkpoint_index") == 4
    assert meta["checkpoint_manager"] != json.loads(trial_data[1][1])["checkpoint_manager"]
    assert f"{exp_path}/{moving_dir}/checkpoint_000003" in _strings(meta["checkpoint_manager"])
    assert not marker.exists()


def _ops(blob: dict) -> list:
    assert blob["_type"] == BLOB
    return list(pickletools.genops(bytes.fromhex(blob["value"])))


def _strings(blob: dict) -> list[str]:
    return [arg for _, arg, _ in _ops(blob) if isinstance(arg, str)]


def _int_after(blob: dict, key: str) -> int:
    ops = _ops(blob)
    i = next(i for i, (_, arg, _) in enumerate(ops) if arg == key)
    return next(arg for op, arg, _ in ops[i + 1 :] if "INT" in op.name)
