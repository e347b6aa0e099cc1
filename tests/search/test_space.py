import pytest
from ray import tune

from distributed_bo import SearchSpaceError
from distributed_bo.search.space import flatten, map_space, unflatten


def _param(space, path):
    return next(p for p in space.parameters if p.path == path)


def test_float_domains_map_to_ranges():
    s = map_space({"a": tune.uniform(0, 2), "b": tune.loguniform(1e-4, 1e-1)})
    a, b = _param(s, "a").ax_config, _param(s, "b").ax_config
    assert (a.parameter_type, a.bounds, a.scaling) == ("float", (0.0, 2.0), "linear")
    assert (b.parameter_type, b.bounds, b.scaling) == ("float", (1e-4, 1e-1), "log")


def test_randint_upper_is_exclusive_like_ray():
    s = map_space({"n": tune.randint(1, 5), "m": tune.lograndint(8, 257)})
    n, m = _param(s, "n").ax_config, _param(s, "m").ax_config
    assert (n.parameter_type, n.bounds) == ("int", (1, 4))
    assert (m.bounds, m.scaling) == ((8, 256), "log")


def test_quantized_domains_keep_their_grid():
    s = map_space(
        {
            "q": tune.quniform(0.0, 0.1, 0.02),
            "qi": tune.qrandint(2, 12, 2),
            "ql": tune.qloguniform(1e-3, 1e-2, 1e-3),
            "qli": tune.qlograndint(4, 64, 4),
        }
    )
    q = _param(s, "q").ax_config
    assert q.bounds == (0.0, 0.1) and q.step_size == 0.02
    qi = _param(s, "qi").ax_config
    assert qi.bounds == (2, 12) and qi.step_size == 2  # qrandint's upper is inclusive
    ql = _param(s, "ql").ax_config
    assert ql.values[0] == pytest.approx(1e-3) and ql.values[-1] == pytest.approx(1e-2)
    assert ql.is_ordered
    assert _param(s, "qli").ax_config.values == list(range(4, 65, 4))


def test_numeric_choice_is_ordered_and_strings_are_categorical():
    s = map_space({"w": tune.choice([64, 16, 32]), "act": tune.choice(["relu", "gelu", "silu"])})
    w, act = _param(s, "w").ax_config, _param(s, "act").ax_config
    assert w.values == [16, 32, 64] and w.is_ordered and w.parameter_type == "int"
    assert act.values == ["relu", "gelu", "silu"] and act.is_ordered is False


def test_choice_of_other_objects_round_trips_through_indices():
    cats = [None, (1, 2), True]
    s = map_space({"c": tune.choice(cats)})
    p = _param(s, "c")
    for value in cats:
        assert p.decode(p.encode(value)) == value


def test_constants_single_choice_and_nested_dicts():
    space = {"opt": {"lr": tune.loguniform(1e-3, 1.0), "name": "adam"}, "k": tune.choice([7])}
    s = map_space(space)
    assert [p.path for p in s.parameters] == ["opt/lr"]
    assert _param(s, "opt/lr").ax_name == "opt__lr"
    assert dict(s.constants) == {"opt/name": "adam", "k": 7}
    config = s.to_config({"opt__lr": 0.01})
    assert config == {"opt": {"lr": 0.01, "name": "adam"}, "k": 7}
    assert s.to_ax(config) == {"opt__lr": 0.01}


def test_flatten_unflatten_inverse():
    nested = {"a": {"b": 1, "c": {"d": 2}}, "e": 3}
    assert flatten(nested) == {"a/b": 1, "a/c/d": 2, "e": 3}
    assert unflatten(flatten(nested)) == nested


@pytest.mark.parametrize(
    ("space", "fragment"),
    [
        ({"a": tune.sample_from(lambda _: 1)}, "space.a"),
        ({"a": tune.randn(0, 1)}, "space.a"),
        ({"a": tune.grid_search([1, 2])}, "grid_search"),
        ({"a": 1}, "no searched parameter"),
        ({"a": tune.qrandint(1, 2, 5)}, "no multiple"),
    ],
)
def test_unmappable_domains_raise(space, fragment):
    with pytest.raises(SearchSpaceError, match=fragment):
        map_space(space)


def test_constraint_names_are_translated():
    s = map_space({"o": {"x": tune.uniform(0, 1)}, "y": tune.uniform(0, 1)})
    assert s.translate_constraint("o/x + y <= 1") == "o__x + y <= 1"
