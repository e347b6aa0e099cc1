"""A Ray cluster's Job Submission API: connect with its token; list, follow, stop jobs.

Token authentication (Ray >= 2.52, ``RAY_AUTH_MODE=token``) guards the dashboard's HTTP
API. Ray's own ``JobSubmissionClient`` sends the token only when *this* process runs in
token mode (``RAY_AUTH_MODE=token``); against a head that turned token mode on by itself
it is refused with "Missing authentication token". :func:`connect_jobs` therefore finds
the token where Ray keeps it (:func:`find_auth_token`) and passes it as an explicit
``Authorization: Bearer`` header, which the SDK sends with every request, upload and
log stream.
"""

from __future__ import annotations

import ipaddress
import logging
import os
import time
import urllib.parse
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TextIO

from distributed_bo.exceptions import ClusterError, SpecError

logger = logging.getLogger(__name__)

#: Where ``distributed-bo submit`` and ``jobs`` look when no address is given.
DEFAULT_ADDRESS = "http://127.0.0.1:8265"
#: Job states after which nothing changes.
TERMINAL_STATES = frozenset({"SUCCEEDED", "FAILED", "STOPPED"})
#: Job metadata key holding the study name.
STUDY_KEY = "distributed_bo_study"
#: Seconds to wait for the dashboard's first answer.
CONNECT_TIMEOUT_S = 10.0


@dataclass(frozen=True, kw_only=True)
class AuthToken:
    """A Ray authentication token and where it was found.

    Attributes:
        value: The token (never shown in ``repr``).
        source: ``"RAY_AUTH_TOKEN"`` or the file it was read from.
    """

    value: str = field(repr=False)
    source: str

    def header(self) -> dict[str, str]:
        """The HTTP header Ray's dashboard checks."""
        return {"Authorization": f"Bearer {self.value}"}


def find_auth_token() -> AuthToken | None:
    """Find the Ray token where Ray itself looks, in Ray's order.

    ``RAY_AUTH_TOKEN``, then the file named by ``RAY_AUTH_TOKEN_PATH``, then
    ``~/.ray/auth_token`` (written by a local head or ``ray get-auth-token --generate``).

    Returns:
        The token, or ``None`` if none is set.

    Raises:
        SpecError: If ``RAY_AUTH_TOKEN_PATH`` names a missing, unreadable or empty file
            (Ray itself treats that as fatal rather than falling back).
    """
    value = os.environ.get("RAY_AUTH_TOKEN", "").strip()
    if value:
        return AuthToken(value=value, source="RAY_AUTH_TOKEN")
    path = os.environ.get("RAY_AUTH_TOKEN_PATH", "")
    if path:
        try:
            value = Path(path).expanduser().read_text().strip()
        except OSError as err:
            raise SpecError(
                f"RAY_AUTH_TOKEN_PATH: cannot read {path!r} ({err.strerror}); point it at "
                "the cluster's token file or unset it"
            ) from err
        if not value:
            raise SpecError(
                f"RAY_AUTH_TOKEN_PATH: {path!r} is empty; point it at the cluster's token "
                "file or unset it"
            )
        return AuthToken(value=value, source=path)
    default = Path.home() / ".ray" / "auth_token"
    try:
        value = default.read_text().strip()
    except OSError:
        return None
    return AuthToken(value=value, source=str(default)) if value else None


def resolve_address(address: str | None) -> str:
    """Return the dashboard URL to use.

    ``address``, else ``RAY_API_SERVER_ADDRESS``, else an ``http(s)://``
    ``RAY_ADDRESS``, else :data:`DEFAULT_ADDRESS`; ``HOST:PORT`` gets ``http://``.

    Raises:
        SpecError: If it is not an http(s) URL with a host and a valid port.
    """
    env = os.environ.get("RAY_ADDRESS", "")
    raw = (
        address
        or os.environ.get("RAY_API_SERVER_ADDRESS")
        or (env if env.startswith(("http://", "https://")) else "")
        or DEFAULT_ADDRESS
    ).strip()
    if "://" not in raw:
        raw = f"http://{raw}"
    fix = "use the head's dashboard URL, e.g. http://HEAD:8265 (not ray:// or the GCS port)"
    parts = urllib.parse.urlsplit(raw)
    try:
        port_ok = parts.port is None or parts.port > 0
    except ValueError:
        port_ok = False
    if parts.scheme not in ("http", "https") or not parts.hostname or not port_ok:
        raise SpecError(f"--address: got {raw!r}; {fix}")
    return raw.rstrip("/")


