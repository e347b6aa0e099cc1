"""``spec.yaml``: the spec a study wrote into its directory, written and read back.

Reading it back does not import the trainable's module (``import_trainable=False``),
so ``show`` and ``report`` work on a machine that lacks the user's code.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from distributed_bo.exceptions import ExperimentNotFoundError, SpecError
from distributed_bo.experiment.layout import SPEC_FILE
from distributed_bo.experiment.storage import StorageDir

if TYPE_CHECKING:
    from distributed_bo.spec import StudySpec


def write_spec(exp: StorageDir, spec: StudySpec) -> None:
    """Write ``spec`` as ``spec.yaml`` in ``exp`` (atomically), its storage URI redacted.

    The credentials a storage URI may carry (``s3://KEY:SECRET@bucket``) are not
    stored: ``resume`` is given the directory, and takes them from there.
    """
    import yaml

    from distributed_bo.experiment.storage import redact

    raw = spec.to_dict()
    if isinstance(raw.get("storage"), str):
        raw["storage"] = redact(raw["storage"])
    exp.write_bytes(SPEC_FILE, yaml.safe_dump(raw, sort_keys=False).encode())


def read_spec(exp: StorageDir, *, import_trainable: bool = False) -> StudySpec:
    """Read the ``spec.yaml`` a study wrote into ``exp``.

    Args:
        exp: The experiment directory.
        import_trainable: Also import the trainable's module and check that the
            name resolves (``resume`` runs it, so it wants the error early);
            ``False`` checks the name's form only.

    Raises:
        ExperimentNotFoundError: If the file is missing, or not a valid spec.
        TrainableError: With ``import_trainable``, if the trainable cannot be found.
    """
    import yaml

    from distributed_bo.exceptions import TrainableError
    from distributed_bo.spec import StudySpec

    data = exp.read_bytes(SPEC_FILE)
    if data is None:
        raise ExperimentNotFoundError(
            f"experiment_dir: {exp.shown} holds no {SPEC_FILE}; pass the directory that "
            "`distributed-bo run` created (STORAGE/NAME)"
        )
    try:
        raw = yaml.safe_load(data.decode())
        return StudySpec.from_dict(raw, import_trainable=import_trainable)
    except (yaml.YAMLError, UnicodeDecodeError, SpecError) as err:
        if import_trainable and isinstance(err, TrainableError):
            raise  # the file may be fine; the user's module is not importable here
        raise ExperimentNotFoundError(
            f"experiment_dir: {exp.shown}/{SPEC_FILE} is corrupt ({err}); restore it or "
            "start a new study"
        ) from err
