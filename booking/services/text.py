"""Marking the English text the services show residents, so it can be translated later.

The services stay Flask-free: ``N_`` only marks a message id for extraction (pybabel reads
``N_`` as a keyword) and keeps its named values. The views and templates translate it in the
reader's language at render time, then fill the values in (see ``booking.i18n.translate``).
"""

from __future__ import annotations


class Msg(str):
    """English text (already filled in) that remembers its message id and named values."""

    msgid: str
    params: dict[str, object]

    def __new__(cls, msgid: str, params: dict[str, object] | None = None) -> Msg:
        """Fill ``params`` into ``msgid`` for the English text; keep both for translation."""
        values = dict(params or {})
        text = super().__new__(cls, msgid % values if values else msgid)
        text.msgid = msgid
        text.params = values
        return text

    def __reduce__(self) -> tuple[object, ...]:
        """Pickle (e.g. into a job) as the id and the values, not the filled-in English."""
        return (Msg, (self.msgid, self.params))


def N_(msgid: str, **params: object) -> Msg:
    """Mark ``msgid`` for translation; ``params`` fill its %(name)s placeholders."""
    return Msg(msgid, params)
