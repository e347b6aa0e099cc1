"""airbench94's training elements in ``vision_cnn``, each checked on the CPU.

The whitening covariance and the dirac initialisation are checked in
tests/models/test_model_families.py; here: the recipe's defaults, the decoupled
optimiser with the BatchNorm-bias learning rate, the triangle schedule, lookahead,
alternating flips, reflect translation, test-time augmentation, the whitening bias
freeze, and ``fast`` training on digits and on CIFAR-shaped data.
"""

from __future__ import annotations

import pytest
import torch
from torch import nn

from distributed_bo.data import augment as aug
from distributed_bo.data.arrays import VisionArrays
from distributed_bo.exceptions import SpecError
from distributed_bo.models.fast import FastNet
from distributed_bo.trainables.configs import VisionConfig
from distributed_bo.trainables.lookahead import BASE, Lookahead
from distributed_bo.trainables.optim import bias_parameters, lr_factor, make_optimizer
from distributed_bo.trainables.recipe import AIRBENCH94
from distributed_bo.trainables.tta import translations, tta_logits
from distributed_bo.trainables.vision import fit, train_vision_cnn

CPU = torch.device("cpu")
SMALL_FAST = {"model": "fast", "width_1": 8, "width_2": 16, "width_3": 16}


def test_fast_takes_airbench94_for_every_key_it_does_not_set() -> None:
    cfg = VisionConfig.from_config({"model": "fast", "label_smoothing": 0.0, "lr": 3.0})
    assert cfg.label_smoothing == 0.0 and cfg.lr == 3.0
    for key, value in AIRBENCH94.items():
        if key not in ("label_smoothing", "lr"):
            assert getattr(cfg, key) == value, key
    convnet = VisionConfig.from_config({"model": "convnet"})
    assert (convnet.optimizer, convnet.label_smoothing, convnet.lookahead) == ("sgd", 0.0, False)
    assert not convnet.alternate_flips and not convnet.tta_translate and convnet.bias_lr_scale == 1


@pytest.mark.parametrize(
    ("key", "value"), [("pad_mode", "edge"), ("whiten_bias_epochs", -1), ("bias_lr_scale", 0.0)]
)
def test_bad_recipe_values_raise_one_line_errors(key, value) -> None:
    with pytest.raises(SpecError, match=f"^vision_cnn.{key}: got "):
        VisionConfig.from_config({**SMALL_FAST, key: value})


def test_decoupled_sgd_scales_bn_bias_lr_but_not_the_decay() -> None:
    model = FastNet(in_channels=3, num_classes=10, widths=(8, 16, 16))
    cfg = VisionConfig.from_config({**SMALL_FAST, "batch_size": 512})
    optimizer = make_optimizer(cfg, model)
    assert isinstance(optimizer, torch.optim.SGD)
    others, biases = optimizer.param_groups
    assert {id(p) for p in biases["params"]} == {id(p) for p in bias_parameters(model)}
    assert len(biases["params"]) == 6  # one per BatchNorm; their scales are frozen
    kilostep = 1024 * (1 + 1 / (1 - 0.85))  # airbench94's step-size normaliser
    assert others["lr"] == pytest.approx(11.5 / kilostep * 512)  # summed -> mean loss
    assert biases["lr"] == pytest.approx(64 * others["lr"])
    decay = 0.0153 * 512 / kilostep  # per step, whatever the learning rate
    for group in (others, biases):
        assert group["lr"] * group["weight_decay"] == pytest.approx(decay)
        assert group["nesterov"] and group["momentum"] == 0.85
    assert model.whiten.bias in others["params"]  # the whitening bias is not a BN bias


def test_one_group_when_the_bias_rate_is_not_scaled() -> None:
    model = FastNet(in_channels=3, num_classes=10, widths=(8, 16, 16))
    cfg = VisionConfig.from_config({"model": "convnet", "optimizer": "adam", "lr": 1e-3})
    (group,) = make_optimizer(cfg, model).param_groups
    assert group["params"] == [p for p in model.parameters() if p.requires_grad]


def test_triangle_schedule_rises_from_02_to_1_at_23_percent_then_falls_to_007() -> None:
    total = 1000
    factors = [lr_factor(s, total=total, warmup=0, kind="triangle") for s in range(total + 1)]
    assert factors[0] == pytest.approx(0.2)
    assert max(factors) == factors[230] == pytest.approx(1.0)
    assert factors[115] == pytest.approx(0.6)
    assert factors[total] == pytest.approx(0.07)
    assert lr_factor(10, total=100, warmup=20, kind="triangle") == pytest.approx(0.6)


def test_lookahead_moves_the_slow_weights_as_its_formula_says() -> None:
    model = nn.Linear(2, 1)
    with torch.no_grad():
        model.weight.fill_(1.0)
    ahead = Lookahead(model, total_steps=10)
    for step in range(1, 11):
        with torch.no_grad():
            model.weight.add_(1.0)  # the "optimizer step": fast weights move by 1
        before_slow = ahead.slow["weight"].clone()
        before_fast = model.weight.detach().clone()
        ahead.after_step()
        if step % 5 == 0:
            decay = BASE * (step / 10) ** 3
            want = decay * before_slow + (1 - decay) * before_fast
            assert torch.allclose(ahead.slow["weight"], want)
            assert torch.equal(model.weight.detach(), ahead.slow["weight"])
        else:
            assert torch.equal(ahead.slow["weight"], before_slow)
            assert torch.equal(model.weight.detach(), before_fast)
    assert ahead.step == 10 and ahead.decay(5) == pytest.approx(0.95**5 / 8)
    restored = Lookahead(nn.Linear(2, 1), total_steps=10)
    restored.load_state_dict(ahead.state_dict())
    assert restored.step == 10 and torch.equal(restored.slow["weight"], ahead.slow["weight"])


