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
import math
from dataclasses import dataclass, field
from typing import Any

from distributed_bo.experiment.layout import AX_FILE
from distributed_bo.experiment.rows import best_row as best_of
from distributed_bo.report.data import Param, Study
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
    slices: dict[str, Slice] = {}
    fixed = ""
    for p in study.params:
        if p.ax_name not in experiment.search_space.parameters:
            continue
        if p.conditional:
            found = _slice_in_branch(experiment, adapter, metric, p, study)
            if found is not None:
                slices[p.path] = found
            continue
        card = SlicePlot(parameter_name=p.ax_name, metric_name=metric).compute(
            experiment=experiment, adapter=adapter
        )
        df = card.df.drop_duplicates(subset=[p.ax_name]).sort_values(by=p.ax_name)
        slices[p.path] = Slice(
            x=[_shown(p, x) for x in df[p.ax_name].tolist()],
            mean=[float(v) for v in df[f"{metric}_mean"]],
            sem=[float(v) for v in df[f"{metric}_sem"]],
        )
        fixed = fixed or _fixed_description(card.subtitle)
    card = SensitivityAnalysisPlot(metric_name=metric, order="total", top_k=None).compute(
        experiment=experiment, adapter=adapter
    )
    return Effects(slices=slices, sensitivity=_by_path(study, card.df), fixed=fixed)


def _shown(p: Param, ax_value: Any) -> Any:
    """An Ax value as the report shows it (a branch point's selector: its branch's label)."""
    if p.branch_point and p.categories is not None:
        return p.categories[int(ax_value)]
    return ax_value


def _slice_in_branch(
    experiment: Any, adapter: Any, metric: str, p: Param, study: Study
) -> Slice | None:
    """The slice of a parameter inside branches, in a branch where it is active.

    Ax's ``SlicePlot`` fixes the other parameters at the centre of the flat space,
    where this parameter may be inactive (its values then have no effect). Here they
    are fixed at the best completed trial among those where it is active, and the
    slice runs along its Ax parameter in that trial's branch.
    """
    from ax.analysis.plotly.surface.utils import (
        get_features_for_slice_or_contour,
        get_fixed_values_for_slice_or_contour,
        get_parameter_values,
    )

    active = [
        r for r in study.rows if p.ax_name_in(r) is not None and r.get("ax_index") is not None
    ]
    best = best_of(active, study.mode)
    name = None if best is None else p.ax_name_in(best)
    if best is None or name is None or name not in experiment.search_space.parameters:
        return None
    values, _ = get_fixed_values_for_slice_or_contour(
        experiment=experiment, generation_strategy=None
    )
    values.update(experiment.trials[int(best["ax_index"])].arm.parameters)
    xs: list[Any] = sorted(set(get_parameter_values(experiment.search_space.parameters[name])))
    features = [
        get_features_for_slice_or_contour(
            parameters={name: x}, search_space=experiment.search_space, fixed_values=values
        )
        for x in xs
    ]
    means, covariances = adapter.predict(observation_features=features)
    return Slice(
        x=[_shown(p, x) for x in xs],
        mean=[float(m) for m in means[metric]],
        sem=[float(v) ** 0.5 for v in covariances[metric][metric]],
    )


def _by_path(study: Study, df: Any) -> dict[str, float]:
    """Ax's indices by parameter path.

    A parameter inside several branches has one Ax parameter (and index) per branch:
    its index is the sum of their magnitudes, signed as the largest.
    """
    path_of = {name: p.path for p in study.params for name in (p.ax_name, *p.ax_names)}
    parts: dict[str, list[float]] = {}
    for name, value in zip(df["parameter_name"], df["sensitivity"], strict=True):
        parts.setdefault(path_of.get(name, name), []).append(float(value))
    return {
        path: math.copysign(sum(abs(v) for v in values), max(values, key=abs))
        for path, values in parts.items()
    }


def _fixed_description(subtitle: str) -> str:
    # Ax says e.g. "... while keeping all other parameters fixed at the center of
    # the search space. This visualization ..."
    marker = "fixed at "
    if marker not in subtitle:
        return ""
    return subtitle.split(marker, 1)[1].split(". ", 1)[0].strip()
