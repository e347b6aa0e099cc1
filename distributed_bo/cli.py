"""The ``distributed-bo`` command line.

Exit codes: 0 success; 1 unexpected error; 2 bad input (spec, arguments, missing
or corrupt experiment, unknown job id); 3 the experiment already exists, or another
``run``/``resume`` holds its ``driver.lock``; 4 the cluster cannot be reached or fit
a trial; 5 the study stopped on its failure-rate limit (or no trial completed); 130
interrupted (Ctrl-C), 143 stopped by SIGTERM; ``resume`` continues both. ``submit
--follow`` exits with the job's own code (1 if it failed without one, 130 if it was
stopped).
"""

from __future__ import annotations

import argparse
import logging
import signal
import sys
import traceback
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

from distributed_bo.exceptions import DistributedBOError, StudyInterruptedError

if TYPE_CHECKING:
    from distributed_bo.runner.jobs import JobRow, JobsClient
    from distributed_bo.spec import StudySpec


def build_parser() -> argparse.ArgumentParser:
    """The argument parser, with one sub-command per lifecycle step."""
    parser = argparse.ArgumentParser(
        prog="distributed-bo",
        description="Batch Bayesian optimisation of Ray Tune studies on Ax/BoTorch.",
    )
    parser.add_argument("--debug", action="store_true", help="show tracebacks and Ray logs")
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    _add_study_commands(sub)
    _add_cluster_commands(sub)
    return parser


def _add_study_commands(sub: Any) -> None:
    """``run``, ``validate``, ``resume``, ``show`` and ``report``."""
    run = sub.add_parser("run", help="run a study from a job spec (YAML)")
    run.add_argument("spec", metavar="JOB.yaml")
    _add_overrides(run, "override a spec field, e.g. --set budget.num_trials=8 (repeatable)")
    run.add_argument("--address", help="Ray cluster to join (default: RAY_ADDRESS or local)")
    run.add_argument("--storage", help="override the spec's storage (path or URI)")
    run.add_argument("--quiet", action="store_true", help="no live progress")
    run.add_argument(
        "--warm-start",
        metavar="DIR",
        action="append",
        default=[],
        help="an earlier study to start from: its best configurations run first, or with "
        "warm_start.mode: data its trials are observations (repeatable; replaces "
        "warm_start.from, keeps its mode and top_k)",
    )

    validate = sub.add_parser("validate", help="check a job spec without running it")
    validate.add_argument("spec", metavar="JOB.yaml")
    validate.add_argument("--set", dest="overrides", action="append", default=[])

    resume = sub.add_parser("resume", help="continue a study after a crash or stop")
    resume.add_argument("experiment_dir", metavar="EXPERIMENT_DIR")
    resume.add_argument("--address", help="Ray cluster to join (default: RAY_ADDRESS or local)")
    resume.add_argument("--quiet", action="store_true", help="no live progress")
    resume.add_argument(
        "--force",
        action="store_true",
        help="take over a stale driver.lock (its driver on another host sent no heartbeat "
        "for 60 s); a live lock is never taken",
    )

    show = sub.add_parser("show", help="trial table, best configuration, gain over baseline")
    show.add_argument("experiment_dir", metavar="EXPERIMENT_DIR")
    show.add_argument("--top", type=_count, default=20, help="rows of the trial table (default 20)")

    report = sub.add_parser("report", help="write a self-contained HTML report with plots")
    report.add_argument("experiment_dir", metavar="EXPERIMENT_DIR")
    report.add_argument(
        "--out",
        metavar="PATH",
        help="the HTML file, ending in .html (default EXPERIMENT_DIR/report.html); its PNGs "
        "are written beside it",
    )
    report.add_argument(
        "--no-model", action="store_true", help="skip Ax's model-based effect analyses"
    )


def _count(text: str) -> int:
    """A non-negative integer argument (argparse turns the error into one line, exit 2)."""
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"got {text!r}; give a whole number >= 0") from None
    if value < 0:
        raise argparse.ArgumentTypeError(f"got {value}; give a whole number >= 0")
    return value


