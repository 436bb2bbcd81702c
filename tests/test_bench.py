"""The benchmark's pure parts: statistics, the arrival curve, the generator's product split,
the analysis and the report; and its course checks' SQL, run on the test database.

Only the standard library, the app and bench's pure modules are imported, so these run in the
test environment without the benchmark's extra dependencies (aiohttp, matplotlib).
"""

from __future__ import annotations

import json
import math
from datetime import UTC, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest
from sqlalchemy import text

from bench import analysis, data, nginx, report
from bench.stats import (
    ArrivalCurve,
    arrival_times,
    kendall_tau,
    per_interval,
    percentile,
    ratio,
    summarize,
)
from booking.models import Reservation
from booking.services import holds, products, reservations
from booking.services.eligibility import EligibilityAnswers
from tests.support import make_clinic, make_slot, person, two_dose_product

ROOT = Path(__file__).resolve().parent.parent


def test_percentile_interpolates_between_ranks():
    values = [1, 2, 3, 4, 5, 6, 7, 8, 9, 10]
    assert percentile(values, 0) == 1
    assert percentile(values, 100) == 10
    assert percentile(values, 50) == pytest.approx(5.5)
    assert percentile(values, 95) == pytest.approx(9.55)
    assert percentile([], 50) is None
    assert percentile([7], 99) == 7
    with pytest.raises(ValueError):
        percentile(values, 101)


def test_summary_is_in_milliseconds_and_counts_errors():
    summary = summarize([0.010, 0.020, 0.030, 0.040], errors=1)
    assert summary.count == 4
    assert summary.p50_ms == pytest.approx(25.0)
    assert summary.max_ms == pytest.approx(40.0)
    assert summary.error_rate == pytest.approx(0.25)
    assert summarize([]).p99_ms is None
    assert summarize([]).error_rate == 0.0


def test_kendall_tau_of_same_reversed_and_one_swap():
    assert kendall_tau([1, 2, 3, 4], [10, 20, 30, 40]) == pytest.approx(1.0)
    assert kendall_tau([1, 2, 3, 4], [4, 3, 2, 1]) == pytest.approx(-1.0)
    # One adjacent swap among 4 items: 5 concordant, 1 discordant pair.
    assert kendall_tau([1, 2, 3, 4], [1, 3, 2, 4]) == pytest.approx(4 / 6)
    assert kendall_tau([1], [1]) is None
    with pytest.raises(ValueError):
        kendall_tau([1, 2], [1])


def test_kendall_tau_b_with_ties():
    # Known value: tau-b for x=(1,2,2,3), y=(1,2,3,3) is 0.8.
    assert kendall_tau([1, 2, 2, 3], [1, 2, 3, 3]) == pytest.approx(0.8)


def test_arrival_curve_spikes_to_the_factor_and_decays():
    curve = ArrivalCurve(base_rate=0.5, spike_factor=70, ramp_s=10, hold_s=20, decay_s=20)
    assert curve.rate(-5) == 0.5
    assert curve.rate(5) == pytest.approx(0.5 + (35 - 0.5) / 2)
    assert curve.rate(15) == pytest.approx(35)
    assert curve.rate(30 + 20) == pytest.approx(0.5 + 34.5 * math.exp(-1))
    assert curve.rate(10_000) == pytest.approx(0.5)


def test_arrival_times_follow_the_curve_and_are_reproducible():
    curve = ArrivalCurve(base_rate=1, spike_factor=20, ramp_s=1, hold_s=10, decay_s=1)
    times = arrival_times(curve, 60, seed=3)
    assert times == arrival_times(curve, 60, seed=3)
    assert times == sorted(times)
    assert all(0 <= t < 60 for t in times)
    counts = per_interval(times, 10, 60)
    # The spike (1 to 11 s, 20/s) brings far more than a calm 10 s later on (about 1/s).
    assert counts[0] > 100
    assert counts[-1] < 40
    expected = 0.5 * 1 * 19 + 20 * 10 + 19 * 1 + 1 * 60  # ramp, hold, decay tail, base
    assert abs(len(times) - expected) < 4 * math.sqrt(expected)


def test_per_interval_and_ratio():
    assert per_interval([0.1, 0.9, 1.5, 5.0, -1], 1.0, 3.0) == [2, 1, 0]
    assert ratio(1, 4) == 0.25
    assert ratio(None, 4) is None
    assert ratio(1, 0) is None


