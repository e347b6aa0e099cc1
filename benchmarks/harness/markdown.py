"""The one Markdown writer: the report header (command, date, machine, load,
versions), tables, and the hand-written reading appended from a notes file."""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping, Sequence
from pathlib import Path
from typing import Any

from harness.stats import fmt, median_iqr, paired_counts, pct, verdict


def machine_line(m: Mapping[str, str]) -> str:
    """One Markdown line naming the machine that :func:`machine` described."""
    return (
        f"- Machine: nproc={m['nproc']}, CPU {m['cpu']}, RAM {m['ram']}, GPU: {m['gpu']}; "
        f"Python {m['python']}"
    )


def date_line(header: Mapping[str, Any]) -> str:
    """One Markdown line: when a run started, and after how long it finished or stopped."""
    wall = f"{header['wall_min']:.1f} min"
    done = f"finished after {wall}" if header.get("finished") else f"**partial** after {wall}"
    return f"- Date (UTC): started {header['date_utc']}; {done}"


def load_line(summary: Mapping[str, float], nproc: str) -> str:
    """One Markdown line describing the load average sampled during a run."""
    if not summary:
        return "- Load: not sampled"
    line = (
        f"- Load during the run (1-minute load average sampled every 30 s, "
        f"{summary['samples']} samples): median {summary['median']:.1f}, range "
        f"{summary['min']:.1f}-{summary['max']:.1f} on {nproc} cores"
    )
    try:
        loaded = summary["median"] > float(nproc)
    except ValueError:
        loaded = True
    if loaded:
        return line + (
            f"; above {nproc}, other processes competed for the CPU and wall-clock "
            "numbers are inflated"
        )
    return line + f"; median at most {nproc}: the CPU was not oversubscribed"


def versions_line(versions: Mapping[str, str]) -> str:
    """One Markdown line listing the package versions :func:`harness.versions` found."""
    return "- Versions: " + ", ".join(f"{k} {v}" for k, v in versions.items())


def header_lines(
    title: str,
    header: Mapping[str, Any],
    *,
    date: str | None = None,
    setup: Sequence[str] = (),
    after: Sequence[str] = (),
) -> list[str]:
    """The top of every report, from a header that :func:`harness.new_header` began.

    Args:
        title: The report's title (without ``#``).
        header: ``command``, ``date_utc``, ``wall_min``, ``machine``, ``versions``,
            ``load`` (optional) and ``command_note`` (optional).
        date: The date line, if not :func:`date_line`'s.
        setup: Lines between the machine and the load (processes, threads...).
        after: Lines after the versions (the protocol).

    Returns:
        Markdown lines: title, command, date, machine, setup, load, versions, after.
    """
    m = header["machine"]
    note = [f"- {header['command_note']}"] if header.get("command_note") else []
    return [
        f"# {title}",
        "",
        f"- Command: `{header['command']}`",
        *note,
        date if date is not None else date_line(header),
        machine_line(m),
        *setup,
        load_line(header.get("load", {}), m["nproc"]),
        versions_line(header["versions"]),
        *after,
    ]


def table(columns: Sequence[str], rows: Iterable[Sequence[str]]) -> list[str]:
    """A Markdown table: header row, separator, one line per row."""
    lines = ["| " + " | ".join(columns) + " |", "|" + "---|" * len(columns)]
    return lines + ["| " + " | ".join(row) + " |" for row in rows]


def reading(out: Path, notes_file: str) -> list[str]:
    """The "Reading" section: ``out/notes_file`` verbatim (hand-written and dated)."""
    notes = out / notes_file
    text = (
        notes.read_text().strip()
        if notes.exists()
        else (f"_none yet; written by hand in `{notes_file}`._")
    )
    return ["", "## Reading", "", text, ""]


