"""airbench94's training recipe: the ``vision_cnn`` config values ``model: fast`` defaults to.

airbench94 (Keller Jordan, "94% on CIFAR-10 in 3.29 seconds on a single GPU",
arXiv:2404.00498; ``airbench94.py`` reports 94.01% mean test accuracy in 3.83 s on one
A100, n = 700) trains the ``fast`` architecture with each element below. A
``vision_cnn`` config with ``model: fast`` takes these values for every key it does
not set, so a study can tune any one of them and keep the rest. Where this loop
differs from airbench: ``epochs`` is an int (airbench 9.9), autocast is bf16 on CUDA
(airbench casts the model to fp16), the loss is the batch mean with the learning
rate scaled to match (:func:`~distributed_bo.trainables.optim.decoupled_step`), and
validation metrics are reported every epoch.
"""

from __future__ import annotations

from collections.abc import Mapping
from types import MappingProxyType
from typing import Any

AIRBENCH94: Mapping[str, Any] = MappingProxyType(
    {
        # schedule and optimiser
        "epochs": 10,
        "batch_size": 1024,
        "optimizer": "sgd_decoupled",  # Nesterov SGD, lr and decay per 1,024 examples
        "lr": 11.5,
        "momentum": 0.85,
        "nesterov": True,
        "weight_decay": 0.0153,
        "bias_lr_scale": 64.0,  # BatchNorm biases learn 64x faster (not decay faster)
        "lr_schedule": "triangle",  # 0.2 -> 1 over 23% of the steps -> 0.07
        "lookahead": True,  # EMA of the weights every 5 steps (hlb-cifar10's lookahead)
        "label_smoothing": 0.2,
        # data
        "crop_padding": 2,  # translate by up to 2 pixels
        "pad_mode": "reflect",
        "flip": True,
        "alternate_flips": True,  # each image flipped on alternate epochs
        # model
        "whiten": True,  # frozen 2x2 patch whitening from 5,000 training images
        "whiten_bias_epochs": 3,  # its bias trains for the first 3 epochs, then freezes
        "dirac": True,  # identity initialisation of the group convs
        "channels_last": True,  # CUDA only
        "amp": True,  # bf16 autocast, CUDA only
        # evaluation
        "tta": True,  # average with the mirror image
        "tta_translate": True,  # and with the four 1-pixel translations (level 2)
    }
)
