"""An experiment directory on a local path or any ``pyarrow.fs`` URI (s3://, gs://, ...)."""

from __future__ import annotations

import contextlib
import os
import re
import stat
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, TypeVar

from distributed_bo.exceptions import ExperimentNotFoundError, SpecError

_T = TypeVar("_T")

#: What :meth:`StorageDir.write_bytes` puts between a file's name and its random suffix.
_TMP_MARK = ".tmp-"
_TMP_NAME = re.compile(r".+\.tmp-[0-9a-f]{32}")

#: ``scheme://user:password@`` (or ``scheme://token@``): the user info of a URI.
_USERINFO = re.compile(r"(\b[A-Za-z][A-Za-z0-9+.-]*://)[^/@\s?#]+@")
#: A URI query option that holds a credential (``secret_key=...``, ``session_token=...``).
_SECRET_OPTION = re.compile(
    r"(?i)([?&][A-Za-z0-9_.-]*(?:key|secret|token|password|passwd|credential|signature)"
    r"[A-Za-z0-9_.-]*=)[^&\s'\"]+"
)


def redact(text: str) -> str:
    """``text`` with the credentials of any URI in it replaced by ``***``.

    Strips the user info (``s3://KEY:SECRET@bucket`` becomes ``s3://***@bucket``) and
    the values of query options named like a credential (``access_key``,
    ``secret_key``, ``session_token``, ...), wherever such a URI appears in ``text``.
    """
    return _SECRET_OPTION.sub(r"\1***", _USERINFO.sub(r"\1***@", text))


@dataclass(frozen=True, kw_only=True)
class StorageDir:
    """One experiment directory.

    Attributes:
        uri: What Ray Tune gets as ``storage_path`` joined with the study name: an
            absolute local path, or a URI.
        fs: The ``pyarrow.fs.FileSystem``.
        path: The directory's path inside ``fs``.
    """

    uri: str
    fs: Any
    path: str

    @classmethod
    def open(cls, storage: str, name: str | None = None) -> StorageDir:
        """Resolve ``storage`` (plus an optional study ``name``) to a directory.

        Raises:
            SpecError: If ``storage`` is not a path or a URI pyarrow understands.
        """
        import pyarrow as pa
        import pyarrow.fs as pafs

        if "://" not in storage:
            base = os.path.abspath(os.path.expanduser(storage))
            uri = os.path.join(base, name) if name else base
            _check_local_dir(base, uri, name)
            return cls(uri=uri, fs=pafs.LocalFileSystem(), path=uri)
        try:
            fs, base = pafs.FileSystem.from_uri(storage)
        except (pa.ArrowException, ValueError, OSError) as err:
            raise SpecError(
                f"storage: got {redact(storage)!r}, which pyarrow.fs cannot open "
                f"({redact(str(err))}); use a local path or a URI such as s3://bucket/prefix"
            ) from err
        # Options such as ``?endpoint_override=host:port&scheme=http`` stay at the end.
        where, _, query = storage.partition("?")
        path = f"{base.rstrip('/')}/{name}" if name else base.rstrip("/")
        uri = f"{where.rstrip('/')}/{name}" if name else where.rstrip("/")
        return cls(uri=f"{uri}?{query}" if query else uri, fs=fs, path=path)

    @property
    def shown(self) -> str:
        """:attr:`uri` as messages show it: without credentials (see :func:`redact`)."""
        return redact(self.uri)

    @property
    def is_local(self) -> bool:
        """Whether the directory is on the local filesystem."""
        return "://" not in self.uri

    @property
    def storage_path(self) -> str:
        """The parent directory, as Ray Tune's ``RunConfig.storage_path``.

        A local path, or for a URI the path inside :attr:`fs`, which Tune must then
        get as ``storage_filesystem`` (URI options are not passed on by Tune).
        """
        return self.path.rstrip("/").rsplit("/", 1)[0]

    @property
    def tune_filesystem(self) -> Any:
        """What Tune gets as ``storage_filesystem``: ``None`` locally, else :attr:`fs`."""
        return None if self.is_local else self.fs

    @property
    def name(self) -> str:
        """The directory's own name (the study name)."""
        return self.path.rstrip("/").rsplit("/", 1)[-1]

    def _join(self, rel: str) -> str:
        return f"{self.path}/{rel}"

    def _reach(self, call: Callable[[], _T]) -> _T:
        """Run ``call``; an object store that cannot be reached becomes a one-line error."""
        if self.is_local:
            return call()
        try:
            return call()
        except OSError as err:  # pyarrow's S3/GCS errors (its own retries are bounded)
            reason = " ".join(redact(str(err)).split())
            raise SpecError(
                f"storage: cannot reach {self.shown} ({reason}); check the URI's endpoint, "
                "the network and the credentials"
            ) from err

    def exists(self, rel: str = "") -> bool:
        """Whether ``rel`` (or the directory itself) exists.

        Raises:
            SpecError: If the object store cannot be reached.
        """
        import pyarrow.fs as pafs

        info = self._reach(lambda: self.fs.get_file_info(self._join(rel) if rel else self.path))
        return bool(info.type != pafs.FileType.NotFound)

    def read_bytes(self, rel: str, *, limit: int | None = None) -> bytes | None:
        """Contents of ``rel``, or ``None`` if it does not exist.

        Args:
            rel: The file's name inside the directory.
            limit: Read at most ``limit + 1`` bytes, so that the caller can tell a
                file larger than ``limit`` (or an endless one) without reading it all.

        Raises:
            SpecError: If the object store cannot be reached.
            ExperimentNotFoundError: If ``rel`` is a directory, a FIFO or a device
                (which would block or never end), not a file.
        """
        import pyarrow.fs as pafs

        info = self._reach(lambda: self.fs.get_file_info(self._join(rel)))
        if info.type == pafs.FileType.NotFound:
            return None
        if info.type != pafs.FileType.File:
            kind = "a directory" if info.type == pafs.FileType.Directory else "a FIFO or a device"
            raise ExperimentNotFoundError(
                f"experiment_dir: {self.shown}/{rel} is {kind}, not a file; restore the file "
                "from a backup"
            )

        def read() -> bytes:
            with self.fs.open_input_stream(self._join(rel)) as f:
                return bytes(f.read() if limit is None else f.read(limit + 1))

        return self._reach(read)

    def write_bytes(self, rel: str, data: bytes) -> None:
        """Write ``rel`` atomically: a temporary file, then a rename.

        Object stores have no rename; there an upload (single or multipart) only
        becomes visible, whole, when it completes.
        """
        import pyarrow.fs as pafs

        self.fs.create_dir(self.path, recursive=True)
        final = self._join(rel)
        if not isinstance(self.fs, pafs.LocalFileSystem):
            with self.fs.open_output_stream(final) as f:
                f.write(data)
            return
        replace_file(final, data, tmp=f"{final}{_TMP_MARK}{uuid.uuid4().hex}")

    def remove_stale_temps(self) -> list[str]:
        """Delete the temporary files a crashed writer left in the directory.

        Only :meth:`write_bytes`' own names (``NAME.tmp-<32 hex digits>``) are
        removed. Call it only while holding the directory (one driver at a time):
        another writer's temporary file is not stale.

        Returns:
            The names removed.
        """
        stale = [n for n in self.list() if is_temp_name(n)]
        for name in stale:
            with contextlib.suppress(FileNotFoundError):
                self.fs.delete_file(self._join(name))
        return stale

    def list(self, rel: str = "") -> list[str]:
        """Names directly inside the directory (or its subdirectory ``rel``)."""
        import pyarrow.fs as pafs

        if not self.exists(rel):
            return []
        where = self._join(rel) if rel else self.path
        infos = self._reach(
            lambda: self.fs.get_file_info(pafs.FileSelector(where, recursive=False))
        )
        return [i.base_name for i in infos]


