"""Bad experiment directories and storage URIs: a one-line error, no traceback (issue 12)."""

from __future__ import annotations

import time

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


def test_unreachable_object_store_is_one_bounded_error_without_credentials():
    exp = StorageDir.open(UNREACHABLE)
    start = time.monotonic()
    with pytest.raises(SpecError, match=r"storage: cannot reach s3://\*\*\*@bucket/exp") as err:
        exp.exists(SPEC_FILE)
    assert time.monotonic() - start < 30
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
