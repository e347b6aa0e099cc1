"""fast_optimizer: caps the real acquisition optimiser, and fails when it is unused."""

import pytest
from ray import tune

from distributed_bo.search.generator import BatchGenerator
from distributed_bo.search.space import map_space
from distributed_bo.testing import FAST_OPTIMIZER, fast_optimizer
from distributed_bo.testing.optimizer import OptimizerCaps


def _generator(space, num_initial=2):
    return BatchGenerator(
        space=map_space(space),
        metric="v",
        mode="min",
        acquisition="qLogNEI",
        batch_strategy="joint",
        num_initial=num_initial,
        seed=0,
        optimizer_options={"num_restarts": 20, "raw_samples": 1024},
    )


def _complete_sobol(gen, n):
    for index in gen.generate(n):
        values = gen.parameters(index).values()
        gen.complete(index, sum(float(v) for v in values if not isinstance(v, str)))


def test_caps_lower_bounds_and_never_raise_them():
    caps = OptimizerCaps(num_restarts=2, raw_samples=32, maxiter=20)
    out = caps.apply({"num_restarts": 20, "raw_samples": 8, "q": 3}, ("maxiter",))
    assert out == {"num_restarts": 2, "raw_samples": 8, "q": 3, "options": {"maxiter": 20}}
    assert caps.apply({"options": {"maxiter": 5}}, ("maxiter",))["options"] == {"maxiter": 5}
    assert caps == FAST_OPTIMIZER


@pytest.mark.parametrize(
    "space",
    [
        {"x": tune.uniform(0.0, 1.0), "y": tune.uniform(0.0, 1.0)},
        {"x": tune.uniform(0.0, 1.0), "c": tune.choice(["a", "b"])},
    ],
    ids=["continuous", "mixed"],
)
def test_a_model_batch_goes_through_the_patch(space):
    gen = _generator(space)
    _complete_sobol(gen, 3)
    with fast_optimizer() as calls:
        assert len(gen.generate(2)) == 2
    assert calls.count >= 1
    assert gen.last_stats is not None and gen.last_stats.method == "qLogNEI"


def test_unused_optimizer_fails_unless_allowed():
    gen = _generator({"x": tune.uniform(0.0, 1.0)}, num_initial=10)
    with pytest.raises(AssertionError, match="never called"), fast_optimizer():
        gen.generate(2)  # Sobol: no acquisition optimisation
    with fast_optimizer(allow_unused=True) as calls:
        gen.generate(1)
    assert calls.count == 0
