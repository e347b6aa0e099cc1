"""Bring Ray Tune's last experiment snapshot in line with ``trials.parquet`` before a resume.

Tune saves its experiment snapshot every few seconds, while ``trials.parquet`` is
written at every trial event. A driver killed between the two leaves a snapshot that
lags: a trial that finished is still RUNNING there, and its latest checkpoint may
already be deleted (``num_to_keep`` removes old checkpoints as soon as a newer one
is registered). Restored as is, Tune would run the finished trial again, and a trial
whose checkpoint is gone would fail on every retry and be lost.

:func:`repair_snapshot` rewrites the snapshot:

- a trial whose row is terminal (COMPLETED, EARLY_STOPPED or FAILED) is made
  TERMINATED (ERROR for FAILED) with the row's last result, so it is not run again;
- an unfinished trial whose latest checkpoint is gone continues from the newest
  checkpoint still on storage (its iteration counter taken from ``result.json``,
  or counted on from the last checkpoint there at the spec's checkpoint frequency),
  or from scratch when none is left.

Nothing in the snapshot is unpickled. Tune stores some fields as cloudpickled hex
blobs (``{"_type": "CLOUDPICKLE_FALLBACK", "value": ...}`` and the trial's
``_nonjson_fields``); only the plain JSON fields are read as data, and the blobs are
kept byte for byte, except two, for a trial that moves to another checkpoint: its
checkpoint manager is replaced by a new one built here (pickled, never unpickled),
and the one integer ``current_checkpoint_index`` in its storage blob is rewritten in
place. What is read from a blob (checkpoint paths, ``num_to_keep``, that integer) is
read with :func:`pickletools.genops`, which lists the opcodes and runs none of them.
"""

from __future__ import annotations

import json
import pickletools
import re
import struct
from dataclasses import dataclass, field
from typing import Any

from distributed_bo.experiment.rows import CONFIG_PREFIX, is_finished, metric_values
from distributed_bo.experiment.storage import StorageDir
from distributed_bo.types import Row, TrialStatus

_CHECKPOINT = re.compile(r"^checkpoint_(\d+)$")
_BLOB = "CLOUDPICKLE_FALLBACK"
_STRINGS = {"SHORT_BINUNICODE", "BINUNICODE", "BINUNICODE8", "UNICODE"}
_INTS = {"BININT1", "BININT2", "BININT", "INT", "LONG1", "LONG"}
_SKIP = {"MEMOIZE", "PUT", "BINPUT", "LONG_BINPUT"}


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
        meta = json.loads(entry[1])
        if row is not None and is_finished(row):
            _finish(meta, row, raw, metric)
            raw["status"] = "ERROR" if row["status"] == TrialStatus.FAILED else "TERMINATED"
            finished.append(trial_id)
        else:
            unfinished[trial_id] = _config(raw, row)
            moved_to = _fix_checkpoint(exp, raw, meta, checkpoint_frequency)
            if moved_to is None:
                continue
            if moved_to == "":
                scratch.append(trial_id)
            else:
                moved[trial_id] = moved_to
                raw["storage"] = _number_on_from(raw["storage"], moved_to)
        entry[0] = json.dumps(raw, indent=2)
        entry[1] = json.dumps(meta, indent=2)
    repair = SnapshotRepair(
        finished=tuple(finished), moved=moved, from_scratch=tuple(scratch), unfinished=unfinished
    )
    if repair:
        exp.write_bytes(state_name, json.dumps(data).encode())
    return repair


def _config(raw: dict[str, Any], row: Row | None) -> dict[str, Any]:
    """The trial's config from the snapshot's plain JSON (the row's if it holds a blob)."""
    config = raw.get("config")
    if isinstance(config, dict) and not _has_blob(config):
        return dict(config)
    prefix = CONFIG_PREFIX
    return {k[len(prefix) :]: v for k, v in (row or {}).items() if k.startswith(prefix)}


def _has_blob(value: Any) -> bool:
    if isinstance(value, dict):
        return value.get("_type") == _BLOB or any(_has_blob(v) for v in value.values())
    if isinstance(value, list):
        return any(_has_blob(v) for v in value)
    return False


def _finish(meta: dict[str, Any], row: Row, raw: dict[str, Any], metric: str) -> None:
    """Make the run metadata's last result the row's (metric, iterations, done)."""
    prefix = CONFIG_PREFIX
    previous = meta.get("last_result")
    config = previous.get("config") if isinstance(previous, dict) else None
    last: dict[str, Any] = {
        "trial_id": raw["trial_id"],
        "training_iteration": int(row.get("iterations") or 0),
        "time_total_s": float(row.get("wall_time_s") or 0.0),
        "done": True,
        "config": config
        if isinstance(config, dict) and config
        else {k[len(prefix) :]: v for k, v in row.items() if k.startswith(prefix)},
    }
    if row.get("metric") is not None:
        last[metric] = row["metric"]
    last.update(metric_values(row))  # several objectives, constrained metrics
    meta["last_result"] = last


