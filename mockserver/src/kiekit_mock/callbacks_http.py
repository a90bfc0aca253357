"""``/_mock/callbacks``: the callbacks the mock owed, and how it sends them (callbacks.py)."""

from __future__ import annotations

from typing import Any

from aiohttp import web

from .callbacks import MAX_WAIT, CallbackSettings
from .config import CALLBACK_TAMPERS
from .control import account_filter
from .controlwire import (
    ControlError,
    answer,
    one_of,
    opt_int,
    query_int,
    query_number,
    read_object,
    refuse,
    refuse_unknown,
)
from .runtime import RUNTIME

ROUTES = web.RouteTableDef()
_SETTABLE = frozenset({"hmac_key", "copies", "tamper", "stale_seconds"})


@ROUTES.get("/_mock/callbacks")
async def list_callbacks(request: web.Request) -> web.Response:
    """?task_id= &account_id= | &api_key= (the task owner's) to filter; first waits for the
    deliveries in flight that the filter selects — only those, and only those in flight
    already, so other jobs' traffic never holds it — at most &timeout= seconds (default: the
    callback timeout, 15 s; then the records still in flight say "pending"); ?wait=0 not to
    wait. Records come in the order they were owed; &limit=n: only the newest n, &offset=k:
    skipping the newest k first (pages back), as GET /_mock/tasks pages.
    X-Total-Count: how many fit the filter, every page together."""
    dispatcher = request.app[RUNTIME].callbacks
    query = request.query
    try:
        refuse_unknown(query, _LIST_QUERY)
        account = account_filter(query)
        wait = one_of(query.get("wait", "1"), ("0", "1", "false", "true"), "wait")
        timeout = query_number(query, "timeout", maximum=MAX_WAIT)
        limit = query_int(query, "limit", minimum=1)
        offset = query_int(query, "offset", minimum=0) or 0
    except ControlError as exc:
        return refuse(exc)
    task_id = query.get("task_id") or None  # "": any task
    if wait not in ("0", "false"):
        await dispatcher.wait_idle(task_id=task_id, account=account, timeout=timeout)
    total, shown = dispatcher.page(task_id=task_id, account=account, limit=limit, offset=offset)
    response = answer([record.to_json() for record in shown])
    response.headers["X-Total-Count"] = str(total)
    return response


_LIST_QUERY = {"task_id", "account_id", "api_key", "wait", "timeout", "limit", "offset"}


@ROUTES.delete("/_mock/callbacks")
async def clear_callbacks(request: web.Request) -> web.Response:
    request.app[RUNTIME].callbacks.clear()
    return answer({"cleared": True})


@ROUTES.get("/_mock/callbacks/settings")
async def get_settings(request: web.Request) -> web.Response:
    return answer(_settings_json(request))


@ROUTES.put("/_mock/callbacks/settings")
async def put_settings(request: web.Request) -> web.Response:
    """Body: any of hmac_key (string, or null: unsigned), copies (1–10), tamper ("signature",
    "stale" or null), stale_seconds. Fields left out keep their value. Allowed hosts are not
    settable here: only whoever starts the mock may let callbacks leave the machine."""
    dispatcher = request.app[RUNTIME].callbacks
    try:
        body = await read_object(request)
        changes = _changes(body)
        current = dispatcher.settings
        if changes.get("tamper", current.tamper) and not changes.get("hmac_key", current.hmac_key):
            # a well-formed request the mock's present state refuses: 409, not 400
            conflict = {"error": "tamper needs signing: set an hmac_key first", "field": "tamper"}
            return answer(conflict, status=409)
        try:
            dispatcher.configure(**changes)
        except ValueError as exc:
            raise ControlError(_field_of(str(exc), changes), str(exc)) from None
    except ControlError as exc:
        return refuse(exc)
    return answer(_settings_json(request))


def _changes(body: dict[str, Any]) -> dict[str, Any]:
    if "allowed_hosts" in body:
        raise ControlError("allowed_hosts", "only the operator sets it (allowed_callback_hosts)")
    refuse_unknown(body, _SETTABLE)
    changes: dict[str, Any] = {}
    if "hmac_key" in body:
        key = body["hmac_key"]
        if key is not None and (not isinstance(key, str) or not key):
            raise ControlError("hmac_key", "must be a non-empty string or null")
        changes["hmac_key"] = key
    # null is "left out" (the OpenAPI document's convention): the field keeps its value
    if body.get("copies") is not None:
        changes["copies"] = opt_int(body, "copies", minimum=1)
    if "tamper" in body:
        tamper = body["tamper"]
        changes["tamper"] = None if tamper is None else one_of(tamper, CALLBACK_TAMPERS, "tamper")
    if body.get("stale_seconds") is not None:
        changes["stale_seconds"] = opt_int(body, "stale_seconds", minimum=1)
    return changes


def _field_of(message: str, changes: dict[str, Any]) -> str:
    """CallbackSettings' ValueError starts with the field it is about."""
    for name in CallbackSettings.__dataclass_fields__:
        if message.startswith(name):
            return name
    return next(iter(changes), "body")


def _settings_json(request: web.Request) -> dict[str, Any]:
    dispatcher = request.app[RUNTIME].callbacks
    return dispatcher.settings.to_json() | {"allowed_hosts": sorted(dispatcher.allowed_hosts)}


__all__ = ["ROUTES"]
