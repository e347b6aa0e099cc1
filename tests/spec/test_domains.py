from __future__ import annotations

import re
import warnings
from typing import Any

import pytest
from ray.tune.search.sample import Categorical, Float, Integer, Quantized

from distributed_bo.exceptions import SpecError
from distributed_bo.spec.domains import DOMAIN_TYPES, MAX_CHOICE_VALUES, DomainSpec
from distributed_bo.spec.space import parse_space, to_param_space

# type, YAML mapping, Ray Tune domain class, outer sampler, inner sampler, lower, upper, q
CASES = [
    ("uniform", {"lower": 0.5, "upper": 0.99}, Float, "_Uniform", None, 0.5, 0.99, None),
    ("loguniform", {"lower": 1e-4, "upper": 1e-1}, Float, "_LogUniform", None, 1e-4, 1e-1, None),
    (
        "quniform",
        {"lower": 0.0, "upper": 0.1, "q": 0.01},
        Float,
        "Quantized",
        "_Uniform",
        0.0,
        0.1,
        0.01,
    ),
    (
        "qloguniform",
        {"lower": 0.001, "upper": 1.0, "q": 0.001},
        Float,
        "Quantized",
        "_LogUniform",
        0.001,
        1.0,
        0.001,
    ),
    ("randint", {"lower": 1, "upper": 4}, Integer, "_Uniform", None, 1, 4, None),
    ("lograndint", {"lower": 8, "upper": 257}, Integer, "_LogUniform", None, 8, 257, None),
    ("qrandint", {"lower": 2, "upper": 12, "q": 2}, Integer, "Quantized", "_Uniform", 2, 12, 2),
    (
        "qlograndint",
        {"lower": 2, "upper": 64, "q": 2},
        Integer,
        "Quantized",
        "_LogUniform",
        2,
        64,
        2,
    ),
]


@pytest.mark.parametrize(
    ("kind", "keys", "cls", "sampler", "inner", "lower", "upper", "q"),
    CASES,
    ids=[c[0] for c in CASES],
)
def test_numeric_domain_maps_to_ray_tune(
    kind: str,
    keys: dict[str, Any],
    cls: type,
    sampler: str,
    inner: str | None,
    lower: float,
    upper: float,
    q: float | None,
) -> None:
    domain = DomainSpec.from_dict("p", {"type": kind, **keys}).to_tune()
    assert type(domain) is cls
    assert (domain.lower, domain.upper) == (lower, upper)
    outer = domain.get_sampler()
    assert type(outer).__name__ == sampler
    if inner is not None:
        assert isinstance(outer, Quantized)
        assert outer.q == q
        assert type(outer.get_sampler()).__name__ == inner
    if cls is Integer:
        assert isinstance(domain.lower, int) and isinstance(domain.upper, int)
    else:
        assert isinstance(domain.lower, float) and isinstance(domain.upper, float)


def test_every_type_is_covered() -> None:
    assert {c[0] for c in CASES} | {"choice"} == set(DOMAIN_TYPES)


def test_randint_keeps_ray_bounds() -> None:
    domain = DomainSpec.from_dict("layers", {"type": "randint", "lower": 1, "upper": 4}).to_tune()
    assert (domain.lower, domain.upper) == (1, 4)
    samples = {domain.sample() for _ in range(200)}
    assert samples == {1, 2, 3}  # upper excluded


def test_qrandint_includes_upper() -> None:
    domain = DomainSpec.from_dict(
        "s", {"type": "qrandint", "lower": 2, "upper": 6, "q": 2}
    ).to_tune()
    assert {domain.sample() for _ in range(300)} <= {2, 4, 6}


def test_int_bounds_are_floats_for_float_types() -> None:
    domain = DomainSpec.from_dict("x", {"type": "uniform", "lower": 0, "upper": 1}).to_tune()
    assert domain.lower == 0.0 and isinstance(domain.lower, float)


