"""Bring Ray Tune's last experiment snapshot in line with ``trials.parquet`` before a resume.

Tune saves its experiment snapshot every few seconds, while ``trials.parquet`` is
written at every trial event. A driver killed between the two leaves a snapshot that
lags: a trial that finished is still RUNNING there, and its latest checkpoint may
already be deleted (``num_to_keep`` removes old checkpoints as soon as a newer one
is registered). Restored as is, Tune would run the finished trial again, and a trial
whose checkpoint is gone would fail on every retry and be lost.

:func:`repair_snapshot` rewrites the snapshot with Tune's own serialisers:

- a trial whose row is terminal (COMPLETED, EARLY_STOPPED or FAILED) is made
  TERMINATED (ERROR for FAILED) with the row's last result, so it is not run again;
- an unfinished trial whose latest checkpoint is gone continues from the newest
  checkpoint still on storage (its iteration counter taken from ``result.json``,
  or counted on from the last checkpoint there at the spec's checkpoint frequency),
  or from scratch when none is left.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass, field
from typing import Any

from distributed_bo.experiment.rows import CONFIG_PREFIX, is_finished
from distributed_bo.experiment.storage import StorageDir
from distributed_bo.types import Row, TrialStatus

_CHECKPOINT = re.compile(r"^checkpoint_(\d+)$")


@dataclass(frozen=True, kw_only=True)
class SnapshotRepair:
    """What :func:`repair_snapshot` changed in Tune's snapshot.

    Attributes:
        finished: Trial ids made TERMINATED or ERROR because their row is terminal.
        moved: Trial id to the checkpoint directory it now continues from.
        from_scratch: Trial ids left with no checkpoint, so they start over.
        unfinished: Trial id to config for every trial Tune will resume (a reading of
            the snapshot, not a change to it).
    """

    finished: tuple[str, ...] = ()
    moved: dict[str, str] = field(default_factory=dict)
    from_scratch: tuple[str, ...] = ()
    unfinished: dict[str, dict[str, Any]] = field(default_factory=dict)

    def __bool__(self) -> bool:
        return bool(self.finished or self.moved or self.from_scratch)


def repair_snapshot(
    exp: StorageDir,
    state_name: str,
    rows: list[Row],
    *,
    metric: str,
    checkpoint_frequency: int,
) -> SnapshotRepair:
    """Rewrite Tune's experiment snapshot ``state_name`` in ``exp`` to match ``rows``.

    Args:
        exp: The experiment directory.
        state_name: The newest ``experiment_state-*.json`` in ``exp``.
        rows: The rows of ``trials.parquet``.
        metric: The objective's name, put into a finished trial's last result.
        checkpoint_frequency: Epochs between checkpoints (the spec's), used only when
            ``result.json`` does not know a checkpoint's iteration.

    Returns:
        What was changed; the file is rewritten (atomically) only if anything was.
    """
    from ray.tune.utils.serialization import _loads_with_cloudpickle

    data = json.loads((exp.read_bytes(state_name) or b"").decode())
    by_id = {r["trial_id"]: r for r in rows}
    finished: list[str] = []
    moved: dict[str, str] = {}
    scratch: list[str] = []
    unfinished: dict[str, dict[str, Any]] = {}
    for entry in data["trial_data"]:
        raw = json.loads(entry[0])
        trial_id, status = raw["trial_id"], raw["status"]
        if status in ("TERMINATED", "ERROR"):
            continue
        row = by_id.get(trial_id)
        meta = None
        if row is not None and is_finished(row):
            meta = _finish(entry[1], row, raw, metric)
            raw["status"] = "ERROR" if row["status"] == TrialStatus.FAILED else "TERMINATED"
            finished.append(trial_id)
        else:
            decoded = _loads_with_cloudpickle(entry[0])
            unfinished[trial_id] = dict(decoded["config"])
            storage = decoded["storage"]
            meta, moved_to = _fix_checkpoint(exp, storage, entry[1], checkpoint_frequency)
            if moved_to == "":
                scratch.append(trial_id)
            elif moved_to is not None:
                moved[trial_id] = moved_to
                raw["storage"] = _number_on_from(storage, moved_to)
        if meta is not None:
            entry[0] = json.dumps(raw, indent=2)
            entry[1] = meta
    repair = SnapshotRepair(
        finished=tuple(finished), moved=moved, from_scratch=tuple(scratch), unfinished=unfinished
    )
    if repair:
        exp.write_bytes(state_name, json.dumps(data).encode())
    return repair


def _number_on_from(storage: Any, checkpoint: str) -> Any:
    """The trial's storage as JSON, with new checkpoints numbered on from ``checkpoint``.

    Otherwise they would take (and ``num_to_keep`` then delete) its name.
    """
    from ray.tune.utils.serialization import TuneFunctionEncoder

    index = int(_CHECKPOINT.match(checkpoint).group(1))  # type: ignore[union-attr]
    storage.current_checkpoint_index = max(storage.current_checkpoint_index, index + 1)
    return json.loads(json.dumps(storage, cls=TuneFunctionEncoder))


def _metadata(meta_json: str) -> Any:
    from ray.tune.trainable.metadata import _TrainingRunMetadata

    return _TrainingRunMetadata.from_json_state(meta_json)


def _finish(meta_json: str, row: Row, raw: dict[str, Any], metric: str) -> str:
    """Run metadata whose last result is the row's (metric, iterations, done); nothing stale."""
    meta = _metadata(meta_json)
    prefix = CONFIG_PREFIX
    last: dict[str, Any] = {
        "trial_id": raw["trial_id"],
        "training_iteration": int(row.get("iterations") or 0),
        "time_total_s": float(row.get("wall_time_s") or 0.0),
        "done": True,
        "config": (meta.last_result or {}).get("config")
        or {k[len(prefix) :]: v for k, v in row.items() if k.startswith(prefix)},
    }
    if row.get("metric") is not None:
        last[metric] = row["metric"]
    meta.last_result = last
    return meta.get_json_state()


def _fix_checkpoint(
    exp: StorageDir, storage: Any, meta_json: str, frequency: int
) -> tuple[str | None, str | None]:
    """Point a trial's latest checkpoint at one that exists.

    Returns:
        ``(new run metadata JSON, checkpoint name)``; ``(json, "")`` when the trial
        must start over, ``(None, None)`` when nothing needed changing.
    """
    from ray.train._internal.session import _TrainingResult
    from ray.tune import Checkpoint

    meta = _metadata(meta_json)
    manager = meta.checkpoint_manager
    latest = manager.latest_checkpoint_result if manager is not None else None
    if latest is None:
        return None, None
    trial_dir = storage.trial_dir_name
    name = latest.checkpoint.path.rstrip("/").rsplit("/", 1)[-1]
    if exp.exists(f"{trial_dir}/{name}"):
        return None, None
    on_disk = sorted(
        (int(m.group(1)), n)
        for n in exp.list(trial_dir)
        if (m := _CHECKPOINT.match(n)) and exp.list(f"{trial_dir}/{n}")
    )
    known = _checkpoint_results(exp, trial_dir)
    chosen = None
    for index, candidate in reversed(on_disk):
        metrics = known.get(candidate) or _counted_on(known, index, frequency)
        if metrics is not None:
            chosen = candidate, metrics
            break
    if chosen is None:
        manager._checkpoint_results = []
        manager._latest_checkpoint_result = None
        meta.checkpoint_manager = manager
        return meta.get_json_state(), ""
    path = f"{latest.checkpoint.path.rstrip('/').rsplit('/', 1)[0]}/{chosen[0]}"
    result = _TrainingResult(
        checkpoint=Checkpoint(path=path, filesystem=latest.checkpoint.filesystem),
        metrics=chosen[1],
    )
    manager._checkpoint_results = [result]
    manager._latest_checkpoint_result = result
    meta.checkpoint_manager = manager
    return meta.get_json_state(), chosen[0]


def _checkpoint_results(exp: StorageDir, trial_dir: str) -> dict[str, dict[str, Any]]:
    """Checkpoint name to the result reported with it, from the trial's ``result.json``."""
    text = (exp.read_bytes(f"{trial_dir}/result.json") or b"").decode(errors="replace")
    out = {}
    for line in text.splitlines():
        try:
            result = json.loads(line)
        except ValueError:
            continue  # a line cut short by the crash
        name = result.get("checkpoint_dir_name") if isinstance(result, dict) else None
        if name:
            out[name] = {
                k: result[k] for k in ("training_iteration", "time_total_s") if k in result
            }
    return out


def _counted_on(
    known: dict[str, dict[str, Any]], index: int, frequency: int
) -> dict[str, Any] | None:
    """Metrics of checkpoint ``index`` counted on from the newest known older one."""
    older = [
        (int(m.group(1)), v)
        for n, v in known.items()
        if (m := _CHECKPOINT.match(n)) and int(m.group(1)) < index
    ]
    if not older or frequency <= 0:
        return None
    base, metrics = max(older, key=lambda kv: kv[0])
    if "training_iteration" not in metrics:
        return None
    return {"training_iteration": metrics["training_iteration"] + (index - base) * frequency}
