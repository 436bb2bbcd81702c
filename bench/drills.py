"""Placeholder: drills of the benchmark (not yet written)."""

from __future__ import annotations

from typing import Any


def run(*args: Any) -> dict[str, Any]:
    """Not written yet: nothing measured."""
    return {}
