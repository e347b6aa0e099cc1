from __future__ import annotations

import dataclasses
import gc
import math
import weakref
from pathlib import Path

import pytest
import ray
import ray.tune
import torch

from distributed_bo.data.arrays import VisionArrays
from distributed_bo.exceptions import ClusterError, DataError, SpecError
from distributed_bo.trainables import compiled, placement, resolve_trainable
from distributed_bo.trainables.checkpointing import TrainingState, load_state, save_state
from distributed_bo.trainables.configs import VisionConfig
from distributed_bo.trainables.loop import release_memory
from distributed_bo.trainables.vision import fit, train_vision_cnn

CPU = torch.device("cpu")
# Tiny, with dropout, augmentation and a schedule, so every RNG and the scheduler matter.
SMALL = {
    "dataset": "cifar10",
    "model": "convnet",
    "num_layers": 2,
    "width_1": 8,
    "width_2": 8,
    "width_3": 999,  # beyond num_layers: ignored
    "epochs": 4,
    "batch_size": 32,
    "val_fraction": 0.25,
    "dropout": 0.2,
    "crop_padding": 2,
    "flip": True,
    "label_smoothing": 0.1,
    "lr": 0.05,
    "lr_schedule": "cosine",
    "warmup_epochs": 1.0,
    "seed": 5,
}


@pytest.fixture
def cifar(cifar_dir) -> VisionArrays:
    """The fake CIFAR-10, loaded as the runner's study_setup would."""
    return train_vision_cnn.study_setup({"dataset": "cifar10", "data_dir": str(cifar_dir)})["data"]


def _cfg(**overrides) -> VisionConfig:
    return VisionConfig.from_config({**SMALL, **overrides})


def _states(cfg: VisionConfig, data: VisionArrays, **kwargs) -> list[TrainingState]:
    states: list[TrainingState] = []
    fit(cfg, data=data, device=CPU, report=lambda m, s: s and states.append(s), **kwargs)
    return states


def _same_tensors(a: dict, b: dict) -> None:
    assert a.keys() == b.keys()
    for key in a:
        assert torch.equal(a[key], b[key]), key


def test_builtin_name_and_widths_for_the_layers_that_exist() -> None:
    assert resolve_trainable("vision_cnn") is train_vision_cnn
    assert _cfg().widths == (8, 8)
    assert _cfg(num_layers=3).widths == (8, 8, 999)
    assert VisionConfig.from_config({"num_layers": 3}).widths == (32, 64, 128)
    assert VisionConfig.from_config({"model": "lenet", "width_1": 6}).widths == (6, 20)


@pytest.mark.parametrize(
    ("key", "value"),
    [
        ("lr", 0.0),
        ("optimizer", "rmsprop"),
        ("lr_schedule", "step"),
        ("model", "resnet50"),
        ("num_layers", 9),
        ("width_2", 0),
        ("width_1", 8.5),
        ("dropout", 1.0),
        ("label_smoothing", -0.1),
        ("device", "tpu"),
        ("amp", "yes"),
        ("warmup_epochs", 5.0),
        ("dataset", "imagenet"),
    ],
)
def test_bad_values_raise_one_line_spec_errors(key, value) -> None:
    with pytest.raises(SpecError, match=f"^vision_cnn.{key}: got ") as info:
        _cfg(**{key: value})
    assert "\n" not in str(info.value)