@dataclass(frozen=True, kw_only=True)
class JobRow:
    """One job as ``jobs list`` and ``jobs status`` show it.

    Attributes:
        submission_id: The id ``submit`` printed (or the driver's job id).
        status: ``PENDING``, ``RUNNING``, ``SUCCEEDED``, ``FAILED`` or ``STOPPED``.
        study: The study name for jobs submitted by ``distributed-bo submit``.
        entrypoint: The shell command the job runs.
        message: Ray's status message.
        start_time: Unix seconds, or ``None``.
        end_time: Unix seconds, or ``None``.
        driver_exit_code: The entrypoint's exit code once it ended, else ``None``.
    """

    submission_id: str
    status: str
    study: str | None
    entrypoint: str
    message: str
    start_time: float | None
    end_time: float | None
    driver_exit_code: int | None

    @classmethod
    def from_details(cls, info: Any) -> JobRow:
        """Build a row from the SDK's ``JobDetails``."""
        status = getattr(info.status, "value", info.status)
        metadata = info.metadata or {}
        return cls(
            submission_id=info.submission_id or info.job_id or "",
            status=str(status),
            study=metadata.get(STUDY_KEY),
            entrypoint=info.entrypoint or "",
            message=info.message or "",
            start_time=info.start_time / 1000 if info.start_time else None,
            end_time=info.end_time / 1000 if info.end_time else None,
            driver_exit_code=getattr(info, "driver_exit_code", None),
        )


@dataclass(frozen=True, kw_only=True)
class JobsClient:
    """A connected Job Submission client; build it with :func:`connect_jobs`.

    Attributes:
        address: The dashboard URL.
        sdk: The ``ray.job_submission.JobSubmissionClient``.
        token: The token sent with every request, or ``None``.
    """

    address: str
    sdk: Any = field(repr=False)
    token: AuthToken | None

    def submit(self, **kwargs: Any) -> str:
        """``JobSubmissionClient.submit_job`` with errors made one line.

        Raises:
            SpecError: If Ray refuses the runtime environment (e.g. a path too large).
            ClusterError: If the cluster refuses or cannot take the job.
        """
        try:
            return self._call("submit the job", self.sdk.submit_job, **kwargs)
        except ValueError as err:
            raise SpecError(
                f"--py-module: Ray refused the job's runtime environment ({_first_line(err)}); "
                "ship smaller package directories or .py files"
            ) from err

    def list(self) -> list[JobRow]:
        """Every job the cluster knows, oldest first."""
        rows = [JobRow.from_details(j) for j in self._call("list jobs", self.sdk.list_jobs)]
        return sorted(rows, key=lambda r: (r.start_time or 0.0, r.submission_id))

    def status(self, submission_id: str) -> JobRow:
        """One job.

        Raises:
            SpecError: If the cluster has no such job.
        """
        return JobRow.from_details(self._job_call(submission_id, self.sdk.get_job_info))

    def logs(self, submission_id: str) -> str:
        """Everything the job printed so far."""
        return self._job_call(submission_id, self.sdk.get_job_logs)

    def follow(self, submission_id: str, stream: TextIO) -> JobRow:
        """Stream the job's output to ``stream`` until it ends.

        Returns:
            The job once it reached a terminal state.
        """
        import asyncio

        self.status(submission_id)  # a one-line error for an unknown id

        async def tail() -> None:
            async for chunk in self.sdk.tail_job_logs(submission_id):
                stream.write(chunk)
                stream.flush()

        try:
            asyncio.run(tail())
        except (RuntimeError, OSError) as err:  # the stream broke; the job may go on
            logger.warning("log stream of %s ended early: %s", submission_id, _first_line(err))
        return self.wait(submission_id)

    def wait(
        self, submission_id: str, *, timeout_s: float | None = None, poll_s: float = 1.0
    ) -> JobRow:
        """Poll until the job reaches a terminal state.

        Raises:
            ClusterError: If ``timeout_s`` passes first.
        """
        deadline = None if timeout_s is None else time.monotonic() + timeout_s
        while True:
            row = self.status(submission_id)
            if row.status in TERMINAL_STATES:
                return row
            if deadline is not None and time.monotonic() > deadline:
                raise ClusterError(
                    f"ID: job {submission_id!r} is still {row.status} after {timeout_s:g} s; "
                    f"watch it with `distributed-bo jobs logs {submission_id} --follow`"
                )
            time.sleep(poll_s)

    def stop(self, submission_id: str) -> bool:
        """Ask the job to stop; True if it was running."""
        return bool(self._job_call(submission_id, self.sdk.stop_job))

    def _job_call(self, submission_id: str, fn: Any) -> Any:
        try:
            return fn(submission_id)
        except _sdk_errors() as err:
            if "404" in str(err) or "does not exist" in str(err):
                raise SpecError(
                    f"ID: no job {submission_id!r} on {self.address}; list them with "
                    f"`distributed-bo jobs list --address {self.address}`"
                ) from err
            raise self._cluster_error(f"query job {submission_id!r}", err) from err

    def _call(self, what: str, fn: Any, **kwargs: Any) -> Any:
        try:
            return fn(**kwargs)
        except _sdk_errors() as err:
            raise self._cluster_error(what, err) from err

    def _cluster_error(self, what: str, err: BaseException) -> ClusterError:
        return ClusterError(
            f"--address: could not {what} on {self.address} ({_first_line(err)}); check "
            "that the head is still running"
        )


