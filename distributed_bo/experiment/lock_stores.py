"""Where ``driver.lock`` lives: exclusive create, compare-and-swap and delete, per storage.

:mod:`distributed_bo.experiment.lock` decides who holds an experiment directory;
this module only stores the lock file, with three primitives whose atomicity
depends on the storage:

- a local path: ``os.open(O_CREAT | O_EXCL)`` creates; a take-over renames the old
  file aside first, so of two drivers taking over one stale lock only one gets it;
- S3 (``s3://``): ``PutObject`` with ``If-None-Match: *`` creates, ``If-Match`` on
  the ETag refreshes or takes over, and ``DeleteObject`` with ``If-Match`` deletes
  only our own lock; the client (boto3) uses the URI's ``endpoint_override``,
  ``scheme``, ``region`` and credentials, else the usual ``AWS_*`` variables;
- any other ``pyarrow.fs`` scheme (``gs://``, ...): best effort, check then write
  (two drivers that start within the same second may both get the lock);
  :attr:`LockStore.exclusive` is ``False`` so the caller can warn.

A version identifies one write of the lock: its bytes locally, its ETag on S3.
"""

from __future__ import annotations

import contextlib
import os
import urllib.parse
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Protocol, TypeVar

from distributed_bo.exceptions import SpecError
from distributed_bo.experiment.layout import LOCK_FILE
from distributed_bo.experiment.storage import StorageDir, redact, replace_file

_T = TypeVar("_T")

#: S3 error codes that mean "the condition did not hold" (or the key is gone).
_LOST = {"PreconditionFailed", "ConditionalRequestConflict", "NoSuchKey", "412"}


@dataclass(frozen=True, kw_only=True)
class Stored:
    """The lock as read back.

    Attributes:
        data: Its bytes.
        version: What a conditional write or delete compares against.
        mtime: When it was last written (seconds since the epoch), as storage says.
    """

    data: bytes
    version: object
    mtime: float


class LockStore(Protocol):
    """The lock file of one experiment directory."""

    exclusive: bool

    def create(self, data: bytes) -> object | None:
        """Create the lock with ``data``; its version, or ``None`` if it exists."""

    def read(self) -> Stored | None:
        """The lock, or ``None`` if there is none."""

    def replace(self, data: bytes, expect: object) -> object | None:
        """Overwrite the lock if its version is ``expect``; the new version, else ``None``."""

    def take_over(self, data: bytes, expect: object) -> object | None:
        """Replace a lock whose version is ``expect``, atomically against other takers."""

    def delete(self, expect: object) -> None:
        """Delete the lock if its version is ``expect``."""


def open_store(exp: StorageDir) -> LockStore:
    """The lock store for ``exp``'s storage (see the module docstring)."""
    if exp.is_local:
        return LocalStore(path=os.path.join(exp.path, LOCK_FILE))
    if exp.uri.split("://", 1)[0].lower() == "s3":
        return S3Store(exp=exp)
    return FsStore(exp=exp)


