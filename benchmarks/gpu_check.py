"""The GPU check (issue 16): every GPU measurement, in one run of under 8 minutes.

Run through ``benchmarks/gpu_check.sh``. It needs only this repository, torch and
torchvision for its first part; the Ray part runs when ``ray`` imports (the GPU
machines lent here have no Ray: carry its wheel, or the part is reported skipped).
No download: the data is synthetic and CIFAR-shaped (``--images`` x 3 x 32 x 32
uint8, 10 classes, drawn on the device), which measures speed and memory, not
accuracy.

Torch part (``fit`` called directly, one process):

1. images/s of ``fast`` (airbench94's recipe, batch 1,024), ``convnet`` and ``lenet``
   (batch 512), the last of ``--epochs`` epochs (the first warms cuDNN up);
2. the epoch time of ``fast`` at batch 1,024, eager and with ``torch.compile``
   (its warm-up time reported apart);
3. memory across repeated trials in one process, as under Tune's actor reuse: the
   memory allocated when each trial starts and its peak, with ``release_memory``
   between trials; two architectures alternate, so the compile cache's eviction
   is exercised;
4. the fractional-GPU memory cap: a process capped at 0.25 of the card cannot
   allocate 0.3 of it.

Ray part (``tune.Tuner``, reuse_actors, the ``vision_cnn`` trainable):

5. the same three loops inside a Ray Tune trial (one GPU each, one at a time):
   images/s and the in-Ray / bare ratio (target >= 0.95);
6. a 16-trial study of ``fast`` on one GPU at 0.25 GPU per trial (random ``lr``;
   the Tuner alone, so only Ray is needed): the busy fraction from the report's
   timeline (``distributed_bo.report.data``), each trial's memory at start and
   peak (no growth under actor reuse), and ``torch.compile`` warm-up per worker.

``--cpu-smoke`` runs every step on the CPU with 512 images, small widths, one
logical GPU and no compile, in under 2 minutes: it proves the script runs to the
end, and its figures mean nothing. Results: ``--out`` (default
``benchmarks/results/gpu_check.md``; the smoke run writes to a temporary folder
unless ``--out`` is given).
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import multiprocessing as mp
import os
import platform
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

import torch

from distributed_bo.data.arrays import VisionArrays
from distributed_bo.trainables.compiled import clear_compiled
from distributed_bo.trainables.configs import VisionConfig
from distributed_bo.trainables.loop import release_memory
from distributed_bo.trainables.vision import fit

RESULTS = Path(__file__).parent / "results" / "gpu_check.md"
FAMILIES = ("fast", "convnet", "lenet")
MIB = 2**20


@dataclasses.dataclass(frozen=True, kw_only=True)
class Plan:
    """What one run measures, and at what size."""

    smoke: bool
    images: int
    epochs: int
    study_trials: int
    study_epochs: int
    concurrent: int
    repeats: int

    @property
    def device(self) -> torch.device:
        return torch.device("cpu" if self.smoke else "cuda")

    def config(self, family: str, **extra: Any) -> dict[str, Any]:
        """The trainable config of ``family`` (the recipe's, for ``fast``)."""
        cfg: dict[str, Any] = {
            "model": family,
            "dataset": "cifar10",
            "epochs": self.epochs,
            "val_fraction": 0.1,
            "checkpoint_frequency": 0,
            "batch_size": 1024 if family == "fast" else 512,
        }
        if family == "convnet":
            cfg.update(lr_schedule="onecycle", crop_padding=2, flip=True)
        if self.smoke:
            cfg.update(batch_size=64, torch_threads=1)
            small = {"fast": (8, 16, 16), "convnet": (8, 16, 16, 16), "lenet": (6, 16)}
            cfg.update({f"width_{i + 1}": w for i, w in enumerate(small[family])})
        return {**cfg, **extra}


def synthetic_cifar(n: int, device: torch.device, seed: int = 0) -> VisionArrays:
    """``n`` random CIFAR-shaped uint8 images and labels, drawn on ``device``."""
    g = torch.Generator(device=device).manual_seed(seed)
    x = torch.randint(0, 256, (n, 3, 32, 32), generator=g, device=device, dtype=torch.uint8)
    y = torch.randint(0, 10, (n,), generator=g, device=device)
    return VisionArrays(
        name="cifar10", x_train=x.cpu().numpy(), y_train=y.cpu().numpy(), source="synthetic"
    )


def run_fit(plan: Plan, data: VisionArrays, family: str, **extra: Any) -> list[dict[str, Any]]:
    """Train one config directly on the plan's device; return its per-epoch metrics."""
    cfg = VisionConfig.from_config(plan.config(family, **extra))
    if cfg.torch_threads:
        torch.set_num_threads(cfg.torch_threads)
    return [dict(m) for m in fit(cfg, data=data, device=plan.device).history]


def bare_throughput(plan: Plan, data: VisionArrays) -> dict[str, dict[str, float]]:
    """Images/s and the last epoch's training seconds of each family, eager (steps 1-2)."""
    out = {}
    for family in FAMILIES:
        history = run_fit(plan, data, family)
        out[family] = {
            "images_per_second": float(history[-1]["images_per_second"]),
            "last_epoch_train_s": _per_epoch_train(history)[-1],
        }
    return out


def compiled_epoch(plan: Plan, data: VisionArrays) -> dict[str, float] | None:
    """``fast`` with ``torch.compile``: warm-up seconds and the last epoch's train time."""
    if plan.smoke:
        return None  # inductor on this CPU takes minutes; the GPU run measures it
    clear_compiled()
    history = run_fit(plan, data, "fast", compile=True)
    per_epoch = _per_epoch_train(history)
    return {"compile_seconds": float(history[0]["compile_seconds"]), "epoch_train_s": per_epoch[-1]}


def _per_epoch_train(history: list[dict[str, Any]]) -> list[float]:
    totals = [float(m["train_seconds"]) for m in history]
    return [b - a for a, b in zip([0.0, *totals], totals, strict=False)]


def memory_across_trials(plan: Plan, data: VisionArrays) -> list[dict[str, Any]]:
    """Start and peak memory of repeated trials in one process (step 3)."""
    rows = []
    cuda = plan.device.type == "cuda"
    wide = {} if plan.smoke else {"width_3": 384}
    for i in range(plan.repeats):
        extra = wide if i % 3 == 2 else {}  # every third trial: another architecture
        if cuda:
            torch.cuda.reset_peak_memory_stats()
        start = torch.cuda.memory_allocated() / MIB if cuda else float("nan")
        run_fit(plan, data, "fast", epochs=1, compile=not plan.smoke, seed=i, **extra)
        peak = torch.cuda.max_memory_allocated() / MIB if cuda else float("nan")
        release_memory(plan.device)
        end = torch.cuda.memory_allocated() / MIB if cuda else float("nan")
        rows.append({"trial": i + 1, "arch": "wide" if extra else "default", "start_mb": start,
                     "peak_mb": peak, "after_release_mb": end})  # fmt: skip
    clear_compiled()
    release_memory(plan.device)
    return rows


def _try_over_cap(queue: Any) -> None:
    torch.cuda.set_per_process_memory_fraction(0.25, 0)
    total = torch.cuda.get_device_properties(0).total_memory
    try:
        torch.empty(int(0.3 * total), dtype=torch.uint8, device="cuda")
        queue.put("allocated 0.3 of the card: cap NOT enforced")
    except torch.OutOfMemoryError:
        queue.put("0.3 of the card refused (OutOfMemoryError): cap enforced")


def fractional_cap(plan: Plan) -> str:
    """Whether a process capped at 0.25 of the card can allocate 0.3 of it (step 4)."""
    if plan.smoke:
        return "not run on the CPU"
    ctx = mp.get_context("spawn")
    queue = ctx.Queue()
    proc = ctx.Process(target=_try_over_cap, args=(queue,))
    proc.start()
    proc.join(120)
    return queue.get(timeout=5) if not queue.empty() else f"child exited {proc.exitcode}"


# ----------------------------------------------------------------------------- Ray part


def _ray_available() -> str | None:
    try:
        import ray  # noqa: F401
        from ray import tune  # noqa: F401
    except ImportError as err:
        return f"ray is not installed here ({err})"
    return None


def _tuner(
    param_space: dict[str, Any],
    *,
    data: VisionArrays,
    resources: dict[str, float],
    samples: int,
    concurrent: int,
    storage: str,
    name: str,
) -> list[dict[str, Any]]:
    """Run ``vision_cnn`` trials with Tune's defaults plus actor reuse; their last metrics."""
    from ray import tune

    from distributed_bo.trainables.vision import train_vision_cnn

    trainable = tune.with_resources(tune.with_parameters(train_vision_cnn, data=data), resources)
    tuner = tune.Tuner(
        trainable,
        param_space=param_space,
        tune_config=tune.TuneConfig(
            num_samples=samples, max_concurrent_trials=concurrent, reuse_actors=True
        ),
        run_config=tune.RunConfig(storage_path=storage, name=name, verbose=0),
    )
    grid = tuner.fit()
    return [dict(r.metrics or {}) for r in grid if r.metrics]


def in_ray(plan: Plan, data: VisionArrays, storage: str) -> dict[str, dict[str, float]]:
    """Images/s of each family inside a Ray Tune trial, one GPU each, in turn (step 5)."""
    out = {}
    for family in FAMILIES:
        space = {**plan.config(family), "device": "auto"}
        one_gpu = {"cpu": 1, "gpu": 1}
        (metrics,) = _tuner(
            space, data=data, resources=one_gpu, samples=1, concurrent=1, storage=storage,
            name=f"ray_{family}",
        )  # fmt: skip
        out[family] = {"images_per_second": float(metrics["images_per_second"])}
    return out


def study(plan: Plan, data: VisionArrays, storage: str) -> dict[str, Any]:
    """16 ``fast`` trials on one GPU at 0.25 each, 4 at once: busy fraction, memory (step 6)."""
    from ray import tune

    from distributed_bo.report.data import busy_fraction, timeline

    space = {
        **plan.config("fast", epochs=plan.study_epochs, compile=not plan.smoke, device="auto"),
        "lr": tune.loguniform(4.0, 30.0),
        "seed": tune.randint(0, 2**31 - 1),
    }
    quarter = {"cpu": 0.5 if plan.smoke else 2, "gpu": 0.25}
    results = _tuner(
        space, data=data, resources=quarter, samples=plan.study_trials,
        concurrent=plan.concurrent, storage=storage, name="study",
    )  # fmt: skip
    rows = []
    for m in results:
        end = float(m["timestamp"])
        rows.append({
            "trial_id": m.get("trial_id"), "status": "COMPLETED", "node": m.get("node"),
            "gpu": json.dumps(m.get("gpu_ids")), "start_time": end - float(m["time_total_s"]),
            "end_time": end, "pid": m.get("pid"), "gpu_start_mb": m.get("gpu_start_mb"),
            "gpu_peak_mb": m.get("gpu_peak_mb"), "compile_seconds": m.get("compile_seconds"),
            "images_per_second": m.get("images_per_second"),
        })  # fmt: skip
    labels, bars = timeline(rows)
    compiles = [r["compile_seconds"] for r in rows if (r["compile_seconds"] or 0) > 0]
    return {
        "trials": len(rows),
        "lanes": len(labels),
        "busy": busy_fraction(labels, bars),
        "workers": len({r["pid"] for r in rows}),
        "compile_per_worker": compiles,
        "rows": sorted(rows, key=lambda r: r["start_time"]),
    }


# ----------------------------------------------------------------------------- report


def card() -> dict[str, str]:
    """The card's name and driver, or what ran instead."""
    if not torch.cuda.is_available():
        return {"card": "none (CPU)", "driver": "n/a"}
    try:
        query = ["nvidia-smi", "--query-gpu=driver_version", "--format=csv,noheader"]
        driver = subprocess.run(query, capture_output=True, text=True, timeout=20).stdout.strip()
    except (OSError, subprocess.SubprocessError):
        driver = "unknown"
    return {"card": torch.cuda.get_device_name(0), "driver": driver or "unknown"}


def _f(value: Any, digits: int = 1) -> str:
    if value is None or (isinstance(value, float) and value != value):
        return "n/a"
    return f"{value:,.{digits}f}" if isinstance(value, (int, float)) else str(value)


def write_markdown(path: Path, record: Mapping[str, Any]) -> None:
    """Write the record as the Markdown results page."""
    c, plan = record["card"], record["plan"]
    lines = [
        "# GPU check",
        "",
        f"- Command: `{record['command']}`",
        f"- Date (UTC): {record['date']}; wall time {record['wall_s']:.0f} s",
        f"- Card: **{c['card']}**, driver {c['driver']}; torch {torch.__version__}, "
        f"CUDA {torch.version.cuda}; Python {platform.python_version()}; "
        f"load before {record['load']}",
        f"- Data: {plan['images']:,} synthetic CIFAR-shaped images (random pixels and "
        "labels: speed and memory only)",
    ]
    if plan["smoke"]:
        lines.append("- **CPU smoke run**: small widths, 512 images; the figures mean nothing.")
    lines += ["", "## Throughput: bare vs inside a Ray Tune trial", "",
              "| model | images/s bare | images/s in Ray | ratio (target >= 0.95) | card |",
              "|---|---:|---:|---:|---|"]  # fmt: skip
    ray_part = record.get("ray") or {}
    for family in FAMILIES:
        bare = record["bare"][family]["images_per_second"]
        inside = (ray_part.get("in_ray") or {}).get(family, {}).get("images_per_second")
        ratio = inside / bare if inside else None
        lines.append(
            f"| {family} | {_f(bare, 0)} | {_f(inside, 0)} | {_f(ratio, 3)} | {c['card']} |"
        )
    fast = record["bare"]["fast"]
    comp = record.get("compiled")
    lines += [
        "",
        "## `fast` epoch time at batch 1,024 (airbench94: under 0.4 s on an A100-class card)",
        "",
        "| mode | train s / epoch (last epoch) | compile warm-up s | card |",
        "|---|---:|---:|---|",
        f"| eager | {_f(fast['last_epoch_train_s'], 3)} | - | {c['card']} |",
        f"| torch.compile | {_f(comp and comp['epoch_train_s'], 3)} | "
        f"{_f(comp and comp['compile_seconds'], 1)} | {c['card']} |",
        "",
        "## Memory across repeated trials in one process (actor reuse)",
        "",
        "| trial | architecture | allocated at start MiB | peak MiB | after release MiB |",
        "|---:|---|---:|---:|---:|",
    ]
    for r in record["memory"]:
        lines.append(f"| {r['trial']} | {r['arch']} | {_f(r['start_mb'])} | {_f(r['peak_mb'])} | "
                     f"{_f(r['after_release_mb'])} |")  # fmt: skip
    lines += ["", f"Fractional cap (0.25 of the card): {record['cap']}.", ""]
    if record.get("problems"):
        lines += ["## Problems", "", *(f"- {p}" for p in record["problems"]), ""]
    if not ray_part or ray_part.get("skipped"):
        lines += ["## Ray part", "", f"Skipped: {ray_part.get('skipped', 'not run')}.", ""]
    else:
        s = ray_part["study"]
        lines += [
            f"## {s['trials']}-trial study of `fast` at 0.25 GPU per trial",
            "",
            f"- Busy fraction (report timeline, {s['lanes']} lanes): **{_f(s['busy'], 3)}**",
            f"- Worker processes: {s['workers']}; compile warm-up per worker (s): "
            f"{', '.join(_f(x) for x in s['compile_per_worker']) or 'n/a'}",
            "",
            "| start order | worker pid | allocated at start MiB | peak MiB | images/s |",
            "|---:|---:|---:|---:|---:|",
        ]
        for i, r in enumerate(s["rows"], 1):
            lines.append(f"| {i} | {r['pid']} | {_f(r['gpu_start_mb'])} | {_f(r['gpu_peak_mb'])} | "
                         f"{_f(r['images_per_second'], 0)} |")  # fmt: skip
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text("\n".join(lines) + "\n")
    path.with_suffix(".json").write_text(json.dumps(record, indent=1, default=str))


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--cpu-smoke", action="store_true", help="tiny run on the CPU")
    parser.add_argument("--out", type=Path, default=None, help="Markdown results file")
    parser.add_argument("--images", type=int, default=50_000, help="synthetic training images")
    parser.add_argument("--skip-ray", action="store_true", help="torch part only")
    args = parser.parse_args(argv)
    smoke = args.cpu_smoke
    if not smoke and not torch.cuda.is_available():
        print("gpu_check: no CUDA device; run with --cpu-smoke on a CPU machine", file=sys.stderr)
        return 2
    plan = Plan(smoke=smoke, images=512 if smoke else args.images, epochs=2 if smoke else 3,
                study_trials=4 if smoke else 16, study_epochs=1 if smoke else 3,
                concurrent=2 if smoke else 4,
                repeats=3 if smoke else 6)  # fmt: skip
    out = args.out or (Path(tempfile.mkdtemp()) / "gpu_check.md" if smoke else RESULTS)
    started = time.time()
    record: dict[str, Any] = {
        "command": "bash benchmarks/gpu_check.sh " + " ".join(argv or sys.argv[1:]),
        "date": time.strftime("%Y-%m-%d %H:%M", time.gmtime()),
        "load": " / ".join(f"{x:.1f}" for x in os.getloadavg()),
        "card": card(),
        "plan": dataclasses.asdict(plan),
    }

    def step(what: str) -> None:
        print(f"[{time.time() - started:5.0f} s] {what}", flush=True)

    if smoke:
        torch.set_num_threads(1)
    step("synthetic data")
    data = synthetic_cifar(plan.images, plan.device)
    step("1-2: bare throughput and epoch time")
    record["bare"] = bare_throughput(plan, data)
    step("2: torch.compile")
    record["compiled"] = compiled_epoch(plan, data)
    step("3: memory across repeated trials")
    record["memory"] = memory_across_trials(plan, data)
    step("4: fractional memory cap")
    record["cap"] = fractional_cap(plan)
    missing = "--skip-ray" if args.skip_ray else _ray_available()
    if missing:
        record["ray"] = {"skipped": missing}
    else:
        record["ray"] = _ray_part(plan, data, step)
    record["wall_s"] = time.time() - started
    record["problems"] = problems(plan, record)
    write_markdown(out, record)
    step(f"wrote {out}")
    print(out.read_text())
    for problem in record["problems"]:
        print(f"gpu_check: {problem}", file=sys.stderr)
    return 1 if record["problems"] else 0


def problems(plan: Plan, record: Mapping[str, Any]) -> list[str]:
    """What did not run as planned (each a reason to exit non-zero)."""
    found = []
    for family, got in record["bare"].items():
        if not got["images_per_second"] > 0:
            found.append(f"{family}: no training throughput measured")
    if len(record["memory"]) != plan.repeats:
        found.append(f"memory: {len(record['memory'])} of {plan.repeats} trials ran")
    ray_part = record.get("ray") or {}
    if not ray_part.get("skipped"):
        if sorted(ray_part["in_ray"]) != sorted(FAMILIES):
            found.append(f"in Ray: only {sorted(ray_part['in_ray'])} ran")
        if ray_part["study"]["trials"] != plan.study_trials:
            found.append(f"study: {ray_part['study']['trials']} of {plan.study_trials} trials")
    return found


def _ray_part(plan: Plan, data: VisionArrays, step: Callable[[str], None]) -> dict[str, Any]:
    import ray

    storage = tempfile.mkdtemp(prefix="gpu_check_")
    gpus = 1 if plan.smoke else torch.cuda.device_count()
    ray.init(address="local", _node_ip_address="127.0.0.1", include_dashboard=False,
             num_cpus=2 if plan.smoke else os.cpu_count(), num_gpus=gpus,
             log_to_driver=False, configure_logging=False)  # fmt: skip
    try:
        step("5: the same loops inside Ray Tune trials")
        inside = in_ray(plan, data, storage)
        step(f"6: {plan.study_trials}-trial study at 0.25 GPU per trial")
        return {"in_ray": inside, "study": study(plan, data, storage)}
    finally:
        ray.shutdown()


if __name__ == "__main__":
    sys.exit(main())
