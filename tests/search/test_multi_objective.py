"""Several objectives and outcome constraints through BatchBOSearcher (issue 14)."""

import math
import sys

import pytest
import ray.cloudpickle
from ray import tune

from distributed_bo import BatchBOSearcher, SpecError

SPACE = {"x0": tune.uniform(0.0, 1.0), "x1": tune.uniform(0.0, 1.0)}


def branin_currin(c):
    """BoTorch's BraninCurrin on [0, 1]^2, both minimised (Daulton et al., 2020)."""
    x0, x1 = 15.0 * c["x0"] - 5.0, 15.0 * c["x1"]
    branin = (
        (x1 - 5.1 / (4 * math.pi**2) * x0**2 + 5 / math.pi * x0 - 6) ** 2
        + 10 * (1 - 1 / (8 * math.pi)) * math.cos(x0)
        + 10
    )
    a, b = c["x0"], max(c["x1"], 1e-9)
    currin = (1 - math.exp(-1 / (2 * b))) * (
        (2300 * a**3 + 1900 * a**2 + 2092 * a + 60) / (100 * a**3 + 500 * a**2 + 4 * a + 20)
    )
    return {"f1": branin, "f2": currin, "c": c["x0"]}


def make(**kw):
    kw.setdefault("metric", ["f1", "f2"])
    kw.setdefault("mode", ["min", "min"])
    return BatchBOSearcher(space=SPACE, max_concurrent=3, num_initial=4, seed=0, **kw)


def drive(searcher, n_trials, report=branin_currin):
    """Run ``n_trials`` synchronously, completing the oldest trial when slots are full."""
    live, counter, done = {}, [0], {}
    while counter[0] < n_trials or live:
        assert searcher.wait_ready(120)
        while counter[0] < n_trials:
            config = searcher.suggest(f"t{counter[0]}")
            if config is None:
                break
            live[f"t{counter[0]}"] = config
            counter[0] += 1
        tid = min(live, key=lambda t: int(t[1:]))
        config = live.pop(tid)
        done[tid] = report(config)
        searcher.on_trial_complete(tid, done[tid])
    assert searcher.wait_ready(120)
    return done


def dominates(a, b, metrics):
    return all(a[m] <= b[m] for m in metrics) and any(a[m] < b[m] for m in metrics)


def test_two_objectives_use_qlognehvi_and_give_the_observed_front(fast_optimizer):
    s = make()
    done = drive(s, 10)
    methods = {st.method for st in s.generation_stats}
    assert "qLogNEHVI" in methods, methods
    config = s.ax_client._experiment.optimization_config
    assert config.is_moo_problem
    front = s.pareto_front()
    s.close()
    assert front, "a finished study has a non-empty front"
    ids = [f["trial_id"] for f in front]
    assert len(set(ids)) == len(ids) and set(ids) <= set(done)
    for f in front:
        assert f["values"] == pytest.approx({k: done[f["trial_id"]][k] for k in ("f1", "f2")})
        assert not any(dominates(v, f["values"], ("f1", "f2")) for v in done.values())
    # Every trial left out is dominated by one on the front.
    for tid, v in done.items():
        if tid not in ids:
            assert any(dominates(f["values"], v, ("f1", "f2")) for f in front)
    assert [f["values"]["f1"] for f in front] == sorted(f["values"]["f1"] for f in front)


def test_threshold_becomes_the_reference_point():
    s = make(objective_thresholds={"f1": 100.0})
    config = s.ax_client._experiment.optimization_config
    s.close()
    (threshold,) = config.objective_thresholds
    assert threshold.metric_names == ["f1"] and threshold.bound == 100.0


def test_constraint_enters_ax_and_the_front_is_feasible(fast_optimizer):
    s = make(metric="f1", mode="min", outcome_constraints=["c <= 0.5"])
    done = drive(s, 10)
    config = s.ax_client._experiment.optimization_config
    stats = [st.method for st in s.generation_stats]
    front = s.pareto_front()
    s.close()
    assert not config.is_moo_problem and len(config.outcome_constraints) == 1
    assert "qLogNEI" in stats
    feasible = {t: v for t, v in done.items() if v["c"] <= 0.5}
    assert front and all(f["values"]["c"] <= 0.5 for f in front)
    assert front[0]["values"]["f1"] == pytest.approx(min(v["f1"] for v in feasible.values()))


def test_a_trial_without_a_tracked_metric_fails_and_says_which():
    s = make(outcome_constraints=["c <= 0.5"])
    assert s.wait_ready(60)
    assert s.suggest("t0") is not None
    s.on_trial_complete("t0", {"f1": 1.0, "f2": 2.0})  # no "c"
    assert s.wait_ready(60)
    trial = s.ax_client._experiment.trials[s.trial_index("t0")]
    s.close()
    assert trial.status.is_failed
    assert "reported no 'c'" in trial.status_reason


