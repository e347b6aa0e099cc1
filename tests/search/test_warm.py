"""Warm observations: earlier results enter the model as data, and are never run."""

import math

import pytest
import ray.cloudpickle
from ray import tune

from distributed_bo import BatchBOSearcher, SpecError
from distributed_bo.search.generator import SOBOL_KEY, generator_key
from distributed_bo.search.warm import LABEL_KEY, WARM_KEY, WarmObservation

SPACE = {"x": tune.uniform(-5.0, 10.0), "y": tune.uniform(0.0, 15.0)}


def branin(x: float, y: float) -> float:
    return (
        (y - 5.1 / (4 * math.pi**2) * x**2 + 5 / math.pi * x - 6) ** 2
        + 10 * (1 - 1 / (8 * math.pi)) * math.cos(x)
        + 10
    )


def observations(n: int) -> list[WarmObservation]:
    """``n`` earlier Branin results on a grid of the space."""
    points = [(-5.0 + 15.0 * (i + 0.5) / n, 15.0 * ((3 * i) % n + 0.5) / n) for i in range(n)]
    return [
        WarmObservation(config={"x": x, "y": y}, values={"v": branin(x, y)}, label=f"old#{i}")
        for i, (x, y) in enumerate(points)
    ]


def make(warm=(), **kw):
    kw.setdefault("max_concurrent", 2)
    kw.setdefault("num_initial", 4)
    return BatchBOSearcher(
        space=SPACE, metric="v", mode="min", seed=0, prefetch=0, warm_start=warm, **kw
    )


def suggest_round(searcher, first_id=0):
    assert searcher.wait_ready(120)
    configs = {}
    for i in range(first_id, first_id + 2):
        config = searcher.suggest(f"t{i}")
        assert isinstance(config, dict)
        configs[f"t{i}"] = config
    return configs


def test_enough_warm_data_skips_the_sobol_start(fast_optimizer):
    searcher = make(observations(5))
    try:
        configs = suggest_round(searcher)
        assert [s.method for s in searcher.generation_stats] == ["qLogNEI"]
        assert searcher.generation_stats[0].num_observations == 5
        experiment = searcher.ax_client._experiment
        warm = [t for t in experiment.trials.values() if generator_key(t) == WARM_KEY]
        assert searcher.warm_trial_indices() == [t.index for t in warm] == [0, 1, 2, 3, 4]
        assert all(t.status.is_completed for t in warm)
        assert [t.run_metadata[LABEL_KEY] for t in warm] == [f"old#{i}" for i in range(5)]
        values = experiment.lookup_data().df.set_index("trial_index")["mean"]
        assert [values[i] for i in range(5)] == [o.values["v"] for o in observations(5)]
        # Never handed out, and the suggested trials are the next indices.
        assert sorted(searcher.trial_index(t) for t in configs) == [5, 6]
    finally:
        searcher.close()


@pytest.mark.optimizer_optional
def test_fewer_warm_points_shorten_the_sobol_start():
    searcher = make(observations(2))
    try:
        suggest_round(searcher)
        assert [s.method for s in searcher.generation_stats] == ["sobol"]
        # 2 warm + 2 Sobol results reach num_initial = 4: the next batch is the model's.
        for tid, i in (("t0", 0), ("t1", 1)):
            searcher.on_trial_complete(tid, {"v": float(i)})
        experiment = searcher.ax_client._experiment
        assert searcher.wait_ready(120)
        sobol = [t for t in experiment.trials.values() if generator_key(t) == SOBOL_KEY]
        assert len(sobol) == 2
    finally:
        searcher.close()


def test_a_warm_start_proposes_other_points_than_a_cold_one(fast_optimizer):
    cold, warm = make(), make(observations(5))
    try:
        assert suggest_round(cold) != suggest_round(warm)
    finally:
        cold.close()
        warm.close()


