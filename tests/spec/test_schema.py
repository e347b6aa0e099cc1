from __future__ import annotations

import copy
import dataclasses
import pickle
from typing import Any

import pytest
import yaml
from ray.tune.search.sample import Categorical, Float, Integer

from distributed_bo.exceptions import SpecError, TrainableError
from distributed_bo.spec import (
    BudgetSpec,
    CheckpointSpec,
    ObjectiveSpec,
    ResourcesSpec,
    SearcherSpec,
    StudySpec,
    TrainableSpec,
    parse_spec,
)


def test_minimal_spec_gets_defaults(minimal: dict[str, Any]) -> None:
    spec = StudySpec.from_dict(minimal)
    assert spec.name == "tiny"
    assert spec.objective == ObjectiveSpec(metric="loss", mode="min")
    assert spec.budget == BudgetSpec(num_trials=4, max_concurrent=4)
    assert spec.searcher == SearcherSpec(
        acquisition="qLogNEI",
        batch_strategy="sequential",
        batch_size=None,
        num_initial=None,
        parameter_constraints=(),
    )
    assert spec.resources == ResourcesSpec(cpus_per_trial=1.0, gpus_per_trial=0.0)
    assert spec.checkpoint == CheckpointSpec(frequency=1, num_to_keep=2)
    assert (spec.retries, spec.max_failure_fraction) == (2, 0.5)
    assert (spec.storage, spec.seed, spec.baseline) == ("./experiments", 0, None)
    assert dict(spec.trainable.config) == {}


def test_null_optional_sections_mean_defaults(minimal: dict[str, Any]) -> None:
    minimal.update(searcher=None, resources=None, checkpoint=None)
    minimal["trainable"]["config"] = None
    spec = StudySpec.from_dict(minimal)
    assert spec.searcher == SearcherSpec()
    assert spec.resources == ResourcesSpec()
    assert spec.checkpoint == CheckpointSpec()


def test_readme_example(readme_yaml: str) -> None:
    spec = parse_spec(readme_yaml)
    space = spec.param_space()
    assert isinstance(space["lr"], Float) and space["lr"].lower == 1e-4
    assert isinstance(space["width"], Categorical) and space["width"].categories == [8, 16, 32]
    assert isinstance(space["layers"], Integer) and (
        space["layers"].lower,
        space["layers"].upper,
    ) == (
        1,
        4,
    )
    assert space["activation"] == "relu"
    assert isinstance(space["optim"]["beta1"], Float)
    assert "epochs" not in space
    assert spec.trial_constants() == {"epochs": 8}
    assert list(spec.parsed_space().domains) == [
        "lr",
        "momentum",
        "wd",
        "width",
        "layers",
        "hidden",
        "step",
        "optim/beta1",
    ]


def test_to_dict_round_trips_through_yaml(readme_yaml: str) -> None:
    spec = parse_spec(
        readme_yaml,
        overrides=[
            "searcher.parameter_constraints=['lr + optim/beta1 <= 1']",
            "constraints=['num_params <= 5e6']",
        ],
    )
    data = spec.to_dict()
    assert StudySpec.from_dict(data) == spec
    dumped = yaml.safe_dump(data)  # plain data only: safe_dump refuses anything else
    assert StudySpec.from_dict(yaml.safe_load(dumped)) == spec
    assert parse_spec(spec.to_yaml()) == spec
    assert list(data) == [f.name for f in dataclasses.fields(StudySpec)]


def test_to_dict_is_a_copy(minimal: dict[str, Any]) -> None:
    spec = StudySpec.from_dict(minimal)
    data = spec.to_dict()
    data["space"]["x"]["upper"] = 5.0
    assert spec.space["x"]["upper"] == 1.0


def test_input_is_not_aliased(minimal: dict[str, Any]) -> None:
    spec = StudySpec.from_dict(minimal)
    minimal["space"]["x"]["upper"] = 99.0
    assert spec.space["x"]["upper"] == 1.0


def test_frozen_and_keyword_only(minimal: dict[str, Any]) -> None:
    spec = StudySpec.from_dict(minimal)
    with pytest.raises(dataclasses.FrozenInstanceError):
        spec.name = "other"  # type: ignore[misc]
    with pytest.raises(TypeError):
        spec.space["y"] = 1  # type: ignore[index]
    with pytest.raises(TypeError):
        BudgetSpec(8)  # type: ignore[misc]


