"""Bounded model size: ``max_observations`` on the generator, the searcher and the spec."""

import math
import pickle

import pytest
from ray import tune

from distributed_bo import BatchBOSearcher, SpecError
from distributed_bo.search.generator import BatchGenerator, select_observations
from distributed_bo.search.settings import DEFAULT_MAX_OBSERVATIONS
from distributed_bo.search.space import map_space
from distributed_bo.spec.schema import SearcherSpec

SPACE = {"x": tune.uniform(-5.0, 10.0), "y": tune.uniform(0.0, 15.0)}


def branin(p):
    x1, x2 = p["x"], p["y"]
    return (
        (x2 - 5.1 / (4 * math.pi**2) * x1**2 + 5 / math.pi * x1 - 6) ** 2
        + 10 * (1 - 1 / (8 * math.pi)) * math.cos(x1)
        + 10
    )


class TestSelectObservations:
    def test_no_bound_or_few_trials_keep_everything(self):
        values = {3: 1.0, 1: 2.0, 2: 0.5}
        assert select_observations(values, max_observations=None, mode="min") == [1, 2, 3]
        assert select_observations(values, max_observations=3, mode="min") == [1, 2, 3]

    def test_best_half_then_most_recent(self):
        # Trial i has value i: for "min" the best are the oldest trials.
        values = {i: float(i) for i in range(10)}
        kept = select_observations(values, max_observations=4, mode="min")
        assert kept == [0, 1, 8, 9]

    def test_odd_bound_rounds_best_up(self):
        values = {i: float(i) for i in range(10)}
        assert select_observations(values, max_observations=5, mode="min") == [0, 1, 2, 8, 9]

    def test_max_mode_keeps_the_highest(self):
        values = {i: float(i) for i in range(10)}
        kept = select_observations(values, max_observations=4, mode="max")
        # Best two are 9 and 8; the most recent others are 7 and 6.
        assert kept == [6, 7, 8, 9]

    def test_ties_are_broken_by_trial_index(self):
        values = {i: 0.0 for i in range(6)}
        assert select_observations(values, max_observations=2, mode="min") == [0, 5]


def filled_generator(n_obs, max_observations):
    gen = BatchGenerator(
        space=map_space(SPACE),
        metric="v",
        mode="min",
        acquisition="qLogNEI",
        batch_strategy="joint",
        num_initial=4,
        seed=0,
        max_observations=max_observations,
    )
    for index in gen.generate(n_obs):
        gen.complete(index, branin(gen.parameters(index)))
    return gen


def test_generator_fits_on_at_most_max_observations(fast_optimizer):
    gen = filled_generator(12, max_observations=6)
    new = gen.generate(2)
    assert len(new) == 2
    stats = gen.last_stats
    assert stats.num_observations == 12
    assert stats.num_fitted == 6
    # The experiment itself keeps every result.
    assert gen.num_with_data() == 12


def test_generator_without_bound_fits_on_everything(fast_optimizer):
    gen = filled_generator(8, max_observations=None)
    gen.generate(1)
    assert gen.last_stats.num_fitted == 8


def test_searcher_bounded_model_runs_a_study(fast_optimizer):
    searcher = BatchBOSearcher(
        space=SPACE,
        metric="v",
        mode="min",
        max_concurrent=2,
        num_initial=4,
        seed=0,
        max_observations=5,
    )
    try:
        for i in range(10):
            config = searcher.suggest(f"t{i}")
            if config is None:
                assert searcher.wait_ready(120)
                config = searcher.suggest(f"t{i}")
            assert config is not None
            searcher.on_trial_complete(f"t{i}", {"v": branin(config)})
        assert searcher.wait_ready(120)
        bo = [s for s in searcher.generation_stats if s.num_fitted is not None]
        assert bo, "no model-based batch was generated"
        assert max(s.num_fitted for s in bo) <= 5
        assert any(s.num_observations > 5 for s in bo)
    finally:
        searcher.close()


def test_searcher_default_and_pickle_keep_the_bound():
    assert BatchBOSearcher(space=SPACE, metric="v", mode="min").settings.max_observations == (
        DEFAULT_MAX_OBSERVATIONS
    )
    searcher = BatchBOSearcher(space=SPACE, metric="v", mode="min", max_observations=7)
    clone = pickle.loads(pickle.dumps(searcher))
    assert clone.settings.max_observations == 7
    assert clone._gen.max_observations == 7
    searcher.close()
    clone.close()


@pytest.mark.parametrize("bad", [1, 0, -3, True, 2.5, "100"])
def test_searcher_rejects_bad_bound(bad):
    with pytest.raises(SpecError, match="max_observations"):
        BatchBOSearcher(space=SPACE, metric="v", mode="min", max_observations=bad)


def test_spec_field_default_null_and_validation():
    assert SearcherSpec().max_observations == DEFAULT_MAX_OBSERVATIONS
    assert SearcherSpec(max_observations=None).max_observations is None
    assert SearcherSpec(max_observations=50).max_observations == 50
    with pytest.raises(SpecError, match="searcher.max_observations"):
        SearcherSpec(max_observations=1)
