"""Warm start with real studies: ``initial`` (best configurations run first) and ``data``."""

import dataclasses
import io
import json
import os
import signal
from pathlib import Path

import pytest

from distributed_bo.exceptions import SpecError
from distributed_bo.experiment.rows import read_trials
from distributed_bo.experiment.storage import StorageDir
from distributed_bo.report import write_report
from distributed_bo.report.show import render_summary
from distributed_bo.runner.study import resume_study, run_study
from distributed_bo.runner.warm_start import read_points, warm_start_points
from distributed_bo.runner.wiring import build_searcher
from distributed_bo.search.generator import SOBOL_KEY, BatchGenerator, generator_key
from distributed_bo.search.warm import WARM_KEY
from distributed_bo.spec import ObjectiveSpec, StudySpec, load_spec


def _spec(root, name, *, trials, x0=(-5.0, 10.0), warm=None, initial=None):
    data = {
        "name": name,
        "objective": {"metric": "value", "mode": "min"},
        "trainable": {"name": "branin", "config": {"steps": 1}},
        "space": {
            "x0": {"type": "uniform", "lower": x0[0], "upper": x0[1]},
            "x1": {"type": "uniform", "lower": 0.0, "upper": 15.0},
        },
        "budget": {"num_trials": trials, "max_concurrent": 2},
        "searcher": {"num_initial": initial or trials},
        "resources": {"cpus_per_trial": 0.5},
        "storage": str(root),
        "seed": 0,
    }
    if warm is not None:
        data["warm_start"] = warm
    return StudySpec.from_dict(data)


@pytest.fixture(scope="module")
def source(ray_session, tmp_path_factory):
    """An earlier study: 6 Sobol trials of Branin."""
    root = tmp_path_factory.mktemp("earlier")
    return run_study(_spec(root, "earlier", trials=6), progress=None).experiment_dir


def _configs(rows):
    ordered = sorted(rows, key=lambda r: r["ax_index"])
    return [(r["config/x0"], r["config/x1"]) for r in ordered]


def test_the_best_earlier_configurations_run_first_and_are_marked(source, tmp_path):
    earlier = read_trials(StorageDir.open(source))
    best = sorted(earlier, key=lambda r: r["metric"])[:2]
    spec = _spec(tmp_path, "warm", trials=3, warm={"from": [source], "top_k": 2})
    progress = io.StringIO()
    result = run_study(spec, progress=progress)
    assert f"warm start: 2 configuration(s) from {source}" in progress.getvalue()
    rows = sorted(read_trials(StorageDir.open(result.experiment_dir)), key=lambda r: r["ax_index"])
    assert len(rows) == 3
    assert _configs(rows[:2]) == _configs(best)  # the earlier best two, best first
    assert [r["warm_start"] for r in rows] == [
        f"{source}#{best[0]['ax_index']}",
        f"{source}#{best[1]['ax_index']}",
        None,
    ]
    # Re-evaluated: the same config gives Branin's same value here.
    assert [r["metric"] for r in rows[:2]] == pytest.approx([r["metric"] for r in best])
    # Saved with the study, so a resume needs the sources no more.
    saved = read_points(StorageDir.open(result.experiment_dir))
    assert [p.label for p in saved] == [r["warm_start"] for r in rows[:2]]
    assert "warm_start" in render_summary(result.experiment_dir)
    # A cold study with the same seed starts elsewhere: the earlier study's Sobol start.
    cold = run_study(_spec(tmp_path, "cold", trials=2), progress=None)
    cold_rows = read_trials(StorageDir.open(cold.experiment_dir))
    assert _configs(cold_rows) == _configs(earlier)[:2] != _configs(rows[:2])


def test_configurations_outside_the_new_space_are_skipped_with_a_count(source, tmp_path):
    earlier = read_trials(StorageDir.open(source))
    inside = [r for r in earlier if r["config/x0"] <= 2.0]
    assert 0 < len(inside) < len(earlier)
    spec = _spec(tmp_path, "narrow", trials=8, x0=(-5.0, 2.0), warm={"from": [source], "top_k": 6})
    exp = StorageDir.open(str(tmp_path), "narrow")
    warm = warm_start_points(spec, exp)
    assert len(warm.points) == len(inside)
    skipped = len(earlier) - len(inside)
    assert warm.notes == [
        f"warm start: {len(inside)} configuration(s) from {source} "
        f"(skipped: {skipped} lie outside this space or its constraints)"
    ]
    # Nothing fits: one line, before anything starts.
    none_fit = _spec(tmp_path, "none", trials=2, x0=(-5.0, -4.99), warm={"from": [source]})
    with pytest.raises(SpecError, match=r"^warm_start.from: got \[.*none of their completed"):
        run_study(none_fit, progress=None)
    assert not (tmp_path / "none").exists()


