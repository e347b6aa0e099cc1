from __future__ import annotations

import math
import time

import pytest
import ray.tune
import torch
from botorch import test_functions

from distributed_bo.exceptions import SpecError
from distributed_bo.trainables import BUILTIN_TRAINABLES, resolve_trainable
from distributed_bo.trainables.synthetic import (
    SYNTHETIC_OPTIMA,
    SYNTHETIC_PROBLEMS,
    evaluate,
    synthetic_space,
)

NAMES = sorted(SYNTHETIC_PROBLEMS)


@pytest.fixture
def reports(monkeypatch: pytest.MonkeyPatch) -> list[dict]:
    """Capture ``ray.tune.report`` calls made outside a Tune session."""
    got: list[dict] = []
    monkeypatch.setattr(ray.tune, "report", lambda metrics, **kw: got.append(metrics))
    return got


def _botorch_function(name: str) -> test_functions.synthetic.SyntheticTestFunction:
    problem = SYNTHETIC_PROBLEMS[name]
    cls = getattr(test_functions, problem.botorch_class)
    return cls() if name == "branin" else cls(dim=problem.dim)


def _optimizer_config(name: str) -> dict[str, float]:
    x = _botorch_function(name)._optimizers[0]
    return {f"x{i}": float(v) for i, v in enumerate(x)}


def test_every_synthetic_builtin_resolves() -> None:
    assert set(NAMES) == {n for n, t in BUILTIN_TRAINABLES.items() if ".synthetic:" in t}
    for name in NAMES:
        assert resolve_trainable(name).__name__ == name


@pytest.mark.parametrize("name", NAMES)
def test_registry_matches_botorch(name: str) -> None:
    problem = SYNTHETIC_PROBLEMS[name]
    fn = _botorch_function(name)
    assert problem.dim == fn.dim
    assert problem.bounds == tuple(tuple(b) for b in fn._bounds)
    assert SYNTHETIC_OPTIMA[name] == pytest.approx(fn.optimal_value, abs=1e-5)
    assert not fn.negate


@pytest.mark.parametrize("name", NAMES)
def test_reports_zero_regret_at_the_optimum(name: str, reports: list[dict]) -> None:
    resolve_trainable(name)(_optimizer_config(name))
    assert len(reports) == 1
    (metrics,) = reports
    assert metrics["step"] == 1
    assert metrics["value"] == pytest.approx(SYNTHETIC_OPTIMA[name], abs=1e-6)
    assert metrics["regret"] == pytest.approx(0.0, abs=1e-6)


def test_value_is_the_botorch_value_not_negated(reports: list[dict]) -> None:
    config = {"x0": 0.1, "x1": 0.9, "x2": 0.4, "x3": 0.3, "x4": 0.7, "x5": 0.2}
    resolve_trainable("hartmann6")(config)
    expected = _botorch_function("hartmann6")(
        torch.tensor([list(config.values())], dtype=torch.float64)
    ).item()
    assert reports[0]["value"] == pytest.approx(expected, rel=1e-12)
    assert reports[0]["regret"] == pytest.approx(expected - SYNTHETIC_OPTIMA["hartmann6"])
    assert reports[0]["regret"] > 0


@pytest.mark.parametrize("name", NAMES)
def test_synthetic_space_has_the_bounds(name: str) -> None:
    space = synthetic_space(name)
    problem = SYNTHETIC_PROBLEMS[name]
    assert list(space) == [f"x{i}" for i in range(problem.dim)]
    for domain, (lo, hi) in zip(space.values(), problem.bounds, strict=True):
        assert isinstance(domain, ray.tune.search.sample.Float)
        assert (domain.lower, domain.upper) == (lo, hi)


def test_steps_spread_duration(reports: list[dict]) -> None:
    start = time.perf_counter()
    resolve_trainable("branin")({"x0": math.pi, "x1": 2.275, "duration_s": 0.06, "steps": 3})
    assert time.perf_counter() - start >= 0.06
    assert [m["step"] for m in reports] == [1, 2, 3]
    assert len({m["value"] for m in reports}) == 1


def test_noise_is_seeded_and_leaves_regret_noise_free(reports: list[dict]) -> None:
    config = {"x0": math.pi, "x1": 2.275, "noise_std": 0.5, "seed": 3, "steps": 2}
    resolve_trainable("branin")(config)
    resolve_trainable("branin")(config)
    first, second = reports[:2], reports[2:]
    assert [m["value"] for m in first] == [m["value"] for m in second]
    assert first[0]["value"] != first[1]["value"]
    assert all(m["regret"] == pytest.approx(0.0, abs=1e-6) for m in reports)


@pytest.mark.parametrize(
    ("config", "field"),
    [
        ({"x0": 1.0}, "branin.x1"),
        ({"x0": 1.0, "x1": 16.0}, "branin.x1"),
        ({"x0": "1", "x1": 1.0}, "branin.x0"),
        ({"x0": 1.0, "x1": 1.0, "steps": 0}, "config.steps"),
        ({"x0": 1.0, "x1": 1.0, "duration_s": -1}, "config.duration_s"),
        ({"x0": 1.0, "x1": 1.0, "noise_std": float("nan")}, "config.noise_std"),
    ],
)
def test_bad_config_raises_spec_error(config: dict, field: str, reports: list[dict]) -> None:
    with pytest.raises(SpecError, match=field) as info:
        resolve_trainable("branin")(config)
    assert "\n" not in str(info.value)
    assert not reports


def test_unknown_name_raises_spec_error() -> None:
    with pytest.raises(SpecError, match="synthetic name: got 'nope'"):
        synthetic_space("nope")


def test_tuner_runs_a_synthetic_trainable(ray_session, tmp_path) -> None:
    from ray import tune

    from distributed_bo.trainables.synthetic import branin

    tuner = tune.Tuner(
        tune.with_resources(branin, {"cpu": 1}),
        param_space={**synthetic_space("branin"), "steps": 2},
        tune_config=tune.TuneConfig(num_samples=2, metric="value", mode="min"),
        run_config=tune.RunConfig(storage_path=str(tmp_path), name="branin", verbose=0),
    )
    results = tuner.fit()
    assert results.num_errors == 0
    assert len(results) == 2
    for result in results:
        metrics, config = result.metrics, result.config
        assert metrics["step"] == 2
        assert metrics["training_iteration"] == 2
        x = [config["x0"], config["x1"]]
        assert metrics["value"] == pytest.approx(evaluate("branin", x=x), rel=1e-12)
        assert metrics["regret"] == pytest.approx(metrics["value"] - SYNTHETIC_OPTIMA["branin"])
        assert metrics["regret"] >= 0
