"""Checkpoints written before issue 11 (one training stack) still load and resume.

``fixtures/<name>_v1/state.pt`` was written by the code at commit 295c64d (the
``commit`` in ``<name>_v1.json``): the state after epoch 1 of a 2-epoch run. The
JSON holds that run's epoch-2 metrics and the sums of its final weights, so resuming
with today's code must reproduce what the old code trained straight through.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
import ray.tune
import torch

from distributed_bo.trainables import resolve_trainable
from distributed_bo.trainables.checkpointing import FORMAT_VERSION, load_state

FIXTURES = Path(__file__).parent / "fixtures"
# Every key digits_cnn reported per epoch before issue 11 (it may report more now).
DIGITS_CNN_KEYS = {
    "epoch",
    "train_loss",
    "val_loss",
    "val_accuracy",
    "best_val_accuracy",
    "epoch_seconds",
    "images_per_second",
    "device",
    "node",
}


def _fixture(name: str) -> tuple[dict[str, Any], Path]:
    return json.loads((FIXTURES / f"{name}_v1.json").read_text()), FIXTURES / f"{name}_v1"


def _fit(name: str, config: dict[str, Any]) -> tuple[Any, Any]:
    """The trainable's ``fit`` and its config built from ``config``."""
    if name == "digits_cnn":
        from distributed_bo.trainables.digits import DigitsCNNConfig, fit

        return fit, DigitsCNNConfig.from_config(config)
    from distributed_bo.trainables.configs import VisionConfig
    from distributed_bo.trainables.vision import fit as vision_fit

    return vision_fit, VisionConfig.from_config(config)


def _weight_sums(model: dict[str, torch.Tensor]) -> dict[str, float]:
    return {key: float(value.double().sum()) for key, value in model.items()}


@pytest.mark.parametrize("name", ["digits_cnn", "vision_cnn"])
def test_old_checkpoint_resumes_where_the_old_code_would_have(name: str, one_thread) -> None:
    meta, directory = _fixture(name)
    state = load_state(directory)
    assert state["format_version"] == FORMAT_VERSION and state["epoch"] == 1
    assert ("scheduler" in state) == (name == "vision_cnn")

    fit, cfg = _fit(name, meta["config"])
    rows: list[dict[str, Any]] = []
    result = fit(cfg, start_state=state, report=lambda metrics, _: rows.append(metrics))

    assert [row["epoch"] for row in rows] == [2]
    for key, value in meta["epoch_2"].items():
        assert rows[0][key] == pytest.approx(value, rel=1e-4, abs=1e-6), key
    sums = _weight_sums(result.model.state_dict())
    assert sums.keys() == meta["weight_sums"].keys()
    for key, value in meta["weight_sums"].items():
        assert sums[key] == pytest.approx(value, rel=1e-4, abs=1e-5), key


def test_tune_wrapper_resumes_an_old_digits_checkpoint(monkeypatch, one_thread) -> None:
    meta, directory = _fixture("digits_cnn")
    reported: list[tuple[dict[str, Any], bool]] = []

    def report(metrics: dict[str, Any], *, checkpoint: Any = None) -> None:
        reported.append((metrics, checkpoint is not None))

    monkeypatch.setattr(ray.tune, "get_checkpoint", lambda: ray.tune.Checkpoint(str(directory)))
    monkeypatch.setattr(ray.tune, "report", report)
    resolve_trainable("digits_cnn")({**meta["config"], "unrelated": "x"})

    ((metrics, with_checkpoint),) = reported
    assert metrics.keys() >= DIGITS_CNN_KEYS
    assert metrics["epoch"] == 2 and with_checkpoint
    assert metrics["val_loss"] == pytest.approx(meta["epoch_2"]["val_loss"], rel=1e-4)