def _add_overrides(command: argparse.ArgumentParser, text: str) -> None:
    command.add_argument(
        "--set", dest="overrides", action="append", default=[], metavar="KEY=VALUE", help=text
    )


def _add_cluster_commands(sub: Any) -> None:
    """``submit`` and ``jobs`` (a Ray cluster's job API)."""
    address = argparse.ArgumentParser(add_help=False)
    address.add_argument(
        "--address",
        metavar="URL",
        help="the head's dashboard, e.g. http://HEAD:8265 (default: RAY_API_SERVER_ADDRESS, "
        "an http:// RAY_ADDRESS, or http://127.0.0.1:8265)",
    )
    submit = sub.add_parser(
        "submit", parents=[address], help="submit a study to a running Ray cluster as a Ray job"
    )
    submit.add_argument("spec", metavar="JOB.yaml")
    _add_overrides(submit, "override a spec field before submitting (repeatable)")
    submit.add_argument(
        "--storage",
        help="where results go, as the head node sees it: a URI (s3://, gs://) or a path; "
        "a relative path is taken from the head's home directory",
    )
    submit.add_argument(
        "--py-module",
        dest="py_modules",
        action="append",
        default=[],
        metavar="PATH",
        help="a package directory or .py file to ship with the job (repeatable); the "
        "trainable's own module is shipped automatically",
    )
    submit.add_argument("--submission-id", metavar="ID", help="the job's id (default: Ray's)")
    submit.add_argument(
        "--follow", action="store_true", help="stream the job's logs and exit with its result"
    )

    jobs = sub.add_parser("jobs", help="list, inspect, follow and stop submitted jobs")
    actions = jobs.add_subparsers(dest="action", required=True, metavar="ACTION")
    actions.add_parser("list", parents=[address], help="every job on the cluster")
    for name, text in (
        ("status", "one job's state and exit code"),
        ("logs", "a job's output"),
        ("stop", "ask a job to stop"),
    ):
        action = actions.add_parser(name, parents=[address], help=text)
        action.add_argument("submission_id", metavar="ID")
        if name == "logs":
            action.add_argument("--follow", action="store_true", help="stream until it ends")


def entry() -> None:
    """Console entry point: run :func:`main`, then exit without interpreter teardown.

    Everything a command writes is on storage when :func:`main` returns. Skipping
    Python's finalisation keeps native threads (Ray's core worker, torch) from aborting
    the process while the interpreter is torn down, which would turn a finished study
    into a failed exit code (a submitted job's status is its driver's exit code).
    """
    import contextlib
    import os

    code = main()
    for stream in (sys.stdout, sys.stderr):
        with contextlib.suppress(OSError, ValueError):
            stream.flush()
    logging.shutdown()
    os._exit(code)


def main(argv: Sequence[str] | None = None) -> int:
    """Run the CLI; returns the exit code."""
    parser = build_parser()
    args = parser.parse_args(argv)
    _configure_logging(args.debug)
    try:
        return _dispatch(args)
    except StudyInterruptedError as err:  # not an error: how to continue, in one line
        from distributed_bo.experiment.storage import redact

        print(redact(" ".join(str(err).split())), file=sys.stderr)
        return err.exit_code
    except DistributedBOError as err:
        if args.debug:
            traceback.print_exc()
        from distributed_bo.experiment.storage import redact

        # Always one line, and no credentials of a storage URI it may quote.
        print(f"error: {redact(' '.join(str(err).split()))}", file=sys.stderr)
        return err.exit_code
    except KeyboardInterrupt:
        print("interrupted; continue with `distributed-bo resume EXPERIMENT_DIR`", file=sys.stderr)
        return 130


