from __future__ import annotations

import pytest
import torch
from torch import nn

from distributed_bo.exceptions import SpecError
from distributed_bo.models.autoencoder import Autoencoder
from distributed_bo.models.factory import ModelSpec, build_model, count_parameters, default_widths
from distributed_bo.models.fast import FastNet, fast_feature_size

CIFAR = (3, 32, 32)


def _build(family: str, shape=CIFAR, widths=None, classes=10) -> nn.Module:
    widths = widths or default_widths(family, 4)
    return build_model(ModelSpec(family, shape, classes, widths))


def test_lenet_has_the_studys_10_8k_parameters() -> None:
    # conv 3->10 5x5 (760) + conv 10->20 5x5 (5,020) + linear 500->10 (5,010).
    assert count_parameters(_build("lenet")) == 10_790
    assert count_parameters(_build("lenet", shape=(1, 28, 28))) == 8_490


@pytest.mark.parametrize("family", ["convnet", "lenet", "fast"])
@pytest.mark.parametrize(("shape", "classes"), [(CIFAR, 10), (CIFAR, 100), ((1, 28, 28), 10)])
def test_every_family_maps_images_to_logits(family, shape, classes) -> None:
    model = _build(family, shape=shape, classes=classes)
    assert model(torch.randn(2, *shape)).shape == (2, classes)


def test_convnet_has_one_conv_per_width() -> None:
    model = _build("convnet", widths=(8, 16, 24))
    convs = [m for m in model.modules() if isinstance(m, nn.Conv2d)]
    assert [c.out_channels for c in convs] == [8, 16, 24]
    assert sum(isinstance(m, nn.BatchNorm2d) for m in model.modules()) == 3
    digits = _build("convnet", shape=(1, 8, 8), widths=(4, 4))
    assert digits(torch.randn(3, 1, 8, 8)).shape == (3, 10)


def test_default_widths() -> None:
    assert default_widths("convnet", 5) == (32, 64, 128, 128, 128)
    assert default_widths("lenet", 4) == (10, 20)
    assert default_widths("fast", 4) == (64, 256, 256)


def test_small_images_are_refused_with_a_fix() -> None:
    with pytest.raises(SpecError, match="^model: lenet needs images of at least 16x16.*convnet"):
        _build("lenet", shape=(1, 8, 8))
    with pytest.raises(SpecError, match="^model: fast needs images of at least 2x2.*convnet"):
        _build("fast", shape=(1, 1, 1))


@pytest.mark.parametrize(("side", "last"), [(8, 1), (15, 2), (16, 1), (32, 3)])
def test_fast_pools_as_airbench_on_cifar_and_rounds_up_under_16_pixels(side, last) -> None:
    assert fast_feature_size(side) == last
    model = _build("fast", shape=(1, side, side))
    assert model(torch.randn(2, 1, side, side)).shape == (2, 10)


@pytest.mark.parametrize("dirac", [True, False])
def test_fast_group_convs_start_as_identities_with_dirac(dirac) -> None:
    torch.manual_seed(0)
    model = FastNet(in_channels=3, num_classes=10, widths=(32, 64, 64), dirac=dirac)
    convs = [m for m in model.groups.modules() if isinstance(m, nn.Conv2d)]
    assert len(convs) == 6
    for conv in convs:
        head = conv.weight[: conv.in_channels]
        identity = torch.zeros_like(head)
        nn.init.dirac_(identity)
        assert torch.equal(head, identity) is dirac
    assert torch.equal(model.whiten.bias, torch.zeros(24))


@pytest.mark.parametrize(
    ("family", "widths"), [("lenet", (10, 20, 30)), ("fast", (64, 256)), ("convnet", (8,) * 9)]
)
def test_wrong_width_count_is_refused(family, widths) -> None:
    with pytest.raises(SpecError, match=f"^model: {family} got {len(widths)} widths"):
        _build(family, widths=widths)


def test_fast_whitening_decorrelates_patches() -> None:
    torch.manual_seed(0)
    mixing = torch.randn(12, 12)
    patches = torch.randn(4000, 12) @ mixing  # strongly correlated 2x2 RGB patches
    images = patches.reshape(4000, 2, 2, 3).permute(0, 3, 1, 2)  # N x 3 x 2 x 2
    model = _build("fast")
    assert isinstance(model, FastNet)
    model.init_whitening(images, eps=1e-8)
    out = nn.functional.conv2d(images, model.whiten.weight[:12]).flatten(1)  # N x 12
    cov = out.T @ out / len(out)
    assert torch.allclose(cov, torch.eye(12), atol=0.05)
    assert not model.whiten.weight.requires_grad
    assert count_parameters(model, trainable_only=True) < count_parameters(model)


def test_autoencoder_reconstructs_in_unit_range() -> None:
    model = Autoencoder(in_features=64, latent_dim=3, hidden=16)
    out = model(torch.rand(5, 64))
    assert out.shape == (5, 64) and out.min() > 0 and out.max() < 1
    assert model.encoder(torch.rand(5, 64)).shape == (5, 3)