def test_choice() -> None:
    domain = DomainSpec.from_dict("w", {"type": "choice", "values": [8, 16, 32]}).to_tune()
    assert isinstance(domain, Categorical)
    assert domain.categories == [8, 16, 32]


def test_choice_of_structured_values_is_plain_data() -> None:
    values = [[1, 2], {"a": 1, "b": None}, True, "x"]
    domain = DomainSpec.from_dict("c", {"type": "choice", "values": values}).to_tune()
    assert domain.categories == values
    assert type(domain.categories[0]) is list and type(domain.categories[1]) is dict


@pytest.mark.parametrize(
    ("values", "where", "says"),
    [
        ([1, float("nan"), None, "a"], "values[1]", "finite"),
        ([1, None, "a"], "values[1]", "cannot be null"),
        ([1.0, float("inf")], "values[1]", "finite"),
        ([[1.0, float("-inf")], [2.0]], "values[0][1]", "finite"),
        ([{"lr": float("nan")}, {"lr": 1.0}], "values[0].lr", "finite"),
    ],
)
def test_choice_refuses_null_and_nan(values: list, where: str, says: str) -> None:
    with pytest.raises(SpecError, match=rf"^space\.c\.{re.escape(where)}: got .*{says}"):
        DomainSpec.from_dict("c", {"type": "choice", "values": values})


def test_choice_of_mixed_types_is_accepted() -> None:
    # The searcher maps a mixed choice onto indices (an unordered str choice in Ax).
    values = [1, "a", True, 2.5]
    domain = DomainSpec.from_dict("c", {"type": "choice", "values": values})
    assert domain.to_tune().categories == values


def test_choice_length_is_capped() -> None:
    values = list(range(MAX_CHOICE_VALUES + 1))
    with pytest.raises(SpecError, match=r"^space\.c\.values: got 10,001 values; give at most"):
        DomainSpec.from_dict("c", {"type": "choice", "values": values})
    DomainSpec.from_dict("c", {"type": "choice", "values": values[:-1]})


def test_loguniform_base_is_accepted_without_ray_deprecation_warning() -> None:
    spec = DomainSpec.from_dict(
        "lr", {"type": "loguniform", "lower": 1e-4, "upper": 1.0, "base": 2}
    )
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        domain = spec.to_tune()
    assert type(domain.get_sampler()).__name__ == "_LogUniform"
    assert spec.base == 2


def test_to_dict_round_trip() -> None:
    raw = {"type": "qloguniform", "lower": 0.001, "upper": 1.0, "q": 0.001}
    assert DomainSpec.from_dict("p", raw).to_dict() == raw


def test_direct_construction_is_validated() -> None:
    with pytest.raises(SpecError, match=r"^space\.optim\.lr: lower \(2\.0\) must be < upper"):
        DomainSpec(name="optim/lr", type="uniform", lower=2.0, upper=1.0)
    with pytest.raises(SpecError, match=r"space\.x\.q: got 0\.5; a uniform domain takes no q"):
        DomainSpec(name="x", type="uniform", lower=0.0, upper=1.0, q=0.5)


