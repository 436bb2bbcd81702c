"""QR codes in pure Python (qrcode): a PNG for messages (with pypng), an SVG path for pages."""

from __future__ import annotations

import io
from dataclasses import dataclass

import qrcode
from qrcode.image.pure import PyPNGImage


def _code(data: str, *, box_size: int = 8) -> qrcode.QRCode:
    code = qrcode.QRCode(
        error_correction=qrcode.constants.ERROR_CORRECT_M, box_size=box_size, border=4
    )
    code.add_data(data)
    code.make(fit=True)
    return code


def qr_png(data: str, *, box_size: int = 8) -> bytes:
    """Encode ``data`` in a QR code (medium error correction) and return PNG bytes."""
    image = _code(data, box_size=box_size).make_image(image_factory=PyPNGImage)
    buffer = io.BytesIO()
    image.save(buffer)
    return buffer.getvalue()


@dataclass(frozen=True)
class QrSvg:
    """A QR code as one SVG path, in a square of ``size`` modules (the quiet zone included)."""

    size: int
    path: str


def qr_svg(data: str) -> QrSvg:
    """Encode ``data`` (medium error correction) as an SVG path: each row's dark runs."""
    matrix = _code(data).get_matrix()
    runs = []
    for y, row in enumerate(matrix):
        x = 0
        while x < len(row):
            if not row[x]:
                x += 1
                continue
            start = x
            while x < len(row) and row[x]:
                x += 1
            runs.append(f"M{start} {y}h{x - start}v1h-{x - start}z")
    return QrSvg(len(matrix), "".join(runs))
