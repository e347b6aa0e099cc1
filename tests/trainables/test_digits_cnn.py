from __future__ import annotations

import dataclasses
import math
import numbers
from pathlib import Path

import numpy as np
import pytest
import ray.tune
import torch

from distributed_bo.exceptions import DataError, SpecError
from distributed_bo.models.digits import DigitsCNN
from distributed_bo.trainables import resolve_trainable
from distributed_bo.trainables.checkpointing import (
    STATE_FILE,
    TrainingState,
    load_state,
    save_state,
)
from distributed_bo.trainables.digits import DigitsCNNConfig, fit, train_digits_cnn
from distributed_bo.trainables.loop import Metrics

# Small and fast, with dropout so the torch RNG state matters on restore.
SMALL = DigitsCNNConfig(epochs=4, channels=8, dropout=0.2, batch_size=128, seed=7)


def _states(cfg: DigitsCNNConfig, **kwargs) -> list[TrainingState]:
    states: list[TrainingState] = []
    fit(cfg, report=lambda metrics, state: state is not None and states.append(state), **kwargs)
    return states


def _assert_costs(rows: list[Metrics], model: torch.nn.Module) -> None:
    """Every row carries the model's costs, measured once; training time only grows."""
    num_params = sum(p.numel() for p in model.parameters())
    for row in rows:
        for key in ("num_params", "inference_ms", "train_seconds"):
            value = row[key]
            assert isinstance(value, numbers.Real) and math.isfinite(value) and value > 0, key
        assert isinstance(row["num_params"], numbers.Integral) and row["num_params"] == num_params
        assert row["inference_ms"] == rows[0]["inference_ms"]  # measured once
    seconds = [float(row["train_seconds"]) for row in rows]
    assert seconds == sorted(seconds)


def _assert_same_weights(a: dict[str, torch.Tensor], b: dict[str, torch.Tensor]) -> None:
    assert a.keys() == b.keys()
    for key in a:
        assert torch.equal(a[key].cpu(), b[key].cpu()), key


@pytest.fixture
def torch_threads():
    """Restore the torch thread count that ``train_digits_cnn`` sets."""
    before = torch.get_num_threads()
    yield
    torch.set_num_threads(before)


def test_resolves_builtin_name() -> None:
    assert resolve_trainable("digits_cnn") is train_digits_cnn


def test_config_defaults_and_unknown_keys() -> None:
    cfg = DigitsCNNConfig.from_config({"lr": 3e-3, "batch_size": np.int64(32), "other": "x"})
    assert cfg == DigitsCNNConfig(lr=3e-3, batch_size=32)
    assert isinstance(cfg.batch_size, int)
    assert DigitsCNNConfig.from_config({"epochs": 3.0}).epochs == 3
    default = DigitsCNNConfig()
    assert (default.lr, default.epochs, default.optimizer, default.checkpoint_frequency) == (
        1e-2,
        8,
        "adam",
        1,
    )


@pytest.mark.parametrize(
    ("key", "value"),
    [
        ("lr", 0.0),
        ("lr", "fast"),
        ("weight_decay", -1e-4),
        ("batch_size", 0),
        ("batch_size", 32.5),
        ("epochs", True),
        ("channels", 0),
        ("num_layers", 9),
        ("dropout", 1.0),
        ("optimizer", "rmsprop"),
        ("seed", -1),
        ("val_fraction", 1.0),
        ("checkpoint_frequency", -1),
        ("torch_threads", 0),
    ],
)
def test_bad_config_value_raises_one_line_spec_error(key: str, value: object) -> None:
    with pytest.raises(SpecError, match=f"^digits_cnn.{key}: got ") as info:
        DigitsCNNConfig.from_config({key: value})
    assert "\n" not in str(info.value)


def test_resume_from_checkpoint_is_bit_identical(tmp_path: Path) -> None:
    straight = fit(SMALL)
    (half,) = _states(dataclasses.replace(SMALL, epochs=2, checkpoint_frequency=0))
    assert half["epoch"] == 2
    save_state(half, tmp_path)
    resumed = fit(SMALL, start_state=load_state(tmp_path))

    _assert_same_weights(straight.model.state_dict(), resumed.model.state_dict())
    assert [m["epoch"] for m in resumed.history] == [3, 4]
    assert [m["val_loss"] for m in resumed.history] == [m["val_loss"] for m in straight.history[2:]]
    assert resumed.best == straight.best

    other_seed = fit(dataclasses.replace(SMALL, seed=8, epochs=2))
    assert not torch.equal(other_seed.model.head[1].weight, straight.model.head[1].weight)


