"""Acquisition-function names accepted by :class:`BatchBOSearcher` and their classes."""

from __future__ import annotations

from typing import TYPE_CHECKING

from distributed_bo.search.settings import MULTI_OBJECTIVE, AcquisitionName

if TYPE_CHECKING:
    from botorch.acquisition import AcquisitionFunction


#: Most objectives for which the default acquisition is qLogNEHVI; above it,
#: qLogNParEGO. Hypervolume improvement partitions the objective space into boxes
#: whose number grows quickly with the objectives (Daulton et al., 2021, section 5);
#: ParEGO scalarises, so its cost hardly depends on their number. One q = 4 batch
#: after 100 observations on an idle 2-core CPU (``benchmarks/results/searcher_overhead.md``,
#: 2026-12-06): qLogNEHVI 10.7 / 43 / 229 s with 2 / 3 / 4 objectives, qLogNParEGO
#: 8.7 / 7.5 / 14 / 21 s with 2 to 5. At 3 a batch of 43 s still fits trials of
#: minutes; 229 s at 4 does not.
MAX_HVI_OBJECTIVES = 3


def multi_objective_acquisition(name: str, num_objectives: int) -> str:
    """The acquisition used with ``num_objectives`` > 1 objectives for setting ``name``.

    The default ``qLogNEI`` becomes its multi-objective form, qLogNEHVI (Daulton et
    al., "Parallel Bayesian Optimization of Multiple Noisy Objectives with
    Expected Hypervolume Improvement", NeurIPS 2021; log form from Ament et al.,
    2023), or qLogNParEGO (Knowles, 2006; Daulton et al., 2020) above
    :data:`MAX_HVI_OBJECTIVES` objectives.
    """
    if name in MULTI_OBJECTIVE:
        return name
    return "qLogNEHVI" if num_objectives <= MAX_HVI_OBJECTIVES else "qLogNParEGO"


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
    from botorch.acquisition.multi_objective.logei import (
        qLogNoisyExpectedHypervolumeImprovement,
    )
    from botorch.acquisition.multi_objective.parego import qLogNParEGO

    classes: dict[str, type[AcquisitionFunction]] = {
        "qLogNEI": qLogNoisyExpectedImprovement,
        "qLogEI": qLogExpectedImprovement,
        "qEI": qExpectedImprovement,
        "qNEI": qNoisyExpectedImprovement,
        "qUCB": qUpperConfidenceBound,
        "qPI": qProbabilityOfImprovement,
        "qLogNEHVI": qLogNoisyExpectedHypervolumeImprovement,
        "qLogNParEGO": qLogNParEGO,
    }
    return classes[name]
