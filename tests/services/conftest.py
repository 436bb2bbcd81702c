"""Fixtures shared by the service tests."""

from tests.services.course_world import course

__all__ = ["course"]
