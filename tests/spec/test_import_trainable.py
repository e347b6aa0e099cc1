"""``import_trainable=False``: a saved spec reads back without the trainable's module."""

from __future__ import annotations

import sys
from typing import Any

import pytest

from distributed_bo.exceptions import SpecError, TrainableError
from distributed_bo.spec import StudySpec, TrainableSpec, parse_spec

MISSING_MODULE = "no_such_user_module_xyz"


def test_from_dict_without_import_reads_an_unimportable_module(minimal: dict[str, Any]) -> None:
    minimal["trainable"]["name"] = f"{MISSING_MODULE}.train:objective"
    with pytest.raises(TrainableError, match=r"^trainable\.name: cannot import module"):
        StudySpec.from_dict(minimal)
    spec = StudySpec.from_dict(minimal, import_trainable=False)
    assert spec.trainable.name == f"{MISSING_MODULE}.train:objective"
    assert MISSING_MODULE not in sys.modules
    with pytest.raises(TrainableError, match=r"^trainable\.name: cannot import module"):
        spec.trainable.resolve()


def test_round_trip_through_yaml_without_import(minimal: dict[str, Any]) -> None:
    minimal["trainable"]["name"] = f"{MISSING_MODULE}:objective"
    spec = StudySpec.from_dict(minimal, import_trainable=False)
    again = parse_spec(spec.to_yaml(), import_trainable=False)
    assert again == spec
    assert again.to_dict() == spec.to_dict()
    assert "import_trainable" not in again.to_dict()["trainable"]


def test_spec_read_either_way_is_equal(minimal: dict[str, Any]) -> None:
    assert StudySpec.from_dict(minimal, import_trainable=False) == StudySpec.from_dict(minimal)


def test_the_module_is_not_imported(minimal: dict[str, Any], tmp_path: Any) -> None:
    module = "spec_tests_import_marker"
    (tmp_path / f"{module}.py").write_text("raise RuntimeError('imported')\n")
    sys.path.insert(0, str(tmp_path))
    try:
        minimal["trainable"]["name"] = f"{module}:objective"
        StudySpec.from_dict(minimal, import_trainable=False)
        assert module not in sys.modules
    finally:
        sys.path.remove(str(tmp_path))
        sys.modules.pop(module, None)


@pytest.mark.parametrize(
    ("name", "match"),
    [
        ("no_colon_here", r"^trainable\.name: got 'no_colon_here', which is neither a built-in"),
        (":objective", r"^trainable\.name: got ':objective'; write it as 'package\.module:"),
        ("pkg.mod:", r"^trainable\.name: got 'pkg\.mod:'; write it as 'package\.module:function'"),
        ("pkg mod:f", r"^trainable\.name: got 'pkg mod:f'; write it as"),
        ("pkg..mod:f", r"^trainable\.name: got 'pkg\.\.mod:f'; write it as"),
    ],
)
def test_form_is_still_checked(minimal: dict[str, Any], name: str, match: str) -> None:
    minimal["trainable"]["name"] = name
    with pytest.raises(TrainableError, match=match):
        StudySpec.from_dict(minimal, import_trainable=False)


def test_builtin_name_is_accepted_without_import(minimal: dict[str, Any]) -> None:
    minimal["trainable"]["name"] = "digits_cnn"
    spec = StudySpec.from_dict(minimal, import_trainable=False)
    assert spec.trainable.name == "digits_cnn"


def test_other_checks_still_run(minimal: dict[str, Any]) -> None:
    minimal["trainable"]["name"] = f"{MISSING_MODULE}:objective"
    minimal["budget"]["num_trials"] = 0
    with pytest.raises(SpecError, match=r"^budget\.num_trials: got 0"):
        StudySpec.from_dict(minimal, import_trainable=False)


def test_trainable_section_directly() -> None:
    section = TrainableSpec.from_dict({"name": f"{MISSING_MODULE}:f"}, import_trainable=False)
    assert section == TrainableSpec(name=f"{MISSING_MODULE}:f", import_trainable=False)
    with pytest.raises(SpecError, match=r"^trainable: got unknown key 'import_trainable'"):
        TrainableSpec.from_dict({"name": "x:f", "import_trainable": False})
