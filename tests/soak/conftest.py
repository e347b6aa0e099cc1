"""Soak tests run only when asked: ``--run-slow`` or ``DISTRIBUTED_BO_RUN_SLOW=1``.

The default ``python -m pytest`` collects them and skips them (they take minutes and
start their own Ray clusters). ``--run-slow`` is registered here, so it is known when
pytest is pointed at this folder (``python -m pytest tests/soak --run-slow``); the
environment variable works from anywhere (``DISTRIBUTED_BO_RUN_SLOW=1 python -m
pytest tests``).
"""

from __future__ import annotations

import os
from pathlib import Path

import pytest

_HERE = Path(__file__).parent


def pytest_addoption(parser: pytest.Parser) -> None:
    parser.addoption("--run-slow", action="store_true", help="run the soak tests")


def _asked(config: pytest.Config) -> bool:
    return bool(config.getoption("run_slow", default=False)) or (
        os.environ.get("DISTRIBUTED_BO_RUN_SLOW", "") not in ("", "0")
    )


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    if _asked(config):
        return
    skip = pytest.mark.skip(reason="soak test: pass --run-slow or set DISTRIBUTED_BO_RUN_SLOW=1")
    for item in items:
        # Hooks of a folder's conftest see the whole session's items: skip only the
        # soak tests here, not the slow tests elsewhere that the default suite runs.
        if "slow" in item.keywords and Path(item.path).is_relative_to(_HERE):
            item.add_marker(skip)