REQUESTS = [
    (0.0, "search", 0.050, "200", 1),
    (0.5, "join", 0.010, "201", 1),
    (1.0, "queue_status", 0.004, "200", 2),
    (1.5, "queue_status", 0.006, "200", 2),
    (2.0, "hold", 0.100, "503", 1),
    (3.0, "hold", 10.0, "timeout", 1),
    (4.0, "hold", 0.080, "201", 2),
    (9.0, "confirm", 0.090, "201", 2),
]
RESIDENTS = [
    {"arrival": 0.0, "outcome": "booked", "outcome_at": 9.1, "joined_at": 0.5, "admitted_at": 1.5},
    {
        "arrival": 1.0,
        "outcome": "sold_out",
        "outcome_at": 12.0,
        "joined_at": 1.0,
        "admitted_at": None,
    },
]


def test_step_table_counts_errors_and_timeouts():
    table = analysis.step_table(REQUESTS)
    assert list(table)[:3] == ["search", "join", "queue_status"]
    assert table["hold"]["count"] == 3
    assert table["hold"]["errors"] == 2
    assert table["hold"]["error_rate"] == pytest.approx(2 / 3)
    # Timeouts keep their (long) latency; refused or 5xx answers are left out of latency.
    assert table["hold"]["max_ms"] == pytest.approx(10_000)
    assert analysis.status_counts(REQUESTS)["timeout"] == 1


def test_the_tuning_drill_takes_the_booking_steps_p99_per_five_seconds():
    requests = [
        (0.5, "search", 0.020, "200", 1),
        (1.0, "confirm", 0.900, "201", 1),
        (2.0, "queue_status", 9.0, "200", 1),  # the waiting room is not the booking path
        (3.0, "hold", 5.0, "failover", 1),  # refused and retried elsewhere: not a request seen
        (6.0, "hold", 0.100, "201", 2),
    ]
    bins = analysis.booking_p99_by_bin(requests)
    assert [(b["t"], b["requests"]) for b in bins] == [(0.0, 2), (5.0, 1)]
    assert 800 < bins[0]["p99_ms"] <= 900 and bins[1]["p99_ms"] == 100


def test_the_report_shows_the_tuning_drills():
    drill = {
        "start_per_minute": 12000,
        "samples": [{"t": 0.4, "rate": 12000.0}, {"t": 5.2, "rate": 8400.0}],
        "bins": [
            {"t": 0.0, "requests": 9, "p99_ms": 900.0},
            {"t": 5.0, "requests": 9, "p99_ms": 80},
        ],
        "errors": 0,
        "requests": 40,
        "booked": 7,
        "rate_min": 8400.0,
        "rate_max": 12000.0,
        "rate_last": 8400.0,
        "bins_over_target": 1,
        "bins_over_target_second_half": 0,
    }
    results = {"tuning": {"reference_per_minute": 1200, "target_ms": 500, "10x too high": drill}}
    text = report.render(results)
    assert "| 10x too high | 12,000 | 8,400 / 12,000 / 8,400 | 1 / 0 | 0 / 40 | 7 |" in text
    assert "| 0 | 12,000 | 900 |" in text and "| 5 | 8,400 | 80 |" in text


def test_outcomes_and_error_window():
    figures = analysis.outcome_figures(RESIDENTS)
    assert figures["outcomes"] == {"booked": 1, "sold_out": 1}
    assert figures["last_outcome_s"] == 12.0
    assert figures["time_to_outcome_p50_s"] == pytest.approx(10.1)
    window = analysis.error_window(REQUESTS, 1.0)
    assert window == {"errors": 2, "first_s": 1.0, "last_s": 2.0, "span_s": 1.0}
    assert analysis.error_window(REQUESTS, 5.0)["errors"] == 0
    series = analysis.timeline(REQUESTS, RESIDENTS, bin_s=5.0)
    assert series["errors"][0] == 2
    assert series["waiting"][0] == 2


def _scenario(errors: int, p99: float, half_courses: int = 0) -> dict:
    return {
        "requests": 100,
        "errors": errors,
        "statuses": {"200": 100 - errors, **({"502": errors} if errors else {})},
        "steps": {
            step: {
                "count": 10,
                "errors": 0,
                "p50_ms": 1.0,
                "p95_ms": 2.0,
                "p99_ms": p99,
                "max_ms": p99,
            }
            for step in ("search", "queue_status", "hold", "confirm")
        },
        "outcomes": {
            "outcomes": {"booked": 5},
            "mean_bookings_per_minute": 10.0,
            "peak_bookings_per_minute": 12,
            "last_outcome_s": 30.0,
            "time_to_outcome_p50_s": 5.0,
            "time_to_outcome_p95_s": 9.0,
        },
        "generator_cpu": {"cpu_share_of_one_core": 0.2},
        "correctness": {
            "double_bookings": 0,
            "courses": 4,
            "half_courses": half_courses,
            "acknowledged_lost": 0,
            "confirmations_lost": 0,
            "confirmations_sent_twice": 0,
            "booked": 5,
            "capacity": 5,
            "live_holds": 0,
            "sold_out_exactly": True,
            "acknowledged": 5,
            "messages_equal_bookings": True,
            "messages_enqueued": 5,
            "kendall_tau": 1.0,
            "kendall_n": 5,
        },
    }


