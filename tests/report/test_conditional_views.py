"""The report's parameter views and ``show`` on a conditional space (issue 15).

A real study of a ``when:`` spec (``width_2``/``width_3`` exist with their layer)
and an explicit choice of dicts (``act``); Branin reads ``x0``/``x1`` only.
"""

from pathlib import Path

import pytest

from distributed_bo.experiment.rows import read_trials
from distributed_bo.experiment.storage import StorageDir
from distributed_bo.report import write_report
from distributed_bo.report.data import load_study, searched_params
from distributed_bo.report.effects import ax_effects
from distributed_bo.report.plots import axis_name
from distributed_bo.report.show import render_summary
from distributed_bo.runner.study import run_study
from distributed_bo.spec import StudySpec
from distributed_bo.testing.optimizer import fast_optimizer

TRIALS = 8
SPACE = {
    "x0": {"type": "uniform", "lower": -5.0, "upper": 10.0},
    "x1": {"type": "uniform", "lower": 0.0, "upper": 15.0},
    "num_layers": {"type": "randint", "lower": 1, "upper": 4},
    "width_2": {"type": "choice", "values": [8, 16], "when": {"num_layers": ">= 2"}},
    "width_3": {"type": "choice", "values": [8, 16], "when": {"num_layers": 3}},
    "act": {
        "type": "choice",
        "values": [
            {"name": "relu"},
            {"name": "softplus", "beta": {"type": "uniform", "lower": 0.5, "upper": 2.0}},
        ],
    },
}


def _spec(root=None):
    return StudySpec.from_dict(
        {
            "name": "cond",
            "objective": {"metric": "value", "mode": "min"},
            "trainable": {"name": "branin", "config": {"steps": 1}},
            "space": SPACE,
            "budget": {"num_trials": TRIALS, "max_concurrent": 2},
            "searcher": {"num_initial": 6},
            "resources": {"cpus_per_trial": 0.5},
            "storage": str(root or "/tmp"),
            "seed": 0,
        }
    )


@pytest.fixture(scope="module")
def study_dir(ray_session, tmp_path_factory):
    root = tmp_path_factory.mktemp("conditional")
    with fast_optimizer(allow_unused=True):
        return run_study(_spec(root), progress=None).experiment_dir


def test_the_params_are_the_searchers_ax_parameters_branch_points_and_inner_ones():
    from distributed_bo.search.space import map_space

    spec = _spec()
    params = searched_params(spec)
    assert [p.name for p in params] == [
        "x0", "x1", "num_layers", "width_2", "width_3", "act/name", "act/beta",
    ]  # fmt: skip
    ours = {n for p in params for n in (p.ax_name, *p.ax_names)}
    assert ours == {p.ax_name for p in map_space(spec.param_space()).parameters}
    by_name = {p.name: p for p in params}
    layers, act = by_name["num_layers"], by_name["act/name"]
    assert layers.branch_point and layers.categories == ("1", "2", "3")
    assert layers.column == "branch/num_layers" and not layers.conditional
    assert act.branch_point and act.categories == ("relu", "softplus") and act.path == "act"
    width_2 = by_name["width_2"]
    assert width_2.column == "config/num_layers/width_2" and width_2.conditional
    assert width_2.branches == (("num_layers", 1), ("num_layers", 2))  # one axis, two branches
    assert by_name["act/beta"].ax_names == ("act__b1__beta",)


def test_views_hold_the_branch_axis_and_inner_params_active_where_their_branch_is(study_dir):
    study = load_study(study_dir)
    rows = read_trials(StorageDir.open(study_dir))
    assert len(study.rows) == TRIALS
    by_name = {p.name: p for p in study.params}
    layers = [by_name["num_layers"].value(r) for r in study.rows]
    assert set(layers) <= {"1", "2", "3"} and len(set(layers)) > 1  # both kinds of rows
    assert layers == [str(r["config/num_layers/num_layers"]) for r in study.rows]
    deep = sum(1 for v in layers if v == "3")
    wide = sum(1 for v in layers if v in ("2", "3"))
    for name, active in (("width_3", deep), ("width_2", wide)):
        p = by_name[name]
        assert sum(1 for r in study.rows if p.value(r) is not None) == active
        assert axis_name(p, study.rows) == f"{name}\n{active}/{TRIALS} active"
        for r, layer in zip(study.rows, layers, strict=True):
            assert (p.ax_name_in(r) is None) == (p.value(r) is None)
            if p.value(r) is not None:
                assert p.ax_name_in(r) == f"num_layers__b{int(layer) - 1}__{name}"
    softplus = sum(1 for r in rows if r["branch/act"] == 1)
    assert sum(1 for r in study.rows if by_name["act/beta"].value(r) is not None) == softplus
    assert axis_name(by_name["num_layers"], study.rows) == "num_layers"  # always there

    effects = ax_effects(study)
    assert effects.unavailable == ""
    assert effects.slices["num_layers"].x == ["1", "2", "3"]  # by branch label
    assert effects.slices["act"].x == ["relu", "softplus"]
    # In a branch where it is active: the model's prediction moves with it.
    for path in ("num_layers/width_2", "num_layers/width_3", "act/beta"):
        assert len(effects.slices[path].x) >= 2
    assert sorted(effects.slices["num_layers/width_3"].x) == [8, 16]
    assert set(effects.sensitivity) == {p.path for p in study.params}  # by path, not Ax name