@pytest.mark.parametrize(
    "overrides",
    [
        {},
        {"model": "lenet", "optimizer": "adamw", "lr": 3e-3, "lr_schedule": "onecycle"},
        {"model": "fast", "width_1": 8, "width_2": 8, "width_3": 8, "lr_schedule": "linear"},
    ],
    ids=["convnet-sgd-cosine", "lenet-adamw-onecycle", "fast-sgd-linear"],
)
def test_two_epochs_restore_two_equals_four_straight(
    cifar, tmp_path: Path, one_thread, overrides
) -> None:
    cfg = _cfg(**overrides)
    straight = fit(cfg, data=cifar, device=CPU)
    (half,) = _states(dataclasses.replace(cfg, checkpoint_frequency=2, epochs=4), cifar)[:1]
    assert half["epoch"] == 2 and "scheduler" in half and half["metrics"]["epoch"] == 2
    save_state(half, tmp_path)
    resumed = fit(cfg, data=cifar, device=CPU, start_state=load_state(tmp_path))

    _same_tensors(straight.model.state_dict(), resumed.model.state_dict())
    assert [m["epoch"] for m in resumed.history] == [3, 4]
    keys = ("train_loss", "val_loss", "val_accuracy", "lr")
    for got, want in zip(resumed.history, straight.history[2:], strict=True):
        assert [got[k] for k in keys] == [want[k] for k in keys]
    assert resumed.best == straight.best


def test_restored_after_the_last_epoch_reports_once(cifar, tmp_path, one_thread) -> None:
    states = _states(_cfg(epochs=2, checkpoint_frequency=0), cifar)
    assert [s["epoch"] for s in states] == [2]
    reported: list[dict] = []
    fit(_cfg(epochs=2), data=cifar, device=CPU, start_state=states[0],
        report=lambda m, s: reported.append((m, s)))  # fmt: skip
    ((metrics, state),) = reported
    assert state is None and metrics == states[0]["metrics"]
    assert metrics["epoch"] == 2 and 0 <= metrics["val_accuracy"] <= 1


def test_metrics_per_epoch_and_test_set_only_when_asked(cifar_dir, one_thread) -> None:
    setup = train_vision_cnn.study_setup
    constants = {"dataset": "cifar10", "data_dir": str(cifar_dir), "evaluate_test": True}
    with_test = setup(constants)["data"]
    assert with_test.has_test and not setup({**constants, "evaluate_test": False})["data"].has_test
    rows: list[dict] = []
    result = fit(_cfg(epochs=2, evaluate_test=True, tta=True), data=with_test, device=CPU,
                 report=lambda m, s: rows.append(m))  # fmt: skip
    num_params = sum(p.numel() for p in result.model.parameters())
    for row in rows:
        assert 0 <= row["val_accuracy"] <= row["best_val_accuracy"] <= 1
        assert row["train_loss"] > 0 and row["val_loss"] > 0 and row["lr"] >= 0
        assert row["epoch_seconds"] > 0 and row["images_per_second"] > 0
        assert row["device"] == "cpu"
        assert row["num_params"] == num_params and 0 < row["inference_ms"] < math.inf
        assert 0 < row["train_seconds"] < math.inf
    assert rows[0]["inference_ms"] == rows[1]["inference_ms"]  # measured once
    assert rows[0]["train_seconds"] < rows[1]["train_seconds"]
    assert "test_accuracy" not in rows[0] and 0 <= rows[1]["test_accuracy"] <= 1
    assert rows[1]["test_loss"] > 0


def test_study_data_must_match_the_trial(cifar, one_thread) -> None:
    with pytest.raises(SpecError, match="^dataset: the trial asks for 'digits'"):
        fit(_cfg(dataset="digits"), data=cifar, device=CPU)
    with pytest.raises(SpecError, match="^evaluate_test: .*trainable.config, not in space"):
        fit(_cfg(evaluate_test=True), data=cifar, device=CPU)


def test_study_setup_fails_early_on_missing_data(tmp_path) -> None:
    with pytest.raises(DataError, match=r"cifar-10-batches-py \(data_batch_1..5, test_batch"):
        train_vision_cnn.study_setup({"dataset": "cifar10", "data_dir": str(tmp_path)})
    with pytest.raises(SpecError, match="^vision_cnn.epochs"):
        train_vision_cnn.study_setup({"epochs": 0})


def test_model_too_big_for_images(one_thread) -> None:
    with pytest.raises(SpecError, match="lenet needs images of at least 16x16"):
        fit(VisionConfig(model="lenet", epochs=1), device=CPU)