# --------------------------------------------------------------------------- data mode
def _ax_experiment(experiment_dir):
    raw = StorageDir.open(experiment_dir).read_bytes("ax_experiment.json")
    return BatchGenerator.client_from_json(json.loads(raw))._experiment


def test_data_mode_enters_earlier_trials_as_observations(source, tmp_path, fast_optimizer):
    earlier = sorted(read_trials(StorageDir.open(source)), key=lambda r: r["ax_index"])
    warm = {"from": [source], "mode": "data"}
    spec = _spec(tmp_path, "data", trials=2, warm=warm, initial=4)
    progress = io.StringIO()
    result = run_study(spec, progress=progress)
    notes = progress.getvalue()
    assert f"warm start: 6 observation(s) from {source}" in notes
    assert "no Sobol start, the first batch comes from the model" in notes
    # Two trials run, the budget; the six earlier ones are not trials of this study.
    assert [r["status"] for r in result.rows] == ["COMPLETED", "COMPLETED"]
    assert result.best in result.rows
    rows = sorted(read_trials(StorageDir.open(result.experiment_dir)), key=lambda r: r["ax_index"])
    assert [r["status"] for r in rows] == ["WARM"] * 6 + ["COMPLETED"] * 2
    assert [r["ax_index"] for r in rows] == list(range(8))
    assert [r["warm_start"] for r in rows[:6]] == [f"{source}#{r['ax_index']}" for r in earlier]
    assert [r["metric"] for r in rows[:6]] == [r["metric"] for r in earlier]
    assert _configs(rows[:6]) == _configs(earlier)
    # In the Ax experiment they are completed trials with data, under their own key.
    experiment = _ax_experiment(result.experiment_dir)
    keys = [generator_key(experiment.trials[i]) for i in range(8)]
    assert keys[:6] == [WARM_KEY] * 6 and not {WARM_KEY, SOBOL_KEY} & set(keys[6:])
    assert all(t.status.is_completed for t in experiment.trials.values())
    data = experiment.lookup_data().df.set_index("trial_index")["mean"]
    assert [data[i] for i in range(6)] == pytest.approx([r["metric"] for r in earlier])
    # A cold study's searcher (same spec and seed) starts with Sobol points, the
    # earlier study's first two; the warm one proposed from the model at once, elsewhere.
    cold_spec = _spec(tmp_path, "cold", trials=2, initial=4)
    cold = build_searcher(cold_spec)
    cold.set_max_concurrency(2)
    cold.set_search_properties(None, None, dict(cold_spec.param_space()), num_samples=2)
    try:
        assert cold.wait_ready(120)
        first = [cold.suggest(f"t{i}") for i in range(2)]
    finally:
        cold.close()
    assert [(c["x0"], c["x1"]) for c in first] == _configs(earlier)[:2] != _configs(rows[6:])
    # show and report mark them.
    summary = render_summary(result.experiment_dir)
    assert "2/2 trials (2 completed; and 6 warm-start observations" in summary
    assert summary.count(" warm ") >= 6 and f"{source}#" in summary
    assert "steps" not in summary  # a constant of the trials; the warm rows lack it
    html = Path(write_report(result.experiment_dir, model=False).html).read_text()
    assert "6 earlier result(s) entered the model as observations" in html
    assert html.count('class="s-WARM"') == 6 and f"(warm start: {source}#" in html


def test_data_mode_skips_rows_outside_the_space_and_refuses_another_objective(source, tmp_path):
    earlier = read_trials(StorageDir.open(source))
    inside = [r for r in earlier if r["config/x0"] <= 2.0]
    warm = {"from": [source], "mode": "data"}
    spec = _spec(tmp_path, "narrow", trials=2, x0=(-5.0, 2.0), warm=warm)
    points = warm_start_points(spec, StorageDir.open(str(tmp_path), "narrow"))
    assert [p.values for p in points.points] == [{"value": r["metric"]} for r in inside]
    skipped = len(earlier) - len(inside)
    assert points.notes[0] == (
        f"warm start: {len(inside)} observation(s) from {source} "
        f"(skipped: {skipped} lie outside this space or its constraints)"
    )
    # A different objective (here its mode) is refused in data mode, before anything runs.
    maximise = dataclasses.replace(spec, objective=ObjectiveSpec(metric="value", mode="max"))
    with pytest.raises(SpecError, match=r"^warm_start.from\[0\]: got '.*'; its objective") as err:
        run_study(maximise, progress=None)
    assert "(value min) is not this study's (value max)" in str(err.value)
    assert "use mode: initial" in str(err.value)
    assert not (tmp_path / "narrow").exists()
    # Nothing inside the new space: one line.
    none_fit = _spec(tmp_path, "none", trials=2, x0=(-5.0, -4.99), warm=warm)
    with pytest.raises(SpecError, match=r"^warm_start.from: got \[.*none of their completed tr"):
        run_study(none_fit, progress=None)