def _check_local_dir(base: str, uri: str, name: str | None) -> None:
    """Refuse a local storage path, or experiment directory, that exists as a non-directory.

    Raises:
        SpecError: ``storage`` (with a study ``name``) or ``experiment_dir`` (without
            one) is a file; or ``STORAGE/NAME`` is.
    """
    if _is_non_dir(base):
        if name is None:
            raise ExperimentNotFoundError(
                f"experiment_dir: got {base!r}, which is a file, not a directory; pass the "
                "directory that `distributed-bo run` created (STORAGE/NAME)"
            )
        raise SpecError(
            f"storage: got {base!r}, which is a file, not a directory; point storage at a "
            "directory (it is created if missing)"
        )
    if name is not None and _is_non_dir(uri):
        raise SpecError(
            f"name: got {name!r}, but {uri} is a file, not a directory; choose another name "
            "or move the file"
        )


def _is_non_dir(path: str) -> bool:
    """Whether ``path`` exists (after symlinks) and is not a directory."""
    try:
        return not stat.S_ISDIR(os.stat(path).st_mode)
    except (OSError, ValueError):  # missing, unreadable, or a NUL in the name
        return False


def replace_file(path: str, data: bytes, *, tmp: str) -> None:
    """Replace the local file ``path`` by ``data``, whole or not at all.

    ``tmp`` is written and fsynced, renamed over ``path``, and the directory fsynced
    (so the rename itself survives a power loss); ``tmp`` is removed if any step fails.
    """
    try:
        with open(tmp, "wb") as f:
            f.write(data)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
    except BaseException:
        with contextlib.suppress(OSError):
            os.unlink(tmp)
        raise
    _fsync_dir(os.path.dirname(path))


def is_temp_name(name: str) -> bool:
    """Whether ``name`` is a temporary file of :meth:`StorageDir.write_bytes`."""
    return _TMP_NAME.fullmatch(name) is not None


def _fsync_dir(path: str) -> None:
    """Flush a local directory's entries (a rename in it) to disk, where the OS allows."""
    try:
        fd = os.open(path, os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(fd)
    except OSError:  # some filesystems (and Windows) cannot fsync a directory
        pass
    finally:
        os.close(fd)