def test_digits_default_trains_offline(one_thread) -> None:
    config = {"epochs": 4, "num_layers": 2, "width_1": 16, "width_2": 32, "batch_size": 64}
    result = fit(VisionConfig.from_config(config), device=CPU)
    assert result.history[-1]["val_accuracy"] > 0.5  # chance is 0.1


@pytest.mark.parametrize(
    ("in_ray", "gpu_ids", "cuda", "requested", "device"),
    [
        (True, [2], True, "auto", "cuda:0"),  # Ray's GPU is cuda:0 in the trial
        (True, [], True, "auto", "cpu"),  # no GPU requested: never take one
        (True, [0], False, "auto", "cpu"),  # logical GPU only: same code on the CPU
        (False, [], True, "auto", "cuda:0"),
        (False, [], False, "auto", "cpu"),
        (True, [1], True, "cpu", "cpu"),
    ],
)
def test_device_selection(monkeypatch, in_ray, gpu_ids, cuda, requested, device) -> None:
    monkeypatch.setattr(ray, "is_initialized", lambda: in_ray)
    monkeypatch.setattr(ray, "get_gpu_ids", lambda: gpu_ids)
    monkeypatch.setattr(ray.util, "get_node_ip_address", lambda: "10.0.0.7")
    monkeypatch.setattr(torch.cuda, "is_available", lambda: cuda)
    monkeypatch.setattr(torch.cuda, "set_device", lambda index: None)
    where = placement.place(requested)
    assert str(where.device) == device
    assert where.gpu_ids == tuple(gpu_ids) if in_ray else where.gpu_ids == ()
    assert where.node == ("10.0.0.7" if in_ray else "localhost")


def test_cuda_required_but_missing(monkeypatch) -> None:
    monkeypatch.setattr(torch.cuda, "is_available", lambda: False)
    with pytest.raises(ClusterError, match="^device: got 'cuda'.*set device: auto"):
        placement.place("cuda")


def test_compile_once_per_process_and_architecture(cifar, monkeypatch, one_thread) -> None:
    calls: list[str] = []
    resets: list[int] = []

    def fake_compile(model):
        calls.append(type(model).__name__)  # no reference: the test checks it is freed
        return model

    compiled.clear_compiled()
    monkeypatch.setattr(torch, "compile", fake_compile)
    monkeypatch.setattr(torch.compiler, "reset", lambda: resets.append(1))
    cfg = _cfg(epochs=1, compile=True)
    first = fit(cfg, data=cifar, device=CPU)
    plain_first = fit(dataclasses.replace(cfg, compile=False), data=cifar, device=CPU)
    # the warm-up pass left no trace: weights, BN statistics and RNG as without it
    _same_tensors(first.model.state_dict(), plain_first.model.state_dict())
    second = fit(dataclasses.replace(cfg, seed=6), data=cifar, device=CPU)
    plain = fit(dataclasses.replace(cfg, seed=6, compile=False), data=cifar, device=CPU)
    assert len(calls) == 1 and second.model is first.model  # reused, re-initialised
    _same_tensors(second.model.state_dict(), plain.model.state_dict())
    assert first.history[0]["compile_seconds"] > 0
    assert second.history[0]["compile_seconds"] == 0.0  # compiled already
    assert "compile_seconds" not in plain.history[0]
    old = weakref.ref(first.model)
    del first, second
    fit(_cfg(epochs=1, compile=True, width_1=4), data=cifar, device=CPU)
    assert len(calls) == 2 and resets == [1]  # another architecture compiles once more
    release_memory(CPU)
    assert old() is None  # and the previous architecture's model is gone
    compiled.clear_compiled()


def test_a_finished_trial_leaves_no_model_or_optimizer_behind(cifar, one_thread) -> None:
    result = fit(_cfg(epochs=1), data=cifar, device=CPU)
    model = weakref.ref(result.model)
    del result
    release_memory(CPU)
    assert model() is None
    assert not [o for o in gc.get_objects() if isinstance(o, torch.optim.Optimizer)]


