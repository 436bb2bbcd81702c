"""The 2-1-1 console: preregister a caller (a call-back number for callers without either),
find a caller's preregistration, withdraw it; every view audited."""

from __future__ import annotations

from sqlalchemy import select

from booking.db import db
from booking.models import AuditEntry, Preregistration
from tests.preregistration.support import signup
from tests.support import csrf_from


def _form(agent) -> str:
    return csrf_from(agent.get("/agent/preregister").get_data(as_text=True))


def test_an_agent_preregisters_a_caller_with_only_a_call_back_number(app, agent):
    caller = signup(phone="", email="", callback_phone="617-555-0199")
    answer = agent.post("/agent/preregister", data={"csrf_token": _form(agent), **caller})
    assert answer.status_code == 303
    page = agent.get(answer.headers["Location"]).get_data(as_text=True)
    assert "Call back: +16175550199" in page and "Everyone" in page
    with app.app_context():
        row = db.session.scalars(select(Preregistration)).one()
        assert (row.channel, row.callback_phone, row.phone) == ("agent", "+16175550199", None)
        actions = db.session.scalars(select(AuditEntry.action)).all()
        assert {"agent.preregister", "agent.view_preregistration"} <= set(actions)


def test_the_page_then_the_console_cannot_make_a_second_one(app, client, agent):
    csrf = csrf_from(client.get("/preregister").get_data(as_text=True))
    assert client.post("/preregister", data={"csrf_token": csrf, **signup()}).status_code == 303
    again = agent.post("/agent/preregister", data={"csrf_token": _form(agent), **signup()})
    assert again.status_code == 409


def test_find_and_withdraw_a_callers_preregistration(app, client, agent):
    csrf = csrf_from(client.get("/preregister").get_data(as_text=True))
    client.post("/preregister", data={"csrf_token": csrf, **signup()})
    token = _form(agent)
    wrong = {"find_first_name": "Robinaa", "find_last_name": "Waiting", "dob": "1950-04-28"}
    assert (
        agent.post("/agent/preregistrations/find", data={"csrf_token": token, **wrong}).status_code
        == 404
    )
    right = {**wrong, "dob": "04/27/1950"}
    found = agent.post("/agent/preregistrations/find", data={"csrf_token": token, **right})
    assert found.status_code == 303
    path = found.headers["Location"]
    prereg_id = int(path.rsplit("/", 1)[1])
    withdrawn = agent.post(
        f"/agent/preregistrations/{prereg_id}/withdraw", data={"csrf_token": token}
    )
    assert "The preregistration is withdrawn." in withdrawn.get_data(as_text=True)
    with app.app_context():
        assert db.session.get(Preregistration, prereg_id).status == "withdrawn"


def test_an_agent_cannot_walk_through_ids(app, agent):
    agent.post("/agent/preregister", data={"csrf_token": _form(agent), **signup()})
    with app.app_context():
        prereg_id = db.session.scalars(select(Preregistration.id)).one()
    assert agent.get(f"/agent/preregistrations/{prereg_id + 1}").status_code == 404
    assert agent.get(f"/agent/preregistrations/{prereg_id}").status_code == 200
