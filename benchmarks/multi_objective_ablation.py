"""Ablations of BatchBOSearcher on the multi-objective benchmark: why it trailed Ax's Client.

Each variant is the searcher with one thing changed, run exactly as
``multi_objective.py`` runs it (same problems, seeds, simulated asynchronous time,
4 workers, 64 evaluations, HV regret); so a variant's seed ``s`` is paired with
every method's seed ``s`` there. Variants:

* ``default``: ``BatchBOSearcher`` as shipped (what ``multi_objective.py`` runs).
* ``pending-first-metric``: running, queued and failed trials passed to Ax as
  pending for the first objective only, as the searcher did before commit "pending
  points for every metric". Ax keeps a pending point only where it is pending for
  every objective and constrained metric, so with two objectives none reached the
  acquisition.
* ``num_initial=N``: the default with ``num_initial=N`` (trials with data before
  the GP is used; the default is ``max(5, 2 d)``).
* ``prefetch=0``: no spare points (each point sees every result before it).
* ``center-first``: the default with the centre of the space as its first point
  (``points_to_evaluate``; Ax's ``compute_naive_center``: midpoints, the middle
  value of a choice), as Ax's ``Client`` starts (``initialize_with_center``).
* ``Ax Client (default)``: the peer, for reference.

Run: ``python benchmarks/multi_objective_ablation.py --variants
pending-first-metric,default --problems branin_currin,dtlz2 --seeds 5 --jobs 2
--resume``. Writes ``multi_objective_ablation.json`` and ``.md`` (a table per
problem: median [IQR], each seed's final regret, and W-T-L against the first
variant) to ``--out`` (default ``benchmarks/results``). Without ``default`` in
``--variants``, the variants are paired with the searcher's runs in
``multi_objective.json`` instead (the same default and seeds: seed 0 gave identical
regrets both ways).
"""

from __future__ import annotations

import argparse
import json
import types
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import multi_objective as mo
from harness.conditions import open_record, parse_names, run_grid
from harness.markdown import header_lines, table
from harness.methods import Method, SearcherMethod
from harness.stats import final_by, fmt, median_iqr, paired_counts

NAME = "multi_objective_ablation"


def _searcher(**kwargs: Any) -> mo.Factory:
    def make(p: mo.Problem, seed: int, budget: int, workers: int) -> Method:
        return SearcherMethod(
            p.space,
            seed,
            budget,
            workers,
            metric=[m for m, _ in p.objectives],
            mode=[mode for _, mode in p.objectives],
            outcome_constraints=[c.ax for c in p.constraints],
            **kwargs,
        )

    return make


def _first_metric_pending(self: Any) -> dict[str, list[Any]]:
    """The searcher's pending points before the fix: keyed by the first objective only."""
    from ax.core.observation import ObservationFeatures

    features = [
        ObservationFeatures.from_arm(arm=t.arm, trial_index=t.index)
        for t in self.experiment.trials.values()
        if t.arm is not None
        and (t.status.is_candidate or t.status.is_running or t.status.is_failed)
    ]
    return {self.ax_metric: features} if features else {}


def _pending_first_metric(p: mo.Problem, seed: int, budget: int, workers: int) -> Method:
    method = _searcher()(p, seed, budget, workers)
    assert isinstance(method, SearcherMethod)
    gen = method.searcher._gen  # built by set_search_properties; Sobol needs no pending
    assert gen is not None
    gen._pending_observations = types.MethodType(_first_metric_pending, gen)  # type: ignore[method-assign]
    return method


def _center_first(p: mo.Problem, seed: int, budget: int, workers: int) -> Method:
    """The default with the centre of the space as its first point, as Ax's Client starts."""
    return _searcher(center_first=True)(p, seed, budget, workers)


VARIANTS: dict[str, mo.Factory] = {
    "default": _searcher(),
    "pending-first-metric": _pending_first_metric,
    "num_initial=2": _searcher(num_initial=2),
    "num_initial=5": _searcher(num_initial=5),
    "prefetch=0": _searcher(prefetch=0),
    "center-first": _center_first,
    mo.AX: mo.METHODS[mo.AX],
}
# Spawned worker processes import this module as __mp_main__, so they see the variants.
mo.METHODS.update({k: v for k, v in VARIANTS.items() if k not in mo.METHODS})


