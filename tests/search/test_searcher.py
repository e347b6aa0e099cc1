"""The searcher contract, run for every batch strategy and a spread of acquisitions."""

import math
import sys

import pytest
import ray.cloudpickle
from ray import tune

from distributed_bo import BatchBOSearcher, SearcherStateError, SpecError
from distributed_bo.search.settings import GENERATION_CHUNK

SPACE = {"x": tune.uniform(-5.0, 10.0), "y": tune.uniform(0.0, 15.0), "tag": "const"}


def branin(c):
    x1, x2 = c["x"], c["y"]
    return (
        (x2 - 5.1 / (4 * math.pi**2) * x1**2 + 5 / math.pi * x1 - 6) ** 2
        + 10 * (1 - 1 / (8 * math.pi)) * math.cos(x1)
        + 10
    )


def make(strategy="joint", acquisition="qLogNEI", **kw):
    kw.setdefault("space", SPACE)
    kw.setdefault("max_concurrent", 4)
    kw.setdefault("num_initial", 4)
    kw.setdefault("seed", 0)
    # The contract below counts points per free slot; spares are tested on their own.
    kw.setdefault("prefetch", 0)
    return BatchBOSearcher(
        metric="v",
        mode="min",
        batch_strategy=strategy,
        acquisition=acquisition,
        **kw,
    )


def fill(searcher, live, counter, timeout=120):
    """Ask for configs until the searcher has none for free slots; return how many."""
    got = 0
    assert searcher.wait_ready(timeout)
    while True:
        tid = f"t{counter[0]}"
        config = searcher.suggest(tid)
        if config is None or config == BatchBOSearcher.FINISHED:
            return got
        live[tid] = config
        counter[0] += 1
        got += 1


def drive(searcher, n_trials, fail_ids=()):
    """Run a study synchronously: complete the oldest live trial whenever slots are full."""
    live, counter, order = {}, [0], []
    while counter[0] < n_trials or live:
        if counter[0] < n_trials:
            fill(searcher, live, counter)
        tid = sorted(live, key=lambda t: int(t[1:]))[0]
        config = live.pop(tid)
        order.append((tid, config))
        if tid in fail_ids:
            searcher.on_trial_complete(tid, error=True)
        else:
            searcher.on_trial_complete(tid, {"v": branin(config)})
        if counter[0] >= n_trials:
            continue
    return order


CASES = [("joint", "qLogNEI"), ("sequential", "qLogNEI"), ("joint", "qEI"), ("joint", "qUCB")]


@pytest.fixture(params=CASES, ids=[f"{s}-{a}" for s, a in CASES])
def searcher(request):
    s = make(*request.param)
    yield s
    s.close()


class TestContract:
    def test_first_round_fills_every_slot(self, searcher):
        live, counter = {}, [0]
        assert fill(searcher, live, counter) == 4
        assert all(c["tag"] == "const" for c in live.values())
        assert searcher.generation_stats[0].method == "sobol"
        assert searcher.generation_stats[0].num_points == 4

    def test_freed_slots_are_refilled_conditioned_on_running_trials(self, searcher, fast_optimizer):
        live, counter = {}, [0]
        fill(searcher, live, counter)
        for tid in list(live)[:2]:  # two of four slots free up
            searcher.on_trial_complete(tid, {"v": branin(live.pop(tid))})
        assert fill(searcher, live, counter) == 2
        for _ in range(3):  # reach num_initial=4 completions, then the model proposes
            tid = next(iter(live))
            searcher.on_trial_complete(tid, {"v": branin(live.pop(tid))})
        got = fill(searcher, live, counter)
        assert got == 3
        bo = [s for s in searcher.generation_stats if s.method != "sobol"]
        assert bo, "the model was never used"
        assert bo[-1].num_points == 3
        assert bo[-1].num_pending == 1  # the trial still running is a pending point
        assert bo[-1].num_observations == 5

    def test_failed_trials_are_never_data(self, searcher, fast_optimizer):
        order = drive(searcher, 8, fail_ids={"t1", "t5"})
        assert len(order) == 8
        searcher.wait_ready(60)
        exp = searcher.ax_client._experiment
        failed = [t for t in exp.trials.values() if t.status.is_failed]
        assert {searcher.trial_index("t1"), searcher.trial_index("t5")} == {t.index for t in failed}
        data_trials = set(exp.lookup_data().df["trial_index"])
        assert not data_trials & {t.index for t in failed}
        assert len(data_trials) == 6

    def test_nan_inf_and_missing_metric_fail(self, searcher):
        live, counter = {}, [0]
        fill(searcher, live, counter)
        t0, t1, t2, t3 = list(live)
        searcher.on_trial_complete(t0, {"v": float("nan")})
        searcher.on_trial_complete(t1, {"v": float("inf")})
        searcher.on_trial_complete(t2, {"other": 1.0})
        searcher.on_trial_complete(t3, {"v": 1.0})
        searcher.wait_ready(60)
        exp = searcher.ax_client._experiment
        statuses = {t: exp.trials[searcher.trial_index(t)].status.name for t in live}
        assert statuses == {t0: "FAILED", t1: "FAILED", t2: "FAILED", t3: "COMPLETED"}
        assert "reported no 'v'" in exp.trials[searcher.trial_index(t2)].status_reason

    def test_intermediate_results_are_kept_per_trial(self, searcher):
        live, counter = {}, [0]
        fill(searcher, live, counter)
        tid = next(iter(live))
        for i in range(3):
            searcher.on_trial_result(tid, {"v": 10.0 - i, "training_iteration": i + 1})
        assert searcher.get_state()["curves"][tid] == [[1.0, 10.0], [2.0, 9.0], [3.0, 8.0]]