def connect_jobs(address: str | None = None, *, timeout_s: float = CONNECT_TIMEOUT_S) -> JobsClient:
    """Connect to a cluster's Job Submission API, sending its token if one is set.

    Args:
        address: The dashboard URL (see :func:`resolve_address`).
        timeout_s: Seconds to wait for the dashboard's first answer.

    Raises:
        SpecError: On a malformed address or an unreadable ``RAY_AUTH_TOKEN_PATH``.
        ClusterError: If no dashboard answers, or it refuses the token.
    """
    import requests

    url = resolve_address(address)
    token = find_auth_token()
    headers = token.header() if token else {}
    if token is not None and url.startswith("http://") and not _is_loopback(url):
        logger.warning(
            "sending the Ray token to %s over plain http; use https, an SSH tunnel "
            "(`ray dashboard`) or `kubectl port-forward` so it stays on this machine",
            url,
        )
    try:
        response = requests.get(f"{url}/api/version", headers=headers, timeout=timeout_s)
    except requests.exceptions.RequestException as err:
        raise ClusterError(
            f"--address: no Ray dashboard answers at {url!r} ({_reason(err)}); check the "
            "address, that the head runs with its dashboard, and any port-forward"
        ) from err
    _check_version_answer(url, response, token)
    from ray.job_submission import JobSubmissionClient

    try:
        sdk = JobSubmissionClient(url, headers=dict(headers))
    except _sdk_errors() as err:
        raise ClusterError(
            f"--address: the dashboard at {url!r} refused the Jobs API ({_first_line(err)}); "
            "check that the cluster runs Ray >= 2.52 with ray[default]"
        ) from err
    return JobsClient(address=url, sdk=sdk, token=token)


def _check_version_answer(url: str, response: Any, token: AuthToken | None) -> None:
    if response.status_code == 401:
        raise ClusterError(
            f"--address: the cluster at {url!r} requires a token and none is set; set "
            "RAY_AUTH_TOKEN or RAY_AUTH_TOKEN_PATH, or put it in ~/.ray/auth_token "
            "(see cluster/README.md)"
        )
    if response.status_code == 403:
        source = token.source if token else "?"
        raise ClusterError(
            f"--address: the cluster at {url!r} rejected the token from {source}; use "
            "that cluster's own token (see cluster/README.md)"
        )
    try:
        ok = response.status_code == 200 and "ray_version" in response.json()
    except ValueError:
        ok = False
    if not ok:
        raise ClusterError(
            f"--address: {url!r} answered HTTP {response.status_code} but is not a Ray "
            "dashboard; use the head's dashboard URL, e.g. http://HEAD:8265"
        )


def _sdk_errors() -> tuple[type[BaseException], ...]:
    """What the Jobs SDK raises for refused or failed requests (OSError covers requests')."""
    from ray.exceptions import RayError

    return (RuntimeError, OSError, RayError)


def _is_loopback(url: str) -> bool:
    host = urllib.parse.urlsplit(url).hostname or ""
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def _reason(err: BaseException) -> str:
    text = str(err)
    for marker, reason in (
        ("Connection refused", "connection refused"),
        ("timed out", "timed out"),
        ("Name or service not known", "unknown host"),
        ("nodename nor servname", "unknown host"),
    ):
        if marker in text:
            return reason
    return type(err).__name__


def _first_line(err: BaseException) -> str:
    text = str(err).strip().splitlines()
    return text[0] if text else type(err).__name__
