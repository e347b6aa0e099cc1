"""Reference study protocol on the digits CNN: BO vs Sobol vs random, 10 repeats of 25.

The second reference study's protocol: tune the learning rate and weight decay,
5 initial Sobol points + 20 model-based evaluations (25 in all), 10 repeats; report
mean ± std of the best validation accuracy for ``BatchBOSearcher``, Sobol (Ax's
scrambled sequence) and random search, and the improvement over a hand-tuned
baseline (the quickstart's: lr 0.01, weight decay 1e-4).

Each evaluation is one real training run of the ``digits_cnn`` trainable's own
training loop (:func:`distributed_bo.trainables.digits.fit`, the code the Ray Tune
trainable runs) with the quickstart's fixed settings (2 conv layers, 16 channels,
no dropout, Adam, batch 64) for ``--epochs`` epochs; its objective is the last
epoch's validation accuracy. Evaluations run one after another (one worker), as in
the reference. Repeat ``r`` uses seed ``r`` for the searcher and for training, so
within a repeat the objective is deterministic and every method, and the baseline,
sees the same function.

``--dataset cifar10 --data-dir PATH`` runs the same protocol on CIFAR-10 with the
``vision_cnn`` trainable (``convnet``; needs the extracted data under ``PATH`` and,
to finish in reasonable time, a GPU).

Run: ``python benchmarks/reference_studies.py``. Results:
``benchmarks/results/reference_studies.md``.
"""

from __future__ import annotations

import argparse
import json
import time
from collections.abc import Mapping, Sequence
from concurrent.futures import as_completed
from pathlib import Path
from typing import Any

import numpy as np
from harness import (
    Method,
    RandomMethod,
    Recorder,
    SearcherMethod,
    SobolMethod,
    header_lines,
    loadavg,
    new_header,
    paired_counts,
    quiet,
    reading,
    simulate_async,
    worker_pool,
)
from harness.plots import pyplot, save

NAME = "reference_studies"
INITIAL, BO_EVALS, REPEATS = 5, 20, 10
BASELINE = {"lr": 0.01, "weight_decay": 1e-4}
METHODS = ("BatchBOSearcher", "Sobol (Ax, scrambled)", "Random search")


def space() -> dict[str, Any]:
    """The searched parameters (the quickstart's ranges)."""
    from ray import tune

    return {
        "lr": tune.loguniform(1e-4, 3e-1),
        "weight_decay": tune.loguniform(1e-6, 1e-2),
    }


def train(config: Mapping[str, Any], *, seed: int, opts: Mapping[str, Any]) -> float:
    """One real training run; the last epoch's validation accuracy (maximised)."""
    if opts["dataset"] == "digits":
        from distributed_bo.trainables.digits import DigitsCNNConfig, fit

        cfg = DigitsCNNConfig.from_config(
            {
                "lr": float(config["lr"]),
                "weight_decay": float(config["weight_decay"]),
                "epochs": opts["epochs"],
                "channels": 16,
                "num_layers": 2,
                "dropout": 0.0,
                "seed": seed,
            }
        )
        result = fit(cfg)
        return float(result.history[-1]["val_accuracy"])
    from distributed_bo.trainables.configs import VisionConfig
    from distributed_bo.trainables.vision import fit as vision_fit

    cfg = VisionConfig.from_config(
        {
            "dataset": opts["dataset"],
            "data_dir": opts["data_dir"],
            "download": False,
            "model": "convnet",
            "epochs": opts["epochs"],
            "optimizer": "adam",
            "lr": float(config["lr"]),
            "weight_decay": float(config["weight_decay"]),
            "seed": seed,
        }
    )
    result = vision_fit(cfg)
    return float(result.history[-1]["val_accuracy"])


def run_one(label: str, repeat: int, opts: dict[str, Any]) -> dict[str, Any]:
    """One method, one repeat: 25 sequential real trainings (or the baseline's one)."""
    start = time.perf_counter()
    budget = INITIAL + BO_EVALS
    if label == "baseline":
        acc = train(BASELINE, seed=repeat, opts=opts)
        return {
            "method": label,
            "repeat": repeat,
            "accuracies": [acc],
            "configs": [BASELINE],
            "wall_s": time.perf_counter() - start,
        }
    if label == "BatchBOSearcher":
        method: Method = SearcherMethod(space(), repeat, budget, 1, num_initial=INITIAL)
    elif label == "Random search":
        method = RandomMethod(space(), repeat)
    else:
        method = SobolMethod(space(), repeat, budget)
    configs: list[dict[str, Any]] = []

    def objective(config: dict[str, Any]) -> float:
        configs.append({k: float(config[k]) for k in ("lr", "weight_decay")})
        # The methods minimise; accuracy is maximised.
        return -train(config, seed=repeat, opts=opts)

    try:
        values, _ = simulate_async(method, objective, budget, [1.0] * budget, 1)
    finally:
        method.close()
    return {
        "method": label,
        "repeat": repeat,
        "accuracies": [-v for v in values],
        "configs": configs,
        "wall_s": time.perf_counter() - start,
    }