def test_same_seed_and_results_give_same_proposals(fast_optimizer):
    a, b = make(seed=3), make(seed=3)
    try:
        oa, ob = drive(a, 9), drive(b, 9)
    finally:
        a.close()
        b.close()
    assert [c for _, c in oa] == [c for _, c in ob]
    c = make(seed=4)
    try:
        assert [cfg for _, cfg in drive(c, 4)] != [cfg for _, cfg in oa[:4]]
    finally:
        c.close()


def test_save_restore_round_trip(tmp_path, fast_optimizer):
    s = make()
    live, counter = {}, [0]
    fill(s, live, counter)
    done = list(live)[:2]
    for tid in done:
        s.on_trial_complete(tid, {"v": branin(live.pop(tid))})
    fill(s, live, counter)
    path = tmp_path / "searcher.json"
    s.save(str(path))
    s.close()

    r = make()
    r.restore(str(path))
    exp = r.ax_client._experiment
    assert len(exp.trials) == 6
    assert sum(t.status.is_completed for t in exp.trials.values()) == 2
    assert r.trial_index(done[0]) == s.trial_index(done[0])
    # Trials that were live come back through Tune with the same ids and finish.
    for tid, config in list(live.items()):
        r.on_trial_result(tid, {"v": 1.0, "config": config})
        r.on_trial_complete(tid, {"v": branin(config), "config": config})
    r.wait_ready(60)
    assert sum(t.status.is_completed for t in exp.trials.values()) == 6
    # The batch above may be Sobol: its cycle can start before the last results are
    # applied. With all six applied, the next one is the model's.
    handed = {}
    assert fill(r, handed, counter) == 4
    tid = next(iter(handed))
    r.on_trial_complete(tid, {"v": branin(handed.pop(tid))})
    assert r.wait_ready(60)
    assert r.generation_stats[-1].method == "qLogNEI"
    r.close()


def test_restore_reattaches_trials_the_saved_searcher_never_saw(tmp_path):
    s = make()
    live, counter = {}, [0]
    fill(s, live, counter)
    s.save(str(tmp_path / "s.json"))
    s.close()

    r = make()
    r.restore(str(tmp_path / "s.json"))
    n_before = len(r.ax_client._experiment.trials)
    # A trial Tune started after the searcher's checkpoint: unknown id and config.
    unknown = {"x": 1.0, "y": 2.0, "tag": "const"}
    r.on_trial_result("tune-only", {"v": 3.0, "config": unknown})
    r.on_trial_complete("tune-only", {"v": 3.0, "config": unknown})
    r.wait_ready(60)
    exp = r.ax_client._experiment
    index = r.trial_index("tune-only")
    assert index is not None and index >= n_before
    assert exp.trials[index].status.is_completed
    assert exp.trials[index].arm.parameters == {"x": 1.0, "y": 2.0}
    r.close()


