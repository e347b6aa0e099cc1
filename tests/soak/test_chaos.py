"""The chaos soak test (``tests/soak/chaos.py --quick``): driver kills, signals, a second
driver and a node loss, then every trial of the budget accounted for exactly once."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

CHAOS = Path(__file__).resolve().parent / "chaos.py"


@pytest.mark.slow
@pytest.mark.on_request
@pytest.mark.timeout(1800)
def test_quick_chaos_loses_and_duplicates_no_trial(tmp_path: Path) -> None:
    out = tmp_path / "results"
    run = subprocess.run(
        [sys.executable, str(CHAOS), "--quick", "--out", str(out), "--work", str(tmp_path / "w")],
        capture_output=True,
        text=True,
        timeout=1700,
    )
    assert run.returncode == 0, run.stdout[-4000:] + run.stderr[-4000:]
    report = json.loads((out / "chaos.json").read_text())
    totals = report["totals"]
    total = totals["total"]
    # --quick: 4 driver faults (SIGKILL, SIGTERM, Ctrl-C, a second driver), always made;
    # 1 node removal, made unless the 8-trial study finished before its planned moment.
    assert totals["driver"]["faults"] == 4
    kinds = {f["type"].split(" (")[0] for f in report["phases"]["driver"]["faults"]}
    assert kinds == {"driver SIGKILL", "driver SIGTERM", "driver SIGINT", "lock contention"}
    assert all(f["as_promised"] for f in report["phases"]["driver"]["faults"])
    assert total["faults"] in (4, 5)
    assert total["survived"] == total["faults"]
    assert total["finished"] is True
    assert total["trials_lost"] == 0
    assert total["rows_missing"] == 0
    assert total["trials_duplicated"] == 0
    assert total["agree"] is True
    assert (out / "chaos.md").read_text().startswith("# ")