def test_report_states_each_target_met_or_not():
    results = {
        "machine": {"nproc": 2, "cpu_model": "Test CPU", "ram_gb": 4.0},
        "profile": {
            "name": "quick",
            "curve": {
                "base_rate": 0.5,
                "spike_factor": 70,
                "ramp_s": 10,
                "hold_s": 20,
                "decay_s": 20,
            },
        },
        "crowd": {"arrivals": 10, "off": _scenario(7, 900.0), "on": _scenario(0, 50.0)},
        "ceilings": {
            "hello_per_s": 1000.0,
            "fairslot_polls_per_s": 700.0,
            "bare_booking_per_s": 100.0,
            "fairslot_bookings_per_s": 60.0,
        },
    }
    met = {what: ok for what, _measured, ok in report.targets(results)}
    assert met["Queue on, 140 arrivals/s: 0 errors (5xx, timeouts, refused)"] is True
    assert met["Queue on, 140/s: queue-status p99 < 100 ms"] is True
    assert met["Queue on, 140/s: admitted users' booking steps p99 < 500 ms"] is True
    assert met["Queue on, 280 arrivals/s (140x): 0 errors"] is None  # not run
    assert met["Queue-status polls/s >= 100% of bare Flask hello"] is False  # 70%
    assert met["Confirmed bookings/s >= 30% of the bare single-statement booking"] is True  # 60%
    text = report.render(results)
    assert "| Queue-status polls/s >= 100% of bare Flask hello | 70% (700.0 vs 1,000.0) | no |" in (
        text
    )
    # Measured straight to both pools too (as many workers as the bare app): shown beside the
    # production path, which the target is judged on.
    results["ceilings"] |= {"fairslot_polls_direct_per_s": 1100.0}
    results["ceilings"] |= {"fairslot_bookings_direct_per_s": 20.0}
    met = {what: (measured, ok) for what, measured, ok in report.targets(results)}
    assert met["Queue-status polls/s >= 100% of bare Flask hello"] == (
        "70% (700.0 vs 1,000.0); straight to both pools, the bare app's worker count: 110%",
        False,
    )
    assert met["Confirmed bookings/s >= 30% of the bare single-statement booking"][1] is True
    text = report.render(results)
    assert "polls **110%** of hello, bookings **20%** of the bare booking" in text
    del results["ceilings"]["fairslot_polls_direct_per_s"]
    del results["ceilings"]["fairslot_bookings_direct_per_s"]
    assert "2 cores (Test CPU)" in text
    assert "| Errors (5xx, timeouts, refused) | 7 | 0 |" in text
    assert "| Searches and slot lists answered by nginx's cache | n/a | n/a |" in text
    results["crowd"]["on"]["cached"] = {"search": 1, "hold": 9}  # holds are never counted
    text = report.render(results)
    assert "| Searches and slot lists answered by nginx's cache | n/a | 1 of 10 (10%) |" in text
    assert "## Correctness" in text
    results["crowd"]["on_high"] = _scenario(3, 50.0)
    results["crowd"]["high"] = {"arrivals": 20, "spike_per_s": 280.0}
    met = {what: ok for what, _measured, ok in report.targets(results)}
    assert met["Queue on, 280 arrivals/s (140x): 0 errors"] is False
    text = report.render(results)
    assert "| Errors (5xx, timeouts, refused) | 7 | 0 | 3 |" in text
    assert "### Latency per step, queue on, 2x spike (ms)" in text
    assert "| crowd, queue on, 2x spike | 0 |" in text


