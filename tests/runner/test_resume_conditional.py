"""Driver SIGKILL, then `resume`, with a conditional space: one branch per trial (issue 15).

The crash study of ``test_resume`` with per-layer widths that exist only with their
layer (``when:``); the counting trainable reads ``x0``/``x1`` only. After the resume
every row and every Ax trial holds exactly one resolved branch, and they agree.
"""

import json
import signal

import pytest

from distributed_bo.search.generator import BatchGenerator
from distributed_bo.search.space import flatten, map_space
from distributed_bo.spec import load_spec

WIDTHS = """\
  num_layers: {type: randint, lower: 1, upper: 4}
  width_2: {type: choice, values: [8, 16], when: {num_layers: ">= 2"}}
  width_3: {type: choice, values: [8, 16], when: {num_layers: 3}}
"""
WIDTH_COLUMNS = ("config/num_layers/width_2", "config/num_layers/width_3")


def test_sigkill_then_resume_keeps_one_branch_per_trial_rows_and_ax_agree(tmp_path):
    from test_resume import _cli, _resumable_trial, _rows, _wait_for, spec_text

    trials = 6
    markers = tmp_path / "markers"
    markers.mkdir()
    job = tmp_path / "crash.yaml"
    text = spec_text(markers=markers, storage=tmp_path / "exp", trials=trials, step_s=0.6)
    job.write_text(text.replace("budget:", WIDTHS + "budget:", 1))
    exp = tmp_path / "exp" / "crash"

    driver = _cli("run", str(job), "--quiet")
    assert _wait_for(lambda: _resumable_trial(markers), 240), driver.stderr
    driver.send_signal(signal.SIGKILL)
    driver.wait(30)
    before = {r["trial_id"]: r for r in _rows(exp)}
    assert any(r["status"] == "RUNNING" for r in before.values())

    resumed = _cli("resume", str(exp), "--quiet")
    _, err = resumed.communicate(timeout=400)
    assert resumed.returncode == 0, err

    rows = sorted(_rows(exp), key=lambda r: r["ax_index"])
    # Nothing lost, nothing duplicated.
    assert len(rows) == trials == len({r["trial_id"] for r in rows})
    assert [r["ax_index"] for r in rows] == list(range(trials))
    assert {r["status"] for r in rows} == {"COMPLETED"}
    # Each row: one branch, its widths set and the other branches' null.
    for r in rows:
        layers = r["config/num_layers/num_layers"]
        assert layers in (1, 2, 3) and r["branch/num_layers"] == layers - 1
        assert [r[c] is not None for c in WIDTH_COLUMNS] == [layers >= 2, layers == 3]
        assert all(r[c] in (None, 8, 16) for c in WIDTH_COLUMNS)
        old = before.get(r["trial_id"])
        if old is not None:  # a trial kept its config (and branch) across the kill
            keys = ("branch/num_layers", "config/x0", "config/num_layers/num_layers")
            assert [old[k] for k in keys] == [r[k] for k in keys]
    # The Ax experiment: each row's trial once, its arm the row's branch and values.
    experiment = BatchGenerator.client_from_json(
        json.loads((exp / "ax_experiment.json").read_text())
    )._experiment
    assert len(experiment.trials) == trials
    assert all(t.status.is_completed for t in experiment.trials.values())
    space = map_space(load_spec(str(job)).param_space())
    for r in rows:
        arm = experiment.trials[r["ax_index"]].arm.parameters
        assert space.branches(arm) == {"num_layers": r["branch/num_layers"]}
        config = flatten(space.to_config(arm))
        searched = {k: v for k, v in config.items() if k != "marker_dir"}
        row_config = {
            k.removeprefix("config/"): v
            for k, v in r.items()
            if k.startswith("config/") and v is not None
        }
        assert searched.items() <= row_config.items()
        assert {k for k in row_config if k.startswith("num_layers/")} == {
            k for k in searched if k.startswith("num_layers/")
        }
    data = experiment.lookup_data().df.set_index("trial_index")["mean"]
    for r in rows:
        assert data[r["ax_index"]] == pytest.approx(r["metric"])
