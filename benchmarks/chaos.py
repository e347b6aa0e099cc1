"""Chaos: the soak test in ``tests/soak/chaos.py``, run as a benchmark (same flags).

``python benchmarks/chaos.py`` writes ``benchmarks/results/chaos.md`` and
``chaos.json``; ``--quick`` and ``--replot`` as described there.
"""

import runpy
from pathlib import Path

if __name__ == "__main__":
    runpy.run_path(
        str(Path(__file__).resolve().parents[1] / "tests" / "soak" / "chaos.py"),
        run_name="__main__",
    )
