"""Bad experiment directories and storage URIs: a one-line error, no traceback (issue 12)."""

from __future__ import annotations

import os
import re

import pytest

from distributed_bo.exceptions import ExperimentNotFoundError, SpecError
from distributed_bo.experiment import StorageDir, read_experiment, write_spec, write_trials
from distributed_bo.experiment.layout import SEARCHER_FILE, SPEC_FILE, TRIALS_FILE
from distributed_bo.experiment.storage import redact
from distributed_bo.spec import StudySpec

#: A closed loopback port: connecting is refused at once, so only pyarrow's retries count.
UNREACHABLE = "s3://KEY:SECRET@bucket/exp?endpoint_override=127.0.0.1:9&scheme=http"


def tiny_spec(storage: str) -> StudySpec:
    """A one-parameter study named ``s`` whose experiments go to ``storage``."""
    return StudySpec.from_dict(
        {
            "name": "s",
            "objective": {"metric": "value", "mode": "min"},
            "trainable": {"name": "branin"},
            "space": {"x0": {"type": "uniform", "lower": 0.0, "upper": 1.0}},
            "budget": {"num_trials": 6, "max_concurrent": 2},
            "storage": storage,
        }
    )


def make_experiment(root, *, rows=None, searcher=True) -> StorageDir:
    """A study directory as `run` leaves it, without running anything."""
    spec = tiny_spec(str(root))
    exp = StorageDir.open(str(root), "s")
    write_spec(exp, spec)
    if searcher:
        exp.write_bytes(SEARCHER_FILE, b"{}")
    if rows is not None:
        write_trials(exp, rows)
    return exp


def test_uri_pyarrow_cannot_open_is_a_spec_error():
    with pytest.raises(SpecError, match=r"storage: got 'foo://bar/baz', which pyarrow.fs cannot"):
        StorageDir.open("foo://bar/baz")


@pytest.mark.timeout(120)  # bounded: pyarrow's retries end; a hang fails here
def test_unreachable_object_store_is_one_bounded_error_without_credentials():
    exp = StorageDir.open(UNREACHABLE)
    with pytest.raises(SpecError, match=r"storage: cannot reach s3://\*\*\*@bucket/exp") as err:
        exp.exists(SPEC_FILE)
    assert "SECRET" not in str(err.value) and "KEY" not in str(err.value)


@pytest.mark.parametrize(
    ("uri", "shown"),
    [
        ("s3://AK:SK@b/x", "s3://***@b/x"),
        ("gs://token@b/x/y", "gs://***@b/x/y"),
        (
            "s3://b/x?endpoint_override=h:9&access_key=AK&secret_key=SK&session_token=T",
            "s3://b/x?endpoint_override=h:9&access_key=***&secret_key=***&session_token=***",
        ),
    ],
)
def test_redact_strips_credentials_from_uris(uri, shown):
    assert redact(uri) == shown
    assert redact(f"error: at {uri} (details)") == f"error: at {shown} (details)"
    for kept in ("/local/path/exp", "s3://b/x?scheme=http&region=eu-west-1", "--set a.key=1"):
        assert redact(kept) == kept


def test_storage_dir_shows_its_uri_without_credentials():
    exp = StorageDir.open("s3://AK:SK@b/x?endpoint_override=127.0.0.1:9&scheme=http", "s")
    assert exp.shown == "s3://***@b/x/s?endpoint_override=127.0.0.1:9&scheme=http"
    assert "SK" in exp.uri  # what pyarrow and Tune get is unchanged


def test_missing_trials_file_after_trials_started_is_refused(tmp_path):
    exp = make_experiment(tmp_path, rows=[{"trial_id": "a", "status": "COMPLETED"}])
    (tmp_path / "s" / TRIALS_FILE).unlink()
    with pytest.raises(ExperimentNotFoundError, match=r"trials.parquet is missing, though"):
        read_experiment(exp.uri)
    # Before the first trial starts, `run` has written neither file: that reads fine.
    (tmp_path / "s" / SEARCHER_FILE).unlink()
    assert read_experiment(exp.uri).rows == []


def test_trials_file_without_its_columns_is_corrupt(tmp_path):
    exp = make_experiment(tmp_path, rows=[{"x": 1}])
    with pytest.raises(ExperimentNotFoundError, match=r"trials.parquet is corrupt"):
        read_experiment(exp.uri)


def test_spec_file_does_not_store_the_storage_uris_credentials(tmp_path):
    spec = tiny_spec("s3://KEY:SECRET@bucket/studies?scheme=http&endpoint_override=h:9")
    exp = StorageDir.open(str(tmp_path), "s")
    write_spec(exp, spec)
    text = (tmp_path / "s" / SPEC_FILE).read_text()
    assert "SECRET" not in text and "s3://***@bucket/studies?scheme=http" in text
    assert read_experiment(exp.uri).spec.name == "s"


# Issue 12, item 6: spec.yaml and trials.parquet as an attacker or a damaged disk leaves them.
def _laughs() -> str:
    lines = ["name: s", "trainable:", "  name: branin", "  config:", "    a0: &a0 [1, 1, 1]"]
    lines += [f"    a{i}: &a{i} [*a{i - 1}, *a{i - 1}, *a{i - 1}]" for i in range(1, 20)]
    return "\n".join(lines) + "\n"