def test_show_and_report_name_params_as_the_spec_does_and_leave_out_absent_ones(
    study_dir, tmp_path
):
    summary = render_summary(study_dir)
    header = next(line for line in summary.splitlines() if line.startswith("trial"))
    assert header.split()[-7:] == [
        "act/beta", "act/name", "num_layers", "width_2", "width_3", "x0", "x1",
    ]  # fmt: skip
    assert "num_layers/num_layers" not in summary
    best = summary.split("\nbest value = ")[1].split("\n\n")[0].splitlines()[1:]
    names = [line.split(" = ")[0].strip() for line in best]
    assert "num_layers" in names and "x0" in names
    assert all(not line.endswith("= -") for line in best)  # inactive ones are absent
    study = load_study(study_dir)
    row = next(r for r in study.rows if r is not None and r["ax_index"] == int(
        summary.split("(trial ")[1].split(")")[0]
    ))  # fmt: skip
    layers = row["config/num_layers/num_layers"]
    assert ("width_3" in names) == (layers == 3) and ("width_2" in names) == (layers >= 2)

    report = write_report(study_dir, out=str(tmp_path / "r.html"), model=False)
    page = Path(report.html).read_text()
    best_line = page.split("<b>best</b></td><td>")[1].split("</td>")[0]
    assert f"num_layers={layers}" in best_line and "=-" not in best_line
    table = page.split("<h2>Trials</h2>")[1]
    assert "<th>width_3</th>" in table and "<th>num_layers</th>" in table
    assert "A parameter inside branches: the trials where it was active" in page


NESTED = {
    "x": {"type": "uniform", "lower": 0.0, "upper": 1.0},
    "opt": {
        "type": "choice",
        "values": [
            {"name": "sgd", "momentum": {"type": "uniform", "lower": 0.0, "upper": 0.99}},
            {
                "name": "adam",
                "sched": {
                    "type": "choice",
                    "values": [
                        {"kind": "const"},
                        {
                            "kind": "step",
                            "gamma": {"type": "uniform", "lower": 0.1, "upper": 0.9},
                            "at": {"epoch": {"type": "randint", "lower": 1, "upper": 5}},
                        },
                    ],
                },
            },
        ],
    },
    "grp": {
        "arch": {
            "type": "choice",
            "values": [{"d": 1}, {"d": 2, "w": {"type": "choice", "values": [1, 2]}}],
        }
    },
}


def test_nested_branch_points_and_grouped_ones_are_axes_named_as_the_searcher_names_them():
    from distributed_bo.search.space import map_space

    spec = StudySpec.from_dict(
        {
            "name": "nested",
            "objective": {"metric": "value", "mode": "min"},
            "trainable": {"name": "missing_module:fn"},
            "space": NESTED,
            "budget": {"num_trials": 4},
        },
        import_trainable=False,
    )
    params = searched_params(spec)
    ours = {n for p in params for n in (p.ax_name, *p.ax_names)}
    assert ours == {p.ax_name for p in map_space(spec.param_space()).parameters}
    by_name = {p.name: p for p in params}
    assert list(by_name) == [
        "x", "opt/name", "opt/momentum", "opt/sched/kind", "opt/sched/gamma",
        "opt/sched/at/epoch", "grp/arch/d", "grp/arch/w",
    ]  # fmt: skip
    sched = by_name["opt/sched/kind"]  # a branch point inside a branch: absent with it
    assert sched.branch_point and sched.conditional and sched.categories == ("const", "step")
    assert sched.column == "branch/opt/sched" and sched.branches == (("opt", 1),)
    epoch = by_name["opt/sched/at/epoch"]
    assert epoch.ax_name == "opt__b1__sched__b1__at__epoch"
    row = {"branch/opt": 1, "branch/opt/sched": 1, "config/opt/sched/at/epoch": 3}
    assert epoch.ax_name_in(row) == epoch.ax_name and epoch.value(row) == 3
    assert sched.value(row) == "step" and sched.ax_name_in({"branch/opt": 0}) is None
    assert by_name["grp/arch/d"].categories == ("1", "2")