def test_restore_binds_a_trial_tune_created_after_the_saved_state(tmp_path):
    """Tune snapshotted a trial it had just been given; the searcher state lagged.

    The candidate was still queued in the saved state. Tune resumes that trial, so the
    candidate must not be handed to a new trial as well (the chaos benchmark's
    duplicate): the trial is bound to it before anything is suggested.
    """
    s = make(max_concurrent=2, num_initial=4)
    live, counter = {}, [0]
    fill(s, live, counter)  # t0 and t1 running
    done = "t0"
    value = branin(live.pop(done))
    s.on_trial_complete(done, {"v": value})
    assert s.wait_ready(60)
    s.save(str(tmp_path / "s.json"))
    assert s.get_state()["ready"] == [2]  # generated for the freed slot, not yet given
    created = "t2"  # handed out after the save; only Tune's snapshot has it
    config = s.suggest(created)
    assert s.trial_index(created) == 2
    s.close()

    r = make(max_concurrent=2, num_initial=4)
    r.set_resume_info(
        tune_trials={"t0", "t1", created},
        finished={done: ("complete", value)},
        unfinished_configs={"t1": live["t1"], created: config},
    )
    r.restore(str(tmp_path / "s.json"))
    assert r.trial_index(created) == 2
    assert r.suggest("t3") is None  # t1 and t2 hold both slots
    r.on_trial_complete("t1", {"v": branin(live["t1"])})  # frees a slot
    assert r.wait_ready(60)
    fresh = r.suggest("t3")
    assert fresh is not None and r.trial_index("t3") == 3  # not candidate 2 again
    assert {k: fresh[k] for k in ("x", "y")} != {k: config[k] for k in ("x", "y")}
    r.close()


def test_restore_rejects_corrupt_state(tmp_path):
    bad = tmp_path / "bad.json"
    bad.write_text("{not json")
    s = make()
    with pytest.raises(SearcherStateError, match="not valid JSON"):
        s.restore(str(bad))
    with pytest.raises(SearcherStateError, match="does not exist"):
        s.restore(str(tmp_path / "missing.json"))
    s.close()


def test_batch_size_caps_points_per_optimisation():
    s = make(batch_size=2)
    live, counter = {}, [0]
    fill(s, live, counter)
    assert [st.num_points for st in s.generation_stats] == [2, 2]
    s.close()