def test_tune_wrapper_restored_at_the_end_reports_once(cifar, tmp_path, monkeypatch) -> None:
    (state,) = _states(_cfg(epochs=1, torch_threads=1), cifar)
    save_state(state, tmp_path)
    reported: list[tuple[dict, object]] = []
    monkeypatch.setattr(ray.tune, "get_checkpoint", lambda: ray.tune.Checkpoint(str(tmp_path)))
    monkeypatch.setattr(
        ray.tune, "report", lambda m, checkpoint=None: reported.append((m, checkpoint))
    )
    before = torch.get_num_threads()
    try:
        train_vision_cnn({**SMALL, "epochs": 1, "torch_threads": 1}, data=cifar)
    finally:
        torch.set_num_threads(before)
    ((metrics, checkpoint),) = reported
    assert checkpoint is None and metrics["epoch"] == 1
    assert metrics["device"] == "cpu" and metrics["gpu_ids"] == [] and metrics["node"]


def test_study_on_fixture_cifar_records_gpu_ids(ray_session, cifar_dir, tmp_path) -> None:
    from distributed_bo.runner.study import run_study
    from distributed_bo.spec import StudySpec

    spec = StudySpec.from_dict(
        {
            "name": "vision_fixture",
            "objective": {"metric": "val_accuracy", "mode": "max"},
            "trainable": {
                "name": "vision_cnn",
                "config": {
                    **{k: v for k, v in SMALL.items() if k != "lr"},
                    "epochs": 2,
                    "data_dir": str(cifar_dir),
                    "torch_threads": 1,
                },
            },  # fmt: skip
            "space": {"lr": {"type": "loguniform", "lower": 1e-3, "upper": 1e-1}},
            "budget": {"num_trials": 2, "max_concurrent": 2},
            "resources": {"cpus_per_trial": 1, "gpus_per_trial": 1},
            "checkpoint": {"frequency": 1, "num_to_keep": 1},
            "storage": str(tmp_path),
            "seed": 0,
        }
    )
    result = run_study(spec, progress=None)
    assert len(result.rows) == 2
    for row in result.rows:
        assert row["status"] == "COMPLETED", row.get("error")
        assert row["iterations"] == 2 and 0 <= row["metric"] <= 1
        assert row["device"] == "cpu"  # logical GPUs only: the same code runs on the CPU
        gpu = row["gpu"]
        assert gpu.startswith("[") and gpu != "[]"  # ray.get_gpu_ids() of the trial
    assert not math.isnan(result.best["metric"])


def test_a_fractional_gpu_trial_knows_its_share(ray_session) -> None:
    from ray.util.placement_group import placement_group, remove_placement_group
    from ray.util.scheduling_strategies import PlacementGroupSchedulingStrategy

    def _where() -> tuple[str, float | None]:  # nested: Ray pickles it by value
        from distributed_bo.trainables.placement import place

        where = place("auto")
        return str(where.device), where.gpu_fraction

    probe = ray_session.remote(_where)
    quarter = ray_session.get(probe.options(num_cpus=0, num_gpus=0.25).remote())
    whole = ray_session.get(probe.options(num_cpus=0, num_gpus=1).remote())
    # Tune schedules trials in placement groups, whose resources Ray renames
    group = placement_group([{"CPU": 0.1, "GPU": 0.25}])
    ray_session.get(group.ready())
    strategy = PlacementGroupSchedulingStrategy(placement_group=group)
    in_group = probe.options(num_cpus=0.1, num_gpus=0.25, scheduling_strategy=strategy)
    grouped = ray_session.get(in_group.remote())
    remove_placement_group(group)
    # logical GPUs: CPU here; on CUDA the 0.25 share also caps the process's memory
    assert quarter == ("cpu", 0.25) and grouped == ("cpu", 0.25)
    assert whole == ("cpu", None) and _where()[1] is None  # the driver has no share
