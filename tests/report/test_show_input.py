"""`show` and `report` on bad input: one line, exit 2, no trial text printed raw (issue 12)."""

from __future__ import annotations

import pytest

from distributed_bo.cli import main
from distributed_bo.experiment import StorageDir, write_spec, write_trials
from distributed_bo.experiment.layout import SEARCHER_FILE, TRIALS_FILE
from distributed_bo.report.show import escape
from distributed_bo.spec import StudySpec

#: What a trial can put in its error: ANSI colour, BEL, CR, a C1 CSI, a newline,
#: and a bidirectional override.
NASTY = "bad\x1b[31mred\x07\rX\x9b[2J\nnext\u202eevil"
UNREACHABLE = "s3://KEY:SECRET@bucket/exp?endpoint_override=127.0.0.1:9&scheme=http"


@pytest.fixture
def study(tmp_path):
    spec = StudySpec.from_dict(
        {
            "name": "s",
            "objective": {"metric": "value", "mode": "min"},
            "trainable": {"name": "branin"},
            "space": {"x0": {"type": "uniform", "lower": 0.0, "upper": 1.0}},
            "budget": {"num_trials": 6, "max_concurrent": 2},
            "storage": str(tmp_path),
        }
    )
    exp = StorageDir.open(str(tmp_path), "s")
    write_spec(exp, spec)
    exp.write_bytes(SEARCHER_FILE, b"{}")
    tag = "\x1b]0;t\x07"  # a string parameter that sets the terminal's title
    rows = [
        {"trial_id": "a", "ax_index": 0, "status": "FAILED", "error": NASTY, "config/x0": 0.1},
        {"trial_id": "b", "ax_index": 1, "status": "COMPLETED", "metric": 1.0, "config/x0": 0.3},
        {"trial_id": "c", "ax_index": 2, "status": "COMPLETED", "metric": 2.0, "config/x0": 0.5},
    ]
    for row, value in zip(rows, ("a", tag, "b"), strict=True):
        row["config/tag"] = value
    write_trials(exp, rows)
    return tmp_path / "s"


def _controls(text: str) -> set[str]:
    def bad(c: str) -> bool:
        return (ord(c) < 32 and c != "\n") or 0x7F <= ord(c) <= 0x9F or c == "\u202e"

    return {c for c in text if bad(c)}


def test_escape_writes_controls_as_python_escapes():
    assert escape(NASTY) == "bad\\x1b[31mred\\x07\\rX\\x9b[2J\\nnext\\u202eevil"
    assert escape("plain é ü 1.5") == "plain é ü 1.5"


def test_show_escapes_control_characters_from_trials(study, capsys):
    assert main(["show", str(study)]) == 0
    out = capsys.readouterr().out
    assert _controls(out) == set()
    assert "trial 0: bad\\x1b[31mred\\x07\\rX\\x9b[2J\\nnext\\u202eevil" in out
    assert "\\x1b]0;t\\x07" in out  # a string parameter's value too


def test_show_refuses_a_bad_top(study, capsys):
    for value in ("-1", "x", "1.5"):
        with pytest.raises(SystemExit) as exit_:
            main(["show", str(study), "--top", value])
        assert exit_.value.code == 2
        err = capsys.readouterr().err.strip().splitlines()
        assert err[-1].startswith("distributed-bo show: error: argument --top: got")
        assert ">= 0" in err[-1]
    assert main(["show", str(study), "--top", "0"]) == 0  # the summary without the table
    assert "best value = 1" in capsys.readouterr().out


@pytest.mark.parametrize("command", ["show", "report", "resume"])
def test_uri_pyarrow_cannot_open_is_one_line_exit_2(command, capsys):
    assert main([command, "foo://bar/baz"]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and err[0].startswith("error: storage: got 'foo://bar/baz'")


def test_show_unreachable_s3_is_one_line_without_credentials(capsys):
    assert main(["show", UNREACHABLE]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and err[0].startswith("error: storage: cannot reach s3://***@bucket/exp")
    assert "SECRET" not in err[0] and "KEY:" not in err[0]


def test_cli_errors_never_echo_credentials(capsys):
    assert main(["show", "s3://b/x?scheme=http&secret_key=SK&access_key=AK"]) == 2
    err = capsys.readouterr().err
    assert "secret_key=***" in err and "SK" not in err.replace("secret_key", "")


@pytest.mark.parametrize("command", [["show"], ["report", "--no-model"]])
def test_truncated_or_missing_trials_file_is_one_line_exit_2(study, command, capsys):
    data = (study / TRIALS_FILE).read_bytes()
    (study / TRIALS_FILE).write_bytes(data[: len(data) // 2])
    assert main([command[0], str(study), *command[1:]]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "trials.parquet is corrupt" in err[0]
    (study / TRIALS_FILE).unlink()
    assert main([command[0], str(study), *command[1:]]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "trials.parquet is missing" in err[0]


def test_study_with_no_trial_started_shows_fine(study, capsys):
    (study / TRIALS_FILE).unlink()
    (study / SEARCHER_FILE).unlink()
    assert main(["show", str(study)]) == 0
    assert "0/6 trials (no trial has started yet)" in capsys.readouterr().out


def _files(root):
    return {p: p.read_bytes() for p in root.parent.rglob("*") if p.is_file()}


@pytest.mark.parametrize("name", ["spec.yaml", "trials.parquet", "searcher_state.json", "r"])
def test_report_out_that_is_not_html_is_refused_before_writing(study, name, capsys):
    before = _files(study)
    assert main(["report", str(study), "--no-model", "--out", str(study / name)]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert err == [
        f"error: --out: got '{study / name}'; name an .html file (its PNGs go beside it), "
        f"e.g. {study / 'report.html'}"
    ]
    assert _files(study) == before  # before the fix, --out DIR/spec.yaml replaced the spec


@pytest.mark.parametrize("out", ["", "."])
def test_report_out_that_is_a_directory_writes_nothing(study, out, capsys, monkeypatch):
    monkeypatch.chdir(study)
    before = _files(study)
    assert main(["report", str(study), "--no-model", "--out", out]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and err[0].startswith(f"error: --out: got {out!r}")
    assert f"e.g. {study / 'report.html'}" in err[0]
    assert _files(study) == before  # before the fix: four PNGs and a .tmp file were left


@pytest.mark.parametrize("command", [["show"], ["report", "--no-model"]])
def test_trials_file_with_wrong_column_types_is_one_line_exit_2(tmp_path, command, capsys):
    spec = StudySpec.from_dict(
        {
            "name": "s",
            "objective": {"metric": "value", "mode": "min"},
            "trainable": {"name": "branin"},
            "space": {"x0": {"type": "uniform", "lower": 0.0, "upper": 1.0}},
            "budget": {"num_trials": 6},
            "storage": str(tmp_path),
        }
    )
    exp = StorageDir.open(str(tmp_path), "s")
    write_spec(exp, spec)
    write_trials(exp, [{"trial_id": "a", "ax_index": "x", "status": "COMPLETED"}])
    assert main([command[0], exp.uri, *command[1:]]) == 2  # report: a ValueError traceback
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1
    assert "trials.parquet is corrupt (ValueError: column 'ax_index' holds 'x' (str)" in err[0]