@pytest.mark.optimizer_optional
def test_a_resumed_data_warm_start_keeps_its_observations(ray_session, tmp_path, fast_optimizer):
    from test_resume import _rows, _wait_for, spec_text
    from test_signals import _cli

    markers = tmp_path / "markers"
    markers.mkdir()
    earlier = tmp_path / "earlier.yaml"
    earlier.write_text(spec_text(markers=markers, storage=tmp_path / "src", trials=4, step_s=0.02))
    source = run_study(load_spec(earlier), progress=None).experiment_dir
    old = sorted(read_trials(StorageDir.open(source)), key=lambda r: r["ax_index"])
    # 4 observations of num_initial 6: each run starts with Sobol points (fast).
    job = tmp_path / "warm.yaml"
    text = spec_text(markers=markers, storage=tmp_path / "exp", trials=4, initial=6)
    job.write_text(text + f"warm_start: {{from: [{source}], mode: data}}\n")
    exp = tmp_path / "exp" / "crash"

    driver = _cli("run", str(job), "--quiet")

    def one_done_one_checkpointed():
        rows = [r for r in _rows(exp) if r["status"] != "WARM"]
        done = {r["trial_id"] for r in rows if r["status"] == "COMPLETED"}
        stepped = {p.name.split(".")[0] for p in markers.glob("*.step1")}
        return bool(done) and bool(stepped - done - {r["trial_id"] for r in old})

    assert _wait_for(one_done_one_checkpointed, 240), driver.stderr
    os.killpg(driver.pid, signal.SIGINT)
    _, err = driver.communicate(timeout=120)
    assert driver.returncode == 130, err
    before = _rows(exp)
    assert [r["status"] for r in before[:4]] == ["WARM"] * 4
    assert any(r["status"] == "RUNNING" for r in before)

    result = resume_study(str(exp), progress=None)
    assert len(result.rows) == 4 and {r["status"] for r in result.rows} == {"COMPLETED"}
    rows = sorted(_rows(exp), key=lambda r: r["ax_index"])
    assert [r["status"] for r in rows] == ["WARM"] * 4 + ["COMPLETED"] * 4
    assert [r["ax_index"] for r in rows] == list(range(8))
    assert [r["warm_start"] for r in rows[:4]] == [f"{source}#{r['ax_index']}" for r in old]
    # The restored Ax experiment holds each observation once (not attached again, never
    # run) and each of the four trials once.
    experiment = _ax_experiment(str(exp))
    assert len(experiment.trials) == 8
    keys = [generator_key(experiment.trials[i]) for i in range(8)]
    assert keys[:4] == [WARM_KEY] * 4 and WARM_KEY not in keys[4:]
    assert all(t.status.is_completed for t in experiment.trials.values())
    data = experiment.lookup_data().df.set_index("trial_index")["mean"]
    assert [data[i] for i in range(4)] == pytest.approx([r["metric"] for r in old])
    ran = {p.name.split(".")[0] for p in markers.glob("*.start*")}
    assert {r["trial_id"] for r in rows[4:]} <= ran  # the warm rows' ids never ran
    assert not {f"warm-{i}" for i in range(4)} & ran


def test_data_mode_compares_constants_as_the_rows_hold_them():
    from distributed_bo.runner.results import _scalar
    from distributed_bo.runner.warm_start import _meets_constants
    from distributed_bo.spec.space import parse_space

    space = {"x": {"type": "uniform", "lower": 0, "upper": 1}, "layers": [64, 64], "act": "relu"}
    constants = parse_space(space).constants
    row = {"config/x": 0.5, "config/layers": _scalar([64, 64]), "config/act": "relu"}
    assert _meets_constants(row, constants)  # a list is JSON text in a row
    assert _meets_constants({"config/x": 0.5}, constants)  # a source without them
    assert not _meets_constants({**row, "config/layers": _scalar([32])}, constants)
    assert not _meets_constants({**row, "config/act": "tanh"}, constants)
