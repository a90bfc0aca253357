"""Account-wide endpoints (kie-api.md §4)."""

from __future__ import annotations

from aiohttp import web

from ..envelope import ok
from ..wire import account_of, runtime

ROUTES = web.RouteTableDef()


@ROUTES.get("/api/v1/chat/credit")
async def credit(request: web.Request) -> web.Response:
    # a float in real traffic (5916.25), though the docs show an int (§4)
    return ok(float(runtime(request).store.balance(account_of(request))))