def test_the_targets_of_scale_tuning_and_order():
    waiting = [
        {"waiting": 1_000, "http_p50_ms": 2.0, "redis_bytes_per_waiting": 310},
        {"waiting": 1_000_000, "http_p50_ms": 2.8, "redis_bytes_per_waiting": 240},
    ]
    slots = [
        {"slots": 10_500, "scale_slots": 10_000, "search_p50_ms": 8.0},
        {"slots": 1_000_500, "scale_slots": 1_000_000, "search_p50_ms": 13.0},
    ]
    high = {"start_per_minute": 12_000, "rate_last": 900.0, "bins": [{}] * 8}
    high["bins_over_target_second_half"] = 0
    low = {"start_per_minute": 120, "rate_max": 700.0}
    on = _scenario(0, 50.0)
    on["correctness"] = {**on["correctness"], "kendall_tau": 0.98}
    results = {
        "scale": {"slots": slots, "waiting": waiting},
        "tuning": {"target_ms": 500, "10x too high": high, "10x too low": low},
        "crowd": {"on": on},
    }
    rows = {what: (measured, ok) for what, measured, ok in report.targets(results)}
    search = next(k for k in rows if k.startswith("Search at 1M"))
    assert rows[search] == ("1.62x (13.0 vs 8.0 ms p50)", False)
    flat = next(k for k in rows if k.startswith("Queue status flat"))
    assert rows[flat] == ("1.40x at 1,000,000 waiting", True)
    assert rows["Redis memory per waiting person reported"] == (
        "240 bytes (1,000,000 waiting)",
        True,
    )
    held = next(k for k in rows if k.startswith("Tuning, admission 10x too high"))
    assert rows[held][1] is True and "0 of 4 bins over" in rows[held][0]
    ramp = next(k for k in rows if k.startswith("Tuning, admission 10x too low"))
    assert rows[ramp] == ("120 -> 700/min, 78% of 900", False)  # under 80% of capacity
    tau = rows["Admission order = arrival order (Kendall tau 1.000)"]
    assert tau == ("1 scenarios with admissions, lowest 0.980 (crowd, queue on)", False)
    # A quick run: no 1M rows, so not measured, but the figure up to 100k is shown.
    results["scale"]["waiting"][1]["waiting"] = 100_000
    rows = {what: (measured, ok) for what, measured, ok in report.targets(results)}
    assert rows[flat] == ("1.40x at 100,000 waiting (1M: full run)", None)
    assert rows[search][1] is False
    results["scale"]["slots"] = slots[:1]
    rows = {what: (measured, ok) for what, measured, ok in report.targets(results)}
    assert rows[search][1] is None


def test_the_failover_drills_count_only_through_nginx():
    drill = {"bookings": {"acknowledged_missing": 0, "booked_twice": 0, "emails_missing": 0}}
    drill["bookings"]["emails_doubled"] = 0
    results = {"failover_redis": {**drill, "front": "in-process"}}
    rows = {what: ok for what, _m, ok in report.targets(results)}
    assert rows["Redis failover drill ran, its crowd through nginx"] is False
    assert rows["PostgreSQL failover drill ran, its crowd through nginx"] is None
    results["failover_redis"]["front"] = "nginx"
    results["failover_postgres"] = {**drill, "front": "nginx"}
    results["failover_postgres"]["bookings"] = {**drill["bookings"], "booked_twice": 1}
    rows = {what: ok for what, _m, ok in report.targets(results)}
    assert rows["Redis failover drill ran, its crowd through nginx"] is True
    bookings = next(k for k in rows if k.startswith("Failover drills:"))
    assert rows[bookings] is False


def test_the_pool_splits_side_by_side():
    assert nginx.parse_split("2,2") == (2, 2)
    for bad in ("0,4", "3", "a,b", "1,2,3"):
        with pytest.raises(ValueError):
            nginx.parse_split(bad)
    results = {"pools": {"splits": {"1 + 3": _scenario(4, 900.0), "2 + 2": _scenario(0, 400.0)}}}
    text = report.render(results)
    assert "| | 1 + 3 | 2 + 2 |" in text
    assert "| Errors / requests | 4 / 100 | 0 / 100 |" in text
    assert "| Booking steps, worst p99 (ms) | 900.0 | 400.0 |" in text
    assert "| pools 1 + 3, queue on | 0 |" in text


def test_report_says_not_measured_when_a_part_is_missing():
    text = report.render({"machine": {}, "profile": {"name": "quick"}})
    assert "| Queue-status polls/s >= 100% of bare Flask hello | n/a | not measured |" in text
    assert "## Flash crowd" not in text


