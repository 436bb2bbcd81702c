"""Column charts drawn on the server: the geometry a template turns into inline SVG.

No JavaScript and no styles in the markup: a chart is rectangles, grid lines and text at
computed places in a fixed coordinate space (the SVG's viewBox), coloured by class in
static/admin.css. The numbers themselves are always given again in a table beside the chart.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass

WIDTH = 640
HEIGHT = 300
RIGHT, TOP, BOTTOM = 8, 16, 44  # the left margin fits the value axis's longest label
TICKS = 4
CHARACTER = 11.5  # the width of a character of the 20-unit axis text, roughly, in SVG units


@dataclass(frozen=True)
class Series:
    """One named run of values, one per category; None where nothing is known."""

    name: str
    kind: str  # the class suffix that colours it
    values: Sequence[int | None]


@dataclass(frozen=True)
class Rect:
    """One column."""

    x: float
    y: float
    width: float
    height: float
    kind: str
    title: str


@dataclass(frozen=True)
class Tick:
    """A value-axis grid line and its label."""

    y: float
    label: str


@dataclass(frozen=True)
class Label:
    """A category's label under the plot."""

    x: float
    label: str


@dataclass(frozen=True)
class Chart:
    """Everything a template needs to draw the chart."""

    width: int
    height: int
    left: int
    right: int
    top: int
    bottom: int
    rects: list[Rect]
    ticks: list[Tick]
    labels: list[Label]
    series: list[Series]
    empty: bool  # no value above zero: the template says so instead of drawing nothing


def nice_step(largest: int, ticks: int = TICKS) -> int:
    """A round step (1, 2 or 5 times a power of ten) so ``ticks`` steps reach ``largest``."""
    raw = max(largest, 1) / ticks
    power: int = 10 ** max(math.floor(math.log10(raw)), 0)
    for factor in (1, 2, 5, 10):
        if factor * power >= raw:
            return factor * power
    raise AssertionError("unreachable: 10 * power >= raw")


def column_chart(
    categories: Sequence[str],
    series: Sequence[Series],
    *,
    number: Callable[[int], str],
    overlay: bool = False,
) -> Chart:
    """Columns per category: side by side, or (``overlay``) each series over the one before.

    ``number`` formats a value for the reader (the axis and each column's tooltip). Categories
    are labelled as often as their labels fit side by side.
    """
    for run in series:
        if len(run.values) != len(categories):
            raise ValueError(f"{run.name}: {len(run.values)} values, {len(categories)} categories")
    largest = max((v for run in series for v in run.values if v is not None), default=0)
    step = nice_step(largest)
    top_value = step * max(math.ceil(largest / step), 1)
    values = [k * step for k in range(top_value // step + 1)]
    left = round(16 + CHARACTER * max(len(number(v)) for v in values))
    plot_width = WIDTH - left - RIGHT
    plot_height = HEIGHT - TOP - BOTTOM
    baseline = TOP + plot_height
    slot = plot_width / max(len(categories), 1)
    lanes = 1 if overlay else max(len(series), 1)
    bar = slot * 0.8 / lanes
    rects = []
    for i, category in enumerate(categories):
        for lane, run in enumerate(series):
            value = run.values[i]
            if not value:  # nothing (or nothing known) to draw; the table still says it
                continue
            height = plot_height * value / top_value
            x = left + i * slot + slot * 0.1 + (0 if overlay else lane * bar)
            title = f"{category}, {run.name}: {number(value)}"
            rects.append(Rect(_r(x), _r(baseline - height), _r(bar), _r(height), run.kind, title))
    ticks = [Tick(_r(baseline - plot_height * v / top_value), number(v)) for v in values]
    widest = max((len(c) for c in categories), default=1) * CHARACTER + 12
    every = max(1, math.ceil(widest / slot))
    labels = [
        Label(_r(left + (i + 0.5) * slot), category)
        for i, category in enumerate(categories)
        if i % every == 0
    ]
    return Chart(
        WIDTH,
        HEIGHT,
        left,
        WIDTH - RIGHT,
        TOP,
        baseline,
        rects,
        ticks,
        labels,
        list(series),
        empty=largest == 0,
    )


def _r(value: float) -> float:
    return round(value, 1)
