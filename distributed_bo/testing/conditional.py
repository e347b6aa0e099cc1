"""Conditional search spaces shared by tests and benchmarks (issue 15)."""

from ray import tune

WIDTHS = [32, 64, 128]


def issue_space():
    """Issue 15's example: per-layer widths that exist only with their layer."""
    return {
        "arch": tune.choice(
            [
                {"depth": 2, "width_1": tune.choice(WIDTHS), "width_2": tune.choice(WIDTHS)},
                {
                    "depth": 3,
                    "width_1": tune.choice(WIDTHS),
                    "width_2": tune.choice(WIDTHS),
                    "width_3": tune.choice(WIDTHS),
                },
            ]
        ),
        "act": tune.choice(
            [{"name": "relu"}, {"name": "softplus", "beta": tune.uniform(0.5, 2.0)}]
        ),
        "lr": tune.loguniform(1e-4, 1e-1),
    }


def nested_space():
    """A branch point inside a branch, with a nested plain dict inside that."""
    return {
        "x": tune.uniform(0.0, 1.0),
        "opt": tune.choice(
            [
                {"name": "sgd", "momentum": tune.uniform(0.0, 0.99)},
                {
                    "name": "adam",
                    "sched": tune.choice(
                        [
                            {"kind": "const"},
                            {
                                "kind": "step",
                                "gamma": tune.uniform(0.1, 0.9),
                                "at": {"epoch": tune.randint(1, 5)},
                            },
                        ]
                    ),
                },
            ]
        ),
    }


def check_one_branch(config):
    """Assert a trial config of :func:`issue_space` holds exactly one resolved branch."""
    from ray.tune.search.sample import Domain

    arch, act = config["arch"], config["act"]
    assert set(config) == {"arch", "act", "lr"}
    depth = arch["depth"]
    assert depth in (2, 3)
    assert set(arch) == {"depth", *(f"width_{i}" for i in range(1, depth + 1))}
    assert all(arch[f"width_{i}"] in WIDTHS for i in range(1, depth + 1))
    assert act["name"] in ("relu", "softplus")
    if act["name"] == "relu":
        assert act == {"name": "relu"}
    else:
        assert set(act) == {"name", "beta"} and 0.5 <= act["beta"] <= 2.0
    assert 1e-4 <= config["lr"] <= 1e-1
    for value in (*arch.values(), *act.values(), config["lr"]):
        assert not isinstance(value, Domain)
