"""Each parameter's effect on the objective, from Ax's own analyses.

Ax's ``SlicePlot`` (the GP's predicted objective along one parameter, the others
held fixed) and ``SensitivityAnalysisPlot`` (total-order Sobol indices of the GP,
signed by the direction of the effect) are computed on the study's saved Ax
experiment with a freshly fitted BoTorch model. Their Plotly figures are not used
(rendering them to PNG needs ``kaleido``, which is not a dependency); their data
frames are drawn with Matplotlib in :mod:`distributed_bo.report.plots`.
"""

from __future__ import annotations

import json
import logging
from dataclasses import dataclass, field
from typing import Any

from distributed_bo.experiment.layout import AX_FILE
from distributed_bo.report.data import Study
from distributed_bo.types import TrialStatus

logger = logging.getLogger(__name__)


@dataclass(frozen=True, kw_only=True)
class Slice:
    """The model's prediction along one parameter.

    Attributes:
        x: Parameter values, ascending (category values for a categorical choice).
        mean: Predicted objective at each ``x``.
        sem: Standard error of each prediction.
    """

    x: list[Any]
    mean: list[float]
    sem: list[float]


@dataclass(frozen=True, kw_only=True)
class Effects:
    """What Ax's analyses said, or why they could not run.

    Attributes:
        slices: Parameter path to its slice.
        sensitivity: Parameter path to its signed total-order Sobol index (the
            absolute values sum to 1).
        fixed: How Ax fixed the other parameters for the slices.
        unavailable: Why there is no model-based analysis (empty when there is).
    """

    slices: dict[str, Slice] = field(default_factory=dict)
    sensitivity: dict[str, float] = field(default_factory=dict)
    fixed: str = ""
    unavailable: str = ""


def ax_effects(study: Study, *, min_completed: int = 3) -> Effects:
    """Fit a GP to the study's Ax experiment and run Ax's slice and sensitivity analyses.

    Never raises for a study the model cannot describe: the reason is returned in
    :attr:`Effects.unavailable` and shown in the report.

    Args:
        study: The study.
        min_completed: Fewest completed trials (warm observations included) worth
            fitting a model to.
    """
    done = [r for r in study.rows if r.get("status") == TrialStatus.COMPLETED]
    # A data warm start's observations are in the Ax experiment: the model has them too.
    if len(done) + len(study.warm) < min_completed:
        return Effects(
            unavailable=f"{len(done)} completed trial(s); Ax's model needs at least {min_completed}"
        )
    raw = study.exp.read_bytes(AX_FILE)
    if raw is None:
        return Effects(unavailable=f"the directory has no {AX_FILE}")
    try:
        experiment = _experiment(raw)
        return _analyse(experiment, study)
    except Exception as err:  # Ax and BoTorch raise many types; the report says which
        logger.debug("Ax analyses failed", exc_info=True)
        text = " ".join(str(err).split())[:300]
        return Effects(unavailable=f"Ax's analyses failed ({type(err).__name__}: {text})")


def _experiment(raw: bytes) -> Any:
    from distributed_bo.search.generator import BatchGenerator

    return BatchGenerator.client_from_json(json.loads(raw))._experiment


def _analyse(experiment: Any, study: Study) -> Effects:
    from ax.adapter.registry import Generators
    from ax.analysis.plotly.sensitivity import SensitivityAnalysisPlot
    from ax.analysis.plotly.surface.slice import SlicePlot
    from ax.analysis.plotly.utils import select_metric

    adapter = Generators.BOTORCH_MODULAR(experiment=experiment, data=experiment.lookup_data())
    # With several objectives Ax cannot pick one; the report shows the first.
    metric = study.metric if study.metric in experiment.metrics else select_metric(experiment)
    by_ax = {p.ax_name: p.path for p in study.params}
    slices: dict[str, Slice] = {}
    fixed = ""
    for ax_name, path in by_ax.items():
        if ax_name not in experiment.search_space.parameters:
            continue
        card = SlicePlot(parameter_name=ax_name, metric_name=metric).compute(
            experiment=experiment, adapter=adapter
        )
        df = card.df.drop_duplicates(subset=[ax_name]).sort_values(by=ax_name)
        slices[path] = Slice(
            x=df[ax_name].tolist(),
            mean=[float(v) for v in df[f"{metric}_mean"]],
            sem=[float(v) for v in df[f"{metric}_sem"]],
        )
        fixed = fixed or _fixed_description(card.subtitle)
    card = SensitivityAnalysisPlot(metric_name=metric, order="total", top_k=None).compute(
        experiment=experiment, adapter=adapter
    )
    sensitivity = {
        by_ax.get(name, name): float(value)
        for name, value in zip(card.df["parameter_name"], card.df["sensitivity"], strict=True)
    }
    return Effects(slices=slices, sensitivity=sensitivity, fixed=fixed)


def _fixed_description(subtitle: str) -> str:
    # Ax says e.g. "... while keeping all other parameters fixed at the center of
    # the search space. This visualization ..."
    marker = "fixed at "
    if marker not in subtitle:
        return ""
    return subtitle.split(marker, 1)[1].split(". ", 1)[0].strip()
