"""Stopped trials: EARLY_STOPPED (never FAILED) in Ax, modelled per policy, slots refilled."""

import pytest
from ray import tune

from distributed_bo import BatchBOSearcher
from distributed_bo.exceptions import SpecError
from distributed_bo.search.space import map_space
from distributed_bo.search.stopped import StoppedTrialGenerator, highest_level, value_at


def curve(x, steps):
    return [[float(s), 10 * (x - 0.3) ** 2 + 1.0 / s] for s in range(1, steps + 1)]


def test_value_at_takes_the_last_report_at_or_before_the_level():
    c = [[1.0, 5.0], [2.0, 4.0], [4.0, 3.0]]
    assert value_at(c, 0.5) is None
    assert value_at(c, 2.0) == 4.0
    assert value_at(c, 3.0) == 4.0
    assert value_at(c, 9.0) == 3.0


def test_highest_level_is_the_highest_end_reached_by_enough_trials():
    ends = {0: [[1, 0.0]], 1: [[1, 0.0], [3, 0.0]], 2: [[3, 0.0]], 3: [[9, 0.0]]}
    assert highest_level(ends, 1) == 9
    assert highest_level(ends, 2) == 3
    assert highest_level(ends, 3) == 3
    assert highest_level(ends, 4) == 1
    assert highest_level(ends, 9) == 1  # too few anywhere: the lowest end
    assert highest_level({}, 2) is None


def generator(policy, num_initial=2):
    space = map_space({"x": tune.uniform(0.0, 1.0)})
    return StoppedTrialGenerator(
        policy=policy,
        space=space,
        metric="y",
        mode="min",
        acquisition="qLogNEI",
        batch_strategy="joint",
        num_initial=num_initial,
        seed=0,
    )


def finish(gen, index, steps, *, stopped):
    x = gen.parameters(index)["x"]
    c = curve(x, steps)
    gen.mark_running(index)
    gen.record_curve(index, c)
    if stopped:
        gen.early_stop(index, c[-1][1])
    else:
        gen.complete(index, c[-1][1])
    return x


def data_of(gen):
    return gen.experiment.lookup_data().full_df.set_index("trial_index")["mean"].to_dict()


def test_last_value_fits_a_stopped_trials_last_value_as_data():
    gen = generator("last_value")
    a, b, c = gen.generate(3)
    finish(gen, a, 9, stopped=False)
    xb = finish(gen, b, 1, stopped=True)
    assert gen.experiment.trials[b].status.name == "EARLY_STOPPED"
    assert data_of(gen)[b] == pytest.approx(10 * (xb - 0.3) ** 2 + 1.0)
    assert gen.num_with_data() == 2
    assert c not in data_of(gen)


def test_highest_rung_fits_values_at_the_level_enough_trials_reached(fast_optimizer):
    gen = generator("highest_rung", num_initial=2)
    t = gen.generate(5)
    finish(gen, t[0], 1, stopped=True)
    x1 = finish(gen, t[1], 3, stopped=True)
    x2 = finish(gen, t[2], 9, stopped=False)
    # Ends 1, 3, 9: level 3 (two trials reached it), each at its value at 3.
    assert gen.level == 3
    assert data_of(gen) == pytest.approx(
        {t[1]: 10 * (x1 - 0.3) ** 2 + 1 / 3, t[2]: 10 * (x2 - 0.3) ** 2 + 1 / 3}
    )
    assert gen.num_with_data() == 2
    # A second full-length trial lifts the level to 9: final values only.
    x3 = finish(gen, t[3], 9, stopped=False)
    assert gen.level == 9
    assert data_of(gen) == pytest.approx(
        {t[2]: 10 * (x2 - 0.3) ** 2 + 1 / 9, t[3]: 10 * (x3 - 0.3) ** 2 + 1 / 9}
    )
    statuses = [gen.experiment.trials[i].status.name for i in t[:4]]
    assert statuses == ["EARLY_STOPPED", "EARLY_STOPPED", "COMPLETED", "COMPLETED"]
    # The model is used, on that data.
    assert len(gen.generate(1)) == 1
    assert gen.last_stats.method == "qLogNEI"
    assert gen.last_stats.num_observations == 2


def searcher(**kwargs):
    s = BatchBOSearcher(
        space={"x": tune.uniform(0.0, 1.0)},
        metric="y",
        mode="min",
        max_concurrent=4,
        num_initial=2,
        seed=0,
        **kwargs,
    )
    assert s.wait_ready(timeout=60)
    return s


def data_of_trial(s, trial_id):
    data = s.ax_client._experiment.lookup_data().full_df.set_index("trial_index")["mean"]
    return data[s.trial_index(trial_id)]


