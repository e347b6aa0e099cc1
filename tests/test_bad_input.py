"""Every kind of bad input listed in docs/bad-input.md: one line, non-zero exit, nothing lost.

Run ``python tests/test_bad_input.py`` to print the table rows with today's messages.
"""

from __future__ import annotations

import shutil
import sys
from dataclasses import dataclass, field
from pathlib import Path

import pytest

GOOD = {
    "name": "bad",
    "objective": "{metric: value, mode: min}",
    "trainable": "{name: branin}",
    "space": "\n  x0: {type: uniform, lower: -5.0, upper: 10.0}\n  x1: {type: uniform, lower: 0.0, upper: 15.0}",  # noqa: E501
    "budget": "{num_trials: 2, max_concurrent: 1}",
    "storage": "STORAGE",
}


# A "billion laughs" under trainable.config: 9 aliases of 9 aliases of ...
# (530 bytes that expand to 43 million values).
LAUGHS = "\n  name: branin\n  config:\n    a0: &a0 [1, 1, 1, 1, 1, 1, 1, 1, 1]" + "".join(
    f"\n    a{i}: &a{i} [" + ", ".join([f"*a{i - 1}"] * 9) + "]" for i in range(1, 9)
)


def yaml_text(**changes: str | None) -> str:
    fields = {**GOOD, **changes}
    return "".join(f"{k}: {v}\n" for k, v in fields.items() if v is not None)


# A space with when-controllers (layers_n, act) and one too wide to control (big).
WHEN_BASE = (
    "\n  x0: {type: uniform, lower: -5.0, upper: 10.0}"
    "\n  x1: {type: uniform, lower: 0.0, upper: 15.0}"
    "\n  layers_n: {type: choice, values: [2, 3, 4]}"
    "\n  act: {type: choice, values: [relu, gelu]}"
    "\n  big: {type: randint, lower: 0, upper: 100}"
)


def when_space(*entries: str) -> str:
    """``yaml_text`` of :data:`WHEN_BASE` plus ``entries``, one space entry each."""
    return yaml_text(space=WHEN_BASE + "".join(f"\n  {e}" for e in entries))


@dataclass(frozen=True)
class Case:
    kind: str
    spec: str | None  # YAML text of JOB.yaml (None: no file)
    args: tuple[str, ...] = ("run", "JOB")
    code: int = 2
    fragment: str = ""
    needs_ray: bool = False
    extra: dict = field(default_factory=dict)