@pytest.mark.optimizer_optional
def test_warm_data_counts_against_neither_the_budget_nor_the_slots():
    searcher = make(observations(2), num_initial=8)
    searcher.set_search_properties(None, None, {}, num_samples=3)
    try:
        suggest_round(searcher)
        assert searcher.suggest("t2") is None  # both slots busy; warm data holds none
        searcher.on_trial_complete("t0", {"v": 1.0})
        assert searcher.wait_ready(120)
        assert isinstance(searcher.suggest("t2"), dict)  # the 3rd of 3 trials
        searcher.on_trial_complete("t1", {"v": 1.0})
        assert searcher.suggest("t3") == BatchBOSearcher.FINISHED
    finally:
        searcher.close()


@pytest.mark.optimizer_optional
def test_a_restored_searcher_keeps_its_warm_data_and_attaches_it_once():
    searcher = make(observations(3))
    try:
        suggest_round(searcher)
        searcher.on_trial_complete("t0", {"v": 2.0})
        assert searcher.wait_ready(120)
        state = searcher.get_state()
        pickled = ray.cloudpickle.dumps(searcher)  # what Tune keeps in tuner.pkl
    finally:
        searcher.close()
    restored = ray.cloudpickle.loads(pickled)
    try:
        restored.set_state(state)
        experiment = restored.ax_client._experiment
        warm = [t.index for t in experiment.trials.values() if generator_key(t) == WARM_KEY]
        assert warm == restored.warm_trial_indices() == [0, 1, 2]
        assert restored.trial_index("t0") == 3
        assert restored.wait_ready(120)
        warm = [t.index for t in experiment.trials.values() if generator_key(t) == WARM_KEY]
        assert warm == [0, 1, 2]  # not attached again by the next batch
    finally:
        restored.close()


@pytest.mark.parametrize(
    ("warm", "message"),
    [
        (
            [WarmObservation(config={"x": 1.0, "y": 2.0}, values={"loss": 1.0})],
            r"^warm_start\[0\].values: got \['loss'\]; give every objective .* 'v'",
        ),
        (
            [WarmObservation(config={"x": 1.0}, values={"v": 1.0})],
            r"^warm_start\[0\].config: parameter 'y' is missing",
        ),
        ([{"x": 1.0, "y": 2.0}], r"^warm_start\[0\]: got dict; pass WarmObservation"),
    ],
)
def test_bad_warm_observations_are_one_line(warm, message):
    with pytest.raises(SpecError, match=message) as err:
        make(warm)
    assert "\n" not in str(err.value)


def test_an_observation_needs_finite_values():
    with pytest.raises(SpecError, match=r"^WarmObservation.values\['v'\]: got nan"):
        WarmObservation(config={"x": 1.0, "y": 2.0}, values={"v": float("nan")})


@pytest.mark.optimizer_optional
def test_several_objectives_attach_every_value_and_stay_off_the_front():
    warm = [
        WarmObservation(config={"x": x, "y": 1.0}, values={"a": x, "b": -x}, label=f"old#{i}")
        for i, x in enumerate((0.0, 1.0, 2.0))
    ]
    searcher = BatchBOSearcher(
        space=SPACE,
        metric=["a", "b"],
        mode=["min", "min"],
        seed=0,
        max_concurrent=2,
        prefetch=0,
        num_initial=8,
        warm_start=warm,
    )
    try:
        configs = suggest_round(searcher)
        for tid, config in configs.items():
            searcher.on_trial_complete(tid, {"a": config["x"], "b": -config["x"]})
        assert searcher.wait_ready(120)
        df = searcher.ax_client._experiment.lookup_data().df
        for i, obs in enumerate(warm):
            got = df[df["trial_index"] == i].set_index("metric_name")["mean"].to_dict()
            assert got == obs.values
        # The front lists this study's trials only, each with its Tune id.
        assert {p["trial_id"] for p in searcher.pareto_front()} <= set(configs)
    finally:
        searcher.close()