def peer_table(
    final: Mapping[str, Mapping[str, Mapping[int, float]]],
    ours: str,
    peers: Sequence[str],
    columns: Sequence[str],
) -> list[str]:
    """``ours`` against each peer that ran: a verdict per column and the total W-T-L.

    ``final`` is method -> column -> seed -> value (lower wins), as
    :func:`harness.final_by` makes it; pairs are the seeds both ran.
    """
    mine = final.get(ours, {})
    rows = []
    for peer in peers:
        if peer not in final:
            continue
        row, tw, tt, tl = [peer], 0, 0, 0
        for c in columns:
            a, b = mine.get(c, {}), final[peer].get(c, {})
            row.append(verdict(a, b))
            if set(a) & set(b):
                w, t, losses, _ = paired_counts(a, b)
                tw, tt, tl = tw + w, tt + t, tl + losses
        row.append(f"{tw}-{tt}-{tl}")
        rows.append(row)
    return table(["Peer", *columns, "total W-T-L"], rows)


def lead_table(
    final: Mapping[str, Mapping[str, Mapping[int, float]]],
    labels: Sequence[str],
    rows: Sequence[str],
    *,
    row_title: str,
) -> list[str]:
    """Median [IQR] per row and method; bold: the lowest median; leads counted.

    ``final`` is method -> row -> seed -> value (lower is better), as
    :func:`harness.final_by` makes it. Only ``labels`` (the methods that ran, in
    column order) compete for the lowest median; ties count for each.
    """
    labels = [m for m in labels if m in final]
    lines, leads = [], dict.fromkeys(labels, 0)
    for row in rows:
        values = {m: list(final[m].get(row, {}).values()) for m in labels}
        meds = {m: pct(v, 50) for m, v in values.items() if v}
        best = min(meds.values()) if meds else None
        cells = []
        for m in labels:
            cell = median_iqr(values[m])
            lead = best is not None and meds.get(m) == best
            leads[m] += lead
            cells.append(f"**{cell}**" if lead else cell)
        lines.append([row, *cells])
    plural = row_title.lower() + ("es" if row_title.endswith("s") else "s")
    lines.append(
        [f"{plural} with the lowest median (ties count for each)", *map(str, leads.values())]
    )
    return table([row_title, *labels], lines)


#: Fractions of the budget at which :func:`fraction_table` reads the regret.
FRACTIONS = (0.25, 0.5, 1.0)


def at_fraction(run: Mapping[str, Any], fraction: float) -> float:
    """Regret after ``fraction`` of the run's ``budget`` (evaluations completed), from
    its ``regret_curve`` (best true regret so far, one entry per evaluation)."""
    return float(run["regret_curve"][max(math.ceil(fraction * run["budget"]), 1) - 1])


def fraction_table(
    runs: Sequence[Mapping[str, Any]],
    labels: Sequence[str],
    rows: Sequence[str],
    *,
    key: str,
    row_title: str,
) -> list[str]:
    """Median regret after 25 %, 50 % and 100 % of the budget, per row and method.

    Args:
        runs: Run records with ``method``, ``budget``, ``regret_curve`` and ``key``.
        labels: The methods, in column order; those with no run are left out.
        rows: The values of ``run[key]``, one table row each.
        key: The run field the rows split on (``"task"``, ``"function"``).
        row_title: The first column's title.
    """
    labels = [m for m in labels if any(r["method"] == m for r in runs)]
    lines = []
    for row in rows:
        cells = [row]
        for m in labels:
            mine = [r for r in runs if r["method"] == m and r[key] == row]
            cells.append(
                " / ".join(fmt(pct([at_fraction(r, f) for r in mine], 50)) for f in FRACTIONS)
                if mine
                else "-"
            )
        lines.append(cells)
    return table([f"{row_title} (25% / 50% / 100%)", *labels], lines)


def cost_table(runs: Sequence[Mapping[str, Any]], labels: Sequence[str]) -> list[str]:
    """Real seconds per proposal (ask + tell time / configs given) and per run, per
    method in ``labels`` that ran."""
    rows = []
    for m in labels:
        sp = [r["seconds_per_proposal"] for r in runs if r["method"] == m]
        wall = [r["wall_s"] for r in runs if r["method"] == m]
        if sp:
            rows.append(
                [
                    m,
                    f"{pct(sp, 50):.3g} [{pct(sp, 25):.3g}, {pct(sp, 75):.3g}]",
                    f"{pct(wall, 50):.0f}",
                    str(len(sp)),
                ]
            )
    return table(["Method", "s/proposal median [IQR]", "run wall s (median)", "runs"], rows)
