"""PNG charts with matplotlib: the crowds on the same axes, one chart per measure; the tuning
drills' admission rate and booking p99 over time."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from bench.targets import crowd_label

CHARTS = (
    ("latency_p95.png", "p95_ms", "Latency p95 over time (ms, all steps)"),
    ("waiting.png", "waiting", "People waiting in line"),
    ("admissions_per_minute.png", "admitted_per_min", "Admissions per minute"),
    ("bookings_per_minute.png", "booked_per_min", "Confirmed bookings per minute"),
    ("errors.png", "errors", "Errors per 5 s (5xx, timeouts, refused)"),
)


def draw(out: Path, series: dict[str, dict[str, list[float]]]) -> list[str]:
    """Draw each chart into out/ and return the file names."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    names = []
    for filename, key, title in CHARTS:
        fig, ax = plt.subplots(figsize=(7, 3), dpi=80)
        for label, data in series.items():
            ax.plot(data["t"], data[key], label=crowd_label(label))
        ax.set_title(title)
        ax.set_xlabel("seconds after 6 a.m.")
        ax.grid(alpha=0.3)
        ax.legend()
        fig.tight_layout()
        fig.savefig(out / filename)
        plt.close(fig)
        names.append(filename)
    return names


def draw_tuning(out: Path, tuning: dict[str, Any]) -> list[str]:
    """The self-tuning drills: the rate in force, and the booking p99 per 5 s against target."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    drills = {k: v for k, v in tuning.items() if isinstance(v, dict) and "samples" in v}
    if not drills:
        return []
    names = []
    fig, ax = plt.subplots(figsize=(7, 3), dpi=80)
    for label, drill in drills.items():
        points = [(s["t"], s["rate"]) for s in drill["samples"] if s.get("rate") is not None]
        ax.plot([t for t, _ in points], [r for _, r in points], label=label)
    ax.set_title("Admission rate in force (per minute)")
    ax.set_yscale("log")
    ax.set_xlabel("seconds into the drill")
    ax.grid(alpha=0.3)
    ax.legend()
    fig.tight_layout()
    fig.savefig(out / "tuning_rate.png")
    plt.close(fig)
    names.append("tuning_rate.png")
    fig, ax = plt.subplots(figsize=(7, 3), dpi=80)
    for label, drill in drills.items():
        bins = drill.get("bins", [])
        ax.plot([b["t"] for b in bins], [b["p99_ms"] for b in bins], marker=".", label=label)
    ax.axhline(tuning.get("target_ms", 500), color="grey", linestyle="--", label="target")
    ax.set_title("Booking steps p99 per 5 s (ms)")
    ax.set_xlabel("seconds into the drill")
    ax.grid(alpha=0.3)
    ax.legend()
    fig.tight_layout()
    fig.savefig(out / "tuning_p99.png")
    plt.close(fig)
    names.append("tuning_p99.png")
    return names
