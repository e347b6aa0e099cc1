"""How the model knows what is inactive: a conditional kernel for branch points.

A conditional space (:mod:`distributed_bo.search.space`) stays flat on the Ax
side: each branch point is one ordered int *selector* ``0 .. B-1`` and each
branch's parameters are their own Ax parameters, set to a filler while inactive.
A GP on that flat encoding would treat the fillers as data. Here the model is
BoTorch's ``HierarchicalConditionalKernelGP`` (Ax's modular BoTorch generator
takes it through ``SurrogateSpec``/``ModelConfig``): its kernel is a sum of one
Matern-5/2 kernel per block of parameters that are active together, and a block
contributes to ``k(x, x')`` only when it is active in both ``x`` and ``x'``. Two
trials are therefore compared on what they share: the always-present parameters,
the selectors, and the inner parameters of branches both took.

``hierarchical_dependencies`` (``{parent column: {parent value: [child
columns]}}``) refers to the model's feature columns after Ax's transforms.
:class:`ConditionalKernelGP` builds it from the dataset's ``feature_names`` when
Ax constructs the model, so it follows whatever columns Ax produces (a one-hot
encoded categorical becomes several columns, ``name_OH_PARAM_k``). A selector's
values pass Ax's transforms unchanged on ax 1.3.1 (``ChoiceToNumericChoice`` keeps
an ordered int choice starting at 0 as its integers, and no ``UnitX`` is applied
before the model); BoTorch maps them through the model's ``Normalize`` input
transform itself. :func:`hierarchical_dependencies` checks that the selector
columns hold only branch indices, so a change in Ax's transforms fails loudly.

Ax's own hierarchical search space (``dependent_parameters``) is not used here,
though it works on ax 1.3.1: Ax's ``Client`` configured with ``dependents`` runs its
default MBM generation on it (``benchmarks/conditional.py`` runs it as a peer), but
flattens the space for its GP, which then models the fillers of inactive
parameters as data (facebook/Ax#2197). The explicit encoding keeps Sobol points,
pending points and spares flat, and gives the model the structure itself.

The kernel uses BoTorch's log-normal lengthscale prior, not its default SAAS prior
(:data:`USE_SAAS_PRIOR`).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from botorch.models.hierarchical.conditional_kernel_gp import HierarchicalConditionalKernelGP
from botorch.utils.datasets import SupervisedDataset

from distributed_bo.exceptions import SearchSpaceError
from distributed_bo.search.space import MappedSpace

#: Whether the conditional kernel uses the SAAS (half-Cauchy) lengthscale prior,
#: BoTorch's default for ``HierarchicalConditionalKernelGP``; False gives its
#: log-normal prior. Measured on the synthetic conditional problem of
#: ``benchmarks/conditional.py`` (``conditional`` against ``conditional_saas``,
#: paired seeds, 30 evaluations, 4 workers; ``benchmarks/results/conditional_saas.md``):
#: median regret after 30 evaluations 0.021 [IQR 0.018, 0.037] with the log-normal
#: prior against 0.125 [0.061, 0.202] with SAAS, 5-0-0 over 5 paired seeds (sign
#: test p = 0.06), at 3.2 against 4.2 s per proposal (2 cores, shared; 2026-12-06).
#: Why was not tested; SAAS favours few relevant dimensions among many, and here
#: every active parameter matters.
USE_SAAS_PRIOR = False

#: How Ax names the columns of a one-hot encoded choice parameter.
ONE_HOT_INFIX = "_OH_PARAM_"

#: Dependencies by Ax name: selector -> branch index -> the branch's parameters.
NamedDependencies = Mapping[str, Mapping[int, Sequence[str]]]


class ConditionalKernelGP(HierarchicalConditionalKernelGP):
    """``HierarchicalConditionalKernelGP`` whose dependencies are given by Ax name.

    Ax's modular generator calls :meth:`construct_inputs` with the training data
    (``n x d`` features, ``feature_names`` the transformed parameter names) and the
    ``model_options`` of its ``ModelConfig``; this turns names into columns.
    """

    @classmethod
    def construct_inputs(  # type: ignore[override]
        cls,
        training_data: SupervisedDataset,
        *,
        dependencies: NamedDependencies,
        use_saas_prior: bool = USE_SAAS_PRIOR,
        **kwargs: Any,
    ) -> dict[str, Any]:
        """Model keyword arguments, with ``hierarchical_dependencies`` as column indices.

        Args:
            training_data: Ax's dataset; ``X`` is ``n x d``.
            dependencies: Selector -> branch index -> Ax names of the branch's
                parameters (:meth:`MappedSpace.dependencies`).
            use_saas_prior: The SAAS lengthscale prior (BoTorch's default) or the
                log-normal one (:data:`USE_SAAS_PRIOR`).
            **kwargs: Passed on to ``HierarchicalConditionalKernelGP.construct_inputs``.
        """
        columns = hierarchical_dependencies(
            list(training_data.feature_names), dependencies, training_data.X
        )
        return super().construct_inputs(
            training_data=training_data,
            hierarchical_dependencies=columns,
            use_saas_prior=use_saas_prior,
            **kwargs,
        )


def hierarchical_dependencies(
    feature_names: Sequence[str], dependencies: NamedDependencies, X: Any = None
) -> dict[int, dict[int | float, list[int]]]:
    """Translate named dependencies into BoTorch's column-index form.

    Args:
        feature_names: The model's ``d`` feature names, in column order.
        dependencies: Selector -> branch index -> Ax names of the branch's parameters.
        X: Optional ``n x d`` training features; the selector columns must hold
            branch indices only.

    Returns:
        ``{selector column: {branch index: [child columns]}}``.

    Raises:
        SearchSpaceError: If a selector is not exactly one column, or its column
            holds values other than its branch indices (Ax transformed it).
    """
    names = list(feature_names)

    def columns(name: str) -> list[int]:
        return [i for i, f in enumerate(names) if f == name or f.startswith(name + ONE_HOT_INFIX)]

    out: dict[int, dict[int | float, list[int]]] = {}
    for selector, branches in dependencies.items():
        found = columns(selector)
        if len(found) != 1:
            raise SearchSpaceError(
                f"conditional model: selector {selector!r} is {len(found)} model columns "
                f"({names}); expected one ordered column"
            )
        col = found[0]
        if X is not None and len(X):
            seen = {float(v) for v in X[..., col].reshape(-1).tolist()}
            if not seen <= {float(b) for b in branches}:
                raise SearchSpaceError(
                    f"conditional model: selector {selector!r} holds {sorted(seen)} after "
                    f"Ax's transforms; expected branch indices {sorted(branches)}"
                )
        out[col] = {
            int(b): sorted(c for child in children for c in columns(child))
            for b, children in branches.items()
        }
    return out


def model_kwargs(space: MappedSpace) -> dict[str, Any]:
    """Extra ``Generators.BOTORCH_MODULAR`` arguments for ``space``.

    Args:
        space: The mapped space.

    Returns:
        ``{}`` for a space without inactive parameters (Ax's default model, exactly
        as before); else a ``surrogate_spec`` with :class:`ConditionalKernelGP`.
    """
    if not space.is_conditional:
        return {}
    from ax.generators.torch.botorch_modular.surrogate import SurrogateSpec
    from ax.generators.torch.botorch_modular.utils import ModelConfig

    config = ModelConfig(
        botorch_model_class=ConditionalKernelGP,
        # Read at call time, so a benchmark's ablation can switch it.
        model_options={"dependencies": space.dependencies(), "use_saas_prior": USE_SAAS_PRIOR},
        name="ConditionalKernelGP",
    )
    # One model per outcome (a ModelListGP with several objectives or constraints):
    # the conditional kernel has no batch of hyperparameters for a multi-output GP.
    return {"surrogate_spec": SurrogateSpec(model_configs=[config], allow_batched_models=False)}
