"""The conditional kernel: HierarchicalConditionalKernelGP via Ax's modular generator."""

import pytest
from ray import tune

from distributed_bo.search.conditional import ConditionalKernelGP, model_kwargs
from distributed_bo.search.generator import BatchGenerator
from distributed_bo.search.space import map_space
from distributed_bo.testing.conditional import issue_space


def _objective(config):
    arch, act = config["arch"], config["act"]
    widths = [arch[f"width_{i}"] for i in range(1, arch["depth"] + 1)]
    return sum(w / 128 for w in widths) + act.get("beta", 1.0) + config["lr"]


def _generator(space, num_initial=6):
    return BatchGenerator(
        space=space,
        metric="loss",
        mode="min",
        acquisition="qLogNEI",
        batch_strategy="sequential",
        num_initial=num_initial,
        seed=1,
    )


def _complete_sobol(gen, n):
    for i in gen.generate(n):
        gen.complete(i, _objective(gen.space.to_config(gen.parameters(i))))


def test_flat_spaces_keep_axs_default_model():
    flat = map_space({"x": tune.uniform(0, 1), "w": tune.choice([1, 2])})
    assert model_kwargs(flat) == {}
    constants_only = map_space(
        {"act": tune.choice([{"name": "relu"}, {"name": "gelu"}]), "x": tune.uniform(0, 1)}
    )
    assert model_kwargs(constants_only) == {}


def test_dependencies_point_at_the_model_columns_of_each_branch(fast_optimizer):
    from ax.adapter.registry import Generators
    from botorch.acquisition.logei import qLogNoisyExpectedImprovement

    space = map_space(issue_space())
    gen = _generator(space)
    _complete_sobol(gen, 6)
    adapter = Generators.BOTORCH_MODULAR(
        experiment=gen.experiment,
        data=gen.experiment.lookup_data(),
        botorch_acqf_class=qLogNoisyExpectedImprovement,
        **model_kwargs(space),
    )
    adapter.gen(n=1)
    surrogate = adapter.generator.surrogate
    model = surrogate.model
    assert type(model) is ConditionalKernelGP
    names = list(surrogate.training_data[0].feature_names)
    X = surrogate.training_data[0].X
    # The selectors' model values are their branch indices (Ax left them as they are).
    for selector in ("arch", "act"):
        assert set(X[:, names.index(selector)].tolist()) <= {0.0, 1.0}
    # BoTorch's Normalize maps branch b of a 2-branch selector to b / 1.
    deps = model.covar_module.hierarchical_dependencies
    expected = {
        names.index("arch"): {
            0.0: sorted(names.index(f"arch__b0__width_{i}") for i in (1, 2)),
            1.0: sorted(names.index(f"arch__b1__width_{i}") for i in (1, 2, 3)),
        },
        names.index("act"): {0.0: [], 1.0: [names.index("act__b1__beta")]},
    }
    assert deps == expected
    # lr is always active: in the block with no ancestors.
    blocks = dict(
        zip(map(tuple, model.covar_module.partition), model.covar_module.paths, strict=True)
    )
    lr_block = next(b for b in blocks if names.index("lr") in b)
    assert blocks[lr_block] == []


@pytest.mark.parametrize("n", [3])
def test_bo_batches_of_a_conditional_space_are_canonical_and_decode_to_one_branch(
    n, fast_optimizer
):
    space = map_space(issue_space())
    gen = _generator(space, num_initial=4)
    _complete_sobol(gen, 4)
    indices = gen.generate(n)
    assert gen.last_stats.method == "qLogNEI"
    for i in indices:
        params = gen.parameters(i)
        assert params == space.canonical(params)  # inactive parameters at their fillers
        config = space.to_config(params)
        assert space.to_ax(config) == params


def test_several_objectives_fit_one_conditional_model_per_outcome(fast_optimizer):
    from distributed_bo.search.outcomes import Outcomes

    space = map_space(issue_space())
    gen = BatchGenerator(
        space=space,
        metric="a",
        mode="min",
        acquisition="qLogNEI",
        batch_strategy="sequential",
        num_initial=4,
        seed=0,
        outcomes=Outcomes.build(["a", "b"], ["min", "min"]),
    )
    for i in gen.generate(4):
        c = space.to_config(gen.parameters(i))
        gen.complete(i, _objective(c), {"b": c["arch"]["depth"] + c["act"].get("beta", 0.0)})
    indices = gen.generate(2)
    assert gen.last_stats.method == "qLogNEHVI"
    for i in indices:
        assert space.to_ax(space.to_config(gen.parameters(i))) == gen.parameters(i)


def _built_kernel():
    from ax.adapter.registry import Generators
    from botorch.acquisition.logei import qLogNoisyExpectedImprovement

    space = map_space(issue_space())
    gen = _generator(space)
    _complete_sobol(gen, 6)
    adapter = Generators.BOTORCH_MODULAR(
        experiment=gen.experiment,
        data=gen.experiment.lookup_data(),
        botorch_acqf_class=qLogNoisyExpectedImprovement,
        **model_kwargs(space),
    )
    return adapter.generator.surrogate.model.covar_module


def _has_half_cauchy(kernel):
    return any(
        type(prior).__name__ == "HalfCauchyPrior" for *_, prior, _, _ in kernel.named_priors()
    )


def test_the_conditional_kernel_uses_the_log_normal_prior_not_saas(monkeypatch):
    from distributed_bo.search import conditional

    assert conditional.USE_SAAS_PRIOR is False
    kernel = _built_kernel()
    assert kernel.use_saas_prior is False
    assert not _has_half_cauchy(kernel)
    # The setting reaches the model through model_options (BoTorch's default is SAAS).
    monkeypatch.setattr(conditional, "USE_SAAS_PRIOR", True)
    kernel = _built_kernel()
    assert kernel.use_saas_prior is True
    assert _has_half_cauchy(kernel)
