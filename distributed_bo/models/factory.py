"""Build a classifier of one family from a :class:`ModelSpec`."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

from torch import nn

from distributed_bo.exceptions import SpecError
from distributed_bo.models.convnet import ConvNet
from distributed_bo.models.fast import DEFAULT_WIDTHS, FastNet, fast_feature_size
from distributed_bo.models.lenet import LeNet, lenet_feature_size

ModelFamily = Literal["convnet", "lenet", "fast"]
MODEL_FAMILIES: tuple[str, ...] = ("convnet", "lenet", "fast")
#: Conv layers each family has; ``convnet``'s count is the ``num_layers`` config key.
FIXED_DEPTH = {"lenet": 2, "fast": 3}
MAX_CONVNET_LAYERS = 8


@dataclass(frozen=True)
class ModelSpec:
    """What to build.

    Attributes:
        family: ``convnet``, ``lenet`` or ``fast``.
        in_shape: One image, ``C x H x W`` (square images).
        num_classes: Number of logits.
        widths: Output channels per conv layer (``convnet``: one per layer;
            ``lenet``: 2; ``fast``: 3, one per group).
        dropout: Dropout probability before the head, in ``[0, 1)``.
        dirac: ``fast`` only: identity initialisation of the group convs.

    """

    family: str
    in_shape: tuple[int, int, int]
    num_classes: int
    widths: tuple[int, ...]
    dropout: float = 0.0
    dirac: bool = True


def default_widths(family: str, num_layers: int) -> tuple[int, ...]:
    """Widths used for layers whose ``width_i`` is not set.

    ``convnet``: 32, 64, 128, 128, ... (doubling up to 128); ``lenet``: 10, 20 (the
    study's); ``fast``: 64, 256, 256 (airbench94's).
    """
    if family == "lenet":
        return (10, 20)
    if family == "fast":
        return DEFAULT_WIDTHS
    return tuple(min(32 * 2**i, 128) for i in range(num_layers))


def build_model(spec: ModelSpec) -> nn.Module:
    """Build the classifier ``spec`` describes, with PyTorch's default initialisation.

    Raises:
        SpecError: If the family is unknown, the width count does not fit it, or the
            images are too small for it (``lenet`` needs >= 16 pixels, ``fast`` >= 2).

    """
    c, h, _ = spec.in_shape
    if spec.family not in MODEL_FAMILIES:
        raise SpecError(f"model: got {spec.family!r}; use one of {', '.join(MODEL_FAMILIES)}")
    depth = FIXED_DEPTH.get(spec.family, len(spec.widths))
    if len(spec.widths) != depth or not 1 <= depth <= MAX_CONVNET_LAYERS:
        raise SpecError(
            f"model: {spec.family} got {len(spec.widths)} widths {spec.widths}; "
            f"pass {depth if spec.family in FIXED_DEPTH else f'1..{MAX_CONVNET_LAYERS}'}"
        )
    if spec.family == "convnet":
        return ConvNet(
            in_channels=c,
            num_classes=spec.num_classes,
            widths=spec.widths,
            image_size=h,
            dropout=spec.dropout,
        )
    side = lenet_feature_size(h) if spec.family == "lenet" else fast_feature_size(h)
    if side < 1:
        least = 16 if spec.family == "lenet" else 2
        raise SpecError(
            f"model: {spec.family} needs images of at least {least}x{least} pixels, "
            f"got {h}x{h}; "
            "use model: convnet for this dataset"
        )
    if spec.family == "lenet":
        return LeNet(
            in_channels=c,
            num_classes=spec.num_classes,
            image_size=h,
            dropout=spec.dropout,
            widths=spec.widths,
        )
    return FastNet(
        in_channels=c,
        num_classes=spec.num_classes,
        widths=spec.widths,
        dropout=spec.dropout,
        dirac=spec.dirac,
        image_size=h,
    )


def count_parameters(model: nn.Module, *, trainable_only: bool = False) -> int:
    """Number of parameter entries (all, or only those with ``requires_grad``)."""
    return sum(p.numel() for p in model.parameters() if p.requires_grad or not trainable_only)
