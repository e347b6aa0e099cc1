"""Warm start between conditional studies: each earlier trial keeps its branch (issue 15)."""

import io
import json

import pytest

from distributed_bo.experiment.rows import read_trials
from distributed_bo.experiment.storage import StorageDir
from distributed_bo.runner.study import run_study
from distributed_bo.search.generator import BatchGenerator, generator_key
from distributed_bo.search.warm import WARM_KEY
from distributed_bo.spec import StudySpec

SPACE = {
    "x0": {"type": "uniform", "lower": -5.0, "upper": 10.0},
    "x1": {"type": "uniform", "lower": 0.0, "upper": 15.0},
    "num_layers": {"type": "randint", "lower": 1, "upper": 4},
    "width_2": {"type": "choice", "values": [8, 16], "when": {"num_layers": ">= 2"}},
    "width_3": {"type": "choice", "values": [8, 16], "when": {"num_layers": 3}},
}
#: The flat config columns of a row, the branch's own included.
COLUMNS = (
    "config/x0",
    "config/x1",
    "config/num_layers/num_layers",
    "config/num_layers/width_2",
    "config/num_layers/width_3",
)


def _spec(root, name, *, trials, initial, warm=None):
    data = {
        "name": name,
        "objective": {"metric": "value", "mode": "min"},
        "trainable": {"name": "branin", "config": {"steps": 1}},
        "space": SPACE,
        "budget": {"num_trials": trials, "max_concurrent": 2},
        "searcher": {"num_initial": initial},
        "resources": {"cpus_per_trial": 0.5},
        "storage": str(root),
        "seed": 0,
    }
    if warm is not None:
        data["warm_start"] = warm
    return StudySpec.from_dict(data)


@pytest.fixture(scope="module")
def source(ray_session, tmp_path_factory):
    """An earlier conditional study: 6 Sobol trials over one, two and three layers."""
    root = tmp_path_factory.mktemp("earlier")
    exp = run_study(_spec(root, "earlier", trials=6, initial=6), progress=None).experiment_dir
    rows = read_trials(StorageDir.open(exp))
    assert len({r["branch/num_layers"] for r in rows}) > 1  # several branches to carry over
    return exp


def _check_one_branch(row):
    """The row holds its branch's parameters, and null for the other branches' ones."""
    layers = row["config/num_layers/num_layers"]
    assert row["branch/num_layers"] == layers - 1
    assert (row["config/num_layers/width_2"] is not None) == (layers >= 2)
    assert (row["config/num_layers/width_3"] is not None) == (layers == 3)


def _values(row):
    return tuple(row[c] for c in COLUMNS)


def test_initial_mode_reruns_the_best_configurations_with_their_branch(source, tmp_path):
    earlier = read_trials(StorageDir.open(source))
    best = sorted(earlier, key=lambda r: r["metric"])[:3]
    warm = {"from": [source], "top_k": 3}
    progress = io.StringIO()
    result = run_study(_spec(tmp_path, "warm", trials=4, initial=4, warm=warm), progress=progress)
    assert f"warm start: 3 configuration(s) from {source}" in progress.getvalue()
    rows = sorted(read_trials(StorageDir.open(result.experiment_dir)), key=lambda r: r["ax_index"])
    assert len(rows) == 4 and {r["status"] for r in rows} == {"COMPLETED"}
    assert [_values(r) for r in rows[:3]] == [_values(r) for r in best]
    assert [r["branch/num_layers"] for r in rows[:3]] == [r["branch/num_layers"] for r in best]
    assert [r["warm_start"] for r in rows] == [
        *(f"{source}#{r['ax_index']}" for r in best),
        None,
    ]
    assert [r["metric"] for r in rows[:3]] == pytest.approx([r["metric"] for r in best])
    for row in rows:
        _check_one_branch(row)


def test_data_mode_observations_enter_the_model_in_their_branch(source, tmp_path, fast_optimizer):
    earlier = sorted(read_trials(StorageDir.open(source)), key=lambda r: r["ax_index"])
    warm = {"from": [source], "mode": "data"}
    progress = io.StringIO()
    result = run_study(_spec(tmp_path, "data", trials=2, initial=4, warm=warm), progress=progress)
    assert f"warm start: 6 observation(s) from {source}" in progress.getvalue()
    exp = StorageDir.open(result.experiment_dir)
    rows = sorted(read_trials(exp), key=lambda r: r["ax_index"])
    assert [r["status"] for r in rows] == ["WARM"] * 6 + ["COMPLETED"] * 2
    # Each observation in its own branch: its values, null where its branch has none.
    assert [_values(r) for r in rows[:6]] == [_values(r) for r in earlier]
    assert [r["branch/num_layers"] for r in rows[:6]] == [r["branch/num_layers"] for r in earlier]
    for row in rows:
        _check_one_branch(row)
    # The Ax experiment holds them in their branch: the selector, and the branch's widths.
    raw = exp.read_bytes("ax_experiment.json")
    experiment = BatchGenerator.client_from_json(json.loads(raw))._experiment
    for row in rows[:6]:
        trial = experiment.trials[row["ax_index"]]
        assert generator_key(trial) == WARM_KEY
        params = trial.arm.parameters
        branch = row["branch/num_layers"]
        assert params["num_layers"] == branch
        for k in range(2, branch + 2):
            assert params[f"num_layers__b{branch}__width_{k}"] == row[
                f"config/num_layers/width_{k}"
            ]  # fmt: skip
    data = experiment.lookup_data().df.set_index("trial_index")["mean"]
    assert [data[r["ax_index"]] for r in rows[:6]] == pytest.approx([r["metric"] for r in earlier])
