"""The `/_mock/` control API for health, tasks, rules, the clock, the journal, accounts and reset.

It lets a test written in any language steer the mock over HTTP the way a Python test does
through MockServer: JSON in, JSON out, real HTTP statuses. A bad value is HTTP 400
`{"error": …, "field": …}` naming it; an unknown task, rule or account is 404; changing a task
that has already ended is 409. Every route is listed in mockserver/README.md.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Mapping
from functools import wraps
from typing import Any, get_args

from aiohttp import web

from .callbacks import CallbackRecord
from .clock import SCALE_RULE, scale_ok
from .config import account_id
from .controlwire import (
    ControlError,
    answer,
    one_of,
    opt_int,
    opt_number,
    opt_text,
    query_int,
    query_number,
    read_object,
    refuse,
    refuse_unknown,
)
from .envelope import loads
from .families import task_families
from .har import replay_view
from .requestlog import DUPLICATE_WINDOW, REQUEST_KINDS, CheckResult, Journal, JournalPage
from .rules import MAX_SECONDS, Lifecycle, Outcome, Rule
from .runtime import RUNTIME, Runtime
from .state import State, TaskSnapshot

ROUTES = web.RouteTableDef()
Handler = Callable[[web.Request], Awaitable[web.Response]]


def _controlled(handler: Handler) -> Handler:
    """Turn a ControlError raised anywhere in a handler into its HTTP 400 answer."""

    @wraps(handler)
    async def run(request: web.Request) -> web.Response:
        try:
            return await handler(request)
        except ControlError as exc:
            return refuse(exc)

    return run


def _missing(what: str, name: str, field: str) -> web.Response:
    return answer({"error": f"no {what} {name!r}", "field": field}, status=404)


def _rt(request: web.Request) -> Runtime:
    return request.app[RUNTIME]


# --- health ---


@ROUTES.get("/_mock/health")
async def health(request: web.Request) -> web.Response:
    """Up: what a CI job that starts the mock as a service polls before its tests (it answers
    once the server listens). `families`: extensions' too, so a job sees that its extension
    loaded; `instance`: a new one when the mock restarted (as in the journal's answers)."""
    from .openapi import VERSION  # here: the OpenAPI package imports this module

    return answer(
        {
            "status": "ok",
            "version": VERSION,
            "instance": _rt(request).changes.instance,
            "families": list(task_families()),
        }
    )


# --- tasks ---


@ROUTES.get("/_mock/tasks")
@_controlled
async def list_tasks(request: web.Request) -> web.Response:
    """?account_id= &api_key= &family= &state= — every task (creation order) that fits;
    &limit=n: only the newest n, &offset=k: skipping the newest k first (pages back).
    `total` counts every task that fits."""
    query = request.query
    refuse_unknown(query, {"account_id", "api_key", "family", "state", "limit", "offset"})
    limit = query_int(query, "limit", minimum=1)
    offset = query_int(query, "offset", minimum=0) or 0
    # a misspelt filter is refused: an empty list would pass a test's "nothing failed" check
    family, state = query.get("family") or None, query.get("state") or None  # "": any
    if family is not None:
        family = one_of(family, task_families(), "family")
    if state is not None:
        state = one_of(state, get_args(State), "state")
    total, shown = _rt(request).store.page(
        account=account_filter(query), family=family, state=state, limit=limit, offset=offset
    )
    # a large request body as a preview (GET /_mock/tasks/{id} has it whole)
    listed = _with_callbacks(_rt(request), shown, preview=True)
    return answer({"total": total, "tasks": listed})


@ROUTES.get("/_mock/tasks/{task_id}")
async def get_task(request: web.Request) -> web.Response:
    task_id = request.match_info["task_id"]
    task = _rt(request).store.find(task_id)
    if task is None:
        return _missing("task", task_id, "task_id")
    return answer({"task": _with_callbacks(_rt(request), [task])[0]})


def _with_callbacks(
    rt: Runtime, tasks: list[TaskSnapshot], *, preview: bool = False
) -> list[dict[str, Any]]:
    """The tasks' JSON, each with `callback`: what became of its last callback record —
    {"delivered", "reason", "status", "records"} (reason "pending": in flight), or null when
    none was owed yet (or the records were forgotten); and `replay`: for a task a loaded
    recording answers, what its client was answered (har.replay_view), else null. The
    inspector's list shows them. ``preview``: a large request body as its preview
    (TaskSnapshot.to_json)."""
    wanted = {task.task_id for task in tasks if task.callback_url is not None}
    last: dict[str, tuple[CallbackRecord, int]] = {}
    for task_id in wanted:
        records = rt.callbacks.records_of(task_id)
        if records:
            last[task_id] = (records[-1], len(records))
    shown = []
    for task in tasks:
        found = last.get(task.task_id)
        callback = None
        if found is not None:
            record, count = found
            callback = {
                "delivered": record.delivered,
                "reason": record.reason,
                "status": record.status,
                "records": count,
            }
        replay = replay_view(rt, task.task_id, task.origin) if rt.scenarios.active else None
        shown.append(task.to_json(preview=preview) | {"callback": callback, "replay": replay})
    return shown


@ROUTES.put("/_mock/tasks/{task_id}/outcome")
@_controlled
async def set_outcome(request: web.Request) -> web.Response:
    """Body: {"kind": "success"|"fail"|"moderation"|"callback_fail"|"create_failed",
    "code"?: int, "msg"?: str} or just the kind as a JSON string ("fail")."""
    outcome = Outcome.parse(await _object_or_word(request), where="body")
    return _change(request, lambda rt, task_id: rt.store.set_outcome(task_id, outcome))


@ROUTES.put("/_mock/tasks/{task_id}/lifecycle")
@_controlled
async def set_lifecycle(request: web.Request) -> web.Response:
    """Body: {"polls": n} | {"seconds": s} | {"polls": n, "seconds": s} | {"mode": "manual"} |
    {"mode": "immediate"}, or "manual" / "immediate" as a JSON string."""
    lifecycle = Lifecycle.from_json(await _object_or_word(request), where="body")
    return _change(request, lambda rt, task_id: rt.store.set_lifecycle(task_id, lifecycle))


@ROUTES.post("/_mock/tasks/{task_id}/advance")
async def advance_task(request: web.Request) -> web.Response:
    """One state on (to the end once due); an ended task stays as it is."""
    return _change(request, lambda rt, task_id: rt.step(task_id))


@ROUTES.post("/_mock/tasks/{task_id}/complete")
async def complete_task(request: web.Request) -> web.Response:
    """To the end now, with the task's planned outcome; its callback is owed as usual."""
    return _change(request, lambda rt, task_id: rt.step(task_id, complete=True))


async def _object_or_word(request: web.Request) -> object:
    """A JSON object body, or a bare JSON string (a shorthand such as "fail" or "manual")."""
    try:
        word = loads(await request.read())
    except ValueError:  # UnicodeDecodeError included
        word = None
    return word if isinstance(word, str) else await read_object(request)


def _change(request: web.Request, change: Callable[[Runtime, str], TaskSnapshot]) -> web.Response:
    task_id = request.match_info["task_id"]
    try:
        task = change(_rt(request), task_id)
    except KeyError:
        return _missing("task", task_id, "task_id")
    except ValueError as exc:  # the task has already ended
        return answer({"error": str(exc), "field": "task_id"}, status=409)
    return answer({"task": _with_callbacks(_rt(request), [task])[0]})


@ROUTES.get("/_mock/families")
async def list_families(request: web.Request) -> web.Response:
    """The task families this mock serves, built-in and added by extensions: what the tasks'
    `family` filter and a rule's `family` take (the inspector's lists read it)."""
    return answer({"families": list(task_families())})


# --- rules ---


@ROUTES.get("/_mock/rules")
async def list_rules(request: web.Request) -> web.Response:
    return answer({"rules": [view.to_json() for view in _rt(request).rules.rules()]})


@ROUTES.post("/_mock/rules")
@_controlled
async def add_rule(request: web.Request) -> web.Response:
    """Body: a rule (rules.Rule.from_json); answers 201 with it and its id."""
    body = await read_object(request)
    rule = Rule.from_json(body, account_of_key=account_id, families=task_families())
    return answer({"rule": _rt(request).rules.add(rule).to_json()}, status=201)


@ROUTES.delete("/_mock/rules")
async def clear_rules(request: web.Request) -> web.Response:
    _rt(request).rules.clear()
    return answer({"rules": [view.to_json() for view in _rt(request).rules.rules()]})


@ROUTES.delete("/_mock/rules/{rule_id}")
async def remove_rule(request: web.Request) -> web.Response:
    name = request.match_info["rule_id"]
    try:
        _rt(request).rules.remove(int(name))
    except (KeyError, ValueError):
        return _missing("rule", name, "rule_id")
    return answer({"removed": int(name)})


# --- clock ---


def _clock(rt: Runtime) -> dict[str, Any]:
    now = rt.clock.now()
    return {"now": now, "now_ms": int(now * 1000), "scale": rt.clock.scale}


@ROUTES.get("/_mock/clock")
async def get_clock(request: web.Request) -> web.Response:
    return answer(_clock(_rt(request)))


@ROUTES.put("/_mock/clock")
@_controlled
async def set_clock(request: web.Request) -> web.Response:
    """Body: {"scale": x} (0.001 to 1000): mock seconds per wall second from now on, what
    MockConfig.time_scale and --time-scale set at the start; the time passed stays."""
    body = await read_object(request)
    refuse_unknown(body, {"scale"})
    scale = body.get("scale")
    if scale is None:
        raise ControlError("scale", "is required")
    if not scale_ok(scale):
        raise ControlError("scale", SCALE_RULE)
    _rt(request).clock.set_scale(scale)
    return answer(_clock(_rt(request)))


@ROUTES.post("/_mock/clock/advance")
@_controlled
async def advance_clock(request: web.Request) -> web.Response:
    """Body: {"seconds": s} (s >= 0): every lifecycle, window and link moves on."""
    body = await read_object(request)
    refuse_unknown(body, {"seconds"})
    seconds = opt_number(body, "seconds", minimum=0)
    if seconds is None:
        raise ControlError("seconds", "is required")
    if seconds > MAX_CLOCK_ADVANCE:  # found by schemathesis: 1e308 s made every time infinite
        raise ControlError("seconds", f"must be at most {MAX_CLOCK_ADVANCE} (100 years)")
    _rt(request).clock.advance(seconds)
    return answer(_clock(_rt(request)))


MAX_CLOCK_ADVANCE = MAX_SECONDS  # one jump; millisecond times stay finite


# --- journal ---

_JOURNAL_FILTERS = {"path", "method", "task_id", "account_id", "api_key", "kind", "since", "until"}
_JOURNAL_PAGING = {"after", "before", "limit", "count", "bodies"}
_FLAGS = ("0", "1", "false", "true")  # a yes/no query parameter, as `wait` of /_mock/callbacks


@ROUTES.get("/_mock/journal")
@_controlled
async def query_journal(request: web.Request) -> web.Response:
    """?path= (exact or glob) &method= &task_id= &account_id= | &api_key= &kind= (create, poll,
    other) &since= &until= (mock-clock seconds) &after= &before= (seqs, exclusive) &limit= (the
    last n). `more`: older matches lie before these; `first_seq`/`last_seq`: the journal's
    bounds now (seqs are never reused: `after=last_seq` asks for what is new); `dropped`: how
    many of the oldest it let go to stay within MockConfig.journal_limit; `held`: how many it
    holds; `forgotten`: how many per-account resets forgot (gaps between the bounds);
    `instance`: the mock's (changes.py): when it changes, the mock restarted and its seqs
    began again. &count=1: `matched` counts every match between `after` and `before` (else
    null). &bodies=0: the records without the bodies sent and answered (a list's rows; one
    record in full: GET /_mock/journal/{seq})."""
    query = request.query
    refuse_unknown(query, _JOURNAL_FILTERS | _JOURNAL_PAGING)
    kind = query.get("kind")
    page = _rt(request).journal.page(
        path=query.get("path"),
        method=query.get("method"),
        task_id=query.get("task_id"),
        account_id=account_filter(query),
        kind=None if kind is None else one_of(kind, REQUEST_KINDS, "kind"),
        since=query_number(query, "since", minimum=0),
        until=query_number(query, "until", minimum=0),
        after=query_int(query, "after", minimum=-1),
        before=query_int(query, "before", minimum=0),
        limit=query_int(query, "limit", minimum=1),
        count=_flag(query, "count", default=False),
    )
    return answer(_journal_answer(_rt(request), page, bodies=_flag(query, "bodies", default=True)))


def _flag(query: Mapping[str, str], name: str, *, default: bool) -> bool:
    text = query.get(name)
    return default if text is None else one_of(text, _FLAGS, name) in ("1", "true")


def _journal_answer(rt: Runtime, page: JournalPage, *, bodies: bool = True) -> dict[str, Any]:
    return {
        "count": len(page.records),
        "requests": [record.to_json(bodies=bodies) for record in page.records],
        "more": page.more,
        "first_seq": page.first_seq,
        "last_seq": page.last_seq,
        "dropped": page.dropped,  # the oldest, let go past MockConfig.journal_limit
        "held": page.held,
        "forgotten": page.forgotten,
        "matched": page.matched,
        "instance": rt.changes.instance,
    }


@ROUTES.delete("/_mock/journal")
async def clear_journal(request: web.Request) -> web.Response:
    journal = _rt(request).journal
    journal.clear()
    return answer(_journal_answer(_rt(request), journal.page(limit=1)))


_CHECKS = ("created_once", "no_duplicate_creates", "no_poll_faster_than")


@ROUTES.get("/_mock/journal/check")
@_controlled
async def check_journal(request: web.Request) -> web.Response:
    """?check=created_once&task_id=… | ?check=no_duplicate_creates[&window=60] |
    ?check=no_poll_faster_than&seconds=2[&task_id=…]; each also &account_id= | &api_key=: only
    that account's requests are judged (parallel jobs sharing a mock, one key each). HTTP 200
    either way: read `passed`."""
    query = request.query
    refuse_unknown(query, {"check", "task_id", "window", "seconds", "account_id", "api_key"})
    check = one_of(query.get("check"), _CHECKS, "check")
    return answer(_run_check(_rt(request).journal, check, query).to_json())


def _run_check(journal: Journal, check: str, query: Mapping[str, str]) -> CheckResult:
    task_id = query.get("task_id")
    # a bad number is refused whichever check it is given to, not ignored by the others
    window = query_number(query, "window", minimum=0)
    seconds = query_number(query, "seconds", minimum=0)
    account = account_filter(query)
    if check == "created_once":
        if not task_id:
            raise ControlError("task_id", "is required for created_once")
        return journal.check_created_once(task_id, account_id=account)
    if check == "no_duplicate_creates":
        window = DUPLICATE_WINDOW if window is None else window
        return journal.check_no_duplicate_creates(window, account_id=account)
    if seconds is None:
        raise ControlError("seconds", "is required for no_poll_faster_than")
    return journal.check_no_poll_faster_than(seconds, task_id or None, account_id=account)


@ROUTES.get("/_mock/journal/{seq}")  # after /_mock/journal/check, which it would shadow
async def journal_record(request: web.Request) -> web.Response:
    """One record in full, by its seq (the inspector's detail view reads it so)."""
    name = request.match_info["seq"]
    seq = int(name) if len(name) <= 18 and name.isascii() and name.isdigit() else None
    record = None if seq is None else _rt(request).journal.get(seq)
    if record is None:
        return _missing("request", name, "seq")
    return answer({"request": record.to_json(), "instance": _rt(request).changes.instance})


# --- accounts ---


@ROUTES.get("/_mock/accounts")
async def list_accounts(request: web.Request) -> web.Response:
    return answer({"accounts": [acct.to_json() for acct in _rt(request).store.accounts()]})


@ROUTES.post("/_mock/accounts")
@_controlled
async def put_account(request: web.Request) -> web.Response:
    """Body: {"api_key": …, "credits"?: n, "max_creates_per_10s"?: n|null}. Opens the account
    (the key is accepted from now on) or changes it; answers with its id, never the key."""
    body = await read_object(request)
    refuse_unknown(body, {"api_key", "credits", "max_creates_per_10s"})
    key = opt_text(body, "api_key")
    if key is None:
        raise ControlError("api_key", "is required")
    return _update_account(request, account_id(key), body, create=True)


@ROUTES.get("/_mock/accounts/{account_id}")
async def get_account(request: web.Request) -> web.Response:
    name = request.match_info["account_id"]
    acct = _rt(request).store.account(name)
    if acct is None:
        return _missing("account", name, "account_id")
    return answer({"account": acct.to_json()})


@ROUTES.patch("/_mock/accounts/{account_id}")
@_controlled
async def patch_account(request: web.Request) -> web.Response:
    """Body: {"credits"?: n, "max_creates_per_10s"?: n|null} for a known account."""
    body = await read_object(request)
    refuse_unknown(body, {"credits", "max_creates_per_10s"})
    return _update_account(request, request.match_info["account_id"], body, create=False)


def _update_account(
    request: web.Request, name: str, body: Mapping[str, Any], *, create: bool
) -> web.Response:
    store = _rt(request).store
    credits = opt_number(body, "credits", minimum=0)
    limit = opt_int(body, "max_creates_per_10s", minimum=1)
    known = store.account(name) is not None
    if not known and not create:
        return _missing("account", name, "account_id")
    if "max_creates_per_10s" in body:
        acct = store.put_account(name, credits=credits, max_creates_per_10s=limit)
    else:
        acct = store.put_account(name, credits=credits)
    return answer({"account": acct.to_json()}, status=200 if known else 201)


# --- the upload host's files ---


@ROUTES.get("/_mock/uploads")
@_controlled
async def uploads(request: web.Request) -> web.Response:
    """The upload host's files (uploads.py), oldest upload first, optionally one account's
    (account_id= or api_key=): what a test uploaded, and what a reset will forget. The bytes
    are at the upload host's link, its origin + "/" + file_path (no auth, as KIE's, §4)."""
    account = account_filter(request.query)
    files = [
        {
            "account_id": stored.account,
            "file_path": stored.file_path,
            "file_name": stored.file_name,
            "mime_type": stored.mime_type,
            "size": stored.size,
            "uploaded_at": stored.uploaded_at,
        }
        for stored in _rt(request).uploads.files()
        if account is None or stored.account == account
    ]
    return answer({"count": len(files), "uploads": files})


# --- everything ---


@ROUTES.post("/_mock/reset")
@_controlled
async def reset(request: web.Request) -> web.Response:
    """Forget tasks, uploaded files, account changes, added rules and the journal; the clock
    keeps its time and goes back to the speed the mock started with.
    Body {"api_key": …} or {"account_id": …}: only that account's (Runtime.forget_account),
    so one job of many sharing a mock resets without touching the others'."""
    body = await read_object(request)
    refuse_unknown(body, {"api_key", "account_id"})
    account = _account_named(body)
    if account is None:
        _rt(request).reset()
        return answer({"reset": True})
    return answer({"reset": True, "account": _rt(request).forget_account(account).to_json()})


def _account_named(body: Mapping[str, Any]) -> str | None:
    """The account a body names by api_key or account_id (not both), or None."""
    key, name = opt_text(body, "api_key"), opt_text(body, "account_id")
    if key is not None and name is not None:
        raise ControlError("api_key", "give api_key or account_id, not both")
    return account_id(key) if key is not None else name


def account_filter(query: Mapping[str, str]) -> str | None:
    """account_id, or api_key turned into its account id (the key is not kept). Given both, both
    must hold, like any two filters: they name the same account, or nothing matches."""
    key, name = query.get("api_key"), query.get("account_id")
    if key is not None and not key:
        raise ControlError("api_key", "must be a non-empty string")
    if key is None:
        return name
    if name is not None and name != account_id(key):
        return _NO_ACCOUNT
    return account_id(key)


_NO_ACCOUNT = "\x00no account"  # a filter no account id matches (ids are acct_<hex>)

__all__ = ["ROUTES", "account_filter"]
