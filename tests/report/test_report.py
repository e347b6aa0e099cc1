"""`distributed-bo report`: one self-contained HTML page for finished, resumed, failed studies."""

import base64
import io
import os
import re
import shutil
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

import pyarrow.parquet as pq
import pytest

from distributed_bo import StudyFailedError, StudyInterruptedError
from distributed_bo.cli import main
from distributed_bo.experiment.rows import write_trials
from distributed_bo.experiment.storage import StorageDir
from distributed_bo.report import write_report
from distributed_bo.report.data import load_study, peak_concurrency, timeline
from distributed_bo.runner.study import resume_study, run_study
from distributed_bo.spec import StudySpec

RUNNER_TESTS = Path(__file__).parents[1] / "runner"
FIGURES = ("best_so_far", "timeline", "parallel_coordinates", "effects")


def branin_spec(root, name, *, trials, concurrent, initial, duration_s=0.0):
    return StudySpec.from_dict(
        {
            "name": name,
            "objective": {"metric": "value", "mode": "min"},
            "trainable": {"name": "branin", "config": {"duration_s": duration_s, "steps": 2}},
            "space": {
                "x0": {"type": "uniform", "lower": -5.0, "upper": 10.0},
                "x1": {"type": "uniform", "lower": 0.0, "upper": 15.0},
            },
            "budget": {"num_trials": trials, "max_concurrent": concurrent},
            "searcher": {"num_initial": initial},
            "resources": {"cpus_per_trial": 0.5},
            "storage": str(root),
            "seed": 0,
            "baseline": {"x0": 2.0, "x1": 2.0},
        }
    )


@pytest.fixture(scope="module")
def finished(ray_session, tmp_path_factory):
    root = tmp_path_factory.mktemp("finished")
    spec = branin_spec(root, "done", trials=5, concurrent=3, initial=5)
    return run_study(spec, progress=None).experiment_dir


@pytest.fixture(scope="module")
def failed(ray_session, tmp_path_factory):
    root = tmp_path_factory.mktemp("failed")
    sys.path.insert(0, str(RUNNER_TESTS))  # the spec and the driver import the trainable
    spec = StudySpec.from_dict(
        {
            "name": "broken",
            "objective": {"metric": "value", "mode": "min"},
            "trainable": {"name": "failing_trainables:raises"},
            "space": {"x0": {"type": "uniform", "lower": 0.0, "upper": 1.0}},
            "budget": {"num_trials": 2, "max_concurrent": 2},
            "resources": {"cpus_per_trial": 0.5},
            "storage": str(root),
            "seed": 0,
        }
    )
    try:
        with pytest.raises(StudyFailedError, match="no trial completed"):
            run_study(spec, progress=None)
    finally:
        sys.path.remove(str(RUNNER_TESTS))
    return str(root / "broken")


@pytest.fixture(scope="module")
def resumed(ray_session, tmp_path_factory):
    """A study interrupted (SIGINT, as Ctrl-C) after two trials, then resumed to the end."""
    root = tmp_path_factory.mktemp("resumed")
    spec = branin_spec(root, "again", trials=4, concurrent=2, initial=4, duration_s=1.0)
    exp = root / "again"
    stop = threading.Event()

    def interrupt_after_two():
        while not stop.is_set():
            try:
                rows = pq.read_table(exp / "trials.parquet").to_pylist()
            except (FileNotFoundError, OSError):
                rows = []
            if sum(r["status"] == "COMPLETED" for r in rows) >= 2:
                os.kill(os.getpid(), signal.SIGINT)  # Tune stops and saves its state
                return
            time.sleep(0.1)

    watcher = threading.Thread(target=interrupt_after_two, daemon=True)
    watcher.start()
    try:
        with pytest.raises(StudyInterruptedError) as stopped:  # exit 130 from the CLI
            run_study(spec, progress=None)
    finally:
        stop.set()
        watcher.join()
    assert stopped.value.exit_code == 130
    first = pq.read_table(exp / "trials.parquet").to_pylist()
    assert 2 <= len([r for r in first if r["status"] == "COMPLETED"]) < 4
    result = resume_study(str(exp), progress=None)
    assert [r["status"] for r in result.rows].count("COMPLETED") == 4
    return str(exp)


def _sections(page):
    return re.findall(r"<h2>(.*?)</h2>", page)


def _images(page):
    return [base64.b64decode(m) for m in re.findall(r'src="data:image/png;base64,([^"]+)"', page)]


def _check_self_contained(page):
    assert "<script" not in page
    assert not re.search(r'(src|href)="(?!data:)', page)  # nothing loaded from elsewhere
    for png in _images(page):
        assert png.startswith(b"\x89PNG\r\n\x1a\n")


