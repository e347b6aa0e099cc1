"""Who holds ``driver.lock``: this machine's identity, and whether a process still runs.

Linux's ``/proc`` tells a machine (boot id and pid namespace: a reboot, or another
container, is another machine) and a process (its start time, so a reused pid is
not mistaken for the holder). Elsewhere only the host name and a bare pid check are
available.
"""

from __future__ import annotations

import os


def machine() -> str | None:
    """This machine's boot id and pid namespace; ``None`` where /proc has neither."""
    try:
        with open("/proc/sys/kernel/random/boot_id") as f:
            boot = f.read().strip()
    except OSError:
        return None
    try:
        namespace = os.readlink("/proc/self/ns/pid")
    except OSError:
        namespace = "?"
    return f"{boot}/{namespace}"


def process_start(pid: int) -> str | None:
    """The start time of process ``pid`` in clock ticks since boot (Linux), else ``None``."""
    fields = _proc_stat(pid)
    return fields[19] if fields is not None and len(fields) > 19 else None


def _proc_stat(pid: int) -> list[str] | None:
    """The fields of ``/proc/PID/stat`` after the command name (state first)."""
    try:
        with open(f"/proc/{pid}/stat") as f:
            text = f.read()
    except OSError:
        return None
    return text.rpartition(")")[2].split()


def alive(pid: int, started: str | None) -> bool:
    """Whether process ``pid`` runs (not a zombie) and is the one that started at ``started``."""
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        pass  # someone else's process: it exists
    fields = _proc_stat(pid)
    if fields is None:  # no /proc (or hidden): os.kill found it, so trust the pid
        return True
    if fields[0] in ("Z", "X"):
        return False
    return started is None or len(fields) <= 19 or fields[19] == started
