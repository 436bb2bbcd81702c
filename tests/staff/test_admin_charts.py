"""The dashboard's column charts: scale, columns, axis labels, and what is left undrawn."""

from __future__ import annotations

import itertools

import pytest

from booking.admin.charts import HEIGHT, TOP, WIDTH, Series, column_chart, nice_step


@pytest.mark.parametrize(
    ("largest", "step"),
    [(0, 1), (1, 1), (4, 1), (5, 2), (9, 5), (48, 20), (480, 200), (1001, 500), (12_345, 5000)],
)
def test_the_scale_steps_are_round_and_four_of_them_reach_the_largest(largest, step):
    assert nice_step(largest) == step
    assert 4 * step >= largest


def test_columns_stand_on_the_baseline_in_proportion_to_their_values():
    chart = column_chart(
        ["a", "b", "c", "d"],
        [Series("Booked", "booked", [10, 5, 0, None])],
        number=lambda n: f"n{n}",
    )
    assert [r.title for r in chart.rects] == ["a, Booked: n10", "b, Booked: n5"]
    ten, five = chart.rects
    assert ten.y + ten.height == five.y + five.height == chart.bottom
    assert ten.height == pytest.approx(2 * five.height, abs=0.2)
    assert ten.y == pytest.approx(TOP, abs=0.1)  # 10 is the top of a 0-10 scale (step 5)
    assert [t.label for t in chart.ticks] == ["n0", "n5", "n10"]
    assert chart.ticks[0].y == chart.bottom and chart.ticks[-1].y == TOP
    assert all(chart.left <= r.x and r.x + r.width <= chart.right for r in chart.rects)
    assert not chart.empty
    assert (chart.width, chart.height) == (WIDTH, HEIGHT)


def test_side_by_side_series_share_a_category_without_overlapping_and_overlays_coincide():
    series = [Series("Sent", "sent", [3, 1]), Series("Failed", "failed", [1, 2])]
    grouped = column_chart(["x", "y"], series, number=str)
    sent, failed = grouped.rects[0], grouped.rects[1]
    assert sent.x + sent.width <= failed.x
    overlaid = column_chart(["x", "y"], series, number=str, overlay=True)
    assert overlaid.rects[0].x == overlaid.rects[1].x
    assert overlaid.rects[0].width == overlaid.rects[1].width


def test_the_value_axis_makes_room_for_its_longest_label():
    narrow = column_chart(["a"], [Series("s", "free", [9])], number=str)
    wide = column_chart(["a"], [Series("s", "free", [90_000])], number=lambda n: f"{n:,}")
    assert wide.left > narrow.left
    assert wide.ticks[-1].label == "100,000"


def test_long_category_labels_are_thinned_out_so_they_do_not_overlap():
    minutes = [f"10:{m:02d} AM" for m in range(60)]
    chart = column_chart(minutes, [Series("s", "waiting", [1] * 60)], number=str)
    xs = [label.x for label in chart.labels]
    assert 2 <= len(xs) < 12
    assert min(b - a for a, b in itertools.pairwise(xs)) >= 8 * 11.5
    few = column_chart(["Mon", "Tue"], [Series("s", "free", [1, 2])], number=str)
    assert [label.label for label in few.labels] == ["Mon", "Tue"]


def test_nothing_to_draw_is_said_and_mismatched_series_are_refused():
    assert column_chart(["a"], [Series("s", "free", [0])], number=str).empty
    assert column_chart([], [Series("s", "free", [])], number=str).rects == []
    with pytest.raises(ValueError, match="2 values, 1 categories"):
        column_chart(["a"], [Series("s", "free", [1, 2])], number=str)