def summarise(runs: list[dict[str, Any]]) -> dict[str, Any]:
    """Mean ± std of best accuracy and of the gain over the baseline, per method."""
    base = {r["repeat"]: r["accuracies"][0] for r in runs if r["method"] == "baseline"}
    out: dict[str, Any] = {}
    best: dict[str, dict[int, float]] = {}
    for label in METHODS:
        sel = [r for r in runs if r["method"] == label]
        if not sel:
            continue
        b = {r["repeat"]: max(r["accuracies"]) for r in sel}
        best[label] = b
        gains = [b[k] - base[k] for k in b if k in base]
        at5 = [max(r["accuracies"][:INITIAL]) for r in sel]
        out[label] = {
            "repeats": len(sel),
            "best_mean": float(np.mean(list(b.values()))),
            "best_std": float(np.std(list(b.values()), ddof=1)) if len(b) > 1 else 0.0,
            "after_initial_mean": float(np.mean(at5)),
            "gain_mean": float(np.mean(gains)) if gains else float("nan"),
            "gain_std": float(np.std(gains, ddof=1)) if len(gains) > 1 else 0.0,
            "beats_baseline": sum(g > 0 for g in gains),
        }
    if base:
        vals = list(base.values())
        out["baseline"] = {
            "repeats": len(vals),
            "best_mean": float(np.mean(vals)),
            "best_std": float(np.std(vals, ddof=1)) if len(vals) > 1 else 0.0,
        }
    if "BatchBOSearcher" in best:
        for label in METHODS[1:]:
            if label in best:
                # Higher accuracy wins: negate for paired_counts (lower wins).
                w, t, losses, p = paired_counts(
                    {k: -v for k, v in best["BatchBOSearcher"].items()},
                    {k: -v for k, v in best[label].items()},
                )
                out[label]["bo_vs_this"] = f"{w}-{t}-{losses} (p={p:.2g})"
    return out


def plot(runs: list[dict[str, Any]], out: Path, suffix: str = "") -> Path:
    """Best-so-far validation accuracy against evaluations, mean ± std over repeats."""
    plt = pyplot()
    fig, ax = plt.subplots(figsize=(8, 5), dpi=100)
    colors = {
        "BatchBOSearcher": "tab:blue",
        "Sobol (Ax, scrambled)": "black",
        "Random search": "tab:gray",
    }
    for label in METHODS:
        curves = [np.maximum.accumulate(r["accuracies"]) for r in runs if r["method"] == label]
        if not curves:
            continue
        y = np.asarray(curves)
        x = np.arange(1, y.shape[1] + 1)
        mean, std = y.mean(0), y.std(0)
        ax.plot(x, mean, color=colors[label], label=f"{label} (n={len(curves)})")
        ax.fill_between(x, mean - std, mean + std, color=colors[label], alpha=0.12)
    base = [r["accuracies"][0] for r in runs if r["method"] == "baseline"]
    if base:
        ax.axhline(
            np.mean(base),
            color="tab:red",
            ls="--",
            label=f"hand-tuned baseline (mean of {len(base)})",
        )
    ax.axvline(INITIAL + 0.5, color="k", lw=0.8, alpha=0.4)
    ax.set_xlabel("evaluations")
    ax.set_ylabel("best validation accuracy so far")
    ax.grid(alpha=0.3)
    ax.legend(loc="lower right", fontsize=8)
    ax.set_title("digits CNN, lr and weight decay: mean ± std over repeats")
    return save(fig, out / f"{NAME}_best_so_far{suffix}.png")


