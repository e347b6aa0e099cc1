"""Acquisition-function names accepted by :class:`BatchBOSearcher` and their classes."""

from __future__ import annotations

from typing import TYPE_CHECKING

from distributed_bo.search.settings import AcquisitionName

if TYPE_CHECKING:
    from botorch.acquisition import AcquisitionFunction


def acquisition_class(name: AcquisitionName | str) -> type[AcquisitionFunction]:
    """Map an acquisition name to its BoTorch class.

    The ``Log`` variants are the numerically robust LogEI family of Ament et al.,
    "Unexpected Improvements to Expected Improvement for Bayesian Optimization"
    (NeurIPS 2023); the noisy variants integrate over the posterior of the
    incumbent (Letham et al., 2019), which suits noisy training metrics.

    Args:
        name: One of :data:`~distributed_bo.search.settings.ACQUISITIONS`.

    Returns:
        The BoTorch ``AcquisitionFunction`` subclass.
    """
    from botorch.acquisition import (
        qExpectedImprovement,
        qNoisyExpectedImprovement,
        qProbabilityOfImprovement,
        qUpperConfidenceBound,
    )
    from botorch.acquisition.logei import (
        qLogExpectedImprovement,
        qLogNoisyExpectedImprovement,
    )

    classes: dict[str, type[AcquisitionFunction]] = {
        "qLogNEI": qLogNoisyExpectedImprovement,
        "qLogEI": qLogExpectedImprovement,
        "qEI": qExpectedImprovement,
        "qNEI": qNoisyExpectedImprovement,
        "qUCB": qUpperConfidenceBound,
        "qPI": qProbabilityOfImprovement,
    }
    return classes[name]