class LocalStore:
    """``driver.lock`` on a local (or mounted network) filesystem."""

    exclusive = True

    def __init__(self, *, path: str) -> None:
        self.path = path
        self._made: str | None = None  # the topmost directory create() made

    def create(self, data: bytes) -> object | None:
        """Create the lock with ``O_EXCL``, making its directory if needed.

        Raises:
            SpecError: If the directory cannot be made or written (before Ray starts).
        """
        for _ in range(5):  # a released lock's empty directory may vanish meanwhile
            try:
                self._make_dirs()
                fd = os.open(self.path, os.O_CREAT | os.O_EXCL | os.O_WRONLY, 0o644)
            except FileExistsError:
                return None
            except FileNotFoundError:
                continue
            except OSError as err:  # read-only, no permission, not a directory, ...
                raise _unwritable(self.path, err.strerror or str(err)) from err
            try:
                os.write(fd, data)
                os.fsync(fd)
            finally:
                os.close(fd)
            return data
        raise _unwritable(self.path, "the directory cannot be made, or keeps vanishing")

    def read(self) -> Stored | None:
        """The lock's bytes; the version is the bytes themselves."""
        try:
            with open(self.path, "rb") as f:
                data = f.read()
                mtime = os.fstat(f.fileno()).st_mtime
        except FileNotFoundError:
            return None
        return Stored(data=data, version=data, mtime=mtime)

    def replace(self, data: bytes, expect: object) -> object | None:
        """Rewrite the lock (a temporary file, then a rename) if it still holds ``expect``."""
        current = self.read()
        if current is None or current.data != expect:
            return None
        replace_file(self.path, data, tmp=f"{self.path}.beat-{uuid.uuid4().hex}")
        return data

    def take_over(self, data: bytes, expect: object) -> object | None:
        """Replace a lock that holds ``expect`` by a new one, atomically against others.

        The old file is renamed aside (only one renamer gets it); if it is not the
        one judged (someone took over first), it is put back and ``None`` returned.
        """
        aside = f"{self.path}.stale-{uuid.uuid4().hex}"
        try:
            os.rename(self.path, aside)
        except FileNotFoundError:
            return self.create(data)
        with open(aside, "rb") as f:
            moved = f.read()
        if moved != expect:
            with contextlib.suppress(FileExistsError):
                os.link(aside, self.path)
            os.unlink(aside)
            return None
        os.unlink(aside)
        return self.create(data)

    def delete(self, expect: object) -> None:
        """Delete the lock if it is still ``expect``; then any directory create() made."""
        current = self.read()
        if current is not None and current.data == expect:
            with contextlib.suppress(FileNotFoundError):
                os.unlink(self.path)
        if self._made is None:
            return
        here = os.path.dirname(self.path)
        while True:  # only empty directories: a started study keeps its files
            try:
                os.rmdir(here)
            except OSError:
                return
            if here == self._made:
                return
            here = os.path.dirname(here)

    def _make_dirs(self) -> None:
        missing = None
        here = os.path.dirname(self.path)
        while here and not os.path.isdir(here):
            missing = here
            parent = os.path.dirname(here)
            if parent == here:
                break
            here = parent
        os.makedirs(os.path.dirname(self.path), exist_ok=True)
        if missing is not None and self._made is None:
            self._made = missing


def _unwritable(lock_path: str, reason: str) -> SpecError:
    where = os.path.dirname(lock_path)
    return SpecError(
        f"storage: cannot write to {where} ({reason}); choose a storage directory this "
        "user can create and write, or fix its permissions"
    )


class S3Store:
    """``driver.lock`` on S3 or an S3-compatible server, with conditional requests."""

    exclusive = True

    def __init__(self, *, exp: StorageDir) -> None:
        self.exp = exp
        bucket, _, prefix = exp.path.strip("/").partition("/")
        self.bucket = bucket
        self.key = f"{prefix}/{LOCK_FILE}" if prefix else LOCK_FILE
        self._client = _s3_client(exp.uri)

    def create(self, data: bytes) -> object | None:
        """``PutObject`` with ``If-None-Match: *``."""
        return self._put(data, IfNoneMatch="*")

    def read(self) -> Stored | None:
        """``GetObject``; the version is the ETag."""
        try:
            got = self._call(lambda: self._client.get_object(Bucket=self.bucket, Key=self.key))
        except _Condition:
            return None
        data = got["Body"].read()
        return Stored(data=data, version=got["ETag"], mtime=got["LastModified"].timestamp())

    def replace(self, data: bytes, expect: object) -> object | None:
        """``PutObject`` with ``If-Match: expect``."""
        return self._put(data, IfMatch=str(expect))

    take_over = replace

    def delete(self, expect: object) -> None:
        """``DeleteObject`` with ``If-Match: expect``; compare, then delete where unsupported."""
        try:
            self._call(
                lambda: self._client.delete_object(
                    Bucket=self.bucket, Key=self.key, IfMatch=str(expect)
                )
            )
        except _Condition:
            return
        except SpecError:  # a server without conditional deletes
            current = self.read()
            if current is not None and current.version == expect:
                self._call(lambda: self._client.delete_object(Bucket=self.bucket, Key=self.key))

    def _put(self, data: bytes, **condition: str) -> object | None:
        try:
            put = self._call(
                lambda: self._client.put_object(
                    Bucket=self.bucket, Key=self.key, Body=data, **condition
                )
            )
        except _Condition:
            return None
        return put["ETag"]

    def _call(self, call: Callable[[], _T]) -> _T:
        """Run a boto3 call: a failed condition raises :class:`_Condition`, the rest one line."""
        from botocore.exceptions import BotoCoreError, ClientError

        try:
            return call()
        except ClientError as err:
            code = str(err.response.get("Error", {}).get("Code", ""))
            if code in _LOST:
                raise _Condition(code) from err
            raise _unreachable(self.exp, err) from err
        except BotoCoreError as err:
            raise _unreachable(self.exp, err) from err