def test_picklable_and_copyable(readme_yaml: str) -> None:
    spec = parse_spec(readme_yaml)
    assert pickle.loads(pickle.dumps(spec)) == spec
    assert copy.deepcopy(spec) == spec


def test_param_space_constants_are_fresh_copies(minimal: dict[str, Any]) -> None:
    minimal["space"]["sizes"] = [1, 2]
    minimal["trainable"]["config"] = {"layers": [3, 4]}
    spec = StudySpec.from_dict(minimal)
    spec.param_space()["sizes"].append(3)
    spec.trial_constants()["layers"].append(5)
    assert spec.param_space()["sizes"] == [1, 2]
    assert spec.trial_constants() == {"layers": [3, 4]}


def test_direct_construction(trainable_name: str) -> None:
    spec = StudySpec(
        name="direct",
        objective=ObjectiveSpec(metric="loss", mode="min"),
        trainable=TrainableSpec(name=trainable_name, config={"epochs": 2}),
        space={"x": {"type": "uniform", "lower": 0, "upper": 1}},
        budget=BudgetSpec(num_trials=2),
    )
    assert StudySpec.from_dict(spec.to_dict()) == spec


def test_direct_construction_rejects_dict_sections(trainable_name: str) -> None:
    with pytest.raises(SpecError, match=r"^objective: got \{.*pass an ObjectiveSpec or a tuple"):
        StudySpec(
            name="direct",
            objective={"metric": "loss", "mode": "min"},  # type: ignore[arg-type]
            trainable=TrainableSpec(name=trainable_name),
            space={"x": {"type": "uniform", "lower": 0, "upper": 1}},
            budget=BudgetSpec(num_trials=2),
        )


@pytest.mark.parametrize(
    ("make", "message"),
    [
        (
            lambda: BudgetSpec(num_trials=0),
            r"^budget\.num_trials: got 0; use an integer >= 1 and <= 100000$",
        ),
        (lambda: BudgetSpec(num_trials=True), r"budget\.num_trials: got True; .*not a boolean"),
        (lambda: ObjectiveSpec(metric="", mode="min"), r"^objective\.metric: got ''"),
        (
            lambda: ObjectiveSpec(metric="m", mode="maximize"),
            r"^objective\.mode: got 'maximize'; use 'min' or 'max'$",
        ),
        (
            lambda: SearcherSpec(acquisition="qlognei"),
            r"searcher\.acquisition: .*did you mean 'qLogNEI'",
        ),
        (
            lambda: SearcherSpec(parameter_constraints="x <= 1"),
            r"searcher\.parameter_constraints: got 'x <= 1'",
        ),
        (
            lambda: ResourcesSpec(gpus_per_trial=1.5),
            r"resources\.gpus_per_trial: got 1\.5; .*use 1 or 2",
        ),
        (
            lambda: ResourcesSpec(cpus_per_trial=0),
            r"resources\.cpus_per_trial: got 0; use a number > 0",
        ),
        (
            lambda: CheckpointSpec(num_to_keep=0),
            r"checkpoint\.num_to_keep: got 0; .*or null to keep all",
        ),
        (lambda: TrainableSpec(name="no_such_mod_xyz:f"), r"trainable\.name: cannot import module"),
    ],
)
def test_sections_validate_on_construction(make: Any, message: str) -> None:
    with pytest.raises(SpecError, match=message):
        make()


@pytest.mark.parametrize("gpus", [0, 0.25, 0.5, 1, 2, 4.0])
def test_gpus_per_trial_accepts_fractions_up_to_one_and_whole_numbers(gpus: float) -> None:
    assert ResourcesSpec(gpus_per_trial=gpus).gpus_per_trial == float(gpus)


def test_trainable_error_is_a_spec_error_with_exit_code_2(minimal: dict[str, Any]) -> None:
    minimal["trainable"]["name"] = "spec_tests_trainable:missing_function"
    with pytest.raises(
        TrainableError, match=r"^trainable\.name: .*no callable 'missing_function'"
    ) as info:
        StudySpec.from_dict(minimal)
    assert isinstance(info.value, SpecError) and info.value.exit_code == 2


