"""One fast setting of the acquisition optimiser, for tests and quick benchmarks.

:func:`fast_optimizer` patches the BoTorch optimisers that Ax's acquisition calls
(``optimize_acqf`` and its mixed-space variants, as named in
``ax.generators.torch.botorch_modular.acquisition``) so that each call uses at most
:data:`FAST_OPTIMIZER`'s restarts, raw samples and iterations. The model is fitted
as usual and the points are real BoTorch optima of the acquisition, only found
with less effort. Like BoTorch's ``botorch.test_utils.mock.mock_optimize``, it
raises when the optimiser was never called, so a test cannot silently stop testing
what it claims to.

The patch holds for the whole process (the searcher's background thread included)
while the context is open, and for no other process.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass
from typing import Any
from unittest import mock

#: Where Ax's ``Acquisition.optimize`` looks the optimisers up.
_AX_ACQUISITION = "ax.generators.torch.botorch_modular.acquisition"
#: The optimisers patched, with the ``options`` keys that bound their iterations.
_OPTIMIZERS: dict[str, tuple[str, ...]] = {
    "optimize_acqf": ("maxiter",),
    "optimize_acqf_mixed": ("maxiter",),
    "optimize_acqf_mixed_alternating": ("maxiter_continuous", "maxiter_init"),
}


@dataclass(frozen=True, kw_only=True)
class OptimizerCaps:
    """Upper bounds on one acquisition optimisation.

    Attributes:
        num_restarts: Most restarts of the gradient-based optimiser.
        raw_samples: Most raw samples the starting points are chosen from.
        maxiter: Most iterations of each L-BFGS-B run.
    """

    num_restarts: int = 2
    raw_samples: int = 32
    maxiter: int = 20

    def apply(self, kwargs: dict[str, Any], iteration_keys: tuple[str, ...]) -> dict[str, Any]:
        """Return ``kwargs`` with every bound lowered to the cap (never raised)."""
        out = dict(kwargs)
        out["num_restarts"] = min(out.get("num_restarts") or self.num_restarts, self.num_restarts)
        out["raw_samples"] = min(out.get("raw_samples") or self.raw_samples, self.raw_samples)
        options = dict(out.get("options") or {})
        for key in iteration_keys:
            options[key] = min(options.get(key, self.maxiter), self.maxiter)
        out["options"] = options
        return out


#: The one fast setting used by the tests and the benchmarks' quick modes.
FAST_OPTIMIZER = OptimizerCaps()


@dataclass(kw_only=True)
class OptimizerCalls:
    """What happened inside a :func:`fast_optimizer` block.

    Attributes:
        count: Calls of any patched optimiser so far.
    """

    count: int = 0


@contextmanager
def fast_optimizer(
    caps: OptimizerCaps = FAST_OPTIMIZER, *, allow_unused: bool = False
) -> Iterator[OptimizerCalls]:
    """Cap the acquisition optimiser inside the block; fail if it was never called.

    Args:
        caps: The bounds applied to every call.
        allow_unused: Don't fail when nothing called the optimiser (for a block
            that may or may not get past the Sobol points).

    Yields:
        The call counter, updated as calls happen.

    Raises:
        AssertionError: On exit, if no patched optimiser was called and
            ``allow_unused`` is false.
    """
    import importlib

    module = importlib.import_module(_AX_ACQUISITION)
    calls = OptimizerCalls()
    with ExitStack() as stack:
        for name, keys in _OPTIMIZERS.items():
            stack.enter_context(
                mock.patch.object(module, name, _capped(getattr(module, name), caps, keys, calls))
            )
        yield calls
    if calls.count == 0 and not allow_unused:
        raise AssertionError(
            "fast_optimizer: the acquisition optimiser was never called; remove the "
            "fixture from this test or pass allow_unused=True"
        )


def _capped(
    function: Callable[..., Any],
    caps: OptimizerCaps,
    keys: tuple[str, ...],
    calls: OptimizerCalls,
) -> Callable[..., Any]:
    def capped(*args: Any, **kwargs: Any) -> Any:
        calls.count += 1
        return function(*args, **caps.apply(kwargs, keys))

    capped.__wrapped__ = function  # type: ignore[attr-defined]
    return capped
