"""Built-in trainables, the resolver for ``module:function`` names, and trainable helpers.

:func:`flat_config` flattens a conditional trial config (the chosen branches of
``when:`` and other branch points) for a trainable written for flat keys.
"""

from __future__ import annotations

import importlib
from collections.abc import Callable
from typing import Any

from distributed_bo.exceptions import TrainableError
from distributed_bo.trainables.conditional import flat_config

__all__ = ["BUILTIN_TRAINABLES", "flat_config", "resolve_trainable"]

# Built-in name -> "module:function". Imported lazily so ``import distributed_bo``
# stays fast and torch is only loaded where a trainable actually runs.
BUILTIN_TRAINABLES: dict[str, str] = {
    "branin": "distributed_bo.trainables.synthetic:branin",
    "hartmann6": "distributed_bo.trainables.synthetic:hartmann6",
    "ackley5": "distributed_bo.trainables.synthetic:ackley5",
    "ackley10": "distributed_bo.trainables.synthetic:ackley10",
    "levy": "distributed_bo.trainables.synthetic:levy",
    "rosenbrock": "distributed_bo.trainables.synthetic:rosenbrock",
    "digits_cnn": "distributed_bo.trainables.digits:train_digits_cnn",
    "vision_cnn": "distributed_bo.trainables.vision:train_vision_cnn",
    "autoencoder": "distributed_bo.trainables.autoencoder:train_autoencoder",
}


def resolve_trainable(name: str) -> Callable[[dict[str, Any]], Any]:
    """Return the trainable function for a built-in name or ``module:function``.

    Args:
        name: A key of :data:`BUILTIN_TRAINABLES` or ``"package.module:function"``.

    Returns:
        A Ray Tune function trainable taking one ``config`` dict.

    Raises:
        TrainableError: If the name is malformed, the module cannot be imported or
            the attribute is missing or not callable.
    """
    target = BUILTIN_TRAINABLES.get(name, name)
    if ":" not in target:
        raise TrainableError(
            f"trainable.name: got {name!r}, which is neither a built-in "
            f"({', '.join(sorted(BUILTIN_TRAINABLES))}) nor 'module:function'"
        )
    module_name, _, attr = target.partition(":")
    if not module_name or not attr:
        raise TrainableError(f"trainable.name: got {name!r}; write it as 'package.module:function'")
    try:
        module = importlib.import_module(module_name)
    except ImportError as err:
        raise TrainableError(
            f"trainable.name: cannot import module {module_name!r} of {name!r} ({err}); "
            "check the spelling and that the module is on PYTHONPATH"
        ) from err
    fn = getattr(module, attr, None)
    if fn is None or not callable(fn):
        raise TrainableError(
            f"trainable.name: module {module_name!r} has no callable {attr!r}; "
            "name an existing function as 'module:function'"
        )
    return fn