def test_trainable_resolves(minimal: dict[str, Any]) -> None:
    fn = StudySpec.from_dict(minimal).trainable.resolve()
    assert fn({"x": 0.5}) == {"loss": 0.5}


def test_config_may_not_repeat_space_keys(minimal: dict[str, Any]) -> None:
    minimal["trainable"]["config"] = {"x": 0.3}
    with pytest.raises(SpecError, match=r"^trainable\.config\.x: got 0\.3; space also sets 'x'"):
        StudySpec.from_dict(minimal)


def test_config_and_space_may_share_a_group(minimal: dict[str, Any]) -> None:
    minimal["space"]["optim"] = {"beta1": {"type": "uniform", "lower": 0.8, "upper": 0.99}}
    minimal["trainable"]["config"] = {"optim": {"eps": 1e-8}}
    StudySpec.from_dict(minimal)
    minimal["trainable"]["config"] = {"optim": {"beta1": 0.9}}
    with pytest.raises(SpecError, match=r"^trainable\.config\.optim\.beta1: got 0\.9"):
        StudySpec.from_dict(minimal)


class TestBaseline:
    @pytest.fixture
    def nested(self, minimal: dict[str, Any]) -> dict[str, Any]:
        minimal["space"]["optim"] = {
            "beta1": {"type": "uniform", "lower": 0.8, "upper": 0.99},
            "eps": 1e-8,
        }
        minimal["space"]["width"] = {"type": "choice", "values": [8, 16]}
        return minimal

    def test_nested_and_flat_names_are_stored_flat(self, nested: dict[str, Any]) -> None:
        nested["baseline"] = {"x": 0.5, "width": 8, "optim": {"beta1": 0.9}}
        flat_from_nested = StudySpec.from_dict(nested).baseline
        nested["baseline"] = {"x": 0.5, "width": 8, "optim/beta1": 0.9}
        flat = {"x": 0.5, "width": 8, "optim/beta1": 0.9}
        assert dict(StudySpec.from_dict(nested).baseline or {}) == flat
        assert flat_from_nested == StudySpec.from_dict(nested).baseline

    def test_must_be_complete(self, nested: dict[str, Any]) -> None:
        nested["baseline"] = {"width": 16}
        with pytest.raises(SpecError, match=r"^baseline: .*missing 'x', 'optim/beta1'"):
            StudySpec.from_dict(nested)

    @pytest.mark.parametrize(
        ("baseline", "message"),
        [
            ({"y": 0.5}, r"^baseline\.y: got 0\.5; 'y' is not a searched parameter in space"),
            ({"xx": 0.5}, r"did you mean 'x'"),
            ({"x": 1.5}, r"^baseline\.x: got 1\.5; use a number in \[0\.0, 1\.0\]$"),
            ({"x": "0.5"}, r"^baseline\.x: got '0\.5'; use a number"),
            ({"width": 12}, r"^baseline\.width: got 12; use one of \[8, 16\]$"),
            ({"optim": {"eps": 1e-7}}, r"^baseline\.optim\.eps: .*'optim/eps' is a constant"),
            ({"optim": 0.9}, r"^baseline\.optim: got 0\.9; use a mapping: 'optim' is a group"),
            ({"optim": {"beta1": 0.9}, "optim/beta1": 0.9}, r"given twice"),
            ([0.5], r"^baseline: got \[0\.5\]; use a mapping"),
            ({1: 0.5}, r"^baseline: got 1; keys must be strings"),
        ],
    )
    def test_rejected(self, nested: dict[str, Any], baseline: Any, message: str) -> None:
        nested["baseline"] = baseline
        with pytest.raises(SpecError, match=message):
            StudySpec.from_dict(nested)