def report(raw: dict[str, Any], out: Path, variants: Sequence[str]) -> None:
    """One table per problem: median [IQR], per-seed finals, W-T-L against the first."""
    runs = raw["runs"]
    final = final_by(runs, key="problem")
    base = variants[0]
    earlier = [
        f"- Earlier invocation (continued with `--resume`): {e}" for e in raw["header"]["earlier"]
    ]
    lines = header_lines(
        "Multi-objective ablations of BatchBOSearcher", raw["header"], setup=earlier
    )
    lines += [
        "",
        f"Final HV regret (lower is better), as in `multi_objective.md`. W-T-L: the "
        f"variant against `{base}`, paired by seed (two-sided exact sign test).",
    ]
    problems = [p for p in mo.PROBLEMS if any(r["problem"] == p for r in runs)]
    for name in problems:
        rows = []
        for v in [v for v in variants if name in final.get(v, {})]:
            by = final[v][name]
            seeds = " ".join(f"{s}:{fmt(by[s])}" for s in sorted(by))
            if v == base:
                wtl = "-"
            else:
                w, t, lo, pv = paired_counts(by, final[base][name])
                wtl = f"{w}-{t}-{lo} (p={pv:.2g})"
            rows.append([v, median_iqr(list(by.values())), wtl, seeds])
        head = ["Variant", "median [IQR]", "W-T-L", "per seed"]
        lines += ["", f"### {name}", "", *table(head, rows)]
    (out / f"{NAME}.md").write_text("\n".join(lines) + "\n")


SHIPPED = f"default ({mo.NAME}.json)"


def shipped_runs(out: Path, cells: set[tuple[str, int]]) -> list[dict[str, Any]]:
    """The searcher's runs in ``multi_objective.json`` on ``cells`` (problem, seed)."""
    path = out / f"{mo.NAME}.json"
    if not path.exists():
        return []
    runs = json.loads(path.read_text())["runs"]
    ours = [r for r in runs if r["method"] == mo.OURS and (r["problem"], r["seed"]) in cells]
    return [dict(r, method=SHIPPED) for r in ours]


def main(argv: Sequence[str] | None = None) -> None:
    """Run the missing (variant, problem, seed) runs, then write the tables."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--variants", default="pending-first-metric,default")
    parser.add_argument("--problems", default="branin_currin,dtlz2,constrained_branin_currin")
    parser.add_argument("--seeds", type=int, default=5)
    parser.add_argument("--jobs", type=int, default=1)
    parser.add_argument("--deadline-min", type=float, default=None)
    parser.add_argument("--out", default="benchmarks/results")
    parser.add_argument("--resume", action="store_true")
    parser.add_argument("--report-only", action="store_true")
    args = parser.parse_args(argv)
    variants = parse_names(args.variants, VARIANTS, "variants", parser)
    config = mo.BenchConfig(
        seeds=args.seeds,
        budget=mo.BUDGET,
        workers=mo.WORKERS,
        problems=tuple(parse_names(args.problems, mo.PROBLEMS, "problems", parser)),
        methods=tuple(variants),
        jobs=args.jobs,
        deadline_min=args.deadline_min,
        out=args.out,
        resume=args.resume,
    )
    raw_path = Path(config.out) / f"{NAME}.json"
    if not args.report_only:
        runs, record = open_record(raw_path, config)
        header = record.raw["header"]
        todo = mo.plan(config, {(r["method"], r["problem"], r["seed"]) for r in runs})
        print(f"{len(todo)} runs to do ({len(runs)} kept)", flush=True)

        def on_result(r: dict[str, Any]) -> None:
            runs.append(r)
            record.dump()
            mo._log(f"{len(runs)}", r, record.minutes())

        left = run_grid(mo.run_one, todo, config, record, on_result)
        header["not_started"] = [list(t) for t in left]
        record.finish(finished=not left)
    raw = json.loads(raw_path.read_text())
    seen = {r["method"] for r in raw["runs"]}
    order: list[str] = [v for v in variants if v in seen]
    order += [v for v in VARIANTS if v in seen and v not in order]
    if "default" not in variants:
        # The default is what multi_objective.py runs, seed for seed (both seed Sobol,
        # the acquisition and the simulated workers alike): pair against its runs.
        shipped = shipped_runs(raw_path.parent, {(r["problem"], r["seed"]) for r in raw["runs"]})
        if shipped:
            raw["runs"] += shipped
            order.insert(0, SHIPPED)
    report(raw, raw_path.parent, order)


if __name__ == "__main__":
    main()
