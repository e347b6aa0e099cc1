"""Conditional spaces (issue 15): the conditional kernel against the flat encoding and random.

One synthetic problem with the structure of "neurons per layer when the number of
layers is tuned": ``arch`` picks depth 1, 2 or 3 and each depth has its own widths
(``width_1 .. width_depth``, each in [0, 1], a log-width) with its own optimum;
``act`` picks ``relu`` or ``softplus``, whose ``beta`` exists only with softplus;
``lr`` (in [0, 1], a log-lr) is always there. Minimised, noise-free::

    f = c[depth] + sum_i (w_i - t[depth][i])^2 + act_term + (lr - 0.35)^2
    act_term = 0.15 (relu), 2 (beta - 0.7)^2 (softplus)

with ``c = (0.6, 0.3, 0)`` and per-depth targets ``t``; the minimum is 0 (depth 3,
softplus with beta 0.7). Widths of missing layers have no effect.

Methods (4 asynchronous workers in simulated time, as ``optimizer_quality.py``;
evaluation durations Exponential(mean 1), one sequence per seed shared by every
method; generation time does not advance simulated time):

* ``conditional``: ``BatchBOSearcher`` on the conditional space (``tune.choice`` of
  dicts): selectors plus per-branch parameters, BoTorch's
  ``HierarchicalConditionalKernelGP`` (``distributed_bo.search.conditional``).
* ``flat``: the same searcher on the old flat encoding: ``depth`` (ordered choice
  1..3), ``width_1 .. width_3``, ``act`` (categorical), ``beta`` and ``lr`` always
  searched; the objective ignores the widths of missing layers and ``beta`` under
  relu; Ax's default GP.
* ``random``: independent samples of the conditional space.

Both searchers get the same ``num_initial`` (Sobol trials before the model) and
the same acquisition-optimiser settings (``--restarts``, ``--raw-samples``).
Regret = best value so far (the minimum is 0).

Run: ``python benchmarks/conditional.py --seeds 5 --budget 30``; results in
``benchmarks/results/conditional.md`` (raw: ``conditional.json``).
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
from pathlib import Path
from typing import Any

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))

from harness.conditions import Recorder, new_header  # noqa: E402
from harness.markdown import header_lines, table  # noqa: E402
from harness.methods import Method, SearcherMethod  # noqa: E402
from harness.simulate import exponential_durations, simulate_async  # noqa: E402
from harness.stats import median_iqr, wtl  # noqa: E402

OFFSET = {1: 0.6, 2: 0.3, 3: 0.0}
TARGETS = {1: (0.2,), 2: (0.8, 0.3), 3: (0.25, 0.75, 0.6)}
RELU_COST = 0.15
BETA_BEST = 0.7
LR_BEST = 0.35
RESULTS = Path(__file__).resolve().parent / "results"


def value(depth: int, widths: list[float], act: str, beta: float | None, lr: float) -> float:
    """The objective of one configuration (minimum 0)."""
    f = OFFSET[depth] + sum((w - t) ** 2 for w, t in zip(widths, TARGETS[depth], strict=True))
    f += RELU_COST if act == "relu" else 2.0 * (float(beta or 0.0) - BETA_BEST) ** 2
    return f + (lr - LR_BEST) ** 2


def conditional_space() -> dict[str, Any]:
    """The space written with branch points."""
    from ray import tune

    arch = [
        {"depth": d, **{f"width_{i}": tune.uniform(0.0, 1.0) for i in range(1, d + 1)}}
        for d in (1, 2, 3)
    ]
    return {
        "arch": tune.choice(arch),
        "act": tune.choice(
            [{"name": "relu"}, {"name": "softplus", "beta": tune.uniform(0.0, 1.0)}]
        ),
        "lr": tune.uniform(0.0, 1.0),
    }


def flat_space() -> dict[str, Any]:
    """The old encoding: every parameter always searched."""
    from ray import tune

    return {
        "depth": tune.choice([1, 2, 3]),
        **{f"width_{i}": tune.uniform(0.0, 1.0) for i in (1, 2, 3)},
        "act": tune.choice(["relu", "softplus"]),
        "beta": tune.uniform(0.0, 1.0),
        "lr": tune.uniform(0.0, 1.0),
    }


def conditional_value(c: dict[str, Any]) -> float:
    """The objective of a conditional-space config."""
    d = c["arch"]["depth"]
    widths = [c["arch"][f"width_{i}"] for i in range(1, d + 1)]
    return value(d, widths, c["act"]["name"], c["act"].get("beta"), c["lr"])


def flat_value(c: dict[str, Any]) -> float:
    """The objective of a flat config: missing layers' widths and relu's beta ignored."""
    d = int(c["depth"])
    widths = [c[f"width_{i}"] for i in range(1, d + 1)]
    return value(d, widths, c["act"], c["beta"] if c["act"] == "softplus" else None, c["lr"])


class RandomConditional(Method):
    """Independent samples of the conditional space, branch first."""

    def __init__(self, seed: int) -> None:
        self.rng = np.random.default_rng([seed, 1])

    def ask(self, trial_id: str) -> dict[str, Any]:
        d = int(self.rng.integers(1, 4))
        arch = {"depth": d, **{f"width_{i}": float(self.rng.uniform()) for i in range(1, d + 1)}}
        act: dict[str, Any] = {"name": "relu"}
        if self.rng.uniform() < 0.5:
            act = {"name": "softplus", "beta": float(self.rng.uniform())}
        return {"arch": arch, "act": act, "lr": float(self.rng.uniform())}

    def tell(self, trial_id: str, value: Any) -> None:
        pass


def run_one(method: str, seed: int, args: argparse.Namespace) -> dict[str, Any]:
    """One (method, seed) run: best-so-far regret after each evaluation."""
    kwargs = {
        "num_initial": args.num_initial,
        "optimizer_options": {"num_restarts": args.restarts, "raw_samples": args.raw_samples},
    }
    start = time.perf_counter()
    if method == "conditional":
        m: Method = SearcherMethod(conditional_space(), seed, args.budget, args.workers, **kwargs)
        objective = conditional_value
    elif method == "flat":
        m = SearcherMethod(flat_space(), seed, args.budget, args.workers, **kwargs)
        objective = flat_value
    else:
        m = RandomConditional(seed)
        objective = conditional_value
    durations = exponential_durations(seed, 0, args.budget)
    values, _ = simulate_async(m, objective, args.budget, durations, args.workers)
    extra = m.close()
    methods_used = sorted({s["method"] for s in extra.get("generation_stats", [])})
    return {
        "method": method,
        "seed": seed,
        "best_so_far": np.minimum.accumulate(values).tolist(),
        "wall_s": time.perf_counter() - start,
        "generation_methods": methods_used,
    }


def report(raw: dict[str, Any], out: Path) -> None:
    """Write the Markdown table: median (IQR) regret at each checkpoint, W-T-L vs flat."""
    runs = raw["runs"]
    methods = [m for m in ("conditional", "flat", "random") if any(r["method"] == m for r in runs)]
    checkpoints = [n for n in (10, 20, 30, 40, 50) if n <= raw["header"]["budget"]]

    # Only seeds every method has run, so the medians are paired.
    seeds_of = [{r["seed"] for r in runs if r["method"] == m} for m in methods]
    common = set.intersection(*seeds_of) if seeds_of else set()

    def at(method: str, n: int) -> dict[int, float]:
        return {
            r["seed"]: r["best_so_far"][n - 1]
            for r in runs
            if r["method"] == method and r["seed"] in common
        }

    def wall(method: str) -> str:
        return median_iqr(
            [r["wall_s"] for r in runs if r["method"] == method and r["seed"] in common]
        )

    rows = []
    for method in methods:
        cells = [median_iqr(list(at(method, n).values())) for n in checkpoints]
        seeds = len(at(method, checkpoints[-1]))
        rows.append([method, str(seeds), *cells, wall(method)])
    merged = [f"- Merged with the runs of: `{c}`" for c in raw["header"].get("merged", [])]
    lines = header_lines(
        "Conditional spaces: conditional kernel vs flat encoding vs random",
        raw["header"],
        after=[
            *merged,
            f"- Protocol: {raw['header']['workers']} asynchronous workers in simulated "
            f"time, num_initial {raw['header']['num_initial']}, acquisition optimiser "
            f"{raw['header']['restarts']} restarts / {raw['header']['raw_samples']} raw "
            "samples, seeds paired across methods; problem and methods in the docstring "
            "of `benchmarks/conditional.py`.",
        ],
    )
    lines += ["", "## Best value so far (regret; the minimum is 0): median (IQR)", ""]
    lines += table(
        ["method", "seeds", *[f"after {n}" for n in checkpoints], "wall s per run"], rows
    )
    if "flat" in methods and "conditional" in methods:
        lines += ["", "## conditional vs flat, paired by seed (W-T-L, lower regret wins)", ""]
        lines += table(
            ["after", "W-T-L"],
            [[str(n), wtl(at("conditional", n), at("flat", n))] for n in checkpoints],
        )
    notes = out.with_name(out.stem + "_notes.md")
    lines += [
        "",
        "## Reading",
        "",
        notes.read_text().strip() if notes.exists() else "_none yet._",
        "",
    ]
    out.write_text("\n".join(lines))


def main() -> None:
    """Run the grid (resumable) and write the report."""
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--seeds", type=int, default=5)
    p.add_argument("--first-seed", type=int, default=0, help="run seeds first-seed .. seeds-1")
    p.add_argument("--budget", type=int, default=30)
    p.add_argument("--workers", type=int, default=4)
    p.add_argument("--num-initial", type=int, default=8)
    p.add_argument("--restarts", type=int, default=4)
    p.add_argument("--raw-samples", type=int, default=128)
    p.add_argument("--methods", default="conditional,flat,random")
    p.add_argument("--out", default=str(RESULTS / "conditional.md"))
    p.add_argument("--report-only", action="store_true")
    p.add_argument(
        "--merge",
        action="append",
        default=[],
        help="add the runs of another raw JSON (a parallel run of other methods) first",
    )
    args = p.parse_args()
    out = Path(args.out)
    raw_path = out.with_suffix(".json")
    if raw_path.exists():
        raw = json.loads(raw_path.read_text())
    else:
        raw = {
            "header": new_header(
                budget=args.budget,
                workers=args.workers,
                num_initial=args.num_initial,
                restarts=args.restarts,
                raw_samples=args.raw_samples,
            ),
            "runs": [],
        }
    for other in args.merge:
        have = {(r["method"], r["seed"]) for r in raw["runs"]}
        extra = json.loads(Path(other).read_text())
        raw["runs"] += [r for r in extra["runs"] if (r["method"], r["seed"]) not in have]
        raw["header"].setdefault("merged", []).append(extra["header"]["command"])
    if args.merge:
        raw_path.write_text(json.dumps(raw))
    if not args.report_only:
        import torch

        torch.set_num_threads(1)
        os.environ.setdefault("RAY_DEDUP_LOGS", "0")
        done = {(r["method"], r["seed"]) for r in raw["runs"]}
        recorder = Recorder(raw_path, raw)
        for seed in range(args.first_seed, args.seeds):
            for method in args.methods.split(","):
                if (method, seed) in done:
                    continue
                raw["runs"].append(run_one(method, seed, args))
                recorder.dump()
                report(raw, out)
                print(f"{method} seed {seed}: {raw['runs'][-1]['best_so_far'][-1]:.4f}", flush=True)
        recorder.finish()
    report(raw, out)


if __name__ == "__main__":
    main()