def test_report_fails_the_target_on_a_dose_one_without_its_dose_two():
    results = {
        "machine": {},
        "profile": {"name": "quick"},
        "crowd": {"off": _scenario(0, 50.0, half_courses=1), "on": _scenario(0, 50.0)},
    }
    met = {what: ok for what, _measured, ok in report.targets(results)}
    target = next(what for what in met if what.startswith("No double booking"))
    assert "dose 1 without dose 2" in target and met[target] is False
    assert "| crowd, queue off | 0 | 4 (1) |" in report.render(results)
    results["crowd"]["off"] = _scenario(0, 50.0)
    assert all(ok for what, _m, ok in report.targets(results) if what == target)


def test_the_crowd_books_mostly_two_dose_courses():
    for per_day in (1, 2, 5, 12, 20, 40):
        split = data.product_split(per_day)
        assert sum(split.values()) == per_day
        assert split[data.PRODUCT] >= 1
        if per_day >= 4:
            courses = sum(n for key, n in split.items() if key in data.COURSE_PRODUCTS)
            assert courses / per_day >= 0.6
    assert set(data.product_split(12)) == {data.PRODUCT, *data.COURSE_PRODUCTS}


def test_two_dose_slots_reach_past_the_horizon_by_the_latest_interval(session):
    catalogue = {p.key: p for p in products.list_products(session)}
    for key, latest in data.COURSE_PRODUCTS.items():
        product = catalogue[key]
        assert product.doses == 2 and product.interval_max_days == latest
        days = data.course_days(1, latest)
        # Dose 1 on the horizon's last day still finds every day of its dose-2 window.
        assert days[-1] == data.HORIZON_DAYS + product.interval_max_days
        assert 1 + product.interval_days in days
    assert catalogue[data.PRODUCT].doses == 1


def _book_course(session, now, n):
    clinic = make_clinic(session, now)
    pfizer = two_dose_product(session)
    first = make_slot(session, clinic, now + timedelta(days=2), product_id=pfizer.id)
    assert pfizer.interval_days is not None
    # Dose 2's default: the same wall-clock time (across daylight saving) on the interval day.
    tz = ZoneInfo(clinic.timezone)
    local = first.starts_at.astimezone(tz).replace(tzinfo=None)
    due = (local + timedelta(days=pfizer.interval_days)).replace(tzinfo=tz).astimezone(UTC)
    make_slot(session, clinic, due, product_id=pfizer.id)
    hold = holds.place_hold(session, first.id, now=now, hold_minutes=10)
    return reservations.confirm_hold(
        session,
        hold.hold_token,
        person(n),
        answers=EligibilityAnswers(True, True),
        admission_ticket=None,
        now=now,
        secret_key="bench-test",
    )


def test_the_course_checks_find_a_dose_one_without_its_dose_two(session, now):
    def count(sql):
        session.flush()
        return session.execute(text(sql)).scalar_one()

    done = _book_course(session, now, 1)
    assert done.second_dose is not None
    assert (count(data.COURSES_SQL), count(data.HALF_COURSES_SQL)) == (1, 0)
    assert count(data.SAME_PERSON_TWICE_SQL) == 0  # dose 1 and dose 2: one person, two doses
    done.second_dose.status = "cancelled"
    assert count(data.HALF_COURSES_SQL) == 1
    done.second_dose.status = "confirmed"
    done.reservation.status = "cancelled"
    assert count(data.HALF_COURSES_SQL) == 1  # a dose 2 standing on nothing
    second = session.get(Reservation, done.second_dose.id)
    second.prior_dose_date = now.date()  # "dose 2 only": dose 1 given elsewhere
    assert count(data.HALF_COURSES_SQL) == 0


def test_report_has_the_redis_failover_drill_when_it_ran():
    figures = json.loads((ROOT / "bench/results/2026-12-07-drills/failover_redis.json").read_text())
    text = report.render({"machine": {}, "profile": {"name": "quick"}, "failover_redis": figures})
    assert "## Redis failover (Sentinel: the primary killed for good)" in text
    assert "| 2.4 | 338 (48) | 0.0-2.3 | 0 | 0 / 0 | 0 / 0 | 0 / 0 | 0 / 0 |" in text
    assert "## Redis failover" not in report.render({"machine": {}, "profile": {"name": "quick"}})


def test_report_has_the_postgresql_failover_drill_when_it_ran():
    path = ROOT / "bench/results/2026-12-07-drills/failover_postgres.json"
    figures = json.loads(path.read_text())
    text = report.render(
        {"machine": {}, "profile": {"name": "quick"}, "failover_postgres": figures}
    )
    assert "## PostgreSQL failover" in text
    assert "| on | 1.3 | 8 (2) | 0.1-1.2 | 0 / 0 | 0 / 0 | 108.0 / 104.0 (1.04x) |" in text