def test_finished_study_report_has_every_part(finished, tmp_path):
    report = write_report(finished, out=str(tmp_path / "r" / "study.html"))
    page = Path(report.html).read_text()
    assert _sections(page) == [
        "Best so far",
        "Timeline",
        "Parallel coordinates",
        "Parameter effects",
        "Trials",
        "Failures",
    ]
    _check_self_contained(page)
    assert report.model_note == ""  # Ax's GP was fitted, slices and Sobol indices drawn
    assert "Sensitivity (Ax)" in page and "SlicePlot" in page
    assert len(_images(page)) == 5
    assert sorted(Path(p).name for p in report.pngs) == sorted(
        f"study_{n}.png" for n in (*FIGURES, "sensitivity")
    )
    for path, png in zip(report.pngs, _images(page), strict=True):
        assert Path(path).read_bytes() == png  # the files on disk are the inlined figures
    assert "5 of 5 (5 completed)" in page
    assert "improvement" in page  # the baseline trial was found
    table = page.split("<h2>Trials</h2>")[1].split("<h2>")[0]
    assert table.count("<tr") == 1 + 5
    assert "No trial failed." in page


def test_failed_study_report_lists_the_reasons(failed):
    report = write_report(failed)
    assert report.html == os.path.join(failed, "report.html")
    page = Path(report.html).read_text()
    _check_self_contained(page)
    assert "2 of 2 (2 failed)" in page
    failures = page.split("<h2>Failures</h2>")[1]
    assert failures.count("RuntimeError: user code broke at step 2") == 2
    assert "0 completed trial(s)" in report.model_note
    assert "model-based analyses are not shown" in page
    assert all(os.path.getsize(p) > 1000 for p in report.pngs)


def test_resumed_study_report_shows_both_runs(resumed):
    study = load_study(resumed)
    labels, bars = timeline(study.rows)
    assert len(bars) == 4
    assert len(labels) == peak_concurrency(bars)  # one lane per trial running at once
    gaps = []
    for lane in range(len(labels)):
        runs = sorted((b for b in bars if b.lane == lane), key=lambda b: b.start)
        gaps += [b.start - a.end for a, b in zip(runs, runs[1:], strict=False)]
    assert gaps and max(gaps) > 1.0  # the stop and restart left the slots idle for a while
    page = Path(write_report(resumed).html).read_text()
    _check_self_contained(page)
    assert "4 of 4 (4 completed)" in page
    assert all(f"<td>{i}" in page for i in range(4))


def test_unknown_statuses_gpu_lanes_and_old_files(finished, tmp_path):
    """Rows from other writers: GPU ids, statuses this report does not know, no times."""
    exp = tmp_path / "other"
    exp.mkdir()
    shutil.copy(Path(finished) / "spec.yaml", exp / "spec.yaml")
    base = 1_700_000_000.0
    rows = [
        _row(0, "COMPLETED", 3.0, base, base + 10, gpu="[0]"),
        _row(1, "EARLY_STOPPED", 9.0, base + 1, base + 4, gpu="[1]"),
        _row(2, "SOMETHING_NEW", None, base + 5, base + 8, gpu="[1]"),
        _row(3, "RUNNING", 5.0, base + 11, None, gpu="[0]"),
        {"trial_id": "t4", "ax_index": 4, "status": "FAILED", "error": "an old row, no times"},
    ]
    write_trials(StorageDir.open(str(exp)), rows)
    labels, bars = timeline(load_study(str(exp)).rows)
    assert labels == ["n1 GPU 0", "n1 GPU 1"]
    assert [(b.label, b.lane) for b in bars] == [("0", 0), ("3", 0), ("1", 1), ("2", 1)]
    report = write_report(str(exp), model=False)
    page = Path(report.html).read_text()
    _check_self_contained(page)
    assert "something_new" in page and "early_stopped" in page
    assert "an old row, no times" in page
    assert "--no-model was given" in page


def _row(index, status, metric, start, end, *, gpu):
    return {
        "trial_id": f"t{index}",
        "ax_index": index,
        "status": status,
        "metric": metric,
        "config/x0": float(index),
        "config/x1": 2.0 * index,
        "start_time": start,
        "end_time": end,
        "node": "n1",
        "gpu": gpu,
    }


def test_cli_report_writes_page_and_pngs_beside_it(finished, tmp_path, capsys):
    out = tmp_path / "site" / "index.html"
    assert main(["report", finished, "--out", str(out), "--no-model"]) == 0
    assert capsys.readouterr().out.strip() == str(out)
    assert sorted(p.name for p in out.parent.iterdir()) == sorted(
        ["index.html", *(f"index_{n}.png" for n in FIGURES)]
    )


