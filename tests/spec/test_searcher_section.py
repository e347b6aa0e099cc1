"""The spec's ``searcher:`` section is SearcherSettings, and spec/ imports no searcher internals."""

from __future__ import annotations

import subprocess
import sys
from typing import Any

import pytest

import distributed_bo.spec as spec_package
from distributed_bo.exceptions import SpecError
from distributed_bo.search.settings import DEFAULT_ACQUISITION, SearcherSettings
from distributed_bo.spec import SearcherSpec, StudySpec, parse_spec
from distributed_bo.spec import schema as old_schema


def test_searcher_spec_is_searcher_settings() -> None:
    assert SearcherSpec is SearcherSettings
    assert old_schema.SearcherSpec is SearcherSettings


def test_old_schema_path_names_the_same_classes() -> None:
    for name in ("BudgetSpec", "CheckpointSpec", "ObjectiveSpec", "ResourcesSpec"):
        assert getattr(old_schema, name) is getattr(spec_package, name)
    for name in ("StudySpec", "TrainableSpec", "SchedulerSpec"):
        assert getattr(old_schema, name) is getattr(spec_package, name)
    assert old_schema.SCHEDULERS == ("fifo", "asha", "hyperband", "median_stopping")
    assert old_schema.TIME_ATTRS == ("training_iteration", "time_total_s")


def test_section_is_built_as_settings(minimal: dict[str, Any]) -> None:
    minimal["searcher"] = {"acquisition": "qUCB", "batch_size": 2}
    spec = StudySpec.from_dict(minimal)
    assert type(spec.searcher) is SearcherSettings
    assert spec.searcher == SearcherSettings(acquisition="qUCB", batch_size=2)


@pytest.mark.parametrize("section", ["absent", None, {}])
def test_absent_null_or_empty_section_takes_the_defaults(
    minimal: dict[str, Any], section: Any
) -> None:
    if section != "absent":
        minimal["searcher"] = section
    spec = StudySpec.from_dict(minimal)
    assert spec.searcher == SearcherSettings()
    assert spec.searcher.acquisition == DEFAULT_ACQUISITION


def test_optimizer_options_round_trip(minimal: dict[str, Any]) -> None:
    minimal["searcher"] = {"optimizer_options": {"num_restarts": 2, "raw_samples": 64}}
    spec = StudySpec.from_dict(minimal)
    again = parse_spec(spec.to_yaml())
    assert again == spec
    assert again.searcher.optimizer_options == {"num_restarts": 2, "raw_samples": 64}


def test_spec_yaml_written_before_the_change_reads_back(minimal: dict[str, Any]) -> None:
    """A saved spec.yaml has every old searcher key and no optimizer_options."""
    minimal["searcher"] = {
        "acquisition": "qLogNEI",
        "batch_strategy": "joint",
        "batch_size": None,
        "num_initial": None,
        "max_observations": 500,
        "prefetch": None,
        "parameter_constraints": [],
        "stopped_trials": "last_value",
    }
    # Its saved batch_strategy (joint, the default before 2026-12-05) is kept on resume.
    assert StudySpec.from_dict(minimal).searcher == SearcherSettings(batch_strategy="joint")


def test_messages_name_the_searcher_section(minimal: dict[str, Any]) -> None:
    minimal["searcher"] = {"acquisition": "EI"}
    with pytest.raises(SpecError, match=r"^searcher\.acquisition: got 'EI'; use 'qLogNEI'"):
        StudySpec.from_dict(minimal)
    minimal["searcher"] = {"batch_sise": 2}
    with pytest.raises(
        SpecError, match=r"^searcher: got unknown key 'batch_sise' \(did you mean 'batch_size'\?\)"
    ):
        StudySpec.from_dict(minimal)


def test_constraint_names_are_checked_against_the_space(minimal: dict[str, Any]) -> None:
    minimal["searcher"] = {"parameter_constraints": ["x + y <= 1"]}
    with pytest.raises(
        SpecError, match=r"^searcher\.parameter_constraints\[0\]: got 'x \+ y <= 1'; 'y' is not"
    ):
        StudySpec.from_dict(minimal)
    minimal["space"]["y"] = {"type": "uniform", "lower": 0.0, "upper": 1.0}
    spec = StudySpec.from_dict(minimal)
    assert spec.searcher.parameter_constraints == ("x + y <= 1",)


def test_direct_construction_needs_settings(minimal: dict[str, Any]) -> None:
    base = StudySpec.from_dict(minimal)
    kwargs = {k: getattr(base, k) for k in StudySpec._TOP_LEVEL}
    kwargs["searcher"] = {"acquisition": "qUCB"}
    with pytest.raises(SpecError, match=r"^searcher: got .*; pass a SearcherSettings"):
        StudySpec(**kwargs)


def test_spec_imports_no_ray_and_no_searcher_internals() -> None:
    code = (
        "import sys, distributed_bo.spec\n"
        "bad = sorted(m for m in sys.modules if m.split('.')[0] in ('ray', 'torch', 'ax', "
        "'botorch') or (m.startswith('distributed_bo.search.') and m not in "
        "('distributed_bo.search.settings', 'distributed_bo.search.constraints', "
        "'distributed_bo.search.outcomes')))\n"
        "print(','.join(bad))\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == ""
