"""PNG charts with matplotlib: queue on and off on the same axes, one chart per measure."""

from __future__ import annotations

from pathlib import Path

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
            ax.plot(data["t"], data[key], label=f"queue {label}")
        ax.set_title(title)
        ax.set_xlabel("seconds after 6 a.m.")
        ax.grid(alpha=0.3)
        ax.legend()
        fig.tight_layout()
        fig.savefig(out / filename)
        plt.close(fig)
        names.append(filename)
    return names
