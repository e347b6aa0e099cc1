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
