"""Config dataclasses of the trainables on the shared loop; every field is a config key.

Values come from the job spec's ``trainable.config`` (fixed) and ``space``
(searched); keys that are not fields are ignored. :class:`LoopConfig` holds the keys
the shared loop, optimiser and placement read; :class:`TrainConfig` adds the dataset
and schedule keys of ``vision_cnn`` and ``autoencoder``; :class:`DigitsCNNConfig`
is ``digits_cnn``'s.

``vision_cnn`` and ``digits_cnn`` read their per-layer widths in three forms, each
flattened by :func:`~distributed_bo.trainables.conditional.flat_config` before the
keys are read:

* flat: ``num_layers: 3, width_1: 64, width_2: 32, width_3: 128`` (keys beyond
  ``num_layers`` are ignored);
* ``when:``: ``num_layers: {num_layers: 3, width_1: 64, ...}``, the branch point
  a spec's ``when: {num_layers: ...}`` makes;
* ``widths``: ``widths: {num_layers: 3, width_1: 64, ...}``, an explicit choice of
  mappings named ``widths``, one mapping per depth.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, ClassVar, Literal, TypeVar, get_args

from distributed_bo.data.catalog import DATASETS
from distributed_bo.models.factory import (
    FIXED_DEPTH,
    MAX_CONVNET_LAYERS,
    MODEL_FAMILIES,
    default_widths,
)
from distributed_bo.trainables._config import check_fields, choice_check, from_config
from distributed_bo.trainables.conditional import flat_config
from distributed_bo.trainables.recipe import AIRBENCH94
from distributed_bo.validation import fail, is_real, join

OptimizerName = Literal["sgd", "sgd_decoupled", "adam", "adamw"]
LRSchedule = Literal["constant", "cosine", "linear", "onecycle", "triangle"]
PadMode = Literal["zeros", "reflect"]
DeviceName = Literal["auto", "cpu", "cuda"]
OPTIMIZERS: tuple[str, ...] = get_args(OptimizerName)
LR_SCHEDULES: tuple[str, ...] = get_args(LRSchedule)
PAD_MODES: tuple[str, ...] = get_args(PadMode)
DEVICES: tuple[str, ...] = get_args(DeviceName)
MAX_WIDTH = 4096
#: The config key of the ``widths`` branch form: ``widths: {num_layers: 3, width_1: 64, ...}``.
WIDTHS_BRANCH = "widths"
C = TypeVar("C", bound="LoopConfig")


def read_widths(
    config: Mapping[str, Any], prefix: str, defaults: tuple[int, ...]
) -> tuple[int, ...]:
    """The widths ``width_1 .. width_D`` of a flat ``config``, ``D = len(defaults)``.

    A missing ``width_i`` takes its value from a ``widths`` list in ``config`` (the
    config dataclass's own field, as ``dataclasses.asdict`` writes it), else from
    ``defaults[i - 1]``; keys beyond ``D`` are ignored.

    Raises:
        SpecError: ``"{prefix}.width_i: got ...; pass an int in 1..4096"``, or a
            ``widths`` list of the wrong length.

    """
    given = config.get(WIDTHS_BRANCH)
    if isinstance(given, (list, tuple)) and given:
        if len(given) != len(defaults):
            fail(
                join(prefix, WIDTHS_BRANCH),
                list(given),
                f"give {len(defaults)} widths, one per layer "
                f"(or set width_1..width_{len(defaults)})",
            )
        defaults = tuple(given)
    widths = []
    for i, default in enumerate(defaults, start=1):
        value = config.get(f"width_{i}", default)
        if not (is_real(value) and float(value).is_integer() and 1 <= value <= MAX_WIDTH):
            fail(join(prefix, f"width_{i}"), value, f"pass an int in 1..{MAX_WIDTH}")
        widths.append(int(value))
    return tuple(widths)


@dataclass(frozen=True, kw_only=True)
class LoopConfig:
    """Keys every trainable on the shared loop reads: seeds, epochs, optimiser, placement.

    Attributes:
        seed: Seed of initial weights, dropout, batch order and augmentation, in
            ``[0, 2**32)``.
        epochs: Passes over the training split, >= 1.
        batch_size: Images per optimizer step, >= 1.
        optimizer: ``sgd`` (with ``momentum``, ``nesterov``), ``sgd_decoupled``
            (airbench94's: the same, with ``lr`` and ``weight_decay`` per 1,024 summed
            examples; see :func:`~distributed_bo.trainables.optim.decoupled_step`),
            ``adam`` or ``adamw``.
        lr: Peak learning rate, > 0.
        momentum: SGD momentum in ``[0, 1)``; ignored by Adam(W).
        nesterov: SGD Nesterov momentum (needs ``momentum > 0``).
        weight_decay: Weight decay, >= 0 (L2 for ``sgd``/``adam``, decoupled for
            ``adamw``; for ``sgd_decoupled`` the fraction per 1,024 examples).
        bias_lr_scale: Multiplier of the learning rate of BatchNorm biases, > 0
            (airbench94: 64).
        val_fraction: Fraction of the training images held out for validation,
            in ``(0, 1)``.
        checkpoint_frequency: Epochs between checkpoints, >= 0; 0 checkpoints only
            after the last epoch, which is always checkpointed.
        device: ``auto`` (the GPU Ray assigned, else CPU), ``cpu`` or ``cuda``.
        torch_threads: CPU threads torch uses, >= 0; 0 keeps Ray's setting
            (``OMP_NUM_THREADS`` = the trial's CPUs).

    """

    seed: int = 0
    epochs: int = 10
    batch_size: int = 128
    optimizer: OptimizerName = "sgd"
    lr: float = 0.05
    momentum: float = 0.9
    nesterov: bool = True
    weight_decay: float = 5e-4
    bias_lr_scale: float = 1.0
    val_fraction: float = 0.1
    checkpoint_frequency: int = 1
    device: DeviceName = "auto"
    torch_threads: int = 0

    #: Prefix of error messages: the built-in trainable name.
    _prefix: ClassVar[str] = "trainable"

    def __post_init__(self) -> None:
        check_fields(
            self,
            self._prefix,
            {
                "seed": (0 <= self.seed < 2**32, "an int in [0, 2**32)"),
                "epochs": (self.epochs >= 1, "an int >= 1"),
                "batch_size": (self.batch_size >= 1, "an int >= 1"),
                "optimizer": choice_check(self.optimizer, OPTIMIZERS),
                "lr": (self.lr > 0, "a float > 0"),
                "momentum": (0 <= self.momentum < 1, "a float in [0, 1)"),
                "nesterov": (
                    not (self.nesterov and self.optimizer == "sgd" and self.momentum == 0),
                    "false when momentum is 0 (Nesterov needs momentum)",
                ),
                "weight_decay": (self.weight_decay >= 0, "a float >= 0"),
                "bias_lr_scale": (self.bias_lr_scale > 0, "a float > 0"),
                "val_fraction": (0 < self.val_fraction < 1, "a float in (0, 1)"),
                "checkpoint_frequency": (self.checkpoint_frequency >= 0, "an int >= 0"),
                "device": choice_check(self.device, DEVICES),
                "torch_threads": (self.torch_threads >= 0, "an int >= 0"),
            },
        )

    @classmethod
    def from_config(cls: type[C], config: Mapping[str, Any]) -> C:
        """Build from a Ray Tune ``config``, ignoring keys that are not fields.

        Integral floats such as ``64.0`` are accepted for int fields, and NumPy
        scalars for any number.

        Raises:
            SpecError: If a value has the wrong type or is out of range.

        """
        return from_config(cls, config, cls._prefix)


@dataclass(frozen=True, kw_only=True)
class DigitsCNNConfig(LoopConfig):
    """Keys of ``digits_cnn`` (all of :class:`LoopConfig`, plus the model's).

    Defaults differ from :class:`LoopConfig`: Adam, ``lr`` 1e-2, weight decay 1e-4,
    8 epochs, batch 64, 20% validation, one torch thread. ``momentum``,
    ``nesterov`` and ``device`` came with the shared loop (issue 11); their
    defaults train as ``digits_cnn`` always did.

    Attributes:
        channels: Default width (output channels) of every conv layer, >= 1.
        num_layers: Number of 3x3 conv layers, 1..8.
        widths: Conv widths of the ``num_layers`` layers, or ``()`` (the default):
            every layer ``channels`` wide (:attr:`layer_widths` resolves it).
            :meth:`from_config` reads it from the keys ``width_1 .. width_8`` (flat,
            ``when:`` or ``widths`` form: see this module's docstring): ``width_i``
            sets layer ``i``, keys beyond ``num_layers`` are ignored and missing
            ones take ``channels``.
        dropout: Dropout probability before the classifier, in ``[0, 1)``.
        seed: Seed of the split as well as of weights, dropout and batch order.
        val_fraction: Fraction of all 1,797 images held out for validation, in ``(0, 1)``.
        batch_size: Images per optimizer step, >= 1; the last, smaller batch of an
            epoch is kept.
        torch_threads: Intra-op CPU threads the trainable sets, >= 1.

    """

    lr: float = 1e-2
    weight_decay: float = 1e-4
    batch_size: int = 64
    epochs: int = 8
    channels: int = 16
    num_layers: int = 2
    widths: tuple[int, ...] = ()
    dropout: float = 0.0
    optimizer: OptimizerName = "adam"
    val_fraction: float = 0.2
    torch_threads: int = 1

    _prefix: ClassVar[str] = "digits_cnn"

    def __post_init__(self) -> None:
        super().__post_init__()
        check_fields(
            self,
            self._prefix,
            {
                "channels": (self.channels >= 1, "an int >= 1"),
                "num_layers": (1 <= self.num_layers <= 8, "an int in 1..8"),
                "dropout": (0 <= self.dropout < 1, "a float in [0, 1)"),
                "torch_threads": (self.torch_threads >= 1, "an int >= 1"),
            },
        )
        if self.widths and len(self.widths) != self.num_layers:
            fail(
                join(self._prefix, "widths"),
                list(self.widths),
                f"give {self.num_layers} widths for the {self.num_layers} layers "
                f"(or set width_1..width_{self.num_layers})",
            )

    @classmethod
    def from_config(cls, config: Mapping[str, Any]) -> DigitsCNNConfig:
        """Build from a Ray Tune ``config``; ``width_i`` keys become :attr:`widths`.

        Raises:
            SpecError: If a value has the wrong type or is out of range.

        """
        config = flat_config(config, branches=(WIDTHS_BRANCH,))
        base = from_config(cls, config, cls._prefix)
        keys = [f"width_{i}" for i in range(1, base.num_layers + 1)]
        if not config.get(WIDTHS_BRANCH) and not any(k in config for k in keys):
            return base
        widths = read_widths(config, cls._prefix, (base.channels,) * base.num_layers)
        return dataclasses.replace(base, widths=widths)

    @property
    def layer_widths(self) -> tuple[int, ...]:
        """The width of each conv layer: :attr:`widths`, or ``channels`` for every layer."""
        return self.widths or (self.channels,) * self.num_layers


@dataclass(frozen=True, kw_only=True)
class TrainConfig(LoopConfig):
    """Data, schedule and runtime keys shared by ``vision_cnn`` and ``autoencoder``.

    Attributes:
        dataset: ``digits`` (scikit-learn, offline), ``mnist``, ``fashion_mnist``,
            ``cifar10`` or ``cifar100``.
        data_dir: Folder torchvision reads (relative paths: to the directory the
            study was started from). Unused for ``digits``.
        download: Let torchvision download missing files (needs internet).
        evaluate_test: Also report test-set metrics after the last epoch. Off by
            default so tuning never looks at the test set; set it in
            ``trainable.config``, not in ``space``.
        split_seed: Seed of the train/validation split, in ``[0, 2**32)``; separate
            from ``seed`` so every trial sees the same validation set.
        batch_size: Images per optimizer step, >= 1; each epoch runs
            ``n_train // batch_size`` full steps (the remainder is dropped).
        lr_schedule: Per-step multiplier after warmup: ``constant``; ``cosine`` (to 0);
            ``linear`` (to 0); ``onecycle``: linear rise over ``warmup_epochs`` (30%
            of training when 0), then linear fall to 0; ``triangle`` (airbench94's):
            0.2 rising to 1 over ``warmup_epochs`` (23% of training when 0), then
            falling to 0.07.
        warmup_epochs: Epochs of linear warmup from 0 to ``lr``, >= 0 (may be fractional).
        channels_last: On CUDA, use the channels-last memory format.
        amp: On CUDA, run forward passes under bf16 autocast.
        compile: ``torch.compile`` the model, once per process and architecture.

    """

    dataset: str = "digits"
    data_dir: str = "./data"
    download: bool = False
    evaluate_test: bool = False
    split_seed: int = 0
    lr_schedule: LRSchedule = "cosine"
    warmup_epochs: float = 0.0
    channels_last: bool = True
    amp: bool = True
    compile: bool = False

    def __post_init__(self) -> None:
        super().__post_init__()
        check_fields(
            self,
            self._prefix,
            {
                "dataset": choice_check(self.dataset, tuple(DATASETS)),
                "data_dir": (bool(self.data_dir), "a folder path"),
                "split_seed": (0 <= self.split_seed < 2**32, "an int in [0, 2**32)"),
                "lr_schedule": choice_check(self.lr_schedule, LR_SCHEDULES),
                "warmup_epochs": (0 <= self.warmup_epochs <= self.epochs, "a float in [0, epochs]"),
            },
        )


@dataclass(frozen=True, kw_only=True)
class VisionConfig(TrainConfig):
    """Keys of ``vision_cnn`` (all of :class:`TrainConfig`, plus the model's).

    With ``model: fast``, :meth:`from_config` takes airbench94's value
    (:data:`~distributed_bo.trainables.recipe.AIRBENCH94`) for every key of that
    recipe the config does not set; the dataclass defaults below are for the other
    families (and for a ``VisionConfig`` built directly).

    Attributes:
        model: ``convnet``, ``lenet`` or ``fast``.
        num_layers: ``convnet``'s number of conv layers, 1..8 (``lenet`` has 2 and
            ``fast`` 3 groups whatever this says).
        widths: Conv widths of the layers that exist, resolved by :meth:`from_config`
            from the keys ``width_1 .. width_8`` (flat, ``when:`` or ``widths`` form:
            see this module's docstring): ``width_i`` sets layer ``i``
            (``fast``: group ``i``); keys beyond the model's depth are ignored and
            missing ones take :func:`~distributed_bo.models.factory.default_widths`.
        dropout: Dropout probability before the classifier, in ``[0, 1)``.
        label_smoothing: Cross-entropy label smoothing, in ``[0, 1)``.
        crop_padding: Random-crop augmentation: pad by this many pixels and crop
            back, >= 0 (0 = off), i.e. translate by up to this many pixels.
        pad_mode: What the crop pads with: ``zeros`` (the mean colour) or
            ``reflect`` (airbench's); ``reflect`` needs ``crop_padding`` < the image side.
        flip: Horizontal-flip augmentation.
        alternate_flips: With ``flip``: each image is mirrored on alternate epochs,
            starting from a random half (airbench94's derandomised flips), instead
            of by a fresh coin each epoch.
        tta: Evaluate on each image and its mirror image and average the logits.
        tta_translate: Also average over the four 1-pixel (reflect-padded)
            translations, each mirrored too when ``tta``; the centre view and the
            translations weigh half each (airbench's TTA level 2).
        lookahead: Every 5 steps move an EMA of the weights towards them and
            reset the weights to it, with airbench94's decay
            (:class:`~distributed_bo.trainables.lookahead.Lookahead`).
        whiten: ``fast`` only: initialise the 2x2 patch-whitening conv from 5,000
            training images and freeze its weights; false trains it from PyTorch's
            default initialisation.
        whiten_bias_epochs: ``fast`` only: epochs the whitening conv's bias trains
            before it is frozen, >= 0 (airbench: 3).
        dirac: ``fast`` only: identity (dirac) initialisation of the group convs.

    """

    model: str = "convnet"
    num_layers: int = 4
    widths: tuple[int, ...] = ()
    dropout: float = 0.0
    label_smoothing: float = 0.0
    crop_padding: int = 0
    pad_mode: PadMode = "zeros"
    flip: bool = False
    alternate_flips: bool = False
    tta: bool = False
    tta_translate: bool = False
    lookahead: bool = False
    whiten: bool = True
    whiten_bias_epochs: int = 3
    dirac: bool = True

    _prefix: ClassVar[str] = "vision_cnn"

    def __post_init__(self) -> None:
        super().__post_init__()
        check_fields(
            self,
            self._prefix,
            {
                "model": choice_check(self.model, MODEL_FAMILIES),
                "num_layers": (
                    1 <= self.num_layers <= MAX_CONVNET_LAYERS,
                    f"an int in 1..{MAX_CONVNET_LAYERS}",
                ),
                "dropout": (0 <= self.dropout < 1, "a float in [0, 1)"),
                "label_smoothing": (0 <= self.label_smoothing < 1, "a float in [0, 1)"),
                "crop_padding": (self.crop_padding >= 0, "an int >= 0"),
                "pad_mode": choice_check(self.pad_mode, PAD_MODES),
                "whiten_bias_epochs": (self.whiten_bias_epochs >= 0, "an int >= 0"),
            },
        )
        side = DATASETS[self.dataset].shape[-1]
        if self.pad_mode == "reflect" and self.crop_padding >= side:
            fail(
                join(self._prefix, "crop_padding"),
                self.crop_padding,
                f"pass a crop_padding below {side} ({self.dataset}'s images are {side} "
                "pixels wide and pad_mode is 'reflect'), or pad_mode: zeros",
            )
        if not self.widths:
            object.__setattr__(self, "widths", default_widths(self.model, self.num_layers))
        if len(self.widths) != self.depth:
            fail(
                join(self._prefix, "widths"),
                list(self.widths),
                f"give {self.depth} widths for the {self.depth} layers "
                f"(or set width_1..width_{self.depth})",
            )

    @property
    def depth(self) -> int:
        """Number of conv layers (``convnet``) or groups (``fast``) that exist."""
        return FIXED_DEPTH.get(self.model, self.num_layers)

    @classmethod
    def from_config(cls, config: Mapping[str, Any]) -> VisionConfig:
        """Build from a Ray Tune ``config``; ``width_i`` keys become :attr:`widths`.

        The config is flattened first (:func:`~distributed_bo.trainables.conditional.flat_config`,
        with the ``widths`` branch). With ``model: fast`` the keys of
        :data:`~distributed_bo.trainables.recipe.AIRBENCH94` that ``config`` lacks
        take airbench94's values.

        Raises:
            SpecError: If a value has the wrong type or is out of range.

        """
        config = flat_config(config, branches=(WIDTHS_BRANCH,))
        if config.get("model") == "fast":
            config = {**AIRBENCH94, **config}
        base = from_config(cls, config, cls._prefix)
        widths = read_widths(config, cls._prefix, default_widths(base.model, base.depth))
        return dataclasses.replace(base, widths=widths)


@dataclass(frozen=True, kw_only=True)
class AutoencoderConfig(TrainConfig):
    """Keys of ``autoencoder`` (all of :class:`TrainConfig`, plus the model's).

    Defaults differ from :class:`TrainConfig`: Adam, ``lr`` 1e-3, no weight decay,
    constant schedule, 20 epochs, batch 64.

    Attributes:
        latent_dim: Size of the code, in ``1..4096``.
        hidden: Width of the hidden layer on each side, in ``1..4096``.

    """

    epochs: int = 20
    batch_size: int = 64
    optimizer: OptimizerName = "adam"
    lr: float = 1e-3
    weight_decay: float = 0.0
    lr_schedule: LRSchedule = "constant"
    latent_dim: int = 8
    hidden: int = 128

    _prefix: ClassVar[str] = "autoencoder"

    def __post_init__(self) -> None:
        super().__post_init__()
        check_fields(
            self,
            self._prefix,
            {
                "latent_dim": (1 <= self.latent_dim <= MAX_WIDTH, f"an int in 1..{MAX_WIDTH}"),
                "hidden": (1 <= self.hidden <= MAX_WIDTH, f"an int in 1..{MAX_WIDTH}"),
            },
        )
