"""``distributed-bo report``: one self-contained HTML page, plus its figures as PNG files."""

from __future__ import annotations

import contextlib
import os
from dataclasses import dataclass

from distributed_bo.exceptions import SpecError
from distributed_bo.experiment.layout import REPORT_FILE
from distributed_bo.report.data import busy_fraction, load_study, peak_concurrency, timeline
from distributed_bo.report.effects import Effects, ax_effects
from distributed_bo.report.front_plots import front_png, hypervolume_png, violations_png
from distributed_bo.report.html import render_html
from distributed_bo.report.plots import (
    best_so_far_png,
    effects_png,
    parallel_coordinates_png,
    sensitivity_png,
    timeline_png,
)


@dataclass(frozen=True, kw_only=True)
class Report:
    """What :func:`write_report` wrote.

    Attributes:
        html: Path of the HTML page.
        pngs: Paths of the PNG files beside it.
        model_note: Why Ax's model-based analyses are missing; empty if present.
    """

    html: str
    pngs: list[str]
    model_note: str


def write_report(experiment_dir: str, *, out: str | None = None, model: bool = True) -> Report:
    """Write the study's report.

    Args:
        experiment_dir: A local experiment directory (``STORAGE/NAME``).
        out: Path of the HTML file; default ``EXPERIMENT_DIR/report.html``. The PNGs
            go beside it, named ``<stem>_<figure>.png``.
        model: Fit Ax's GP for the slice and sensitivity analyses (a few seconds).

    Raises:
        ExperimentNotFoundError: If the directory holds no study or a corrupt one.
        SpecError: If ``out`` is a directory, does not end in ``.html``, or cannot
            be written; nothing is written then.
    """
    if out is not None:
        out = _check_out(out)
    study = load_study(experiment_dir)
    if out is None:
        if "://" in study.exp.uri:
            raise SpecError(
                f"--out: {study.exp.shown} is remote; pass --out PATH for a local report file"
            )
        out = os.path.join(study.exp.uri, REPORT_FILE)
    out = os.path.abspath(os.path.expanduser(out))
    effects = ax_effects(study) if model else Effects(unavailable="--no-model was given")
    labels, bars = timeline(study.rows)
    outcomes = study.spec.outcomes()
    figures = (
        {"front": front_png(study, outcomes), "hypervolume": hypervolume_png(study, outcomes)}
        if outcomes.is_multi
        else {"best_so_far": best_so_far_png(study)}
    )
    if outcomes.constraints:
        figures["violations"] = violations_png(study)
    figures |= {
        "timeline": timeline_png(labels, bars),
        "parallel_coordinates": parallel_coordinates_png(study),
        "effects": effects_png(study, effects),
    }
    if effects.sensitivity:
        figures["sensitivity"] = sensitivity_png(effects)
    page = render_html(
        study,
        figures=figures,
        effects=effects,
        lanes=len(labels),
        peak=peak_concurrency(bars),
        busy=busy_fraction(labels, bars),
    )
    stem = os.path.splitext(out)[0]
    try:
        os.makedirs(os.path.dirname(out), exist_ok=True)
        pngs = []
        for name, data in figures.items():
            pngs.append(f"{stem}_{name}.png")
            _write(pngs[-1], data)
        _write(out, page.encode("utf-8"))
    except OSError as err:
        raise SpecError(
            f"--out: cannot write {out} ({err.strerror or err}); choose another path"
        ) from err
    return Report(html=out, pngs=pngs, model_note=effects.unavailable)


def _check_out(out: str) -> str:
    """``out`` as an absolute path, checked before anything is written.

    An ``.html`` name is required, so that a slip such as ``--out DIR/spec.yaml``
    cannot replace a study's own files (``spec.yaml``, ``trials.parquet``, ...).

    Raises:
        SpecError: If it is a directory or does not end in ``.html`` (or ``.htm``).
    """
    path = os.path.abspath(os.path.expanduser(out))
    is_dir = os.path.isdir(path)
    example = os.path.join(path if is_dir else os.path.dirname(path), REPORT_FILE)
    if is_dir and out.strip():
        raise SpecError(
            f"--out: got {out!r}, which is a directory; name the HTML file, e.g. {example}"
        )
    if not path.lower().endswith((".html", ".htm")):
        raise SpecError(
            f"--out: got {out!r}; name an .html file (its PNGs go beside it), e.g. {example}"
        )
    return path


def _write(path: str, data: bytes) -> None:
    tmp = f"{path}.tmp-{os.getpid()}"
    try:
        with open(tmp, "wb") as f:
            f.write(data)
        os.replace(tmp, path)
    except OSError:
        with contextlib.suppress(OSError):
            os.unlink(tmp)
        raise
