"""Ports of the h10 range (8101-8110) for the Celery stack tier and its fault tests."""

from __future__ import annotations

from tests.support.stack import free_port

H10_PORTS = range(8101, 8111)


def closed_port() -> int:
    """A port nothing listens on (connections to it are refused at once)."""
    return free_port(range(8110, 8100, -1))
