"""trainables/_config.py: configs built from Tune configs through validation.py's checks."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pytest

from distributed_bo.exceptions import SpecError
from distributed_bo.trainables._config import check_fields, choice_check, from_config


@dataclass(frozen=True, kw_only=True)
class _Cfg:
    flag: bool = False
    count: int = 1
    rate: float = 0.5
    name: str = "a"
    extra: tuple[int, ...] = ()


@pytest.mark.parametrize(
    ("config", "expected"),
    [
        ({"flag": np.bool_(True)}, _Cfg(flag=True)),
        ({"count": 64.0, "rate": np.float32(0.25)}, _Cfg(count=64, rate=0.25)),
        ({"count": np.int64(3), "other": object()}, _Cfg(count=3)),
        ({"extra": "left to the class"}, _Cfg()),
    ],
)
def test_values_take_the_type_of_the_default(config: dict, expected: _Cfg) -> None:
    cfg = from_config(_Cfg, config, "t")
    assert cfg == expected
    assert type(cfg.count) is int and type(cfg.rate) is float and type(cfg.flag) is bool


@pytest.mark.parametrize(
    ("key", "value", "message"),
    [
        ("flag", 1, "t.flag: got 1 (int); pass true or false"),
        ("count", True, "t.count: got True (bool); pass an int"),
        ("count", 2.5, "t.count: got 2.5 (float); pass an int"),
        ("count", 10**400, "(int); pass an int"),
        ("rate", float("inf"), "t.rate: got inf (float); pass a finite float"),
        ("name", 3, "t.name: got 3 (int); pass a string"),
    ],
)
def test_wrong_types_fail_in_one_line(key: str, value: object, message: str) -> None:
    with pytest.raises(SpecError) as info:
        from_config(_Cfg, {key: value}, "t")
    assert message in str(info.value) and "\n" not in str(info.value)
    assert str(info.value).startswith(f"t.{key}: got ")


def test_first_failed_check_names_field_value_and_fix() -> None:
    cfg = _Cfg(count=0, name="adm")
    checks = {
        "count": (cfg.count >= 1, "an int >= 1"),
        "name": choice_check(cfg.name, ("adam", "sgd")),
    }
    with pytest.raises(SpecError, match=r"^t.count: got 0; pass an int >= 1$"):
        check_fields(cfg, "t", checks)
    with pytest.raises(SpecError) as info:
        check_fields(cfg, "t", {"name": checks["name"]})
    fix = "pass one of 'adam' or 'sgd' (did you mean 'adam'?)"
    assert str(info.value) == f"t.name: got 'adm'; {fix}"
    assert choice_check("sgd", ("adam", "sgd"))[0]