def run_curve(s, trial_id, steps):
    config = s.suggest(trial_id)
    assert config is not None
    for t, y in curve(config["x"], steps):
        s.on_trial_result(trial_id, {"y": y, "training_iteration": int(t)})
    return config


def test_a_stopped_trial_is_early_stopped_never_failed(fast_optimizer):
    s = searcher(stopped_trials="last_value")
    try:
        run_curve(s, "done", 9)
        s.on_trial_complete("done", {"y": 0.5, "training_iteration": 9})
        config = run_curve(s, "cut", 2)
        s.on_trial_early_stopped("cut")
        # Tune's last result of a scheduler-stopped trial; never seen by on_trial_result.
        last = 10 * (config["x"] - 0.3) ** 2 + 1 / 3
        s.on_trial_complete("cut", {"y": last, "training_iteration": 3})
        # HyperBand stops a paused trial with no result: the curve's end is used.
        paused = run_curve(s, "paused", 3)
        s.on_trial_early_stopped("paused")
        s.on_trial_complete("paused")
        # HyperBand ends a paused trial that had run its full length: COMPLETED.
        full = run_curve(s, "full_paused", 9)
        s.on_trial_complete("full_paused")
        # A trial nobody stopped that ends without a metric still fails.
        assert s.wait_ready(timeout=120)
        assert s.suggest("silent") is not None
        s.on_trial_complete("silent", {"training_iteration": 1})
        assert s.wait_ready(timeout=120)
        trials = s.ax_client._experiment.trials
        status = {tid: trials[s.trial_index(tid)].status.name for tid in ("done", "cut", "paused")}
        assert status == {"done": "COMPLETED", "cut": "EARLY_STOPPED", "paused": "EARLY_STOPPED"}
        assert trials[s.trial_index("silent")].status.name == "FAILED"
        assert trials[s.trial_index("full_paused")].status.name == "COMPLETED"
        assert data_of_trial(s, "full_paused") == pytest.approx(curve(full["x"], 9)[-1][1])
        assert s.is_early_stopped("cut") and not s.is_early_stopped("done")
        data = s.ax_client._experiment.lookup_data().full_df.set_index("trial_index")["mean"]
        assert data[s.trial_index("cut")] == pytest.approx(last)
        end = 10 * (paused["x"] - 0.3) ** 2 + 1 / 3
        assert data[s.trial_index("paused")] == pytest.approx(end)
    finally:
        s.close()


@pytest.mark.parametrize("prefetch", [0, 1])
def test_a_freed_slot_gets_exactly_one_point_with_the_running_trials_pending(
    prefetch, fast_optimizer
):
    s = searcher(prefetch=prefetch)
    try:
        ids = [f"t{i}" for i in range(4)]
        for tid in ids:
            run_curve(s, tid, 1)
        assert s.suggest("t4") is None  # all 4 slots busy
        for y, tid in enumerate(ids[:2]):  # two full-length trials: enough for the model
            s.on_trial_complete(tid, {"y": 1.0 + y, "training_iteration": 9})
        assert s.wait_ready(timeout=120)
        run_curve(s, "t4", 1)
        run_curve(s, "t5", 1)
        n_batches = len(s.generation_stats)
        s.on_trial_early_stopped("t2")  # the scheduler frees one slot mid-round
        s.on_trial_complete("t2", {"y": 2.0, "training_iteration": 3})
        assert s.wait_ready(timeout=120)
        new = s.generation_stats[n_batches:]
        assert len(new) == 1
        assert new[0].num_points == 1  # exactly the freed slot (or the spare it took)
        # t3, t4, t5 still running, and with prefetch the spare that t6 takes.
        assert new[0].num_pending == 3 + prefetch
        assert new[0].method == "qLogNEI"
        assert s.suggest("t6") is not None  # the freed worker starts at once
        assert s.suggest("t7") is None
    finally:
        s.close()


def test_state_round_trip_keeps_curves_and_stops(fast_optimizer):
    s = searcher(stopped_trials="highest_rung")
    try:
        run_curve(s, "a", 9)
        s.on_trial_complete("a", {"y": 0.1, "training_iteration": 9})
        run_curve(s, "b", 2)
        s.on_trial_early_stopped("b")
        s.on_trial_complete("b", {"y": 3.0, "training_iteration": 2})
        assert s.wait_ready(timeout=120)
        state = s.get_state()
    finally:
        s.close()
    other = searcher(stopped_trials="highest_rung")
    try:
        other.set_state(state)
        assert other.is_early_stopped("b")
        assert set(other._gen.curves) == {other.trial_index("a"), other.trial_index("b")}
    finally:
        other.close()


def test_unknown_policy_is_refused():
    with pytest.raises(
        SpecError, match=r"^stopped_trials: got 'median'; use 'highest_rung' or 'last_value'"
    ):
        BatchBOSearcher(stopped_trials="median")
