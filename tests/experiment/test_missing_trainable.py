"""``show`` and ``report`` on a machine without the trainable's module (issue 11).

A real study runs with a ``module:function`` trainable from a temporary directory on
``sys.path``; then the module is deleted. ``show`` and ``report`` must still print
the table and write the report (not call the spec corrupt), both without
importing Ray Tune, and ``resume``, which must run the trainable, must name it.
"""

from __future__ import annotations

import subprocess
import sys
import textwrap

import pytest

from distributed_bo.cli import main
from distributed_bo.runner.study import run_study
from distributed_bo.spec import StudySpec

MODULE = "dbo_vanishing_trainable"
SOURCE = textwrap.dedent(
    """
    from ray import tune

    def quadratic(config):
        tune.report({"value": (config["x"] - 0.3) ** 2})
    """
)


@pytest.fixture(scope="module")
def orphaned(ray_session, tmp_path_factory):
    """An experiment directory whose trainable module no longer exists anywhere."""
    code = tmp_path_factory.mktemp("user_code")
    (code / f"{MODULE}.py").write_text(SOURCE)
    root = tmp_path_factory.mktemp("storage")
    sys.path.insert(0, str(code))
    try:
        spec = StudySpec.from_dict(
            {
                "name": "orphan",
                "objective": {"metric": "value", "mode": "min"},
                "trainable": {"name": f"{MODULE}:quadratic"},
                "space": {"x": {"type": "uniform", "lower": 0.0, "upper": 1.0}},
                "budget": {"num_trials": 4, "max_concurrent": 2},
                "searcher": {"num_initial": 4},
                "resources": {"cpus_per_trial": 0.5},
                "storage": str(root),
                "seed": 0,
            }
        )
        result = run_study(spec, progress=None)
    finally:
        sys.path.remove(str(code))
        sys.modules.pop(MODULE, None)
        (code / f"{MODULE}.py").unlink()
    assert len(result.rows) == 4
    return result.experiment_dir


def _cli(args, cwd):
    """Run the CLI in a fresh interpreter; report whether it imported Ray Tune."""
    script = (
        "import sys\n"
        "from distributed_bo.cli import main\n"
        f"code = main({list(args)!r})\n"
        "print('ray.tune imported:', 'ray.tune' in sys.modules)\n"
        "sys.exit(code)\n"
    )
    return subprocess.run(
        [sys.executable, "-c", script],
        capture_output=True,
        text=True,
        timeout=300,
        cwd=cwd,
        check=False,
    )


def test_show_prints_the_table_without_the_module_or_ray_tune(orphaned, tmp_path):
    proc = _cli(["show", orphaned], tmp_path)
    assert proc.returncode == 0, proc.stderr
    assert "corrupt" not in proc.stdout + proc.stderr
    assert "study orphan: 4/4 trials (4 completed)" in proc.stdout
    assert "best value = " in proc.stdout
    assert "ray.tune imported: False" in proc.stdout


@pytest.mark.parametrize("model", [True, False])
def test_report_is_written_without_the_module_or_ray_tune(orphaned, tmp_path, model):
    out = tmp_path / "page.html"
    args = ["report", orphaned, "--out", str(out)] + ([] if model else ["--no-model"])
    proc = _cli(args, tmp_path)
    assert proc.returncode == 0, proc.stderr
    assert "corrupt" not in proc.stdout + proc.stderr
    assert proc.stdout.splitlines()[0] == str(out)
    assert "ray.tune imported: False" in proc.stdout
    page = out.read_text()
    assert "orphan" in page and "<table" in page
    assert (tmp_path / "page_timeline.png").stat().st_size > 0


def test_resume_names_the_missing_module(orphaned, capsys):
    assert main(["resume", orphaned, "--quiet"]) == 2
    err = capsys.readouterr().err
    assert MODULE in err and "corrupt" not in err