BAD_DOMAINS = [
    (
        {"type": "unifrom", "lower": 0, "upper": 1},
        r"space\.p\.type: got 'unifrom'; use .*did you mean 'uniform'",
    ),
    ({"type": None}, r"space\.p\.type: got None; use 'uniform'"),
    (
        {"type": "uniform", "lower": 0},
        r"space\.p\.upper: missing; a uniform domain needs lower, upper",
    ),
    (
        {"type": "uniform", "lower": 0, "upper": 1, "uper": 2},
        r"space\.p: got unknown key 'uper'.*a uniform domain takes",
    ),
    ({"type": "uniform", "lower": 0, "upper": 1, "q": 0.1}, r"space\.p: got unknown key 'q'"),
    (
        {"type": "uniform", "lower": "0", "upper": 1},
        r"space\.p\.lower: got '0'; use a number, not a string",
    ),
    ({"type": "uniform", "lower": "1e-4", "upper": 1}, r"space\.p\.lower: .*write 1\.0e-4"),
    (
        {"type": "uniform", "lower": True, "upper": 2},
        r"space\.p\.lower: got True; use a number, not a boolean",
    ),
    (
        {"type": "uniform", "lower": 0, "upper": float("inf")},
        r"space\.p\.upper: got inf; use a finite number",
    ),
    ({"type": "uniform", "lower": [0], "upper": 1}, r"space\.p\.lower: got \[0\]; use a number"),
    (
        {"type": "uniform", "lower": 0.1, "upper": 0.01},
        r"^space\.p: lower \(0\.1\) must be < upper \(0\.01\); swap them$",
    ),
    (
        {"type": "uniform", "lower": 0.1, "upper": 0.1},
        r"space\.p: lower \(0\.1\) must be < upper \(0\.1\); widen",
    ),
    (
        {"type": "loguniform", "lower": 0.0, "upper": 1},
        r"space\.p\.lower: got 0\.0; loguniform samples on a log scale, so lower must be > 0",
    ),
    (
        {"type": "lograndint", "lower": -2, "upper": 8},
        r"space\.p\.lower: got -2; lograndint .* > 0",
    ),
    ({"type": "loguniform", "lower": 0.1, "upper": 1, "base": 1}, r"space\.p\.base: got 1"),
    (
        {"type": "quniform", "lower": 0.0, "upper": 1.0, "q": 0},
        r"space\.p\.q: got 0; use a number > 0",
    ),
    (
        {"type": "quniform", "lower": 0.05, "upper": 1.0, "q": 0.1},
        r"space\.p\.lower: got 0\.05; .*multiples of q \(0\.1\); use 0\.0 or 0\.1",
    ),
    (
        {"type": "qrandint", "lower": 1, "upper": 10, "q": 3},
        r"space\.p\.lower: got 1; .*use 0 or 3",
    ),
    (
        {"type": "qrandint", "lower": 2, "upper": 12, "q": 1.5},
        r"space\.p\.q: got 1\.5; use an integer >= 1",
    ),
    ({"type": "randint", "lower": 1.5, "upper": 4}, r"space\.p\.lower: got 1\.5; use an integer"),
    (
        {"type": "randint", "lower": 3, "upper": 3},
        r"space\.p: lower \(3\) must be < upper \(3\); upper is excluded, so use upper: 4",
    ),
    ({"type": "choice", "values": []}, r"space\.p\.values: got \[\]; give at least one value"),
    ({"type": "choice", "values": 8}, r"space\.p\.values: got 8; use a non-empty list"),
    (
        {"type": "choice", "values": [8, 16, 8]},
        r"space\.p\.values: got \[8, 16, 8\]; 8 appears more than once",
    ),
    ({"type": "choice", "values": [1, 1.0]}, r"appears more than once"),
    ({"type": "choice"}, r"space\.p\.values: missing"),
    (
        {"type": "uniform", "lower": 0, "upper": 10**400},
        r"space\.p\.upper: got 1000.*\.\.\.; use a finite",
    ),
    (
        {"type": "randint", "lower": 0, "upper": 10**400},
        r"space\.p\.upper: .*between -2\*\*53 and 2\*\*53",
    ),
    (
        {"type": "quniform", "lower": 0.0, "upper": 1e308, "q": 1e-10},
        r"space\.p\.q: got 1e-10; q is too small",
    ),
]


@pytest.mark.parametrize(("raw", "message"), BAD_DOMAINS)
def test_bad_domain(raw: dict[str, Any], message: str) -> None:
    with pytest.raises(SpecError, match=message):
        DomainSpec.from_dict("p", raw)


def test_choice_distinguishes_bool_from_int() -> None:
    spec = DomainSpec.from_dict("c", {"type": "choice", "values": [1, True, "1"]})
    assert spec.values == (1, True, "1")