def test_many_free_slots_get_their_points_a_chunk_at_a_time():
    """16 free slots: cycles of GENERATION_CHUNK points, not one 16-point optimisation."""
    s = make(max_concurrent=16, num_initial=16)
    live, counter = {}, [0]
    assert fill(s, live, counter) == 16
    sizes = [st.num_points for st in s.generation_stats]
    assert sizes == [GENERATION_CHUNK] * (16 // GENERATION_CHUNK)
    s.close()


def test_prefetch_keeps_a_spare_so_a_freed_slot_never_waits(fast_optimizer):
    s = make(prefetch=1)
    try:
        live, counter = {}, [0]
        assert fill(s, live, counter) == 4
        assert s.wait_ready(60)
        # The 4 slots' Sobol points, then the spare in the next cycle.
        assert [st.num_points for st in s.generation_stats] == [4, 1]
        for _ in range(6):
            tid = next(iter(live))
            s.on_trial_complete(tid, {"v": branin(live.pop(tid))})
            new_id = f"t{counter[0]}"
            config = s.suggest(new_id)  # no wait: the spare was ready before the slot freed
            assert config is not None
            live[new_id] = config
            counter[0] += 1
            assert s.suggest(f"t{counter[0]}") is None  # every slot busy again
            assert s.wait_ready(120)  # the next spare
        bo = [st for st in s.generation_stats if st.method != "sobol"]
        assert bo, "the model was never used"
        # Each spare: one point, conditioned on the 3 running trials and the spare
        # that the freed slot took.
        assert all(st.num_points == 1 and st.num_pending == 4 for st in bo)
    finally:
        s.close()


def test_default_spares_are_a_round_first_and_none_with_one_slot():
    for slots, cycles in ((4, [4, 4]), (1, [1])):
        s = make(prefetch=None, max_concurrent=slots)
        try:
            assert s.wait_ready(60)
            # The free slots' Sobol points, then one spare per slot (a cycle
            # generates at most one point per slot).
            assert [st.num_points for st in s.generation_stats] == cycles
        finally:
            s.close()


@pytest.mark.parametrize("prefetch, served", [(None, 4), (1, 1)])
def test_trials_that_end_together_each_find_a_point_ready(prefetch, served):
    """Equal-length trials started together end together: the default has a point
    ready for each freed slot; a single spare serves only one of them."""
    s = make(prefetch=prefetch, num_initial=50)
    try:
        live, counter = {}, [0]
        assert fill(s, live, counter) == 4
        assert s.wait_ready(60)
        with s._worker.ax_lock:  # no generation while the round ends
            for tid in list(live):
                s.on_trial_complete(tid, {"v": branin(live.pop(tid))})
            got = [s.suggest(f"n{i}") for i in range(4)]
        assert sum(c is not None for c in got) == served
    finally:
        s.close()


# With 3 spares every point is drawn before the model is used.
@pytest.mark.parametrize("prefetch", [0, 1, pytest.param(3, marks=pytest.mark.optimizer_optional)])
def test_prefetch_never_creates_more_trials_than_the_budget(prefetch, fast_optimizer):
    s = make(prefetch=prefetch, max_concurrent=2)
    s.set_search_properties(None, None, {}, num_samples=7)
    try:
        order = drive(s, 7)
        assert len(order) == 7
        assert s.wait_ready(60)
        assert len(s.ax_client._experiment.trials) == 7
        assert s.suggest("extra") == BatchBOSearcher.FINISHED
    finally:
        s.close()


def test_points_to_evaluate_run_first():
    s = make(points_to_evaluate=[{"x": 0.5, "y": 1.5}])
    live, counter = {}, [0]
    fill(s, live, counter)
    assert live["t0"] == {"x": 0.5, "y": 1.5, "tag": "const"}
    s.close()


@pytest.mark.parametrize(
    ("kwargs", "field"),
    [
        ({"acquisition": "EI"}, "acquisition"),
        ({"batch_strategy": "greedy"}, "batch_strategy"),
        ({"mode": "maximize"}, "mode"),
        ({"batch_size": 0}, "batch_size"),
        ({"num_initial": True}, "num_initial"),
        ({"parameter_constraints": "x <= 1"}, "parameter_constraints"),
        ({"prefetch": -1}, "prefetch"),
        ({"prefetch": 1.5}, "prefetch"),
    ],
)
def test_bad_arguments_name_the_field(kwargs, field):
    with pytest.raises(SpecError, match=field):
        BatchBOSearcher(space=SPACE, metric="v", **{"mode": "min", **kwargs})


def test_parameter_constraints_are_respected(fast_optimizer):
    s = make(parameter_constraints=["x + y <= 5"])
    order = drive(s, 8)
    s.close()
    assert all(c["x"] + c["y"] <= 5 + 1e-6 for _, c in order)


# Whether a batch comes from the model depends on when Tune reports results.
@pytest.mark.optimizer_optional
def test_tuner_with_users_trainable_and_param_space(ray_session, tmp_path, fast_optimizer):
    # Ray workers cannot import this test module; ship the trainable by value.
    ray.cloudpickle.register_pickle_by_value(sys.modules[__name__])

    def trainable(config):
        for i in range(2):
            tune.report({"v": branin(config) + 1.0 / (i + 1)})

    searcher = BatchBOSearcher(num_initial=3, seed=0)
    tuner = tune.Tuner(
        tune.with_resources(trainable, {"cpu": 1}),
        param_space={"x": tune.uniform(-5, 10), "y": tune.uniform(0, 15), "k": 1},
        tune_config=tune.TuneConfig(
            search_alg=searcher,
            metric="v",
            mode="min",
            num_samples=6,
            max_concurrent_trials=3,
        ),
        run_config=tune.RunConfig(storage_path=str(tmp_path), name="plain", verbose=0),
    )
    results = tuner.fit()
    assert len(results) == 6 and results.num_errors == 0
    searcher.wait_ready(60)
    exp = searcher.ax_client._experiment
    assert len(exp.trials) == 6  # the budget is honoured: no orphan candidates
    assert sum(t.status.is_completed for t in exp.trials.values()) == 6
    assert results.get_best_result().config["k"] == 1


def test_a_fixed_sobol_start_draws_no_spare_beyond_it(fast_optimizer):
    s = make(prefetch=None, num_initial=5, sobol_start="fixed")
    try:
        live, counter = {}, [0]
        assert fill(s, live, counter) == 4
        assert s.wait_ready(60)
        # 4 slots and 4 spares wanted; the start has 5 points, so 1 spare.
        assert sum(st.num_points for st in s.generation_stats) == 5
        tid = next(iter(live))
        s.on_trial_complete(tid, {"v": branin(live.pop(tid))})
        assert fill(s, live, counter) == 1  # the spare from the start
        assert s.wait_ready(60)
        assert sum(st.num_points for st in s.generation_stats) == 5  # 1 datum: no spare
        tid = next(iter(live))
        s.on_trial_complete(tid, {"v": branin(live.pop(tid))})
        assert fill(s, live, counter) == 1  # 2 of 5 with data: the model's point
        assert s.generation_stats[-1].method == "qLogNEI"
        assert sum(st.method == "sobol" for st in s.generation_stats) == 2
    finally:
        s.close()
