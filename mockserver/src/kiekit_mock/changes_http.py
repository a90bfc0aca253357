"""``GET /_mock/changes``: the long-poll over the mock's change token (changes.py)."""

from __future__ import annotations

from collections.abc import Mapping

from aiohttp import web

from .controlwire import ControlError, answer, refuse, refuse_unknown
from .runtime import RUNTIME

MAX_WAIT = 30.0  # seconds a long-poll may be held (browsers and proxies time out near 60)
ROUTES = web.RouteTableDef()


@ROUTES.get("/_mock/changes")
async def changes(request: web.Request) -> web.Response:
    """?since=<token> &wait=<seconds, at most 30>: {"token", "topics": {topic: token}}."""
    query = request.query
    try:
        refuse_unknown(query, {"since", "wait"})
        wait = _wait(query)
    except ControlError as exc:
        return refuse(exc)
    return answer(await request.app[RUNTIME].changes.wait(query.get("since"), wait))


def _wait(query: Mapping[str, str]) -> float:
    text = query.get("wait", "0")
    try:
        wait = float(text)
    except ValueError:
        raise ControlError("wait", f"must be a number of seconds from 0 to {MAX_WAIT:g}") from None
    if not 0 <= wait <= MAX_WAIT:
        raise ControlError("wait", f"must be a number of seconds from 0 to {MAX_WAIT:g}")
    return wait


async def wake_waiters(app: web.Application) -> None:
    """on_shutdown: held long-polls answer at once, so stopping never waits them out."""
    app[RUNTIME].changes.wake_all()


__all__ = ["MAX_WAIT", "ROUTES", "wake_waiters"]
