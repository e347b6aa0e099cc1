"""Branch points: a ``tune.choice`` of dicts, mapped to a selector plus per-branch parameters."""

import pytest
from ray import tune

from distributed_bo import SearchSpaceError
from distributed_bo.search.space import map_space
from distributed_bo.testing.conditional import check_one_branch, issue_space, nested_space


def _fill(space, **values):
    out = {p.ax_name: p.filler for p in space.parameters}
    out.update(values)
    return out


def test_branch_point_is_an_ordered_selector_plus_parameters_per_branch():
    s = map_space(issue_space())
    by_name = {p.ax_name: p for p in s.parameters}
    arch = by_name["arch"]
    assert arch.selector and arch.ax_config.values == [0, 1] and arch.ax_config.is_ordered
    assert arch.ax_config.parameter_type == "int"
    assert by_name["arch__b1__width_3"].conditions == (("arch", 1),)
    assert by_name["arch__b1__width_3"].path == "arch/width_3"
    assert by_name["act__b1__beta"].filler == 0.5  # a range's lower bound
    assert by_name["arch__b0__width_1"].filler == 32  # a choice's first value
    assert s.is_conditional
    assert s.dependencies() == {
        "arch": {
            0: ["arch__b0__width_1", "arch__b0__width_2"],
            1: ["arch__b1__width_1", "arch__b1__width_2", "arch__b1__width_3"],
        },
        "act": {0: [], 1: ["act__b1__beta"]},
    }


def test_to_config_holds_only_the_chosen_branch_resolved():
    s = map_space(issue_space())
    ax = _fill(s, arch=1, act=0, lr=0.01, arch__b1__width_3=128, arch__b0__width_1=64)
    config = s.to_config(ax)
    assert config == {
        "arch": {"depth": 3, "width_1": 32, "width_2": 32, "width_3": 128},
        "act": {"name": "relu"},
        "lr": 0.01,
    }
    check_one_branch(config)
    assert s.active(ax) == {
        "arch",
        "act",
        "lr",
        "arch__b1__width_1",
        "arch__b1__width_2",
        "arch__b1__width_3",
    }


@pytest.mark.parametrize("arch,act", [(0, 0), (0, 1), (1, 0), (1, 1)])
def test_round_trips_fill_inactive_parameters(arch, act):
    s = map_space(issue_space())
    ax = _fill(s, arch=arch, act=act, lr=0.003, act__b1__beta=1.5, arch__b0__width_2=128)
    config = s.to_config(ax)
    back = s.to_ax(config)
    assert s.to_config(back) == config
    assert back == s.canonical(ax)
    inactive = set(back) - s.active(back)
    assert all(back[n] == next(p.filler for p in s.parameters if p.ax_name == n) for n in inactive)


def test_nested_branches_round_trip():
    s = map_space(nested_space())
    names = {p.ax_name for p in s.parameters}
    assert "opt__b1__sched__b1__at__epoch" in names
    assert s.dependencies()["opt"][1] == ["opt__b1__sched"]
    ax = _fill(
        s,
        x=0.2,
        opt=1,
        opt__b1__sched=1,
        opt__b1__sched__b1__gamma=0.5,
        opt__b1__sched__b1__at__epoch=3,
    )
    config = s.to_config(ax)
    assert config == {
        "x": 0.2,
        "opt": {"name": "adam", "sched": {"kind": "step", "gamma": 0.5, "at": {"epoch": 3}}},
    }
    assert s.to_ax(config) == s.canonical(ax)
    sgd = {"x": 0.5, "opt": {"name": "sgd", "momentum": 0.9}}
    assert s.to_config(s.to_ax(sgd)) == sgd
    inner = s.to_ax(sgd)
    assert inner["opt__b1__sched"] == 0 and inner["opt__b1__sched__b1__gamma"] == 0.1


def test_flat_configs_are_recognised_too():
    s = map_space(issue_space())
    flat = {"arch/depth": 2, "arch/width_1": 64, "arch/width_2": 32, "act/name": "relu", "lr": 0.01}
    ax = s.to_ax(flat)
    assert ax["arch"] == 0 and ax["arch__b0__width_1"] == 64 and ax["act"] == 0


@pytest.mark.parametrize(
    "config",
    [
        # constants of no branch
        {"arch": {"depth": 4, "width_1": 32, "width_2": 32}, "act": {"name": "relu"}, "lr": 0.01},
        # keys of branch 0 plus a stray key
        {
            "arch": {"depth": 2, "width_1": 32, "width_2": 32, "width_3": 32},
            "act": {"name": "relu"},
            "lr": 0.01,
        },
        # relu with softplus's beta
        {
            "arch": {"depth": 2, "width_1": 32, "width_2": 32},
            "act": {"name": "relu", "beta": 1.0},
            "lr": 0.01,
        },
        # the branch missing altogether
        {"act": {"name": "relu"}, "lr": 0.01},
    ],
)
def test_a_config_matching_no_branch_names_the_path(config):
    s = map_space(issue_space())
    with pytest.raises(SearchSpaceError, match=r"^config: '(arch|act)' matches no branch") as err:
        s.to_ax(config)
    assert "\n" not in str(err.value)


