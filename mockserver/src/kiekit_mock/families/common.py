"""Account-wide endpoints (kie-api.md §4)."""

from __future__ import annotations

from urllib.parse import urlsplit

from aiohttp import web

from .. import files
from ..envelope import ok
from ..route_helpers import account_of, json_body, origin_of, runtime
from .validation import invalid

ROUTES = web.RouteTableDef()


@ROUTES.get("/api/v1/chat/credit")
async def credit(request: web.Request) -> web.Response:
    # a float in real traffic (5916.25), though the docs show an int (§4)
    return ok(float(runtime(request).store.balance(account_of(request))))


@ROUTES.post("/api/v1/common/pageApiAnnouncementList")
async def announcements(request: web.Request) -> web.Response:
    """KIE's API announcements, a page of them: undocumented, but clients call it (an audit
    script reads each record's `publishDate`; kie-api.md §4, "Undocumented but used"). Its body
    (`language`, `projectSource`, `pageNum`, `pageSize`) is taken as given: the mock has no
    announcement, so every page is empty, in KIE's shape `data: {pages, records}`."""
    await json_body(request)
    return ok({"pages": 0, "records": []})


@ROUTES.post("/api/v1/common/download-url")
async def download_url(request: web.Request) -> web.Response:
    """A fresh link to a file the mock issued, valid 20 minutes (§4, §8): `data` is the URL.

    Any link the mock gave the caller's account qualifies — a result URL, a presigned one, even
    an expired one — while its task's media are kept (14 days, files.RETENTION_SECONDS).
    Anything else, including a URL of another host or account, is KIE's real answer: body code
    422 "url is wrong" (§4, HAR).
    """
    body = await json_body(request)
    url = body.get("url")
    if url is None or (isinstance(url, str) and not url.strip()):
        raise invalid("url cannot be empty")
    if not isinstance(url, str) or not _issued_here(request, url.strip()):
        raise invalid("url is wrong")
    path = urlsplit(url.strip()).path
    now = runtime(request).clock.now()
    return ok(files.presign(f"{origin_of(request)}{path}", now, files.DOWNLOAD_LINK_SECONDS))


def _issued_here(request: web.Request, url: str) -> bool:
    """Whether ``url`` names a file this mock serves for a task whose media are still kept."""
    try:
        parts = urlsplit(url)
        host = parts.netloc
    except ValueError:
        return False
    rt = runtime(request)
    task = files.task_of_file(rt.store, parts.path)
    if parts.scheme not in ("http", "https") or task is None or task.state != "success":
        return False
    if task.account_id != account_of(request):  # another account's file is no file of yours
        return False
    if host not in (request.host, urlsplit(task.origin).netloc):
        return False
    if not files.retained(task, rt.clock.now()):
        return False
    # the file must really exist: its route's own lookup says so (without the expiry check an
    # expired link would fail)
    found = files.find_file(request.app.router, rt, parts.path)
    return found is not None and found.status == 200
