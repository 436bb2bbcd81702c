"""Enrolling in two-step verification: a QR code of the otpauth:// URI beside the key, the key
in groups of four, and the code from either enrols the account."""

from __future__ import annotations

import re
from urllib.parse import parse_qs, unquote, urlsplit

import pyotp
import qrcode

from booking.db import db
from booking.messages.qr import qr_svg
from booking.models import StaffUser
from tests.staff.support import sign_in
from tests.support import csrf_from


def dark_cells(path):
    """The modules an SVG path of "M x y h w v1 h-w z" runs paints."""
    cells = set()
    for x, y, width in re.findall(r"M(\d+) (\d+)h(\d+)v1h-\3z", path):
        cells |= {(int(x) + i, int(y)) for i in range(int(width))}
    assert re.sub(r"M(\d+) (\d+)h(\d+)v1h-\3z", "", path) == ""  # nothing else in it
    return cells


def test_the_svg_paints_exactly_the_dark_modules_of_the_code():
    data = "otpauth://totp/FairSlot:a%40example.org?secret=JBSWY3DPEHPK3PXP&issuer=FairSlot"
    code = qrcode.QRCode(error_correction=qrcode.constants.ERROR_CORRECT_M, border=4)
    code.add_data(data)
    code.make(fit=True)
    matrix = code.get_matrix()
    svg = qr_svg(data)
    assert svg.size == len(matrix) == len(matrix[0])
    expected = {(x, y) for y, row in enumerate(matrix) for x, dark in enumerate(row) if dark}
    assert dark_cells(svg.path) == expected
    assert all(not matrix[y][x] for y in range(4) for x in range(svg.size))  # the quiet zone


def test_enrolment_shows_the_qr_code_beside_the_grouped_key_and_the_code_enrols(
    app, clock, accounts
):
    client = app.test_client()
    sign_in(client, "admin@example.org")
    with client.session_transaction() as s:
        secret = s["staff_enrol_secret"]
    page = client.get("/staff/two-factor").get_data(as_text=True)
    svg = re.search(r'<svg class="qr-code" viewBox="0 0 (\d+) \1"[^>]*>(.*?)</svg>', page, re.S)
    assert svg and 'role="img"' in svg.group(0) and 'aria-labelledby="qr-title"' in svg.group(0)
    assert '<title id="qr-title">' in svg.group(2)
    path = re.search(r'<path d="([^"]+)"', svg.group(2)).group(1)
    uri = re.search(r'<a href="(otpauth://[^"]+)"', page).group(1).replace("&amp;", "&")
    assert path == qr_svg(uri).path  # the picture is the link's URI
    query = parse_qs(urlsplit(uri).query)
    assert query["secret"] == [secret] and query["issuer"] == ["FairSlot"]
    assert unquote(urlsplit(uri).path) == "/FairSlot:admin@example.org"
    key = re.search(r'<p class="totp-key" id="totp-key">([^<]+)</p>', page).group(1)
    groups = key.split(" ")
    assert len(secret) == 32 and all(len(g) == 4 for g in groups) and "".join(groups) == secret
    assert "admin.css" in page and "style=" not in page
    done = client.post(
        "/staff/two-factor",
        data={"code": pyotp.TOTP(secret).at(clock()), "csrf_token": csrf_from(page)},
    )
    assert done.status_code == 303
    with app.app_context():
        user = db.session.query(StaffUser).filter_by(email="admin@example.org").one()
        assert user.totp_secret == secret


def test_a_second_sign_in_shows_no_key_and_no_qr_code(app, clock, accounts):
    with app.app_context():
        user = db.session.query(StaffUser).filter_by(email="admin@example.org").one()
        user.totp_secret = pyotp.random_base32()
        db.session.commit()
    client = app.test_client()
    sign_in(client, "admin@example.org")
    page = client.get("/staff/two-factor").get_data(as_text=True)
    assert "qr-code" not in page and "totp-key" not in page and "otpauth://" not in page
    assert "admin.css" not in page
