"""BatchBOSearcher on conditional spaces: in a real Tuner, and across save/restore."""

import sys

import pytest
import ray.cloudpickle
from ray import tune

from distributed_bo import BatchBOSearcher
from distributed_bo.testing.conditional import check_one_branch, issue_space, nested_space


def loss(config):
    """Each branch has its own optimum; widths of missing layers have no effect."""
    arch, act = config["arch"], config["act"]
    widths = [arch[f"width_{i}"] for i in range(1, arch["depth"] + 1)]
    target = 64 if arch["depth"] == 2 else 128
    value = sum(abs(w - target) / 128 for w in widths) + (0.3 if arch["depth"] == 2 else 0.0)
    value += 0.2 if act["name"] == "relu" else (act["beta"] - 1.2) ** 2
    return value + abs(config["lr"] - 0.01)


def test_tuner_trials_hold_exactly_one_resolved_branch(ray_session, tmp_path, fast_optimizer):
    """Issue 15's "done when": a plain Tuner with the conditional param_space."""
    ray.cloudpickle.register_pickle_by_value(sys.modules[__name__])

    def trainable(config):
        tune.report({"loss": loss(config)})

    searcher = BatchBOSearcher(num_initial=3, seed=0, prefetch=0)
    tuner = tune.Tuner(
        tune.with_resources(trainable, {"cpu": 1}),
        param_space=issue_space(),
        tune_config=tune.TuneConfig(
            search_alg=searcher,
            metric="loss",
            mode="min",
            num_samples=8,
            max_concurrent_trials=2,
        ),
        run_config=tune.RunConfig(storage_path=str(tmp_path), name="cond", verbose=0),
    )
    results = tuner.fit()
    assert len(results) == 8 and results.num_errors == 0
    for result in results:
        check_one_branch(result.config)
    searcher.wait_ready(120)
    assert any(s.method == "qLogNEI" for s in searcher.generation_stats)  # BO batches ran
    exp = searcher.ax_client._experiment
    assert sum(t.status.is_completed for t in exp.trials.values()) == 8


def _drive(searcher, n, objective):
    """Complete ``n`` trials, two live at a time; return their configs."""
    configs, live, i = [], {}, 0
    while len(configs) < n:
        while len(live) < 2 and i < n:
            assert searcher.wait_ready(300)
            config = searcher.suggest(f"t{i}")
            if config is None:
                continue
            live[f"t{i}"] = config
            i += 1
        tid = min(live, key=lambda t: int(t[1:]))
        config = live.pop(tid)
        searcher.on_trial_complete(tid, {"v": objective(config)})
        configs.append(config)
    return configs


def _nested_value(config):
    opt = config["opt"]
    if opt["name"] == "sgd":
        return (config["x"] - 0.3) ** 2 + (opt["momentum"] - 0.9) ** 2
    sched = opt["sched"]
    extra = (
        0.1 if sched["kind"] == "const" else (sched["gamma"] - 0.5) ** 2 + sched["at"]["epoch"] / 10
    )
    return (config["x"] - 0.7) ** 2 + extra


def test_nested_branches_through_the_searcher(fast_optimizer):
    # 10 trials: the Sobol start runs until 4 trials have data, and the spares queued
    # by then are Sobol points too (7 of them here), so BO's first points come later.
    s = BatchBOSearcher(
        space=nested_space(), metric="v", mode="min", max_concurrent=2, num_initial=4, seed=1
    )
    s.set_search_properties(None, None, {}, num_samples=10)
    try:
        configs = _drive(s, 10, _nested_value)
    finally:
        s.close()
    for config in configs:
        assert set(config) == {"x", "opt"}
        opt = config["opt"]
        if opt["name"] == "sgd":
            assert set(opt) == {"name", "momentum"}
        else:
            assert set(opt) == {"name", "sched"}
            assert set(opt["sched"]) in ({"kind"}, {"kind", "gamma", "at"})
    assert any(st.method == "qLogNEI" for st in s.generation_stats)


@pytest.mark.optimizer_optional
def test_save_restore_keeps_a_conditional_space(tmp_path, fast_optimizer):
    def make():
        return BatchBOSearcher(
            space=issue_space(), metric="v", mode="min", max_concurrent=2, num_initial=3, seed=0
        )

    s = make()
    configs = _drive(s, 3, loss)
    live = {}
    assert s.wait_ready(300)
    for tid in ("t3", "t4"):
        config = s.suggest(tid)
        if config is not None:
            live[tid] = config
    path = tmp_path / "searcher.json"
    s.save(str(path))
    s.close()

    r = make()
    r.restore(str(path))
    exp = r.ax_client._experiment
    assert sum(t.status.is_completed for t in exp.trials.values()) == 3
    for tid, config in live.items():
        check_one_branch(config)
        r.on_trial_complete(tid, {"v": loss(config), "config": config})
    # A trial Tune knows and the saved searcher never saw: re-attached from its config.
    unknown = {
        "arch": {"depth": 2, "width_1": 64, "width_2": 128},
        "act": {"name": "relu"},
        "lr": 0.02,
    }
    r.on_trial_complete("tune-only", {"v": loss(unknown), "config": unknown})
    assert r.wait_ready(300)
    index = r.trial_index("tune-only")
    params = exp.trials[index].arm.parameters
    assert params["arch"] == 0 and params["arch__b0__width_2"] == 128
    assert params["arch__b1__width_3"] == 32  # inactive: its filler
    config = r.suggest("t9")
    if config is not None:
        check_one_branch(config)
    r.close()
    assert len(configs) == 3