def _fix_checkpoint(
    exp: StorageDir, raw: dict[str, Any], meta: dict[str, Any], frequency: int
) -> str | None:
    """Point a trial's latest checkpoint at one that exists (``meta`` is edited).

    Returns:
        The checkpoint name it continues from, ``""`` when it must start over, or
        ``None`` when nothing needed changing.
    """
    trial_dir = raw.get("relative_logdir")
    if not isinstance(trial_dir, str) or not trial_dir:
        return None
    manager = _blob_bytes(meta.get("checkpoint_manager"))
    # Checkpoint indices only grow, so the latest is the highest the manager names.
    named = [
        int(m.group(1))
        for s in _strings(manager)
        if (head := s.rstrip("/").rsplit("/", 2))[-2:-1] == [trial_dir]
        and (m := _CHECKPOINT.match(head[-1]))
    ]
    if not named:
        return None
    if exp.exists(f"{trial_dir}/checkpoint_{max(named):06d}"):
        return None
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
    keep = _int_after(manager, "num_to_keep")
    if chosen is None:
        meta["checkpoint_manager"] = _new_manager(exp, keep, None)
        return ""
    path = f"{exp.path.rstrip('/')}/{trial_dir}/{chosen[0]}"
    meta["checkpoint_manager"] = _new_manager(exp, keep, (path, chosen[1]))
    return chosen[0]


def _new_manager(
    exp: StorageDir, num_to_keep: int | None, latest: tuple[str, dict[str, Any]] | None
) -> Any:
    """A fresh checkpoint manager (as Tune's JSON blob) holding only ``latest``.

    Built from nothing read out of the old blob but ``num_to_keep``; distributed-bo's
    Tuner sets no other field of ``CheckpointConfig``.
    """
    from ray.train._internal.checkpoint_manager import _CheckpointManager
    from ray.train._internal.session import _TrainingResult
    from ray.tune import Checkpoint, CheckpointConfig
    from ray.tune.utils.serialization import TuneFunctionEncoder

    manager = _CheckpointManager(CheckpointConfig(num_to_keep=num_to_keep))
    if latest is not None:
        result = _TrainingResult(
            checkpoint=Checkpoint(path=latest[0], filesystem=exp.fs), metrics=latest[1]
        )
        manager._checkpoint_results = [result]
        manager._latest_checkpoint_result = result
    return json.loads(json.dumps(manager, cls=TuneFunctionEncoder))


def _number_on_from(storage: Any, checkpoint: str) -> Any:
    """The trial's storage blob, with new checkpoints numbered on from ``checkpoint``.

    Otherwise they would take (and ``num_to_keep`` then delete) its name. Only the
    integer after ``current_checkpoint_index`` changes; the rest stays byte for byte.
    """
    index = int(_CHECKPOINT.match(checkpoint).group(1)) + 1  # type: ignore[union-attr]
    data = _blob_bytes(storage)
    current = _int_after(data, "current_checkpoint_index")
    if data is None or current is None or current >= index:
        return storage
    return {"_type": _BLOB, "value": _set_int_after(data, "current_checkpoint_index", index).hex()}


def _blob_bytes(value: Any) -> bytes | None:
    """The pickle bytes of one of Tune's JSON blobs, or None if ``value`` is not one."""
    if not isinstance(value, dict) or value.get("_type") != _BLOB:
        return None
    try:
        return bytes.fromhex(str(value.get("value")))
    except ValueError:
        return None


def _ops(data: bytes | None) -> list[tuple[Any, Any, int | None]]:
    """The opcodes of a pickle, listed and never run ([] if it does not parse)."""
    if data is None:
        return []
    try:
        return list(pickletools.genops(data))
    except (ValueError, struct.error, UnicodeDecodeError):
        return []


def is_whole_pickle(data: bytes | None) -> bool:
    """Whether ``data`` is one complete pickle (ends in STOP), checked without running it."""
    ops = _ops(data)
    return bool(ops) and ops[-1][0].name == "STOP"


def _strings(data: bytes | None) -> list[str]:
    return [arg for op, arg, _ in _ops(data) if op.name in _STRINGS and isinstance(arg, str)]


def _int_at(data: bytes | None, key: str) -> tuple[int, int, int] | None:
    """``(value, start, end)`` of the integer opcode that follows the string ``key``."""
    ops = _ops(data)
    for i, (op, arg, _) in enumerate(ops):
        if op.name not in _STRINGS or arg != key:
            continue
        j = i + 1
        while j < len(ops) and ops[j][0].name in _SKIP:
            j += 1
        if j + 1 < len(ops) and ops[j][0].name in _INTS and isinstance(ops[j][1], int):
            return ops[j][1], int(ops[j][2] or 0), int(ops[j + 1][2] or 0)
        return None
    return None


def _int_after(data: bytes | None, key: str) -> int | None:
    found = _int_at(data, key)
    return found[0] if found is not None else None


def _set_int_after(data: bytes, key: str, value: int) -> bytes:
    """``data`` with the integer after ``key`` set to ``value`` (frame length fixed)."""
    found = _int_at(data, key)
    if found is None:
        raise ValueError(f"{key} not found")
    _, start, end = found
    new = b"J" + struct.pack("<i", value)  # BININT
    frames = [int(pos or 0) for op, _, pos in _ops(data) if op.name == "FRAME"]
    out = bytearray(data[:start] + new + data[end:])
    frame = max((p for p in frames if p < start), default=None)
    if frame is not None:
        (length,) = struct.unpack("<Q", data[frame + 1 : frame + 9])
        out[frame + 1 : frame + 9] = struct.pack("<Q", length + len(new) - (end - start))
    if _int_after(bytes(out), key) != value:
        raise ValueError(f"{key} could not be rewritten")
    return bytes(out)


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