def write_markdown(raw: dict[str, Any], out: Path, png: Path) -> None:
    """Write ``reference_studies.md``."""
    header, runs = raw["header"], raw["runs"]
    opts = header["opts"]
    s = summarise(runs)
    lines = header_lines(
        "Reference study protocol: digits CNN",
        header,
        setup=[f"- {opts['jobs']} processes, torch.set_num_threads({opts['torch_threads']}) each"],
        after=[
            f"- Protocol: dataset {opts['dataset']}; lr loguniform [1e-4, 0.3], weight decay "
            f"loguniform [1e-6, 1e-2]; {INITIAL} Sobol + {BO_EVALS} BO evaluations, one at a "
            f"time; {opts['repeats']} repeats (repeat r: seed r for search and training). "
            f"Fixed: 2 conv layers, 16 channels, no dropout, Adam, batch 64, "
            f"**{opts['epochs']} epochs** (the quickstart uses 8). Objective: last epoch's "
            "validation accuracy (360 of the 1,797 images). Baseline: lr 0.01, weight decay "
            "1e-4, trained with each repeat's seed."
        ],
    )
    lines += [
        "",
        "Reduced settings: the reference trains CIFAR-10 on a GPU; this machine has 2 "
        "shared CPU cores and no GPU, so the protocol runs on the digits CNN "
        f"(0.07 s per epoch on an idle core) with {opts['epochs']} epochs. "
        "`--dataset cifar10 --data-dir PATH` runs it on CIFAR-10 where a GPU and the data "
        "exist; that has not been run.",
        "",
        "| Method | repeats | best accuracy, mean ± std | best after the 5 initial | "
        "gain over baseline, mean ± std | repeats beating baseline | BO vs this (W-T-L) |",
        "|---|---|---|---|---|---|---|",
    ]
    for label in METHODS:
        if label not in s:
            continue
        v = s[label]
        lines.append(
            f"| {label} | {v['repeats']} | {v['best_mean']:.4f} ± {v['best_std']:.4f} | "
            f"{v['after_initial_mean']:.4f} | {100 * v['gain_mean']:+.2f} ± "
            f"{100 * v['gain_std']:.2f} points | {v['beats_baseline']}/{v['repeats']} | "
            f"{v.get('bo_vs_this', '-')} |"
        )
    if "baseline" in s:
        b = s["baseline"]
        lines.append(
            f"| hand-tuned baseline | {b['repeats']} | {b['best_mean']:.4f} ± "
            f"{b['best_std']:.4f} | - | - | - | - |"
        )
    lines += ["", f"![{png.stem}]({png.name})", *reading(out, f"{NAME}_notes.md")]
    suffix = "" if opts["dataset"] == "digits" else f"_{opts['dataset']}"
    (out / f"{NAME}{suffix}.md").write_text("\n".join(lines))


def main(argv: Sequence[str] | None = None) -> None:
    """Run every (method, repeat) and the baselines; write JSON, Markdown and a PNG."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--dataset", default="digits", choices=("digits", "cifar10"))
    parser.add_argument("--data-dir", default="./data", help="CIFAR-10 folder (cifar10 only)")
    parser.add_argument("--epochs", type=int, default=None, help="default: digits 4, cifar10 20")
    parser.add_argument("--repeats", type=int, default=REPEATS)
    parser.add_argument("--jobs", type=int, default=2)
    parser.add_argument("--torch-threads", type=int, default=1)
    parser.add_argument("--out", default="benchmarks/results")
    parser.add_argument("--replot", action="store_true")
    args = parser.parse_args(argv)
    out = Path(args.out)
    name = NAME if args.dataset == "digits" else f"{NAME}_{args.dataset}"
    raw_path = out / f"{name}.json"
    if args.replot:
        raw = json.loads(raw_path.read_text())
        write_markdown(raw, out, plot(raw["runs"], out, name[len(NAME) :]))
        return
    if args.dataset == "cifar10":
        folder = Path(args.data_dir) / "cifar-10-batches-py"
        if not folder.is_dir():
            parser.error(
                f"--data-dir: {folder} does not exist; extract cifar-10-python.tar.gz "
                "into --data-dir first (this script never downloads)"
            )
    epochs = args.epochs or (4 if args.dataset == "digits" else 20)
    opts = {
        "dataset": args.dataset,
        "data_dir": args.data_dir,
        "epochs": epochs,
        "repeats": args.repeats,
        "jobs": args.jobs,
        "torch_threads": args.torch_threads,
    }
    quiet()
    out.mkdir(parents=True, exist_ok=True)
    header = new_header(opts=opts, loadavg_start=loadavg(), finished=False)
    runs: list[dict[str, Any]] = []
    record = Recorder(raw_path, {"header": header, "runs": runs})

    tasks = [("baseline", r) for r in range(args.repeats)] + [
        (label, r) for r in range(args.repeats) for label in METHODS
    ]
    with worker_pool(args.jobs, args.torch_threads) as pool:
        futures = [pool.submit(run_one, label, r, opts) for label, r in tasks]
        for i, future in enumerate(as_completed(futures), 1):
            r = future.result()
            runs.append(r)
            print(
                f"[{i}/{len(tasks)}] {r['method']:22s} repeat {r['repeat']}: best "
                f"{max(r['accuracies']):.4f} ({r['wall_s']:.0f} s, load {loadavg()})",
                flush=True,
            )
            record.dump()
    record.finish()
    raw = json.loads(raw_path.read_text())
    write_markdown(raw, out, plot(runs, out, name[len(NAME) :]))
    print(f"done in {header['wall_min']:.1f} min", flush=True)


if __name__ == "__main__":
    main()