def _dispatch(args: argparse.Namespace) -> int:
    # The lifecycle API (distributed_bo's __all__), which a notebook calls the same way.
    from distributed_bo import load_spec

    if args.command == "validate":
        spec = load_spec(args.spec, overrides=args.overrides)
        print(f"ok: {spec.name} ({len(spec.param_space())} top-level parameters)")
        from distributed_bo.spec.notes import sobol_only_note

        if spec.searcher.num_initial is None:
            _configure_ax_logging(False)  # the default's parameter count maps to Ax
        if note := sobol_only_note(spec):
            print(f"note: {note}", file=sys.stderr)
        return 0
    if args.command in ("run", "resume"):
        return _run_or_resume(args)
    if args.command == "show":
        _print_summary(args.experiment_dir, top=args.top)
        return 0
    if args.command == "report":
        from distributed_bo import write_report

        _configure_ax_logging(args.debug)
        done = write_report(args.experiment_dir, out=args.out, model=not args.no_model)
        if done.model_note:
            print(f"note: no model-based effects: {done.model_note}", file=sys.stderr)
        print(done.html)
        return 0
    if args.command == "submit":
        return _submit(args, load_spec(args.spec, overrides=args.overrides))
    if args.command == "jobs":
        return _jobs(args)
    raise AssertionError(f"unhandled command {args.command}")  # argparse guarantees it


def _run_or_resume(args: argparse.Namespace) -> int:
    from distributed_bo.runner.signals import Terminated, signal_text, stop_start_up_on_signals

    # SIGINT and SIGTERM stop start-up at its next safe point (Ray's own SIGTERM
    # handler would exit with 15); once the study runs, runner.signals stops it
    # gracefully instead.
    stop_start_up_on_signals()
    where = {"dir": getattr(args, "experiment_dir", None) or "EXPERIMENT_DIR"}
    try:
        return _start(args, where)
    except KeyboardInterrupt as err:
        signum = signal.SIGTERM if isinstance(err, Terminated) else signal.SIGINT
        raise StudyInterruptedError(
            f"interrupted by {signal_text(signum)} while the study started; continue with "
            f"`distributed-bo resume {where['dir']}` (or the same `run` again if it never "
            "started)",
            signum=signum,
        ) from None


def _start(args: argparse.Namespace, where: dict[str, str]) -> int:
    """Run or resume; ``where["dir"]`` is set to the experiment directory once known."""
    options = {
        "address": args.address,
        "progress": None if args.quiet else sys.stderr,
        "worker_logs": args.debug,
    }
    if args.command == "run":
        from distributed_bo import load_spec

        spec = load_spec(args.spec, overrides=args.overrides)  # before any heavy import
        if args.warm_start:
            spec = spec.with_warm_start(args.warm_start)
        from distributed_bo import run_study
        from distributed_bo.experiment.storage import StorageDir

        where["dir"] = StorageDir.open(args.storage or spec.storage, spec.name).shown

        _configure_ax_logging(args.debug)
        result = run_study(spec, storage=args.storage, **options)
    else:
        from distributed_bo import resume_study

        _configure_ax_logging(args.debug)
        result = resume_study(args.experiment_dir, force=args.force, **options)
    _print_summary(result.experiment_dir)
    if result.note:  # the study ended early, e.g. its time budget ran out
        print(f"note: {result.note}", file=sys.stderr)
    return 0


def _submit(args: argparse.Namespace, spec: StudySpec) -> int:
    from distributed_bo.experiment.storage import redact
    from distributed_bo.runner.jobs import connect_jobs
    from distributed_bo.runner.submit import package_study, submit_study

    job = package_study(spec, storage=args.storage, py_modules=args.py_modules)
    client = connect_jobs(args.address)
    _quiet_ray_loggers(args.debug)  # importing ray reset their levels
    done = submit_study(job, client, submission_id=args.submission_id)
    print(done.submission_id, flush=True)
    shipped = ", ".join(done.py_modules) or "nothing"
    print(
        f"submitted {spec.name!r} to {done.address} (shipped {shipped}); results go to "
        f"{redact(done.experiment_dir)} on the cluster",
        file=sys.stderr,
    )
    if not args.follow:
        print(
            f"follow it with `distributed-bo jobs logs {done.submission_id} --follow "
            f"--address {done.address}`",
            file=sys.stderr,
        )
        return 0
    return _follow(client, done.submission_id)


