"""trials.parquet rows of a conditional space: absent parameters null, the branch recorded."""

from ray.tune.experiment import Trial

from distributed_bo import BatchBOSearcher
from distributed_bo.experiment.rows import read_trials
from distributed_bo.experiment.storage import StorageDir
from distributed_bo.runner.results import ResultsWriter
from distributed_bo.testing.conditional import issue_space

DEEP = {
    "arch": {"depth": 3, "width_1": 32, "width_2": 64, "width_3": 128},
    "act": {"name": "relu"},
    "lr": 0.01,
}
SHALLOW = {
    "arch": {"depth": 2, "width_1": 64, "width_2": 64},
    "act": {"name": "softplus", "beta": 1.0},
    "lr": 0.02,
}


def test_rows_hold_null_for_absent_parameters_and_the_branch_taken(tmp_path):
    searcher = BatchBOSearcher(
        space=issue_space(), metric="loss", mode="min", max_concurrent=2, seed=0
    )
    searcher.set_search_properties(None, None, {}, num_samples=2)
    try:
        exp = StorageDir.open(str(tmp_path), "w")
        writer = ResultsWriter(
            storage=exp, metric="loss", mode="min", searcher=searcher, baseline=SHALLOW
        )
        for i, config in enumerate((DEEP, SHALLOW)):
            writer._row(Trial("f", config=config, trial_id=f"t{i}", stub=True))
        writer.write()
    finally:
        searcher.close()
    rows = {r["trial_id"]: r for r in read_trials(exp)}
    deep, shallow = rows["t0"], rows["t1"]
    assert deep["branch/arch"] == 1 and deep["branch/act"] == 0
    assert shallow["branch/arch"] == 0 and shallow["branch/act"] == 1
    assert deep["config/arch/width_3"] == 128 and shallow["config/arch/width_3"] is None
    assert deep["config/act/beta"] is None and shallow["config/act/beta"] == 1.0
    assert shallow["is_baseline"] and not deep["is_baseline"]  # a nested baseline matches


WHEN_SPEC = """
name: when_rows
objective: {metric: loss, mode: min}
trainable: {name: branin}
space:
  lr: {type: loguniform, lower: 1.0e-3, upper: 1.0e-1}
  num_layers: {type: randint, lower: 1, upper: 4}
  width_1: {type: choice, values: [8, 16]}
  width_2: {type: choice, values: [8, 16], when: {num_layers: ">= 2"}}
  width_3: {type: choice, values: [8, 16], when: {num_layers: 3}}
budget: {num_trials: 6}
baseline: {lr: 0.01, num_layers: 2, width_1: 8, width_2: 16}
"""


def test_a_when_spec_proposes_its_baseline_then_one_branch_per_trial(tmp_path):
    from distributed_bo.runner.wiring import build_searcher
    from distributed_bo.spec import parse_spec

    spec = parse_spec(WHEN_SPEC)
    searcher = build_searcher(spec)
    searcher.set_max_concurrency(6)  # as the Tuner does
    searcher.set_search_properties(None, None, spec.param_space(), num_samples=6)
    try:
        configs = []
        for i in range(6):
            assert searcher.wait_ready(120)  # the batch is generated in the background
            configs.append(searcher.suggest(f"t{i}"))
        exp = StorageDir.open(str(tmp_path), "w")
        writer = ResultsWriter(
            storage=exp, metric="loss", mode="min", searcher=searcher, baseline=spec.baseline
        )
        for i, config in enumerate(configs):
            writer._row(Trial("f", config=config, trial_id=f"t{i}", stub=True))
        writer.write()
    finally:
        searcher.close()
    assert configs[0]["num_layers"] == {"num_layers": 2, "width_2": 16}
    for config in configs:
        depth = config["num_layers"]["num_layers"]
        expected = {"num_layers", *(f"width_{k}" for k in range(2, depth + 1))}
        assert set(config["num_layers"]) == expected
        assert set(config) == {"lr", "num_layers", "width_1"}
    rows = [r for r in sorted(read_trials(exp), key=lambda r: r["trial_id"])]
    assert rows[0]["is_baseline"] and rows[0]["config/num_layers/width_3"] is None
    for row, config in zip(rows, configs, strict=True):
        depth = config["num_layers"]["num_layers"]
        assert row["branch/num_layers"] == depth - 1
        assert (row["config/num_layers/width_3"] is None) == (depth < 3)