@pytest.mark.parametrize("optimizer", ["sgd", "adamw"])
def test_resume_is_exact_for_every_optimizer(optimizer: str) -> None:
    cfg = dataclasses.replace(SMALL, epochs=3, optimizer=optimizer, lr=0.03)
    states = _states(cfg)
    resumed = fit(cfg, start_state=states[0])
    _assert_same_weights(states[-1]["model"], resumed.model.state_dict())


def test_checkpoint_frequency() -> None:
    cfg = dataclasses.replace(SMALL, epochs=5, checkpoint_frequency=2)
    assert [s["epoch"] for s in _states(cfg)] == [2, 4, 5]
    cfg0 = dataclasses.replace(cfg, checkpoint_frequency=0)
    assert [s["epoch"] for s in _states(cfg0)] == [5]


def test_reported_metrics() -> None:
    rows: list[dict] = []
    fit(dataclasses.replace(SMALL, epochs=2), report=lambda m, s: rows.append(m))
    assert [r["epoch"] for r in rows] == [1, 2]
    for row in rows:
        assert 0.0 <= row["val_accuracy"] <= row["best_val_accuracy"] <= 1.0
        assert row["train_loss"] > 0 and row["val_loss"] > 0
        assert row["epoch_seconds"] > 0 and row["images_per_second"] > 0
        assert row["device"] == "cpu"


def test_reports_costs_from_the_first_epoch(one_thread) -> None:
    rows: list[Metrics] = []
    result = fit(dataclasses.replace(SMALL, epochs=3), report=lambda m, s: rows.append(m))
    assert [r["epoch"] for r in rows] == [1, 2, 3] and rows == result.history
    _assert_costs(rows, result.model)
    # Two 3x3 convs of 8 channels (1 -> 8 -> 8) and a linear head on 8 x 2 x 2 features.
    assert rows[0]["num_params"] == (1 * 8 * 9 + 8) + (8 * 8 * 9 + 8) + (8 * 4 * 10 + 10)
    assert rows[0]["inference_ms"] < 100  # 64 images of 8 x 8 on one CPU thread
    # Training time excludes evaluation and the latency measurement.
    assert float(rows[0]["train_seconds"]) < float(rows[0]["epoch_seconds"])
    epochs = [float(r["epoch_seconds"]) for r in rows]
    assert float(rows[-1]["train_seconds"]) < sum(epochs)
    default = DigitsCNN(channels=16, num_layers=2, dropout=0.0)
    assert sum(p.numel() for p in default.parameters()) == 3130  # as documented


def test_resumed_run_continues_training_time_and_measures_again(one_thread) -> None:
    (half,) = _states(dataclasses.replace(SMALL, epochs=2, checkpoint_frequency=0))
    before = float(half["metrics"]["train_seconds"])
    rows: list[Metrics] = []
    resumed = fit(SMALL, start_state=half, report=lambda m, s: rows.append(m))
    assert [r["epoch"] for r in rows] == [3, 4]
    _assert_costs(rows, resumed.model)
    assert float(rows[0]["train_seconds"]) > before
    assert rows[0]["num_params"] == half["metrics"]["num_params"]
    old = {**half, "metrics": {k: v for k, v in half["metrics"].items() if k != "train_seconds"}}
    rows.clear()
    fit(SMALL, start_state=old, report=lambda m, s: rows.append(m))
    assert float(rows[-1]["train_seconds"]) > 0  # a checkpoint from before issue 14


@pytest.mark.parametrize(
    "corrupt",
    [
        lambda p: p.write_bytes(b"not a checkpoint"),
        lambda p: p.write_bytes(p.read_bytes()[:100]),
        lambda p: torch.save({"epoch": 1}, p),
        lambda p: p.unlink(),
    ],
    ids=["garbage", "truncated", "incomplete", "missing"],
)
def test_corrupt_checkpoint_raises_one_line_data_error(tmp_path: Path, corrupt) -> None:
    (state,) = _states(dataclasses.replace(SMALL, epochs=1))
    path = save_state(state, tmp_path)
    corrupt(path)
    with pytest.raises(DataError, match=f"^checkpoint {tmp_path / STATE_FILE}: ") as info:
        load_state(tmp_path)
    assert "\n" not in str(info.value)
    assert "restart the trial" in str(info.value)


def test_checkpoint_of_another_architecture_raises_data_error() -> None:
    (state,) = _states(dataclasses.replace(SMALL, epochs=1))
    with pytest.raises(DataError, match="^checkpoint: does not fit this config") as info:
        fit(dataclasses.replace(SMALL, channels=4), start_state=state)
    assert "\n" not in str(info.value)


