"""SearcherSettings: defaults once, checks with the spec's messages, dict round trip."""

from __future__ import annotations

import dataclasses
import pickle

import pytest
import yaml

from distributed_bo.exceptions import SpecError
from distributed_bo.search.settings import (
    ACQUISITIONS,
    DEFAULT_ACQUISITION,
    DEFAULT_MAX_OBSERVATIONS,
    DEFAULT_STOPPED_TRIALS,
    STOPPED_TRIAL_POLICIES,
    SearcherSettings,
)


def test_defaults_are_the_documented_ones():
    s = SearcherSettings()
    assert s.acquisition == DEFAULT_ACQUISITION == "qLogNEI"
    assert s.batch_strategy == "sequential"
    assert (s.batch_size, s.num_initial, s.prefetch) == (None, None, None)
    assert s.max_observations == DEFAULT_MAX_OBSERVATIONS == 500
    assert s.stopped_trials == DEFAULT_STOPPED_TRIALS == "last_value"
    assert s.sobol_start == "until_data"
    assert s.parameter_constraints == ()
    assert s.optimizer_options == {}
    assert (
        *("qLogNEI", "qLogEI", "qEI", "qNEI", "qUCB", "qPI"),
        *("qLogNEHVI", "qLogNParEGO"),
    ) == ACQUISITIONS
    assert STOPPED_TRIAL_POLICIES == ("highest_rung", "last_value")


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"acquisition": "EI"}, r"^searcher\.acquisition: got 'EI'; use 'qLogNEI', .*'qEI'\?\)$"),
        ({"batch_strategy": "greedy"}, r"^searcher\.batch_strategy: got 'greedy'; use 'joint' or"),
        ({"batch_size": 0}, r"^searcher\.batch_size: got 0; use an integer >= 1, or null"),
        ({"num_initial": True}, r"^searcher\.num_initial: got True; use an integer >= 1"),
        ({"max_observations": 1}, r"^searcher\.max_observations: got 1; use an integer >= 2"),
        ({"prefetch": -1}, r"^searcher\.prefetch: got -1; use an integer >= 0 \(0 = only on"),
        ({"stopped_trials": "ignore"}, r"^searcher\.stopped_trials: got 'ignore'; use 'highest"),
        ({"sobol_start": "half"}, r"^searcher\.sobol_start: got 'half'; use 'until_data' or"),
        ({"parameter_constraints": "x <= 1"}, r"^searcher\.parameter_constraints: got 'x <= 1'"),
        ({"parameter_constraints": ["x * y <= 1"]}, r"^searcher\.parameter_constraints\[0\]"),
        ({"optimizer_options": 3}, r"^searcher\.optimizer_options: got 3; use a mapping"),
    ],
)
def test_bad_values_name_the_field_and_the_fix(kwargs, message):
    with pytest.raises(SpecError, match=message):
        SearcherSettings(**kwargs)


def test_path_prefix_is_chosen_by_the_caller():
    with pytest.raises(SpecError, match=r"^batch_size: got 0; "):
        SearcherSettings(batch_size=0, path="")


def test_from_dict_rejects_unknown_keys_and_non_mappings():
    with pytest.raises(SpecError, match=r"^searcher: got unknown key 'acquisiton' \(did you"):
        SearcherSettings.from_dict({"acquisiton": "qEI"})
    with pytest.raises(SpecError, match=r"^searcher: got 3; use a mapping with keys acquisition"):
        SearcherSettings.from_dict(3)
    with pytest.raises(SpecError, match=r"^searcher: got unknown key 'path'"):
        SearcherSettings.from_dict({"path": ""})


def test_dict_round_trip_is_plain_yaml():
    s = SearcherSettings(
        acquisition="qUCB",
        batch_size=4,
        parameter_constraints=["x + y <= 1"],
        optimizer_options={"num_restarts": 2, "options": {"maxiter": 20}},
    )
    assert s.parameter_constraints == ("x + y <= 1",)
    data = s.to_dict()
    assert data["parameter_constraints"] == ["x + y <= 1"]
    assert SearcherSettings.from_dict(yaml.safe_load(yaml.safe_dump(data))) == s


def test_frozen_hashable_and_picklable():
    options = {"num_restarts": 2}
    s = SearcherSettings(optimizer_options=options)
    options["num_restarts"] = 99
    assert s.optimizer_options == {"num_restarts": 2}
    with pytest.raises(dataclasses.FrozenInstanceError):
        s.batch_size = 3  # type: ignore[misc]
    assert hash(s) == hash(SearcherSettings(optimizer_options={"num_restarts": 2}))
    assert pickle.loads(pickle.dumps(s)) == s
    assert dataclasses.replace(s, batch_size=3).batch_size == 3


def test_importing_settings_pulls_in_neither_ray_nor_the_spec():
    import subprocess
    import sys

    code = (
        "import sys, distributed_bo.search.settings; "
        "bad = [m for m in sys.modules if m.split('.')[0] == 'ray' "
        "or m.startswith('distributed_bo.spec')]; print(bad)"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]"
