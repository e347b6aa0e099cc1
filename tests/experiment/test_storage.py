"""StorageDir.write_bytes on a local path: atomic, durable, and no temporary file left."""

import os

import pytest

from distributed_bo.experiment import storage as storage_module
from distributed_bo.experiment.storage import StorageDir


def test_write_replaces_whole_and_fsyncs_the_directory(tmp_path, monkeypatch):
    exp = StorageDir.open(str(tmp_path), "exp")
    synced: list[str] = []
    real = storage_module._fsync_dir
    monkeypatch.setattr(
        storage_module, "_fsync_dir", lambda path: (synced.append(path), real(path))
    )
    exp.write_bytes("a.json", b"one")
    exp.write_bytes("a.json", b"two")
    assert (tmp_path / "exp" / "a.json").read_bytes() == b"two"
    assert synced == [exp.path, exp.path]
    assert os.listdir(exp.path) == ["a.json"]


def test_a_failed_write_leaves_no_temporary_file_and_the_old_file(tmp_path, monkeypatch):
    exp = StorageDir.open(str(tmp_path), "exp")
    exp.write_bytes("a.json", b"old")

    def fail(src, dst):
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(storage_module.os, "replace", fail)
    with pytest.raises(OSError, match="No space"):
        exp.write_bytes("a.json", b"new")
    assert os.listdir(exp.path) == ["a.json"]
    assert (tmp_path / "exp" / "a.json").read_bytes() == b"old"


def test_remove_stale_temps_removes_only_write_bytes_names(tmp_path):
    exp = StorageDir.open(str(tmp_path), "exp")
    exp.write_bytes("a.json", b"x")
    stale = f"a.json.tmp-{'0f' * 16}"
    (tmp_path / "exp" / stale).write_bytes(b"torn")
    (tmp_path / "exp" / "b.tmp-user").write_bytes(b"kept")
    assert exp.remove_stale_temps() == [stale]
    assert sorted(os.listdir(exp.path)) == ["a.json", "b.tmp-user"]
