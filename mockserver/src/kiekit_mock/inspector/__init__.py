"""The inspector: a page at ``GET /_mock/ui`` that shows what a client did to the mock.

The request journal live (each request and the answer as sent), tasks with their lifecycle and
callbacks, rules, faults, accounts and rate windows, with buttons that steer the mock. It is
plain HTML, CSS and JavaScript modules in ``static/``, served as they are: nothing to build,
nothing fetched from another host (the Content-Security-Policy says so to the browser too).
The page reads and steers the mock only through the public ``/_mock/`` control API, and learns
when to look again from ``GET /_mock/changes`` (changes.py). Like the control API it is served
without a key: the mock binds to loopback only.
"""

from __future__ import annotations

import re
from importlib import resources

from aiohttp import web

PAGE = "/_mock/ui"
_STATIC = resources.files(__name__) / "static"
_TYPES = {
    "html": "text/html",
    "js": "text/javascript",
    "css": "text/css",
    "svg": "image/svg+xml",
}
_ASSET = re.compile(r"^[a-z][a-z0-9-]*\.(js|css|svg)$")  # flat names: no way out of static/
HEADERS = {
    # everything from the mock itself; no inline script, no frames, no forms posted elsewhere
    "Content-Security-Policy": (
        "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
        "connect-src 'self'; base-uri 'none'; form-action 'none'; frame-ancestors 'none'"
    ),
    "Cache-Control": "no-cache",  # a newer mock's page is seen at the next load
    "X-Content-Type-Options": "nosniff",
}

ROUTES = web.RouteTableDef()


def _serve(name: str) -> web.Response:
    resource = _STATIC / name
    if not resource.is_file():
        raise web.HTTPNotFound(text=f"no such inspector file: {name}")
    kind = _TYPES[name.rsplit(".", 1)[1]]
    return web.Response(
        body=resource.read_bytes(), content_type=kind, charset="utf-8", headers=HEADERS
    )


@ROUTES.get(PAGE)
async def page(request: web.Request) -> web.Response:
    return _serve("index.html")


@ROUTES.get(PAGE + "/{name}")
async def asset(request: web.Request) -> web.Response:
    name = request.match_info["name"]
    if not _ASSET.match(name):
        raise web.HTTPNotFound(text=f"no such inspector file: {name}")
    return _serve(name)


__all__ = ["PAGE", "ROUTES"]