class TestConstraints:
    @pytest.fixture
    def space(self, minimal: dict[str, Any]) -> dict[str, Any]:
        minimal["space"] = {
            "x0": {"type": "uniform", "lower": 0.0, "upper": 1.0},
            "n": {"type": "randint", "lower": 1, "upper": 8},
            "width": {"type": "choice", "values": [8, 16]},
            "wd": {"type": "quniform", "lower": 0.0, "upper": 0.1, "q": 0.01},
            "act": "relu",
            "optim": {"beta1": {"type": "loguniform", "lower": 0.1, "upper": 0.99}},
        }
        return minimal

    @pytest.mark.parametrize(
        "constraint",
        [
            "x0 + n <= 1.5",
            "2*x0 - optim/beta1 >= -1.0e-3",
            "x0 <= optim/beta1",
            "-x0 + 0.5 * n <= 3",
        ],
    )
    def test_accepted(self, space: dict[str, Any], constraint: str) -> None:
        space["searcher"] = {"parameter_constraints": [constraint]}
        spec = StudySpec.from_dict(space)
        assert spec.searcher.parameter_constraints == (constraint,)

    @pytest.mark.parametrize(
        ("constraint", "message"),
        [
            (
                "x00 + n <= 1.5",
                r"'x00' is not a searched parameter in space \(did you mean 'x0'\?\); "
                r"constraints can name x0, n, optim/beta1$",
            ),
            ("x0 + width <= 20", r"'width' is a choice parameter, but constraints can only name"),
            ("x0 + wd <= 1", r"'wd' is a quniform parameter"),
            ("x0 + act <= 1", r"'act' is not a searched parameter"),
            ("x0 + beta1 <= 1", r"'beta1' is not a searched parameter"),
            ("x0 * n <= 1", r"not linear"),
            ("x0 < 1", r"compare with '<=' or '>='"),
            ("x0 + n", r"exactly one '<=' or '>='"),
            ("1 <= 2", r"names no parameter"),
        ],
    )
    def test_rejected(self, space: dict[str, Any], constraint: str, message: str) -> None:
        space["searcher"] = {"parameter_constraints": [constraint]}
        with pytest.raises(
            SpecError, match=r"^searcher\.parameter_constraints\[0\]: got .*" + message
        ):
            StudySpec.from_dict(space)


@pytest.mark.parametrize("name", ["a", "quick-start_1.0", "x" * 64, ".hidden"])
def test_good_names(minimal: dict[str, Any], name: str) -> None:
    minimal["name"] = name
    assert StudySpec.from_dict(minimal).name == name


@pytest.mark.parametrize("name", ["", "my study", "a/b", "x" * 65, ".", "..", 12, None, "é"])
def test_bad_names(minimal: dict[str, Any], name: Any) -> None:
    minimal["name"] = name
    with pytest.raises(SpecError, match=r"^name: got "):
        StudySpec.from_dict(minimal)


@pytest.mark.parametrize(
    "storage", ["./experiments", "/abs/path", "s3://bucket/prefix", "file:///tmp/x", "gs://b"]
)
def test_good_storage(minimal: dict[str, Any], storage: str) -> None:
    minimal["storage"] = storage
    assert StudySpec.from_dict(minimal).storage == storage


@pytest.mark.parametrize("storage", ["", "  ", None, 3, "://bucket", "s3://"])
def test_bad_storage(minimal: dict[str, Any], storage: Any) -> None:
    minimal["storage"] = storage
    with pytest.raises(SpecError, match=r"^storage: got "):
        StudySpec.from_dict(minimal)


# Odd values, tried at every field of the full spec: each must give a SpecError or a
# valid spec, never another exception.
ODD_VALUES: list[Any] = [None, True, 0, -1, 1.5, float("nan"), "x", "", [], [1], {}, {"a": 1}]


def _paths(node: Any, prefix: tuple[str, ...] = ()) -> list[tuple[str, ...]]:
    out = [prefix] if prefix else []
    if isinstance(node, dict):
        for key, value in node.items():
            out.extend(_paths(value, (*prefix, key)))
    return out


def test_odd_values_anywhere_give_spec_errors(readme_yaml: str) -> None:
    base = yaml.safe_load(readme_yaml)
    checked = 0
    for path in _paths(base):
        for value in ODD_VALUES:
            data = copy.deepcopy(base)
            node = data
            for key in path[:-1]:
                node = node[key]
            node[path[-1]] = value
            try:
                StudySpec.from_dict(data)
            except SpecError as err:
                message = str(err)
                assert "\n" not in message
                assert message.split(":")[0], message
            checked += 1
    assert checked > 500