def test_wrapper_resumes_from_tune_checkpoint(tmp_path, monkeypatch, torch_threads) -> None:
    (state,) = _states(dataclasses.replace(SMALL, epochs=2, checkpoint_frequency=0))
    save_state(state, tmp_path)
    reported: list[tuple[dict, TrainingState | None]] = []

    def report(metrics: dict, *, checkpoint=None) -> None:
        saved = None
        if checkpoint is not None:
            with checkpoint.as_directory() as directory:
                saved = load_state(Path(directory))
        reported.append((metrics, saved))

    monkeypatch.setattr(ray.tune, "get_checkpoint", lambda: ray.tune.Checkpoint(str(tmp_path)))
    monkeypatch.setattr(ray.tune, "report", report)
    train_digits_cnn({**dataclasses.asdict(SMALL), "epochs": 3, "unrelated": 1})

    assert torch.get_num_threads() == 1
    ((metrics, saved),) = reported
    assert metrics["epoch"] == 3 and isinstance(metrics["node"], str)
    assert saved is not None and saved["epoch"] == 3


def test_wrapper_rejects_corrupt_tune_checkpoint(tmp_path, monkeypatch, torch_threads) -> None:
    (tmp_path / STATE_FILE).write_bytes(b"\x00" * 64)
    monkeypatch.setattr(ray.tune, "get_checkpoint", lambda: ray.tune.Checkpoint(str(tmp_path)))
    monkeypatch.setattr(ray.tune, "report", lambda *a, **k: pytest.fail("reported"))
    with pytest.raises(DataError, match="cannot be read"):
        train_digits_cnn({"epochs": 1})


def test_tuner_runs_digits_cnn(ray_session, tmp_path: Path, torch_threads) -> None:
    from ray import tune

    config = {"epochs": 2, "channels": 8, "batch_size": 128, "seed": 1}
    tuner = tune.Tuner(
        tune.with_resources(train_digits_cnn, {"cpu": 1}),
        param_space={**config, "lr": 1e-2},
        tune_config=tune.TuneConfig(metric="val_accuracy", mode="max"),
        run_config=tune.RunConfig(storage_path=str(tmp_path), name="digits", verbose=0),
    )
    results = tuner.fit()
    assert results.num_errors == 0 and len(results) == 1
    for result in results:
        metrics = result.metrics
        assert metrics["epoch"] == 2 and metrics["training_iteration"] == 2
        history = result.metrics_dataframe.to_dict("records")
        assert [row["epoch"] for row in history] == [1, 2]
        assert 0.3 < metrics["val_accuracy"] <= 1.0  # chance is 0.1
        assert metrics["device"] == "cpu"
        assert metrics["node"] == metrics["node_ip"]  # what Tune itself records
        assert len(result.best_checkpoints) == 2
        with result.checkpoint.as_directory() as directory:
            saved = load_state(Path(directory))
        assert saved["epoch"] == 2
        # The worker trains with one torch thread; so does this reference run.
        torch.set_num_threads(1)
        reference = fit(DigitsCNNConfig.from_config(result.config))
        _assert_same_weights(saved["model"], reference.model.state_dict())
        _assert_costs(history, reference.model)


def test_messages_name_the_field_the_value_and_the_fix() -> None:
    with pytest.raises(SpecError) as info:
        DigitsCNNConfig.from_config({"optimizer": "adm"})
    assert str(info.value) == (
        "digits_cnn.optimizer: got 'adm'; pass one of 'sgd', 'sgd_decoupled', 'adam' or 'adamw' "
        "(did you mean 'adam'?)"
    )
    with pytest.raises(SpecError) as info:
        DigitsCNNConfig.from_config({"lr": "fast"})
    assert str(info.value) == "digits_cnn.lr: got 'fast' (str); pass a finite float"
    with pytest.raises(SpecError, match=r"^digits_cnn.torch_threads: got 0; pass an int >= 1$"):
        DigitsCNNConfig.from_config({"torch_threads": 0})


def test_shared_loop_keys_default_to_the_old_behaviour() -> None:
    cfg = DigitsCNNConfig()
    assert (cfg.momentum, cfg.nesterov, cfg.device) == (0.9, True, "auto")
    assert DigitsCNNConfig.from_config({"nesterov": np.bool_(False)}).nesterov is False
    with pytest.raises(SpecError, match="^digits_cnn.device: got 'tpu'; pass one of 'auto'"):
        DigitsCNNConfig.from_config({"device": "tpu"})
    with pytest.raises(SpecError, match="^digits_cnn.nesterov: got True; pass false when"):
        DigitsCNNConfig.from_config({"optimizer": "sgd", "momentum": 0.0})