SPEC_FILE_CASES = {
    # name: (how to damage spec.yaml, what the message says it is)
    "symlink_to_another_file": ("symlink:/etc/hostname", r"a symlink to '/etc/hostname', not the"),
    "symlink_to_dev_zero": ("symlink:/dev/zero", r"a symlink to '/dev/zero', not the file run"),
    "fifo": ("fifo", r"not a regular file"),
    "empty": ("text:", r"it is empty"),
    "alias_bomb": ("text:" + _laughs(), r"its aliases expand to more than 100,000 values"),
    "deep_nesting": ("text:" + "[" * 3000 + "]" * 3000, r"it nests lists or mappings too deeply"),
    "impossible_date": ("text:name: 2024-13-45\n", r"invalid YAML \(month must be in 1\.\.12\)"),
    "duplicate_key": ("dup", r"line 2, column 1: invalid YAML \(found key 'name' twice"),
    "larger_than_1_mib": ("text:" + "#" * 2**20 + "\n", r"larger than 1 MiB"),
}


@pytest.mark.timeout(60)  # a hang (FIFO, /dev/zero) fails here; no wall-clock assertion
@pytest.mark.skipif(not hasattr(os, "mkfifo"), reason="needs POSIX FIFOs and /dev/zero")
@pytest.mark.parametrize("how", list(SPEC_FILE_CASES), ids=list(SPEC_FILE_CASES))
def test_spec_file_that_run_did_not_write_is_refused_fast(tmp_path, how):
    make_experiment(tmp_path, rows=[{"trial_id": "a", "status": "COMPLETED"}])
    path = tmp_path / "s" / SPEC_FILE
    damage, reason = SPEC_FILE_CASES[how]
    text = path.read_text()
    path.unlink()
    if damage.startswith("symlink:"):
        path.symlink_to(damage.removeprefix("symlink:"))
    elif damage == "fifo":
        os.mkfifo(path)
    elif damage == "dup":
        path.write_text(text.replace("name: s\n", "name: s\nname: t\n", 1))
    else:
        path.write_text(damage.removeprefix("text:"))
    with pytest.raises(ExperimentNotFoundError) as err:
        read_experiment(str(tmp_path / "s"))
    message = str(err.value)
    assert re.match(rf"^experiment_dir: {tmp_path}/s/spec\.yaml is corrupt \(.*{reason}", message)
    assert message.endswith("; restore it or start a new study") and "\n" not in message


@pytest.mark.skipif(not hasattr(os, "mkfifo"), reason="needs POSIX FIFOs and /dev/zero")
@pytest.mark.parametrize(
    ("make", "kind"),
    [
        (lambda p: p.mkdir(), "a directory"),
        (lambda p: os.mkfifo(p), "a FIFO or a device"),
        (lambda p: p.symlink_to("/dev/zero"), "a FIFO or a device"),
    ],
    ids=["directory", "fifo", "symlink_to_dev_zero"],
)
def test_trials_file_that_is_not_a_file_is_refused_without_reading(tmp_path, make, kind):
    make_experiment(tmp_path, rows=[{"trial_id": "a", "status": "COMPLETED"}])
    path = tmp_path / "s" / TRIALS_FILE
    path.unlink()
    make(path)
    message = rf"^experiment_dir: {tmp_path}/s/trials\.parquet is {kind}, not a file; restore"
    with pytest.raises(ExperimentNotFoundError, match=message):
        read_experiment(str(tmp_path / "s"))


@pytest.mark.parametrize(
    ("column", "value", "kind"),
    [
        ("trial_id", 1, "a string"),
        ("ax_index", "x", "an integer"),
        ("metric", "1.5", "a number"),
        ("is_baseline", 1, "true or false"),
        ("wall_time_s", "slow", "a number"),
    ],
)
def test_trials_file_with_wrong_column_types_is_corrupt(tmp_path, column, value, kind):
    row = {"trial_id": "a", "ax_index": 0, "status": "COMPLETED", "metric": 1.0}
    exp = make_experiment(tmp_path, rows=[{**row, column: value}])
    message = (
        rf"trials\.parquet is corrupt \(ValueError: column '{column}' holds {value!r} "
        rf"\({type(value).__name__}\), not {kind}\); restore it"
    )
    with pytest.raises(ExperimentNotFoundError, match=message):
        read_experiment(exp.uri)


def test_storage_or_experiment_dir_that_is_a_file_is_refused(tmp_path):
    afile = tmp_path / "afile"
    afile.write_text("x")
    with pytest.raises(SpecError, match=r"^storage: got '.*/afile', which is a file, not a dir"):
        StorageDir.open(str(afile), "s")
    with pytest.raises(SpecError, match=r"^name: got 'afile', but .*/afile is a file, not a dir"):
        StorageDir.open(str(tmp_path), "afile")
    with pytest.raises(ExperimentNotFoundError, match=r"^experiment_dir: got '.*/afile', which"):
        StorageDir.open(str(afile))
    assert afile.read_text() == "x"
    assert StorageDir.open(str(tmp_path / "new"), "s").uri == str(tmp_path / "new" / "s")
