"""Position-aware polling in the app: the page and the API say when to ask again, farther back
later; refreshing early gains nothing and, past the allowance, costs the line nothing."""

from __future__ import annotations

from datetime import timedelta

import pytest

from admission.polling import PollPlan
from booking.config import ConfigError
from tests.waiting.support import (
    POSITION_RE,
    REFRESH_RE,
    add_slots,
    api_join,
    api_token,
    join_form,
    problem,
    text,
)

# One poll a second for the whole line: the floor of the formula, position p every 5p s or so.
TIGHT = {"QUEUE_POLL_BUDGET": 1, "QUEUE_MAX_ACTIVE": 1, "QUEUE_POLL_RATE_LIMIT": "4 per minute"}


def page_figures(client):
    page = client.get("/waiting-room/status")
    assert page.status_code == 200, text(page)[:500]
    body = text(page)
    return int(POSITION_RE.search(body).group(1)), int(REFRESH_RE.search(body).group(1))


def test_the_page_refreshes_and_the_api_polls_later_the_farther_back(build, now):
    app = build(**TIGHT)
    add_slots(app, now, 5)
    api_token(app.test_client())  # takes the one place: the rest wait
    front = app.test_client()
    ahead = api_join(front)
    for _ in range(8):
        api_join(app.test_client())
    browser = app.test_client()
    assert join_form(browser).status_code == 303
    position, refresh = page_figures(browser)
    assert position == 10
    assert ahead["position"] == 1 and 5 <= ahead["poll_after_seconds"] <= 6
    plain = PollPlan(budget_per_second=1, idle_seconds=300).interval(10, waiting=10)
    assert plain > 8 * 5  # ten places back: about eight times the front's interval
    assert plain <= refresh <= 1.2 * plain + 1  # jitter only lengthens it


def test_refreshing_early_keeps_the_same_place_and_past_the_allowance_changes_nothing(
    build, now, clock
):
    app = build(**TIGHT)
    add_slots(app, now, 5)
    api_token(app.test_client())
    first, second = app.test_client(), app.test_client()
    ticket = api_join(first)["ticket"]
    api_join(second)

    answers = [first.get(f"/api/v1/queue/tickets/{ticket}") for _ in range(6)]
    assert [a.status_code for a in answers] == [200, 200, 200, 200, 429, 429]
    assert {a.get_json()["position"] for a in answers[:4]} == {1}
    assert int(answers[4].headers["Retry-After"]) > 0
    assert problem(answers[5], 429)["detail"]
    # A refused poll is answered before the script touches the line: nobody moved.
    behind = app.test_client()
    assert api_join(behind)["position"] == 3

    clock.advance(timedelta(seconds=61))  # (every test client shares one address and allowance)
    browser = app.test_client()
    assert join_form(browser).status_code == 303
    places = [page_figures(browser)[0] for _ in range(3)]
    assert places == [4, 4, 4]  # refreshing neither loses nor gains a place


def test_a_poll_budget_under_one_is_refused_at_start(build):
    with pytest.raises(ConfigError):
        build(QUEUE_POLL_BUDGET=0)
