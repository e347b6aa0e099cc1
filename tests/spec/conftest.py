"""Fixtures for the job-spec tests: an importable trainable and spec builders."""

from __future__ import annotations

import sys
import textwrap
from collections.abc import Iterator
from typing import Any

import pytest

TRAINABLE_MODULE = "spec_tests_trainable"
TRAINABLE = f"{TRAINABLE_MODULE}:objective"


@pytest.fixture(scope="session", autouse=True)
def _trainable_module(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """Put a module with a function trainable on ``sys.path`` for the whole session.

    The built-in trainables are written by others and import torch; the spec only
    needs *some* resolvable ``module:function``.
    """
    folder = tmp_path_factory.mktemp("trainables")
    (folder / f"{TRAINABLE_MODULE}.py").write_text(
        textwrap.dedent(
            """
            def objective(config):
                return {"loss": sum(v for v in config.values() if isinstance(v, float))}

            not_callable = 3
            """
        )
    )
    sys.path.insert(0, str(folder))
    yield TRAINABLE
    sys.path.remove(str(folder))
    sys.modules.pop(TRAINABLE_MODULE, None)


@pytest.fixture
def minimal() -> dict[str, Any]:
    """The smallest valid spec, as parsed YAML (a fresh copy per test)."""
    return {
        "name": "tiny",
        "objective": {"metric": "loss", "mode": "min"},
        "trainable": {"name": TRAINABLE},
        "space": {"x": {"type": "uniform", "lower": 0.0, "upper": 1.0}},
        "budget": {"num_trials": 4},
    }


@pytest.fixture
def readme_yaml(builtin_digits: None) -> str:
    """The example job file of the README (its ``digits_cnn`` points at the test trainable)."""
    return README_YAML


README_YAML = """\
name: quickstart              # required; [A-Za-z0-9_.-]+, 1..64 chars; names the experiment dir
objective:
  metric: val_accuracy        # required: the key the trainable reports
  mode: max                   # required: min | max
trainable:
  name: digits_cnn            # required: built-in name or "package.module:function"
  config: {epochs: 8}         # optional fixed values merged into every trial's config
space:                        # required, non-empty mapping; the searched parameters
  lr: {type: loguniform, lower: 1.0e-4, upper: 1.0e-1}
  momentum: {type: uniform, lower: 0.5, upper: 0.99}
  wd: {type: quniform, lower: 0.0, upper: 0.1, q: 0.01}
  width: {type: choice, values: [8, 16, 32]}
  layers: {type: randint, lower: 1, upper: 4}     # Ray Tune semantics: upper EXCLUSIVE
  hidden: {type: lograndint, lower: 8, upper: 257} # upper exclusive
  step: {type: qrandint, lower: 2, upper: 12, q: 2} # Ray Tune semantics: upper INCLUSIVE
  activation: relu            # a plain value = constant, passed through unsearched
  optim:                      # a mapping without a `type` key = nested dict of parameters
    beta1: {type: uniform, lower: 0.8, upper: 0.99}
budget:
  num_trials: 16              # required, >= 1
  max_concurrent: 4           # >= 1
searcher:                     # all optional
  acquisition: qLogNEI        # one of ACQUISITIONS
  batch_strategy: joint       # one of BATCH_STRATEGIES
  batch_size: null            # null = number of free slots; else int >= 1
  num_initial: null           # null = searcher default; else int >= 1 (Sobol points)
  parameter_constraints: []   # linear constraints as strings, e.g. "x0 + x1 <= 1.5"
resources:
  cpus_per_trial: 1           # > 0, float allowed
  gpus_per_trial: 0           # >= 0, fractional allowed (e.g. 0.5); if > 1 must be an integer
checkpoint:
  frequency: 1                # epochs between checkpoints, >= 0 (0 = only at the end)
  num_to_keep: 2              # >= 1 or null (keep all)
retries: 2                    # >= 0, times a crashed trial is retried
max_failure_fraction: 0.5     # 0 < x <= 1
storage: ./experiments        # local path or URI pyarrow.fs understands
seed: 0                       # int >= 0 or null
baseline:
  {lr: 0.01, width: 16, layers: 2, momentum: 0.9, wd: 0.0, hidden: 64, step: 4, optim: {beta1: 0.9}}
warm_start:
  from: [experiments/quickstart]
  mode: initial
  top_k: 4
"""


@pytest.fixture
def builtin_digits(monkeypatch: pytest.MonkeyPatch) -> None:
    """Point the built-in ``digits_cnn`` at the test trainable (no torch import)."""
    from distributed_bo.trainables import BUILTIN_TRAINABLES

    monkeypatch.setitem(BUILTIN_TRAINABLES, "digits_cnn", TRAINABLE)


@pytest.fixture
def trainable_name() -> str:
    """A resolvable ``module:function`` trainable."""
    return TRAINABLE
