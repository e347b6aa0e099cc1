"""``spec.yaml``: the spec a study wrote into its directory, written and read back.

Reading it back does not import the trainable's module (``import_trainable=False``),
so ``show`` and ``report`` work on a machine that lacks the user's code.
"""

from __future__ import annotations

import os
import stat
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
    from distributed_bo.exceptions import TrainableError
    from distributed_bo.spec import StudySpec
    from distributed_bo.spec.load import load_yaml

    data = _spec_bytes(exp)
    if data is None:
        raise ExperimentNotFoundError(
            f"experiment_dir: {exp.shown} holds no {SPEC_FILE}; pass the directory that "
            "`distributed-bo run` created (STORAGE/NAME)"
        )
    try:
        raw = load_yaml(data.decode())  # safe, each key once, aliases capped
        if raw is None:
            raise SpecError("it is empty")
        return StudySpec.from_dict(raw, import_trainable=import_trainable)
    except (UnicodeDecodeError, SpecError) as err:
        if import_trainable and isinstance(err, TrainableError):
            raise  # the file may be fine; the user's module is not importable here
        raise _corrupt(exp, str(err)) from err


def _spec_bytes(exp: StorageDir) -> bytes | None:
    """The bytes of ``spec.yaml``, or ``None`` if there is none.

    Only a regular file of at most :data:`~distributed_bo.spec.load.MAX_SPEC_BYTES`
    is read: a symlink (which could show another file's first line in the error), a
    FIFO or a device (which never ends) is refused without reading it.

    Raises:
        ExperimentNotFoundError: If it is not a regular file, or is too large.
    """
    from distributed_bo.spec.load import MAX_SPEC_BYTES

    if exp.is_local:
        path = os.path.join(exp.path, SPEC_FILE)
        try:
            mode = os.lstat(path).st_mode
        except OSError:
            return None
        if stat.S_ISLNK(mode):
            raise _corrupt(exp, f"a symlink to {os.readlink(path)!r}, not the file run wrote")
        if not stat.S_ISREG(mode):
            raise _corrupt(exp, "not a regular file")
    data = exp.read_bytes(SPEC_FILE, limit=MAX_SPEC_BYTES)
    if data is not None and len(data) > MAX_SPEC_BYTES:
        raise _corrupt(exp, f"larger than {MAX_SPEC_BYTES // 2**20} MiB")
    return data


def _corrupt(exp: StorageDir, reason: str) -> ExperimentNotFoundError:
    """The error for a ``spec.yaml`` that cannot be a spec ``run`` wrote."""
    return ExperimentNotFoundError(
        f"experiment_dir: {exp.shown}/{SPEC_FILE} is corrupt ({reason}); restore it or "
        "start a new study"
    )