CASES = [
    Case("malformed YAML", "name: [unclosed\n", fragment="line"),
    Case("unknown top-level key", yaml_text(budjet="{num_trials: 2}"), fragment="did you mean"),
    Case("unknown nested key", yaml_text(budget="{num_trails: 2}"), fragment="budget"),
    Case("wrong type", yaml_text(budget="{num_trials: ten}"), fragment="budget.num_trials"),
    Case(
        "bool where an int is expected",
        yaml_text(budget="{num_trials: true}"),
        fragment="budget.num_trials",
    ),
    Case("non-positive budget", yaml_text(budget="{num_trials: 0}"), fragment="budget.num_trials"),
    Case(
        "reversed bounds",
        yaml_text(space="\n  x0: {type: uniform, lower: 10.0, upper: -5.0}"),
        fragment="swap",
    ),
    Case(
        "log scale with a bound <= 0",
        yaml_text(space="\n  x0: {type: loguniform, lower: 0.0, upper: 1.0}"),
        fragment="space.x0",
    ),
    Case(
        "empty choice", yaml_text(space="\n  x0: {type: choice, values: []}"), fragment="space.x0"
    ),
    Case(
        "unknown domain type",
        yaml_text(space="\n  x0: {type: gaussian, lower: 0, upper: 1}"),
        fragment="space.x0",
    ),
    Case("empty search space", yaml_text(space="{}"), fragment="space"),
    Case(
        "module:function whose module does not exist",
        yaml_text(trainable="{name: 'no_such_module:train'}"),
        fragment="trainable.name",
    ),
    Case(
        "module:function whose function does not exist",
        yaml_text(trainable="{name: 'json:no_such_function'}"),
        fragment="trainable.name",
    ),
    Case(
        "mode other than min/max",
        yaml_text(objective="{metric: value, mode: maximize}"),
        fragment="objective.mode",
    ),
    # Issue 14: several objectives and outcome constraints.
    Case(
        "several objectives: fewer modes than metrics",
        yaml_text(objective="{metric: [value, cost], mode: [min]}"),
        fragment="objective.mode",
    ),
    Case(
        "several objectives: a metric named twice",
        yaml_text(objective="[{metric: value, mode: min}, {metric: value, mode: max}]"),
        fragment="objective[1].metric",
    ),
    Case(
        "several objectives: unknown mode",
        yaml_text(objective="[{metric: value, mode: min}, {metric: cost, mode: lowest}]"),
        fragment="objective[1].mode",
    ),
    Case(
        "objective threshold on an unknown metric",
        yaml_text(objective="{metric: [value, cost], mode: [min, min], threshold: {latency: 3}}"),
        fragment="objective.threshold",
    ),
    Case(
        "objective threshold with one objective",
        yaml_text(objective="{metric: value, mode: min, threshold: 3}"),
        fragment="objective.threshold",
    ),
    Case(
        "outcome constraint on an objective",
        yaml_text(constraints="['value <= 3']"),
        fragment="constraints[0]",
    ),
    Case(
        "malformed outcome constraint",
        yaml_text(constraints="['cost < 3']"),
        fragment="constraints[0]",
    ),
    # Issue 15: warm starts (checked before anything starts).
    Case(
        "warm start: a source that cannot be read",
        yaml_text(warm_start="{from: [STORAGE/CORRUPT_SPEC]}"),
        fragment="CORRUPT_SPEC/spec.yaml is corrupt",
    ),
    Case(
        "warm start: the study itself as its source",
        yaml_text(name="EXISTING", warm_start="{from: [STORAGE/EXISTING]}"),
        fragment="name an earlier study",
    ),
    Case(
        "warm start: top_k in data mode",
        yaml_text(warm_start="{from: [STORAGE/EXISTING], mode: data, top_k: 4}"),
        fragment="warm_start.top_k: got 4; data mode takes every completed trial",
    ),
    Case(
        "warm start: data mode with another objective",
        yaml_text(
            objective="{metric: value, mode: max}",
            warm_start="{from: [STORAGE/EXISTING], mode: data}",
        ),
        fragment="its objective (value min) is not this study's (value max)",
    ),
    Case(
        "warm start: data mode with a constrained metric the source lacks",
        yaml_text(constraints="['cost <= 3']", warm_start="{from: [STORAGE/EXISTING], mode: data}"),
        fragment="its trials do not record 'cost'",
    ),
    Case(
        "warm start: top_k below 1",
        yaml_text(warm_start="{from: [STORAGE/EXISTING], top_k: 0}"),
        fragment="warm_start.top_k",
    ),
    Case(
        "run --warm-start with a missing directory",
        yaml_text(),
        args=("run", "JOB", "--warm-start", "NOPE"),
        fragment="warm_start.from[0]: ",
    ),
    Case(
        "scheduler metric no trial reports",
        yaml_text(
            objective="[{metric: value, mode: min}, {metric: cost, mode: min}]",
            scheduler="{type: asha, max_t: 3, metric: loss}",
        ),
        fragment="scheduler.metric",
    ),
    Case(
        "one-objective acquisition with several objectives",
        yaml_text(
            objective="[{metric: value, mode: min}, {metric: cost, mode: min}]",
            searcher="{acquisition: qEI}",
        ),
        fragment="searcher.acquisition",
    ),
    Case(
        "fractional GPUs above 1",
        yaml_text(resources="{gpus_per_trial: 1.5}"),
        fragment="resources.gpus_per_trial",
    ),
    Case(
        "unknown acquisition",
        yaml_text(searcher="{acquisition: EI}"),
        fragment="searcher.acquisition",
    ),
    Case(
        "constraint over an unknown parameter",
        yaml_text(searcher="{parameter_constraints: ['x0 + y9 <= 1']}"),
        fragment="parameter_constraints",
    ),
    Case(
        "unknown scheduler",
        yaml_text(scheduler="{type: ash}"),
        fragment="scheduler.type",
    ),
    Case(
        "early-stopping scheduler without a full trial length",
        yaml_text(scheduler="{type: asha}"),
        fragment="scheduler.max_t",
    ),
    Case(
        "fractional epochs as max_t",
        yaml_text(scheduler="{type: asha, max_t: 2.5}"),
        fragment="scheduler.max_t",
    ),
    Case(
        "grace period longer than max_t",
        yaml_text(scheduler="{type: median_stopping, max_t: 4, grace_period: 6}"),
        fragment="scheduler.grace_period",
    ),
    Case(
        "reduction factor <= 1",
        yaml_text(scheduler="{type: hyperband, max_t: 9, reduction_factor: 1}"),
        fragment="scheduler.reduction_factor",
    ),
    Case(
        "unknown time_attr",
        yaml_text(scheduler="{type: asha, max_t: 9, time_attr: epochs}"),
        fragment="scheduler.time_attr",
    ),
    Case(
        "unknown stopped-trial policy",
        yaml_text(searcher="{stopped_trials: ignore}"),
        fragment="searcher.stopped_trials",
    ),
    Case(
        "negative prefetch",
        yaml_text(searcher="{prefetch: -1}"),
        fragment="searcher.prefetch",
    ),
    Case(
        "baseline outside the space",
        yaml_text(baseline="{x0: 50.0, x1: 1.0}"),
        fragment="baseline.x0",
    ),
    Case("incomplete baseline", yaml_text(baseline="{x0: 1.0}"), fragment="baseline"),
    Case("bad experiment name", yaml_text(name="'a/b'"), fragment="name"),
    Case(
        "YAML aliases nested to a billion values",
        yaml_text(trainable=LAUGHS),
        fragment="its aliases expand to more than 100,000 values",
    ),
    Case(
        "too many trials",
        yaml_text(budget="{num_trials: 100000000000000000000000000000}"),
        fragment="budget.num_trials",
    ),
    Case(
        "too many concurrent trials",
        yaml_text(budget="{num_trials: 2, max_concurrent: 1000000000000}"),
        fragment="budget.max_concurrent",
    ),
    Case(
        "choice with too many values",
        yaml_text(space=f"\n  x0: {{type: choice, values: {list(range(10_001))}}}"),
        fragment="space.x0.values",
    ),
    Case(
        "NaN or null in a choice",
        yaml_text(space="\n  x0: {type: choice, values: [1, .nan, null, 'a']}"),
        fragment="space.x0.values[1]",
    ),
    Case(
        "branch point mixing mappings with other values",
        yaml_text(
            space="\n  x0: {type: uniform, lower: 0.0, upper: 1.0}"
            "\n  act: {type: choice, values: [{name: relu}, gelu]}"
        ),
        fragment="space.act.values[1]",
    ),
    Case(
        "empty branch",
        yaml_text(
            space="\n  x0: {type: uniform, lower: 0.0, upper: 1.0}"
            "\n  act: {type: choice, values: [{name: relu}, {}]}"
        ),
        fragment="space.act.values[1]",
    ),
    Case(
        "bad domain inside a branch",
        yaml_text(
            space="\n  x0: {type: uniform, lower: 0.0, upper: 1.0}"
            "\n  act: {type: choice, values: [{name: relu},"
            " {name: softplus, beta: {type: uniform, lower: 2.0, upper: 1.0}}]}"
        ),
        fragment="space.act.beta",
    ),
    Case(
        "when naming an unknown controller",
        when_space("w: {type: choice, values: [8, 16], when: {layers: 3}}"),
        fragment="space.w.when",
    ),
    Case(
        "when controller that is a float domain",
        when_space("w: {type: choice, values: [8, 16], when: {x0: 3}}"),
        fragment="space.w.when",
    ),
    Case(
        "when controller with more than 64 values",
        when_space("w: {type: choice, values: [8, 16], when: {big: 3}}"),
        fragment="space.w.when",
    ),
    Case(
        "when value not among the controller's",
        when_space("w: {type: choice, values: [8, 16], when: {layers_n: 7}}"),
        fragment="space.w.when.layers_n",
    ),
    Case(
        "when with an empty list of values",
        when_space("w: {type: choice, values: [8, 16], when: {layers_n: []}}"),
        fragment="space.w.when.layers_n",
    ),
    Case(
        "when with a malformed comparison",
        when_space("w: {type: choice, values: [8, 16], when: {layers_n: '=> 3'}}"),
        fragment="space.w.when.layers_n",
    ),
    Case(
        "when comparison selecting no value",
        when_space("w: {type: choice, values: [8, 16], when: {layers_n: '> 4'}}"),
        fragment="space.w.when.layers_n",
    ),
    Case(
        "when comparing a string controller by order",
        when_space("w: {type: choice, values: [8, 16], when: {act: '>= 2'}}"),
        fragment="space.w.when.act",
    ),
    Case(
        "when with two controllers",
        when_space("w: {type: choice, values: [8, 16], when: {layers_n: 3, act: relu}}"),
        fragment="space.w.when",
    ),
    Case(
        "when that is not a mapping",
        when_space("w: {type: choice, values: [8, 16], when: [3, 4]}"),
        fragment="space.w.when",
    ),
    Case(
        "when on the controller itself",
        when_space("self: {type: choice, values: [1, 2], when: {self: 2}}"),
        fragment="space.self.when",
    ),
    Case(
        "when gated by a gated parameter",
        when_space(
            "w: {type: choice, values: [8, 16], when: {layers_n: 3}}",
            "v: {type: uniform, lower: 0.0, upper: 1.0, when: {w: 16}}",
        ),
        fragment="space.v.when",
    ),
    Case(
        "when inside a branch",
        when_space(
            "arch: {type: choice, values: [{kind: a},"
            " {kind: b, w: {type: choice, values: [8, 16], when: {layers_n: 3}}}]}"
        ),
        fragment="space.arch.w.when",
    ),
    Case(
        "when inside a group",
        when_space("optim: {beta: {type: uniform, lower: 0.0, upper: 1.0, when: {layers_n: 3}}}"),
        fragment="space.optim.beta.when",
    ),
    Case(
        "when on a group",
        when_space("g: {when: {layers_n: 3}, w: {type: choice, values: [8, 16]}}"),
        fragment="space.g.when",
    ),
    Case(
        "baseline value of a parameter inactive in its branch",
        when_space("w: {type: choice, values: [8, 16], when: {layers_n: 4}}")
        + "baseline: {x0: 1.0, x1: 2.0, layers_n: 3, act: relu, big: 5, w: 8}\n",
        fragment="baseline.w",
    ),
    Case(
        "constraint no point of the space satisfies",
        yaml_text(searcher="{parameter_constraints: ['x0 + x1 <= -6']}"),
        fragment="searcher.parameter_constraints[0]",
    ),
    Case(
        "constraints no point satisfies together",
        yaml_text(searcher="{parameter_constraints: ['x0 + x1 <= 1', 'x0 - x1 >= 6']}"),
        fragment="searcher.parameter_constraints",
    ),
    Case(
        "baseline that violates a constraint",
        yaml_text(
            searcher="{parameter_constraints: ['x0 + x1 <= 1']}", baseline="{x0: 1.0, x1: 2.0}"
        ),
        fragment="searcher.parameter_constraints[0]",
    ),
    Case(
        "malformed --set",
        yaml_text(),
        args=("run", "JOB", "--set", "budget.num_trials"),
        fragment="override",
    ),
    Case("missing spec file", None, fragment="spec file"),
    Case(
        "more GPUs per trial than any node has",
        yaml_text(resources="{gpus_per_trial: 64}"),
        code=4,
        fragment="resources.gpus_per_trial",
    ),
    Case(
        "more CPUs per trial than any node has",
        yaml_text(resources="{cpus_per_trial: 4096}"),
        code=4,
        fragment="resources.cpus_per_trial: 4096 CPUs per trial, but",
    ),
    Case(
        "non-positive time budget",
        yaml_text(budget="{num_trials: 2, time_budget_s: 0}"),
        fragment="budget.time_budget_s",
    ),
    Case(
        "non-positive trial timeout",
        yaml_text(trainable="{name: branin, timeout_s: -1}"),
        fragment="trainable.timeout_s",
    ),
    Case(
        "resume of a missing directory",
        None,
        args=("resume", "NOPE"),
        fragment="holds no spec.yaml",
    ),
    Case(
        "resume of a directory that is not a study",
        None,
        args=("resume", "EMPTY"),
        fragment="holds no spec.yaml",
    ),
    Case(
        "resume with a corrupt spec.yaml",
        None,
        args=("resume", "CORRUPT_SPEC"),
        fragment="is corrupt",
    ),
    Case(
        "resume with corrupt Ray Tune state",
        None,
        args=("resume", "CORRUPT_TUNE"),
        fragment="is corrupt",
    ),
    Case("show of a missing directory", None, args=("show", "NOPE"), fragment="holds no spec"),
    Case(
        "unreachable --address",
        yaml_text(),
        args=("run", "JOB", "--address", "127.0.0.1:1"),
        code=4,
        fragment="cannot reach a Ray cluster",
    ),
    Case(
        "run over an existing experiment",
        None,
        args=("run", "EXISTING_JOB"),
        code=3,
        fragment="distributed-bo resume",
    ),
    # Issue 12, item 6: kinds found by trying them.
    Case(
        "run into a directory that is not a study",
        yaml_text(name="NOT_A_STUDY"),
        code=3,
        fragment="holds 1 file(s) that are not a study's (e.g. 'notes.txt')",
    ),
    Case(
        "unwritable storage",
        yaml_text(),
        args=("run", "JOB", "--storage", "/proc/distributed-bo-test"),  # root cannot write
        fragment="storage: cannot write to /proc/distributed-bo-test/bad (",
    ),
    Case(
        "empty --storage",
        yaml_text(),
        args=("run", "JOB", "--storage", ""),
        fragment="--storage: got ''",
    ),
    Case("empty-string JOB", None, args=("run", ""), fragment="spec file '': does not exist"),
    Case(
        "storage that is a file",
        yaml_text(),
        args=("run", "JOB", "--storage", "EXISTING_JOB"),
        fragment="which is a file, not a directory; point storage at a directory",
    ),
    Case(
        "experiment name of an existing file",
        yaml_text(name="spec.yaml"),
        args=("run", "JOB", "--storage", "CORRUPT_SPEC"),
        fragment="is a file, not a directory; choose another name or move the file",
    ),
    Case(
        "resume of a file, not a directory",
        None,
        args=("resume", "EXISTING_JOB"),
        fragment="which is a file, not a directory; pass the directory",
    ),
    Case(
        "show of a file, not a directory",
        None,
        args=("show", "EXISTING_JOB"),
        fragment="which is a file, not a directory; pass the directory",
    ),
    Case(
        "report --out that is not an .html file",
        None,
        args=("report", "CORRUPT_TUNE", "--out", "EXISTING_JOB"),
        fragment="; name an .html file (its PNGs go beside it)",
    ),
    Case(
        "report --out that is a directory",
        None,
        args=("report", "CORRUPT_TUNE", "--out", "EMPTY"),
        fragment="which is a directory; name the HTML file",
    ),
    Case(
        "run while another driver holds the experiment",
        None,
        args=("run", "LOCKED_JOB"),
        code=3,
        fragment="is in use by another driver (host ",
    ),
    Case(
        "resume while another driver holds the experiment",
        None,
        args=("resume", "LOCKED"),
        code=3,
        fragment="is in use by another driver (host ",
    ),
    Case(
        "resume --force of a live driver's lock",
        None,
        args=("resume", "LOCKED", "--force"),
        code=3,
        fragment="--force takes over only a stale lock",
    ),
    Case(
        "resume of a stale lock without --force",
        None,
        args=("resume", "STALE"),
        code=3,
        fragment="heartbeat stopped (host elsewhere, pid 4242, since 2026-01-01T00:00:00Z",
    ),
    Case(
        "reflect padding as wide as the images",
        yaml_text(
            trainable="{name: vision_cnn, config: {dataset: digits, model: fast, crop_padding: 8}}",
            objective="{metric: val_accuracy, mode: max}",
            space="\n  lr: {type: loguniform, lower: 1.0, upper: 20.0}",
        ),
        fragment="vision_cnn.crop_padding: got 8; pass a crop_padding below 8",
    ),
]


