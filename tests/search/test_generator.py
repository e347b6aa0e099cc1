"""BatchGenerator's JSON snapshot: the same dict Ax writes, with per-trial data cached."""

import json

from ray import tune

from distributed_bo.search.generator import BatchGenerator
from distributed_bo.search.space import map_space

SPACE = {"x": tune.uniform(0.0, 1.0), "n": tune.randint(0, 5), "c": tune.choice(["a", "b"])}


def _generator(space: dict = SPACE, **overrides) -> BatchGenerator:
    settings = {
        "metric": "val/loss",
        "mode": "min",
        "acquisition": "qLogNEI",
        "batch_strategy": "joint",
        "num_initial": 50,
        "seed": 3,
        **overrides,
    }
    return BatchGenerator(space=map_space(space), **settings)


def _same(a: dict, b: dict) -> bool:
    return json.dumps(a, sort_keys=True) == json.dumps(b, sort_keys=True)


def test_snapshot_equals_ax_own_snapshot_as_trials_change():
    gen = _generator()
    assert _same(gen.to_json(), gen.client._to_json_snapshot())  # no data yet
    first = gen.generate(6)
    for i in first[:3]:
        gen.complete(i, 0.1 * i)
    gen.fail(first[3], "CUDA out of memory")
    assert _same(gen.to_json(), gen.client._to_json_snapshot())
    # More data on other trials after the cache was filled: still Ax's dict.
    gen.complete(first[4], 2.5)
    gen.mark_running(first[5])
    assert _same(gen.to_json(), gen.client._to_json_snapshot())


def test_decoding_a_live_snapshot_leaves_later_snapshots_intact():
    gen = _generator()
    for i in gen.generate(3):
        gen.complete(i, float(i))
    live = gen.to_json()  # shares each trial's encoded data with the cache
    BatchGenerator.client_from_json(live)
    assert _same(gen.to_json(), gen.client._to_json_snapshot())
    assert _same(live, gen.client._to_json_snapshot())


def test_snapshot_restores_and_cache_follows_a_replaced_client():
    gen = _generator()
    for i in gen.generate(4):
        gen.complete(i, float(i))
    snapshot = json.loads(json.dumps(gen.to_json()))
    restored = BatchGenerator.client_from_json(snapshot)
    assert len(restored._experiment.trials) == 4
    assert len(restored._experiment.lookup_data().df) == 4
    # The searcher swaps in a restored client; a trial index that now holds other
    # data must not come back from the cache.
    other = _generator()
    for i in other.generate(4):
        other.complete(i, 10.0 + i)
    gen.client = other.client
    assert _same(gen.to_json(), other.client._to_json_snapshot())


def _bo_models(categorical_kernel: bool, space: dict, monkeypatch) -> list[str]:
    """The BoTorch model classes fitted while a generator runs its first BO batch."""
    from ax.generators.torch.botorch_modular.surrogate import Surrogate

    fitted: list[str] = []
    original = Surrogate.fit

    def spy(self, *args, **kwargs):  # fits as Ax does, then records the model's class
        original(self, *args, **kwargs)
        fitted.append(type(self.model).__name__)

    monkeypatch.setattr(Surrogate, "fit", spy)
    gen = _generator(
        space,
        metric="loss",
        batch_strategy="sequential",
        num_initial=4,
        seed=0,
        categorical_kernel=categorical_kernel,
    )
    for i in gen.generate(4):
        gen.complete(i, float(i))
    (new,) = gen.generate(1)
    assert set(gen.parameters(new)) == {"x", "c"}
    return fitted


def test_categorical_kernel_fits_mixed_gp_only_when_asked_and_categories_exist(
    fast_optimizer, monkeypatch
):
    mixed = {"x": tune.uniform(0.0, 1.0), "c": tune.choice(["a", "b", "c"])}
    assert _bo_models(True, mixed, monkeypatch) == ["MixedSingleTaskGP"]
    assert _bo_models(False, mixed, monkeypatch) == ["SingleTaskGP"]  # one-hot columns
    numbers = {"x": tune.uniform(0.0, 1.0), "c": tune.choice([1, 2, 3])}  # ordered
    assert map_space(mixed).has_categorical and not map_space(numbers).has_categorical


PLANE = {"x": tune.uniform(0.0, 1.0), "y": tune.uniform(0.0, 1.0)}


def test_fixed_sobol_start_is_num_initial_points_then_the_model_at_half_with_data(
    fast_optimizer,
):
    gen = _generator(PLANE, num_initial=4, sobol_start="fixed")
    first = gen.generate(6)
    assert len(first) == 4  # the start, and no more in this cycle
    assert gen.last_stats.method == "sobol"
    assert not gen.spares_drawable()  # drawn, and no data to fit on yet
    (extra,) = gen.generate(1)  # a slot that frees now gets one more Sobol point
    assert gen.last_stats.method == "sobol"
    gen.complete(first[0], 0.3)
    assert not gen.model_ready()
    gen.complete(first[1], 0.1)  # half the start has data
    assert gen.model_ready() and gen.spares_drawable()
    gen.generate(1)
    assert gen.last_stats.method == "qLogNEI"
    assert gen.last_stats.num_observations == 2


def test_until_data_sobol_start_lasts_until_num_initial_trials_have_data(fast_optimizer):
    gen = _generator(PLANE, num_initial=4)
    first = gen.generate(6)
    assert len(first) == 6 and gen.spares_drawable()
    for i in first[:3]:
        gen.complete(i, 0.1 * i)
    gen.generate(1)
    assert gen.last_stats.method == "sobol"
    gen.complete(first[3], 0.5)
    gen.generate(1)
    assert gen.last_stats.method == "qLogNEI"


def _fitted_model(gen: BatchGenerator):
    return gen._model_spec.fitted_adapter.generator.surrogate.model


def test_cycles_without_new_data_keep_the_fitted_model(fast_optimizer):
    """The chunks of one round share a fit; a result, or a fresh fit, changes nothing."""
    gen = _generator(PLANE, num_initial=4)
    for i in gen.generate(4):
        gen.complete(i, 0.1 * i)
    a = gen.generate(2)
    model = _fitted_model(gen)
    b = gen.generate(2)  # no trial ended in between: the same GP
    assert _fitted_model(gen) is model
    gen.complete(a[0], 0.05)
    gen.generate(1)
    assert _fitted_model(gen) is not model  # new data, new fit
    # The kept fit proposes what a fit from scratch would (same seed, same steps).
    fresh = _generator(PLANE, num_initial=4)
    for i in fresh.generate(4):
        fresh.complete(i, 0.1 * i)
    fresh.generate(2)
    fresh._model_spec = None  # forget the fit
    again = fresh.generate(2)
    assert [fresh.parameters(i) for i in again] == [gen.parameters(i) for i in b]