@pytest.mark.parametrize(
    ("raw", "good", "bad"),
    [
        (
            {"type": "uniform", "lower": 0.0, "upper": 1.0},
            [0.0, 1, 1.0],
            [1.5, -0.1, "0.5", True, None],
        ),
        ({"type": "randint", "lower": 1, "upper": 4}, [1, 3], [4, 0, 2.0, True]),
        ({"type": "qrandint", "lower": 2, "upper": 12, "q": 2}, [2, 12, 6], [3, 14, 0]),
        (
            {"type": "quniform", "lower": 0.0, "upper": 0.1, "q": 0.01},
            [0.0, 0.03, 0.1],
            [0.015, 0.11],
        ),
        ({"type": "lograndint", "lower": 8, "upper": 257}, [8, 256], [257, 7]),
        ({"type": "choice", "values": [8, 16, "a"]}, [8, 16.0, "a"], [9, "b", None]),
    ],
)
def test_check_value(raw: dict[str, Any], good: list[Any], bad: list[Any]) -> None:
    spec = DomainSpec.from_dict("p", raw)
    for value in good:
        spec.check_value(value, "baseline.p")
    for value in bad:
        with pytest.raises(SpecError, match=r"^baseline\.p: got "):
            spec.check_value(value, "baseline.p")


def test_parse_space_splits_domains_constants_and_groups() -> None:
    parsed = parse_space(
        {
            "lr": {"type": "loguniform", "lower": 1e-4, "upper": 1e-1},
            "activation": "relu",
            "sizes": [1, 2],
            "optim": {"beta1": {"type": "uniform", "lower": 0.8, "upper": 0.99}, "eps": 1e-8},
        }
    )
    assert list(parsed.domains) == ["lr", "optim/beta1"]
    assert dict(parsed.constants) == {"activation": "relu", "sizes": [1, 2], "optim/eps": 1e-8}
    assert parsed.groups == frozenset({"optim"})
    assert parsed.domains["optim/beta1"].path == "space.optim.beta1"


def test_to_param_space_nests_domains_and_copies_constants() -> None:
    space = {
        "lr": {"type": "loguniform", "lower": 1e-4, "upper": 1e-1},
        "activation": "relu",
        "sizes": [1, 2],
        "optim": {"beta1": {"type": "uniform", "lower": 0.8, "upper": 0.99}, "eps": 1e-8},
    }
    out = to_param_space(space)
    assert isinstance(out["lr"], Float)
    assert out["activation"] == "relu"
    assert isinstance(out["optim"], dict)
    assert isinstance(out["optim"]["beta1"], Float)
    assert out["optim"]["eps"] == 1e-8
    out["sizes"].append(3)
    assert space["sizes"] == [1, 2]


@pytest.mark.parametrize(
    ("space", "message"),
    [
        ([{"x": 1}], r"^space: got \[\{'x': 1\}\]; use a mapping"),
        (None, r"^space: got None; use a mapping"),
        ({"x": 1, "y": "a"}, r"^space: got .*search at least one parameter"),
        ({}, r"^space: got \{\}; search at least one parameter"),
        (
            {"my-lr": {"type": "uniform", "lower": 0, "upper": 1}},
            r"^space: got 'my-lr'; parameter names must be identifiers",
        ),
        ({"optim": {"a/b": 1}}, r"^space\.optim: got 'a/b'; parameter names"),
        ({3: 1}, r"^space: got 3; .*keys must be strings"),
        ({"type": "uniform", "lower": 0, "upper": 1}, r"^space: got .*put the domain under a name"),
        (
            {"optim": {"type": "adam", "lr": 1}},
            r"^space\.optim\.type: got 'adam'; .*type key is a searched parameter",
        ),
    ],
)
def test_bad_space(space: Any, message: str) -> None:
    with pytest.raises(SpecError, match=message):
        parse_space(space)
