"""A fully connected autoencoder for small greyscale images (digits, MNIST)."""

from __future__ import annotations

import torch
from torch import nn


class Autoencoder(nn.Module):
    """Encoder ``D -> hidden -> latent``, decoder ``latent -> hidden -> D``, sigmoid output.

    Args:
        in_features: Pixels per image ``D = C * H * W``.
        latent_dim: Size of the code, >= 1.
        hidden: Width of the hidden layer on each side, >= 1.

    """

    def __init__(self, *, in_features: int, latent_dim: int, hidden: int) -> None:
        super().__init__()
        self.encoder = nn.Sequential(
            nn.Linear(in_features, hidden), nn.ReLU(inplace=True), nn.Linear(hidden, latent_dim)
        )
        self.decoder = nn.Sequential(
            nn.Linear(latent_dim, hidden),
            nn.ReLU(inplace=True),
            nn.Linear(hidden, in_features),
            nn.Sigmoid(),
        )

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """Reconstruct images ``B x D`` in ``[0, 1]``; returns ``B x D`` in ``(0, 1)``."""
        return self.decoder(self.encoder(x))
