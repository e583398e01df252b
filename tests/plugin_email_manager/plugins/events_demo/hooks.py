"""Subscribes to ``mail_event`` (declared by the email manager) and records what it hears."""

from __future__ import annotations

from host.hookspecs import hookimpl

RECEIVED: list[tuple[str, dict]] = []


@hookimpl
async def mail_event(event: str, payload: dict) -> None:
    RECEIVED.append((event, payload))
