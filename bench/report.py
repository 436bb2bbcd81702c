"""The report: targets met or not, tables in markdown, raw CSV/JSON, and the charts.

``render`` and ``targets`` are pure (a results mapping in, text out) so they are unit-tested
from a small fixture; ``write`` puts the files on disk and draws the charts with matplotlib.
"""

from __future__ import annotations

import csv
import json
from pathlib import Path
from typing import Any

from bench.report_format import dig, fmt
from bench.report_sections import sections
from bench.targets import targets as target_rows

targets = target_rows  # the report's first table (bench/targets.py)


def layout_line(served: dict[str, Any]) -> str:
    """One line naming the layout that ran, so figures from both layouts are not confused."""
    if served.get("proxy") == "nginx":
        return (
            f"Layout: nginx {served.get('nginx')} (the shipped site) in front of a waiting-room "
            f"pool of {served.get('waiting_workers')} and a booking pool of "
            f"{served.get('booking_workers')} gunicorn workers."
        )
    return "Layout: no proxy, two gunicorn app servers side by side (`--proxy none`)."


def render(results: dict[str, Any]) -> str:
    """The whole report as markdown."""
    m = results.get("machine", {})
    lines = [
        f"# FairSlot flash-crowd benchmark ({dig(results, 'profile', 'name') or '?'} run)",
        "",
        f"Run {results.get('started_at', '?')} to {results.get('finished_at', '?')} on "
        f"{m.get('nproc', '?')} cores ({m.get('cpu_model', '?')}), {m.get('ram_gb', '?')} GB RAM; "
        f"load average at start {fmt(list(m.get('loadavg_at_start') or []))}.",
        "",
        layout_line(results.get("layout") or {"proxy": "none"}),
        "",
        "The machine may be shared with other work (the load average above says how busy it "
        "was), and the load generator runs on the same cores as the servers. Read ratios, not "
        "absolute numbers.",
        "",
        *(
            [
                f"**The run stopped early ({results['failed']}); below is what it measured.**",
                "",
            ]
            if results.get("failed")
            else []
        ),
        *(
            ["**The run was interrupted; what follows is what it measured.**", ""]
            if results.get("interrupted")
            else []
        ),
        "## Targets",
        "",
        "| Target | Measured | Met |",
        "|---|---|---|",
    ]
    for what, measured, met in targets(results):
        lines.append(f"| {what} | {measured} | {'not measured' if met is None else fmt(met)} |")
    lines.append("")
    lines.extend(sections(results))
    return "\n".join(lines) + "\n"


def write(out: Path, results: dict[str, Any], logs: dict[str, str]) -> None:
    """Write report.md, summary.json, raw/ (requests CSV, residents JSON, logs) and charts."""
    out.mkdir(parents=True, exist_ok=True)
    raw = out / "raw"
    raw.mkdir(exist_ok=True)
    series: dict[str, Any] = {}
    for label in ("off", "on", "on_high"):
        scenario = dig(results, "crowd", label)
        if not scenario:
            continue
        requests = scenario.pop("raw_requests")
        residents = scenario.pop("raw_residents")
        with open(raw / f"crowd_{label}_requests.csv", "w", newline="") as fh:
            writer = csv.writer(fh)
            writer.writerow(["t_s", "step", "latency_s", "status", "port"])
            writer.writerows(requests)
        (raw / f"crowd_{label}_residents.json").write_text(json.dumps(residents))
        from bench.analysis import timeline

        series[label] = timeline(requests, residents)
    for drill in [
        *(dig(results, "drills") or {}).values(),
        *(dig(results, "pools", "splits") or {}).values(),
    ]:
        drill.pop("raw_requests", None)
        drill.pop("raw_residents", None)
    (out / "timeline.json").write_text(json.dumps(series))
    for name, text in logs.items():
        (raw / name).write_text(text)
    (out / "summary.json").write_text(json.dumps(results, indent=1, default=str))
    charts: list[str] = []
    if series:
        from bench.charts import draw

        charts = draw(out, series)
    results["charts"] = charts
    if results.get("tuning"):
        from bench.charts import draw_tuning

        results["tuning"]["charts"] = draw_tuning(out, results["tuning"])
    (out / "report.md").write_text(render(results))
