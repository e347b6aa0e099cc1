from __future__ import annotations

import dataclasses
import math

import pytest
import torch

from distributed_bo.data.load import load_arrays
from distributed_bo.exceptions import SpecError
from distributed_bo.trainables import resolve_trainable
from distributed_bo.trainables.autoencoder import fit, train_autoencoder
from distributed_bo.trainables.configs import AutoencoderConfig

CPU = torch.device("cpu")
SMALL = AutoencoderConfig(epochs=4, latent_dim=8, hidden=32, lr=3e-3, batch_size=64, seed=2)


def test_builtin_name_and_defaults() -> None:
    assert resolve_trainable("autoencoder") is train_autoencoder
    cfg = AutoencoderConfig.from_config({"latent_dim": 4.0, "unrelated": 1})
    assert (cfg.latent_dim, cfg.optimizer, cfg.lr, cfg.dataset) == (4, "adam", 1e-3, "digits")
    with pytest.raises(SpecError, match="^autoencoder.latent_dim: got 0; pass an int in 1..4096"):
        AutoencoderConfig.from_config({"latent_dim": 0})


def test_reconstruction_error_falls_and_a_bigger_code_helps(one_thread) -> None:
    small = fit(dataclasses.replace(SMALL, latent_dim=2, epochs=8), device=CPU)
    big = fit(dataclasses.replace(SMALL, latent_dim=16, epochs=8), device=CPU)
    mse = [m["val_mse"] for m in big.history]
    assert mse[-1] < 0.5 * mse[0] and big.best == min(mse)
    assert big.best < small.best
    row = big.history[-1]
    assert {
        "train_loss",
        "val_mse",
        "best_val_mse",
        "epoch_seconds",
        "images_per_second",
        "num_params",
        "inference_ms",
        "train_seconds",
    } <= row.keys()
    # 64 -> 32 -> 16 and back: four linear layers with biases.
    assert row["num_params"] == sum(p.numel() for p in big.model.parameters())
    assert row["num_params"] == 2 * (64 * 32 + 32 * 16) + (32 + 16) + (32 + 64)
    assert "test_mse" not in row


def test_resume_is_exact_and_final_restore_reports_once(one_thread) -> None:
    states: list = []
    straight = fit(SMALL, device=CPU, report=lambda m, s: s and states.append(s))
    assert [s["epoch"] for s in states] == [1, 2, 3, 4]
    assert math.isnan(states[0]["best_val_accuracy"])  # not a classifier
    resumed = fit(SMALL, device=CPU, start_state=states[1])
    for key, value in straight.model.state_dict().items():
        assert torch.equal(value, resumed.model.state_dict()[key]), key
    assert resumed.best == straight.best
    reported: list = []
    fit(SMALL, device=CPU, start_state=states[-1], report=lambda m, s: reported.append(m))
    assert reported == [states[-1]["metrics"]]


def test_study_data_with_test_set(one_thread) -> None:
    data = train_autoencoder.study_setup({"evaluate_test": True, "epochs": 1})["data"]
    assert data.has_test and data.key == load_arrays("digits", data_dir=".", with_test=True).key
    result = fit(dataclasses.replace(SMALL, epochs=1, evaluate_test=True), data=data, device=CPU)
    assert 0 < result.history[-1]["test_mse"] < 1