@pytest.mark.parametrize("damage", ["missing", "corrupt"])
def test_cli_bad_experiment_dir_is_one_line_exit_2(finished, tmp_path, capsys, damage):
    exp = tmp_path / "exp"
    if damage == "corrupt":
        exp.mkdir()
        shutil.copy(Path(finished) / "spec.yaml", exp / "spec.yaml")
        (exp / "trials.parquet").write_bytes(b"not a parquet file")
    assert main(["report", str(exp)]) == 2
    err = capsys.readouterr().err
    assert err.startswith("error: ") and err.count("\n") == 1
    assert ("holds no spec.yaml" if damage == "missing" else "trials.parquet is corrupt") in err
    assert not (exp / "report.html").exists()


def test_report_renders_in_headless_chromium(finished, tmp_path):
    chromium = shutil.which("chromium")
    if chromium is None:
        pytest.skip("Debian's `chromium` is not installed (apt-get install -y chromium)")
    page = write_report(finished, out=str(tmp_path / "report.html"), model=False).html
    shot = tmp_path / "shot.png"
    proc = subprocess.run(
        [
            chromium,
            "--headless",
            "--no-sandbox",
            "--disable-gpu",
            "--disable-quic",
            "--no-first-run",
            "--disable-background-networking",
            "--disable-component-update",
            "--disable-sync",
            f"--user-data-dir={tmp_path / 'profile'}",
            f"--screenshot={shot}",
            "--window-size=1280,2000",
            Path(page).as_uri(),
        ],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert shot.exists(), proc.stderr[-2000:]
    import numpy as np
    from matplotlib import image

    pixels = image.imread(io.BytesIO(shot.read_bytes()), format="png")
    assert pixels.shape[:2] == (2000, 1280)
    rgb = (pixels[..., :3] * 255).astype(np.uint8).reshape(-1, 3)
    assert len(np.unique(rgb, axis=0)) > 200  # text, lines and colours, not a blank page
    assert (rgb < 200).any(axis=1).mean() > 0.02  # a real share of the page is drawn on


def _params_via_tune(spec):
    """The searched parameters as the searcher maps them (Ray Tune domains -> Ax)."""
    from distributed_bo.report.data import Param
    from distributed_bo.search.space import map_space

    out = []
    for p in map_space(spec.param_space()).parameters:
        cfg = p.ax_config
        unordered = getattr(cfg, "values", None) is not None and not getattr(
            cfg, "is_ordered", True
        )
        out.append(
            Param(
                path=p.path,
                ax_name=p.ax_name,
                log_scale=getattr(cfg, "scaling", None) == "log",
                categories=tuple(cfg.values) if unordered else None,
            )
        )
    return tuple(out)


EVERY_DOMAIN = {
    "u": {"type": "uniform", "lower": -1.0, "upper": 1.0},
    "lu": {"type": "loguniform", "lower": 1e-4, "upper": 1.0},
    "qu": {"type": "quniform", "lower": 0.0, "upper": 1.0, "q": 0.25},
    "qu1": {"type": "quniform", "lower": 0.0, "upper": 4.0, "q": 1.0},
    "qlu": {"type": "qloguniform", "lower": 0.5, "upper": 4.0, "q": 0.5},
    "qlu1": {"type": "qloguniform", "lower": 1.0, "upper": 8.0, "q": 1.0},
    "ri": {"type": "randint", "lower": 1, "upper": 5},
    "ri_one": {"type": "randint", "lower": 3, "upper": 4},  # one value: a constant
    "lri": {"type": "lograndint", "lower": 1, "upper": 64},
    "qri": {"type": "qrandint", "lower": 2, "upper": 10, "q": 2},
    "qri1": {"type": "qrandint", "lower": 1, "upper": 6, "q": 1},
    "qlri": {"type": "qlograndint", "lower": 2, "upper": 16, "q": 2},
    "c_num": {"type": "choice", "values": [3, 1, 2]},
    "c_float": {"type": "choice", "values": [0.5, 1, 2.5]},
    "c_str": {"type": "choice", "values": ["relu", "gelu", "tanh"]},
    "c_other": {"type": "choice", "values": [True, False, "none"]},
    "c_one": {"type": "choice", "values": ["only"]},
    "nested": {"lr": {"type": "loguniform", "lower": 1e-3, "upper": 1.0}, "k": 7},
    "constant": 3,
}


def test_report_params_match_the_searchers_mapping_without_ray_tune():
    from distributed_bo.report.data import searched_params

    spec = StudySpec.from_dict(
        {
            "name": "domains",
            "objective": {"metric": "value", "mode": "min"},
            "trainable": {"name": "missing_module:fn"},
            "space": EVERY_DOMAIN,
            "budget": {"num_trials": 4, "max_concurrent": 1},
        },
        import_trainable=False,
    )
    ours = searched_params(spec)
    assert ours == _params_via_tune(spec)
    paths = [p.path for p in ours]
    assert "nested/lr" in paths and not {"ri_one", "c_one", "constant"} & set(paths)
    assert {p.path for p in ours if p.log_scale} == {"lu", "qlu1", "lri", "nested/lr"}
    assert next(p for p in ours if p.path == "c_other").categories == ("0", "1", "2")
