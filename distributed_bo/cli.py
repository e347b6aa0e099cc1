"""The ``distributed-bo`` command line.

Exit codes: 0 success; 1 unexpected error; 2 bad input (spec, arguments, missing
or corrupt experiment); 3 the experiment already exists; 4 the cluster cannot be
reached or fit a trial; 5 the study stopped on its failure-rate limit; 130
interrupted.
"""

from __future__ import annotations

import argparse
import logging
import sys
import traceback
from collections.abc import Sequence

from distributed_bo.exceptions import DistributedBOError


def build_parser() -> argparse.ArgumentParser:
    """The argument parser, with one sub-command per lifecycle step."""
    parser = argparse.ArgumentParser(
        prog="distributed-bo",
        description="Batch Bayesian optimisation of Ray Tune studies on Ax/BoTorch.",
    )
    parser.add_argument("--debug", action="store_true", help="show tracebacks and Ray logs")
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    run = sub.add_parser("run", help="run a study from a job spec (YAML)")
    run.add_argument("spec", metavar="JOB.yaml")
    run.add_argument(
        "--set",
        dest="overrides",
        action="append",
        default=[],
        metavar="KEY=VALUE",
        help="override a spec field, e.g. --set budget.num_trials=8 (repeatable)",
    )
    run.add_argument("--address", help="Ray cluster to join (default: RAY_ADDRESS or local)")
    run.add_argument("--storage", help="override the spec's storage (path or URI)")
    run.add_argument("--quiet", action="store_true", help="no live progress")

    validate = sub.add_parser("validate", help="check a job spec without running it")
    validate.add_argument("spec", metavar="JOB.yaml")
    validate.add_argument("--set", dest="overrides", action="append", default=[])

    resume = sub.add_parser("resume", help="continue a study after a crash or stop")
    resume.add_argument("experiment_dir", metavar="EXPERIMENT_DIR")
    resume.add_argument("--address", help="Ray cluster to join (default: RAY_ADDRESS or local)")
    resume.add_argument("--quiet", action="store_true", help="no live progress")

    show = sub.add_parser("show", help="trial table, best configuration, gain over baseline")
    show.add_argument("experiment_dir", metavar="EXPERIMENT_DIR")
    show.add_argument("--top", type=int, default=20, help="rows of the trial table (default 20)")
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Run the CLI; returns the exit code."""
    parser = build_parser()
    args = parser.parse_args(argv)
    _configure_logging(args.debug)
    try:
        return _dispatch(args)
    except DistributedBOError as err:
        if args.debug:
            traceback.print_exc()
        print(f"error: {err}", file=sys.stderr)
        return err.exit_code
    except KeyboardInterrupt:
        print("interrupted; continue with `distributed-bo resume EXPERIMENT_DIR`", file=sys.stderr)
        return 130


def _dispatch(args: argparse.Namespace) -> int:
    from distributed_bo.spec import load_spec

    if args.command == "validate":
        spec = load_spec(args.spec, overrides=args.overrides)
        print(f"ok: {spec.name} ({len(spec.param_space())} top-level parameters)")
        return 0
    if args.command == "run":
        spec = load_spec(args.spec, overrides=args.overrides)  # before any heavy import
        from distributed_bo.runner.study import run_study

        _configure_ax_logging(args.debug)
        result = run_study(
            spec,
            address=args.address,
            storage=args.storage,
            progress=None if args.quiet else sys.stderr,
            worker_logs=args.debug,
        )
        _print_summary(result.experiment_dir)
        return 0
    if args.command == "resume":
        from distributed_bo.runner.study import resume_study

        _configure_ax_logging(args.debug)
        result = resume_study(
            args.experiment_dir,
            address=args.address,
            progress=None if args.quiet else sys.stderr,
            worker_logs=args.debug,
        )
        _print_summary(result.experiment_dir)
        return 0
    if args.command == "show":
        _print_summary(args.experiment_dir, top=args.top)
        return 0
    raise AssertionError(f"unhandled command {args.command}")  # argparse guarantees it


def _print_summary(experiment_dir: str, *, top: int = 10) -> None:
    from distributed_bo.runner.show import render_summary

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


def _configure_ax_logging(debug: bool) -> None:
    # Ax gives each of its loggers its own level and handler at import time.
    from ax.utils.common.logger import set_ax_logger_levels, set_stderr_log_level

    set_ax_logger_levels(logging.INFO if debug else logging.WARNING)
    set_stderr_log_level(logging.INFO if debug else logging.WARNING)