def _prepare(tmp: Path) -> dict[str, str]:
    """Lay out the directories the cases refer to; return placeholder -> path."""
    storage = tmp / "results"
    (tmp / "EMPTY").mkdir()
    spec = yaml_text().replace("STORAGE", str(storage))
    for name, spec_text, tune_state in [
        ("CORRUPT_SPEC", "name: [", None),
        ("CORRUPT_TUNE", spec.replace("name: bad", "name: CORRUPT_TUNE"), "{not json"),
        ("EXISTING", spec.replace("name: bad", "name: EXISTING"), "{}"),
    ]:
        d = storage / name
        d.mkdir(parents=True)
        (d / "spec.yaml").write_text(spec_text)
        (d / "tuner.pkl").write_bytes(b"x")
        if tune_state is not None:
            (d / "experiment_state-2026-01-01_00-00-00.json").write_text(tune_state)
        (d / "trials.parquet").write_bytes(b"previous results")
    (storage / "NOT_A_STUDY").mkdir()
    (storage / "NOT_A_STUDY" / "notes.txt").write_text("the user's own files")
    existing_job = tmp / "existing.yaml"
    existing_job.write_text(spec.replace("name: bad", "name: EXISTING"))
    locked_job = _held_experiments(storage, spec)
    return {
        "NOPE": str(tmp / "nope"),
        "EMPTY": str(tmp / "EMPTY"),
        "CORRUPT_SPEC": str(storage / "CORRUPT_SPEC"),
        "CORRUPT_TUNE": str(storage / "CORRUPT_TUNE"),
        "EXISTING_JOB": str(existing_job),
        "LOCKED": str(storage / "LOCKED"),
        "LOCKED_JOB": str(locked_job),
        "STALE": str(storage / "STALE"),
        "STORAGE": str(storage),
    }


