"""Conditional configs: ``flat_config`` and the built-in CNNs' three widths forms."""

from __future__ import annotations

from typing import Any

import pytest
import torch
from torch import nn

from distributed_bo.exceptions import SpecError
from distributed_bo.trainables import flat_config
from distributed_bo.trainables.configs import DigitsCNNConfig, VisionConfig
from distributed_bo.trainables.digits import fit as digits_fit
from distributed_bo.trainables.vision import fit as vision_fit

CPU = torch.device("cpu")
WIDTHS = {"width_1": 8, "width_2": 12, "width_3": 4}
# The same three-layer choice, written in each form a trial's config may take.
FORMS: dict[str, dict[str, Any]] = {
    "flat": {"num_layers": 3, **WIDTHS, "width_4": 999},  # beyond num_layers: ignored
    "when": {"num_layers": {"num_layers": 3, **WIDTHS}},
    "widths": {"widths": {"num_layers": 3, **WIDTHS}},
}


def _conv_widths(model: nn.Module) -> list[int]:
    return [m.out_channels for m in model.modules() if isinstance(m, nn.Conv2d)]


def test_flat_config_merges_self_keyed_and_named_branches():
    config = {
        "lr": 0.1,
        "num_layers": {"num_layers": 3, "width_3": 64, "act": {"act": "softplus", "beta": 1.5}},
        "optim": {"beta1": 0.9},  # a group, not a branch: kept
    }
    assert flat_config(config) == {
        "lr": 0.1,
        "num_layers": 3,
        "width_3": 64,
        "act": "softplus",
        "beta": 1.5,
        "optim": {"beta1": 0.9},
    }
    assert config["num_layers"]["num_layers"] == 3  # not changed
    assert flat_config({"arch": {"depth": 2}}, branches=["arch"]) == {"depth": 2}
    assert flat_config({"num_layers": 2, "width_1": 8}, branches=["widths"]) == {
        "num_layers": 2,
        "width_1": 8,
    }


@pytest.mark.parametrize(
    ("config", "branches", "match"),
    [
        (
            {"width_1": 8, "widths": {"num_layers": 1, "width_1": 16}},
            ["widths"],
            r"^config\.width_1: got 16; 'width_1' is set twice \(8 in the config, 16 in the "
            r"branch 'widths'\); set it in one place$",
        ),
        (
            {"num_layers": {"num_layers": 2, "lr": 0.1}, "act": {"act": "relu", "lr": 0.2}},
            [],
            r"^config\.lr: got 0\.2; 'lr' is set twice \(0\.1 in the branch 'num_layers', 0\.2 "
            r"in the branch 'act'\)",
        ),
    ],
)
def test_flat_config_refuses_clashes_in_one_line(config, branches, match):
    with pytest.raises(SpecError, match=match):
        flat_config(config, branches=branches)


@pytest.mark.parametrize("form", list(FORMS))
def test_vision_cnn_builds_and_trains_each_widths_form(form: str, one_thread) -> None:
    cfg = VisionConfig.from_config({"epochs": 1, "batch_size": 64, **FORMS[form]})
    assert (cfg.num_layers, cfg.widths) == (3, (8, 12, 4))
    result = vision_fit(cfg, device=CPU)  # digits: offline
    assert _conv_widths(result.model) == [8, 12, 4]
    assert 0.0 <= result.history[-1]["val_accuracy"] <= 1.0


@pytest.mark.parametrize("form", list(FORMS))
def test_digits_cnn_builds_and_trains_each_widths_form(form: str, one_thread) -> None:
    cfg = DigitsCNNConfig.from_config({"epochs": 2, **FORMS[form]})
    assert cfg.layer_widths == (8, 12, 4)
    result = digits_fit(cfg, device=CPU)
    assert _conv_widths(result.model) == [8, 12, 4]
    assert result.history[-1]["val_accuracy"] > 0.2  # chance is 0.1


def test_digits_cnn_widths_default_to_channels() -> None:
    cfg = DigitsCNNConfig.from_config({"channels": 8, "num_layers": 3, "width_2": 24})
    assert cfg.layer_widths == (8, 24, 8)
    plain = DigitsCNNConfig.from_config({"channels": 8, "num_layers": 3})
    assert plain.widths == () and plain.layer_widths == (8, 8, 8)
    with pytest.raises(SpecError, match=r"^digits_cnn\.width_2: got 0; pass an int in 1\.\.4096$"):
        DigitsCNNConfig.from_config({"num_layers": 2, "width_2": 0})