def test_branches_with_equal_keys_are_told_apart_by_their_domains():
    s = map_space({"b": tune.choice([{"w": tune.choice([1, 2])}, {"w": tune.choice([3, 4])}])})
    assert s.to_ax({"b": {"w": 4}})["b"] == 1
    assert s.to_ax({"b": {"w": 2}})["b"] == 0


def test_one_branch_is_inlined_and_constant_branches_carry_no_model_structure():
    s = map_space({"a": tune.choice([{"k": tune.uniform(0, 1), "c": 1}]), "x": tune.uniform(0, 1)})
    assert not s.branch_points and not s.is_conditional
    assert s.to_config({"a__k": 0.5, "x": 0.1}) == {"a": {"k": 0.5, "c": 1}, "x": 0.1}
    c = map_space(
        {"act": tune.choice([{"name": "relu"}, {"name": "gelu"}]), "x": tune.uniform(0, 1)}
    )
    assert c.branch_points and not c.is_conditional  # no inactive parameter: flat model
    assert c.to_config({"act": 1, "x": 0.3}) == {"act": {"name": "gelu"}, "x": 0.3}


@pytest.mark.parametrize(
    "options,match",
    [
        ([{"a": tune.uniform(0, 1)}, 3], r"choice mixes dicts \(branches\) with 3"),
        ([{"a": tune.uniform(0, 1)}, {}], r"branch 1 is an empty dict"),
    ],
)
def test_bad_branch_points_get_one_line(options, match):
    with pytest.raises(SearchSpaceError, match=r"^space\.b: " + match) as err:
        map_space({"b": tune.choice(options), "x": tune.uniform(0, 1)})
    assert "\n" not in str(err.value)


def test_flat_spaces_are_unchanged():
    s = map_space({"x": tune.uniform(0, 1), "c": tune.choice([(1, 2), None])})
    assert not s.branch_points and not s.is_conditional
    assert all(not p.conditions and not p.selector for p in s.parameters)
    ax = {"x": 0.3, "c": "1"}
    assert s.canonical(ax) == ax and s.to_ax(s.to_config(ax)) == ax


def test_a_config_rebuilt_from_a_row_holds_null_for_other_branches_and_still_matches():
    # trials.parquet has a column for every parameter of every branch, null where the
    # trial's branch has none: a resume or a warm start rebuilds configs from them.
    s = map_space(issue_space())
    row = {
        "arch/depth": 2, "arch/width_1": 64, "arch/width_2": 32, "arch/width_3": None,
        "act/name": "softplus", "act/beta": 1.5, "lr": 0.01,
    }  # fmt: skip
    ax = s.to_ax(row)
    assert s.branches(ax) == {"arch": 0, "act": 1}
    assert ax["arch__b0__width_1"] == 64 and ax["act__b1__beta"] == 1.5
    assert s.branch_taken("arch", row) == 0 and s.branch_taken("act", row) == 1
    deep = {**row, "arch/depth": 3, "arch/width_3": 128}
    assert s.branch_taken("arch", deep) == 1
    assert s.branch_taken("arch", {**row, "arch/depth": 4}) is None  # no such branch
    assert s.branch_taken("lr", row) is None  # not a branch point


def test_a_null_constant_in_a_branch_is_absent_as_a_row_holds_it():
    s = map_space({"b": tune.choice([{"p": None, "w": tune.choice([1, 2])}, {"w2": 3.0}])})
    assert s.to_ax({"b": {"p": None, "w": 2}})["b"] == 0
    assert s.to_ax({"b/p": None, "b/w": 2, "b/w2": None})["b"] == 0
    assert s.to_ax({"b/w2": 3.0, "b/p": None, "b/w": None})["b"] == 1


def test_the_default_sobol_start_counts_the_parameters_of_one_configuration():
    # issue_space has 9 Ax parameters (both arch branches' widths) but a trial uses
    # at most 7: lr, arch, act, three widths and beta; the Sobol start is 2 x 7.
    s = map_space(issue_space())
    assert (s.dim, s.active_dim, s.default_num_initial) == (9, 7, 14)
    nested = map_space(nested_space())  # x, opt, then adam's sched, gamma, epoch
    assert (nested.dim, nested.active_dim) == (6, 5)
    flat = map_space({"x": tune.uniform(0, 1), "c": tune.choice([1, 2])})
    assert (flat.dim, flat.active_dim, flat.default_num_initial) == (2, 2, 5)


def test_the_searcher_uses_the_default_sobol_start_of_its_space():
    from distributed_bo import BatchBOSearcher

    searcher = BatchBOSearcher(space=issue_space(), metric="v", mode="min", seed=0)
    searcher.suggest("t0")
    assert searcher._gen is not None and searcher._gen.num_initial == 14