def _jobs(args: argparse.Namespace) -> int:
    from distributed_bo.runner.jobs import connect_jobs

    client = connect_jobs(args.address)
    _quiet_ray_loggers(args.debug)
    if args.action == "list":
        print(_job_table(client.list()))
        return 0
    if args.action == "status":
        row = client.status(args.submission_id)
        code = "-" if row.driver_exit_code is None else row.driver_exit_code
        print(f"{row.submission_id}: {row.status} (exit code {code}) {row.message}".rstrip())
        return 0
    if args.action == "logs":
        if args.follow:
            return _follow(client, args.submission_id)
        print(client.logs(args.submission_id), end="")
        return 0
    if args.action == "stop":
        if client.stop(args.submission_id):
            print(f"stopping {args.submission_id}")
        else:
            row = client.status(args.submission_id)
            print(f"{args.submission_id} is not running ({row.status})")
        return 0
    raise AssertionError(f"unhandled jobs action {args.action}")  # argparse guarantees it


def _follow(client: JobsClient, submission_id: str) -> int:
    """Stream a job's logs; the exit code is the job's own (0 when it succeeded)."""
    try:
        row = client.follow(submission_id, sys.stdout)
    except KeyboardInterrupt:
        print(
            f"stopped following {submission_id}; it keeps running (stop it with "
            f"`distributed-bo jobs stop {submission_id} --address {client.address}`)",
            file=sys.stderr,
        )
        return 130
    if row.status == "SUCCEEDED":
        print(f"{submission_id}: SUCCEEDED", file=sys.stderr)
        return 0
    reason = (row.message.strip().splitlines() or [""])[0].rstrip(":")
    print(f"error: job {submission_id} {row.status}: {reason}".rstrip(": "), file=sys.stderr)
    if row.status == "STOPPED":
        return 130
    return row.driver_exit_code if row.driver_exit_code else 1


def _job_table(rows: list[JobRow]) -> str:
    import time

    if not rows:
        return "no jobs"
    lines = [f"{'ID':<30} {'STATUS':<10} {'STUDY':<20} {'STARTED':<19} ENTRYPOINT"]
    for r in rows:
        started = (
            time.strftime("%Y-%m-%d %H:%M:%S", time.localtime(r.start_time))
            if r.start_time
            else "-"
        )
        entry = r.entrypoint if len(r.entrypoint) <= 60 else r.entrypoint[:57] + "..."
        lines.append(
            f"{r.submission_id:<30} {r.status:<10} {(r.study or '-'):<20} {started:<19} {entry}"
        )
    return "\n".join(lines)


def _print_summary(experiment_dir: str, *, top: int = 10) -> None:
    from distributed_bo import render_summary

    print(render_summary(experiment_dir, top=top))


def _configure_logging(debug: bool) -> None:
    # The CLI is an application, so it may set levels; library code never does.
    level = logging.DEBUG if debug else logging.WARNING
    logging.basicConfig(level=level, format="%(levelname)s %(name)s: %(message)s")
    for name in ("ax", "ray", "ray.tune", "botorch", "gpytorch", "linear_operator"):
        logging.getLogger(name).setLevel(logging.INFO if debug else logging.WARNING)
    if not debug:
        import os
        import warnings

        os.environ.setdefault("RAY_DEDUP_LOGS", "1")
        # Tune warns on every forced experiment snapshot; our progress lines suffice.
        os.environ.setdefault("TUNE_WARN_EXCESSIVE_EXPERIMENT_CHECKPOINT_SYNC_THRESHOLD_S", "0")
        warnings.filterwarnings("ignore")


def _quiet_ray_loggers(debug: bool) -> None:
    # Ray sets these loggers' levels when imported, after _configure_logging ran.
    for name in ("ray", "ray.dashboard.modules.dashboard_sdk", "ray.dashboard.modules.job.sdk"):
        logging.getLogger(name).setLevel(logging.INFO if debug else logging.WARNING)


def _configure_ax_logging(debug: bool) -> None:
    # Ax gives each of its loggers its own level and handler at import time.
    logging.disable(logging.INFO)  # Ax logs at INFO while it is imported
    try:
        from ax.utils.common.logger import set_ax_logger_levels, set_stderr_log_level
    finally:
        logging.disable(logging.NOTSET)

    set_ax_logger_levels(logging.INFO if debug else logging.WARNING)
    set_stderr_log_level(logging.INFO if debug else logging.WARNING)