class FsStore:
    """Best effort on any other ``pyarrow.fs`` scheme: check, then write (not atomic)."""

    exclusive = False

    def __init__(self, *, exp: StorageDir) -> None:
        self.exp = exp
        self.path = f"{exp.path}/{LOCK_FILE}"

    def create(self, data: bytes) -> object | None:
        """Write the lock unless one exists, then read it back: ours, or ``None``."""
        if self.read() is not None:
            return None
        self._write(data)
        current = self.read()
        return data if current is not None and current.data == data else None

    def read(self) -> Stored | None:
        """The lock's bytes; the version is the bytes themselves."""
        import pyarrow.fs as pafs

        info = self.exp.fs.get_file_info(self.path)
        if info.type == pafs.FileType.NotFound:
            return None
        try:
            with self.exp.fs.open_input_stream(self.path) as f:
                data = bytes(f.read())
        except FileNotFoundError:
            return None
        mtime = info.mtime.timestamp() if info.mtime is not None else 0.0
        return Stored(data=data, version=data, mtime=mtime)

    def replace(self, data: bytes, expect: object) -> object | None:
        """Overwrite the lock if it still holds ``expect`` (compare, then write)."""
        current = self.read()
        if current is None or current.data != expect:
            return None
        self._write(data)
        return data

    take_over = replace

    def delete(self, expect: object) -> None:
        """Delete the lock if it still holds ``expect``."""
        current = self.read()
        if current is not None and current.data == expect:
            with contextlib.suppress(FileNotFoundError):
                self.exp.fs.delete_file(self.path)

    def _write(self, data: bytes) -> None:
        self.exp.fs.create_dir(self.exp.path, recursive=True)
        with self.exp.fs.open_output_stream(self.path) as f:
            f.write(data)


class _Condition(Exception):
    """A conditional S3 request whose condition did not hold (or whose key is gone)."""


def _unreachable(exp: StorageDir, err: Exception) -> SpecError:
    reason = " ".join(redact(str(err)).split())
    return SpecError(
        f"storage: cannot reach {exp.shown} for its {LOCK_FILE} ({reason}); check the URI's "
        "endpoint, the network and the credentials"
    )


def _s3_client(uri: str) -> Any:
    """A boto3 S3 client for the endpoint, scheme, region and credentials ``uri`` carries."""
    import boto3
    from botocore.config import Config

    parts = urllib.parse.urlsplit(uri)
    options = {k: v[-1] for k, v in urllib.parse.parse_qs(parts.query).items()}
    endpoint = options.get("endpoint_override")
    if endpoint and "://" not in endpoint:
        endpoint = f"{options.get('scheme', 'https')}://{endpoint}"
    key = urllib.parse.unquote(parts.username) if parts.username else options.get("access_key")
    secret = urllib.parse.unquote(parts.password) if parts.password else options.get("secret_key")
    config = Config(
        connect_timeout=10,
        read_timeout=20,
        retries={"max_attempts": 3, "mode": "standard"},
        # Plain requests, as S3-compatible servers without the newer checksums accept.
        request_checksum_calculation="when_required",
        response_checksum_validation="when_required",
    )
    return boto3.session.Session().client(
        "s3",
        endpoint_url=endpoint,
        region_name=options.get("region"),
        aws_access_key_id=key,
        aws_secret_access_key=secret,
        aws_session_token=options.get("session_token"),
        config=config,
    )
