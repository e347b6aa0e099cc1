"""Percentiles and paired statistics over seeds (lower values win)."""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np


def pct(values: Sequence[float], p: float) -> float:
    """The ``p``-th percentile of ``values``."""
    return float(np.percentile(np.asarray(values, dtype=float), p))


def fmt(x: float) -> str:
    """Three significant-ish digits; scientific notation for tiny or huge values."""
    if x is None or (isinstance(x, float) and math.isnan(x)):
        return "-"
    return f"{x:.2e}" if (abs(x) < 1e-2 or abs(x) >= 1e3) and x != 0 else f"{x:.3f}"


def seed_range(seeds: Sequence[int]) -> str:
    """``"seeds 0-9"`` for a contiguous range, else the list."""
    if not seeds:
        return "none"
    if list(seeds) == list(range(seeds[0], seeds[-1] + 1)):
        return f"seeds {seeds[0]}-{seeds[-1]}"
    return "seeds " + ",".join(map(str, seeds))


def sign_test(wins: int, losses: int) -> float:
    """Two-sided exact sign test p-value (ties dropped)."""
    n = wins + losses
    if n == 0:
        return 1.0
    tail = sum(math.comb(n, k) for k in range(min(wins, losses) + 1)) / 2**n
    return min(1.0, 2 * tail)


def paired_counts(a: Mapping[int, float], b: Mapping[int, float]) -> tuple[int, int, int, float]:
    """Wins, ties, losses of ``a`` against ``b`` over common seeds (lower wins), and p."""
    seeds = sorted(set(a) & set(b))
    wins = sum(a[s] < b[s] - 1e-12 for s in seeds)
    losses = sum(a[s] > b[s] + 1e-12 for s in seeds)
    return wins, len(seeds) - wins - losses, losses, sign_test(wins, losses)


def wtl(a: Mapping[int, float], b: Mapping[int, float]) -> str:
    """``"W-T-L (p=..)"`` of ``a`` against ``b`` over common seeds (lower wins)."""
    if not set(a) & set(b):
        return "-"
    w, t, losses, p = paired_counts(a, b)
    return f"{w}-{t}-{losses} (p={p:.2g})"


def final_by(
    runs: list[dict[str, Any]], key: str = "function", value: str = "final_regret"
) -> dict[str, dict[str, dict[int, float]]]:
    """method -> function (or ``r[key]``) -> seed -> final regret (or ``r[value]``)."""
    out: dict[str, dict[str, dict[int, float]]] = {}
    for r in runs:
        out.setdefault(r["method"], {}).setdefault(r[key], {})[r["seed"]] = r[value]
    return out


def verdict(ours: Mapping[int, float], theirs: Mapping[int, float]) -> str:
    """Win / loss / tie of ``ours`` against ``theirs``, paired by seed (sign test, 5%)."""
    if not set(ours) & set(theirs):
        return "-"
    w, t, losses, p = paired_counts(ours, theirs)
    seeds = sorted(set(ours) & set(theirs))
    med_a = np.median([ours[s] for s in seeds])
    med_b = np.median([theirs[s] for s in seeds])
    if p < 0.05:
        word = "**win**" if w > losses else "**loss**"
    elif w == losses or abs(med_a - med_b) <= 1e-12:
        word = "tie"
    else:
        word = "ahead, n.s." if w > losses else "behind, n.s."
    return f"{word} {w}-{t}-{losses} (p={p:.2g})"


def mean_ranks(
    runs: list[dict[str, Any]], labels: Sequence[str], name: str
) -> tuple[list[int], dict[str, float]]:
    """Seeds on which all ``labels`` ran on ``name``, and each label's mean rank there."""
    final = final_by(runs)
    per = [set(final.get(v, {}).get(name, {})) for v in labels]
    seeds = sorted(set.intersection(*per)) if per else []
    ranks: dict[str, list[float]] = {v: [] for v in labels}
    for seed in seeds:
        vals = [final[v][name][seed] for v in labels]
        for v, val in zip(labels, vals, strict=True):
            below = sum(x < val - 1e-12 for x in vals)
            equal = sum(abs(x - val) <= 1e-12 for x in vals)
            ranks[v].append(below + (equal + 1) / 2)
    return seeds, {v: float(np.mean(r)) if r else float("nan") for v, r in ranks.items()}


def median_iqr(values: Sequence[float]) -> str:
    """Median [25th, 75th] n=..., or "-"."""
    if not values:
        return "-"
    return (
        f"{fmt(pct(values, 50))} [{fmt(pct(values, 25))}, {fmt(pct(values, 75))}] n={len(values)}"
    )
