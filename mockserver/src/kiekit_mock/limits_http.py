"""The status-query limits as a middleware, and the ``/_mock/limits`` control routes (limits.py).
The create limit is checked by the store itself, where a task is made."""

from __future__ import annotations

from aiohttp import web

from .controlwire import ControlError, answer, read_object, refuse
from .limits import settings_from_json
from .route_helpers import Handler, account_of
from .runtime import RUNTIME

JOBS_RECORD_INFO = "/api/v1/jobs/recordInfo"  # ≤10 requests/s per API key (§2.2)
# ≤3 requests/s per task (§8): 4o Image's record-info and every Suno status endpoint (§3.6)
PER_TASK_RECORD_INFO = frozenset(
    {
        "/api/v1/gpt4o-image/record-info",
        "/api/v1/generate/record-info",
        "/api/v1/lyrics/record-info",
        "/api/v1/wav/record-info",
        "/api/v1/vocal-removal/record-info",
        "/api/v1/midi/record-info",
        "/api/v1/mp4/record-info",
        "/api/v1/suno/cover/record-info",
        "/api/v1/voice/validate-info",
        "/api/v1/voice/record-info",
    }
)


@web.middleware
async def middleware(request: web.Request, handler: Handler) -> web.StreamResponse:
    """Count status queries against their window; 429 (an ErrorAnswer, shaped by the conventions
    middleware outside this one) once it is full. Runs after auth, so only real callers count."""
    if request.method == "GET" and (
        request.path == JOBS_RECORD_INFO or request.path in PER_TASK_RECORD_INFO
    ):
        rt = request.app[RUNTIME]
        per_task = request.path in PER_TASK_RECORD_INFO
        task_id = request.query.get("taskId")
        rt.limits.admit_poll(account_of(request), task_id, per_task, rt.clock.now())
    return await handler(request)


ROUTES = web.RouteTableDef()


@ROUTES.get("/_mock/limits")
async def get_limits(request: web.Request) -> web.Response:
    return answer(request.app[RUNTIME].limits.settings.to_json())


@ROUTES.put("/_mock/limits")
async def put_limits(request: web.Request) -> web.Response:
    limits = request.app[RUNTIME].limits
    try:
        settings = settings_from_json(limits.settings, await read_object(request))
    except ControlError as exc:
        return refuse(exc)
    return answer(limits.set(settings).to_json())


@ROUTES.get("/_mock/limits/windows")
async def list_windows(request: web.Request) -> web.Response:
    """The rate windows holding requests now, each with its count and the limit in force."""
    rt = request.app[RUNTIME]
    # read before the windows: the store's lock is never taken under the limits' one
    own = {acct.account_id: acct.max_creates_per_10s for acct in rt.store.accounts()}
    windows = rt.limits.windows(rt.clock.now(), own)
    return answer({"windows": [window.to_json() for window in windows]})


@ROUTES.delete("/_mock/limits/windows")
async def clear_windows(request: web.Request) -> web.Response:
    """Forget every request the windows have counted (the settings stay)."""
    request.app[RUNTIME].limits.reset()
    return answer({"cleared": True})


__all__ = ["ROUTES", "middleware"]
