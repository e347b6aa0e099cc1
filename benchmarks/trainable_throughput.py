"""Trainable throughput: images/s of one ``vision_cnn`` trial inside Ray Tune vs bare PyTorch.

Both sides train the same model (``distributed_bo.models.factory.build_model``) on the
same in-memory data (a CIFAR-10-shaped uint8 array, or the real CIFAR-10 with
``--data-dir``) with the same optimizer, batch size and torch thread count:

- **bare**: a plain PyTorch loop in this process: shuffle, index the uint8 tensor,
  normalise, forward, cross-entropy, backward, SGD step. No Ray, no DataLoader.
- **fit**: the trainable's own loop (``distributed_bo.trainables.vision.fit``) in this
  process, without Ray: separates the cost of the loop from the cost of Ray.
- **ray**: one trial of the built-in ``vision_cnn`` run by ``tune.Tuner`` (actor
  with ``--threads`` CPUs, the data passed through the object store by
  ``tune.with_parameters``, per-epoch reports and checkpoints as in a study).

Throughput is training images over training seconds per epoch (evaluation and
checkpointing excluded on both sides, as the trainable reports it). Epoch 1 of every
run is dropped (one-off costs); the median of the remaining epochs is compared, and
the best epochs (the least disturbed by other processes). The ratio ray / bare is the
number to watch (target >= 0.95). For each thread count in ``--threads``,
``--rounds`` bare/fit/ray runs alternate, so all sides share the machine's noise, all
in one invocation. The 1-minute load average before and after is recorded.

On a machine shared with other jobs, wall-clock throughput mostly measures the
contention. So the CPU seconds of each whole epoch (train, evaluate, report,
checkpoint) of the trainable's process are recorded too, in this process for
**fit** and in the trial actor for **ray**: their ratio is what Ray itself costs
the trial, independent of the load.

Run: ``python benchmarks/trainable_throughput.py`` (``--quick`` for a smoke test); it
prints the numbers and, with ``--json PATH``, writes them.
Results: ``benchmarks/results/trainable_throughput.md``.
"""

from __future__ import annotations

import argparse
import datetime
import json
import os
import platform
import resource
import shlex
import statistics
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import numpy as np
import torch
from harness import machine as harness_machine
from torch.nn import functional as F

from distributed_bo.data.arrays import VisionArrays
from distributed_bo.data.catalog import DATASETS
from distributed_bo.data.load import load_arrays
from distributed_bo.models.factory import ModelSpec, build_model, default_widths
from distributed_bo.models.fast import FastNet


def synthetic_cifar(n: int, seed: int = 0) -> VisionArrays:
    """``n`` random CIFAR-10-shaped images (uint8, 3 x 32 x 32) and labels."""
    rng = np.random.default_rng(seed)
    return VisionArrays(
        name="cifar10",
        x_train=rng.integers(0, 256, size=(n, 3, 32, 32), dtype=np.uint8),
        y_train=rng.integers(0, 10, size=n).astype(np.int64),
        source=f"synthetic-{n}-{seed}",
    )