def _held_experiments(storage: Path, spec: str) -> Path:
    """LOCKED: a study whose driver.lock this (live) process holds; STALE: one whose
    lock's holder, on another host, last sent a heartbeat long ago. Returns LOCKED's job."""
    from distributed_bo.experiment.lock import LockRecord

    old = "2026-01-01T00:00:00Z"
    stale = LockRecord(host="elsewhere", pid=4242, since=old, heartbeat=old, token="t")
    for name, record in (("LOCKED", LockRecord.mine()), ("STALE", stale)):
        d = storage / name
        d.mkdir(parents=True)
        (d / "spec.yaml").write_text(spec.replace("name: bad", f"name: {name}"))
        (d / "tuner.pkl").write_bytes(b"x")
        (d / "driver.lock").write_bytes(record.encode())
    job = storage.parent / "locked.yaml"
    job.write_text(spec.replace("name: bad", "name: LOCKED"))
    return job


def run_case(case: Case, tmp: Path, capsys) -> tuple[int, str]:
    from distributed_bo.cli import main

    paths = _prepare(tmp)
    job = tmp / "job.yaml"
    if case.spec is not None:
        job.write_text(case.spec.replace("STORAGE", paths["STORAGE"]))
    argv = [str(job) if a == "JOB" else paths.get(a, a) for a in case.args]
    before = {p: p.read_bytes() for p in tmp.rglob("*") if p.is_file()}
    code = main(argv)
    err = capsys.readouterr().err
    after = {p: p.read_bytes() for p in tmp.rglob("*") if p.is_file() and p in before}
    assert after == before, "existing files changed"
    assert not (Path(paths["STORAGE"]) / "bad").exists(), "a study was started"
    return code, err


