"""How the report writes a figure, and how it reads one out of the nested results."""

from __future__ import annotations

from typing import Any


def fmt(value: Any, digits: int = 1) -> str:
    """A figure as the report's tables show it: n/a, yes/no, thousands separators."""
    if value is None:
        return "n/a"
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, float):
        return f"{value:,.{digits}f}"
    if isinstance(value, int):
        return f"{value:,}"
    return str(value)


def pct(value: float | None) -> str:
    """A ratio as a whole percentage, or n/a."""
    return "n/a" if value is None else f"{value:.0%}"


def dig(data: dict[str, Any], *path: str) -> Any:
    """The value at ``path`` in nested dicts, or None where any step is missing."""
    for key in path:
        if not isinstance(data, dict) or key not in data:
            return None
        data = data[key]
    return data