def test_save_restore_keeps_every_objective(tmp_path, fast_optimizer):
    s = make()
    drive(s, 6)
    front = s.pareto_front()
    path = tmp_path / "state.json"
    s.save(str(path))
    s.close()
    r = make()
    r.restore(str(path))
    assert r.wait_ready(60)
    restored = r.pareto_front()
    r.close()
    assert [f["trial_id"] for f in restored] == [f["trial_id"] for f in front]
    for got, want in zip(restored, front, strict=True):
        assert got["values"] == pytest.approx(want["values"], rel=1e-9)


def test_tune_metric_does_not_replace_the_objectives():
    s = BatchBOSearcher(metric=["f1", "f2"], mode=["min", "max"], max_concurrent=2, seed=0)
    assert s.set_search_properties("f1", "min", dict(SPACE))
    assert s.metric == ["f1", "f2"] and s.mode == ["min", "max"]
    assert s.ax_client._experiment.optimization_config.is_moo_problem
    s.close()


@pytest.mark.parametrize(
    ("kw", "message"),
    [
        ({"acquisition": "qUCB"}, r"^acquisition: got 'qUCB' with 2 objectives; use one of"),
        (
            {"metric": "f1", "mode": "min", "acquisition": "qLogNEHVI"},
            r"^acquisition: got 'qLogNEHVI' with one objective;",
        ),
        ({"stopped_trials": "highest_rung"}, r"^stopped_trials: got 'highest_rung' with several"),
        ({"mode": ["min"]}, r"^mode: got \['min'\] for metric \['f1', 'f2'\]; give one mode"),
    ],
)
def test_settings_that_do_not_fit_the_objectives_are_refused(kw, message):
    with pytest.raises(SpecError, match=message):
        make(**kw)


# Whether a batch comes from the model depends on when Tune reports results.
@pytest.mark.optimizer_optional
def test_tuner_with_two_objectives_and_a_users_trainable(ray_session, tmp_path, fast_optimizer):
    ray.cloudpickle.register_pickle_by_value(sys.modules[__name__])

    def trainable(config):
        tune.report(branin_currin(config))

    searcher = BatchBOSearcher(metric=["f1", "f2"], mode=["min", "min"], num_initial=3, seed=0)
    tuner = tune.Tuner(
        tune.with_resources(trainable, {"cpu": 1}),
        param_space=dict(SPACE),
        tune_config=tune.TuneConfig(search_alg=searcher, num_samples=6, max_concurrent_trials=3),
        run_config=tune.RunConfig(storage_path=str(tmp_path), name="moo", verbose=0),
    )
    results = tuner.fit()
    assert len(results) == 6 and results.num_errors == 0
    assert searcher.wait_ready(60)
    front = searcher.pareto_front()
    exp = searcher.ax_client._experiment
    searcher.close()
    assert sum(t.status.is_completed for t in exp.trials.values()) == 6
    reported = {r.metrics["trial_id"]: r.metrics for r in results}
    assert front and all(f["trial_id"] in reported for f in front)
    for f in front:
        assert f["values"]["f2"] == pytest.approx(reported[f["trial_id"]]["f2"])


@pytest.mark.parametrize(
    ("metric", "mode", "constraints"),
    [
        (["f1", "f2"], ["min", "min"], []),
        ("f1", "min", ["c <= 0.5"]),
        (["f1", "f2"], ["min", "min"], ["c <= 0.5"]),
    ],
    ids=["two-objectives", "one-objective-constrained", "two-objectives-constrained"],
)
def test_running_trials_reach_the_acquisition_as_pending_points(
    monkeypatch, fast_optimizer, metric, mode, constraints
):
    """Ax keeps a pending point only if it is pending for every objective and
    constrained metric; keyed by the first objective alone, none reached BoTorch."""
    import ax.generators.torch.botorch_modular.acquisition as acquisition

    from distributed_bo.search.generator import BatchGenerator
    from distributed_bo.search.outcomes import Outcomes
    from distributed_bo.search.space import map_space

    real, seen = acquisition._get_X_pending_and_observed, []

    def spy(*args, **kwargs):
        x_pending, x_observed = real(*args, **kwargs)
        seen.append(0 if x_pending is None else len(x_pending))
        return x_pending, x_observed

    monkeypatch.setattr(acquisition, "_get_X_pending_and_observed", spy)
    outcomes = Outcomes.build(metric, mode, outcome_constraints=constraints)
    gen = BatchGenerator(
        space=map_space(SPACE),
        metric=outcomes.metrics[0],
        mode=outcomes.modes[0],
        acquisition="qLogNEI",
        batch_strategy="sequential",
        num_initial=5,
        seed=0,
        outcomes=outcomes,
    )
    trials = gen.generate(8)
    for index in trials[:5]:
        values = branin_currin(gen.parameters(index))
        gen.complete(index, values[outcomes.metrics[0]], values)
    for index in trials[5:]:
        gen.mark_running(index)
    gen.generate(1)
    assert gen.last_stats.num_pending == 3
    assert seen == [3]