@pytest.mark.parametrize("case", CASES, ids=[c.kind for c in CASES])
def test_bad_input_gives_one_line_and_changes_nothing(case, tmp_path, capsys, request):
    if case.needs_ray:
        request.getfixturevalue("ray_session")
    code, err = run_case(case, tmp_path, capsys)
    assert code == case.code
    lines = [ln for ln in err.splitlines() if ln.strip()]
    assert len(lines) == 1 and lines[0].startswith("error: "), err
    assert case.fragment in lines[0]
    assert "Traceback" not in err


@pytest.mark.parametrize(
    ("argv", "expected"),
    [
        (["frobnicate"], "argument COMMAND: invalid choice: 'frobnicate'"),
        ([], "the following arguments are required: COMMAND"),
    ],
)
def test_unknown_or_missing_command_is_argparses_error_exit_2(argv, expected, capsys):
    from distributed_bo.cli import main

    with pytest.raises(SystemExit) as exit_:
        main(argv)
    assert exit_.value.code == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert err[0].startswith("usage: distributed-bo")  # argparse's usage line, then one error
    assert len(err) == 2 and err[1] == f"distributed-bo: error: {expected}" + (
        " (choose from 'run', 'validate', 'resume', 'show', 'report', 'submit', 'jobs')"
        if argv
        else ""
    )


def test_docs_table_lists_every_case():
    doc = (Path(__file__).resolve().parents[1] / "docs" / "bad-input.md").read_text()
    missing = [c.kind for c in CASES if f"| {c.kind} |" not in doc]
    assert not missing, f"docs/bad-input.md lacks rows for {missing}"


if __name__ == "__main__":  # print the docs table with today's messages
    import tempfile

    class _Cap:
        def readouterr(self):
            out = sys.stderr.getvalue()
            sys.stderr.truncate(0)
            sys.stderr.seek(0)
            return type("R", (), {"err": out})

    import io

    real = sys.stderr
    for case in CASES:
        with tempfile.TemporaryDirectory() as d:
            sys.stderr = io.StringIO()
            code, err = run_case(case, Path(d), _Cap())
            sys.stderr = real
            line = err.strip().splitlines()[-1].replace(d, "…").replace("|", "\\|")
            print(f"| {case.kind} | `{' '.join(case.args)}` | {code} | `{line}` |")
    shutil.rmtree(tempfile.gettempdir() + "/_unused", ignore_errors=True)
