"""Ray Tune's actor reuse, with the fix of :mod:`distributed_bo.runner.tune_fixes`."""

from __future__ import annotations

import os

import pytest

from distributed_bo.runner.tune_fixes import drop_stale_actor_failures

pytestmark = pytest.mark.usefixtures("ray_session")


def _dies_when_reused():
    """A class trainable whose actor dies in ``reset_config``: when Tune reuses it."""
    from ray import tune

    class DiesWhenReused(tune.Trainable):
        def setup(self, config):
            self.x = config["x"]

        def step(self):
            return {"value": float(self.x), "done": True}

        def reset_config(self, new_config):
            os._exit(1)  # the actor is lost while Tune resets it for the next trial

        def save_checkpoint(self, checkpoint_dir):
            return None

        def load_checkpoint(self, checkpoint):
            pass

    return DiesWhenReused


def test_a_trial_whose_reused_actor_dies_in_reset_is_retried(tmp_path):
    """Each trial after the first is handed the last trial's actor, which dies in
    ``reset``. Tune counts that failure and requeues the trial, then ended it as
    ERROR on the reset task's report of the same failure (retries left). Fixed,
    each such trial fails once and then completes on a fresh actor."""
    from ray import tune

    assert drop_stale_actor_failures()
    assert drop_stale_actor_failures()  # idempotent
    trials = 4
    results = tune.Tuner(
        _dies_when_reused(),
        param_space={"x": tune.grid_search(list(range(trials)))},
        tune_config=tune.TuneConfig(reuse_actors=True, max_concurrent_trials=1),
        run_config=tune.RunConfig(
            storage_path=str(tmp_path),
            failure_config=tune.FailureConfig(max_failures=1),
            verbose=0,
        ),
    ).fit()

    assert [r.error for r in results] == [None] * trials
    assert sorted(r.metrics["value"] for r in results) == [0.0, 1.0, 2.0, 3.0]
    failures = sorted(t.run_metadata.num_failures for t in results._experiment_analysis.trials)
    assert failures == [0, 1, 1, 1]  # each reuse killed its actor once