def bare_loop(args: argparse.Namespace, arrays: VisionArrays, threads: int) -> list[float]:
    """Images/s per epoch of a plain PyTorch loop over the training split.

    On CUDA it uses what the trainable uses there: channels-last and bf16 autocast.
    """
    torch.set_num_threads(threads)
    torch.manual_seed(0)
    device = torch.device(args.device)
    cuda = device.type == "cuda"
    info = DATASETS[arrays.name]
    n = len(arrays.y_train) - round(len(arrays.y_train) * args.val_fraction)
    x = torch.from_numpy(arrays.x_train[:n].copy()).to(device)
    y = torch.from_numpy(arrays.y_train[:n].copy()).to(device)
    mean = (torch.tensor(info.mean).view(1, -1, 1, 1) * info.pixel_max).to(device)
    std = (torch.tensor(info.std).view(1, -1, 1, 1) * info.pixel_max).to(device)
    spec = ModelSpec(args.model, info.shape, info.num_classes, default_widths(args.model, 4))
    model = build_model(spec).to(device)
    if isinstance(model, FastNet):
        model.init_whitening((x[:5000].float() - mean) / std)
    if cuda:
        model = model.to(memory_format=torch.channels_last)
    params = [p for p in model.parameters() if p.requires_grad]
    opt = torch.optim.SGD(params, lr=0.01, momentum=0.9, nesterov=True, weight_decay=5e-4)
    bs = args.batch_size
    rates = []
    for _ in range(args.epochs):
        model.train()
        t0 = time.perf_counter()
        order = torch.randperm(n).to(device)
        for step in range(n // bs):
            idx = order[step * bs : (step + 1) * bs]
            xb = (x[idx].float() - mean) / std
            if cuda:
                xb = xb.contiguous(memory_format=torch.channels_last)
            with torch.autocast("cuda", dtype=torch.bfloat16, enabled=cuda):
                logits = model(xb)
            loss = F.cross_entropy(logits.float(), y[idx])
            opt.zero_grad(set_to_none=True)
            loss.backward()
            opt.step()
        loss.item()  # wait for the GPU
        rates.append((n // bs) * bs / (time.perf_counter() - t0))
    return rates


def process_cpu_s() -> float:
    """CPU seconds (user + system) used by this process so far, all threads."""
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


def fit_here(
    args: argparse.Namespace, arrays: VisionArrays, threads: int
) -> tuple[list[float], list[float]]:
    """Images/s per epoch of the trainable's own loop (``vision.fit``) in this process.

    Returns:
        Images/s per epoch, and the process CPU seconds of each whole epoch.
    """
    from distributed_bo.trainables.configs import VisionConfig
    from distributed_bo.trainables.vision import fit

    torch.set_num_threads(threads)
    cfg = VisionConfig.from_config(trial_config(args, arrays, threads))
    marks = [process_cpu_s()]
    result = fit(
        cfg,
        data=arrays,
        device=torch.device(args.device),
        report=lambda m, s: marks.append(process_cpu_s()),
    )
    cpu = [b - a for a, b in zip(marks, marks[1:], strict=False)]
    return [float(m["images_per_second"]) for m in result.history], cpu


def cpu_timed_vision_cnn(config: dict, data: VisionArrays | None = None) -> None:
    """``train_vision_cnn`` that adds the worker's CPU seconds to every report."""
    from ray import tune

    from distributed_bo.trainables.vision import train_vision_cnn

    report = tune.report

    def timed(metrics: dict, **kwargs: Any) -> None:
        report({**metrics, "process_cpu_s": process_cpu_s()}, **kwargs)

    tune.report = timed
    try:
        train_vision_cnn(config, data=data)
    finally:
        tune.report = report


def trial_config(args: argparse.Namespace, arrays: VisionArrays, threads: int) -> dict:
    """The ``vision_cnn`` config matching :func:`bare_loop`."""
    return {
        "dataset": arrays.name,
        "model": args.model,
        "epochs": args.epochs,
        "batch_size": args.batch_size,
        "val_fraction": args.val_fraction,
        "optimizer": "sgd",
        "lr": 0.01,
        "lr_schedule": "constant",
        "torch_threads": threads,
        "checkpoint_frequency": 1,
    }


def ray_trial(
    args: argparse.Namespace, arrays: VisionArrays, threads: int
) -> tuple[list[float], list[float]]:
    """Images/s per epoch reported by one ``vision_cnn`` trial run by ``tune.Tuner``.

    Returns:
        Images/s per epoch, and the trial process's CPU seconds of each whole epoch
        (NaN for the first, which has no previous mark).
    """
    from ray import tune

    config = trial_config(args, arrays, threads)
    with tempfile.TemporaryDirectory() as storage:
        tuner = tune.Tuner(
            tune.with_resources(
                tune.with_parameters(cpu_timed_vision_cnn, data=arrays),
                {"cpu": threads, "gpu": 1 if args.device == "cuda" else 0},
            ),
            param_space=config,
            tune_config=tune.TuneConfig(metric="val_accuracy", mode="max", num_samples=1),
            run_config=tune.RunConfig(storage_path=storage, name="throughput", verbose=0),
        )
        results = tuner.fit()
        if results.errors:
            raise RuntimeError(f"the trial failed: {results.errors[0]}")
        df = results[0].metrics_dataframe.sort_values("epoch")
        marks = list(df["process_cpu_s"])
        cpu = [float(b - a) for a, b in zip(marks, marks[1:], strict=False)]
        return [float(v) for v in df["images_per_second"]], [float("nan"), *cpu]


def machine_text() -> str:
    """CPU model, logical CPUs and GPU, for the report (from :func:`harness.machine`)."""
    m = harness_machine()
    gpu = "no GPU" if m["gpu"] == "none" else m["gpu"]
    return f"{m['cpu']}, {m['nproc']} logical CPUs, {gpu}"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", default="convnet", choices=["convnet", "lenet", "fast"])
    parser.add_argument("--n-train", type=int, default=4000, help="synthetic images")
    parser.add_argument("--data-dir", help="use the real CIFAR-10 from this data_dir")
    parser.add_argument("--epochs", type=int, default=4)
    parser.add_argument(
        "--device",
        choices=["cpu", "cuda"],
        default="cuda" if torch.cuda.is_available() else "cpu",
        help="bare and fit train here; the Ray trial asks for 1 GPU with cuda",
    )
    parser.add_argument("--batch-size", type=int, default=128)
    parser.add_argument("--val-fraction", type=float, default=0.1)
    parser.add_argument("--threads", default="1", help="comma-separated torch thread counts")
    parser.add_argument("--rounds", type=int, default=3, help="bare/fit/ray runs per thread count")
    parser.add_argument("--quick", action="store_true", help="1,000 images, 2 epochs")
    parser.add_argument("--json", help="also write the raw numbers to this JSON file")
    args = parser.parse_args(argv)
    if args.quick:
        args.n_train, args.epochs, args.rounds = 1000, 2, 1
    if args.data_dir:
        arrays = load_arrays("cifar10", data_dir=args.data_dir)
    else:
        arrays = synthetic_cifar(args.n_train)

    import ray

    rows: list[dict[str, Any]] = []
    load_before = os.getloadavg()
    threads_list = [int(t) for t in args.threads.split(",")]
    ray.init(
        address="local",
        num_cpus=max(threads_list),
        num_gpus=1 if args.device == "cuda" else 0,
        include_dashboard=False,
        log_to_driver=False,
        configure_logging=False,
        _node_ip_address="127.0.0.1",
    )
    try:
        for threads in threads_list:
            runs: dict[str, list[float]] = {"bare": [], "fit": [], "ray": []}
            cpu: dict[str, list[float]] = {"fit": [], "ray": []}
            for _ in range(args.rounds):  # interleaved, so all sides share the noise
                runs["bare"] += bare_loop(args, arrays, threads)[1:]
                for side, fn in (("fit", fit_here), ("ray", ray_trial)):
                    rates, seconds = fn(args, arrays, threads)
                    runs[side] += rates[1:]
                    cpu[side] += seconds[1:]
            row: dict[str, Any] = {"threads": threads}
            for side, seconds in cpu.items():
                row[f"{side}_cpu_s_per_epoch"] = statistics.median(seconds)
            for side, rates in runs.items():
                row[f"{side}_images_per_s"] = statistics.median(rates)
                row[f"{side}_best_images_per_s"] = max(rates)
                row[f"{side}_per_epoch"] = [round(v, 1) for v in rates]
            row["ratio"] = row["ray_images_per_s"] / row["bare_images_per_s"]
            row["ratio_best"] = row["ray_best_images_per_s"] / row["bare_best_images_per_s"]
            row["fit_ratio"] = row["fit_images_per_s"] / row["bare_images_per_s"]
            row["cpu_ratio"] = row["fit_cpu_s_per_epoch"] / row["ray_cpu_s_per_epoch"]
            rows.append(row)
            print(
                f"threads={threads}: bare {row['bare_images_per_s']:.0f} img/s, "
                f"fit {row['fit_images_per_s']:.0f}, ray {row['ray_images_per_s']:.0f}; "
                f"ray/bare {row['ratio']:.3f} (best epochs {row['ratio_best']:.3f}); "
                f"CPU s/epoch fit {row['fit_cpu_s_per_epoch']:.2f} "
                f"ray {row['ray_cpu_s_per_epoch']:.2f}",
                flush=True,
            )
    finally:
        ray.shutdown()

    report = {
        "command": "python "
        + " ".join(shlex.quote(a) for a in [sys.argv[0], *(argv or sys.argv[1:])]),
        "date": datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%d %H:%M UTC"),
        "machine": machine_text(),
        "versions": (
            f"torch {torch.__version__}, ray {ray.__version__}, Python {platform.python_version()}"
        ),
        "data": arrays.source if not args.data_dir else f"CIFAR-10 from {args.data_dir}",
        "model": args.model,
        "device": args.device,
        "n_train": len(arrays.y_train),
        "epochs": args.epochs,
        "batch_size": args.batch_size,
        "load_average_1min_before_after": [round(load_before[0], 2), round(os.getloadavg()[0], 2)],
        "rows": rows,
    }
    if args.json:
        Path(args.json).write_text(json.dumps(report, indent=2) + "\n")
    print(json.dumps(report, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