def test_alternating_flips_mirror_each_image_every_other_epoch() -> None:
    flips = [aug.alternating_flips(1000, epoch=e, seed=3) for e in range(4)]
    assert torch.equal(flips[0], ~flips[1]) and torch.equal(flips[0], flips[2])
    assert torch.equal(flips[1], flips[3])
    assert 400 < int(flips[0].sum()) < 600  # a random half starts mirrored
    assert not torch.equal(flips[0], aug.alternating_flips(1000, epoch=0, seed=4))


def test_reflect_translation_crops_from_a_mirrored_border() -> None:
    x = torch.arange(16.0).reshape(1, 1, 4, 4)
    draws = aug.AugmentDraws(shifts=torch.tensor([[0, 0]]), flips=torch.tensor([False]))
    zeros = aug.augment(x, draws, pad=1, mode="zeros")
    reflect = aug.augment(x, draws, pad=1, mode="reflect")
    assert zeros[0, 0, 0].tolist() == [0, 0, 0, 0]
    assert reflect[0, 0, 0].tolist() == [5, 4, 5, 6]  # row 1, reflected about the edge
    assert torch.equal(reflect[0, 0, 1:, 1:], x[0, 0, :3, :3])


def test_tta_averages_the_stated_views() -> None:
    torch.manual_seed(0)
    weight = torch.randn(3 * 6 * 6, 5)

    def forward(x: torch.Tensor) -> torch.Tensor:
        return x.flatten(1) @ weight

    x = torch.randn(4, 3, 6, 6)
    plain, mirror = forward(x), forward(x.flip(3))
    assert torch.allclose(tta_logits(forward, x, mirror=False, translate=False), plain)
    level1 = 0.5 * (plain + mirror)
    assert torch.allclose(tta_logits(forward, x, mirror=True, translate=False), level1)
    padded = nn.functional.pad(x, (1, 1, 1, 1), mode="reflect")
    moved = [padded[..., i : i + 6, j : j + 6] for i in (0, 2) for j in (0, 2)]
    assert all(torch.equal(a, b) for a, b in zip(translations(x), moved, strict=True))
    moved_mirrored = [0.5 * (forward(m) + forward(m.flip(3))) for m in moved]
    level2 = 0.5 * level1 + 0.5 * torch.stack(moved_mirrored).mean(0)
    assert torch.allclose(tta_logits(forward, x, mirror=True, translate=True), level2, atol=1e-5)


def test_whitening_bias_trains_for_its_epochs_then_freezes(digits, one_thread) -> None:
    cfg = VisionConfig.from_config(
        {
            **SMALL_FAST,
            "dataset": "digits",
            "epochs": 4,
            "batch_size": 128,
            "whiten_bias_epochs": 2,
            "lookahead": False,
        }  # fmt: skip
    )
    biases: list[torch.Tensor] = []
    fit(cfg, data=digits, device=CPU, report=lambda m, s: biases.append(s["model"]["whiten.bias"]))
    start = torch.zeros_like(biases[0])
    assert not torch.equal(biases[0], start) and not torch.equal(biases[1], biases[0])
    assert torch.equal(biases[2], biases[1]) and torch.equal(biases[3], biases[1])


def test_fast_with_airbench94_learns_digits(digits, one_thread) -> None:
    cfg = VisionConfig.from_config(
        {**SMALL_FAST, "dataset": "digits", "epochs": 8, "batch_size": 64, "seed": 1}
    )
    result = fit(cfg, data=digits, device=CPU)
    assert result.history[-1]["val_accuracy"] > 0.6  # chance is 0.1
    assert result.best == max(m["val_accuracy"] for m in result.history)


def test_fast_with_airbench94_trains_on_cifar_shaped_data(cifar_dir, one_thread) -> None:
    data = train_vision_cnn.study_setup({"dataset": "cifar10", "data_dir": str(cifar_dir)})["data"]
    cfg = VisionConfig.from_config(
        {**SMALL_FAST, "dataset": "cifar10", "epochs": 2, "batch_size": 64, "val_fraction": 0.25}
    )
    assert cfg.lookahead and cfg.alternate_flips and cfg.tta_translate
    result = fit(cfg, data=data, device=CPU)
    assert [m["epoch"] for m in result.history] == [1, 2]
    assert all(torch.isfinite(torch.tensor(m["train_loss"])) for m in result.history)
    assert 0 <= result.history[-1]["val_accuracy"] <= 1


def test_reflect_padding_wider_than_the_image_is_refused() -> None:
    with pytest.raises(
        SpecError, match="^vision_cnn.crop_padding: got 8; pass a crop_padding below 8"
    ):
        VisionConfig.from_config({**SMALL_FAST, "dataset": "digits", "crop_padding": 8})
    assert VisionConfig.from_config({**SMALL_FAST, "dataset": "cifar10", "crop_padding": 8})


@pytest.fixture(scope="module")
def digits() -> VisionArrays:
    """scikit-learn's bundled digits, loaded as the runner's study_setup would."""
    return train_vision_cnn.study_setup({"dataset": "digits"})["data"]
